"""What a case page reads, in few statements built once (issue 20).

The case (``get_case``: ``access.get_case``'s statement, built once per scope), one statement for the
facts the page names (the county's re-handling limit, deputy, activity, suggestion, last rating,
duplicates merged into it, photos, the joint station it came from), one for its history, and one
``UNION ALL`` for the choices of the forms it shows (handling units, categories, likely duplicates,
deputies). The statements are built at import (or once per shape) with bind parameters, so a request
neither builds them nor computes their cache keys; all but the case run on the session's connection
as Core (no ORM loading). Row-level security binds them to the request's tenant; ``case_filter``
still decides what the member may see of this and of other cases.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import BigInteger, and_, any_, bindparam, func, literal, null, select, union_all
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.activities.models import Activity, Suggestion
from app.cases.list_page import scope_key
from app.cases.access import CaseRef, case_filter, cases_query, require_view, shows_receipt_codes
from app.cases.models import RATING_ACTIONS, Case, CaseCategory, CaseEvent, CasePhoto
from app.cases.views import DEPUTY_CHOICES, HISTORY_LIMIT, Entry, linked_cases
from app.core.db import MAX_ID
from app.core.errors import NotFound
from app.deputies.models import Deputy, StationDeputy
from app.stations.models import Station
from app.tenancy.config import Config
from app.tenancy.models import AdminNode, HandlingUnit, TenantConfig
from app.tenancy.scope import Scope

MERGED_SHOWN = 50  # duplicates merged into a case that its page names (and whose steps it shows)
REHANDLE_DEFAULT = Config.__dataclass_fields__["case_rehandle_limit"].default


def _param(name: str):
    return bindparam(name, type_=BigInteger)


# --- the case ----------------------------------------------------------------------------------------------

_case_statements: dict = {}


def _case_statement(scope: Scope):
    """``access.get_case``'s statement (the same joins and ``case_filter``), the id a parameter."""
    return (
        cases_query(Case, AdminNode, CaseCategory, HandlingUnit, Station)
        .outerjoin(CaseCategory, and_(CaseCategory.tenant_id == Case.tenant_id, CaseCategory.id == Case.category_id))
        .outerjoin(HandlingUnit, and_(HandlingUnit.tenant_id == Case.tenant_id, HandlingUnit.id == Case.handling_unit_id))
        .outerjoin(Station, and_(Station.tenant_id == Case.tenant_id, Station.id == Case.station_id))
        .where(Case.id == _param("case_id"), case_filter(scope))
    )


def _cached(cache: dict, key, build):
    stmt = cache.get(key)
    if stmt is None:
        if len(cache) > 256:  # a handful of shapes per member: bounded all the same
            cache.clear()
        stmt = cache[key] = build()
    return stmt


async def get_case(db: AsyncSession, scope: Scope, case_id: int) -> CaseRef:
    """As ``access.get_case`` (read only), its statement built once per scope: the same 404 for a
    case that is missing, another tenant's or out of the member's scope."""
    require_view(scope)
    if not 0 < case_id <= MAX_ID:
        raise NotFound()
    stmt = _cached(_case_statements, scope_key(scope), lambda: _case_statement(scope))
    row = (await db.execute(stmt, {"case_id": case_id})).first()
    if row is None:
        raise NotFound()
    return CaseRef(*row)


def _merged_ids():
    merged = (select(Case.id).where(Case.merged_into_id == _param("case_id")).order_by(Case.id)
              .limit(MERGED_SHOWN).subquery())
    return select(func.array_agg(aggregate_order_by(merged.c.id, merged.c.id))).scalar_subquery()


