"""Joint-station presets (app/presets/files/joint-*.toml): a joint station between existing counties, described
declaratively and set up through the agreement's own services, as the counties' admins would do it:

1. the first side's county admin proposes it (`agreements.propose`), each other side's county admin
   accepts with its own side (`agreements.answer(accept=True)`), which sets the joint tenant up;
2. the joint station's profile (address, reception days, the introduction: where the file keeps the
   shared-river arrangement and the mediation platform) is written as the proposer's admin, who is a
   county admin of the joint tenant;
3. each side's admin gives its listed members their roles (`agreements.grant`) and lets its listed
   serving deputies join (`deputies.join`).

All of it runs in one transaction, bound to the first side's county; what another side's admin does
runs in an `as_tenant` block for that county (as tests/joint/world.py `act` runs it bound to the
county), so a preset reaches every county or none. Idempotent: when a tenant with the
joint station's slug exists already (the agreement in force, or archived), nothing is written.

The file (app/presets/files/joint-hezhou-fengkai.toml is the example):

    [joint]     name, slug, shares (of app.joint.models.SHARES)
    [station]   optional: address, contact_name, contact_phone, opening_hours, reception_rule, intro
    [[sides]]   county (slug or division code), towns, co_heads, deputy_heads, staff,
                deputies (names of the county's serving deputies), grants ([{user, role}])

The acting admin of a side is the county's earliest active county admin.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from app.accounts.models import Membership, User
from app.core.db import Database, as_tenant
from app.deputies.models import Deputy
from app.joint import agreements
from app.joint import deputies as joint_deputies
from app.joint.agreements import Side
from app.joint.models import SHARES, JointAgreement
from app.presets.services import PRESET_DIR, PresetError
from app.tenancy.models import Tenant
from app.tenancy.scope import Scope

STATION_FIELDS = ("address", "contact_name", "contact_phone", "opening_hours", "reception_rule", "intro")


@dataclass
class JointSide:
    county: str
    towns: list[str]
    co_heads: list[str]
    deputy_heads: list[str] = field(default_factory=list)
    staff: list[str] = field(default_factory=list)
    deputies: list[str] = field(default_factory=list)
    grants: list[tuple[str, str]] = field(default_factory=list)  # (username, role)

    def side(self) -> Side:
        return Side(towns=self.towns, co_heads=self.co_heads, deputy_heads=self.deputy_heads, staff=self.staff)


@dataclass
class JointPreset:
    name: str
    slug: str
    shares: list[str]
    station: dict
    sides: list[JointSide]


@dataclass
class Applied:
    joint_tenant_id: int
    agreement_key: object
    created: bool  # False: it was there already, nothing written


def _strings(value, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PresetError(f"{where}: a list of strings")
    return value


def parse_joint_preset(text: str, where: str = "joint preset") -> JointPreset:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PresetError(f"{where}: {exc}") from exc
    joint = data.get("joint") or {}
    for key in ("name", "slug"):
        if not isinstance(joint.get(key), str) or not joint[key].strip():
            raise PresetError(f"{where}: [joint] needs {key}")
    shares = _strings(joint.get("shares", list(SHARES)), f"{where}: [joint] shares")
    if any(s not in SHARES for s in shares):
        raise PresetError(f"{where}: [joint] shares must be among {SHARES}")
    station = data.get("station") or {}
    unknown = set(station) - set(STATION_FIELDS)
    if unknown:
        raise PresetError(f"{where}: [station] has unknown keys {sorted(unknown)}")
    sides = []
    for n, raw in enumerate(data.get("sides") or [], 1):
        at = f"{where}: [[sides]] #{n}"
        if not isinstance(raw.get("county"), str) or not raw["county"]:
            raise PresetError(f"{at} needs county (a slug or division code)")
        grants = []
        for g in raw.get("grants", []):
            if not isinstance(g, dict) or g.get("role") not in agreements.JOINT_ROLES or not g.get("user"):
                raise PresetError(f"{at}: grants are {{ user, role }} with a role in {agreements.JOINT_ROLES}")
            grants.append((str(g["user"]), g["role"]))
        sides.append(JointSide(
            county=raw["county"], towns=_strings(raw.get("towns", []), f"{at} towns"),
            co_heads=_strings(raw.get("co_heads", []), f"{at} co_heads"),
            deputy_heads=_strings(raw.get("deputy_heads", []), f"{at} deputy_heads"),
            staff=_strings(raw.get("staff", []), f"{at} staff"),
            deputies=_strings(raw.get("deputies", []), f"{at} deputies"), grants=grants))
    if len(sides) < 2:
        raise PresetError(f"{where}: at least two [[sides]]")
    return JointPreset(name=joint["name"].strip(), slug=joint["slug"].strip(), shares=shares,
                       station={k: str(v) for k, v in station.items()}, sides=sides)


def load_joint_preset(path_or_name: str | Path) -> JointPreset:
    """A joint preset by file path, or by name in app/presets/files/ ("joint-hezhou-fengkai")."""
    path = Path(path_or_name)
    if not path.suffix:
        path = PRESET_DIR / f"{path_or_name}.toml"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PresetError(f"{path}: {exc}") from exc
    return parse_joint_preset(text, where=str(path))


async def _county_and_admin(database: Database, code: str) -> tuple[Tenant, User]:
    async with database.session() as db:
        field_ = Tenant.division_code if code.isdigit() else Tenant.slug
        tenant = await db.scalar(select(Tenant).where(field_ == code, Tenant.kind == "county",
                                                      Tenant.status == "active"))
    if tenant is None:
        raise PresetError(f"joint preset: no active county {code!r} (apply its county preset first)")
    async with database.transaction(tenant_id=tenant.id) as db:
        admin = await db.scalar(select(User).join(Membership, Membership.user_id == User.id).where(
            Membership.tenant_id == tenant.id, Membership.role == "county_admin", Membership.revoked_at.is_(None),
            User.disabled_at.is_(None)).order_by(Membership.id).limit(1))
    if admin is None:
        raise PresetError(f"joint preset: county {code!r} has no county admin to act for it")
    return tenant, admin


async def apply_joint_preset(database: Database, path_or_name: str | Path | JointPreset) -> Applied:
    """Set up the joint station the preset describes (see the module). Idempotent."""
    preset = path_or_name if isinstance(path_or_name, JointPreset) else load_joint_preset(path_or_name)
    async with database.session() as db:
        existing = await db.scalar(select(Tenant).where(Tenant.slug == preset.slug))
    if existing is not None:
        if existing.kind != "joint":
            raise PresetError(f"joint preset: the address {preset.slug!r} is taken by another tenant")
        async with database.transaction(tenant_id=existing.id) as db:
            key = await db.scalar(select(JointAgreement.agreement_key).where(
                JointAgreement.joint_tenant_id == existing.id).limit(1))
        return Applied(joint_tenant_id=existing.id, agreement_key=key, created=False)

    parties = [(side, *await _county_and_admin(database, side.county)) for side in preset.sides]
    first_side, first, first_admin = parties[0]
    async with database.transaction(tenant_id=first.id, user_id=first_admin.id) as db:
        agreement = await agreements.propose(
            db, tenant=first, actor=first_admin, name=preset.name, slug=preset.slug,
            partners=[t.slug for _, t, _ in parties[1:]], side=first_side.side(), shares=preset.shares)
        key = agreement.agreement_key
        for side, tenant, admin in parties[1:]:
            async with as_tenant(db, tenant.id):  # it checks the county's own townships and naming rule
                agreement = await agreements.answer(db, tenant=tenant, actor=admin, key=key, accept=True,
                                                    side=side.side())
        joint_id = agreement.joint_tenant_id
        if joint_id is None:  # cannot happen with every side accepting; say so rather than half-apply
            raise PresetError("joint preset: the joint station was not set up")
        station_id = await agreements.joint_station_id(db, joint_id)
        if preset.station:
            await _profile(db, joint_id, station_id, first_admin, preset.station)
        for side, tenant, admin in parties:
            await _grants(db, tenant, admin, key, side.grants)
            await _join(db, tenant, admin, key, side.deputies)
    return Applied(joint_tenant_id=joint_id, agreement_key=key, created=True)


async def _profile(db, joint_id: int, station_id: int, admin: User, values: dict) -> None:
    """The joint station's profile, as the proposer's admin (a county admin of the joint tenant)."""
    from app.stations import profile
    from app.stations.access import get_station

    scope = Scope(role="county_admin", node_path=None, station_id=None, user_id=admin.id)
    async with as_tenant(db, joint_id):
        ref = await get_station(db, scope, station_id, for_update=True)
        await profile.update_profile(db, ref, {k: values.get(k, getattr(ref.station, k) or "")
                                               for k in STATION_FIELDS}, actor_id=admin.id)


async def _grants(db, tenant: Tenant, admin: User, key, grants: list[tuple[str, str]]) -> None:
    if not grants:
        return
    async with as_tenant(db, tenant.id):
        members = {u.username: u for _, u in await agreements.own_members(db, tenant)}
        for username, role in grants:
            user = members.get(username)
            if user is None:
                continue
            await agreements.grant(db, tenant=tenant, actor=admin, key=key, user_id=user.id, role=role)


async def _join(db, tenant: Tenant, admin: User, key, names: list[str]) -> None:
    if not names:
        return
    async with as_tenant(db, tenant.id):
        ids = list((await db.scalars(select(Deputy.id).where(Deputy.name.in_(names), Deputy.status == "active")
                                     .order_by(Deputy.id))).all())
        if ids:
            await joint_deputies.join(db, tenant=tenant, actor=admin, key=key, deputy_ids=ids)
