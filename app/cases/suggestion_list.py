"""The list of deputies' suggestions and motions (代表建议 · 议案) and its spreadsheet: filters read from
the address (state, station, deputy, year, text), one filter for who sees what
(``suggestions.suggestion_filter``, the same as the suggestion's own page), a fixed number of queries
per page whatever the number of suggestions.

A suggestion has no station of its own: it belongs to the station of the cases it was made from,
else to the stations its deputy serves at. The station filter asks for either.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from urllib.parse import urlencode

from sqlalchemy import and_, exists, extract, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import Suggestion
from app.cases.models import Case
from app.cases.suggestions import SUGGESTION_STATES, suggestion_filter
from app.core.db import as_id
from app.deputies.models import Deputy, StationDeputy
from app.stations.access import node_join, station_filter
from app.stations.models import Station
from app.tenancy.models import AdminNode, HandlingUnit
from app.tenancy.scope import Scope

PER_PAGE = 50
SEARCH_MAX = 100
EXPORT_MAX = 20_000  # a county files a few hundred a year; the sheet stops here


@dataclass
class Filters:
    """The list's filters as read from the address; anything malformed is ignored."""
    state: str | None = None
    station: int | None = None
    deputy: int | None = None
    year: int | None = None
    q: str = ""
    page: int = 1

    @classmethod
    def read(cls, params) -> "Filters":
        get = params.get
        year = as_id(get("year"))
        return cls(state=get("state") if get("state") in SUGGESTION_STATES else None, station=as_id(get("station")),
                   deputy=as_id(get("deputy")), year=year if year and 2000 <= year <= 2100 else None,
                   q=" ".join(str(get("q") or "").split())[:SEARCH_MAX], page=min(as_id(get("page")) or 1, 10_000))

    def params(self, **change) -> dict:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(change)
        if values.get("page") == 1:
            values["page"] = None
        return {k: v for k, v in values.items() if v not in (None, "")}

    def url(self, base: str, **change) -> str:
        query = urlencode(self.params(**change))
        return f"{base}?{query}" if query else base

    @property
    def active(self) -> bool:
        return bool(self.params(page=1))


def _at_station(station_id: int):
    from_case = exists(select(Case.id).where(Case.tenant_id == Suggestion.tenant_id, Case.suggestion_id == Suggestion.id,
                                             Case.station_id == station_id)).correlate(Suggestion)
    deputy_there = exists(select(StationDeputy.id).where(
        StationDeputy.tenant_id == Suggestion.tenant_id, StationDeputy.deputy_id == Suggestion.deputy_id,
        StationDeputy.station_id == station_id, StationDeputy.ended_at.is_(None))).correlate(Suggestion)
    return or_(from_case, deputy_there)


def conditions(scope: Scope, f: Filters) -> list:
    """The WHERE clauses of the list, its count and its export."""
    where = [suggestion_filter(scope)]
    if f.state:
        where.append(Suggestion.state == f.state)
    if f.deputy:
        where.append(Suggestion.deputy_id == f.deputy)
    if f.year:
        where += [Suggestion.filed_on >= date(f.year, 1, 1), Suggestion.filed_on <= date(f.year, 12, 31)]
    if f.station:
        where.append(_at_station(f.station))
    if f.q:
        where.append(or_(Suggestion.title.icontains(f.q, autoescape=True),
                         Suggestion.content.icontains(f.q, autoescape=True)))
    return where


def _station_name():
    """The station of the first case it came from, else the stations its deputy serves at."""
    of_case = (select(Station.name).join(Case, and_(Case.tenant_id == Station.tenant_id, Case.station_id == Station.id))
               .where(Case.tenant_id == Suggestion.tenant_id, Case.suggestion_id == Suggestion.id)
               .order_by(Case.id).limit(1).correlate(Suggestion).scalar_subquery())
    of_deputy = (select(func.string_agg(Station.name, "、"))
                 .join(StationDeputy, and_(StationDeputy.tenant_id == Station.tenant_id,
                                           StationDeputy.station_id == Station.id))
                 .where(StationDeputy.tenant_id == Suggestion.tenant_id, StationDeputy.deputy_id == Suggestion.deputy_id,
                        StationDeputy.ended_at.is_(None)).correlate(Suggestion).scalar_subquery())
    return func.coalesce(of_case, of_deputy)


def _row_query(*extra):
    return (select(Suggestion.id, Suggestion.kind, Suggestion.title, Suggestion.filed_on, Suggestion.state,
                   Suggestion.answered_at, Deputy.name.label("deputy"), HandlingUnit.name.label("unit"),
                   _station_name().label("station"), *extra)
            .join(Deputy, and_(Deputy.tenant_id == Suggestion.tenant_id, Deputy.id == Suggestion.deputy_id))
            .outerjoin(HandlingUnit, and_(HandlingUnit.tenant_id == Suggestion.tenant_id,
                                          HandlingUnit.id == Suggestion.handling_unit_id)))


def _order(query):
    return query.order_by(Suggestion.filed_on.desc(), Suggestion.id.desc())


@dataclass
class SuggestionList:
    rows: list
    total: int
    page: int
    pages: int


async def list_suggestions(db: AsyncSession, scope: Scope, f: Filters) -> SuggestionList:
    """Newest first, 50 a page: two queries."""
    where = conditions(scope, f)
    total = await db.scalar(select(func.count()).select_from(Suggestion).where(*where)) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, f.page), pages)
    rows = (await db.execute(_order(_row_query().where(*where)).limit(PER_PAGE).offset((page - 1) * PER_PAGE))).all()
    return SuggestionList(rows=list(rows), total=total, page=page, pages=pages)


async def export_rows(db: AsyncSession, scope: Scope, f: Filters) -> list:
    """Every row the filters select (at most EXPORT_MAX), with the content and the answer."""
    query = _row_query(Suggestion.content, Suggestion.answer).where(*conditions(scope, f))
    return list((await db.execute(_order(query).limit(EXPORT_MAX))).all())


async def filter_choices(db: AsyncSession, scope: Scope, this_year: int) -> dict:
    """The stations in the member's reach, the deputies and the years of the suggestions they see."""
    stations = []
    if scope.role != "handling_unit":
        stations = (await db.execute(select(Station.id, Station.name).join(AdminNode, node_join())
                                     .where(station_filter(scope)).order_by(AdminNode.path, Station.name))).all()
    visible = suggestion_filter(scope)
    deputies = (await db.execute(select(Deputy.id, Deputy.name).where(
        exists(select(Suggestion.id).where(Suggestion.tenant_id == Deputy.tenant_id, Suggestion.deputy_id == Deputy.id,
                                           visible).correlate(Deputy))).order_by(Deputy.name, Deputy.id))).all()
    year = extract("year", Suggestion.filed_on)
    years = {int(y) for y in await db.scalars(select(year).select_from(Suggestion).where(visible).distinct())}
    years.add(this_year)
    return {"stations": list(stations), "deputies": list(deputies), "years": sorted(years, reverse=True)}
