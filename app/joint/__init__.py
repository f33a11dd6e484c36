"""Joint stations shared by counties across a border (see docs/architecture.md).

Activities and cases sit below this package and do not import it; what they need from joint stations
they ask through their ports (app.activities.joint_port, app.cases.joint_port), which ``plug_in``
connects (called by app.wiring.plug_in at every entry point).
"""

from __future__ import annotations


def plug_in() -> None:
    from types import SimpleNamespace

    from app.activities import joint_port as activities_port
    from app.cases import joint_port as cases_port
    from app.joint import archive, attendance, referrals, reminders

    activities_port.joint_stations.plug(SimpleNamespace(
        roll_up=attendance.roll_up, home_counties=attendance.home_counties, relay=reminders.relay,
        withdraw=reminders.withdraw))
    cases_port.joint_stations.plug(SimpleNamespace(
        joint_feeds_back=referrals.joint_feeds_back, mirror=referrals.mirror, passed_on=referrals.passed_on,
        refer=referrals.refer, member_counties=referrals.member_counties, referrals_of=referrals.referrals_of,
        archive_steward=archive.archive_steward, where_to_go=archive.where_to_go))
