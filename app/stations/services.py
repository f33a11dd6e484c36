"""Homes and stations: listing in scope, creating and renaming under the naming rule, the lifecycle,
the profile, staff, goals, commitments and the standards checklist.

Services do not commit; every change writes an audit entry in the same transaction. A refused
change raises ``Refusal`` before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from sqlalchemy import and_, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Membership, User
from app.audit.services import record
from app.core.i18n import gettext, lazy
from app.core.images import ImageError, StoredImage, store_image
from app.deputies.models import Commitment, Deputy, StationDeputy
from app.stations import naming, schedule
from app.stations.access import StationRef, can_edit_station, kind_join, node_join, station_filter
from app.stations.models import (
    STAFF_ROLES, STATUS_NAMES, STATUSES, ChecklistItem, Station, StationEvent, StationGoal, StationKind, StationScore,
    StationStaff,
)
from app.tenancy.config import Config, canonical_name, get_config
from app.tenancy.models import DEFAULT_LIFECYCLE, AdminNode
from app.tenancy.scope import Scope

PER_PAGE = 30
MAX_NOTE = 500


class Refusal(Exception):
    """A change that is not made: a message (English msgid) and its variables, the HTTP status to
    answer with, and for names the canonical name to offer."""

    def __init__(self, message: str, status: int = 400, canonical: str = "", **variables):
        super().__init__(message)
        self.message = message
        self.status = status
        self.canonical = canonical
        self.variables = variables


CHOOSE_KIND = lazy("Please choose a kind of station from the list.")
CHOOSE_NODE = lazy("Please choose a place from the list.")
KIND_NOT_HERE = lazy("A %(kind)s cannot be set up at a %(node_kind)s; it may be set up at: %(allowed)s.")
NAME_TAKEN = lazy("Another open station is already called “%(name)s”.")
REASON_REQUIRED = lazy("Please give a reason.")
NOTE_TOO_LONG = lazy("The note may have at most 500 characters.")
STEP_NOT_NOW = lazy("This step is not possible now: the station is “%(current)s”.")
ONLY_COUNTY = lazy("Only the county's administrators may take this step.")
ONLY_TOWNSHIP = lazy("Only the township's staff or the county's administrators may take this step.")
CLOSED_STATION = lazy("The station is closed; it can no longer be changed.")
FIELD_TOO_LONG = lazy("“%(field)s” may have at most %(max)s characters.")
BAD_PHONE = lazy("The contact phone may contain only digits, spaces and “-” (at most 20).")
CHOOSE_ROLE = lazy("Please choose a staff role from the list.")
CHOOSE_PERSON = lazy("Please choose a person from the list.")
ONE_HEAD = lazy("The station already has a head; remove the present one first.")
TWO_DEPUTY_HEADS = lazy("The station already has two deputy heads.")
ALREADY_STAFF = lazy("This person already has this role at the station.")
BAD_YEAR = lazy("Please enter a year between 2000 and 2100.")
GOAL_REQUIRED = lazy("Please describe the goal (at most 500 characters).")
COMMITMENT_REQUIRED = lazy("Please write the commitment (at most 500 characters).")
DEPUTY_NOT_STATIONED = lazy("Please choose a deputy stationed at this station.")
CHOOSE_MET = lazy("Please mark each item as met or not met.")
GOAL_PROGRESS = lazy("Goal progress")

STEP_TARGETS = {"approve": "approved", "file": "filed", "activate": "active", "close": "closed",
                "send_back": "proposed"}
STEP_NAMES = {
    "approve": lazy("Approve (township)"),
    "file": lazy("File with the county"),
    "activate": lazy("Put into operation"),
    "send_back": lazy("Send back to proposed"),
    "close": lazy("Close down"),
}
EVENT_ACTIONS = {"approved": "approved", "filed": "filed", "active": "activated", "closed": "closed",
                 "proposed": "sent_back"}
EVENT_NAMES = {
    "created": lazy("Proposed"),
    "renamed": lazy("Renamed"),
    "approved": lazy("Approved by the township"),
    "filed": lazy("Filed with the county"),
    "activated": lazy("Put into operation"),
    "closed": lazy("Closed down"),
    "sent_back": lazy("Sent back to proposed"),
}
PROFILE_FIELDS = {  # field -> (label msgid, max length)
    "address": (lazy("Station address"), 200),
    "contact_name": (lazy("Contact person"), 40),
    "contact_phone": (lazy("Contact phone"), 20),
    "opening_hours": (lazy("Opening hours"), 200),
    "reception_rule": (lazy("Reception days"), 100),
    "intro": (lazy("Introduction"), 2000),
}


# --- configuration and places ---------------------------------------------------------------------

async def tenant_config(db: AsyncSession, tenant_id: int) -> Config:
    return await get_config(db, tenant_id)


def path_ids(path: str) -> list[int]:
    return [int(p) for p in path.strip("/").split("/") if p]


async def names_for_paths(db: AsyncSession, paths) -> dict[int, AdminNode]:
    """Every node named by the given paths (the nodes and their ancestors), in one query."""
    ids = {i for p in paths for i in path_ids(p)}
    if not ids:
        return {}
    nodes = (await db.scalars(select(AdminNode).where(AdminNode.id.in_(ids)))).all()
    return {n.id: n for n in nodes}


def place_label(path: str, nodes: dict[int, AdminNode], skip_root: bool = True) -> str:
    ids = path_ids(path)
    if skip_root and len(ids) > 1:
        ids = ids[1:]
    return " › ".join(nodes[i].name for i in ids if i in nodes)


async def node_chain(db: AsyncSession, node: AdminNode) -> list[AdminNode]:
    """The node's ancestry, root first."""
    nodes = await names_for_paths(db, [node.path])
    return [nodes[i] for i in path_ids(node.path) if i in nodes]


