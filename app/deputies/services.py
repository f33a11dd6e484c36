"""Deputies: the verbs that change them (profile, mandates, status, photo, linked account,
assignments to stations) and the reads behind the pages. Groups are in ``groups``, the 应进必进
checks in ``checks``.

No web imports; nothing here commits. Refusals are ``Refusal`` (an msgid the page translates),
raised before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Membership, User
from app.audit.models import AuditEntry
from app.audit.services import record
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.core.images import store_image
from app.deputies.access import MAX_ID, stations_in_scope
from app.deputies.models import LEVELS, Deputy, DeputyGroup, Mandate, StationDeputy
from app.deputies.rules import check_direct, check_level, check_mobile, check_name, check_status, check_term, check_text
from app.stations.models import Station
from app.tenancy.models import AdminNode
from app.tenancy.scope import Scope

ASSIGNABLE_STATUSES = ("active", "filed")

NOT_ALLOWED = lazy("Your role may not change deputies here.")
CHOOSE_NODE = lazy("Please choose the constituency from the list.")
CHOOSE_STATION = lazy("Please choose an active or filed station from the list.")
CHOOSE_GROUP = lazy("Please choose the deputy group from the list.")
CHOOSE_MEMBER = lazy("Please choose a member whose role is deputy.")
USER_TAKEN = lazy("This account is already linked to deputy %(name)s.")
OUT_OF_SIGHT = lazy("Choose a constituency or a station within your township or street: otherwise you could not see the deputy afterwards.")
MANDATE_EXISTS = lazy("The deputy already has a mandate at this level for this term.")
ALREADY_THERE = lazy("The deputy is already stationed at this station.")
NOT_SERVING = lazy("Only a serving deputy can be stationed.")
ALREADY_ENDED = lazy("This assignment has already ended.")
STATION_OUT_OF_SCOPE = lazy("This station is outside your township or street.")
NOTE_REQUIRED = lazy("Please give a note saying why (for example the date and the decision).")
STATUS_UNCHANGED = lazy("The deputy already has this status.")
PHOTO_REQUIRED = lazy("Please choose a photo to upload.")


@dataclass(frozen=True)
class Actor:
    """Who is acting, in which tenant, with what reach (for audit and scope checks)."""

    tenant_id: int
    user_id: int
    scope: Scope
    client_addr: str | None = None


def _require_edit(actor: Actor) -> None:
    if not actor.scope.can_edit:
        raise Refusal(NOT_ALLOWED)


async def _audit(db: AsyncSession, actor: Actor, action: str, target: str, details: dict | None = None) -> None:
    await record(db, tenant_id=actor.tenant_id, actor_user_id=actor.user_id, action=action, target=target,
                 client_addr=actor.client_addr, details=details)


def _target(deputy: Deputy) -> str:
    return f"deputy:{deputy.id} {deputy.name}"


def parse_id(value: object) -> int | None:
    """A <select>'s value: empty for none, else a positive id; anything else raises ValueError."""
    text = str(value or "").strip()
    if not text:
        return None
    if not text.isdigit() or not 0 < int(text) <= MAX_ID:
        raise ValueError(text)
    return int(text)


def _id_or(value: object, message: str) -> int | None:
    try:
        return parse_id(value)
    except ValueError:
        raise Refusal(message) from None


def now() -> datetime:
    return datetime.now(timezone.utc)


# --- choices for forms ------------------------------------------------------------------------

async def node_choices(db: AsyncSession, scope: Scope) -> list[AdminNode]:
    """Nodes a constituency may be (the member's subtree), in tree order."""
    return list((await db.scalars(
        select(AdminNode).where(AdminNode.retired_at.is_(None), scope.nodes(AdminNode.path))
        .order_by(AdminNode.path)
    )).all())


