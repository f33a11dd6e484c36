"""Tenant presets (tenants/*.toml): apply idempotently, export from a live tenant.

The format is documented in tenants/README.md. Applying is a platform action: it creates or
updates the tenant row, then writes the tenant's own rows in a transaction bound to that tenant.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.core.db import Database
from app.core.i18n import lazy
from app.core.settings import ROOT
from app.tenancy.models import NODE_KINDS, TENANT_KINDS, AdminNode, Tenant

PRESET_DIR = ROOT / "tenants"
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")
DIVISION_RE = re.compile(r"^\d{6}$")


class PresetError(ValueError):
    pass


class TenantExists(PresetError):
    """apply_preset(create_only=True) found the slug taken (perhaps a moment ago, by someone else)."""


@dataclass
class Preset:
    name: str  # file stem
    tenant: dict
    nodes: list[dict] = field(default_factory=list)
    meta: dict = field(default_factory=dict)  # the [preset] table: approval, label

    def label(self, locale: str) -> str:
        return self.meta.get("label", {}).get(locale) or self.name


def list_presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


def approval_presets() -> list[Preset]:
    """Presets meant for a newly approved county (``approval = true``); the demo counties' presets,
    which carry their own townships, are not among them."""
    presets = [load_preset(name) for name in list_presets()]
    return [p for p in presets if p.meta.get("approval")]


def load_preset(path_or_name: str | Path) -> Preset:
    path = Path(path_or_name)
    if not path.suffix:
        path = PRESET_DIR / f"{path_or_name}.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PresetError(f"{path}: {exc}") from exc
    tenant = data.get("tenant", {})
    nodes = data.get("nodes", [])
    for node in nodes:
        if node.get("kind") not in NODE_KINDS or not node.get("path"):
            raise PresetError(f"{path}: node {node!r} needs a path and a kind in {NODE_KINDS}")
    return Preset(name=path.stem, tenant=tenant, nodes=nodes, meta=data.get("preset", {}))


def validate_identity(slug: str, name: str, kind: str, division_code: str, county: str) -> None:
    if not SLUG_RE.match(slug or ""):
        raise PresetError(lazy("The short name may use lower-case letters, digits and hyphens (2 to 40)."))
    if not name or len(name) > 120:
        raise PresetError(lazy("The name is required (at most 120 characters)."))
    if kind not in TENANT_KINDS:
        raise PresetError(f"kind must be one of {TENANT_KINDS}")
    if not DIVISION_RE.match(division_code or ""):
        raise PresetError(lazy("The administrative division code has 6 digits."))
    if not county:
        raise PresetError("the county (root node) name is required")


async def apply_preset(database: Database, preset: Preset, *, create_only: bool = False, **identity) -> Tenant:
    """Create or update the tenant the preset describes (``identity`` overrides its [tenant] table:
    slug, name, kind, division_code, county, status) and add the nodes it lacks. Idempotent.
    With ``create_only`` an existing slug raises TenantExists instead of being updated."""
    spec = {"kind": "county", "status": "active", "timezone": "Asia/Shanghai", **preset.tenant, **identity}
    validate_identity(spec.get("slug", ""), spec.get("name", ""), spec["kind"], spec.get("division_code", ""),
                      spec.get("county", ""))
    async with database.transaction() as db:
        tenant = await db.scalar(select(Tenant).where(Tenant.slug == spec["slug"]))
        if tenant is not None and create_only:
            raise TenantExists(spec["slug"])
        if tenant is None:
            tenant = Tenant(slug=spec["slug"])
            db.add(tenant)
        tenant.name = spec["name"]
        tenant.kind = spec["kind"]
        tenant.division_code = spec["division_code"]
        tenant.timezone = spec["timezone"]
        tenant.preset = preset.name
        if tenant.status is None or "status" in identity:
            tenant.status = spec["status"]
        try:
            await db.flush()
        except IntegrityError as exc:  # the same slug inserted concurrently
            raise TenantExists(spec["slug"]) from exc
        tenant_id = tenant.id
    async with database.transaction(tenant_id=tenant_id) as db:
        existing = {(n.parent_id, n.name): n for n in (await db.scalars(select(AdminNode))).all()}
        root = await _ensure_node(db, existing, tenant_id, None, spec["county"], "county", spec["division_code"])
        by_path = {"": root}
        for node in sorted(preset.nodes, key=lambda n: n["path"].count("/")):
            parent_path, _, name = node["path"].rpartition("/")
            parent = by_path.get(parent_path)
            if parent is None:
                raise PresetError(f"node {node['path']!r}: parent {parent_path!r} is not listed before it")
            by_path[node["path"]] = await _ensure_node(
                db, existing, tenant_id, parent.id, name, node["kind"], node.get("division_code")
            )
    return tenant


async def _ensure_node(db, existing, tenant_id, parent_id, name, kind, division_code) -> AdminNode:
    node = existing.get((parent_id, name))
    if node is None:
        parent_path = "/" if parent_id is None else next(n.path for n in existing.values() if n.id == parent_id)
        node = await add_node(db, tenant_id, parent_id, parent_path, name, kind, division_code)
        existing[(parent_id, name)] = node
    return node


async def add_node(db, tenant_id, parent_id, parent_path, name, kind, division_code=None) -> AdminNode:
    """Insert a node and give it its materialised path (which needs its id). Does not commit."""
    node = AdminNode(tenant_id=tenant_id, parent_id=parent_id, name=name, kind=kind, division_code=division_code,
                     path="")
    db.add(node)
    await db.flush()
    node.path = f"{parent_path}{node.id}/"
    await db.flush()
    return node


async def export_preset(database: Database, slug: str) -> str:
    """The live tenant as a preset file (TOML text) that apply_preset reproduces."""
    async with database.session() as db:
        tenant = await db.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise PresetError(f"no tenant {slug!r}")
    async with database.session(tenant_id=tenant.id) as db:
        nodes = (await db.scalars(select(AdminNode).where(AdminNode.retired_at.is_(None)).order_by(AdminNode.id))).all()
    by_id = {n.id: n for n in nodes}
    root = next((n for n in nodes if n.parent_id is None), None)

    def path(n: AdminNode) -> str:
        parts = []
        while n.parent_id is not None:
            parts.append(n.name)
            n = by_id[n.parent_id]
        return "/".join(reversed(parts))

    out = {
        "tenant": {
            "slug": tenant.slug, "name": tenant.name, "kind": tenant.kind, "division_code": tenant.division_code,
            "county": root.name if root else "", "timezone": tenant.timezone,
        },
        "nodes": [
            {"path": path(n), "kind": n.kind, **({"division_code": n.division_code} if n.division_code else {})}
            for n in nodes if n.parent_id is not None
        ],
    }
    return tomli_w.dumps(out)