async def canonical_for(db: AsyncSession, kind: StationKind, node: AdminNode) -> str:
    if not kind.name_pattern:
        return ""
    return canonical_name(kind.name_pattern, await node_chain(db, node), kind.name)


async def active_kinds(db: AsyncSession) -> list[StationKind]:
    return list((await db.scalars(
        select(StationKind).where(StationKind.retired_at.is_(None)).order_by(StationKind.sort, StationKind.id)
    )).all())


async def all_kinds(db: AsyncSession) -> list[StationKind]:
    return list((await db.scalars(select(StationKind).order_by(StationKind.sort, StationKind.id))).all())


async def node_choices(db: AsyncSession, scope: Scope) -> list[tuple[int, str, str]]:
    """(id, place label, kind) of the open nodes a member may set a station up at."""
    nodes = (await db.scalars(select(AdminNode).where(AdminNode.retired_at.is_(None)).order_by(AdminNode.path))).all()
    by_id = {n.id: n for n in nodes}
    return [(n.id, place_label(n.path, by_id, skip_root=False), n.kind) for n in nodes
            if scope.covers_path(n.path) or scope.role == "county_admin"]


# --- stars ----------------------------------------------------------------------------------------

def stars(met: int, active: int) -> int:
    """met / active × 5, rounded half up (0 when the tenant has no checklist)."""
    if active <= 0:
        return 0
    return min(5, (met * 10 + active) // (2 * active))


async def active_item_count(db: AsyncSession) -> int:
    return await db.scalar(select(func.count()).select_from(ChecklistItem).where(ChecklistItem.retired_at.is_(None))) or 0


def _deputy_count():
    return (
        select(func.count()).select_from(StationDeputy)
        .where(StationDeputy.tenant_id == Station.tenant_id, StationDeputy.station_id == Station.id,
               StationDeputy.ended_at.is_(None))
        .correlate(Station).scalar_subquery()
    )


def _met_count():
    return (
        select(func.count()).select_from(StationScore)
        .join(ChecklistItem, and_(ChecklistItem.tenant_id == StationScore.tenant_id,
                                  ChecklistItem.id == StationScore.item_id))
        .where(StationScore.tenant_id == Station.tenant_id, StationScore.station_id == Station.id,
               StationScore.met.is_(True), ChecklistItem.retired_at.is_(None))
        .correlate(Station).scalar_subquery()
    )


# --- lists ----------------------------------------------------------------------------------------

@dataclass
class ListRow:
    station: Station
    kind_name: str
    place: str
    deputies: int
    stars: int


@dataclass
class StationList:
    rows: list[ListRow]
    total: int
    page: int
    pages: int


async def list_stations(db: AsyncSession, scope: Scope, *, status: str | None = None, kind_id: int | None = None,
                        page: int = 1) -> StationList:
    """Stations in scope, a page at a time, in a fixed number of queries."""
    conditions = [station_filter(scope)]
    if status in STATUSES:
        conditions.append(Station.status == status)
    if kind_id:
        conditions.append(Station.kind_id == kind_id)
    total = await db.scalar(
        select(func.count()).select_from(Station).join(AdminNode, node_join()).where(*conditions)
    ) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, page), pages)
    result = await db.execute(
        select(Station, StationKind.name, AdminNode.path, _deputy_count(), _met_count())
        .join(AdminNode, node_join()).join(StationKind, kind_join())
        .where(*conditions)
        .order_by(AdminNode.path, Station.name, Station.id)
        .limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    )
    rows = result.all()
    nodes = await names_for_paths(db, [r[2] for r in rows])
    active = await active_item_count(db) if rows else 0
    return StationList(
        rows=[ListRow(station=s, kind_name=k, place=place_label(p, nodes), deputies=d, stars=stars(m, active))
              for s, k, p, d, m in rows],
        total=total, page=page, pages=pages,
    )


