"""What the public pages show: read-only queries, a fixed number per page (no query per row).

Only public fields leave here: a deputy's name, levels, photo and ``public_contact`` — never the
private mobile number, the work unit or anything from the contact rosters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo

import segno
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import Activity, ActivityEvent, ActivityKind, ActivityPlan
from app.activities.plans import moved_from, moved_to
from app.core.calendar import WorkingCalendar, calendar_column, calendar_from
from app.core.errors import Refusal
from app.core.images import StoredImage
from app.core.periods import Period
from app.deputies.models import LEVELS, Commitment, Deputy, Mandate, StationDeputy
from app.duties import appraisal, points
from app.duties.settings import public_choices
from app.stations.models import Station, StationGoal, StationKind
from app.stations.schedule import LOOKBACK, Reception, Receptions, describe_rule, receptions
from app.tenancy.models import AdminNode

STATIONS_PER_PAGE = 50
NEXT_DAYS = 3
DEPUTY_PHOTO_BOX = (96, 128)  # shown at most this wide and high
STATION_PHOTO_BOX = (480, 360)
PLAN_COMING = 6  # the yearly plan's next entries shown first
PLAN_CHANGES = 30  # the newest changes to the published plan
_ZH_WEEKDAY = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")
_EN_WEEKDAY = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTH = ("", "January", "February", "March", "April", "May", "June", "July", "August", "September",
             "October", "November", "December")


def qr_code(link: str) -> str:
    """An inline SVG QR code of the link, sized by CSS (viewBox only), for the printed poster."""
    return segno.make(link, error="m").svg_inline(scale=1, omitsize=True, dark="#000", light="#fff",
                                                   svgclass="qr")


@dataclass
class Photo:
    id: int
    width: int
    height: int


def _fit(image_id: int | None, width: int | None, height: int | None, box: tuple[int, int]) -> Photo | None:
    """The photo's display size within ``box`` (the page sets width/height so nothing jumps)."""
    if image_id is None or not width or not height:
        return None
    scale = min(box[0] / width, box[1] / height, 1)
    return Photo(id=image_id, width=max(1, round(width * scale)), height=max(1, round(height * scale)))


def reception(rule: str, today: date, locale: str, n: int, calendar: WorkingCalendar,
              on_holiday: str) -> tuple[str, Receptions]:
    """(the rule for people, the next n receptions on the working calendar: none on a statutory
    holiday); a stored rule that cannot be read shows nothing."""
    try:
        return describe_rule(rule, locale), receptions(rule, today, n, calendar, on_holiday)
    except Refusal:
        return "", Receptions()


async def _place_names(db: AsyncSession, paths: list[str]) -> dict[str, str]:
    """'城关镇 · 东街社区' for each node path (the county itself left out), in one query."""
    ids = {int(p) for path in paths for p in path.strip("/").split("/") if p}
    if not ids:
        return {}
    rows = await db.execute(select(AdminNode.id, AdminNode.name, AdminNode.parent_id).where(AdminNode.id.in_(ids)))
    names, roots = {}, set()
    for node_id, name, parent_id in rows:
        names[node_id] = name
        if parent_id is None:
            roots.add(node_id)
    out = {}
    for path in paths:
        parts = [int(p) for p in path.strip("/").split("/") if p]
        shown = [names[i] for i in parts if i in names and i not in roots] or [names[i] for i in parts if i in names]
        out[path] = " · ".join(shown)
    return out


@dataclass
class StationRow:
    id: int
    name: str
    kind: str
    place: str
    next_day: date | None


