"""Nudges when a rule is at risk (app.jobs.scheduled runs this daily, from 09:00 local): every subject
whose verdict in the current period is "at risk" (the board's engine and its judgement,
app.compliance.risk: behind a steady pace or in the rule's last days; the same bounded number of
queries) gets `rule_at_risk` once per period — the first day it is at risk — to its responsible staff:
- a station: its station_staff members and the township staff over it;
- a deputy: the deputy, and the staff of the stations they serve at (station staff, township staff);
- a deputy group: the county admins.
Subject "rule:<rule id>:<station|deputy|group>:<id>"; due at 09:00 local on the period's first day, so
the dedupe key is the same all period long. Off when the county switched `notify_at_risk` off.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time, timedelta

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Membership
from app.compliance import engine, risk
from app.activities.models import Rule
from app.core.periods import period_of
from app.notify import outbox
from app.notify.config import NotifySettings
from app.notify.models import Outbox
from app.tenancy.config import get_config
from app.tenancy.models import AdminNode
from app.tenancy.scope import Scope

KIND = "rule_at_risk"
NINE = time(9)
# The board as the county sees it: every station, deputy and group (no member acts: user id 0).
COUNTY = Scope(role="county_admin", node_path=None, station_id=None, user_id=0)


def subject(rule_id: int, subject_key: str) -> str:
    return f"rule:{rule_id}:{subject_key}"


async def _any_at_risk(db: AsyncSession, today, at_risk_days: int) -> bool:
    """Cheap first look: could any rule put a subject at risk today — its period within its at-risk
    days of ending, or a steady pace already expecting one (the same gauge as the board)? When none
    could, the board is not computed at all."""
    rules = (await db.scalars(select(Rule).where(Rule.retired_at.is_(None)))).all()
    return any(risk.gauge(r, period_of(r.period, today), today, at_risk_days).could_warn() for r in rules)


async def _staff(db: AsyncSession, tenant_id: int) -> tuple[dict[int, list[int]], list[tuple[str, int]], list[int]]:
    """(station id → station_staff members, [(township staff's subtree path, user id)], county admins):
    one query."""
    stations: dict[int, list[int]] = defaultdict(list)
    township, admins = [], []
    rows = await db.execute(
        select(Membership.role, Membership.user_id, Membership.station_id, AdminNode.path)
        .outerjoin(AdminNode, and_(AdminNode.tenant_id == Membership.tenant_id, AdminNode.id == Membership.scope_node_id))
        .where(Membership.tenant_id == tenant_id, Membership.revoked_at.is_(None),
               Membership.role.in_(("station_staff", "township_staff", "county_admin"))))
    for role, user_id, station_id, path in rows:
        if role == "station_staff" and station_id is not None:
            stations[station_id].append(user_id)
        elif role == "township_staff" and path:
            township.append((path, user_id))
        elif role == "county_admin":
            admins.append(user_id)
    return stations, township, admins


def _responsible(cell: engine.Cell, staff) -> list[int]:
    """The user ids responsible for a cell's subject."""
    stations, township, admins = staff
    s = cell.subject
    if s.kind == "group":
        return list(admins)
    if s.kind == "station":
        station_ids, paths = [s.id], [s.path]
    else:
        station_ids, paths = list(s.station_ids), [p for p in s.paths if p]
    ids = [u for sid in station_ids for u in stations.get(sid, [])]
    ids += [u for p_staff, u in township if any(p.startswith(p_staff) for p in paths)]
    return list(dict.fromkeys(ids))


async def _done(db: AsyncSession, starts: set[datetime]) -> set[str]:
    """Subjects already nudged in these periods (rows of this kind due at a period's start)."""
    if not starts:
        return set()
    rows = await db.scalars(select(Outbox.subject).distinct().where(
        Outbox.kind == KIND, Outbox.due_at.in_(starts), Outbox.created_at >= min(starts) - timedelta(days=1)))
    return set(rows)


async def nudge(db: AsyncSession, config: NotifySettings, *, slug: str, now: datetime) -> int:
    """Write the nudges of today's at-risk subjects not yet nudged this period; returns rows written."""
    if not config.notify_at_risk:
        return 0
    tz = config.tz
    today = now.astimezone(tz).date()
    at_risk_days = (await get_config(db, config.tenant_id)).at_risk_days
    if not await _any_at_risk(db, today, at_risk_days):
        return 0
    board = await engine.evaluate(db, COUNTY, tz=tz, today=today, at_risk_days=at_risk_days)
    cells = [c for c in board.cells.values() if c.verdict == "at_risk"]
    if not cells:
        return 0
    start_of = {c.period: datetime.combine(c.period.first, NINE, tz) for c in cells}
    done = await _done(db, set(start_of.values()))
    cells = [c for c in cells if subject(c.rule.id, c.subject.key) not in done]
    if not cells:
        return 0
    staff = await _staff(db, config.tenant_id)
    wanted = {c.subject.key: _responsible(c, staff) for c in cells}
    people = {r.user_id: r for r in await outbox.members(db, config.tenant_id, {u for v in wanted.values() for u in v},
                                                          config=config)}
    deputy_ids = {c.subject.id for c in cells if c.subject.kind == "deputy"}
    deputies = {r.deputy_id: r for r in await outbox.deputies(db, config.tenant_id, deputy_ids, config=config)}
    written = 0
    for c in cells:
        who = [people[u] for u in wanted[c.subject.key] if u in people]
        if c.subject.kind == "deputy" and c.subject.id in deputies:
            me = deputies[c.subject.id]
            who = [r for r in who if r.user_id is None or r.user_id != me.user_id] + [me]
        params = {"rule": c.rule.name, "who": c.subject.name, "count": c.count, "minimum": c.minimum,
                  "period": c.period.label, "ends": c.period.last.isoformat()}
        written += await outbox.notify(db, tenant_id=config.tenant_id, kind=KIND,
                                       subject=subject(c.rule.id, c.subject.key), recipients=who,
                                       due_at=start_of[c.period], params=params, now=now, config=config)
    return written