async def ratings(db: AsyncSession, scope: Scope) -> tuple[dict[int, list[ListRow]], int]:
    """Open stations in scope grouped by stars (5 … 0), and the number of active checklist items."""
    result = await db.execute(
        select(Station, StationKind.name, AdminNode.path, _deputy_count(), _met_count())
        .join(AdminNode, node_join()).join(StationKind, kind_join())
        .where(station_filter(scope), Station.status != "closed")
        .order_by(AdminNode.path, Station.name)
    )
    rows = result.all()
    nodes = await names_for_paths(db, [r[2] for r in rows])
    active = await active_item_count(db)
    groups: dict[int, list[ListRow]] = {n: [] for n in range(5, -1, -1)}
    for s, k, p, d, m in rows:
        n = stars(m, active)
        groups[n].append(ListRow(station=s, kind_name=k, place=place_label(p, nodes), deputies=d, stars=n))
    return groups, active


# --- naming ---------------------------------------------------------------------------------------

async def check_station_name(db: AsyncSession, tenant_id: int, kind: StationKind, node: AdminNode, name: str,
                             exclude_station_id: int | None = None) -> str:
    """The normalised name, or Refusal saying exactly what is wrong (with the canonical name)."""
    name = naming.normalise(name)
    config = await tenant_config(db, tenant_id)
    canonical = await canonical_for(db, kind, node)
    deputy_names = (await db.scalars(select(Deputy.name).distinct())).all()
    problem = naming.check_name(name, forbidden_words=config.forbidden_words or [], deputy_names=deputy_names,
                                canonical=canonical)
    if problem:
        raise Refusal(problem.message, canonical=problem.canonical, **problem.variables)
    taken = select(Station.id).where(Station.name == name, Station.status != "closed")
    if exclude_station_id is not None:
        taken = taken.where(Station.id != exclude_station_id)
    if await db.scalar(taken.limit(1)) is not None:
        raise Refusal(NAME_TAKEN, canonical="" if canonical == name else canonical, name=name)
    return name


def _int(value) -> int | None:
    text = str(value or "").strip()
    if not text.isdigit() or len(text) > 18:
        return None
    return int(text)


