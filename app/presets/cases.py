"""The case sections of a tenant preset: ``[[case_categories]]``, ``[[handling_units]]``,
``[[case_due_rules]]`` and the case keys of ``[config]`` (format: app/presets/files/README.md; the rest is
app/presets/services.py).

Identities: categories and units by ``code``; a due rule by (level, category code, urgency), where a
key left out (or "any") matches any. A unit's ``node`` is a path of names below the county ("潼川镇",
"潼川镇/北坝村"), required for township-level units. What the file alone can tell is checked when it
is read; the nodes and categories a unit or rule names must be in the file or live in the tenant,
checked before anything is written (PresetError naming the row; nothing of the preset applied).
"""

from __future__ import annotations

from sqlalchemy import select

from app.cases.models import UNIT_KINDS, URGENCIES
from app.cases.settings import CASE_CONFIG_RANGES, KIND_LEVELS, RULE_LEVELS
from app.presets import PresetError
from app.presets.rows import apply_coded, assign

CATEGORY_KEYS = ("name", "sort")
UNIT_KEYS = ("name", "kind", "level", "node", "sort")
DUE_RULE_KEYS = ("level", "category", "urgency", "reply_days", "feedback_days", "working_days")


def check_config_ranges(config: dict, where: str) -> None:
    for key, (low, high) in CASE_CONFIG_RANGES.items():
        if key not in config:
            continue
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise PresetError(f"{where}: [config] {key} is a whole number from {low} to {high}")


def _unknown(row: dict, keys: tuple[str, ...], what: str, where: str) -> None:
    unknown = set(row) - {"code", *keys}
    if unknown:
        raise PresetError(f"{where}: {what} has unknown keys {sorted(unknown)}")


def _sort(row: dict, what: str, where: str) -> None:
    if "sort" in row and (isinstance(row["sort"], bool) or not isinstance(row["sort"], int)):
        raise PresetError(f"{where}: {what}: sort is a whole number")


def check_categories(rows: list[dict], where: str) -> None:
    for row in rows:
        what = f"case category {row['code']!r}"
        _unknown(row, CATEGORY_KEYS, what, where)
        if len(str(row["name"])) > 40:
            raise PresetError(f"{where}: {what}: name has at most 40 characters")
        _sort(row, what, where)


def check_units(rows: list[dict], where: str) -> None:
    for row in rows:
        what = f"handling unit {row['code']!r}"
        _unknown(row, UNIT_KEYS, what, where)
        if len(str(row["name"])) > 80:
            raise PresetError(f"{where}: {what}: name has at most 80 characters")
        kind, level, node = row.get("kind"), row.get("level"), str(row.get("node", "")).strip("/")
        if kind not in UNIT_KINDS:
            raise PresetError(f"{where}: {what}: kind is one of {UNIT_KINDS}")
        if level not in KIND_LEVELS[kind]:
            raise PresetError(f"{where}: {what}: a {kind} is at level {' or '.join(KIND_LEVELS[kind])}")
        if level == "township" and not node:
            raise PresetError(f"{where}: {what}: a township-level unit needs its node (a path like \"潼川镇\")")
        _sort(row, what, where)


def rule_identity(row: dict) -> tuple:
    return tuple(None if row.get(k) in (None, "", "any") else row[k] for k in ("level", "category", "urgency"))


def check_due_rules(rows: list[dict], where: str) -> list[dict]:
    """The rules normalised: "any" becomes an absent key; working_days defaults to true."""
    out, seen = [], set()
    for row in rows:
        what = f"case due rule {row!r}"
        _unknown(row, DUE_RULE_KEYS, what, where)
        level, category, urgency = rule_identity(row)
        if level not in (None, *RULE_LEVELS) or urgency not in (None, *URGENCIES):
            raise PresetError(f"{where}: {what}: level is any, township or county; urgency any, normal or urgent")
        for key in ("reply_days", "feedback_days"):
            value = row.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 365:
                raise PresetError(f"{where}: {what}: {key} is a whole number from 1 to 365")
        if not isinstance(row.get("working_days", True), bool):
            raise PresetError(f"{where}: {what}: working_days is true or false")
        if (level, category, urgency) in seen:
            raise PresetError(f"{where}: {what}: another rule has the same level, category and urgency")
        seen.add((level, category, urgency))
        clean = {k: v for k, v in zip(("level", "category", "urgency"), (level, category, urgency)) if v is not None}
        out.append({**clean, "reply_days": row["reply_days"], "feedback_days": row["feedback_days"],
                    "working_days": row.get("working_days", True)})
    return out


def parse_sections(data: dict, where: str, check_coded) -> dict:
    """The three sections of a parsed TOML file, checked (``check_coded`` is presets._check_coded)."""
    categories = data.get("case_categories", [])
    check_coded(categories, "case_categories", ("code", "name"), where)
    check_categories(categories, where)
    units = data.get("handling_units", [])
    check_coded(units, "handling_units", ("code", "name"), where)
    check_units(units, where)
    rules = check_due_rules(data.get("case_due_rules", []), where)
    return {"case_categories": categories, "handling_units": units, "case_due_rules": rules}


