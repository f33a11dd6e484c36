"""Many cases at once for the list, statistics and ledger tests (a multi-row INSERT, no checks)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import insert, select

from app.cases.models import Case
from app.cases.services import new_receipt_code
from app.stations.models import Station
from tests.cases.world import EAST, CaseCounty


async def many_cases(database, cc: CaseCounty, n: int, *, station: str = EAST, start: datetime | None = None,
                     **fields) -> None:
    t = cc.tenant.id
    start = start or datetime.now(timezone.utc) - timedelta(days=30)
    async with database.transaction(tenant_id=t) as db:
        node_id = await db.scalar(select(Station.node_id).where(Station.id == cc.stations[station]))
        await db.execute(insert(Case), [dict(
            tenant_id=t, receipt_code=new_receipt_code(), source="reception", content=f"第{i}号问题：村道坑洼需要修补",
            category_id=cc.categories["roads"], node_id=node_id, station_id=cc.stations[station],
            state=("registered", "assigned", "replied", "closed")[i % 4], person_name=f"村民{i}",
            person_mobile=f"139{i:08d}", handling_unit_id=cc.units["transport"] if i % 4 else None,
            created_at=start + timedelta(minutes=i), **fields) for i in range(n)])