async def create_station(db: AsyncSession, scope: Scope, *, tenant_id: int, actor_id: int, kind_id, node_id,
                         name: str, client_addr: str | None = None) -> Station:
    kid, nid = _int(kind_id), _int(node_id)
    kind = await db.scalar(select(StationKind).where(StationKind.id == kid, StationKind.retired_at.is_(None))) \
        if kid else None
    if kind is None:
        raise Refusal(CHOOSE_KIND)
    node = await db.scalar(select(AdminNode).where(AdminNode.id == nid, AdminNode.retired_at.is_(None))) \
        if nid else None
    if node is None or not can_edit_station(scope, node.path):
        raise Refusal(CHOOSE_NODE)
    if kind.node_kinds and node.kind not in kind.node_kinds:
        allowed = "、".join(gettext(NODE_KIND_NAMES.get(k, k)) for k in kind.node_kinds)
        raise Refusal(KIND_NOT_HERE, kind=kind.name, node_kind=gettext(NODE_KIND_NAMES.get(node.kind, node.kind)),
                      allowed=allowed)
    name = await check_station_name(db, tenant_id, kind, node, name)
    station = Station(tenant_id=tenant_id, kind_id=kind.id, node_id=node.id, name=name, status="proposed")
    db.add(station)
    try:
        async with db.begin_nested():
            await db.flush()
    except IntegrityError:  # the same name taken a moment ago
        raise Refusal(NAME_TAKEN, name=name) from None
    db.add(StationEvent(tenant_id=tenant_id, station_id=station.id, action="created", to_status="proposed",
                        actor_user_id=actor_id))
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="station_created",
                 target=f"station:{station.id}", client_addr=client_addr,
                 details={"name": name, "kind": kind.code, "node_id": node.id})
    return station


NODE_KIND_NAMES = {
    "county": lazy("Place kind: county"),
    "township": lazy("Place kind: township"),
    "street": lazy("Place kind: street"),
    "village": lazy("Place kind: village"),
    "community": lazy("Place kind: community"),
    "unit": lazy("Place kind: unit"),
    "area": lazy("Place kind: functional area"),
}


async def rename_station(db: AsyncSession, ref: StationRef, *, actor_id: int, name: str,
                         client_addr: str | None = None) -> None:
    station = ref.station
    if station.status == "closed":
        raise Refusal(CLOSED_STATION)
    name = await check_station_name(db, station.tenant_id, ref.kind, ref.node, name, exclude_station_id=station.id)
    if name == station.name:
        return
    old = station.name
    station.name = name
    try:
        async with db.begin_nested():
            await db.flush()
    except IntegrityError:
        raise Refusal(NAME_TAKEN, name=name) from None
    db.add(StationEvent(tenant_id=station.tenant_id, station_id=station.id, action="renamed",
                        from_status=station.status, to_status=station.status, note=f"{old} → {name}"[:MAX_NOTE],
                        actor_user_id=actor_id))
    await record(db, tenant_id=station.tenant_id, actor_user_id=actor_id, action="station_renamed",
                 target=f"station:{station.id}", client_addr=client_addr, details={"from": old, "to": name})


# --- lifecycle ------------------------------------------------------------------------------------

def forward_path(lifecycle) -> list[str]:
    """The statuses a station passes through, in order: proposed and active always, approved and
    filed when the tenant's lifecycle has them."""
    steps = set(lifecycle or DEFAULT_LIFECYCLE)
    return [s for s in ("proposed", "approved", "filed", "active") if s in ("proposed", "active") or s in steps]


def next_status(lifecycle, status: str) -> str | None:
    if status in ("active", "closed"):
        return None
    path = forward_path(lifecycle)
    order = list(STATUSES)
    for candidate in path:
        if order.index(candidate) > order.index(status):
            return candidate
    return None


FORWARD_STEPS = {"approved": "approve", "filed": "file", "active": "activate"}


def available_steps(lifecycle, status: str) -> list[str]:
    """The steps the lifecycle allows from ``status`` (whoever may take them)."""
    out = []
    target = next_status(lifecycle, status)
    if target:
        out.append(FORWARD_STEPS[target])
    if status in ("approved", "filed"):
        out.append("send_back")
    if status != "closed":
        out.append("close")
    return out


def may_take(scope: Scope, step: str, status: str, node_path: str) -> bool:
    """Township staff (of the node's subtree) approve and send back an approval; everything else is
    the county's."""
    if scope.role == "county_admin":
        return True
    township = step == "approve" or (step == "send_back" and status == "approved")
    return township and can_edit_station(scope, node_path)


def steps_for(scope: Scope, lifecycle, ref: StationRef) -> list[str]:
    return [s for s in available_steps(lifecycle, ref.station.status)
            if may_take(scope, s, ref.station.status, ref.node.path)]


