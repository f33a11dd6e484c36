"""Tenant presets (app/presets/files/*.toml): apply idempotently, export from a live tenant.

The format is documented in app/presets/files/README.md. Applying is a platform action: it creates or
updates the tenant row, then writes the tenant's own rows in a transaction bound to that tenant.

What "idempotent" means here: applying the same file twice writes nothing the second time (no row
and no timestamp changes); applying a changed file changes exactly what differs; nothing that may
carry history (a node, a station kind, a checklist item) is ever deleted because the file no longer
lists it. Records are matched by their identity: nodes by their path of names, station kinds,
checklist items, activity kinds and rules by `code`, the configuration by tenant. The activity sections
(activity kinds, rules and their [config] keys) are read, checked and written by
app/presets/activities.py; the case sections (case categories and handling units by `code`, due
rules by level, category and urgency, and their [config] keys) by app/presets/cases.py; the points
scheme by app/presets/points.py, the county's duty settings (`[appraisal]`) by app/presets/appraisal.py.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.activities.models import ActivityKind
from app.cases.settings import CASE_CONFIG_RANGES
from app.core.db import Database
from app.core.i18n import lazy
from app.presets import PresetError, TenantExists
from app.presets.rows import apply_coded, assign
from app.presets import activities as pa
from app.presets import appraisal as preset_appraisal
from app.presets import cases as preset_cases
from app.presets import points as preset_points
from app.stations.models import ChecklistItem, StationKind
from app.tenancy import divisions
from app.tenancy.config import ACTIVITY_CONFIG_RANGES, CODE_RE, SEAT_LEVELS, normalise_seats
from app.tenancy.models import DEFAULT_LIFECYCLE, DIVISION_RE, NODE_KINDS, SLUG_RE, TENANT_KINDS, AdminNode, Tenant, TenantConfig
from app.tenancy.services import add_node

# The shipped presets (package data: `lianluo tenants apply NAME` works from an installed wheel too)
PRESET_DIR = Path(__file__).resolve().parent / "files"
CONFIG_KEYS = ("forbidden_words", "lifecycle", "seats", "checklist_name", "signin_opens_minutes",
               "signin_closes_minutes", "at_risk_days", "photo_originals_mb", "case_reply_days",
               "case_feedback_days", "case_rehandle_limit", "public_limit_per_client", "public_limit_per_station",
               "case_rating_days")
KIND_KEYS = ("name", "node_kinds", "name_pattern", "sort")
ITEM_KEYS = ("label", "sort")


@dataclass
class Preset:
    name: str  # file stem
    tenant: dict
    nodes: list[dict] = field(default_factory=list)
    meta: dict = field(default_factory=dict)  # the [preset] table: title, description, sort
    config: dict | None = None  # the [config] table (keys it lacks are left alone)
    station_kinds: list[dict] = field(default_factory=list)
    checklist: list[dict] = field(default_factory=list)
    activity_kinds: list[dict] = field(default_factory=list)
    rules: list[dict] = field(default_factory=list)  # normalised by app.compliance.rules.check_rule
    # the case sections (app/presets/cases.py)
    case_categories: list[dict] = field(default_factory=list)
    handling_units: list[dict] = field(default_factory=list)
    case_due_rules: list[dict] = field(default_factory=list)
    points_items: list[dict] = field(default_factory=list)  # normalised by app.duties.points.check_item
    appraisal: dict | None = None  # the [appraisal] table as DutySettings' fields (the keys it gives)
    joint: bool = False  # a joint station's preset (app.joint.presets), not a county's

    def title(self, locale: str) -> str:
        """What the preset models, in a few words (the operator chooses by it)."""
        return (self.meta.get("title") or {}).get(locale) or self.name

    def description(self, locale: str) -> str:
        return (self.meta.get("description") or {}).get(locale) or ""


def list_presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


def approval_presets() -> list[Preset]:
    """Every county preset, offered as a starting point to the operator approving a county, by their
    ``sort`` (the first is the one proposed). A demo county's preset is applied as ``starting_point``."""
    presets = [load_preset(name) for name in list_presets()]
    return sorted((p for p in presets if not p.joint), key=lambda p: (p.meta.get("sort", 1000), p.name))


