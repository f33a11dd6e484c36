"""Who sees and handles which case.

Seeing: county admins and viewers every case; township staff the cases whose place is in their
subtree; station staff their station's; a deputy the cases they received or registered; a handling
unit's users the cases assigned to their unit (nothing else). Anything not visible — missing, another
tenant's, out of scope — is the same 404. Which step each role may take is decided by the workflow
(``app.cases.workflow``), always on a case already visible through ``case_filter``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.models import Case, CaseCategory
from app.tenancy.models import AdminNode, HandlingUnit
from app.core.db import MAX_ID
from app.core.errors import NotFound
from app.deputies.models import Deputy
from app.stations.models import Station
from app.tenancy.scope import Scope

VIEW_ROLES = ("county_admin", "viewer", "township_staff", "station_staff", "deputy", "handling_unit")
# Roles that register cases (the public registers through the station's form).
REGISTER_ROLES = ("county_admin", "township_staff", "station_staff", "deputy")


def shows_receipt_codes(scope: Scope) -> bool:
    """A handling unit's users never see receipt codes: the unit handles the matter and has no need of
    the person's code (and a code must not let the one who answers pass for the person)."""
    return scope.role != "handling_unit"


def require_view(scope: Scope) -> None:
    if scope.role not in VIEW_ROLES:
        raise NotFound()


def node_join():
    return and_(AdminNode.tenant_id == Case.tenant_id, AdminNode.id == Case.node_id)


def case_filter(scope: Scope) -> ColumnElement[bool]:
    """A WHERE clause on Case outer-joined with its AdminNode (``cases_query`` builds the join): the one
    filter for lists, counts, statistics, ledgers, exports and fetches."""
    if scope.role in ("county_admin", "viewer"):
        return true()
    if scope.role == "township_staff" and scope.node_path:
        return scope.nodes(AdminNode.path)
    if scope.role == "station_staff" and scope.station_id is not None:
        return Case.station_id == scope.station_id
    if scope.role == "deputy":
        mine = select(Deputy.id).where(Deputy.user_id == scope.user_id)
        return or_(Case.deputy_id.in_(mine), Case.created_by == scope.user_id)
    if scope.role == "handling_unit" and scope.handling_unit_id is not None:
        return Case.handling_unit_id == scope.handling_unit_id
    return false()


def cases_query(*columns):
    """select(Case or columns) with the join ``case_filter`` needs."""
    return select(*(columns or (Case,))).outerjoin(AdminNode, node_join())


@dataclass
class CaseRef:
    case: Case
    node: AdminNode | None
    category: CaseCategory | None
    unit: HandlingUnit | None
    station: Station | None


async def get_case(db: AsyncSession, scope: Scope, case_id: int, *, for_update: bool = False) -> CaseRef:
    """The case with its place, category, unit and station, or 404 (missing, other tenant, out of scope)."""
    require_view(scope)
    if not 0 < case_id <= MAX_ID:
        raise NotFound()
    query = (
        cases_query(Case, AdminNode, CaseCategory, HandlingUnit, Station)
        .outerjoin(CaseCategory, and_(CaseCategory.tenant_id == Case.tenant_id, CaseCategory.id == Case.category_id))
        .outerjoin(HandlingUnit, and_(HandlingUnit.tenant_id == Case.tenant_id, HandlingUnit.id == Case.handling_unit_id))
        .outerjoin(Station, and_(Station.tenant_id == Case.tenant_id, Station.id == Case.station_id))
        .where(Case.id == case_id, case_filter(scope))
    )
    if for_update:
        query = query.with_for_update(of=Case)
    row = (await db.execute(query)).first()
    if row is None:
        raise NotFound()
    return CaseRef(*row)


def covers_node(scope: Scope, node: AdminNode | None) -> bool:
    """Whether a staff member's reach includes this place (county admins: everywhere)."""
    if scope.role == "county_admin":
        return True
    return scope.role == "township_staff" and node is not None and scope.covers_path(node.path)
