"""The township presidium (乡镇人大主席团): its members per township and the deputies each member
contacts (主席团成员联系代表), for 人大主席团花名册 and 人大代表主席团成员联系人大代表花名册.

Who: county admins and viewers see every township, township staff the townships in their subtree,
station staff the township their station lies in; county admins change any township's presidium,
township staff their own. Deputies and handling units: the same 404 as a missing page. A township is a
node of a township kind (``TOWNSHIP_KINDS``); one filter (``township_filter``) says which are in reach,
for the page, every fetch by id and every id in a form.

A member may be a deputy (a serving deputy of that township in the member's reach: stationed in it or
elected there, ``deputies_in_scope`` of the township). The deputies a member contacts are serving
deputies stationed at a station of the member's township, in reach; one bad id refuses the whole form.
Removing a member deletes them with their contacts: the roster is the presidium as it stands (as the
three-level roster lists the deputies serving now), and the audit entry keeps who it was and the post.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, delete, exists, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.audit.services import record
from app.binder.access import require_binder
from app.binder.models import MAX_MEMBER_NAME, MAX_POST, MAX_SORT, PresidiumContact, PresidiumMember
from app.core.db import as_id
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.core.security import mask_mobile
from app.deputies.access import deputies_in_scope
from app.deputies.models import Deputy, StationDeputy
from app.deputies.rules import check_mobile
from app.deputies.services import Actor
from app.stations.models import Station
from app.tenancy.config import TOWNSHIP_KINDS
from app.tenancy.models import AdminNode
from app.tenancy.scope import Scope

EDIT_ROLES = ("county_admin", "township_staff")
MAX_CONTACTS = 300  # a township's stationed deputies fit
# The usual posts, offered in the form's list (any other post may be typed).
POSTS = (lazy("Chair"), lazy("Vice-chair"), lazy("Full-time vice-chair"), lazy("Member"))

BAD_TOWNSHIP = lazy("Please choose a township in your reach.")
BAD_NAME = lazy("Please enter the member's name, in at most %(max)s characters.")
BAD_POST = lazy("Please enter the member's post (such as chair or member), in at most %(max)s characters.")
BAD_DEPUTY = lazy("The deputy chosen is not a serving deputy of this township in your reach. Please choose again.")
BAD_SORT = lazy("Please give the place in the list as a whole number from 0 to %(max)s.")
BAD_CONTACTS = lazy("A deputy chosen is not a serving deputy stationed in this township in your reach. "
                    "Nothing was changed; please choose again.")


def require_edit(scope: Scope) -> None:
    """Changing a presidium is the county's and the townships' work: anyone else sees no form."""
    require_binder(scope)
    if scope.role not in EDIT_ROLES:
        raise NotFound()


def township_filter(scope: Scope) -> ColumnElement[bool]:
    """A filter on AdminNode: the townships in the member's reach (station staff: their station's)."""
    if scope.role == "station_staff":
        if scope.station_id is None:
            return false()
        station_node = aliased(AdminNode)
        return exists(
            select(1).select_from(Station)
            .join(station_node, and_(station_node.tenant_id == Station.tenant_id, station_node.id == Station.node_id))
            .where(Station.id == scope.station_id, station_node.path.startswith(AdminNode.path))
            .correlate(AdminNode))
    return scope.nodes(AdminNode.path)


def _townships():
    return (select(AdminNode.id, AdminNode.name, AdminNode.path)
            .where(AdminNode.kind.in_(TOWNSHIP_KINDS), AdminNode.retired_at.is_(None)))


async def townships(db: AsyncSession, scope: Scope) -> list[tuple[int, str, str]]:
    """(id, name, path) of the townships in reach, in place order: one query."""
    require_binder(scope)
    return [tuple(row) for row in await db.execute(_townships().where(township_filter(scope))
                                                   .order_by(AdminNode.path))]


async def township_in_reach(db: AsyncSession, scope: Scope, value, *, asked: bool = False) -> tuple[int, str, str]:
    """(id, name, path) of a township the member may change. Sent in a form, anything else is refused
    with its message; ``asked`` in a page's address, it is the same 404 as a missing page."""
    require_edit(scope)
    wanted = as_id(value)
    row = None
    if wanted is not None:
        row = (await db.execute(_townships().where(AdminNode.id == wanted, township_filter(scope)))).first()
    if row is None:
        if asked:
            raise NotFound()
        raise Refusal(BAD_TOWNSHIP, input_name="township")
    return tuple(row)


@dataclass
class MemberRef:
    member: PresidiumMember
    township: str
    path: str


async def member_in_reach(db: AsyncSession, scope: Scope, value, *, for_update: bool = False) -> MemberRef:
    """A member the member may change, with their township; missing, another tenant's or another
    township's: the same 404."""
    require_edit(scope)
    wanted = as_id(value)
    row = None
    if wanted is not None:
        query = (select(PresidiumMember, AdminNode.name, AdminNode.path)
                 .join(AdminNode, and_(AdminNode.tenant_id == PresidiumMember.tenant_id,
                                       AdminNode.id == PresidiumMember.node_id))
                 .where(PresidiumMember.id == wanted, township_filter(scope)))
        row = (await db.execute(query.with_for_update(of=PresidiumMember) if for_update else query)).first()
    if row is None:
        raise NotFound()
    return MemberRef(*row)


