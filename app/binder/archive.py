"""一档案 of the station binder: the duty dossier (代表履职档案) of every deputy stationed at the binder's
stations, for the binder's year. On paper each deputy's dossier as the dossier page prints it
(``duties/_dossier.html``, each on new pages); in the workbook one sheet with a row per deputy: the
stations, levels, activities invited and attended (代签 counts as present), opinions collected,
suggestions filed, duty entries approved, the year's points (where the county scores points), the
year's published appraisal grade and score, and the share satisfied over the year's 述职评议 ballots.

The deputies are the serving ones stationed (today) at these stations that the member may see as the
dossier's own access does (``deputies_in_scope``): the binder's reach gives stations in reach, and a
deputy stationed there is in the reach of every binder role. Everything is read in a fixed number of
queries, whatever the number of deputies (``app.duties.dossiers.pages``, one for the invitations, at
most three for the points). Mobiles are masked in the dossier, as everywhere it prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.attendance import attendance_join
from app.activities.models import Activity, Attendance, Invitation
from app.binder.parts import Binding, Section
from app.binder.sheets import SEPARATOR
from app.core import spreadsheets
from app.core.i18n import gettext, lazy
from app.core.periods import period_of
from app.deputies.access import deputies_in_scope
from app.deputies.models import LEVEL_NAMES, LEVELS, Deputy, StationDeputy
from app.duties import points
from app.duties.appraisal_models import GRADE_NAMES
from app.duties.dossiers import DossierPage, pages
from app.duties.meetings import Result
from app.duties.queries import year_bounds
from app.stations.models import Station
from app.tenancy.scope import Scope


KEY = "archive"
TITLE = lazy("Duty dossier")  # 代表履职档案: the sheet's name too
PART_TEMPLATE = "binder/_archive.html"
HEAD = (lazy("Deputy"), lazy("Station"), lazy("Levels"), lazy("Activities invited"), lazy("Activities attended"),
        lazy("Opinions collected"), lazy("Suggestions and motions filed"), lazy("Filed duties (approved)"))
POINTS = lazy("Duty points")
TAIL = (lazy("Grade"), lazy("Score"), lazy("Duty reports: share satisfied"))


@dataclass
class ArchiveLine:
    deputy_id: int
    name: str
    page: DossierPage
    stations: list[str] = field(default_factory=list)
    levels: list[str] = field(default_factory=list)
    invited: int = 0
    points: Decimal | None = None
    grade: str | None = None
    score: Decimal | None = None
    reports: Result = field(default_factory=Result)  # the year's 述职评议 ballots, every meeting together

    @property
    def attended(self) -> int:
        return len(self.page.d.attended)  # 代签 included: a sign-in by staff is a presence

    @property
    def opinions(self) -> int:
        return len(self.page.d.cases)

    @property
    def suggestions(self) -> int:
        return len(self.page.d.suggestions)

    @property
    def approved(self) -> int:
        return sum(len(rows) for _kind, rows in self.page.d.approved_by_kind)


@dataclass
class Archive:
    lines: list[ArchiveLine]
    with_points: bool  # the county scores points (an active item): the sheet has the column

    @property
    def head(self) -> tuple:
        return (*HEAD, *((POINTS,) if self.with_points else ()), *TAIL)

    def cells(self, line: ArchiveLine) -> list:
        share = line.reports.satisfied_percent
        return [line.name, SEPARATOR.join(line.stations), SEPARATOR.join(gettext(LEVEL_NAMES[lv]) for lv in line.levels),
                line.invited, line.attended, line.opinions, line.suggestions, line.approved,
                *((line.points,) if self.with_points else ()),
                gettext(GRADE_NAMES[line.grade]) if line.grade in GRADE_NAMES else None, line.score,
                None if share is None else spreadsheets.Percent(share / 100)]


async def _stationed(db: AsyncSession, scope: Scope, station_ids: list[int]) -> dict[int, tuple[Deputy, list[str]]]:
    """Serving deputies stationed at these stations and in the member's reach, by name, each with the
    names of those stations (in the stations' order): one query."""
    if not station_ids:
        return {}
    order = {sid: n for n, sid in enumerate(station_ids)}
    rows = (await db.execute(
        select(Deputy, StationDeputy.station_id, Station.name)
        .join(StationDeputy, and_(StationDeputy.tenant_id == Deputy.tenant_id, StationDeputy.deputy_id == Deputy.id))
        .join(Station, and_(Station.tenant_id == StationDeputy.tenant_id, Station.id == StationDeputy.station_id))
        .where(StationDeputy.station_id.in_(station_ids), StationDeputy.ended_at.is_(None),
               Deputy.status == "active", deputies_in_scope(scope))
        .order_by(Deputy.name, Deputy.id)
    )).all()
    found: dict[int, tuple[Deputy, list[tuple[int, str]]]] = {}
    for deputy, station_id, station in rows:
        found.setdefault(deputy.id, (deputy, []))[1].append((order[station_id], station))
    return {i: (deputy, [name for _, name in sorted(at)]) for i, (deputy, at) in found.items()}


async def _invited(db: AsyncSession, deputy_ids: list[int], year: int, tz: ZoneInfo) -> dict[int, int]:
    """How many of the year's activities each deputy was due at: invited (not withdrawn) to one not
    cancelled that has begun, or present at one (the dossier counts every presence): one query."""
    start, end = year_bounds(year, tz)
    rows = await db.execute(
        select(Invitation.deputy_id, func.count())
        .join(Activity, and_(Activity.tenant_id == Invitation.tenant_id, Activity.id == Invitation.activity_id))
        .outerjoin(Attendance, attendance_join())
        .where(Invitation.deputy_id.in_(deputy_ids), Activity.starts_at >= start, Activity.starts_at < end,
               Activity.status != "cancelled",
               or_(Attendance.deputy_id.is_not(None),
                   and_(Invitation.withdrawn_at.is_(None),
                        or_(Activity.status == "held", Activity.starts_at <= func.now()))))
        .group_by(Invitation.deputy_id))
    return dict(rows.all())


async def read(db: AsyncSession, scope: Scope, station_ids: list[int], year: int, tz: str) -> Archive:
    """The archive of these stations (in the member's reach) for ``year``: a fixed number of queries."""
    zone = ZoneInfo(tz)
    stationed = await _stationed(db, scope, station_ids)
    deputies = [deputy for deputy, _ in stationed.values()]
    if not deputies:
        return Archive([], False)
    tenant_id = deputies[0].tenant_id  # the binding carries no tenant; its deputies are the tenant's
    found = await pages(db, scope, tenant_id, deputies, [year], zone)
    lines = [ArchiveLine(i, deputy.name, found[i], stations) for i, (deputy, stations) in stationed.items()]
    for line in lines:
        d = line.page.d
        line.levels = sorted({m.level for m, _ in d.detail.mandates if m.level in LEVEL_NAMES}, key=LEVELS.index)
        for y, grade, score in line.page.grades:
            if y == year:
                line.grade, line.score = grade, score
        for ref in line.page.meetings:
            for rating, n in ref.result.counts.items():
                line.reports.counts[rating] = line.reports.counts.get(rating, 0) + n
    with_points = bool(await points.active_items(db, tenant_id))
    invited = await _invited(db, list(stationed), year, zone)
    figures = await points.points_of(db, tenant_id, {line.deputy_id: tuple(line.levels) for line in lines},
                                     period_of("year", date(year, 1, 1)), zone) if with_points else {}
    for line in lines:
        line.invited = invited.get(line.deputy_id, 0)
        line.points = figures.get(line.deputy_id)
    return Archive(lines, with_points)


async def part(b: Binding) -> list[Section]:
    """The binder's 一档案: the dossiers printed through ``PART_TEMPLATE``, the rows in the workbook."""
    archive = await read(b.db, b.scope, b.station_ids, b.year, b.tz)
    return [Section(KEY, TITLE, archive.head, archive.lines, archive.cells, PART_TEMPLATE,
                    part_template=PART_TEMPLATE)]


def xlsx(archive: Archive, tz) -> bytes:
    """The archive alone: one sheet, 代表履职档案."""
    book = spreadsheets.Book(tz=tz)
    sheet = book.sheet(gettext(TITLE), [gettext(h) for h in archive.head])
    for line in archive.lines:
        sheet.append(archive.cells(line))
    return book.save()
