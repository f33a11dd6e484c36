"""(No tests here: the shared set-up of the test_activity_* files.) Form data for a new activity,
times relative to now in the county's zone, and a way to read one section of a page."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.activities.world import EAST, TZ
from tests.deputies.deputy_world import post


def section(html: str, anchor: str) -> str:
    """The part of a page from the element with this id to the next section."""
    start = html.index(f'id="{anchor}"')
    end = html.find("<section", start)
    return html[start:end if end > 0 else None]


def soon(days: int = 3) -> datetime:
    return (datetime.now(TZ) + timedelta(days=days)).replace(hour=9, minute=0, second=0, microsecond=0)


def form(ac, *, station: str | None = EAST, day: datetime | None = None, kind: str = "reception", **more) -> dict:
    day = day or soon()
    data = {"kind_id": str(ac.kinds[kind]), "day": day.strftime("%Y-%m-%d"), "start": "09:00", "end": "11:30",
            "place": "东街社区活动室", "topic": "听取居民意见"}
    if station:
        data["station"] = str(ac.stations[station])
    return {**data, **more}


async def arrange(client, ac, **more) -> int:
    """Arrange an activity through the form (as the signed-in member); its id."""
    r = await post(client, f"{client.base}/activities/new", form(ac, **more))
    assert r.status_code == 303, r.text
    return int(r.headers["location"].split("/activities/")[1].split("?")[0])