FACTS = select(
    func.coalesce(select(TenantConfig.case_rehandle_limit).where(TenantConfig.tenant_id == _param("tenant_id"))
                  .scalar_subquery(), REHANDLE_DEFAULT).label("rehandle_limit"),
    select(Deputy.name).where(Deputy.id == _param("deputy_id")).scalar_subquery().label("deputy_name"),
    select(Activity.topic).where(Activity.id == _param("activity_id")).scalar_subquery().label("activity_topic"),
    select(Activity.starts_at).where(Activity.id == _param("activity_id")).scalar_subquery().label("activity_at"),
    select(Suggestion.title).where(Suggestion.id == _param("suggestion_id")).scalar_subquery()
    .label("suggestion_title"),
    select(Suggestion.state).where(Suggestion.id == _param("suggestion_id")).scalar_subquery()
    .label("suggestion_state"),
    select(CaseEvent.action).where(CaseEvent.case_id == _param("case_id"), CaseEvent.action.in_(RATING_ACTIONS))
    .order_by(CaseEvent.at.desc(), CaseEvent.id.desc()).limit(1).scalar_subquery().label("rated_by"),
    _merged_ids().label("merged_ids"),
    select(func.array_agg(aggregate_order_by(CasePhoto.id, CasePhoto.id))).where(
        CasePhoto.case_id == _param("case_id")).scalar_subquery().label("photo_ids"),
    select(CaseEvent.data).where(CaseEvent.case_id == _param("case_id"), CaseEvent.action == "registered")
    .order_by(CaseEvent.id).limit(1).scalar_subquery().label("registered_data"),
)

EVENTS = (
    select(CaseEvent.case_id, CaseEvent.action, CaseEvent.note, CaseEvent.data, CaseEvent.actor_user_id,
           CaseEvent.at, User.display_name)
    .outerjoin(User, User.id == CaseEvent.actor_user_id)
    .where(CaseEvent.case_id == any_(bindparam("case_ids", type_=ARRAY(BigInteger))))
    .order_by(CaseEvent.at.desc(), CaseEvent.id.desc()).limit(HISTORY_LIMIT)
)


class Named(NamedTuple):
    """A suggestion or photo as the page names it."""
    id: int
    title: str = ""
    state: str = ""


class Facts(NamedTuple):
    rehandle_limit: int
    merged_ids: list[int]
    names: dict  # what the template names: deputy_name, activity, suggestion, node_name, merged_into, …


async def read_facts(db: AsyncSession, scope: Scope, ref) -> Facts:
    """The names the page shows, its photos, the joint station it was referred from and the county's
    re-handling limit, in one statement (plus one for a case merged into another)."""
    case = ref.case
    # through the session, not its connection: on Citus its hook names the county on every table
    row = (await db.execute(FACTS, {
        "tenant_id": case.tenant_id, "case_id": case.id, "deputy_id": case.deputy_id,
        "activity_id": case.activity_id, "suggestion_id": case.suggestion_id})).one()
    activity = (case.activity_id, row.activity_topic, row.activity_at) if row.activity_at is not None else None
    suggestion = Named(case.suggestion_id, row.suggestion_title, row.suggestion_state) \
        if row.suggestion_state is not None else None
    merged_into = (await linked_cases(db, scope, [case.merged_into_id]))[case.merged_into_id] \
        if case.merged_into_id else None
    referred = None
    if case.referred_from_tenant_id is not None:
        data = row.registered_data or {}
        referred = {"name": data.get("joint_name", ""),
                    "code": data.get("joint_receipt_code", "") if shows_receipt_codes(scope) else ""}
    names = dict(deputy_name=row.deputy_name, activity=activity, suggestion=suggestion,
                 node_name=ref.node.name if ref.node is not None else None, merged_into=merged_into,
                 rated_by_staff=bool(case.satisfaction) and row.rated_by == "rate",
                 photos=[Named(i) for i in row.photo_ids or ()], referred_from=referred)
    return Facts(row.rehandle_limit, list(row.merged_ids or ()), names)


async def history(db: AsyncSession, scope: Scope, case: Case, merged_ids: list[int]):
    """(the steps of the case and of the duplicates merged into it, newest first, at most
    ``HISTORY_LIMIT``; those duplicates as the member may name them)."""
    merged = await linked_cases(db, scope, merged_ids)
    rows = await db.execute(EVENTS, {"case_ids": [case.id, *merged_ids]})
    out = []
    for event in rows:
        public_step = event.actor_user_id is None and (
            event.action in ("rated_by_public", "sent_back_by_person")
            or (event.action == "registered" and event.data.get("source") == "online"))
        label = None
        if event.case_id in merged:
            label = merged[event.case_id].code or f"#{event.case_id}" if merged[event.case_id].visible else ""
        out.append(Entry(event, event.display_name, public_step, label))
    return out, [merged[i] for i in merged_ids]