def starting_point(preset: Preset, county: str) -> Preset:
    """What a new county takes from a preset. A demo county's preset models a real county: its
    townships, villages and the units at them belong to that county, and the new county brings its own
    (the spreadsheet import). Kept: the configuration, station kinds (their naming rule with the model
    county's city written as {city}), checklist, kinds of activity, rules, case categories, due rules
    and the county departments, renamed for ``county`` (三台县交通运输局 → 平遥县交通运输局)."""
    if not preset.nodes and not any(u.get("node") for u in preset.handling_units):
        return preset
    model = str(preset.tenant.get("county", ""))
    division = divisions.lookup(str(preset.tenant.get("division_code", "")))
    city = division.city if division is not None and division.city not in divisions.NO_CITY else ""

    def pattern(text: str) -> str:
        return text.replace(city, "{city}") if city and "{city}" not in text else text

    def renamed(name: str) -> str:
        return county + name[len(model):] if model and name.startswith(model) else name

    kinds = [{**k, "name_pattern": pattern(k.get("name_pattern", ""))} for k in preset.station_kinds]
    units = [{**u, "name": renamed(u["name"])[:80]} for u in preset.handling_units if not u.get("node")]
    return replace(preset, nodes=[], station_kinds=kinds, handling_units=units)


def load_preset(path_or_name: str | Path) -> Preset:
    path = Path(path_or_name)
    if not path.suffix:
        path = PRESET_DIR / f"{path_or_name}.toml"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PresetError(f"{path}: {exc}") from exc
    return parse_preset(text, name=path.stem, where=str(path))


def parse_preset(text: str, *, name: str, where: str = "preset") -> Preset:
    """A preset from TOML text, checked (PresetError says what is wrong and where)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PresetError(f"{where}: {exc}") from exc
    nodes = data.get("nodes", [])
    for node in nodes:
        if node.get("kind") not in NODE_KINDS or not node.get("path"):
            raise PresetError(f"{where}: node {node!r} needs a path and a kind in {NODE_KINDS}")
        code = node.get("division_code")
        if code is not None and not re.fullmatch(r"\d{1,12}", str(code)):
            raise PresetError(f"{where}: node {node['path']!r}: division_code has 1 to 12 digits")
    config = data.get("config")
    if config is not None:
        _check_config(config, where)
    kinds = data.get("station_kinds", [])
    _check_coded(kinds, "station_kinds", ("code", "name"), where)
    for kind in kinds:
        bad = [k for k in kind.get("node_kinds", []) if k not in NODE_KINDS]
        if bad:
            raise PresetError(f"{where}: station kind {kind['code']!r}: node_kinds {bad} not in {NODE_KINDS}")
    checklist = data.get("checklist", [])
    _check_coded(checklist, "checklist", ("code", "label"), where)

    activity_kinds = data.get("activity_kinds", [])
    _check_coded(activity_kinds, "activity_kinds", ("code", "name"), where)
    pa.check_activity_kinds(activity_kinds, where)
    rules = data.get("rules", [])
    _check_coded(rules, "rules", ("code", "name"), where)
    points_items = data.get("points_items", [])
    _check_coded(points_items, "points_items", ("code", "name"), where)

    return Preset(name=name, tenant=data.get("tenant", {}), nodes=nodes, meta=data.get("preset", {}),
                  config=config, station_kinds=kinds, checklist=checklist, activity_kinds=activity_kinds,
                  rules=pa.check_rules_shape(rules, where), joint="joint" in data,
                  points_items=preset_points.check_shape(points_items, where),
                  appraisal=preset_appraisal.check_section(data.get("appraisal"), where),
                  **preset_cases.parse_sections(data, where, _check_coded))


def _check_config(config: dict, where: str) -> None:
    unknown = set(config) - set(CONFIG_KEYS)
    if unknown:
        raise PresetError(f"{where}: [config] has unknown keys {sorted(unknown)}")
    lifecycle = config.get("lifecycle")
    if lifecycle is not None:
        allowed = [s for s in DEFAULT_LIFECYCLE if s in lifecycle]
        if (lifecycle != allowed or "proposed" not in lifecycle or "active" not in lifecycle
                or "closed" not in lifecycle):
            raise PresetError(f"{where}: lifecycle must be {DEFAULT_LIFECYCLE} in order, "
                              "optionally without approved and/or filed")
    for level, bounds in (config.get("seats") or {}).items():
        if level not in SEAT_LEVELS or not isinstance(bounds, dict) or set(bounds) - {"min", "max"}:
            raise PresetError(f"{where}: seats.{level}: a level in {SEAT_LEVELS} with min and/or max")

    pa.check_config_ranges(config, where)

    preset_cases.check_config_ranges(config, where)


def _check_coded(rows: list[dict], section: str, required: tuple[str, ...], where: str) -> None:
    seen = set()
    for row in rows:
        missing = [k for k in required if not row.get(k)]
        if missing:
            raise PresetError(f"{where}: [[{section}]] {row!r} lacks {missing}")
        if not CODE_RE.match(str(row["code"])):
            raise PresetError(f"{where}: [[{section}]] code {row['code']!r}: lower-case letters, digits, _ or -")
        if row["code"] in seen:
            raise PresetError(f"{where}: [[{section}]] code {row['code']!r} appears twice")
        seen.add(row["code"])


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
    slug, name, kind, division_code, county, status), add the nodes it lacks, and bring its
    configuration, station kinds, checklist, activity kinds and rules in line with the file.
    Idempotent; deletes nothing. With ``create_only`` an existing slug raises TenantExists instead of
    being updated. A rule naming a kind neither the file nor the tenant has raises PresetError before
    anything is written."""

    spec = {"kind": "county", "status": "active", "timezone": "Asia/Shanghai", **preset.tenant, **identity}
    validate_identity(spec.get("slug", ""), spec.get("name", ""), spec["kind"], spec.get("division_code", ""),
                      spec.get("county", ""))
    async with database.session() as db:
        known = await db.scalar(select(Tenant.id).where(Tenant.slug == spec["slug"]))
    await pa.check_rules_for_tenant(database, preset, None if create_only else known)

    await preset_cases.check_for_tenant(database, preset, None if create_only else known)
    await preset_points.check_for_tenant(database, preset, None if create_only else known)
    async with database.transaction() as db:
        tenant = await db.scalar(select(Tenant).where(Tenant.slug == spec["slug"]))
        if tenant is not None and create_only:
            raise TenantExists(spec["slug"])
        if tenant is None:
            tenant = Tenant(slug=spec["slug"])
            db.add(tenant)
        assign(tenant, name=spec["name"], kind=spec["kind"], division_code=spec["division_code"],
             timezone=spec["timezone"], preset=preset.name)
        if tenant.status is None or "status" in identity:
            assign(tenant, status=spec["status"])
        try:
            await db.flush()
        except IntegrityError as exc:  # the same slug inserted concurrently
            raise TenantExists(spec["slug"]) from exc
        tenant_id = tenant.id
    async with database.transaction(tenant_id=tenant_id) as db:
        await _apply_nodes(db, tenant_id, spec, preset.nodes)
        if preset.config is not None:
            await _apply_config(db, tenant_id, preset.config)
        await apply_coded(db, tenant_id, StationKind, preset.station_kinds, KIND_KEYS)
        await apply_coded(db, tenant_id, ChecklistItem, preset.checklist, ITEM_KEYS)
        await apply_coded(db, tenant_id, ActivityKind, preset.activity_kinds, pa.ACTIVITY_KIND_KEYS)
        await pa.apply_rules(db, tenant_id, preset.rules)
        await preset_points.apply_items(db, tenant_id, preset.points_items)
        await preset_appraisal.apply_section(db, tenant_id, preset.appraisal)
        await preset_cases.apply_sections(db, tenant_id, preset)
    return tenant


