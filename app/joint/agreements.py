"""The agreement behind a joint station, from proposal to withdrawal. These are the named, audited
functions that move data between tenants: each runs in the caller's transaction (bound to the acting
county), works in each other tenant it writes to inside an `as_tenant` block (its copy and audit entry
there) and returns bound as it was called — one transaction, so a proposal reaches every party or none.

- propose: the county admin names the station, its web address (slug), the other counties (by their
  slug or six-digit division code), its own townships, co-heads, deputy heads and staff, and what is
  shared; every party gets a copy.
- answer: an invited county accepts (with its own townships, co-heads, …) or declines. When no one is
  left to answer and at least two counties are in, the joint tenant (kind `joint`) is set up: its
  tree (the station's area, then each side's townships), the joint station itself (in operation),
  the kinds of activity (the standard ones, 站长协商会 and 边界纠纷调解), its copy of the agreement, and
  the proposer's and accepters' admins as its county admins (`memberships.home_tenant_id`).
- withdraw: a member leaves: its people's roles in the joint tenant are revoked and its deputies'
  projections removed (app.joint.deputies), its own data stays;
  with one member left the joint tenant becomes a read-only archive (its members become viewers; their
  former role is kept in `archived_role`, app.joint.archive). Before set-up, the proposer withdrawing ends the proposal.
- grant / revoke: a member county's admin gives its own members a role in the joint tenant.
Every step is an event in every member's copy and the joint tenant's (`joint_agreement_events`).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Membership, User
from app.audit.services import record
from app.core.db import as_tenant
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.joint.departures import remove_county
from app.joint.models import MEMBER_STATES, SHARES, JointAgreement, JointEvent
from app.tenancy.models import SLUG_RE, AdminNode, Tenant
from app.tenancy.services import add_node

JOINT_ROLES = ("county_admin", "township_staff", "station_staff", "viewer")

NAME_BAD = lazy("The joint station's name has 4 to 80 characters.")
SLUG_BAD = lazy("The web address uses lower-case letters, digits and “-” (2 to 40 characters).")
SLUG_TAKEN = lazy("The web address “%(slug)s” is taken: choose another.")
PARTNER_UNKNOWN = lazy("No county in Lianluo has the code “%(code)s”: ask the other county for its address or division code.")
PARTNER_SELF = lazy("The other county cannot be your own county.")
PARTNER_REQUIRED = lazy("Name at least one other county.")
TOWNS_REQUIRED = lazy("Choose at least one of your townships that belongs to the joint station.")
TOWN_UNKNOWN = lazy("“%(name)s” is not a township or street of your county.")
CO_HEAD_REQUIRED = lazy("Name your side's co-head (your township's chair).")
SHARES_BAD = lazy("Choose what is shared from the list.")
NOT_INVITED = lazy("Your county has no answer to give on this agreement.")
NOT_MEMBER = lazy("Your county is not a member of this joint station.")
NOT_ACTIVE = lazy("The joint station is not in force.")
NOT_OWN_MEMBER = lazy("Choose one of your county's own members.")
ROLE_BAD = lazy("Choose the role from the list.")
TOWNSHIP_ROLE_UNCLEAR = lazy("Your county brought several townships into the joint station: give station staff or county admin instead of township staff.")
NAME_FORBIDDEN = lazy("The name contains “%(word)s”, which your county's naming rule does not allow: decline, or ask the proposer for another name.")


@dataclass
class Side:
    """What a county says of its own side."""
    towns: list[str] = field(default_factory=list)
    co_heads: list[str] = field(default_factory=list)
    deputy_heads: list[str] = field(default_factory=list)
    staff: list[str] = field(default_factory=list)


def _names(values) -> list[str]:
    return [v.strip()[:40] for v in values if v and v.strip()][:20]


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def find_county(db: AsyncSession, code: str, own_id: int) -> Tenant:
    code = code.strip().lower()
    field_ = Tenant.division_code if re.fullmatch(r"\d{6}", code) else Tenant.slug
    tenant = await db.scalar(select(Tenant).where(field_ == code, Tenant.kind == "county", Tenant.status == "active"))
    if tenant is None:
        raise Refusal(PARTNER_UNKNOWN, code=code[:40])
    if tenant.id == own_id:
        raise Refusal(PARTNER_SELF)
    return tenant


async def _check_side(db: AsyncSession, side: Side) -> dict:
    towns = _names(side.towns)
    if not towns:
        raise Refusal(TOWNS_REQUIRED)
    known = set((await db.scalars(select(AdminNode.name).where(
        AdminNode.kind.in_(("township", "street")), AdminNode.retired_at.is_(None), AdminNode.name.in_(towns)))).all())
    for town in towns:
        if town not in known:
            raise Refusal(TOWN_UNKNOWN, name=town)
    co_heads = _names(side.co_heads)
    if not co_heads:
        raise Refusal(CO_HEAD_REQUIRED)
    return {"towns": towns, "co_heads": co_heads, "deputy_heads": _names(side.deputy_heads),
            "staff": _names(side.staff)}


async def _check_name(db: AsyncSession, tenant_id: int, name: str) -> None:
    from app.tenancy.config import get_config

    for word in (await get_config(db, tenant_id)).forbidden_words:
        if word and word in name:
            raise Refusal(NAME_FORBIDDEN, word=word)


async def propose(db: AsyncSession, *, tenant: Tenant, actor: User, name: str, slug: str, partners: list[str],
                  side: Side, shares: list[str], client_addr: str | None = None) -> JointAgreement:
    name, slug = name.strip(), slug.strip().lower()
    if not 4 <= len(name) <= 80:
        raise Refusal(NAME_BAD)
    if not SLUG_RE.fullmatch(slug):
        raise Refusal(SLUG_BAD)
    if await db.scalar(select(Tenant.id).where(Tenant.slug == slug)):
        raise Refusal(SLUG_TAKEN, slug=slug)
    codes = [c for c in dict.fromkeys(p.strip().lower() for p in partners) if c]
    if not codes:
        raise Refusal(PARTNER_REQUIRED)
    others = list({t.id: t for t in [await find_county(db, c, tenant.id) for c in codes]}.values())
    if not shares or any(s not in SHARES for s in shares):
        raise Refusal(SHARES_BAD)
    await _check_name(db, tenant.id, name)
    mine = await _check_side(db, side)
    parties = [{"tenant_id": tenant.id, "name": tenant.name, "status": "proposer", "decided_by": actor.id,
                "decided_at": _now().isoformat(), **mine}]
    parties += [{"tenant_id": t.id, "name": t.name, "status": "invited", "towns": [], "co_heads": [],
                 "deputy_heads": [], "staff": []} for t in others]
    key = uuid.uuid4()
    for party in parties:
        async with as_tenant(db, party["tenant_id"]):
            db.add(JointAgreement(tenant_id=party["tenant_id"], agreement_key=key, name=name, slug=slug,
                                  proposer_tenant_id=tenant.id, parties=parties,
                                  shares=[s for s in SHARES if s in shares], status="proposed"))
            await db.flush()
    await record_in_every_copy(db, key, tenant, actor, "proposed",
                               {"name": name, "counties": [p["name"] for p in parties]}, client_addr)
    return await get(db, tenant.id, key)


async def get(db: AsyncSession, tenant_id: int, key) -> JointAgreement:
    """The acting county's own copy of an agreement, or 404 (another county's, unknown: the same).
    Every party's copy has the same key, so it is read as `tenant_id` whatever the session is bound to."""
    try:
        key = uuid.UUID(str(key))
    except ValueError:
        raise NotFound() from None
    async with as_tenant(db, tenant_id):
        found = await db.scalar(select(JointAgreement).where(JointAgreement.agreement_key == key)
                                .execution_options(populate_existing=True))
    if found is None:
        raise NotFound()
    return found


