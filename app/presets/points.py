"""The `[[points_items]]` section of a preset: a county's duty points scheme (app.duties.points).

An item is checked with ``app.duties.points.check_item`` — the same check as the settings form — when
the file is read (what it counts, points, cap, levels) and again when applied (a kind of activity it
counts must be in the file or live in the tenant). Items are matched by `code`: a listed one gets
exactly the file's values, an unlisted or retired one is left alone. Exported so that export → apply
→ export is identical."""

from __future__ import annotations

from sqlalchemy import select

from app.core.errors import Refusal
from app.presets import PresetError
from app.presets.rows import assign

KEYS = ("name", "counts", "points", "cap_period", "cap_points", "deputy_levels", "sort")
NAME_MAX = 40


def _values(item: dict) -> dict:
    """A preset's item as the form's fields (TOML numbers as the text a person would type)."""
    return {"counts": item.get("counts"), "points": str(item.get("points", "")),
            "cap_period": item.get("cap_period", ""),
            "cap_points": str(item["cap_points"]) if "cap_points" in item else "",
            "levels": item.get("deputy_levels", [])}


def _error(where: str, item: dict, exc: Exception) -> PresetError:
    return PresetError(f"{where}: points item {item.get('code')!r} ({item.get('name', '')}): {exc}")


def check_shape(items: list[dict], where: str) -> list[dict]:
    """Each item checked as far as the file alone allows; returns them normalised with their order."""
    from app.duties.points import check_item

    out = []
    for n, item in enumerate(items):
        unknown = set(item) - {"code", *KEYS}
        if unknown:
            raise PresetError(f"{where}: points item {item.get('code')!r} has unknown keys {sorted(unknown)}")
        name = " ".join(str(item.get("name") or "").split())
        if not name or len(name) > NAME_MAX:
            raise PresetError(f"{where}: points item {item.get('code')!r}: a name of at most {NAME_MAX} characters")
        try:
            values = check_item(_values(item), None)
        except Refusal as exc:
            raise _error(where, item, exc) from exc
        sort = item.get("sort", (n + 1) * 10)
        if isinstance(sort, bool) or not isinstance(sort, int):
            raise PresetError(f"{where}: points item {item['code']!r}: sort is a whole number")
        out.append({"code": item["code"], "name": name, **values, "sort": sort})
    return out


async def check_for_tenant(database, preset, tenant_id: int | None) -> None:
    """A kind of activity an item counts is in the file or live in the tenant; PresetError otherwise,
    before anything is written."""
    wanted = [i for i in preset.points_items if i["source"] == "activity"]
    if not wanted:
        return
    from app.activities.models import ActivityKind

    live = set()
    if tenant_id is not None:
        async with database.session(tenant_id=tenant_id) as db:
            live = set((await db.scalars(select(ActivityKind.code).where(ActivityKind.retired_at.is_(None)))).all())
    known = live | {k["code"] for k in preset.activity_kinds}
    for item in wanted:
        if item["source_code"] not in known:
            raise PresetError(f"{preset.name}: points item {item['code']!r} counts the kind of activity "
                              f"{item['source_code']!r}, which neither the file nor the county has")


async def apply_items(db, tenant_id: int, items: list[dict]) -> None:
    from app.duties.point_models import PointsItem

    if not items:
        return
    existing = {i.code: i for i in (await db.scalars(select(PointsItem))).all()}
    for item in items:
        values = {k: v for k, v in item.items() if k != "code"}
        record = existing.get(item["code"])
        if record is None:
            db.add(PointsItem(tenant_id=tenant_id, code=item["code"], **values))
        else:
            assign(record, **values)
    await db.flush()


async def export_section(db) -> list[dict]:
    """The live items (not retired), in their order, as the preset section."""
    from app.duties.point_models import PointsItem

    rows = (await db.scalars(select(PointsItem).where(PointsItem.retired_at.is_(None))
                             .order_by(PointsItem.sort, PointsItem.id))).all()
    out = []
    for i in rows:
        row = {"code": i.code, "name": i.name, "counts": f"{i.source}:{i.source_code}", "points": float(i.points)}
        if i.cap_period:  # TOML has no null: absent means no cap
            row.update(cap_period=i.cap_period, cap_points=float(i.cap_points))
        row.update(deputy_levels=list(i.deputy_levels), sort=i.sort)
        out.append(row)
    return out