async def list_stations(db: AsyncSession, today: date, locale: str, page: int = 1) -> tuple[list[StationRow], int]:
    """The tenant's stations in operation (one page of them) and how many there are."""
    total, calendar_days = (await db.execute(
        select(func.count(), calendar_column(today - LOOKBACK)).select_from(Station).where(Station.status == "active")
    )).one()
    rows = (
        await db.execute(
            select(Station.id, Station.name, Station.reception_rule, Station.holiday_reception, StationKind.name,
                   AdminNode.path)
            .join(StationKind, (StationKind.tenant_id == Station.tenant_id) & (StationKind.id == Station.kind_id))
            .join(AdminNode, (AdminNode.tenant_id == Station.tenant_id) & (AdminNode.id == Station.node_id))
            .where(Station.status == "active")
            .order_by(AdminNode.path, StationKind.sort, Station.name, Station.id)
            .limit(STATIONS_PER_PAGE)
            .offset((page - 1) * STATIONS_PER_PAGE)
        )
    ).all()
    places = await _place_names(db, [r[5] for r in rows])
    calendar = calendar_from(calendar_days)
    out = []
    for station_id, name, rule, on_holiday, kind, path in rows:
        _, coming = reception(rule, today, locale, 1, calendar, on_holiday)
        out.append(StationRow(id=station_id, name=name, kind=kind, place=places.get(path, ""),
                              next_day=coming.days[0].day if coming.days else None))
    return out, total


@dataclass
class PublicDeputy:
    id: int
    name: str
    levels: list[str]
    public_contact: str
    photo: Photo | None


@dataclass
class PublicGoal:
    goal: str
    progress: str
    done: bool


@dataclass
class PublicCommitment:
    deputy: str
    commitment: str


@dataclass
class PublicPlanEntry:
    when: str  # "3月15日 星期五 09:00" / "Friday 15 March 09:00", in the tenant's zone
    starts_at: datetime
    kind: str
    topic: str
    place: str
    cancelled: bool


@dataclass
class PublicPlanChange:
    action: str  # rescheduled, cancelled, added_to_plan, or another change
    kind: str
    day: str  # the entry's date ("3月15日"); for a reschedule the old one
    new_day: str = ""  # a reschedule: the new date


@dataclass
class PublicPlan:
    note: str
    coming: list[PublicPlanEntry]
    entries: list[PublicPlanEntry]
    changes: list[PublicPlanChange]


@dataclass
class BoardLine:
    name: str
    grade: str | None = None  # excellent | pass | fail; None: not in the appraisal
    points: Decimal | None = None


@dataclass
class PublicBoard:
    """The public appraisal board (履职考评公开栏), as the county chose: each deputy's grade in the latest
    published appraisal (``year``: its year, None before any), or their points this year so far."""
    kind: str  # grades | points
    year: int | None
    lines: list[BoardLine]


@dataclass
class StationPage:
    station: Station
    kind: str
    place: str
    photo: Photo | None
    rule_text: str
    next_days: list[Reception]  # none on a statutory holiday: moved ones say from where
    deputies: list[PublicDeputy]
    year: int
    goals: list[PublicGoal] = field(default_factory=list)
    commitments: list[PublicCommitment] = field(default_factory=list)
    cancelled_days: list[Reception] = field(default_factory=list)  # holidays without the reception
    # this year's published activity plan (年度活动计划), shown by app/templates/public/_yearly_plan.html
    yearly_plan: PublicPlan | None = None
    board: PublicBoard | None = None  # where the county shows one (app/templates/public/_board.html)
    reports_public: bool = False  # the county shows its duty reports' results (…/stations/<id>/reports)


async def station_deputies(db: AsyncSession, station_id: int) -> list[PublicDeputy]:
    """Serving deputies with an open assignment here, highest level first, with their levels (2 queries)."""
    rows = (
        await db.execute(
            select(Deputy.id, Deputy.name, Deputy.public_contact, Deputy.photo_id, StoredImage.width,
                   StoredImage.height)
            .join(StationDeputy, (StationDeputy.tenant_id == Deputy.tenant_id) & (StationDeputy.deputy_id == Deputy.id))
            .outerjoin(StoredImage, (StoredImage.tenant_id == Deputy.tenant_id) & (StoredImage.id == Deputy.photo_id))
            .where(StationDeputy.station_id == station_id, StationDeputy.ended_at.is_(None),
                   Deputy.status == "active")
            .distinct()
        )
    ).all()
    ids = [r[0] for r in rows]
    levels: dict[int, set[str]] = {i: set() for i in ids}
    if ids:
        for deputy_id, level in await db.execute(
            select(Mandate.deputy_id, Mandate.level).where(Mandate.deputy_id.in_(ids))
        ):
            levels[deputy_id].add(level)
    deputies = [
        PublicDeputy(
            id=deputy_id, name=name, public_contact=contact or "",
            levels=[lv for lv in LEVELS if lv in levels[deputy_id]],
            photo=_fit(photo_id, width, height, DEPUTY_PHOTO_BOX),
        )
        for deputy_id, name, contact, photo_id, width, height in rows
    ]
    rank = {lv: n for n, lv in enumerate(LEVELS)}
    deputies.sort(key=lambda d: (min((rank[lv] for lv in d.levels), default=len(LEVELS)), d.name, d.id))
    return deputies