async def list_for(db: AsyncSession) -> list[JointAgreement]:
    return list((await db.scalars(select(JointAgreement).order_by(JointAgreement.created_at.desc()))).all())


async def events(db: AsyncSession, agreement: JointAgreement) -> list[JointEvent]:
    return list((await db.scalars(select(JointEvent).where(JointEvent.agreement_id == agreement.id)
                                  .order_by(JointEvent.at, JointEvent.id))).all())


def _copies(agreement: JointAgreement) -> list[int]:
    """Tenants whose copy follows the agreement: the members and those still to answer, and the joint
    tenant; a county that declined or withdrew keeps its copy as it was when it left."""
    ids = [p["tenant_id"] for p in agreement.parties if p["status"] in (*MEMBER_STATES, "invited")]
    return ids + ([agreement.joint_tenant_id] if agreement.joint_tenant_id else [])


async def record_in_every_copy(db: AsyncSession, key, tenant: Tenant, actor: User, action: str, details: dict,
                               client_addr: str | None, *, also: tuple[int, ...] = ()) -> None:
    """The event in every copy's history, and an audit entry in each tenant written to."""
    agreement = await get(db, tenant.id, key)
    for tenant_id in dict.fromkeys([*_copies(agreement), *also]):
        async with as_tenant(db, tenant_id):
            copy_id = await db.scalar(select(JointAgreement.id)
                                      .where(JointAgreement.agreement_key == agreement.agreement_key))
            if copy_id is None:
                continue
            db.add(JointEvent(tenant_id=tenant_id, agreement_id=copy_id, actor_tenant_id=tenant.id,
                              actor_name=f"{tenant.name} · {actor.display_name}"[:60], action=action, details=details))
            await db.flush()
            await record(db, tenant_id=tenant_id, actor_user_id=actor.id, action=f"joint_{action}",
                         target=f"joint:{agreement.agreement_key}", client_addr=client_addr,
                         details={"county": tenant.name, **{k: v for k, v in details.items() if k != "counties"}})