async def station_choices(db: AsyncSession, scope: Scope) -> list[tuple[Station, str]]:
    """Active and filed stations a member may station deputies at: (station, node name)."""
    if not scope.can_edit:
        return []
    rows = await db.execute(
        select(Station, AdminNode.name).join(AdminNode, and_(AdminNode.tenant_id == Station.tenant_id,
                                                             AdminNode.id == Station.node_id))
        .where(Station.status.in_(ASSIGNABLE_STATUSES), stations_in_scope(scope, AdminNode.path))
        .order_by(AdminNode.path, Station.name)
    )
    return [(s, n) for s, n in rows.all()]


async def group_choices(db: AsyncSession) -> list[DeputyGroup]:
    return list((await db.scalars(select(DeputyGroup).order_by(DeputyGroup.name))).all())


async def member_choices(db: AsyncSession, tenant_id: int) -> list[User]:
    """The tenant's members whose role is deputy (accounts a deputy record may be linked to)."""
    return list((await db.scalars(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == tenant_id, Membership.role == "deputy", Membership.revoked_at.is_(None))
        .order_by(User.display_name)
    )).all())


async def _node_in_scope(db: AsyncSession, scope: Scope, node_id: int) -> AdminNode:
    node = await db.scalar(select(AdminNode).where(
        AdminNode.id == node_id, AdminNode.retired_at.is_(None), scope.nodes(AdminNode.path),
    ))
    if node is None:
        raise Refusal(CHOOSE_NODE)
    return node


async def _station_for_assignment(db: AsyncSession, scope: Scope, station_id: int | None) -> tuple[Station, str]:
    row = None
    if station_id is not None:
        row = (await db.execute(
            select(Station, AdminNode.path).join(AdminNode, and_(AdminNode.tenant_id == Station.tenant_id,
                                                                 AdminNode.id == Station.node_id))
            .where(Station.id == station_id, Station.status.in_(ASSIGNABLE_STATUSES),
                   stations_in_scope(scope, AdminNode.path))
        )).first()
    if row is None:
        raise Refusal(CHOOSE_STATION)
    return row[0], row[1]


async def _group(db: AsyncSession, group_id: int | None) -> DeputyGroup | None:
    if group_id is None:
        return None
    group = await db.scalar(select(DeputyGroup).where(DeputyGroup.id == group_id))
    if group is None:
        raise Refusal(CHOOSE_GROUP)
    return group


# --- one deputy -------------------------------------------------------------------------------

@dataclass
class AssignmentRow:
    assignment: StationDeputy
    station: Station
    node_path: str
    editable: bool


@dataclass
class DeputyDetail:
    deputy: Deputy
    group: DeputyGroup | None
    mandates: list[tuple[Mandate, AdminNode | None]]
    assignments: list[AssignmentRow]
    linked_user: User | None
    status_note: AuditEntry | None

    @property
    def active_assignments(self) -> list[AssignmentRow]:
        return [a for a in self.assignments if a.assignment.ended_at is None]


async def deputy_detail(db: AsyncSession, scope: Scope, deputy: Deputy) -> DeputyDetail:
    return (await deputy_details(db, scope, [deputy]))[deputy.id]


