"""The board's mailbox flag: a station in operation whose deputy mailbox was not opened in some week
of the last 12 (the station's mailbox page shows the same weeks: ``app.cases.mailbox``). Two queries
at most, whatever the number of stations: the stations (unless the board loaded them already) and
their openings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.mailbox import WEEKS_SHOWN, missed_weeks_by_station
from app.compliance import engine
from app.tenancy.scope import Scope

LISTED_MAX = 50  # flagged stations listed by name on one board; the rest are counted


@dataclass
class Flag:
    station_id: int
    name: str
    path: str
    missed: int  # weeks without an opening among the last WEEKS_SHOWN


@dataclass
class MailboxFlags:
    flags: dict[int, Flag] = field(default_factory=dict)  # station id -> flag (flagged stations only)
    weeks: int = WEEKS_SHOWN

    def listed(self) -> list[Flag]:
        return sorted(self.flags.values(), key=lambda f: (f.path, f.name))[:LISTED_MAX]

    @property
    def unlisted(self) -> int:
        return max(0, len(self.flags) - LISTED_MAX)

    def missed(self, station_id: int | None) -> int:
        flag = self.flags.get(station_id) if station_id is not None else None
        return flag.missed if flag else 0


async def mailbox_flags(db: AsyncSession, scope: Scope, where: engine.Where, board: engine.Board, today: date,
                        tz: ZoneInfo) -> MailboxFlags:
    """The flagged stations among those the board covers (none on a deputy's own board)."""
    if scope.role == "deputy" or where.deputy_id is not None:
        return MailboxFlags()
    # the board loaded the same stations when it has a station rule
    stations = board.stations if any(r.subject == "station" for r in board.rules) \
        else await engine.load_stations(db, scope, where)
    missed = await missed_weeks_by_station(db, list(stations), WEEKS_SHOWN, today, tz)
    return MailboxFlags({sid: Flag(sid, stations[sid].name, stations[sid].path, len(weeks))
                         for sid, weeks in missed.items()})