async def _update_copies(db: AsyncSession, agreement: JointAgreement, tenant_ids, **values) -> None:
    for tenant_id in dict.fromkeys(tenant_ids):
        async with as_tenant(db, tenant_id):
            await db.execute(update(JointAgreement).where(JointAgreement.agreement_key == agreement.agreement_key)
                             .values(updated_at=_now(), **values).execution_options(synchronize_session=False))


def _with_party(agreement: JointAgreement, tenant_id: int, **values) -> list[dict]:
    return [{**p, **values} if p["tenant_id"] == tenant_id else p for p in agreement.parties]


async def answer(db: AsyncSession, *, tenant: Tenant, actor: User, key, accept: bool, side: Side | None = None,
                 client_addr: str | None = None) -> JointAgreement:
    """An invited county accepts (giving its own side) or declines."""
    agreement = await get(db, tenant.id, key)
    party = agreement.party(tenant.id)
    if agreement.status != "proposed" or party is None or party["status"] != "invited":
        raise Refusal(NOT_INVITED)
    values = {"status": "accepted" if accept else "declined", "decided_by": actor.id, "decided_at": _now().isoformat()}
    if accept:
        await _check_name(db, tenant.id, agreement.name)
        values.update(await _check_side(db, side or Side()))
    parties = _with_party(agreement, tenant.id, **values)
    await _update_copies(db, agreement, _copies(agreement), parties=parties)
    await record_in_every_copy(db, key, tenant, actor, "accepted" if accept else "declined", {}, client_addr,
                               also=(tenant.id,))
    agreement = await get(db, tenant.id, key)
    if any(p["status"] == "invited" for p in agreement.parties):
        return agreement
    members = [p for p in agreement.parties if p["status"] in MEMBER_STATES]
    if len(members) < 2:
        await _update_copies(db, agreement, [p["tenant_id"] for p in agreement.parties], status="declined")
    else:
        await _activate(db, agreement, tenant, actor, client_addr)
    return await get(db, tenant.id, key)


