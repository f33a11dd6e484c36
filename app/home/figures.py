"""The counts behind the workbench (app.home.workbench), as SQL: one aggregate per source (cases,
activities, attendance, stations), each over the member's scope through the domain's own filter, and
all of a home's aggregates read in ONE statement (single-row subqueries, cross-joined). So a home costs
the same few queries whether the county has ten cases or two hundred thousand, and every count is made
with the very condition its list uses (the link shows exactly those rows)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, String, and_, extract, func, literal, or_, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.access import activities_query, activity_filter
from app.activities.attendance import attendance_join, counted, invitation_join
from app.activities.models import Activity, Attendance, Invitation
from app.cases.access import case_filter, cases_query
from app.cases.models import Case
from app.cases.stats import SATISFIED
from app.stations.access import node_join, station_filter
from app.stations.models import Station
from app.tenancy.models import DEFAULT_LIFECYCLE, AdminNode, TenantConfig
from app.tenancy.scope import Scope


def counts_of(conditions: dict) -> list:
    """``count(*) FILTER (WHERE …)`` per named condition."""
    return [func.count().filter(cond).label(name) for name, cond in conditions.items()]


def case_counts(scope: Scope, tenant_id: int, conditions: dict, *, extra: tuple = (), reach=None) -> Select:
    """One row: a count per condition over the cases in the member's scope. Only rows that can match
    some condition are read (``reach``, by default any of them): each condition names its states or
    dates, so the indexes on (tenant_id, state, …) bound the scan."""
    reach = reach if reach is not None else or_(*conditions.values())
    return cases_query(*counts_of(conditions), *extra).where(Case.tenant_id == tenant_id, case_filter(scope), reach)


def quarter_figures(start: datetime, end: datetime) -> tuple[tuple, object]:
    """(columns, reach): the average days to reply and the satisfaction of the cases registered in
    [start, end), as the case statistics count them (app.cases.stats: the period's cohort, merged cases
    left out; days from assignment to reply; satisfied or basically satisfied of those rated)."""
    cohort = and_(Case.created_at >= start, Case.created_at < end, Case.state != "merged")
    replied = and_(cohort, Case.replied_at.is_not(None), Case.assigned_at.is_not(None))
    columns = (func.avg(extract("epoch", Case.replied_at - Case.assigned_at)).filter(replied).label("reply_seconds"),
               func.count().filter(cohort, Case.satisfaction.in_(SATISFIED)).label("satisfied"),
               func.count(Case.satisfaction).filter(cohort).label("rated"))
    return columns, cohort


def activity_counts(scope: Scope, tenant_id: int, conditions: dict, *, extra: tuple = ()) -> Select:
    """One row: a count per condition over the activities in the member's scope."""
    return activities_query(*counts_of(conditions), *extra).where(
        Activity.tenant_id == tenant_id, activity_filter(scope), or_(*conditions.values()))


def people_received(condition) -> object:
    """People received at the held activities matching ``condition`` (what their records say)."""
    return func.coalesce(func.sum(Activity.people_received).filter(condition), 0).label("people")


def attendance_rate(tenant_id: int, start: datetime, end: datetime, now: datetime) -> Select:
    """One row (invited, present): the invitations to activities of [start, end) that count for
    attendance (app.activities.attendance.counted: not cancelled, held or started) and how many of them
    the deputy attended — the yearly attendance report's figure, for the whole county."""
    return (select(func.count().label("invited"), func.count(Attendance.deputy_id).label("present"))
            .select_from(Activity).join(Invitation, invitation_join()).outerjoin(Attendance, attendance_join())
            .where(Activity.tenant_id == tenant_id, Invitation.withdrawn_at.is_(None), counted(now),
                   Activity.starts_at >= start, Activity.starts_at < end))


def station_counts(scope: Scope, tenant_id: int, statuses) -> Select:
    """One row: the stations in the member's scope in each of these statuses (``status_<name>``)."""
    statuses = list(statuses)
    return (select(*counts_of({f"status_{s}": Station.status == s for s in statuses}))
            .select_from(Station).join(AdminNode, node_join())
            .where(Station.tenant_id == tenant_id, station_filter(scope), Station.status.in_(statuses)))


def config_columns(tenant_id: int) -> tuple:
    """The county's station lifecycle and at-risk days (their defaults while it saved no settings, as
    app.tenancy.config.get_config gives them), read inside a home's statement."""
    def setting(column):
        return select(column).where(TenantConfig.tenant_id == tenant_id).scalar_subquery()

    at_risk_default = TenantConfig.__table__.c.at_risk_days.default.arg
    return (func.coalesce(setting(TenantConfig.lifecycle), literal(DEFAULT_LIFECYCLE, ARRAY(String))).label("lifecycle"),
            func.coalesce(setting(TenantConfig.at_risk_days), at_risk_default).label("at_risk_days"))


def combined(*parts: Select, columns: tuple = ()) -> Select:
    """The single-row statements ``parts`` (and scalar ``columns``) as one single-row statement."""
    subs = [p.subquery() for p in parts]
    joined = subs[0]
    for sub in subs[1:]:
        joined = joined.join(sub, true())
    return select(*(c for s in subs for c in s.c), *columns).select_from(joined)


async def read_row(db: AsyncSession, *parts: Select, columns: tuple = (), params: dict | None = None) -> dict:
    """The single-row statements ``parts`` (and scalar ``columns``) read together in one statement."""
    return await read_combined(db, combined(*parts, columns=columns), params)


async def read_combined(db: AsyncSession, statement: Select, params: dict | None = None) -> dict:
    """One row of a ``combined`` statement (built once, its values in ``params``)."""
    return dict((await db.execute(statement, params or {})).one()._mapping)