async def _apply_nodes(db, tenant_id: int, spec: dict, nodes: list[dict]) -> None:
    all_nodes = (await db.scalars(select(AdminNode).order_by(AdminNode.id))).all()
    existing = {(n.parent_id, n.name): n for n in all_nodes}
    root = next((n for n in all_nodes if n.parent_id is None), None)
    if root is None:
        root = await add_node(db, tenant_id, None, "/", spec["county"], "county", spec["division_code"])
        existing[(None, root.name)] = root
    else:
        assign(root, name=spec["county"])
    by_path = {"": root}
    for node in sorted(nodes, key=lambda n: n["path"].count("/")):
        parent_path, _, name = node["path"].rpartition("/")
        parent = by_path.get(parent_path)
        if parent is None:
            raise PresetError(f"node {node['path']!r}: parent {parent_path!r} is not listed before it")
        found = existing.get((parent.id, name))
        if found is None:
            found = await add_node(db, tenant_id, parent.id, parent.path, name, node["kind"],
                                   node.get("division_code"))
            existing[(parent.id, name)] = found
        else:
            assign(found, kind=node["kind"])
            if node.get("division_code"):
                assign(found, division_code=str(node["division_code"]))
        by_path[node["path"]] = found
    await db.flush()


async def _apply_config(db, tenant_id: int, config: dict) -> None:
    row = await db.get(TenantConfig, tenant_id)
    if row is None:
        row = TenantConfig(tenant_id=tenant_id, forbidden_words=[], lifecycle=list(DEFAULT_LIFECYCLE), seats={},
                           checklist_name="")
        db.add(row)
    values = {k: config[k] for k in CONFIG_KEYS if k in config}
    if "seats" in values:
        values["seats"] = normalise_seats(values["seats"])
    if "forbidden_words" in values:
        values["forbidden_words"] = [str(w).strip() for w in values["forbidden_words"] if str(w).strip()]
    if any(getattr(row, k) != v for k, v in values.items()):

        assign(row, **values)
        row.updated_at = func.now()
    await db.flush()


