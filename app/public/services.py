"""What the public pages show: read-only queries, a fixed number per page (no query per row).

Only public fields leave here: a deputy's name, levels, photo and ``public_contact`` — never the
private mobile number, the work unit or anything from the contact rosters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import segno
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.images import StoredImage
from app.deputies.models import LEVELS, Commitment, Deputy, Mandate, StationDeputy
from app.stations.models import Station, StationGoal, StationKind
from app.stations.schedule import ScheduleError, describe_rule, next_reception_days
from app.tenancy.models import AdminNode

STATIONS_PER_PAGE = 50
NEXT_DAYS = 3
DEPUTY_PHOTO_BOX = (96, 128)  # shown at most this wide and high
STATION_PHOTO_BOX = (480, 360)


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


def reception(rule: str, today: date, locale: str, n: int) -> tuple[str, list[date]]:
    """(the rule for people, the next n days); a stored rule that cannot be read shows nothing."""
    try:
        return describe_rule(rule, locale), next_reception_days(rule, today, n)
    except ScheduleError:
        return "", []


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
    total = await db.scalar(select(func.count()).select_from(Station).where(Station.status == "active")) or 0
    rows = (
        await db.execute(
            select(Station.id, Station.name, Station.reception_rule, StationKind.name, AdminNode.path)
            .join(StationKind, (StationKind.tenant_id == Station.tenant_id) & (StationKind.id == Station.kind_id))
            .join(AdminNode, (AdminNode.tenant_id == Station.tenant_id) & (AdminNode.id == Station.node_id))
            .where(Station.status == "active")
            .order_by(AdminNode.path, StationKind.sort, Station.name, Station.id)
            .limit(STATIONS_PER_PAGE)
            .offset((page - 1) * STATIONS_PER_PAGE)
        )
    ).all()
    places = await _place_names(db, [r[4] for r in rows])
    out = []
    for station_id, name, rule, kind, path in rows:
        _, days = reception(rule, today, locale, 1)
        out.append(StationRow(id=station_id, name=name, kind=kind, place=places.get(path, ""),
                              next_day=days[0] if days else None))
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
class StationPage:
    station: Station
    kind: str
    place: str
    photo: Photo | None
    rule_text: str
    next_days: list[date]
    deputies: list[PublicDeputy]
    year: int
    goals: list[PublicGoal] = field(default_factory=list)
    commitments: list[PublicCommitment] = field(default_factory=list)
    # The station's yearly activity plan (年度活动计划) arrives with the activities issue: it fills this
    # and templates/public/station.html shows it in the "yearly-plan" section.
    yearly_plan: list = field(default_factory=list)


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


async def station_page(db: AsyncSession, station: Station, today: date, locale: str) -> StationPage:
    kind_name, path, width, height = (
        await db.execute(
            select(StationKind.name, AdminNode.path, StoredImage.width, StoredImage.height)
            .select_from(Station)
            .join(StationKind, (StationKind.tenant_id == Station.tenant_id) & (StationKind.id == Station.kind_id))
            .join(AdminNode, (AdminNode.tenant_id == Station.tenant_id) & (AdminNode.id == Station.node_id))
            .outerjoin(StoredImage, (StoredImage.tenant_id == Station.tenant_id) & (StoredImage.id == Station.photo_id))
            .where(Station.id == station.id)
        )
    ).one()
    places = await _place_names(db, [path])
    rule_text, days = reception(station.reception_rule, today, locale, NEXT_DAYS)
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
        photo=_fit(station.photo_id, width, height, STATION_PHOTO_BOX), rule_text=rule_text, next_days=days,
        deputies=deputies, year=today.year, goals=goals, commitments=commitments,
    )