async def _activate(db: AsyncSession, agreement: JointAgreement, tenant: Tenant, actor: User,
                    client_addr: str | None) -> None:
    """Set up the joint tenant: its row, tree, copy of the agreement and first admins."""
    proposer = await db.get(Tenant, agreement.proposer_tenant_id)
    if await db.scalar(select(Tenant.id).where(Tenant.slug == agreement.slug)):
        raise Refusal(SLUG_TAKEN, slug=agreement.slug)
    async with as_tenant(db, proposer.id):  # the history so far, from the proposer's copy, for the joint tenant's
        history = [(e.at, e.actor_tenant_id, e.actor_name, e.action, e.details) for e in (await db.execute(
            select(JointEvent).join(JointAgreement, (JointAgreement.tenant_id == JointEvent.tenant_id)
                                    & (JointAgreement.id == JointEvent.agreement_id))
            .where(JointAgreement.agreement_key == agreement.agreement_key).order_by(JointEvent.at, JointEvent.id)
        )).scalars()]
    joint = Tenant(slug=agreement.slug, name=agreement.name, kind="joint", division_code=proposer.division_code,
                   status="active", timezone=proposer.timezone, sms_quota=proposer.sms_quota)
    db.add(joint)
    await db.flush()
    members = [p for p in agreement.parties if p["status"] in MEMBER_STATES]
    async with as_tenant(db, joint.id):
        root = await add_node(db, joint.id, None, "/", agreement.name[:80], "county")
        await _furnish(db, joint.id, root, agreement.name)
        admins: set[int] = set()
        for party in members:
            for town in party["towns"]:
                await add_node(db, joint.id, root.id, root.path, f"{party['name'][:30]}·{town}"[:80], "township")
            if party["decided_by"] not in admins:  # one person may be an admin of two member counties
                admins.add(party["decided_by"])
                db.add(Membership(tenant_id=joint.id, user_id=party["decided_by"], role="county_admin",
                                  home_tenant_id=party["tenant_id"], created_by=actor.id))
        db.add(JointAgreement(tenant_id=joint.id, agreement_key=agreement.agreement_key, name=agreement.name,
                              slug=agreement.slug, proposer_tenant_id=agreement.proposer_tenant_id,
                              parties=agreement.parties, shares=agreement.shares, status="active",
                              joint_tenant_id=joint.id))
        await db.flush()
        copy_id = await db.scalar(select(JointAgreement.id)
                                  .where(JointAgreement.agreement_key == agreement.agreement_key))
        db.add_all([JointEvent(tenant_id=joint.id, agreement_id=copy_id, at=at, actor_tenant_id=who, actor_name=name,
                               action=action, details=details) for at, who, name, action, details in history])
        await db.flush()
    await _update_copies(db, agreement, [p["tenant_id"] for p in members], status="active", joint_tenant_id=joint.id)
    await record_in_every_copy(db, agreement.agreement_key, tenant, actor, "activated", {"slug": joint.slug},
                               client_addr)


# What a joint tenant starts with: the joint station itself, and the kinds of activity (the standard
# ones, the co-heads' coordination meeting and border dispute mediation).
JOINT_STATION_KIND = ("joint", "省际人大代表联络站")
JOINT_ACTIVITY_KINDS = (("coordination", "站长协商会"), ("mediation", "边界纠纷调解"))


async def _furnish(db: AsyncSession, joint_id: int, root: AdminNode, name: str) -> None:
    from app.activities.models import STANDARD_KINDS, ActivityKind
    from app.stations.models import Station, StationKind

    kind = StationKind(tenant_id=joint_id, code=JOINT_STATION_KIND[0], name=JOINT_STATION_KIND[1], node_kinds=["county"])
    db.add(kind)
    await db.flush()
    db.add(Station(tenant_id=joint_id, kind_id=kind.id, node_id=root.id, name=name[:120], status="active"))
    db.add_all([ActivityKind(tenant_id=joint_id, code=code, name=label, sort=n * 10)
                for n, (code, label) in enumerate((*STANDARD_KINDS, *JOINT_ACTIVITY_KINDS))])
    await db.flush()


