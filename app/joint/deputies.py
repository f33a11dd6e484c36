"""The deputies a member county chose to join a joint station: the joint tenant holds a projection of
each one's agreed public fields (name, levels, public contact, photo), never the county's record.
Named, audited functions move them (each in the caller's transaction, working in each other tenant
inside an `as_tenant` block, so they return bound as they were called):
- join / leave: the county's admin chooses which of its serving deputies join, or takes one back;
- project: write the projections of some of a county's deputies from the county's records (a deputy
  no longer serving is taken out). A projection is also a deputies row of the joint tenant (with the
  mandates' levels and terms), stationed at the joint station, so the joint station's activities,
  sign-in and public page use it like any deputy; taken out, that row stays as `removed` (past
  attendance keeps its name) and leaves the station. A deputy with an account in the county is a
  deputy member of the joint tenant too (`memberships.home_tenant_id` = the county), so the same login
  reaches the joint station through the tenant switcher and signs in there by scanning the QR code;
  taken out, that membership is revoked;
- sync_county: the worker's job (every ten minutes): every joint station the county is a member of gets
  its projections brought up to date, so a change to a deputy in the county reaches the joint station;
- leaving (one deputy, or a whole county that withdraws): app.joint.departures.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Membership, User
from app.audit.services import record
from app.core.db import as_tenant, every_county
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.core.images import StoredImage
from app.deputies.models import Deputy, Mandate, StationDeputy
from app.joint import agreements, departures
from app.joint.models import MEMBER_STATES, JointAgreement, JointDeputy
from app.tenancy.models import Tenant

NOT_SHARED = lazy("The agreement does not share deputies' profiles.")
DEPUTY_UNKNOWN = lazy("Choose serving deputies of your own county.")
NOT_JOINED = lazy("This deputy has not joined the joint station.")


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def _home_facts(db: AsyncSession, county_id: int, deputy_ids) -> dict[int, dict]:
    """The agreed public fields of the county's serving deputies among `deputy_ids` (read in the county;
    `project` asks from the joint tenant)."""
    async with as_tenant(db, county_id):
        rows = await db.execute(select(Deputy.id, Deputy.name, Deputy.public_contact, Deputy.photo_id, Deputy.user_id)
                                .where(Deputy.id.in_(list(deputy_ids)), Deputy.status == "active"))
        facts = {i: {"name": n, "public_contact": c or "", "home_photo_id": p, "user_id": u, "mandates": []}
                 for i, n, c, p, u in rows.all()}
        if facts:
            for deputy_id, level, term, direct in await db.execute(
                    select(Mandate.deputy_id, Mandate.level, Mandate.term, Mandate.direct)
                    .where(Mandate.deputy_id.in_(list(facts))).order_by(Mandate.level, Mandate.term)):
                facts[deputy_id]["mandates"].append((level, term, direct))
    for f in facts.values():
        f["levels"] = sorted({m[0] for m in f["mandates"]})
    return facts


async def _photos(db: AsyncSession, county_id: int, photo_ids) -> dict[int, StoredImage]:
    """The county's photos of its deputies (read in the county, for `project` in the joint tenant to copy)."""
    ids = [p for p in photo_ids if p]
    if not ids:
        return {}
    async with as_tenant(db, county_id):
        return {i.id: i for i in (await db.scalars(select(StoredImage).where(StoredImage.id.in_(ids)))).all()}


async def _deputy_member(db: AsyncSession, joint_id: int, county_id: int, user_id: int | None,
                         before: int | None) -> None:
    """The deputy's account (if any) is a deputy member of the joint tenant; an earlier account's ends."""
    if before and before != user_id:
        await departures.revoke_deputy_members(db, [before])
    if user_id and await db.scalar(select(Membership.id).where(
            Membership.tenant_id == joint_id, Membership.user_id == user_id, Membership.revoked_at.is_(None))
            .limit(1)) is None:
        db.add(Membership(tenant_id=joint_id, user_id=user_id, role="deputy", home_tenant_id=county_id))


