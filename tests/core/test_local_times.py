"""Times are shown in the county's zone everywhere. Records stamped at 23:30 UTC (07:30 the next day in
Shanghai): a stationing and its end, a deputy's status note, a station's history step, an activity with
a signature, a case, an audit entry. Every page that shows them, crawled as the county admin, shows the
Shanghai date and never the UTC one."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from sqlalchemy import insert, update

from app.audit.models import AuditEntry
from app.deputies.models import Deputy, StationDeputy
from app.stations.models import StationEvent
from tests.activities.world import EAST, TZ, put_activity
from tests.cases.world import build_case_county, put_case
from tests.crawl import broken, walk
from tests.deputies.deputy_world import signed_in


async def _stamp_records(database, cc, stamp: datetime) -> dict[str, int]:
    """Records of the fixture county at ``stamp``; returns their ids."""
    t = cc.tenant.id
    ids = {"activity": await put_activity(database, cc.ac, kind="reception", starts_at=stamp, status="planned",
                                          present=("张伟",), topic="夜间接待")}
    ids["case"] = (await put_case(database, cc, created_at=stamp)).id
    async with database.transaction(tenant_id=t) as db:
        # 张伟 stationed at that moment; 李娜 left office then (her stationing ended, with a note)
        await db.execute(update(StationDeputy).where(StationDeputy.deputy_id == cc.deputies["张伟"])
                         .values(assigned_at=stamp - timedelta(hours=1)))
        await db.execute(update(StationDeputy).where(StationDeputy.deputy_id == cc.deputies["李娜"])
                         .values(assigned_at=stamp - timedelta(days=30), ended_at=stamp))
        await db.execute(update(Deputy).where(Deputy.id == cc.deputies["李娜"]).values(status="resigned"))
        await db.execute(insert(AuditEntry).values(
            tenant_id=t, actor_user_id=cc.users["admin"].id, action="deputy_status_changed", at=stamp,
            target=f"deputy:{cc.deputies['李娜']} 李娜", details={"from": "active", "to": "resigned", "note": "辞职"}))
        db.add(StationEvent(tenant_id=t, station_id=cc.stations[EAST], action="activated", from_status="filed",
                            to_status="active", actor_user_id=cc.users["admin"].id, at=stamp))
    return ids


async def test_pages_show_the_county_date_of_a_late_utc_evening(app, database):
    now = datetime.now(timezone.utc)
    # late evening in UTC, a few days ahead (so the home page lists the activity as coming): the next
    # morning in Shanghai
    stamp = datetime.combine((now + timedelta(days=3)).date(), time(23, 30), tzinfo=timezone.utc)
    shanghai, utc = stamp.astimezone(TZ).strftime("%m-%d"), stamp.strftime("%m-%d")
    assert shanghai != utc
    cc = await build_case_county(database)
    ids = await _stamp_records(database, cc, stamp)
    base = f"/t/{cc.slug}"
    pages = [
        f"{base}/", f"{base}/deputies/{cc.deputies['张伟']}", f"{base}/deputies/{cc.deputies['李娜']}",
        f"{base}/stations/{cc.stations[EAST]}", f"{base}/cases", f"{base}/cases/{ids['case']}",
        f"{base}/activities", f"{base}/activities/{ids['activity']}", f"{base}/audit",
    ]
    async with signed_in(app, cc.county, "admin") as client:
        visits = await walk(client, pages, also=None)
    assert broken(visits) == {}
    wrong = {url: "no county date" if shanghai not in v.text else "the UTC date"
             for url, v in visits.items() if shanghai not in v.text or utc in v.text}
    assert wrong == {}
