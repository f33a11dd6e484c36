"""Who opens the station binder's registers, and for which stations.

The binder is the offices' paper record of a station's work: county admins and viewers read every
station's, township staff their township's, station staff their own station's. Deputies and handling
units have no binder (the same 404 as a missing page). A register is of one station, or rolled up over
every station in the member's reach; a station id out of reach (another township's, another tenant's,
missing) is the same 404. The stations come from the one station scope filter
(``app.stations.access.station_filter``), read in one statement that serves both the choice on the page
and the check of the id asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.attendance import MAX_YEAR, MIN_YEAR
from app.core.db import MAX_ID
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.stations.access import node_join, station_filter
from app.stations.models import Station
from app.tenancy.models import AdminNode
from app.tenancy.scope import Scope

BINDER_ROLES = ("county_admin", "viewer", "township_staff", "station_staff")
YEAR_BAD = lazy("Please give the year as four digits, from %(min)s to %(max)s.")


def require_binder(scope: Scope) -> None:
    if scope.role not in BINDER_ROLES:
        raise NotFound()


def read_year(value: str | None, today: date) -> int:
    """The year asked for (this year when none is given); a bad one is refused with a clear message."""
    text = (value or "").strip()
    if not text:
        return today.year
    if not (text.isdigit() and len(text) == 4 and MIN_YEAR <= int(text) <= MAX_YEAR):
        raise Refusal(YEAR_BAD, input_name="year", min=MIN_YEAR, max=MAX_YEAR)
    return int(text)


@dataclass
class Reach:
    """The stations in the member's reach (id, name, in place order) and the one chosen, if any."""

    stations: list[tuple[int, str]]
    chosen: tuple[int, str] | None

    @property
    def station_ids(self) -> list[int]:
        """The stations a register covers: the chosen one, or all in reach (the roll-up)."""
        return [self.chosen[0]] if self.chosen else [sid for sid, _ in self.stations]


async def reach(db: AsyncSession, scope: Scope, station: str | None) -> Reach:
    """The member's stations and the chosen one (``station``: an id, or empty for all): one query."""
    require_binder(scope)
    text = (station or "").strip()
    wanted = None
    if text:
        wanted = int(text) if text.isdigit() and 0 < int(text) <= MAX_ID else -1
    rows = [(sid, name) for sid, name in await db.execute(
        select(Station.id, Station.name).join(AdminNode, node_join())
        .where(station_filter(scope)).order_by(AdminNode.path, Station.name, Station.id))]
    if wanted is None:
        return Reach(rows, None)
    chosen = next((row for row in rows if row[0] == wanted), None)
    if chosen is None:
        raise NotFound()
    return Reach(rows, chosen)