def _short_day(d: date, english: bool) -> str:
    return f"{d.day} {_EN_MONTH[d.month]}" if english else f"{d.month}月{d.day}日"


def _plan_entry(starts_at: datetime, status: str, kind: str, topic: str, place: str, tz: tzinfo,
                english: bool) -> PublicPlanEntry:
    local = starts_at.astimezone(tz)
    weekday = (_EN_WEEKDAY if english else _ZH_WEEKDAY)[local.weekday()]
    day = _short_day(local.date(), english)
    when = f"{weekday} {day} {local:%H:%M}" if english else f"{day} {weekday} {local:%H:%M}"
    return PublicPlanEntry(when=when, starts_at=starts_at, kind=kind, topic=topic, place=place,
                           cancelled=status == "cancelled")


def published_plan_id(year: int):
    """The id of the station's PUBLISHED plan of the year (a draft is nobody's business yet), as a
    column of the station page's first query: a station without one costs no query more."""
    return (
        select(ActivityPlan.id)
        .where(ActivityPlan.tenant_id == Station.tenant_id, ActivityPlan.station_id == Station.id,
               ActivityPlan.year == year, ActivityPlan.status == "published")
        .scalar_subquery()
    )


async def yearly_plan(db: AsyncSession, plan_id: int, now: datetime, tz: tzinfo, locale: str) -> PublicPlan | None:
    """A published plan: the coming entries, the whole year, and the changes since publishing — dates
    and kinds only, no names, no reasons (2 queries)."""
    english = (locale or "").startswith("en")
    rows = (await db.execute(
        select(Activity.id, Activity.starts_at, Activity.status, ActivityKind.name, Activity.topic, Activity.place,
               ActivityPlan.note)
        .join(ActivityPlan, (ActivityPlan.tenant_id == Activity.tenant_id) & (ActivityPlan.id == Activity.plan_id))
        .join(ActivityKind, (ActivityKind.tenant_id == Activity.tenant_id) & (ActivityKind.id == Activity.kind_id))
        .where(Activity.plan_id == plan_id).order_by(Activity.starts_at, Activity.id)
    )).all()
    if not rows:
        return None
    entries = [_plan_entry(r[1], r[2], r[3], r[4], r[5], tz, english) for r in rows]
    coming = [e for e, r in zip(entries, rows) if r[2] == "planned" and r[1] >= now][:PLAN_COMING]
    kinds = {r[0]: (r[3], r[1]) for r in rows}
    changes = []
    for activity_id, action, data in await db.execute(
        select(ActivityEvent.activity_id, ActivityEvent.action, ActivityEvent.data)
        .where(ActivityEvent.activity_id.in_(list(kinds)), ActivityEvent.plan_change.is_(True))
        .order_by(ActivityEvent.at.desc(), ActivityEvent.id.desc()).limit(PLAN_CHANGES)
    ):
        kind, starts_at = kinds[activity_id]
        old, new = moved_from(data), moved_to(data)
        day = _short_day((old or starts_at).astimezone(tz).date(), english)
        change = PublicPlanChange(action=action, kind=kind, day=day)
        if action == "rescheduled" and new is not None:
            change.new_day = _short_day(new.astimezone(tz).date(), english)
        changes.append(change)
    return PublicPlan(note=rows[0][6], coming=coming, entries=entries, changes=changes)