async def _local(db: AsyncSession, joint_id: int, row: JointDeputy, f: dict, station_id: int,
                 before: int | None) -> None:
    """The joint tenant's own deputies row for the projection: made (and stationed at the joint
    station) the first time, then kept equal to the projection; its mandates follow the county's.
    `before`: the account the row had."""
    if row.deputy_id is None:
        local = Deputy(tenant_id=joint_id, name=f["name"], public_contact=f["public_contact"], photo_id=row.photo_id,
                       user_id=f["user_id"])
        db.add(local)
        await db.flush()
        row.deputy_id = local.id
        db.add(StationDeputy(tenant_id=joint_id, station_id=station_id, deputy_id=local.id))
    else:
        await db.execute(update(Deputy).where(Deputy.id == row.deputy_id).values(
            name=f["name"], public_contact=f["public_contact"], photo_id=row.photo_id, status="active",
            user_id=f["user_id"]))
        await db.execute(delete(Mandate).where(Mandate.deputy_id == row.deputy_id))
    await _deputy_member(db, joint_id, row.home_tenant_id, f["user_id"], before)
    db.add_all([Mandate(tenant_id=joint_id, deputy_id=row.deputy_id, level=level, term=term, direct=direct)
                for level, term, direct in f["mandates"]])


async def project(db: AsyncSession, *, county_id: int, joint_id: int, deputy_ids) -> tuple[int, int]:
    """Bring the joint tenant's projections of these deputies of the county up to date: (written,
    removed)."""
    facts = await _home_facts(db, county_id, deputy_ids)
    async with as_tenant(db, joint_id):
        station_id = await agreements.joint_station_id(db, joint_id)
        existing = {d.home_deputy_id: d for d in (await db.scalars(select(JointDeputy).where(
            JointDeputy.home_tenant_id == county_id, JointDeputy.home_deputy_id.in_(list(deputy_ids))))).all()}
        await departures.take_out(db, [d for k, d in existing.items() if k not in facts])
        new_photos = {f["home_photo_id"] for k, f in facts.items()
                      if f["home_photo_id"] and (k not in existing or existing[k].home_photo_id != f["home_photo_id"])}
        photos = await _photos(db, county_id, new_photos)
        accounts = dict((await db.execute(select(Deputy.id, Deputy.user_id).where(
            Deputy.id.in_([r.deputy_id for r in existing.values() if r.deputy_id])))).all())
        written = 0
        for deputy_id, f in facts.items():
            row = existing.get(deputy_id)
            if row is None:
                row = JointDeputy(tenant_id=joint_id, home_tenant_id=county_id, home_deputy_id=deputy_id,
                                  name=f["name"])
                db.add(row)
            elif (row.name, row.public_contact, row.levels, row.home_photo_id) == (
                    f["name"], f["public_contact"], f["levels"], f["home_photo_id"]) and row.deputy_id \
                    and accounts.get(row.deputy_id) == f["user_id"]:
                continue
            row.name, row.public_contact, row.levels = f["name"], f["public_contact"], f["levels"]
            if f["home_photo_id"] != row.home_photo_id or row.photo_id is None and f["home_photo_id"]:
                source = photos.get(f["home_photo_id"])
                copy = None
                if source is not None:
                    copy = StoredImage(tenant_id=joint_id, media_type=source.media_type, data=source.data,
                                       width=source.width, height=source.height)
                    db.add(copy)
                    await db.flush()
                row.home_photo_id, row.photo_id = f["home_photo_id"], copy.id if copy else None
            row.synced_at = _now()
            await _local(db, joint_id, row, f, station_id, accounts.get(row.deputy_id))
            written += 1
        await db.flush()
    return written, len(existing) - len([k for k in existing if k in facts])


async def _shared(db: AsyncSession, tenant: Tenant, key) -> JointAgreement:
    agreement = await agreements.member_copy(db, tenant, key)
    if "deputies" not in agreement.shares:
        raise Refusal(NOT_SHARED)
    return agreement