async def export_preset(database: Database, slug: str) -> str:
    """The live tenant as a preset file (TOML text) that apply_preset reproduces: its tree (retired
    nodes left out, parents before children, siblings in the order they were made), its
    configuration, and its station kinds, checklist items, activity kinds and rules that are not retired."""

    async with database.session() as db:
        tenant = await db.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise PresetError(f"no tenant {slug!r}")
    async with database.session(tenant_id=tenant.id) as db:
        nodes = (await db.scalars(select(AdminNode).where(AdminNode.retired_at.is_(None)).order_by(AdminNode.id))).all()
        config = await db.get(TenantConfig, tenant.id)
        kinds = (await db.scalars(select(StationKind).where(StationKind.retired_at.is_(None))
                                  .order_by(StationKind.sort, StationKind.id))).all()
        items = (await db.scalars(select(ChecklistItem).where(ChecklistItem.retired_at.is_(None))
                                  .order_by(ChecklistItem.sort, ChecklistItem.id))).all()
        activity_sections = await pa.export_sections(db)
        case_sections = await preset_cases.export_sections(db)
        points_items = await preset_points.export_section(db)
        appraisal = await preset_appraisal.export_section(db, tenant.id)
    children: dict[int | None, list[AdminNode]] = {}
    for n in nodes:
        children.setdefault(n.parent_id, []).append(n)
    root = next(iter(children.get(None, [])), None)
    ordered: list[tuple[str, AdminNode]] = []

    def walk(node: AdminNode, prefix: str) -> None:
        for child in children.get(node.id, []):
            path = f"{prefix}{child.name}"
            ordered.append((path, child))
            walk(child, f"{path}/")

    if root is not None:
        walk(root, "")
    out: dict = {
        "tenant": {
            "slug": tenant.slug, "name": tenant.name, "kind": tenant.kind, "division_code": tenant.division_code,
            "county": root.name if root else "", "timezone": tenant.timezone,
        },
        "config": {
            "forbidden_words": list(config.forbidden_words) if config else [],
            "lifecycle": list(config.lifecycle) if config else list(DEFAULT_LIFECYCLE),
            "checklist_name": config.checklist_name if config else "",
            **{k: getattr(config, k) for k in ACTIVITY_CONFIG_RANGES if config is not None},
            **{k: getattr(config, k) for k in CASE_CONFIG_RANGES if config is not None},
            "seats": normalise_seats(config.seats if config else {}),
        },
        "appraisal": appraisal,
        "nodes": [
            {"path": path, "kind": n.kind, **({"division_code": n.division_code} if n.division_code else {})}
            for path, n in ordered
        ],
        "station_kinds": [
            {"code": k.code, "name": k.name, "node_kinds": list(k.node_kinds), "name_pattern": k.name_pattern,
             "sort": k.sort}
            for k in kinds
        ],
        "checklist": [{"code": i.code, "label": i.label, "sort": i.sort} for i in items],
        **activity_sections,
        **case_sections,
        **({"points_items": points_items} if points_items else {}),
    }
    return dumps(out)


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):  # points: one decimal
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + " }" if v else "{}"
    raise TypeError(f"cannot write {v!r} to a preset")


def dumps(data: dict) -> str:
    """The preset layout of app/presets/files/README.md: [tables], then [[arrays of tables]], one key a line;
    a table's sub-tables (config.seats) follow it with their entries as inline tables."""
    parts = []
    for name, body in data.items():
        if isinstance(body, dict):
            plain = {k: v for k, v in body.items() if not isinstance(v, dict)}
            parts.append(f"[{name}]\n" + "".join(f"{k} = {_value(v)}\n" for k, v in plain.items()))
            for sub, table in body.items():
                if isinstance(table, dict):
                    parts.append(f"[{name}.{sub}]\n" + "".join(f"{k} = {_value(v)}\n" for k, v in table.items()))
        else:
            for row in body:
                parts.append(f"[[{name}]]\n" + "".join(f"{k} = {_value(v)}\n" for k, v in row.items()))
    return "\n".join(parts)
