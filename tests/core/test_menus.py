"""Menus by role: no link a person is shown leads to "page not found". Every demo login (the operator
too), in every unit it belongs to, opens its home; every link of the home page and of the menus (the
header and every <nav>) of each page reached answers 200, or redirects to a page that does. And the
sign-in screen, shown on a projector, has no menu at all."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pyotp

from app.demo import DEMO_OPERATOR, DEMO_PASSWORD, DEMO_USERS, load_demo
from tests.activities.world import build_activity_county, put_activity
from tests.crawl import all_links, broken, main_links, nav_links, visit, walk
from tests.deputies.deputy_world import signed_in
from tests.factories import csrf_from, login, totp_code


async def _sign_in(client, username: str) -> None:
    client.cookies.clear()
    response = await login(client, username, DEMO_PASSWORD)
    assert response.status_code == 303, (username, response.text)


async def _my_units(client) -> list[str]:
    """The homes of the units this person belongs to, read from the unit switcher."""
    switcher = await visit(client, "/tenants")
    assert switcher.status == 200
    return [u for u in main_links(switcher.text) if u.startswith("/t/")]


async def _crawl_home(client, home: str, seen: set[str]) -> dict:
    first = await visit(client, home)
    assert first.status == 200, (home, first.status)
    seen.add(home)
    # the home's own links and its menus; then the menus of every page reached
    return {home: first, **await walk(client, [*main_links(first.text), *nav_links(first.text)], seen=seen)}


async def test_every_link_in_the_menus_opens_for_every_demo_login(client, database, owner_sql):
    await load_demo(database)
    failures, units_seen, pages = {}, {}, 0
    for username in dict.fromkeys(u[0] for u in DEMO_USERS):
        await _sign_in(client, username)
        units = await _my_units(client)
        units_seen[username] = units
        seen: set[str] = set()
        for home in units:
            visits = await _crawl_home(client, home, seen)
            pages += len(visits)
            failures.update({f"{username} {u}": why for u, why in broken(visits).items()})
    # every demo membership was crawled (liaison-both works in two counties, 邓小燕 also in the joint station)
    for username, _, slug, _, _ in DEMO_USERS:
        assert f"/t/{slug}/" in units_seen[username], (username, units_seen[username])
    assert "/t/pumen-fengkai/" in units_seen["pumen-staff"]

    secret = pyotp.random_base32()
    await owner_sql("UPDATE users SET totp_secret = $1, totp_enabled_at = now() WHERE username = $2",
                    secret, DEMO_OPERATOR[0])
    await _sign_in(client, DEMO_OPERATOR[0])
    totp = await client.get("/ops/totp")
    response = await client.post("/ops/totp", data={"code": totp_code(secret), "_csrf_token": csrf_from(totp.text)},
                                 follow_redirects=False)
    assert response.headers.get("location") == "/ops/", response.text
    visits = await _crawl_home(client, "/ops/", set())
    pages += len(visits)
    failures.update({f"{DEMO_OPERATOR[0]} {u}": why for u, why in broken(visits).items()})

    assert pages > 100  # the crawl went somewhere
    assert not failures, "\n".join(f"{k}: {v}" for k, v in sorted(failures.items()))


async def test_the_sign_in_screen_is_full_screen_with_only_the_way_back(app, database):
    """The QR code on the projector: no staff menu, no header, one link back to the sign-in page."""
    ac = await build_activity_county(database)
    soon = datetime.now(timezone.utc) + timedelta(minutes=5)  # sign-in open
    activity_id = await put_activity(database, ac, kind="reception", starts_at=soon, status="planned",
                                     invited=("张伟",))
    async with signed_in(app, ac.county, "station") as staff:
        screen = await staff.get(f"{staff.base}/activities/{activity_id}/screen")
    assert screen.status_code == 200 and "<svg" in screen.text  # the code is shown
    assert all_links(screen.text) == [f"{staff.base}/activities/{activity_id}/signin"]
    assert "<nav" not in screen.text and "<header" not in screen.text and "/logout" not in screen.text