async def take_step(db: AsyncSession, scope: Scope, ref: StationRef, *, step: str, note: str, actor_id: int,
                    client_addr: str | None = None) -> str:
    """Move the station one step; returns the new status. Refusal changes nothing."""
    station = ref.station
    config = await tenant_config(db, station.tenant_id)
    note = str(note or "").strip()
    if step not in available_steps(config.lifecycle, station.status):
        raise Refusal(STEP_NOT_NOW, current=gettext(STATUS_NAMES[station.status]))
    if not may_take(scope, step, station.status, ref.node.path):
        township = step == "approve" or (step == "send_back" and station.status == "approved")
        raise Refusal(ONLY_TOWNSHIP if township else ONLY_COUNTY, status=403)
    if len(note) > MAX_NOTE:
        raise Refusal(NOTE_TOO_LONG)
    if step in ("close", "send_back") and not note:
        raise Refusal(REASON_REQUIRED)
    target = next_status(config.lifecycle, station.status) if step in FORWARD_STEPS.values() else STEP_TARGETS[step]
    previous = station.status
    station.status = target
    if target == "closed":
        station.closed_at = datetime.now(timezone.utc)
    action = EVENT_ACTIONS[target]
    db.add(StationEvent(tenant_id=station.tenant_id, station_id=station.id, action=action, from_status=previous,
                        to_status=target, note=note, actor_user_id=actor_id))
    await db.flush()
    await record(db, tenant_id=station.tenant_id, actor_user_id=actor_id, action=f"station_{action}",
                 target=f"station:{station.id}", client_addr=client_addr,
                 details={"from": previous, "to": target, "note": note})
    return target


# --- the station page -----------------------------------------------------------------------------

@dataclass
class HistoryRow:
    event: StationEvent
    actor: str


@dataclass
class StaffRow:
    staff: StationStaff
    person: str


@dataclass
class ScoreRow:
    item: ChecklistItem
    score: StationScore | None


@dataclass
class StationDetail:
    ref: StationRef
    place: str
    staff: list[StaffRow]
    deputies: list[Deputy]
    goals: list[StationGoal]
    commitments: list[tuple[Commitment, str]]
    checklist: list[ScoreRow]
    stars: int
    history: list[HistoryRow]
    reception: str = ""
    reception_days: list[str] = field(default_factory=list)
    reception_input: str = ""  # the rule as staff type it (Chinese), for the edit form


def reception_preview(rule: str, today: date, locale: str) -> tuple[str, list[str]]:
    """The reception days for people, and the next three dates."""
    if not rule:
        return "", []
    try:
        return (schedule.describe_rule(rule, locale),
                [schedule.format_day(d, locale) for d in schedule.next_reception_days(rule, today, 3)])
    except schedule.ScheduleError:  # free text stored before it was checked: show it as written
        return rule, []


