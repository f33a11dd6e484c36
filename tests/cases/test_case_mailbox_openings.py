"""The deputy mailbox of a station: logging an opening (who may, bad input refused with nothing
written), the list of openings, and the weekly check (Monday to Sunday in the tenant's time zone)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from app.cases import mailbox
from app.cases.models import MailboxOpening
from app.core.errors import Refusal
from app.stations.access import get_station
from app.tenancy.scope import Scope
from tests.cases.world import EAST, HOME, build_case_county
from tests.deputies.deputy_world import count, post, signed_in, text_of

TZ = ZoneInfo("Asia/Shanghai")
HEBA = "河坝村人大代表联络站"


def _now_local() -> datetime:
    return datetime.now(timezone.utc).astimezone(TZ)


async def in_operation_since(owner_sql, station_id: int, at: datetime) -> None:
    """The test county's stations are set up in operation now: this one long before (only weeks since
    a station opened are checked)."""
    await owner_sql("UPDATE stations SET created_at = $1 WHERE id = $2", at, station_id)


async def test_log_an_opening_and_see_it(app, database, owner_sql):
    cc = await build_case_county(database)
    east = cc.stations[EAST]
    await in_operation_since(owner_sql, east, datetime(2025, 1, 1, tzinfo=TZ))
    url = f"/stations/{east}/mailbox"
    yesterday = (_now_local() - timedelta(days=1)).strftime("%Y-%m-%d")
    async with signed_in(app, cc.county, "station") as client:
        page = await client.get(client.base + url)
        assert page.status_code == 200 and "Log an opening of the mailbox" in page.text
        assert page.text.count("Mailbox not opened") == 11  # eleven finished weeks, none opened
        r = await post(client, client.base + url, {"day": yesterday, "clock": "09:30", "letters": "3", "note": "两封反映道路"})
        assert r.status_code == 303 and r.headers["location"].endswith("/mailbox?done=opened")
        page = await client.get(client.base + url + "?done=opened")
        assert "has been logged" in page.text and "两封反映道路" in page.text
        assert f"/cases/new?source=mailbox&amp;station_id={east}" in page.text
        assert "Alpha-Station" in text_of(page.text) or "alpha-station" in page.text.lower()
    rows = await owner_sql("SELECT letters, note, opened_by FROM mailbox_openings")
    assert [tuple(r) for r in rows] == [(3, "两封反映道路", cc.users["station"].id)]
    assert await count(owner_sql, "audit_log", "action = 'mailbox_opened'") == 1


async def test_bad_openings_are_refused(app, database, owner_sql):
    cc = await build_case_county(database)
    url = f"/stations/{cc.stations[EAST]}/mailbox"
    tomorrow = (_now_local() + timedelta(days=1)).strftime("%Y-%m-%d")
    today = _now_local().strftime("%Y-%m-%d")
    async with signed_in(app, cc.county, "admin") as client:
        for form, message in (({"day": tomorrow, "clock": "09:00", "letters": "1"}, "in the future"),
                              ({"day": today, "clock": "00:00", "letters": "-1"}, "0 to 10000"),
                              ({"day": today, "clock": "00:00", "letters": "10001"}, "0 to 10000"),
                              ({"day": today, "clock": "00:00", "letters": "两"}, "0 to 10000"),
                              ({"day": "2026-02-30", "clock": "09:00", "letters": "1"}, "date and time"),
                              ({"day": today, "clock": "25:00", "letters": "1"}, "date and time"),
                              ({"day": today, "clock": "00:00", "letters": "1", "note": "长" * 501}, "500 characters")):
            r = await post(client, client.base + url, form)
            assert r.status_code == 400 and message in text_of(r.text), form
    assert await count(owner_sql, "mailbox_openings") == 0
    assert await count(owner_sql, "audit_log", "action = 'mailbox_opened'") == 0


async def test_who_may_see_and_log(app, database, owner_sql):
    cc = await build_case_county(database)
    east, heba = cc.stations[EAST], cc.stations[HEBA]
    form = {"day": _now_local().strftime("%Y-%m-%d"), "clock": "00:00", "letters": "1"}
    # township staff of 城关镇: their station yes, 河坝乡's no (the same 404 as a missing one)
    async with signed_in(app, cc.county, "town") as client:
        assert (await post(client, f"{client.base}/stations/{east}/mailbox", form)).status_code == 303
        assert (await client.get(f"{client.base}/stations/{heba}/mailbox")).status_code == 404
        assert (await post(client, f"{client.base}/stations/{heba}/mailbox", form)).status_code == 404
    # station staff: only their own station
    async with signed_in(app, cc.county, "station") as client:
        assert (await client.get(f"{client.base}/stations/{cc.stations[HOME]}/mailbox")).status_code == 404
    # viewers and deputies see the mailbox of a station they see, but do not log
    for username in ("viewer", "rep"):
        async with signed_in(app, cc.county, username) as client:
            page = await client.get(f"{client.base}/stations/{east}/mailbox")
            assert page.status_code == 200 and "Log an opening" not in page.text, username
            assert (await post(client, f"{client.base}/stations/{east}/mailbox", form)).status_code == 404
    # handling units see no stations
    async with signed_in(app, cc.county, "transport") as client:
        assert (await client.get(f"{client.base}/stations/{east}/mailbox")).status_code == 404
        assert (await post(client, f"{client.base}/stations/{east}/mailbox", form)).status_code == 404
    assert await count(owner_sql, "mailbox_openings") == 1


async def test_the_weekly_check(database, owner_sql):
    cc = await build_case_county(database)
    t, east = cc.tenant.id, cc.stations[EAST]
    await in_operation_since(owner_sql, east, datetime(2025, 1, 1, tzinfo=TZ))
    today = date(2026, 3, 18)  # a Wednesday
    openings = [datetime(2026, 3, 16, 0, 30, tzinfo=TZ),  # this week (Monday, just after midnight local)
                datetime(2026, 3, 8, 23, 50, tzinfo=TZ),  # Sunday of the week of 2 March (local time)
                datetime(2026, 2, 23, 10, 0, tzinfo=TZ)]
    async with database.transaction(tenant_id=t) as db:
        for moment in openings:
            db.add(MailboxOpening(tenant_id=t, station_id=east, opened_at=moment, letters=2))
        db.add(MailboxOpening(tenant_id=t, station_id=cc.stations[HOME], opened_at=openings[0] - timedelta(days=7),
                              letters=1))
    async with database.session(tenant_id=t) as db:
        weeks = await mailbox.weekly_check(db, east, 4, today, TZ)
        assert [(w.monday, w.status, w.openings, w.letters) for w in weeks] == [
            (date(2026, 3, 16), "opened", 1, 2), (date(2026, 3, 9), "missed", 0, 0),
            (date(2026, 3, 2), "opened", 1, 2), (date(2026, 2, 23), "opened", 1, 2)]
        assert await mailbox.missed_weeks(db, east, 12, today) == [
            date(2025, 12, 29) + timedelta(weeks=n) for n in range(8)] + [date(2026, 3, 9)]
        # the current week without an opening is not yet missed
        weeks = await mailbox.weekly_check(db, east, 2, date(2026, 3, 29), TZ)
        assert [w.status for w in weeks] == ["open", "opened"]


async def test_log_opening_service_refuses_those_who_may_not(database):
    cc = await build_case_county(database)
    t = cc.tenant.id
    viewer = Scope(role="viewer", node_path=None, station_id=None, user_id=cc.users["viewer"].id)
    admin = Scope(role="county_admin", node_path=None, station_id=None, user_id=cc.users["admin"].id)
    async with database.transaction(tenant_id=t) as db:
        ref = await get_station(db, viewer, cc.stations[EAST])
        with pytest.raises(Refusal) as refused:
            await mailbox.log_opening(db, viewer, ref, tenant_id=t, actor_id=cc.users["viewer"].id, day="2026-01-05",
                                      clock="10:00", letters="1", note="", tz=TZ)
        assert refused.value.status == 404
        opening = await mailbox.log_opening(db, admin, ref, tenant_id=t, actor_id=cc.users["admin"].id,
                                            day="2026-01-05", clock="10:00", letters="0", note="空箱", tz=TZ,
                                            now=datetime(2026, 1, 6, tzinfo=timezone.utc))
        assert opening.opened_at == datetime(2026, 1, 5, 2, 0, tzinfo=timezone.utc)
        with pytest.raises(Refusal):
            await mailbox.log_opening(db, admin, ref, tenant_id=t, actor_id=cc.users["admin"].id, day="2026-01-07",
                                      clock="10:00", letters="0", note="", tz=TZ,
                                      now=datetime(2026, 1, 6, tzinfo=timezone.utc))
