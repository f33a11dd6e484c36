"""The drill-down behind one verdict cell: for a rule, a subject and a period, what was counted
(with links to the activities) and what was not, with the reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, func, null, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.activities.models import STATUS_NAMES, Activity, ActivityKind, Attendance, JointAttendance, Opinion, Rule, Suggestion
from app.compliance import engine
from app.core.periods import Period, local_today, parse_key, period_of, zone
from app.core.db import MAX_ID
from app.core.errors import NotFound
from app.core.i18n import gettext, lazy
from app.tenancy.config import get_config
from app.tenancy.scope import Scope

NOT_HELD = lazy("Not counted: the activity is “%(status)s”.")
TOO_FEW = lazy("Not counted: %(present)s deputies present, the rule asks for at least %(minimum)s.")
ON_BEHALF = lazy("Signed in by staff on the deputy's behalf: %(reason)s")
AT_JOINT = lazy("at the joint station %(name)s")


@dataclass
class Item:
    when: datetime | date
    title: str
    activity_id: int | None = None
    present: int | None = None
    note: str = ""
    reason: str = ""  # why it was not counted (empty: counted)
    place: str = ""  # a joint station's activity: that station (no link: the county holds only its roll-up)


@dataclass
class Detail:
    rule: Rule
    cell: engine.Cell
    counted: list[Item] = field(default_factory=list)
    not_counted: list[Item] = field(default_factory=list)

    @property
    def period(self) -> Period:
        return self.cell.period


def parse_subject(text: str) -> tuple[str, int]:
    kind, _, raw = (text or "").partition(":")
    if kind not in ("station", "deputy", "group") or not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
        raise NotFound()
    return kind, int(raw)


async def load_detail(db: AsyncSession, scope: Scope, tenant, rule_id: int, subject: str, key: str,
                      today: date | None = None) -> Detail:
    """404 for a rule or subject that is missing, of another tenant, out of scope or not concerned."""
    engine.require_view(scope)
    kind, subject_id = parse_subject(subject)
    rule = await db.scalar(select(Rule).where(Rule.id == rule_id, Rule.retired_at.is_(None))) \
        if 0 < rule_id <= MAX_ID else None
    if rule is None or rule.subject != kind:
        raise NotFound()
    tz = zone(tenant.timezone)
    today = today or local_today(tz)
    period = parse_key(key)
    if period is None or period.kind != rule.period:
        period = period_of(rule.period, today)
    where = engine.Where(rule_id=rule.id, key=period.key, station_id=subject_id if kind == "station" else None,
                         deputy_id=subject_id if kind == "deputy" else None)
    config = await get_config(db, tenant.id)
    board = await engine.evaluate(db, scope, tz=tz, today=today, at_risk_days=config.at_risk_days, where=where)
    cell = board.cells.get((rule.id, f"{kind}:{subject_id}"))
    if cell is None:
        raise NotFound()
    detail = Detail(rule=rule, cell=cell)
    if rule.counts == "activities":
        await _activities(db, detail, tz)
    else:
        await _records(db, detail)
    return detail


def _present():
    # an alias: a deputy's drill-down joins attendances in the outer query too
    present = aliased(Attendance)
    return (select(func.count()).select_from(present)
            .where(present.tenant_id == Activity.tenant_id, present.activity_id == Activity.id)
            .correlate(Activity).scalar_subquery())


async def _activities(db: AsyncSession, detail: Detail, tz) -> None:
    rule, subject = detail.rule, detail.cell.subject
    start, end = detail.period.bounds(tz)
    columns = [Activity.id, Activity.starts_at, Activity.status, Activity.topic, ActivityKind.name, _present()]
    query = (select(*columns)
             .join(ActivityKind, and_(ActivityKind.tenant_id == Activity.tenant_id, ActivityKind.id == Activity.kind_id))
             .where(ActivityKind.code.in_(rule.kind_codes), Activity.starts_at >= start, Activity.starts_at < end)
             .order_by(Activity.starts_at, Activity.id))
    if subject.kind == "deputy":
        query = query.add_columns(Attendance.method, Attendance.on_behalf_reason).join(
            Attendance, and_(Attendance.tenant_id == Activity.tenant_id, Attendance.activity_id == Activity.id,
                             Attendance.deputy_id == subject.id))
    elif subject.kind == "station":
        query = query.where(Activity.station_id == subject.id)
    else:
        query = query.where(Activity.group_id == subject.id)
    minimum = rule.min_deputies or 0
    for row in await db.execute(query):
        aid, starts_at, status, topic, kind_name, present = row[:6]
        item = Item(when=starts_at.astimezone(tz), title=f"{kind_name} · {topic}" if topic else kind_name,
                    activity_id=aid, present=present)
        if subject.kind == "deputy" and row[6] == "staff":
            item.note = gettext(ON_BEHALF, reason=row[7] or "—")
        if status != "held":
            item.reason = gettext(NOT_HELD, status=gettext(STATUS_NAMES.get(status, status)))
        elif present < minimum:
            item.reason = gettext(TOO_FEW, present=present, minimum=minimum)
        (detail.not_counted if item.reason else detail.counted).append(item)
    if subject.kind == "deputy":
        await _joint_activities(db, detail, tz, start, end, minimum)


async def _joint_activities(db: AsyncSession, detail: Detail, tz, start: datetime, end: datetime,
                            minimum: int) -> None:
    """The deputy's activities at joint stations, from the county's own rolled-up rows (counted like
    the engine does: held, present, of a kind the rule names by code), in time order with the rest."""
    rows = await db.scalars(select(JointAttendance).where(
        JointAttendance.deputy_id == detail.cell.subject.id, JointAttendance.present.is_(True),
        JointAttendance.kind_code.in_(detail.rule.kind_codes), JointAttendance.starts_at >= start,
        JointAttendance.starts_at < end).order_by(JointAttendance.starts_at, JointAttendance.id))
    for r in rows:
        item = Item(when=r.starts_at.astimezone(tz), title=f"{r.kind_name} · {r.topic}" if r.topic else r.kind_name,
                    present=r.present_count, place=gettext(AT_JOINT, name=r.joint_name))
        if r.method == "staff":
            item.note = gettext(ON_BEHALF, reason=r.on_behalf_reason or "—")
        if r.status != "held":
            item.reason = gettext(NOT_HELD, status=gettext(STATUS_NAMES.get(r.status, r.status)))
        elif r.present_count < minimum:
            item.reason = gettext(TOO_FEW, present=r.present_count, minimum=minimum)
        (detail.not_counted if item.reason else detail.counted).append(item)
    detail.counted.sort(key=lambda i: i.when)
    detail.not_counted.sort(key=lambda i: i.when)


async def _records(db: AsyncSession, detail: Detail) -> None:
    rule, subject, period = detail.rule, detail.cell.subject, detail.period
    if rule.counts == "opinions":
        query = (select(Opinion.received_on, Opinion.content, Opinion.activity_id)
                 .where(Opinion.deputy_id == subject.id, Opinion.received_on.between(period.first, period.last))
                 .order_by(Opinion.received_on, Opinion.id))
    elif rule.counts == "duty_reports":  # closed report meetings of app.duties, read in SQL: no import of that domain
        query = text("SELECT m.held_on, s.name, NULL FROM duty_report_meetings m "
                     "JOIN stations s ON s.tenant_id = m.tenant_id AND s.id = m.station_id "
                     "WHERE m.deputy_id = :d AND m.status = 'closed' AND m.held_on BETWEEN :a AND :b "
                     "ORDER BY m.held_on, m.id").bindparams(d=subject.id, a=period.first, b=period.last)
    else:
        query = (select(Suggestion.filed_on, Suggestion.title, null())
                 .where(Suggestion.deputy_id == subject.id, Suggestion.filed_on.between(period.first, period.last))
                 .order_by(Suggestion.filed_on, Suggestion.id))
    for when, title, activity_id in await db.execute(query):
        detail.counted.append(Item(when=when, title=title[:120], activity_id=activity_id))
