"""Who is told of new work (app.notify.work): members with an active membership (`outbox.members`
leaves out revoked and disabled accounts), never the member whose step it was.

- A new opinion: the station's liaison officers with an account and its station_staff members; when
  the station has none (or the case has no station), the township staff whose subtree holds the
  case's place; when none, the county admins.
- A case assigned, sent back or supervised: the users of the handling unit it is with.
- A station waiting for its next step: whoever takes it (app.stations.lifecycle.may_take) — approval
  the township staff of its subtree, else the county admins; filing and putting into operation the
  county admins.

A handful of queries for a whole batch, whatever its size.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Membership
from app.notify import outbox
from app.notify.config import NotifySettings
from app.notify.models import WorkNotice
from app.stations.lifecycle import FORWARD_STEPS, next_status
from app.stations.models import StationStaff
from app.tenancy.config import get_config
from app.tenancy.models import AdminNode

UNIT_KINDS = ("case_assigned", "case_sent_back", "case_supervised")


def next_step(lifecycle, status: str | None) -> str | None:
    """The step a station in `status` waits for: approve, file or activate (None: nothing)."""
    target = next_status(lifecycle, status) if status else None
    return FORWARD_STEPS.get(target) if target else None


class _Staff:
    """The tenant's members who may be told, read once per batch."""

    def __init__(self):
        self.admins: list[int] = []
        self.township: list[tuple[str, int]] = []  # (subtree path, user id)
        self.stations: dict[int, list[int]] = defaultdict(list)
        self.units: dict[int, list[int]] = defaultdict(list)

    def covering(self, path: str | None) -> list[int]:
        return [u for p, u in self.township if path and path.startswith(p)]


async def _staff(db: AsyncSession, tenant_id: int, station_ids: set[int], unit_ids: set[int]) -> _Staff:
    staff = _Staff()
    rows = await db.execute(
        select(Membership.role, Membership.user_id, Membership.station_id, Membership.handling_unit_id, AdminNode.path)
        .outerjoin(AdminNode, and_(AdminNode.tenant_id == Membership.tenant_id,
                                   AdminNode.id == Membership.scope_node_id))
        .where(Membership.tenant_id == tenant_id, Membership.revoked_at.is_(None),
               Membership.role.in_(("county_admin", "township_staff", "station_staff", "handling_unit")))
        .order_by(Membership.id))
    for role, user_id, station_id, unit_id, path in rows:
        if role == "county_admin":
            staff.admins.append(user_id)
        elif role == "township_staff" and path:
            staff.township.append((path, user_id))
        elif role == "station_staff" and station_id in station_ids:
            staff.stations[station_id].append(user_id)
        elif role == "handling_unit" and unit_id in unit_ids:
            staff.units[unit_id].append(user_id)
    if station_ids:
        for station_id, user_id in await db.execute(select(StationStaff.station_id, StationStaff.user_id).where(
                StationStaff.tenant_id == tenant_id, StationStaff.station_id.in_(station_ids),
                StationStaff.role == "liaison", StationStaff.user_id.is_not(None)).order_by(StationStaff.id)):
            staff.stations[station_id].insert(0, user_id)  # the liaison officers first
    return staff


async def recipients(db: AsyncSession, config: NotifySettings, items: list[WorkNotice]) -> dict[int, list]:
    """{item id: recipients}, the actor of each item left out."""
    tenant_id = config.tenant_id
    station_ids = {i.station_id for i in items if i.kind == "new_case" and i.station_id}
    unit_ids = {i.unit_id for i in items if i.kind in UNIT_KINDS and i.unit_id}
    staff = await _staff(db, tenant_id, station_ids, unit_ids)
    node_ids = {i.node_id for i in items if i.node_id}
    paths = dict((await db.execute(select(AdminNode.id, AdminNode.path).where(
        AdminNode.tenant_id == tenant_id, AdminNode.id.in_(node_ids)))).all()) if node_ids else {}
    lifecycle = (await get_config(db, tenant_id)).lifecycle if any(i.kind == "station_waiting" for i in items) else []
    everyone = {*staff.admins, *(u for _, u in staff.township), *(u for v in staff.stations.values() for u in v),
                *(u for v in staff.units.values() for u in v)}
    people = {r.user_id: r for r in await outbox.members(db, tenant_id, everyone, config=config)}

    def active(ids) -> list:
        return [people[u] for u in dict.fromkeys(ids) if u in people]

    out: dict[int, list] = {}
    for item in items:
        path = paths.get(item.node_id)
        if item.kind == "new_case":
            who = (active(staff.stations.get(item.station_id, [])) or active(staff.covering(path))
                   or active(staff.admins))
        elif item.kind in UNIT_KINDS:
            who = active(staff.units.get(item.unit_id, []))
        elif item.kind == "station_waiting":
            step = next_step(lifecycle, item.state)
            who = [] if step is None else (active(staff.covering(path)) if step == "approve" else [])
            who = who or (active(staff.admins) if step else [])
        else:
            who = []
        out[item.id] = [r for r in who if r.user_id != item.actor_user_id]
    return out