async def station_detail(db: AsyncSession, ref: StationRef, today: date, locale: str) -> StationDetail:
    sid = ref.station.id
    nodes = await names_for_paths(db, [ref.node.path])
    staff_rows = (await db.execute(
        select(StationStaff, User.display_name, Deputy.name)
        .outerjoin(User, User.id == StationStaff.user_id)
        .outerjoin(Deputy, and_(Deputy.tenant_id == StationStaff.tenant_id, Deputy.id == StationStaff.deputy_id))
        .where(StationStaff.station_id == sid)
        .order_by(StationStaff.id)
    )).all()
    order = {r: i for i, r in enumerate(STAFF_ROLES)}
    staff = sorted((StaffRow(s, u or d or "") for s, u, d in staff_rows), key=lambda r: (order.get(r.staff.role, 9), r.staff.id))
    deputies = list((await db.scalars(
        select(Deputy).join(StationDeputy, and_(StationDeputy.tenant_id == Deputy.tenant_id,
                                                StationDeputy.deputy_id == Deputy.id))
        .where(StationDeputy.station_id == sid, StationDeputy.ended_at.is_(None)).order_by(Deputy.name, Deputy.id)
    )).all())
    goals = list((await db.scalars(
        select(StationGoal).where(StationGoal.station_id == sid).order_by(StationGoal.year.desc(), StationGoal.id)
    )).all())
    commitments = [(c, n) for c, n in (await db.execute(
        select(Commitment, Deputy.name)
        .join(Deputy, and_(Deputy.tenant_id == Commitment.tenant_id, Deputy.id == Commitment.deputy_id))
        .where(Commitment.station_id == sid).order_by(Commitment.year.desc(), Deputy.name, Commitment.id)
    )).all()]
    checklist = [ScoreRow(i, s) for i, s in (await db.execute(
        select(ChecklistItem, StationScore)
        .outerjoin(StationScore, and_(StationScore.tenant_id == ChecklistItem.tenant_id,
                                      StationScore.item_id == ChecklistItem.id, StationScore.station_id == sid))
        .where(ChecklistItem.retired_at.is_(None)).order_by(ChecklistItem.sort, ChecklistItem.id)
    )).all()]
    met = sum(1 for r in checklist if r.score and r.score.met)
    history = [HistoryRow(e, n or "") for e, n in (await db.execute(
        select(StationEvent, User.display_name).outerjoin(User, User.id == StationEvent.actor_user_id)
        .where(StationEvent.station_id == sid).order_by(StationEvent.at, StationEvent.id)
    )).all()]
    reception, days = reception_preview(ref.station.reception_rule, today, locale)
    return StationDetail(
        ref=ref, place=place_label(ref.node.path, nodes), staff=staff, deputies=deputies, goals=goals,
        commitments=commitments, checklist=checklist, stars=stars(met, len(checklist)), history=history,
        reception=reception, reception_days=days,
        reception_input=reception_preview(ref.station.reception_rule, today, "zh_Hans")[0],
    )


# --- profile and photo ----------------------------------------------------------------------------

def _open(ref: StationRef) -> None:
    if ref.station.status == "closed":
        raise Refusal(CLOSED_STATION)


async def update_profile(db: AsyncSession, ref: StationRef, values: dict, *, actor_id: int,
                         client_addr: str | None = None) -> None:
    _open(ref)
    station = ref.station
    clean = {}
    for key, (label, limit) in PROFILE_FIELDS.items():
        value = str(values.get(key, "") or "").strip()
        if len(value) > limit:
            raise Refusal(FIELD_TOO_LONG, field=gettext(label), max=limit)
        clean[key] = value
    phone = clean["contact_phone"]
    if phone and not all(c.isdigit() or c in " -" for c in phone):
        raise Refusal(BAD_PHONE)
    try:
        clean["reception_rule"] = schedule.parse_rule(clean["reception_rule"])
    except schedule.ScheduleError as exc:
        raise Refusal(exc.message, **exc.variables) from None
    changed = sorted(k for k, v in clean.items() if getattr(station, k) != v)
    if not changed:
        return
    for key in changed:
        setattr(station, key, clean[key])
    await db.flush()
    await record(db, tenant_id=station.tenant_id, actor_user_id=actor_id, action="station_profile_changed",
                 target=f"station:{station.id}", client_addr=client_addr, details={"fields": changed})


async def set_photo(db: AsyncSession, ref: StationRef, raw: bytes, *, actor_id: int,
                    client_addr: str | None = None) -> None:
    _open(ref)
    station = ref.station
    try:
        image = await store_image(db, station.tenant_id, raw)
    except ImageError as exc:
        raise Refusal(exc.message) from None
    old = station.photo_id
    station.photo_id = image.id
    await db.flush()
    if old is not None:
        still_used = await db.scalar(select(func.count()).select_from(Deputy).where(Deputy.photo_id == old))
        if not still_used:
            await db.execute(delete(StoredImage).where(StoredImage.id == old))
    await record(db, tenant_id=station.tenant_id, actor_user_id=actor_id, action="station_photo_changed",
                 target=f"station:{station.id}", client_addr=client_addr,
                 details={"image_id": image.id, "bytes": len(image.data)})


# --- staff ----------------------------------------------------------------------------------------

