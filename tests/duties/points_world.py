"""Helpers for the points tests: the activity county (tests/activities/world.py: four deputies at
东街社区, 张伟 the member `rep`), a scheme with caps and a deduction, and duty entries written
straight into the database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from app.duties.models import DutyEntry
from app.duties.point_models import PointsItem


async def put_entry(database, ac, deputy: str, kind: str, day: date, status: str = "approved") -> None:
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        db.add(DutyEntry(tenant_id=ac.tenant.id, deputy_id=ac.deputies[deputy], day=day, kind=kind,
                         text=f"{kind} {day}", status=status, reject_reason="不属实" if status == "rejected" else ""))


async def put_scheme(database, ac) -> dict[str, int]:
    """speech 3 (at most 5 a quarter), leave −1 (at most −1 a month), inspection 3 (at most 9 a year),
    reception attended 2 (county-level deputies only)."""
    items = [
        ("speech", "审议发言", "entry", "speech", "3", "quarter", "5", []),
        ("leave", "请假半天", "entry", "leave", "-1", "month", "1", []),
        ("inspection", "视察调研", "entry", "inspection", "3", "year", "9", []),
        ("reception", "参加接待选民", "activity", "reception", "2", None, None, ["county"]),
    ]
    out = {}
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        for n, (code, name, source, source_code, points, cap_period, cap_points, levels) in enumerate(items):
            item = PointsItem(tenant_id=ac.tenant.id, code=code, name=name, source=source, source_code=source_code,
                              points=Decimal(points), cap_period=cap_period,
                              cap_points=Decimal(cap_points) if cap_points else None, deputy_levels=levels, sort=n)
            db.add(item)
            await db.flush()
            out[code] = item.id
    return out