async def joint_station_id(db: AsyncSession, joint_id: int) -> int:
    """The joint station of a joint tenant (read there: county-bound callers ask too, e.g. `grant`)."""
    from app.stations.models import Station, StationKind

    async with as_tenant(db, joint_id):
        return await db.scalar(select(Station.id).join(StationKind, (StationKind.tenant_id == Station.tenant_id)
                                                       & (StationKind.id == Station.kind_id))
                               .where(StationKind.code == JOINT_STATION_KIND[0]).order_by(Station.id).limit(1))


async def withdraw(db: AsyncSession, *, tenant: Tenant, actor: User, key, client_addr: str | None = None) -> JointAgreement:
    """The county leaves (or, before set-up, the proposer ends the proposal). Its own data is untouched."""
    agreement = await get(db, tenant.id, key)
    party = agreement.party(tenant.id)
    if party is None or party["status"] not in MEMBER_STATES or agreement.status not in ("proposed", "active"):
        raise Refusal(NOT_MEMBER)
    copies = _copies(agreement)
    await record_in_every_copy(db, key, tenant, actor, "withdrawn", {}, client_addr)
    parties = _with_party(agreement, tenant.id, status="withdrawn", decided_at=_now().isoformat())
    if agreement.status == "proposed":
        await _update_copies(db, agreement, copies, parties=parties, status="declined")
        return await get(db, tenant.id, key)
    left = [p for p in parties if p["status"] in MEMBER_STATES]
    status = "archived" if len(left) < 2 else "active"
    await _update_copies(db, agreement, copies, parties=parties, status=status)
    async with as_tenant(db, agreement.joint_tenant_id):
        await db.execute(update(Membership).where(Membership.tenant_id == agreement.joint_tenant_id,
                                                  Membership.home_tenant_id == tenant.id,
                                                  Membership.revoked_at.is_(None))
                         .values(revoked_at=_now()).execution_options(synchronize_session=False))
        await remove_county(db, county_id=tenant.id, joint_id=agreement.joint_tenant_id)
        if status == "archived":
            # a read-only archive: deputies have nothing to do there any more; the staff may read it,
            # and those who were staff may still finish the cases it holds (app.joint.archive)
            await db.execute(update(Membership).where(Membership.tenant_id == agreement.joint_tenant_id,
                                                      Membership.role == "deputy", Membership.revoked_at.is_(None))
                             .values(revoked_at=_now()).execution_options(synchronize_session=False))
            await db.execute(update(Membership).where(Membership.tenant_id == agreement.joint_tenant_id,
                                                      Membership.revoked_at.is_(None))
                             .values(archived_role=Membership.role, role="viewer", scope_node_id=None,
                                     station_id=None)
                             .execution_options(synchronize_session=False))
    if status == "archived":
        await record_in_every_copy(db, key, tenant, actor, "archived", {}, client_addr)
    return await get(db, tenant.id, key)


async def member_copy(db: AsyncSession, tenant: Tenant, key) -> JointAgreement:
    agreement = await get(db, tenant.id, key)
    party = agreement.party(tenant.id)
    if party is None or party["status"] not in MEMBER_STATES:
        raise Refusal(NOT_MEMBER)
    if agreement.status != "active" or agreement.joint_tenant_id is None:
        raise Refusal(NOT_ACTIVE)
    return agreement


async def own_members(db: AsyncSession, tenant: Tenant) -> list[tuple[Membership, User]]:
    """The county's active members (those its admin may give a role in a joint station)."""
    async with as_tenant(db, tenant.id):
        rows = (await db.execute(select(Membership, User).join(User, User.id == Membership.user_id)
                                 .where(Membership.tenant_id == tenant.id, Membership.revoked_at.is_(None),
                                        User.disabled_at.is_(None)).order_by(User.display_name))).all()
    return [(m, u) for m, u in rows]