async def staff_choices(db: AsyncSession, tenant_id: int, ref: StationRef) -> tuple[list[User], list[Deputy]]:
    """Tenant members (users) and the deputies stationed here, for the staff form."""
    users = list((await db.scalars(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == tenant_id, Membership.revoked_at.is_(None))
        .order_by(User.display_name, User.id).distinct()
    )).all())
    deputies = list((await db.scalars(
        select(Deputy).join(StationDeputy, and_(StationDeputy.tenant_id == Deputy.tenant_id,
                                                StationDeputy.deputy_id == Deputy.id))
        .where(StationDeputy.station_id == ref.station.id, StationDeputy.ended_at.is_(None))
        .order_by(Deputy.name, Deputy.id)
    )).all())
    return users, deputies


async def add_staff(db: AsyncSession, ref: StationRef, *, role: str, person: str, actor_id: int,
                    client_addr: str | None = None) -> StationStaff:
    _open(ref)
    station = ref.station
    if role not in STAFF_ROLES:
        raise Refusal(CHOOSE_ROLE)
    kind, _, raw_id = str(person or "").partition(":")
    pid = _int(raw_id)
    user_id = deputy_id = None
    if kind == "u" and pid:
        user_id = await db.scalar(
            select(Membership.user_id).where(Membership.tenant_id == station.tenant_id, Membership.user_id == pid,
                                             Membership.revoked_at.is_(None)).limit(1)
        )
        if user_id is None:
            raise Refusal(CHOOSE_PERSON)
    elif kind == "d" and pid:
        deputy_id = await db.scalar(select(Deputy.id).where(Deputy.id == pid))
        if deputy_id is None:
            raise Refusal(CHOOSE_PERSON)
    else:
        raise Refusal(CHOOSE_PERSON)
    existing = (await db.scalars(select(StationStaff).where(StationStaff.station_id == station.id))).all()
    if any(s.role == role and s.user_id == user_id and s.deputy_id == deputy_id for s in existing):
        raise Refusal(ALREADY_STAFF)
    if role == "head" and any(s.role == "head" for s in existing):
        raise Refusal(ONE_HEAD)
    if role == "deputy_head" and sum(1 for s in existing if s.role == "deputy_head") >= 2:
        raise Refusal(TWO_DEPUTY_HEADS)
    staff = StationStaff(tenant_id=station.tenant_id, station_id=station.id, role=role, user_id=user_id,
                         deputy_id=deputy_id)
    db.add(staff)
    await db.flush()
    await record(db, tenant_id=station.tenant_id, actor_user_id=actor_id, action="station_staff_added",
                 target=f"station:{station.id}", client_addr=client_addr,
                 details={"role": role, "user_id": user_id, "deputy_id": deputy_id})
    return staff


async def remove_staff(db: AsyncSession, ref: StationRef, staff: StationStaff, *, actor_id: int,
                       client_addr: str | None = None) -> None:
    await db.delete(staff)
    await db.flush()
    await record(db, tenant_id=ref.station.tenant_id, actor_user_id=actor_id, action="station_staff_removed",
                 target=f"station:{ref.station.id}", client_addr=client_addr,
                 details={"role": staff.role, "user_id": staff.user_id, "deputy_id": staff.deputy_id})


# --- goals and commitments ------------------------------------------------------------------------

def _year(value) -> int:
    year = _int(value)
    if year is None or not 2000 <= year <= 2100:
        raise Refusal(BAD_YEAR)
    return year


def _text(value, message: str, limit: int = 500) -> str:
    text = str(value or "").strip()
    if not text or len(text) > limit:
        raise Refusal(message)
    return text


async def add_goal(db: AsyncSession, ref: StationRef, *, year, goal: str, actor_id: int,
                   client_addr: str | None = None) -> StationGoal:
    _open(ref)
    row = StationGoal(tenant_id=ref.station.tenant_id, station_id=ref.station.id, year=_year(year),
                      goal=_text(goal, GOAL_REQUIRED), progress="", done=False)
    db.add(row)
    await db.flush()
    await record(db, tenant_id=ref.station.tenant_id, actor_user_id=actor_id, action="station_goal_added",
                 target=f"station:{ref.station.id}", client_addr=client_addr, details={"goal_id": row.id})
    return row