async def appraisal_board(db: AsyncSession, choice: str, tenant_id: int, deputies: list[PublicDeputy], today: date,
                          tz: ZoneInfo) -> PublicBoard | None:
    """The board the county chose for the station's deputies: grades (one query), points this year so
    far (at most three: app.duties.points.points_of), "off" or no deputy: None."""
    if not deputies or choice not in ("grades", "points"):
        return None
    if choice == "grades":
        year, grades = await appraisal.latest_grades(db, tenant_id, [d.id for d in deputies])
        return PublicBoard("grades", year, [BoardLine(d.name, grade=grades.get(d.id)) for d in deputies])
    period = Period("year", date(today.year, 1, 1), today)
    figures = await points.points_of(db, tenant_id, {d.id: tuple(d.levels) for d in deputies}, period, tz)
    return PublicBoard("points", today.year,
                       [BoardLine(d.name, points=figures.get(d.id, Decimal("0.0"))) for d in deputies])


async def station_page(db: AsyncSession, station: Station, today: date, locale: str,
                       plan_tz: ZoneInfo | None = None) -> StationPage:
    """The station's public page. ``plan_tz`` (the tenant's zone) adds this year's published plan, the
    appraisal board and the link to the duty reports, as the county chose; without it (the poster)
    they are left out."""
    kind_name, path, width, height, plan_id, calendar_days, board_choice, reports_public = (
        await db.execute(
            select(StationKind.name, AdminNode.path, StoredImage.width, StoredImage.height,
                   published_plan_id(today.year), calendar_column(today - LOOKBACK), *public_choices(station.tenant_id))
            .select_from(Station)
            .join(StationKind, (StationKind.tenant_id == Station.tenant_id) & (StationKind.id == Station.kind_id))
            .join(AdminNode, (AdminNode.tenant_id == Station.tenant_id) & (AdminNode.id == Station.node_id))
            .outerjoin(StoredImage, (StoredImage.tenant_id == Station.tenant_id) & (StoredImage.id == Station.photo_id))
            .where(Station.id == station.id)
        )
    ).one()
    places = await _place_names(db, [path])
    rule_text, coming = reception(station.reception_rule, today, locale, NEXT_DAYS, calendar_from(calendar_days),
                                  station.holiday_reception)
    deputies = await station_deputies(db, station.id)
    goals = [
        PublicGoal(goal=g, progress=p or "", done=bool(d))
        for g, p, d in await db.execute(
            select(StationGoal.goal, StationGoal.progress, StationGoal.done)
            .where(StationGoal.station_id == station.id, StationGoal.year == today.year)
            .order_by(StationGoal.id)
        )
    ]
    # commitments of the deputies shown (a deputy who left the station or stopped serving drops off)
    ids = [d.id for d in deputies]
    commitments = [
        PublicCommitment(deputy=name, commitment=text)
        for name, text in (await db.execute(
            select(Deputy.name, Commitment.commitment)
            .join(Deputy, (Deputy.tenant_id == Commitment.tenant_id) & (Deputy.id == Commitment.deputy_id))
            .where(Commitment.station_id == station.id, Commitment.year == today.year,
                   Commitment.deputy_id.in_(ids))
            .order_by(Deputy.name, Commitment.id)
        ) if ids else [])
    ]
    return StationPage(
        station=station, kind=kind_name, place=places.get(path, ""),
        photo=_fit(station.photo_id, width, height, STATION_PHOTO_BOX), rule_text=rule_text, next_days=coming.days,
        cancelled_days=coming.cancelled,
        deputies=deputies, year=today.year, goals=goals, commitments=commitments,
        yearly_plan=await yearly_plan(db, plan_id, datetime.now(plan_tz), plan_tz, locale)
        if plan_tz and plan_id else None,
        board=await appraisal_board(db, board_choice, station.tenant_id, deputies, today, plan_tz) if plan_tz else None,
        reports_public=bool(plan_tz and reports_public),
    )
