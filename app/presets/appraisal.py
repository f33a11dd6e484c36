"""The `[appraisal]` table of a preset: the county's duty settings (app.duties.settings) — the
appraisal's thresholds, the rectification report and its days, the public appraisal board and the
public duty reports.

Checked when the file is read by ``app.duties.settings.check``, the settings page's own check. As with
`[config]`, a key the table leaves out is left as it is live; the two thresholds come together (one
alone could not be checked against the other). Applying writes only what differs; export writes every
key, so that export → apply → export is identical."""

from __future__ import annotations

from dataclasses import replace

from app.core.errors import Refusal
from app.presets import PresetError

# the file's keys → DutySettings' fields
FIELDS = {"excellent": "excellent", "pass": "pass_", "rectification": "rectification", "report_days": "report_days",
          "public_board": "public_board", "public_duty_reports": "public_duty_reports"}
WHOLE = ("excellent", "pass", "report_days")
SWITCHES = ("rectification", "public_duty_reports")


def _form_value(key: str, value, where: str) -> str:
    """A TOML value as the settings form would send it, its type checked."""
    if key in WHOLE:
        if isinstance(value, bool) or not isinstance(value, int):
            raise PresetError(f"{where}: [appraisal] {key} is a whole number")
        return str(value)
    if key in SWITCHES:
        if not isinstance(value, bool):
            raise PresetError(f"{where}: [appraisal] {key} is true or false")
        return "on" if value else ""
    if not isinstance(value, str):
        raise PresetError(f"{where}: [appraisal] {key} is a text")
    return value


def check_section(table: dict | None, where: str) -> dict | None:
    """The table's values as DutySettings' fields (only the keys it gives), or PresetError."""
    from app.duties.settings import DutySettings, check

    if table is None:
        return None
    if not isinstance(table, dict):
        raise PresetError(f"{where}: [appraisal] is a table")
    unknown = set(table) - set(FIELDS)
    if unknown:
        raise PresetError(f"{where}: [appraisal] has unknown keys {sorted(unknown)}")
    if ("excellent" in table) != ("pass" in table):
        raise PresetError(f"{where}: [appraisal] gives excellent and pass together")
    given = {key: _form_value(key, value, where) for key, value in table.items()}
    try:
        checked = check({**DutySettings().form(), **given})
    except Refusal as exc:
        raise PresetError(f"{where}: [appraisal]: {exc}") from exc
    return {FIELDS[key]: getattr(checked, FIELDS[key]) for key in table}


async def apply_section(db, tenant_id: int, values: dict | None) -> None:
    """The file's values over the live settings; nothing written when nothing differs."""
    from app.duties import settings

    if not values:
        return
    live = await settings.duty_settings(db, tenant_id)
    wanted = replace(live, **values)
    if wanted != live:
        await settings.write(db, tenant_id, wanted)


async def export_section(db, tenant_id: int) -> dict:
    """The live settings (the defaults where the county saved none) as the preset's table."""
    from app.duties.settings import duty_settings

    live = await duty_settings(db, tenant_id)
    return {key: getattr(live, field) for key, field in FIELDS.items()}
