"""The tenant's home page lists the coming activities in the member's scope: staff see their
stations' plans for the next two weeks, a deputy only what they are invited to."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.activities.world import HOME, build_activity_county, put_activity
from tests.deputies.deputy_world import signed_in


@pytest.fixture
async def ac(database):
    return await build_activity_county(database)


async def test_home_lists_coming_activities_in_scope(app, database, ac):
    soon = datetime.now(timezone.utc) + timedelta(days=2)
    await put_activity(database, ac, kind="reception", starts_at=soon, status="planned", topic="东街接待日",
                       invited=("张伟",))
    await put_activity(database, ac, kind="training", starts_at=soon, station=HOME, status="planned",
                       topic="镇里培训")
    await put_activity(database, ac, kind="survey", starts_at=soon + timedelta(days=30), status="planned",
                       topic="下个月调研", invited=("张伟",))
    await put_activity(database, ac, kind="visit", starts_at=soon, status="cancelled", topic="取消的走访",
                       invited=("张伟",))
    expected = {"admin": {"东街接待日", "镇里培训"}, "station": {"东街接待日"}, "rep": {"东街接待日"},
                "rep2": set(), "heba": set()}
    for who, topics in expected.items():
        async with signed_in(app, ac.county, who) as client:
            html = (await client.get(f"{client.base}/")).text
        assert "Coming activities (next two weeks)" in html, who
        shown = {t for t in ("东街接待日", "镇里培训", "下个月调研", "取消的走访") if t in html}
        assert shown == topics, who
        if not topics:
            assert "No activity is planned in the next two weeks." in html
