"""The list of activities: who sees which, upcoming first, filters as plain links and as an htmx
partial, paging; and the byte budgets of the list and the activity page, and a query count that does
not grow with the number of activities."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from app.activities.models import ActivityEvent, ActivityPhoto, Attendance, Opinion
from app.core.images import store_image
from tests.activities.test_activity_world import soon
from tests.activities.world import EAST, HOME, TZ, build_activity_county, local, put_activity
from tests.deputies.deputy_world import signed_in, text_of

KB = 1024


@pytest.fixture
async def ac(database):
    return await build_activity_county(database)


async def test_each_role_sees_its_activities(app, database, ac):
    east = await put_activity(database, ac, kind="reception", starts_at=local(2025, 3, 1), topic="东街接待",
                              invited=("张伟",))
    home = await put_activity(database, ac, kind="training", starts_at=local(2025, 3, 2), station=HOME,
                              topic="镇里培训")
    seen = {"admin": {"东街接待", "镇里培训"}, "viewer": {"东街接待", "镇里培训"}, "town": {"东街接待", "镇里培训"},
            "heba": set(), "station": {"东街接待"}, "rep": {"东街接待"}, "rep2": set()}
    for who, expected in seen.items():
        async with signed_in(app, ac.county, who) as client:
            html = (await client.get(f"{client.base}/activities")).text
            assert {t for t in ("东街接待", "镇里培训") if t in html} == expected, who
            for topic, aid in (("东街接待", east), ("镇里培训", home)):
                status = (await client.get(f"{client.base}/activities/{aid}")).status_code
                assert status == (200 if topic in expected else 404), (who, topic)
    async with signed_in(app, ac.county, "handler") as client:
        assert (await client.get(f"{client.base}/activities")).status_code == 404


async def test_upcoming_first_then_latest_past(app, database, ac):
    for topic, start in (("去年", local(2025, 1, 5)), ("上月", datetime.now(TZ) - timedelta(days=30)),
                         ("下周", soon(7)), ("明天", soon(1)), ("下月", soon(30))):
        await put_activity(database, ac, kind="visit", starts_at=start, topic=topic,
                           status="planned" if start > datetime.now(TZ) else "held")
    async with signed_in(app, ac.county, "admin") as client:
        text = text_of((await client.get(f"{client.base}/activities")).text)
    order = sorted(("去年", "上月", "下周", "明天", "下月"), key=text.index)
    assert order == ["明天", "下周", "下月", "上月", "去年"]


async def test_filters_by_station_kind_status_and_month(app, database, ac):
    await put_activity(database, ac, kind="reception", starts_at=local(2025, 3, 1), topic="三月接待")
    await put_activity(database, ac, kind="training", starts_at=local(2025, 4, 2), topic="四月培训", station=HOME)
    await put_activity(database, ac, kind="reception", starts_at=local(2025, 4, 9), topic="四月取消", status="cancelled")
    async with signed_in(app, ac.county, "admin") as client:
        async def listed(query: str) -> set[str]:
            html = (await client.get(f"{client.base}/activities?{query}")).text
            return {t for t in ("三月接待", "四月培训", "四月取消") if t in html}

        assert await listed("") == {"三月接待", "四月培训", "四月取消"}
        assert await listed(f"station={ac.stations[EAST]}") == {"三月接待", "四月取消"}
        assert await listed(f"kind={ac.kinds['training']}") == {"四月培训"}
        assert await listed("status=cancelled") == {"四月取消"}
        assert await listed("month=2025-04") == {"四月培训", "四月取消"}
        assert await listed("month=2025-13") == {"三月接待", "四月培训", "四月取消"}  # not a month: ignored
        assert await listed(f"month=2025-04&kind={ac.kinds['reception']}") == {"四月取消"}
        # the same filter answered as an htmx partial: only the list, not the page
        r = await client.get(f"{client.base}/activities?month=2025-03",
                             headers={"HX-Request": "true", "HX-Target": "activity-list"})
        assert r.status_code == 200 and "三月接待" in r.text and "四月培训" not in r.text
        assert "<html" not in r.text and "HX-Request" in r.headers["vary"]
        assert len(r.content) <= 5 * KB


async def test_paging(app, database, ac):
    for i in range(53):
        await put_activity(database, ac, kind="visit", starts_at=local(2025, 1, 1) + timedelta(days=i),
                           topic=f"走访{i:02d}")
    async with signed_in(app, ac.county, "admin") as client:
        first = text_of((await client.get(f"{client.base}/activities")).text)
        assert "走访52" in first and "走访02" not in first and "Page 1 of 2" in first
        second = text_of((await client.get(f"{client.base}/activities?page_no=2")).text)
        assert "走访02" in second and "走访52" not in second


async def _queries(app, ac, path: str) -> int:
    async with signed_in(app, ac.county, "admin") as client:
        await client.get(client.base + path)  # the first entry into the tenant is recorded once
        r = await client.get(client.base + path)
        assert r.status_code == 200
        return int(r.headers["x-query-count"])


async def _activities(database, ac, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        aid = await put_activity(database, ac, kind="reception", starts_at=local(2025, 1, 1) + timedelta(days=i),
                                 invited=("张伟", "李娜"), present=("张伟",))
        async with database.transaction(tenant_id=ac.tenant.id) as db:
            db.add(ActivityEvent(tenant_id=ac.tenant.id, activity_id=aid, action="rescheduled", data={}))


async def test_query_count_does_not_grow_with_activities(app, database, ac):
    await _activities(database, ac, 3)
    few = await _queries(app, ac, "/activities")
    await _activities(database, ac, 40, start=3)
    assert await _queries(app, ac, "/activities") == few
    assert few <= 12


async def _busy_activity(database, ac) -> int:
    """An activity with everything on its page: four deputies, attendance, photos, opinions, history."""
    aid = await put_activity(database, ac, kind="reception", starts_at=datetime.now(TZ) - timedelta(hours=1),
                             status="planned", invited=("李娜", "王强", "赵敏"), present=("张伟",))
    t = ac.tenant.id
    async with database.transaction(tenant_id=t) as db:
        db.add(Attendance(tenant_id=t, activity_id=aid, deputy_id=ac.deputies["李娜"], method="staff",
                          on_behalf_reason="手机没电，由联络员代签", late=True))
        for n in range(6):
            image = await store_image(db, t, _png())
            db.add(ActivityPhoto(tenant_id=t, activity_id=aid, image_id=image.id, caption=f"现场{n}"))
            db.add(Opinion(tenant_id=t, activity_id=aid, station_id=ac.stations[EAST], received_on=local(2025, 1, 1).date(),
                           raised_by="居民", content="希望增加社区停车位，晚上车辆乱停影响消防通道。" * 3))
            db.add(ActivityEvent(tenant_id=t, activity_id=aid, action="rescheduled", note="场地调整",
                                 data={"from": [local(2025, 1, 1).isoformat(), local(2025, 1, 1, 11).isoformat()],
                                       "to": [local(2025, 1, 2).isoformat(), local(2025, 1, 2, 11).isoformat()]}))
    return aid


def _png() -> bytes:
    import io

    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (40, 40), (10, 120, 30)).save(out, "PNG")
    return out.getvalue()


async def test_pages_within_the_html_budget(app, database, ac):
    await _activities(database, ac, 60)
    aid = await _busy_activity(database, ac)
    async with signed_in(app, ac.county, "admin") as client:
        for path in ("/activities", f"/activities/{aid}", "/activities/new", f"/activities/new?station={ac.stations[EAST]}"):
            async with client.stream("GET", client.base + path, headers={"Accept-Encoding": "br"}) as r:
                raw = b"".join([chunk async for chunk in r.aiter_raw()])
            assert r.status_code == 200, path
            assert len(raw) <= 14 * KB, f"{path}: {len(raw)} B"
        r = await client.get(f"{client.base}/activities", headers={"HX-Request": "true", "HX-Target": "activity-list"})
        async with client.stream("GET", client.base + "/activities", headers={
                "Accept-Encoding": "br", "HX-Request": "true", "HX-Target": "activity-list"}) as r:
            raw = b"".join([chunk async for chunk in r.aiter_raw()])
        assert len(raw) <= 5 * KB, f"partial: {len(raw)} B"