async def grants(db: AsyncSession, tenant: Tenant, agreement: JointAgreement) -> list[tuple[Membership, User]]:
    """The roles the county's people hold in the joint tenant (read there)."""
    if agreement.joint_tenant_id is None:
        return []
    async with as_tenant(db, agreement.joint_tenant_id):
        rows = (await db.execute(select(Membership, User).join(User, User.id == Membership.user_id)
                                 .where(Membership.tenant_id == agreement.joint_tenant_id,
                                        Membership.home_tenant_id == tenant.id, Membership.revoked_at.is_(None))
                                 .order_by(User.display_name))).all()
    return [(m, u) for m, u in rows]


async def grant(db: AsyncSession, *, tenant: Tenant, actor: User, key, user_id: int, role: str,
                client_addr: str | None = None) -> None:
    """Give one of the county's own members a role in the joint tenant (replacing the one they have)."""
    agreement = await member_copy(db, tenant, key)
    if role not in JOINT_ROLES:
        raise Refusal(ROLE_BAD)
    user = next((u for _, u in await own_members(db, tenant) if u.id == user_id), None)
    if user is None:
        raise Refusal(NOT_OWN_MEMBER)
    station_id, scope_node_id = await _place_of(db, agreement, tenant, role)
    async with as_tenant(db, agreement.joint_tenant_id):
        await db.execute(update(Membership).where(Membership.tenant_id == agreement.joint_tenant_id,
                                                  Membership.user_id == user.id, Membership.revoked_at.is_(None))
                         .values(revoked_at=_now()).execution_options(synchronize_session=False))
        db.add(Membership(tenant_id=agreement.joint_tenant_id, user_id=user.id, role=role, home_tenant_id=tenant.id,
                          station_id=station_id, scope_node_id=scope_node_id, created_by=actor.id))
        await db.flush()
    await record_in_every_copy(db, key, tenant, actor, "granted", {"user": user.display_name, "role": role},
                               client_addr)


async def _place_of(db: AsyncSession, agreement: JointAgreement, tenant: Tenant, role: str) -> tuple[int | None, int | None]:
    """Where a role given in the joint tenant works: station staff at the joint station; township staff
    over their county's township there (only when the county brought exactly one). Read in the joint tenant."""
    if role == "station_staff":
        return await joint_station_id(db, agreement.joint_tenant_id), None
    if role != "township_staff":
        return None, None
    async with as_tenant(db, agreement.joint_tenant_id):
        towns = (await db.scalars(select(AdminNode.id).where(
            AdminNode.kind == "township", AdminNode.name.like(f"{tenant.name[:30]}·%")))).all()
    if len(towns) != 1:
        raise Refusal(TOWNSHIP_ROLE_UNCLEAR)
    return None, towns[0]


async def revoke(db: AsyncSession, *, tenant: Tenant, actor: User, key, user_id: int,
                 client_addr: str | None = None) -> None:
    """Take back a role the county gave one of its people (only its own people's)."""
    agreement = await member_copy(db, tenant, key)
    held = next((u for m, u in await grants(db, tenant, agreement) if u.id == user_id), None)
    if held is None:
        raise Refusal(NOT_OWN_MEMBER)
    async with as_tenant(db, agreement.joint_tenant_id):
        await db.execute(update(Membership).where(Membership.tenant_id == agreement.joint_tenant_id,
                                                  Membership.user_id == user_id, Membership.home_tenant_id == tenant.id,
                                                  Membership.revoked_at.is_(None))
                         .values(revoked_at=_now()).execution_options(synchronize_session=False))
    await record_in_every_copy(db, key, tenant, actor, "revoked", {"user": held.display_name}, client_addr)
