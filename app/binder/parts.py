"""What the whole binder (``book``) is made of, in a module of its own so that the modules giving
parts (the album, the archive, the rosters) and ``book``, which lists them, import it and not each other:
a ``Section`` is one part's title, head, lines and the function turning a line into cells (shared by the
sheet and the printed table); a ``Binding`` is what every part is read with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.tenancy.scope import Scope

ROWS_TEMPLATE = "binder/_book_rows.html"  # the case register and the roster: their cells as they are


@dataclass
class Section:
    key: str
    title: object  # a lazy msgid
    head: tuple
    lines: list
    cells: Callable[[object], list]
    template: str
    day_columns: tuple[int, ...] = ()  # printed without a break at their hyphens
    # a part printed otherwise than as a table (the photo album, the deputies' archives): the template
    # printing the whole part, given ``section`` (and ``lines``); None: the table with ``template``'s rows
    part_template: str | None = None

    @property
    def wide(self) -> bool:
        """A table of more columns than a portrait A4 page holds: printed landscape (as the register
        pages). A part printed by its own template (the dossiers) is no table: its head is the sheet's."""
        return self.part_template is None and len(self.head) > 6


@dataclass
class Binding:
    """What every part of one binder is read with: the session, the member's scope, the stations
    (``access.reach``), the year, the tenant's zone name, and whether personal data is shown
    unmasked (a reveal: the route checks the role and writes the audit entry)."""

    db: AsyncSession
    scope: Scope
    station_ids: list[int]
    year: int
    tz: str
    reveal: bool = False
