"""What the case pages show besides the case itself: its history (with the duplicates merged into
it), photos, the names it refers to, and the choices of the forms. A fixed number of queries per
page, none per row."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.activities.models import Activity, Suggestion
from app.cases.access import CaseRef, case_filter, cases_query, shows_receipt_codes
from app.cases.models import RATING_ACTIONS, Case, CaseCategory, CaseEvent, CasePhoto
from app.tenancy.models import AdminNode, HandlingUnit
from app.deputies.models import Deputy, StationDeputy
from app.stations.access import node_join, station_filter
from app.stations.models import Station
from app.tenancy.scope import Scope

HISTORY_LIMIT = 200
DEPUTY_CHOICES = 300


@dataclass
class Entry:
    event: CaseEvent
    actor: str | None
    by_public: bool  # a step the person who raised it took (the public form, their rating)
    case_code: str | None  # set for the steps of a duplicate merged into this case (its label)


@dataclass
class Linked:
    """Another case the page names (merged into this one, or this one merged into it): its receipt code
    only where the member may see that case and codes at all; a link only where they may open it."""
    id: int
    code: str | None  # None: shown as "another case"
    visible: bool


async def linked_cases(db: AsyncSession, scope: Scope, ids: list[int]) -> dict[int, Linked]:
    """How the page may name these cases: one query through the member's case filter."""
    if not ids:
        return {}
    seen = dict((await db.execute(cases_query(Case.id, Case.receipt_code)
                                  .where(Case.id.in_(ids), case_filter(scope)))).all())
    codes = shows_receipt_codes(scope)
    return {i: Linked(i, seen[i] if i in seen and codes else None, i in seen) for i in ids}


async def history(db: AsyncSession, scope: Scope, case: Case) -> tuple[list[Entry], list[Linked]]:
    """(the steps of the case and of the cases merged into it, newest first; the merged cases)."""
    ids = list(await db.scalars(select(Case.id).where(Case.merged_into_id == case.id).order_by(Case.id).limit(50)))
    merged = await linked_cases(db, scope, ids)
    rows = await db.execute(
        select(CaseEvent, User.display_name).outerjoin(User, User.id == CaseEvent.actor_user_id)
        .where(CaseEvent.case_id.in_([case.id, *ids]))
        .order_by(CaseEvent.at.desc(), CaseEvent.id.desc()).limit(HISTORY_LIMIT))
    out = []
    for event, actor in rows:
        public_step = event.actor_user_id is None and (
            event.action in ("rated_by_public", "sent_back_by_person")
            or (event.action == "registered" and event.data.get("source") == "online"))
        label = None
        if event.case_id in merged:
            label = merged[event.case_id].code or f"#{event.case_id}" if merged[event.case_id].visible else ""
        out.append(Entry(event, actor, public_step, label))
    return out, [merged[i] for i in ids]


async def facts(db: AsyncSession, scope: Scope, case: Case) -> dict:
    """Names the page shows: the deputy, the activity, the registering member, the suggestion, the case
    it was merged into (named as ``linked_cases`` allows)."""
    deputy = await db.scalar(select(Deputy.name).where(Deputy.id == case.deputy_id)) if case.deputy_id else None
    activity = (await db.execute(select(Activity.id, Activity.topic, Activity.starts_at)
                                 .where(Activity.id == case.activity_id))).first() if case.activity_id else None
    suggestion = await db.get(Suggestion, (case.tenant_id, case.suggestion_id)) if case.suggestion_id else None
    node = await db.scalar(select(AdminNode.name).where(AdminNode.id == case.node_id)) if case.node_id else None
    merged_into = (await linked_cases(db, scope, [case.merged_into_id]))[case.merged_into_id] \
        if case.merged_into_id else None
    rated_by = await db.scalar(select(CaseEvent.action).where(
        CaseEvent.case_id == case.id, CaseEvent.action.in_(RATING_ACTIONS)).order_by(
        CaseEvent.at.desc(), CaseEvent.id.desc()).limit(1)) if case.satisfaction else None
    return dict(deputy_name=deputy, activity=activity, suggestion=suggestion, node_name=node,
                merged_into=merged_into, rated_by_staff=rated_by == "rate")


