"""Helpers for the workbench tests: the cases tests' county (tests/cases/world.py: two townships, four
stations, members of every role, three handling units with a user each), the items a home shows, and
the number of rows the list behind an item's link shows."""

from __future__ import annotations

import re
from html import unescape
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import update

from app.activities.models import Activity, Rule
from tests.activities.world import TZ
from tests.compliance.compliance_world import put_rules
from tests.deputies.deputy_world import signed_in, text_of

HEBA = "河坝村人大代表联络站"
ITEM = re.compile(r'<li id="work-([\w-]+)"[^>]*>\s*(?:<a href="([^"]*)">|<span>)(.*?)<b>([^<]*)</b>', re.S)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def today() -> date:
    return datetime.now(TZ).date()


def items(html: str) -> dict[str, tuple[str | None, str]]:
    """key -> (link, value as shown) of every workbench item on a page."""
    return {key: (unescape(link) or None, value.strip()) for key, link, _label, value in ITEM.findall(html)}


def values(html: str) -> dict[str, str]:
    return {key: value for key, (_link, value) in items(html).items()}


async def listed(client, link: str) -> int:
    """How many rows the list at ``link`` says it shows (cases, activities, stations)."""
    r = await client.get(link)
    assert r.status_code == 200, (link, r.status_code)
    path = link.split("?")[0].split("#")[0]
    if path.endswith("/stations"):
        return int(re.search(r'<h1>[^<]*<span class="muted">\((\d+)\)</span>', r.text).group(1))
    kind = "cases" if path.endswith("/cases") else "activities"
    found = re.search(rf"(\d+) {kind}", text_of(r.text))
    assert found, (link, text_of(r.text)[:500])
    return int(found.group(1))


async def home(app, county, who: str, *, lang: str = "en") -> tuple[str, int]:
    """(the home page, its query count) as this member, after a first visit (entering the tenant is
    recorded once)."""
    async with signed_in(app, county, who) as client:
        client.cookies.set("lang", lang)
        await client.get(f"{client.base}/")
        r = await client.get(f"{client.base}/")
        assert r.status_code == 200, r.text[:2000]
        return r.text, int(r.headers["x-query-count"])


async def check_links(app, county, who: str, html: str, keys) -> None:
    """Each item's link answers 200 and its list shows exactly the item's count."""
    found = items(html)
    async with signed_in(app, county, who) as client:
        for key in keys:
            link, value = found[key]
            assert link, key
            assert await listed(client, link) == int(value), (who, key, link, value)


async def reception_rule(database, ac, *, at_risk_days: int = 31) -> int:
    """Each station holds a reception every month; a station without one this month is at risk from
    the month's first day (the rule's own at-risk days cover the whole month)."""
    ids = await put_rules(database, ac, [dict(code="reception", name="每月一次接待选民", subject="station",
                                              counts="activities", kind_codes=["reception"], period="month",
                                              minimum=1)])
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        await db.execute(update(Rule).where(Rule.id == ids["reception"]).values(at_risk_days=at_risk_days))
    return ids["reception"]


async def set_people(database, ac, activity_id: int, people: int) -> None:
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        await db.execute(update(Activity).where(Activity.id == activity_id).values(people_received=people))


def days(n: int) -> date:
    return today() + timedelta(days=n)