async def join(db: AsyncSession, *, tenant: Tenant, actor: User, key, deputy_ids,
               client_addr: str | None = None) -> int:
    """The county's admin chooses deputies to join: their projections are written in the joint tenant."""
    agreement = await _shared(db, tenant, key)
    ids = sorted({int(d) for d in deputy_ids})
    facts = await _home_facts(db, tenant.id, ids)
    if not ids or len(facts) != len(ids):
        raise Refusal(DEPUTY_UNKNOWN)
    written, _ = await project(db, county_id=tenant.id, joint_id=agreement.joint_tenant_id, deputy_ids=ids)
    await agreements.record_in_every_copy(db, key, tenant, actor, "deputies_joined",
                                          {"deputies": [facts[i]["name"] for i in ids]}, client_addr)
    return written


async def leave(db: AsyncSession, *, tenant: Tenant, actor: User, key, deputy_id: int,
                client_addr: str | None = None) -> None:
    """The county takes a deputy out of the joint station: the projection is removed."""
    agreement = await _shared(db, tenant, key)
    async with as_tenant(db, agreement.joint_tenant_id):
        row = await db.scalar(select(JointDeputy).where(JointDeputy.home_tenant_id == tenant.id,
                                                        JointDeputy.home_deputy_id == deputy_id))
        if row is None:
            raise Refusal(NOT_JOINED)
        name = row.name
        await departures.take_out(db, [row])
    await agreements.record_in_every_copy(db, key, tenant, actor, "deputy_left", {"deputies": [name]}, client_addr)


async def joined(db: AsyncSession, tenant: Tenant, agreement: JointAgreement) -> list[JointDeputy]:
    """The county's deputies in the joint station (read there)."""
    if agreement.joint_tenant_id is None:
        return []
    async with as_tenant(db, agreement.joint_tenant_id):
        return list((await db.scalars(select(JointDeputy).where(JointDeputy.home_tenant_id == tenant.id)
                                      .order_by(JointDeputy.name))).all())


async def sync_county(db: AsyncSession, county_id: int) -> int:
    """The job: every joint station the county is a member of gets its projections of the county's
    deputies brought up to date; an audit entry in the joint tenant when something changed."""
    async with as_tenant(db, county_id):
        copies = (await db.scalars(select(JointAgreement).where(JointAgreement.status == "active",
                                                               JointAgreement.joint_tenant_id.is_not(None)))).all()
    changed = 0
    for agreement in copies:
        party = agreement.party(county_id)
        if party is None or party["status"] not in MEMBER_STATES or "deputies" not in agreement.shares:
            continue
        async with as_tenant(db, agreement.joint_tenant_id):
            ids = (await db.scalars(select(JointDeputy.home_deputy_id)
                                    .where(JointDeputy.home_tenant_id == county_id))).all()
            if not ids:
                continue
            written, removed = await project(db, county_id=county_id, joint_id=agreement.joint_tenant_id,
                                             deputy_ids=ids)
            if written or removed:
                await record(db, tenant_id=agreement.joint_tenant_id, actor_user_id=None,
                             action="joint_deputies_synced", target=f"joint:{agreement.agreement_key}",
                             details={"county": party["name"], "updated": written, "removed": removed})
        changed += written + removed
    return changed


async def sync_all(database) -> int:
    """The worker's job: `sync_county` for every active county with an active joint station, each in its
    own transaction. The counties come from one call (`joint_syncing_counties()`, migration 0039), so a
    deployment of a thousand counties without joint stations costs one statement, not a thousand
    transactions."""
    async with database.transaction() as db:
        counties = (await every_county(db, "SELECT county_id FROM joint_syncing_counties()")).scalars().all()
    changed = 0
    for county_id in counties:
        async with database.transaction(tenant_id=county_id) as db:
            changed += await sync_county(db, county_id)
    return changed