async def _node_paths(db) -> dict[str, int]:
    """Live nodes below the county by their path of names ("潼川镇/北坝村")."""
    from app.tenancy.models import AdminNode

    nodes = (await db.scalars(select(AdminNode).where(AdminNode.retired_at.is_(None)))).all()
    by_id = {n.id: n for n in nodes}
    out = {}
    for node in nodes:
        names, current = [], node
        while current is not None and current.parent_id is not None:
            names.append(current.name)
            current = by_id.get(current.parent_id)
        if current is not None and names:
            out["/".join(reversed(names))] = node.id
    return out


async def check_for_tenant(database, preset, tenant_id: int | None) -> None:
    """Each unit's node is in the file or the tenant; each rule's category likewise. Runs before
    anything is written."""
    from app.cases.models import CaseCategory

    if not preset.handling_units and not preset.case_due_rules:
        return
    paths, codes = set(), set()
    if tenant_id is not None:
        async with database.session(tenant_id=tenant_id) as db:
            paths = set(await _node_paths(db))
            codes = set((await db.scalars(select(CaseCategory.code))).all())
    paths |= {str(n["path"]).strip("/") for n in preset.nodes}
    codes |= {c["code"] for c in preset.case_categories}
    for unit in preset.handling_units:
        node = str(unit.get("node", "")).strip("/")
        if node and node not in paths:
            raise PresetError(f"{preset.name}: handling unit {unit['code']!r}: no node {node!r} in the file or tenant")
    for rule in preset.case_due_rules:
        if rule.get("category") and rule["category"] not in codes:
            raise PresetError(f"{preset.name}: case due rule {rule!r}: no case category {rule['category']!r}")


async def apply_sections(db, tenant_id: int, preset) -> None:
    """Categories and units by code, rules by identity: added when new, brought in line when listed,
    left alone when not listed; nothing deleted, nothing retired brought back."""
    from app.cases.models import CaseCategory, DueRule
    from app.tenancy.models import HandlingUnit

    await apply_coded(db, tenant_id, CaseCategory, preset.case_categories, CATEGORY_KEYS)
    if preset.handling_units:
        paths = await _node_paths(db)
        existing = {u.code: u for u in (await db.scalars(select(HandlingUnit))).all()}
        for n, row in enumerate(preset.handling_units):
            node = str(row.get("node", "")).strip("/")
            values = {"name": row["name"], "kind": row["kind"], "level": row["level"],
                      "node_id": paths[node] if node else None, "sort": row.get("sort", (n + 1) * 10)}
            unit = existing.get(row["code"])
            if unit is None:
                db.add(HandlingUnit(tenant_id=tenant_id, code=row["code"], **values))
            else:
                assign(unit, **values)
        await db.flush()
    if preset.case_due_rules:
        categories = {c.code: c.id for c in (await db.scalars(select(CaseCategory))).all()}
        rules = (await db.scalars(select(DueRule).order_by(DueRule.id))).all()
        ids = {v: k for k, v in categories.items()}
        existing = {}
        for rule in rules:
            existing.setdefault((rule.level, ids.get(rule.category_id), rule.urgency), rule)
        for row in preset.case_due_rules:
            key = rule_identity(row)
            values = {k: row[k] for k in ("reply_days", "feedback_days", "working_days")}
            rule = existing.get(key)
            if rule is None:
                db.add(DueRule(tenant_id=tenant_id, level=key[0], category_id=categories[key[1]] if key[1] else None,
                               urgency=key[2], **values))
            else:
                assign(rule, **values)
        await db.flush()


async def export_sections(db) -> dict:
    """The live categories and units (not retired; a unit whose node was retired is left out, as the
    node is) and every due rule, as preset sections."""
    from app.cases.models import CaseCategory, DueRule
    from app.tenancy.models import HandlingUnit

    categories = (await db.scalars(select(CaseCategory).where(CaseCategory.retired_at.is_(None))
                                   .order_by(CaseCategory.sort, CaseCategory.id))).all()
    codes = {c.id: c.code for c in categories}
    units = (await db.scalars(select(HandlingUnit).where(HandlingUnit.retired_at.is_(None))
                              .order_by(HandlingUnit.sort, HandlingUnit.id))).all()
    paths = {v: k for k, v in (await _node_paths(db)).items()}
    rules = (await db.scalars(select(DueRule).order_by(DueRule.id))).all()
    out_units = []
    for u in units:
        if u.node_id is not None and u.node_id not in paths:
            continue
        row = {"code": u.code, "name": u.name, "kind": u.kind, "level": u.level}
        if u.node_id is not None:
            row["node"] = paths[u.node_id]
        out_units.append({**row, "sort": u.sort})
    out_rules = []
    for r in rules:
        if r.category_id is not None and r.category_id not in codes:
            continue  # its category is retired: the rule no longer applies to new cases
        identity = {"level": r.level, "category": codes.get(r.category_id), "urgency": r.urgency}
        out_rules.append({**{k: v for k, v in identity.items() if v is not None}, "reply_days": r.reply_days,
                          "feedback_days": r.feedback_days, "working_days": r.working_days})
    return {
        "case_categories": [{"code": c.code, "name": c.name, "sort": c.sort} for c in categories],
        "handling_units": out_units,
        # by identity, so that the order does not depend on the order the rows were made in
        "case_due_rules": sorted(out_rules, key=lambda r: tuple(r.get(k, "") for k in ("level", "category", "urgency"))),
    }
