"""Yearly model homes and stations (示范点) and a station's years.

Each year the county's administrators select model homes and stations, with the reason and the date
of the decision (audited; a selection made by mistake is withdrawn, audited too). Mianyang's
regulation guides 3–5 homes and 15–20 stations a year: the page shows the counts against that guide,
which never stops a selection. A home is a station whose kind has the code ``home`` (every preset
names its 代表之家 kind so); every other kind counts as a station.

Seeing the selections follows ``station_filter`` (a township sees its subtree's). A station's page
shows its star rating per year (``StarRating``, kept by the checklist) and its model years.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.audit.services import record
from app.core.db import as_id
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.stations.access import kind_join, node_join, require_places, station_filter
from app.stations.models import ModelStation, StarRating, Station, StationKind
from app.stations.services import names_for_paths, place_label
from app.tenancy.models import AdminNode
from app.tenancy.scope import Scope

HOME_KIND = "home"
REASON_MAX = 500
# Mianyang (2022): 3–5 model homes and 15–20 model stations a year. A guide, not a limit.
GUIDES = {"home": (3, 5), "station": (15, 20)}
GROUP_NAMES = {"home": lazy("Model homes"), "station": lazy("Model stations")}

ONLY_COUNTY = lazy("Only the county's administrators select model homes and stations.")
CHOOSE_STATION = lazy("Please choose a home or station in operation.")
YEAR_BAD = lazy("Please choose the year of the selection.")
REASON_REQUIRED = lazy("Please give the reason for the selection (at most 500 characters).")
DATE_BAD = lazy("Please give the date of the decision (not in the future).")
ALREADY_MODEL = lazy("“%(name)s” is already a model of %(year)s.")


def years_offered(today: date) -> list[int]:
    """Next year (selected in late autumn), this year and the four before."""
    return list(range(today.year + 1, today.year - 5, -1))


@dataclass
class Selection:
    row: ModelStation
    station: str
    kind: str
    group: str  # home | station
    place: str
    by: str


@dataclass
class GuideCount:
    group: str
    selected: int
    low: int
    high: int

    @property
    def status(self) -> str:
        return "below" if self.selected < self.low else ("above" if self.selected > self.high else "within")


def _group(kind_code: str) -> str:
    return "home" if kind_code == HOME_KIND else "station"


async def year_selections(db: AsyncSession, scope: Scope, year: int) -> list[Selection]:
    """The year's models the member may see, homes first, then by place: two queries."""
    require_places(scope)
    rows = (await db.execute(
        select(ModelStation, Station.name, StationKind.name, StationKind.code, AdminNode.path, User.display_name)
        .join(Station, and_(Station.tenant_id == ModelStation.tenant_id, Station.id == ModelStation.station_id))
        .join(AdminNode, node_join()).join(StationKind, kind_join())
        .outerjoin(User, User.id == ModelStation.selected_by)
        .where(ModelStation.year == year, station_filter(scope))
        .order_by(AdminNode.path, Station.name))).all()
    nodes = await names_for_paths(db, [r[4] for r in rows])
    out = [Selection(m, name, kind, _group(code), place_label(path, nodes), by or "")
           for m, name, kind, code, path, by in rows]
    return sorted(out, key=lambda s: s.group != "home")


def guide_counts(selections: list[Selection]) -> list[GuideCount]:
    return [GuideCount(g, sum(1 for s in selections if s.group == g), *GUIDES[g]) for g in ("home", "station")]


async def candidates(db: AsyncSession, year: int) -> list[tuple[int, str, str]]:
    """(id, name, group) of the stations in operation not yet selected for the year (county admins)."""
    chosen = select(ModelStation.station_id).where(ModelStation.year == year)
    rows = (await db.execute(
        select(Station.id, Station.name, StationKind.code).join(AdminNode, node_join()).join(StationKind, kind_join())
        .where(Station.status == "active", Station.id.not_in(chosen)).order_by(AdminNode.path, Station.name))).all()
    return [(sid, name, _group(code)) for sid, name, code in rows]


def _year(value, today: date) -> int:
    year = as_id(value)
    if year is None or year not in years_offered(today):
        raise Refusal(YEAR_BAD)
    return year


def _day(value, today: date) -> date:
    try:
        day = date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise Refusal(DATE_BAD) from None
    if day > today or day.year < 2000:
        raise Refusal(DATE_BAD)
    return day


async def select_model(db: AsyncSession, scope: Scope, *, tenant_id: int, station_id, year, reason: str,
                       selected_on, today: date, actor_id: int, client_addr: str | None = None) -> ModelStation:
    """Select a station in operation as a model of the year. Refusal writes nothing."""
    if scope.role != "county_admin":
        raise Refusal(ONLY_COUNTY, status=403)
    year = _year(year, today)
    station = await db.scalar(select(Station).where(Station.id == (as_id(station_id) or 0),
                                                    Station.status == "active"))
    if station is None:
        raise Refusal(CHOOSE_STATION)
    reason = str(reason or "").strip()
    if not reason or len(reason) > REASON_MAX:
        raise Refusal(REASON_REQUIRED)
    day = _day(selected_on, today)
    taken = await db.scalar(select(ModelStation.id).where(ModelStation.year == year,
                                                          ModelStation.station_id == station.id))
    if taken is not None:
        raise Refusal(ALREADY_MODEL, name=station.name, year=year)
    row = ModelStation(tenant_id=tenant_id, station_id=station.id, year=year, reason=reason, selected_on=day,
                       selected_by=actor_id)
    db.add(row)
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="model_station_selected",
                 target=f"station:{station.id}", client_addr=client_addr,
                 details={"year": year, "station": station.name, "reason": reason, "selected_on": day.isoformat()})
    return row


async def withdraw_model(db: AsyncSession, scope: Scope, selection_id: int, *, tenant_id: int, actor_id: int,
                         client_addr: str | None = None) -> int:
    """Withdraw a selection (county admins; anyone else: 404). Returns its year."""
    if scope.role != "county_admin":
        raise NotFound()
    row = await db.scalar(select(ModelStation).where(ModelStation.id == selection_id).with_for_update())
    if row is None:
        raise NotFound()
    await db.delete(row)
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="model_station_withdrawn",
                 target=f"station:{row.station_id}", client_addr=client_addr,
                 details={"year": row.year, "reason": row.reason, "selected_on": row.selected_on.isoformat()})
    return row.year


@dataclass
class StationYears:
    ratings: list[StarRating]  # newest year first
    models: list[ModelStation]  # newest year first


async def station_years(db: AsyncSession, station_id: int) -> StationYears:
    """The station's star rating per year and its model years: two queries (the station is visible)."""
    ratings = (await db.scalars(select(StarRating).where(StarRating.station_id == station_id)
                                .order_by(StarRating.year.desc()))).all()
    models = (await db.scalars(select(ModelStation).where(ModelStation.station_id == station_id)
                               .order_by(ModelStation.year.desc()))).all()
    return StationYears(list(ratings), list(models))
