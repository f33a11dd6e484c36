"""What the case pages show besides the case itself, one query each: how other cases may be named, a
photo, the choices of the forms (the registration form, the suggestion page). The case page itself
reads its facts, history and choices together (``app.cases.case_reads``). None per row."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import Activity
from app.cases.access import CaseRef, case_filter, cases_query, shows_receipt_codes
from app.cases.models import Case, CaseCategory, CaseEvent, CasePhoto
from app.tenancy.models import AdminNode, HandlingUnit
from app.deputies.models import Deputy, StationDeputy
from app.stations.access import node_join, station_filter
from app.stations.models import Station
from app.tenancy.scope import Scope

HISTORY_LIMIT = 200
DEPUTY_CHOICES = 300


@dataclass
class Entry:
    event: CaseEvent  # or a row of its columns (case_reads.EVENTS): action, at, note, data, case_id
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