async def photos(db: AsyncSession, case_id: int) -> list[CasePhoto]:
    return list(await db.scalars(select(CasePhoto).where(CasePhoto.case_id == case_id).order_by(CasePhoto.id)))


async def photo_of(db: AsyncSession, ref: CaseRef, photo_id: int) -> CasePhoto | None:
    if not 0 < photo_id < 2**63:
        return None
    return await db.scalar(select(CasePhoto).where(CasePhoto.case_id == ref.case.id, CasePhoto.id == photo_id))


async def unit_choices(db: AsyncSession, scope: Scope) -> list[HandlingUnit]:
    """Units in service this member may assign to (township staff: their township's own)."""
    query = (select(HandlingUnit).outerjoin(AdminNode, and_(AdminNode.tenant_id == HandlingUnit.tenant_id,
                                                            AdminNode.id == HandlingUnit.node_id))
             .where(HandlingUnit.retired_at.is_(None)).order_by(HandlingUnit.level, HandlingUnit.sort, HandlingUnit.name))
    if scope.role == "township_staff":
        query = query.where(HandlingUnit.level == "township", scope.nodes(AdminNode.path))
    elif scope.role != "county_admin":
        return []
    return list(await db.scalars(query))


async def categories(db: AsyncSession) -> list[CaseCategory]:
    return list(await db.scalars(select(CaseCategory).where(CaseCategory.retired_at.is_(None))
                                 .order_by(CaseCategory.sort, CaseCategory.name)))


async def station_choices(db: AsyncSession, scope: Scope) -> list[tuple[int, str]]:
    """The stations in operation the member may register cases for (deputies: their own stations)."""
    rows = await db.execute(select(Station.id, Station.name).join(AdminNode, node_join())
                            .where(station_filter(scope), Station.status == "active").order_by(Station.name))
    return [tuple(r) for r in rows]


async def deputy_choices(db: AsyncSession, station_ids: list[int]) -> list[tuple[int, str]]:
    """Serving deputies stationed at these stations (who may have received the opinion)."""
    if not station_ids:
        return []
    rows = await db.execute(
        select(Deputy.id, Deputy.name).distinct()
        .join(StationDeputy, and_(StationDeputy.tenant_id == Deputy.tenant_id, StationDeputy.deputy_id == Deputy.id))
        .where(StationDeputy.station_id.in_(station_ids), StationDeputy.ended_at.is_(None), Deputy.status == "active")
        .order_by(Deputy.name, Deputy.id).limit(DEPUTY_CHOICES))
    return [tuple(r) for r in rows]


async def activity_choice(db: AsyncSession, activity_id: int | None, station_ids: list[int]):
    """(id, topic, starts_at) of an activity of one of these stations, for the prefilled form."""
    if not activity_id or not station_ids or not 0 < activity_id < 2**63:
        return None
    return (await db.execute(select(Activity.id, Activity.topic, Activity.starts_at).where(
        Activity.id == activity_id, Activity.station_id.in_(station_ids)))).first()


async def merge_candidates_hint(db: AsyncSession, scope: Scope, case: Case) -> list[tuple[int, str, str]]:
    """Open cases of the same station with the same category that the member can see: likely
    duplicates, offered by number."""
    if case.station_id is None:
        return []
    query = cases_query(Case.id, Case.receipt_code, Case.content).where(case_filter(scope),
        Case.id != case.id, Case.station_id == case.station_id, Case.state != "merged")
    if case.category_id is not None:
        query = query.where(Case.category_id == case.category_id)
    rows = await db.execute(query.order_by(Case.id.desc()).limit(5))
    return [(i, code, content[:40]) for i, code, content in rows]


async def referred_from(db: AsyncSession, scope: Scope, case: Case) -> dict | None:
    """For a county's case referred from a joint station: the joint station's name and the joint case's
    receipt code, as its own "registered" step recorded them (the county reads only its own tables)."""
    if case.referred_from_tenant_id is None:
        return None
    data = await db.scalar(select(CaseEvent.data).where(CaseEvent.case_id == case.id, CaseEvent.action == "registered")
                           .order_by(CaseEvent.id).limit(1))
    code = (data or {}).get("joint_receipt_code", "") if shows_receipt_codes(scope) else ""
    return {"name": (data or {}).get("joint_name", ""), "code": code}