async def deputy_details(db: AsyncSession, scope: Scope, deputies: list[Deputy]) -> dict[int, DeputyDetail]:
    """Each deputy's detail (the caller may see them): at most five queries for any number of deputies
    (the station binder's archive reads every dossier at once)."""
    ids = [d.id for d in deputies]
    group_ids = {d.group_id for d in deputies if d.group_id}
    groups = {g.id: g for g in (await db.scalars(select(DeputyGroup).where(DeputyGroup.id.in_(group_ids))))} \
        if group_ids else {}
    mandates: dict[int, list] = {i: [] for i in ids}
    for m, node in (await db.execute(
        select(Mandate, AdminNode).outerjoin(AdminNode, and_(AdminNode.tenant_id == Mandate.tenant_id,
                                                             AdminNode.id == Mandate.constituency_node_id))
        .where(Mandate.deputy_id.in_(ids)).order_by(Mandate.term.desc(), Mandate.id)
    )).all():
        mandates[m.deputy_id].append((m, node))
    assignments: dict[int, list[AssignmentRow]] = {i: [] for i in ids}
    for a, s, p in (await db.execute(
        select(StationDeputy, Station, AdminNode.path)
        .join(Station, and_(Station.tenant_id == StationDeputy.tenant_id, Station.id == StationDeputy.station_id))
        .join(AdminNode, and_(AdminNode.tenant_id == Station.tenant_id, AdminNode.id == Station.node_id))
        .where(StationDeputy.deputy_id.in_(ids))
        .order_by(StationDeputy.ended_at.desc().nulls_first(), StationDeputy.assigned_at.desc())
    )).all():
        assignments[a.deputy_id].append(AssignmentRow(a, s, p, scope.can_edit and scope.covers_path(p)))
    user_ids = {d.user_id for d in deputies if d.user_id}
    users = {u.id: u for u in (await db.scalars(select(User).where(User.id.in_(user_ids))))} if user_ids else {}
    notes = await _status_notes(db, [d.id for d in deputies if d.status != "active"])
    def by_term(row) -> tuple:
        return -row[0].term, LEVELS.index(row[0].level)
    return {d.id: DeputyDetail(d, groups.get(d.group_id), sorted(mandates[d.id], key=by_term), assignments[d.id],
                               users.get(d.user_id), notes.get(d.id)) for d in deputies}


async def _status_notes(db: AsyncSession, deputy_ids: list[int]) -> dict[int, AuditEntry]:
    """The latest status change of each of these deputies (those no longer serving): one query."""
    if not deputy_ids:
        return {}
    out: dict[int, AuditEntry] = {}
    for entry in await db.scalars(
        select(AuditEntry).where(AuditEntry.action == "deputy_status_changed",
                                 or_(*[AuditEntry.target.startswith(f"deputy:{i} ", autoescape=True) for i in deputy_ids]))
        .order_by(AuditEntry.id.desc())
    ):
        deputy_id = int(entry.target.split(" ", 1)[0].removeprefix("deputy:"))
        out.setdefault(deputy_id, entry)
    return out


async def create_deputy(db: AsyncSession, actor: Actor, form: dict) -> Deputy:
    """A new deputy with a first mandate and, optionally, a station. Township staff must place the
    deputy in their subtree (constituency node or station), or they could not see the record."""
    _require_edit(actor)
    name = check_name(form.get("name"))
    mobile = check_mobile(form.get("mobile"))
    texts = {f: check_text(form.get(f), f) for f in ("occupation", "work_unit", "public_contact")}
    group = await _group(db, _id_or(form.get("group_id"), CHOOSE_GROUP))
    level = check_level(form.get("level"))
    term = check_term(form.get("term"))
    direct = check_direct(form.get("direct"))
    constituency = check_text(form.get("constituency"), "constituency")
    node_id = _id_or(form.get("constituency_node_id"), CHOOSE_NODE)
    node = await _node_in_scope(db, actor.scope, node_id) if node_id is not None else None
    station_id = _id_or(form.get("station_id"), CHOOSE_STATION)
    station = (await _station_for_assignment(db, actor.scope, station_id))[0] if station_id is not None else None
    if not actor.scope.whole_tenant and node is None and station is None:
        raise Refusal(OUT_OF_SIGHT)
    deputy = Deputy(tenant_id=actor.tenant_id, name=name, mobile=mobile, group_id=group.id if group else None,
                    status="active", **texts)
    db.add(deputy)
    await db.flush()
    db.add(Mandate(tenant_id=actor.tenant_id, deputy_id=deputy.id, level=level, term=term, direct=direct,
                   constituency_node_id=node.id if node else None, constituency=constituency))
    if station is not None:
        db.add(StationDeputy(tenant_id=actor.tenant_id, station_id=station.id, deputy_id=deputy.id))
    await db.flush()
    await _audit(db, actor, "deputy_created", _target(deputy),
                 {"level": level, "term": term, "station_id": station.id if station else None})
    return deputy


