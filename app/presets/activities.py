"""The activity sections of a tenant preset: ``[[activity_kinds]]``, ``[[rules]]`` and the sign-in,
at-risk and photo keys of ``[config]`` (format: app/presets/files/README.md; the rest is app/presets/services.py).

A rule is checked with ``app.compliance.rules.check_rule`` — the same check as the rules form — twice:
when the file is read (everything that does not depend on the tenant: period, minimum, subject …) and
before anything is applied (its kinds must be listed in the file or exist in the tenant). A bad rule
raises PresetError naming the rule; nothing of the preset is applied then.
"""

from __future__ import annotations

from sqlalchemy import select

from app.core.errors import Refusal
from app.tenancy.config import ACTIVITY_CONFIG_RANGES
from app.presets import PresetError
from app.presets.rows import assign

ACTIVITY_KIND_KEYS = ("name", "sort")
RULE_KEYS = ("name", "subject", "counts", "kind_codes", "period", "minimum", "min_deputies", "station_kind_codes",
             "deputy_levels", "at_risk_days", "at_risk_pace", "sort")
KIND_NAME_MAX = 40


def check_config_ranges(config: dict, where: str) -> None:
    for key, (low, high) in ACTIVITY_CONFIG_RANGES.items():
        if key not in config:
            continue
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise PresetError(f"{where}: [config] {key} is a whole number from {low} to {high}")


def check_activity_kinds(kinds: list[dict], where: str) -> None:
    for kind in kinds:
        if len(str(kind["name"])) > KIND_NAME_MAX:
            raise PresetError(f"{where}: activity kind {kind['code']!r}: name has at most {KIND_NAME_MAX} characters")
        unknown = set(kind) - {"code", *ACTIVITY_KIND_KEYS}
        if unknown:
            raise PresetError(f"{where}: activity kind {kind['code']!r} has unknown keys {sorted(unknown)}")


def _rule_error(where: str, rule: dict, exc: Exception) -> PresetError:
    return PresetError(f"{where}: rule {rule.get('code')!r} ({rule.get('name', '')}): {exc}")


def check_rules_shape(rules: list[dict], where: str) -> list[dict]:
    """Each rule checked as far as the file alone allows (its kinds are checked at apply time).
    Returns the rules normalised, with ``sort`` kept where given."""
    from app.compliance.rules import check_risk, check_rule

    out = []
    for rule in rules:
        unknown = set(rule) - {"code", *RULE_KEYS}
        if unknown:
            raise PresetError(f"{where}: rule {rule.get('code')!r} has unknown keys {sorted(unknown)}")
        try:
            values = check_rule(rule, kind_codes=set(_list(rule.get("kind_codes"))),
                                station_kind_codes=set(_list(rule.get("station_kind_codes"))))
            # TOML has no null: an absent at_risk_days is the county's setting, an absent pace is on
            values.update(check_risk({"at_risk_pace": True, **rule}, values["period"]))
        except Refusal as exc:
            raise _rule_error(where, rule, exc) from exc
        if "sort" in rule:
            if isinstance(rule["sort"], bool) or not isinstance(rule["sort"], int):
                raise PresetError(f"{where}: rule {rule['code']!r}: sort is a whole number")
            values["sort"] = rule["sort"]
        out.append(values)
    return out


def _list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else []


async def check_rules_for_tenant(database, preset, tenant_id: int | None) -> None:
    """Every rule's kinds of activity and of station are in the file or live in the tenant (a rule the
    tenant has retired may still name retired kinds: it stays retired). PresetError otherwise; runs
    before anything is written."""
    if not preset.rules:
        return
    from app.activities.models import ActivityKind
    from app.activities.models import Rule
    from app.compliance.rules import check_rule
    from app.stations.models import StationKind

    live_kinds, all_kinds, live_stations, all_stations, retired_rules = set(), set(), set(), set(), set()
    if tenant_id is not None:
        async with database.session(tenant_id=tenant_id) as db:
            pairs = ((ActivityKind, live_kinds, all_kinds), (StationKind, live_stations, all_stations))
            for model, live, every in pairs:
                for code, retired in (await db.execute(select(model.code, model.retired_at))).all():
                    every.add(code)
                    if retired is None:
                        live.add(code)
            retired_rules = set((await db.scalars(select(Rule.code).where(Rule.retired_at.is_not(None)))).all())
    file_kinds = {k["code"] for k in preset.activity_kinds}
    file_stations = {k["code"] for k in preset.station_kinds}
    for rule in preset.rules:
        if rule["code"] in retired_rules:
            kinds, stations = file_kinds | all_kinds, file_stations | all_stations
        else:  # a file's kind the tenant retired is not brought back, so it does not count
            kinds = (file_kinds - (all_kinds - live_kinds)) | live_kinds
            stations = (file_stations - (all_stations - live_stations)) | live_stations
        try:
            check_rule(rule, kind_codes=kinds, station_kind_codes=stations)
        except Refusal as exc:
            raise _rule_error(preset.name, rule, exc) from exc


async def apply_rules(db, tenant_id: int, rules: list[dict]) -> None:
    """Rules by code: a new one is added, a listed one gets exactly the file's values (a rule is
    described whole: an omitted condition means none), an unlisted or retired one is left alone."""
    from app.activities.models import Rule

    if not rules:
        return
    existing = {r.code: r for r in (await db.scalars(select(Rule))).all()}
    for n, rule in enumerate(rules):
        values = {k: rule[k] for k in RULE_KEYS if k in rule}
        values.setdefault("sort", (n + 1) * 10)
        record = existing.get(rule["code"])
        if record is None:
            db.add(Rule(tenant_id=tenant_id, code=rule["code"], **values))
        else:
            assign(record, **values)
    await db.flush()


async def export_sections(db) -> dict:
    """The live activity kinds and rules (not retired), in their order, as preset sections."""
    from app.activities.models import ActivityKind
    from app.activities.models import Rule

    kinds = (await db.scalars(select(ActivityKind).where(ActivityKind.retired_at.is_(None))
                              .order_by(ActivityKind.sort, ActivityKind.id))).all()
    rules = (await db.scalars(select(Rule).where(Rule.retired_at.is_(None)).order_by(Rule.sort, Rule.id))).all()
    return {
        "activity_kinds": [{"code": k.code, "name": k.name, "sort": k.sort} for k in kinds],
        "rules": [_rule_row(r) for r in rules],
    }


def _rule_row(rule) -> dict:
    row = {"code": rule.code, "name": rule.name, "subject": rule.subject, "counts": rule.counts,
           "kind_codes": list(rule.kind_codes), "period": rule.period, "minimum": rule.minimum}
    if rule.min_deputies is not None:  # TOML has no null: absent means no condition
        row["min_deputies"] = rule.min_deputies
    if rule.at_risk_days is not None:
        row["at_risk_days"] = rule.at_risk_days
    row.update(station_kind_codes=list(rule.station_kind_codes), deputy_levels=list(rule.deputy_levels),
               at_risk_pace=rule.at_risk_pace, sort=rule.sort)
    return row