# --- the page: every township in reach with its members and their contacts ---------------------------

@dataclass
class MemberLine:
    id: int
    name: str
    post: str
    deputy: str  # the deputy's name when the member is one
    mobile: str  # masked
    sort: int
    contacts: list[str] = field(default_factory=list)


@dataclass
class Township:
    id: int
    name: str
    members: list[MemberLine] = field(default_factory=list)


async def overview(db: AsyncSession, scope: Scope) -> list[Township]:
    """The townships in reach, each with its members in order and their contacts: three queries."""
    found = {nid: Township(nid, name) for nid, name, _ in await townships(db, scope)}
    by_id: dict[int, MemberLine] = {}
    for m, deputy in await db.execute(
            select(PresidiumMember, Deputy.name)
            .outerjoin(Deputy, and_(Deputy.tenant_id == PresidiumMember.tenant_id, Deputy.id == PresidiumMember.deputy_id))
            .where(PresidiumMember.node_id.in_(list(found)))
            .order_by(PresidiumMember.sort, PresidiumMember.name, PresidiumMember.id)):
        line = MemberLine(m.id, m.name, m.post, deputy or "", mask_mobile(m.mobile), m.sort)
        by_id[m.id] = line
        found[m.node_id].members.append(line)
    for member_id, name in await db.execute(
            select(PresidiumContact.member_id, Deputy.name)
            .join(Deputy, and_(Deputy.tenant_id == PresidiumContact.tenant_id, Deputy.id == PresidiumContact.deputy_id))
            .where(PresidiumContact.member_id.in_(list(by_id))).order_by(Deputy.name, Deputy.id)):
        by_id[member_id].contacts.append(name)
    return list(found.values())


# --- the member's deputy and the contacts' choices ----------------------------------------------------

def _of_township(scope: Scope, path: str) -> ColumnElement[bool]:
    """Serving deputies of the township (stationed in it or elected there) that the member reaches:
    the deputies' own scope filter, once for the township and once for the member."""
    township = Scope(role="township_staff", node_path=path, station_id=None, user_id=scope.user_id)
    return and_(Deputy.status == "active", deputies_in_scope(township), deputies_in_scope(scope))


async def deputy_choices(db: AsyncSession, scope: Scope, path: str) -> list[tuple[int, str]]:
    """The deputies a member of this township may be, by name: one query."""
    return [tuple(r) for r in await db.execute(select(Deputy.id, Deputy.name).where(_of_township(scope, path))
                                               .order_by(Deputy.name, Deputy.id))]


def _stationed(scope: Scope, path: str):
    """(station id, station name, deputy id, deputy name) of the serving deputies stationed at a
    station of the township, in reach."""
    node = aliased(AdminNode)
    return (select(Station.id, Station.name, Deputy.id, Deputy.name).select_from(StationDeputy)
            .join(Deputy, and_(Deputy.tenant_id == StationDeputy.tenant_id, Deputy.id == StationDeputy.deputy_id))
            .join(Station, and_(Station.tenant_id == StationDeputy.tenant_id, Station.id == StationDeputy.station_id))
            .join(node, and_(node.tenant_id == Station.tenant_id, node.id == Station.node_id))
            .where(StationDeputy.ended_at.is_(None), Deputy.status == "active",
                   node.path.startswith(path, autoescape=True), deputies_in_scope(scope)))


async def contact_choices(db: AsyncSession, scope: Scope, path: str) -> list[tuple[str, list[tuple[int, str]]]]:
    """The contacts form's choices grouped by station (station name, [(deputy id, name)]): one query."""
    groups: dict[int, tuple[str, list]] = {}
    rows = await db.execute(_stationed(scope, path).order_by(Station.name, Station.id, Deputy.name, Deputy.id))
    for station_id, station, deputy_id, name in rows:
        groups.setdefault(station_id, (station, []))[1].append((deputy_id, name))
    return list(groups.values())


async def contacts_of(db: AsyncSession, member_id: int) -> set[int]:
    return set(await db.scalars(select(PresidiumContact.deputy_id).where(PresidiumContact.member_id == member_id)))


# --- changes ------------------------------------------------------------------------------------------

@dataclass
class MemberForm:
    name: str
    post: str
    deputy_id: int | None
    mobile: str | None
    sort: int | None  # None: after the last