async def update_profile(db: AsyncSession, actor: Actor, deputy: Deputy, form: dict) -> list[str]:
    """Name, occupation, work unit, public contact, group and (when given) a new mobile number.
    Returns the names of the fields that changed (none: nothing written)."""
    _require_edit(actor)
    values = {"name": check_name(form.get("name"))}
    for f in ("occupation", "work_unit", "public_contact"):
        values[f] = check_text(form.get(f), f)
    group = await _group(db, _id_or(form.get("group_id"), CHOOSE_GROUP))
    values["group_id"] = group.id if group else None
    if form.get("remove_mobile"):
        values["mobile"] = None
    else:
        new_mobile = check_mobile(form.get("mobile"))
        if new_mobile is not None:
            values["mobile"] = new_mobile
    changed = [k for k, v in values.items() if getattr(deputy, k) != v]
    if not changed:
        return []
    for k in changed:
        setattr(deputy, k, values[k])
    await db.flush()
    await _audit(db, actor, "deputy_updated", _target(deputy), {"fields": changed})
    return changed


async def reveal_mobile(db: AsyncSession, actor: Actor, deputy: Deputy) -> str | None:
    """The full number, with an audit entry (anyone who may see the deputy may ask)."""
    if deputy.mobile:
        await _audit(db, actor, "deputy_mobile_revealed", _target(deputy))
    return deputy.mobile


async def set_status(db: AsyncSession, actor: Actor, deputy: Deputy, status: object, note: object) -> None:
    """Serving, resigned, deceased or removed, with a note; leaving office ends every assignment."""
    _require_edit(actor)
    code = check_status(status)
    text = check_text(note, "note")
    if code == deputy.status:
        raise Refusal(STATUS_UNCHANGED)
    if code != "active" and not text:
        raise Refusal(NOTE_REQUIRED)
    ended = []
    if code != "active":
        ended = list((await db.scalars(
            update(StationDeputy).where(StationDeputy.deputy_id == deputy.id, StationDeputy.ended_at.is_(None))
            .values(ended_at=func.now()).returning(StationDeputy.id)
        )).all())
    before = deputy.status
    deputy.status = code
    await db.flush()
    await _audit(db, actor, "deputy_status_changed", _target(deputy),
                 {"from": before, "to": code, "note": text, "ended_assignments": ended})


async def set_photo(db: AsyncSession, actor: Actor, deputy: Deputy, raw: bytes | None) -> None:
    _require_edit(actor)
    if not raw:
        raise Refusal(PHOTO_REQUIRED)
    image = await store_image(db, actor.tenant_id, raw)
    deputy.photo_id = image.id
    await db.flush()
    await _audit(db, actor, "deputy_photo_changed", _target(deputy))


async def link_user(db: AsyncSession, actor: Actor, deputy: Deputy, user_id: object) -> None:
    """Link the deputy to a member's account (role deputy), or unlink with an empty value.
    County administrators only: the account then sees the deputy's own records."""
    if actor.scope.role != "county_admin":
        raise Refusal(NOT_ALLOWED)
    uid = _id_or(user_id, CHOOSE_MEMBER)
    if uid is not None:
        member = await db.scalar(select(Membership.id).where(
            Membership.tenant_id == actor.tenant_id, Membership.user_id == uid, Membership.role == "deputy",
            Membership.revoked_at.is_(None),
        ))
        if member is None:
            raise Refusal(CHOOSE_MEMBER)
        other = await db.scalar(select(Deputy).where(Deputy.user_id == uid, Deputy.id != deputy.id))
        if other is not None:
            raise Refusal(USER_TAKEN, name=other.name)
    if uid == deputy.user_id:
        return
    deputy.user_id = uid
    await db.flush()
    await _audit(db, actor, "deputy_user_linked", _target(deputy), {"user_id": uid})