async def update_goal(db: AsyncSession, ref: StationRef, goal: StationGoal, *, progress: str, done: bool,
                      actor_id: int, client_addr: str | None = None) -> None:
    _open(ref)
    progress = str(progress or "").strip()
    if len(progress) > 500:
        raise Refusal(FIELD_TOO_LONG, field=gettext(GOAL_PROGRESS), max=500)
    if goal.progress == progress and goal.done == done:
        return
    goal.progress, goal.done = progress, done
    await db.flush()
    await record(db, tenant_id=ref.station.tenant_id, actor_user_id=actor_id, action="station_goal_changed",
                 target=f"station:{ref.station.id}", client_addr=client_addr,
                 details={"goal_id": goal.id, "done": done})


async def add_commitment(db: AsyncSession, ref: StationRef, *, deputy_id, year, commitment: str, actor_id: int,
                         client_addr: str | None = None) -> Commitment:
    _open(ref)
    did = _int(deputy_id)
    stationed = await db.scalar(
        select(StationDeputy.deputy_id).where(StationDeputy.station_id == ref.station.id,
                                              StationDeputy.deputy_id == did, StationDeputy.ended_at.is_(None))
        .limit(1)
    ) if did else None
    if stationed is None:
        raise Refusal(DEPUTY_NOT_STATIONED)
    row = Commitment(tenant_id=ref.station.tenant_id, station_id=ref.station.id, deputy_id=did, year=_year(year),
                     commitment=_text(commitment, COMMITMENT_REQUIRED))
    db.add(row)
    await db.flush()
    await record(db, tenant_id=ref.station.tenant_id, actor_user_id=actor_id, action="station_commitment_added",
                 target=f"station:{ref.station.id}", client_addr=client_addr,
                 details={"commitment_id": row.id, "deputy_id": did})
    return row


async def remove_commitment(db: AsyncSession, ref: StationRef, row: Commitment, *, actor_id: int,
                            client_addr: str | None = None) -> None:
    await db.delete(row)
    await db.flush()
    await record(db, tenant_id=ref.station.tenant_id, actor_user_id=actor_id, action="station_commitment_removed",
                 target=f"station:{ref.station.id}", client_addr=client_addr,
                 details={"deputy_id": row.deputy_id, "year": row.year})


# --- checklist ------------------------------------------------------------------------------------

async def score_checklist(db: AsyncSession, ref: StationRef, values: dict, *, actor_id: int,
                          client_addr: str | None = None) -> int:
    """Score every active item from form values met_<item id> ('1' or '0') and evidence_<item id>;
    returns the new star rating."""
    _open(ref)
    station = ref.station
    items = (await db.scalars(select(ChecklistItem).where(ChecklistItem.retired_at.is_(None)))).all()
    current = {s.item_id: s for s in (await db.scalars(
        select(StationScore).where(StationScore.station_id == station.id))).all()}
    plan = []
    for item in items:
        met = str(values.get(f"met_{item.id}", "")).strip()
        evidence = str(values.get(f"evidence_{item.id}", "") or "").strip()
        if met not in ("1", "0"):
            raise Refusal(CHOOSE_MET)
        if len(evidence) > 500:
            raise Refusal(FIELD_TOO_LONG, field=item.label, max=500)
        plan.append((item, met == "1", evidence))
    changes = {}
    now = datetime.now(timezone.utc)
    for item, met, evidence in plan:
        score = current.get(item.id)
        if score is None:
            db.add(StationScore(tenant_id=station.tenant_id, station_id=station.id, item_id=item.id, met=met,
                                evidence=evidence, scored_by=actor_id, scored_at=now))
        elif score.met == met and score.evidence == evidence:
            continue
        else:
            score.met, score.evidence, score.scored_by, score.scored_at = met, evidence, actor_id, now
        changes[item.code] = met
    met_count = sum(1 for _, met, _ in plan if met)
    result = stars(met_count, len(plan))
    if changes:
        await db.flush()
        await record(db, tenant_id=station.tenant_id, actor_user_id=actor_id, action="station_scored",
                     target=f"station:{station.id}", client_addr=client_addr,
                     details={"items": changes, "stars": result})
    return result

