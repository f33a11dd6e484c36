"""Writing a preset's rows: a coded list's rows matched by code (added or updated in place), and only
the values that differ assigned, so re-applying an unchanged preset writes nothing."""

from __future__ import annotations

from sqlalchemy import select

from app.stations.models import StationKind


def assign(obj, **values) -> None:
    """Assign only what differs, so an unchanged row is not written."""
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)


async def apply_coded(db, tenant_id: int, model, rows: list[dict], keys: tuple[str, ...]) -> None:
    if not rows:
        return
    existing = {r.code: r for r in (await db.scalars(select(model))).all()}
    for n, row in enumerate(rows):
        values = {k: row[k] for k in keys if k in row}
        if "sort" not in values:
            values["sort"] = (n + 1) * 10
        if "node_kinds" in values:
            values["node_kinds"] = list(values["node_kinds"])
        record = existing.get(row["code"])
        if record is None:
            defaults = {"node_kinds": [], "name_pattern": ""} if model is StationKind else {}
            db.add(model(tenant_id=tenant_id, code=row["code"], **{**defaults, **values}))
        else:
            assign(record, **values)
    await db.flush()