async def add_mandate(db: AsyncSession, actor: Actor, deputy: Deputy, form: dict) -> Mandate:
    _require_edit(actor)
    level = check_level(form.get("level"))
    term = check_term(form.get("term"))
    direct = check_direct(form.get("direct"))
    constituency = check_text(form.get("constituency"), "constituency")
    node_id = _id_or(form.get("constituency_node_id"), CHOOSE_NODE)
    node = await _node_in_scope(db, actor.scope, node_id) if node_id is not None else None
    same = await db.scalar(select(Mandate.id).where(Mandate.deputy_id == deputy.id, Mandate.level == level,
                                                    Mandate.term == term))
    if same is not None:
        raise Refusal(MANDATE_EXISTS)
    mandate = Mandate(tenant_id=actor.tenant_id, deputy_id=deputy.id, level=level, term=term, direct=direct,
                      constituency_node_id=node.id if node else None, constituency=constituency)
    db.add(mandate)
    await db.flush()
    await _audit(db, actor, "deputy_mandate_added", _target(deputy),
                 {"mandate_id": mandate.id, "level": level, "term": term, "direct": direct,
                  "constituency_node_id": mandate.constituency_node_id})
    return mandate


async def remove_mandate(db: AsyncSession, actor: Actor, deputy: Deputy, mandate: Mandate) -> None:
    """Township staff remove only a mandate without a constituency node or elected in their subtree."""
    _require_edit(actor)
    if mandate.constituency_node_id is not None and not actor.scope.whole_tenant:
        path = await db.scalar(select(AdminNode.path).where(AdminNode.id == mandate.constituency_node_id))
        if path is None or not actor.scope.covers_path(path):
            raise Refusal(NOT_ALLOWED)
    details = {"mandate_id": mandate.id, "level": mandate.level, "term": mandate.term, "direct": mandate.direct,
               "constituency_node_id": mandate.constituency_node_id, "constituency": mandate.constituency}
    await db.delete(mandate)
    await db.flush()
    await _audit(db, actor, "deputy_mandate_removed", _target(deputy), details)


async def assign(db: AsyncSession, actor: Actor, deputy: Deputy, station_id: object) -> tuple[StationDeputy, int]:
    """Station the deputy (进站). Returns the assignment and how many other stations the deputy is
    already at (more than one is allowed — a city and a county station — but worth a warning)."""
    _require_edit(actor)
    station, _ = await _station_for_assignment(db, actor.scope, _id_or(station_id, CHOOSE_STATION))
    if deputy.status != "active":
        raise Refusal(NOT_SERVING)
    current = list((await db.scalars(select(StationDeputy.station_id).where(
        StationDeputy.deputy_id == deputy.id, StationDeputy.ended_at.is_(None),
    ))).all())
    if station.id in current:
        raise Refusal(ALREADY_THERE)
    row = StationDeputy(tenant_id=actor.tenant_id, station_id=station.id, deputy_id=deputy.id)
    db.add(row)
    await db.flush()
    await _audit(db, actor, "deputy_assigned", _target(deputy),
                 {"assignment_id": row.id, "station_id": station.id, "station": station.name})
    return row, len(current)


async def end_assignment(db: AsyncSession, actor: Actor, deputy: Deputy, assignment: StationDeputy) -> None:
    _require_edit(actor)
    if assignment.ended_at is not None:
        raise Refusal(ALREADY_ENDED)
    path = await db.scalar(select(AdminNode.path).join(Station, and_(
        Station.tenant_id == AdminNode.tenant_id, Station.node_id == AdminNode.id)).where(
        Station.id == assignment.station_id))
    if path is None or not actor.scope.covers_path(path):
        raise Refusal(STATION_OUT_OF_SCOPE)
    assignment.ended_at = now()
    await db.flush()
    await _audit(db, actor, "deputy_assignment_ended", _target(deputy),
                 {"assignment_id": assignment.id, "station_id": assignment.station_id})