async def _check(db: AsyncSession, scope: Scope, path: str, form: dict) -> MemberForm:
    """The member's fields, each checked with its own message (nothing is written here)."""
    deputy_id, deputy_name = None, ""
    if str(form.get("deputy_id") or "").strip():
        deputy_id = as_id(form.get("deputy_id"))
        row = None
        if deputy_id is not None:
            row = (await db.execute(select(Deputy.name).where(Deputy.id == deputy_id, _of_township(scope, path)))).first()
        if row is None:
            raise Refusal(BAD_DEPUTY, input_name="deputy_id")
        deputy_name = row[0]
    name = " ".join(str(form.get("name") or "").split()) or deputy_name  # a deputy's own name by default
    if not name or len(name) > MAX_MEMBER_NAME:
        raise Refusal(BAD_NAME, input_name="name", max=MAX_MEMBER_NAME)
    post = " ".join(str(form.get("post") or "").split())
    if not post or len(post) > MAX_POST:
        raise Refusal(BAD_POST, input_name="post", max=MAX_POST)
    mobile = check_mobile(form.get("mobile"))
    text = str(form.get("sort") or "").strip()
    sort = None
    if text:
        if not (text.isdigit() and int(text) <= MAX_SORT):
            raise Refusal(BAD_SORT, input_name="sort", max=MAX_SORT)
        sort = int(text)
    return MemberForm(name, post, deputy_id, mobile, sort)


async def _audit(db: AsyncSession, actor: Actor, action: str, member_id: int, details: dict) -> None:
    await record(db, tenant_id=actor.tenant_id, actor_user_id=actor.user_id, action=action,
                 target=f"presidium_member:{member_id}", client_addr=actor.client_addr, details=details)


async def add_member(db: AsyncSession, actor: Actor, township: str, form: dict) -> PresidiumMember:
    """A new member of a township's presidium in reach (checked whole before anything is written); audited."""
    node_id, _name, path = await township_in_reach(db, actor.scope, township)
    checked = await _check(db, actor.scope, path, form)
    sort = checked.sort
    if sort is None:  # after the last
        last = await db.scalar(select(func.max(PresidiumMember.sort)).where(PresidiumMember.node_id == node_id))
        sort = min((last if last is not None else 0) + 1, MAX_SORT)
    member = PresidiumMember(tenant_id=actor.tenant_id, node_id=node_id, name=checked.name, post=checked.post,
                             deputy_id=checked.deputy_id, mobile=checked.mobile, sort=sort, created_by=actor.user_id)
    db.add(member)
    await db.flush()
    await _audit(db, actor, "presidium_member_added", member.id,
                 {"node_id": node_id, "name": member.name, "post": member.post, "deputy_id": member.deputy_id})
    return member


async def update_member(db: AsyncSession, actor: Actor, ref: MemberRef, form: dict) -> list[str]:
    """Name, post, deputy, place in the list and (when given) a new mobile, or the mobile removed.
    Returns the fields changed (none: nothing written); audited with their names, never the number."""
    require_edit(actor.scope)
    checked = await _check(db, actor.scope, ref.path, form)
    member = ref.member
    values = {"name": checked.name, "post": checked.post, "deputy_id": checked.deputy_id,
              "sort": member.sort if checked.sort is None else checked.sort}
    if form.get("remove_mobile"):
        values["mobile"] = None
    elif checked.mobile is not None:
        values["mobile"] = checked.mobile
    changed = [k for k, v in values.items() if getattr(member, k) != v]
    if changed:
        for k in changed:
            setattr(member, k, values[k])
        await db.flush()
        await _audit(db, actor, "presidium_member_changed", member.id, {"fields": changed})
    return changed


async def remove_member(db: AsyncSession, actor: Actor, ref: MemberRef) -> None:
    """Delete the member and their contacts; the audit entry keeps who it was."""
    require_edit(actor.scope)
    member = ref.member
    details = {"node_id": member.node_id, "name": member.name, "post": member.post,
               "contacts": sorted(await contacts_of(db, member.id))}
    await db.execute(delete(PresidiumMember).where(PresidiumMember.id == member.id))
    await _audit(db, actor, "presidium_member_removed", member.id, details)


async def set_contacts(db: AsyncSession, actor: Actor, ref: MemberRef, values: list[str]) -> tuple[list, list]:
    """The deputies the member contacts become those chosen: serving deputies stationed in the member's
    township, in reach (one query checks them all; one bad id refuses the whole). Returns (added,
    removed); audited when anything changed."""
    require_edit(actor.scope)
    ids = [as_id(v) for v in values]
    if None in ids or len(set(ids)) > MAX_CONTACTS:
        raise Refusal(BAD_CONTACTS, input_name="deputy_id")
    wanted = set(ids)
    if wanted:
        found = {row[2] for row in await db.execute(_stationed(actor.scope, ref.path).where(Deputy.id.in_(wanted)))}
        if found != wanted:
            raise Refusal(BAD_CONTACTS, input_name="deputy_id")
    member_id = ref.member.id
    before = await contacts_of(db, member_id)
    added, removed = sorted(wanted - before), sorted(before - wanted)
    if removed:
        await db.execute(delete(PresidiumContact).where(PresidiumContact.member_id == member_id,
                                                        PresidiumContact.deputy_id.in_(removed)))
    db.add_all([PresidiumContact(tenant_id=actor.tenant_id, member_id=member_id, deputy_id=d) for d in added])
    await db.flush()
    if added or removed:
        await _audit(db, actor, "presidium_contacts_set", member_id, {"added": added, "removed": removed})
    return added, removed