# --- the forms' choices ----------------------------------------------------------------------------------

def _choice(kind: str, id_, name, extra, *order):
    return (literal(kind).label("kind"), id_.label("id"), name.label("name"), extra.label("extra"),
            func.row_number().over(order_by=order).label("ord"))


def _choices_statement(scope: Scope, units: bool, categories: bool, merge: int, deputies: bool):
    """``merge``: 0 none, 1 duplicates of the station, 2 of the station and the category."""
    parts = []
    if units:  # views.unit_choices
        query = (select(*_choice("unit", HandlingUnit.id, HandlingUnit.name, null(), HandlingUnit.level,
                                 HandlingUnit.sort, HandlingUnit.name))
                 .outerjoin(AdminNode, and_(AdminNode.tenant_id == HandlingUnit.tenant_id,
                                            AdminNode.id == HandlingUnit.node_id))
                 .where(HandlingUnit.retired_at.is_(None)))
        if scope.role == "township_staff":
            query = query.where(HandlingUnit.level == "township", scope.nodes(AdminNode.path))
        parts.append(query)
    if categories:  # views.categories
        parts.append(select(*_choice("category", CaseCategory.id, CaseCategory.name, null(), CaseCategory.sort,
                                     CaseCategory.name)).where(CaseCategory.retired_at.is_(None)))
    if merge:  # open cases of the same station (and category) the member can see: likely duplicates
        query = cases_query(Case.id, Case.receipt_code, func.substr(Case.content, 1, 40).label("excerpt")).where(
            case_filter(scope), Case.id != _param("case_id"), Case.station_id == _param("station_id"),
            Case.state != "merged")
        if merge == 2:
            query = query.where(Case.category_id == _param("category_id"))
        hint = query.order_by(Case.id.desc()).limit(5).subquery()
        parts.append(select(*_choice("merge", hint.c.id, hint.c.receipt_code, hint.c.excerpt, hint.c.id.desc())))
    if deputies:  # views.deputy_choices
        serving = (select(Deputy.id, Deputy.name).distinct()
                   .join(StationDeputy, and_(StationDeputy.tenant_id == Deputy.tenant_id,
                                             StationDeputy.deputy_id == Deputy.id))
                   .where(StationDeputy.station_id == _param("station_id"), StationDeputy.ended_at.is_(None),
                          Deputy.status == "active")
                   .order_by(Deputy.name, Deputy.id).limit(DEPUTY_CHOICES).subquery())
        parts.append(select(*_choice("deputy", serving.c.id, serving.c.name, null(), serving.c.name, serving.c.id)))
    united = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    return select(united.c.kind, united.c.id, united.c.name, united.c.extra).order_by(united.c.kind, united.c.ord)


_choice_statements: dict = {}


class Unit(NamedTuple):
    id: int
    name: str


async def choices(db: AsyncSession, scope: Scope, case: Case, *, units: bool, categories: bool, merge: bool,
                  deputies: bool) -> dict:
    """The choices of the forms the page shows, in one statement (none when it shows none of them)."""
    out = {"units": [], "categories": [], "duplicates": [], "deputies": []}
    merge_kind = 0 if not merge or case.station_id is None else 1 if case.category_id is None else 2
    deputies = deputies and case.station_id is not None
    units = units and scope.role in ("county_admin", "township_staff")
    if not (units or categories or merge_kind or deputies):
        return out
    stmt = _cached(_choice_statements, (scope_key(scope), units, categories, merge_kind, deputies),
                   lambda: _choices_statement(scope, units, categories, merge_kind, deputies))
    params = {"case_id": case.id, "station_id": case.station_id, "category_id": case.category_id}
    for kind, id_, name, extra in await db.execute(stmt, params):
        if kind == "unit":
            out["units"].append(Unit(id_, name))
        elif kind == "category":
            out["categories"].append(Unit(id_, name))
        elif kind == "merge":
            out["duplicates"].append((id_, name, extra))
        else:
            out["deputies"].append((id_, name))
    return out
