"""A station's years: the star rating kept per year when it is scored (and for stations scored before
migration 0025), shown on its page; the county's yearly model homes and stations (示范点) with reason
and date, counted against the guide, audited, seen within each member's places."""

from __future__ import annotations

import importlib.util
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from app.stations import checklist
from app.stations.access import get_station
from app.tenancy.scope import Scope
from tests.stations.places import add_station, county, person, post, snapshot
from tests.stations.places import sign_in as sign_in_as
from tests.stations.test_station_checklist import form_for

MIGRATION = Path(__file__).parents[2] / "app/migrations/versions/0025_station_years.py"


async def sign_in(client, username: str) -> None:
    """Signed in, reading the English texts."""
    await sign_in_as(client, username)
    client.cookies.set("lang", "en")


def county_today() -> date:
    """Today in the county's zone (Asia/Shanghai), as the pages see it."""
    return datetime.now(timezone(timedelta(hours=8))).date()


def _admin_scope(c) -> Scope:
    return Scope(role="county_admin", node_path=None, station_id=None, user_id=c.users["admin"].id)


async def _score(database, c, sid: int, met: set[str], now: datetime) -> int:
    async with database.transaction(tenant_id=c.tenant.id) as db:
        ref = await get_station(db, _admin_scope(c), sid)
        return await checklist.score_checklist(db, ref, form_for(c, met), actor_id=c.users["admin"].id, now=now)


async def test_the_rating_is_kept_per_year(client, database, owner_sql):
    c = await county(database)
    sid = await add_station(database, c, c.canonical("北坝村"), status="active")
    await person(database, c, "admin")
    four = {"place", "sign", "equipment", "rules"}
    await _score(database, c, sid, four, datetime(2025, 6, 1, tzinfo=timezone.utc))  # 4/8 → 3 stars
    await _score(database, c, sid, set(c.items), datetime(2025, 9, 1, tzinfo=timezone.utc))  # the same year: 5
    # 17:00 UTC on New Year's Eve is 1 January in Beijing: the rating of 2026
    await _score(database, c, sid, four | {"info"}, datetime(2025, 12, 31, 17, 0, tzinfo=timezone.utc))
    rows = await owner_sql("SELECT year, stars, met, items FROM station_star_ratings ORDER BY year")
    assert [tuple(r) for r in rows] == [(2025, 5, 8, 8), (2026, 3, 5, 8)]
    await sign_in(client, "admin")
    page = (await client.get(f"{c.base}/stations/{sid}")).text
    years = page.split('id="years"')[1].split("</section>")[0]
    assert years.index("2026") < years.index("2025") and "★★★☆☆" in years and "★★★★★" in years
    assert "5 / 8" in years and "2026-01-01" in years
    assert "Not yet selected as a model home or station." in page


async def test_scoring_through_the_page_keeps_this_years_rating(client, database, owner_sql):
    c = await county(database)
    sid = await add_station(database, c, c.canonical("北坝村"), status="active")
    await person(database, c, "admin")
    await sign_in(client, "admin")
    assert (await post(client, c, f"/stations/{sid}/checklist", form_for(c, {"place"}))).status_code == 303
    this_year = county_today().year
    rows = await owner_sql("SELECT year, stars FROM station_star_ratings WHERE station_id = $1", sid)
    assert [tuple(r) for r in rows] == [(this_year, 1)]


async def test_stations_scored_before_the_migration_get_their_year(database, owner_sql):
    spec = importlib.util.spec_from_file_location("migration_0025", MIGRATION)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    c = await county(database)
    sid = await add_station(database, c, c.canonical("北坝村"), status="active")
    other = await add_station(database, c, c.canonical("东街社区"), node="东街社区", status="active")
    await person(database, c, "admin")
    await _score(database, c, sid, {"place", "sign", "equipment", "rules", "info", "records", "manager"},
                 datetime(2024, 12, 31, 16, 30, tzinfo=timezone.utc))  # 7/8 → 4 stars, 2025 in Beijing
    await owner_sql("UPDATE checklist_items SET retired_at = now() WHERE code = 'organisation'")  # 7/7 now
    await owner_sql("DELETE FROM station_star_ratings")
    await owner_sql(migration.BACKFILL)
    rows = await owner_sql("SELECT station_id, year, stars, met, items FROM station_star_ratings")
    assert [tuple(r) for r in rows] == [(sid, 2025, 5, 7, 7)]
    assert other


# --- model homes and stations ---------------------------------------------------------------------

async def _model_world(database):
    c = await county(database)
    stations = {
        "home": await add_station(database, c, "alpha县潼川镇人大代表之家", node="潼川镇", kind="home", status="active"),
        "beiba": await add_station(database, c, c.canonical("北坝村"), status="active"),
        "east": await add_station(database, c, c.canonical("东街社区"), node="东街社区", status="filed"),
        "xin": await add_station(database, c, c.canonical("新村", "河坝乡"), node="新村", status="active"),
    }
    await person(database, c, "admin")
    await person(database, c, "viewer", "viewer")
    await person(database, c, "tongchuan", "township_staff", scope="潼川镇")
    await person(database, c, "heba", "township_staff", scope="河坝乡")
    await person(database, c, "liaison", "station_staff", station_id=stations["beiba"])
    await person(database, c, "unit", "handling_unit")
    return c, stations


def _form(station_id: int, year: int, reason: str = "接待群众多、办理意见及时", day: str | None = None) -> dict:
    return {"station_id": str(station_id), "year": str(year), "reason": reason,
            "selected_on": day or county_today().isoformat()}


async def test_county_admins_select_models_with_reason_and_date(client, database, owner_sql):
    c, st = await _model_world(database)
    year = county_today().year
    await sign_in(client, "admin")
    page = await client.get(f"{c.base}/stations/models")
    assert page.status_code == 200 and "guide 3–5 a year" in page.text and "guide 15–20 a year" in page.text
    r = await post(client, c, "/stations/models", _form(st["beiba"], year, day=f"{year}-01-05"))
    assert r.status_code == 303 and r.headers["location"].endswith(f"/stations/models?year={year}&done=selected")
    assert (await post(client, c, "/stations/models", _form(st["home"], year))).status_code == 303
    page = (await client.get(f"{c.base}/stations/models?year={year}")).text
    assert "接待群众多、办理意见及时" in page and f"{year}-01-05" in page
    counted = page.split("<ul class=\"list\">")[1].split("</ul>")[0]
    assert "Model homes: <strong>1</strong>" in counted and "Model stations: <strong>1</strong>" in counted
    rows = await owner_sql("SELECT station_id, year, reason, selected_on FROM model_stations ORDER BY id")
    assert [(r[0], r[1], r[3]) for r in rows] == [(st["beiba"], year, date(year, 1, 5)), (st["home"], year, county_today())]
    audit = await owner_sql("SELECT target, details FROM audit_log WHERE action = 'model_station_selected' ORDER BY id")
    assert len(audit) == 2 and audit[0]["target"] == f"station:{st['beiba']}" and "接待群众多" in audit[0]["details"]
    # the station's page shows its model year
    station_page = (await client.get(f"{c.base}/stations/{st['beiba']}")).text
    assert f"Model of {year}" in station_page and "接待群众多、办理意见及时" in station_page
    # the form no longer offers a station selected this year
    form = page.split('id="select"')[1]
    assert f'value="{st["beiba"]}"' not in form and f'value="{st["xin"]}"' in form


async def test_bad_selections_are_refused_with_nothing_written(client, database, owner_sql):
    c, st = await _model_world(database)
    year = county_today().year
    await sign_in(client, "admin")
    assert (await post(client, c, "/stations/models", _form(st["beiba"], year))).status_code == 303
    await client.get(f"{c.base}/stations")
    before = (await snapshot(owner_sql, c.tenant))["audit_log"]
    tomorrow = (county_today() + timedelta(days=1)).isoformat()
    for form, message in ((_form(st["beiba"], year), "already a model of"),
                          (_form(st["east"], year), "in operation"),  # filed, not yet in operation
                          (_form(999999, year), "in operation"),
                          (_form(st["xin"], year, reason=" "), "reason for the selection"),
                          (_form(st["xin"], year, reason="长" * 501), "reason for the selection"),
                          (_form(st["xin"], year, day=tomorrow), "date of the decision"),
                          (_form(st["xin"], year, day="2026-02-30"), "date of the decision"),
                          (_form(st["xin"], year - 9), "year of the selection")):
        r = await post(client, c, "/stations/models", form)
        assert r.status_code == 400 and message in r.text, form
    assert (await owner_sql("SELECT count(*) FROM model_stations"))[0][0] == 1
    assert (await snapshot(owner_sql, c.tenant))["audit_log"] == before


async def test_who_sees_and_who_selects(client, database, owner_sql):
    c, st = await _model_world(database)
    year = county_today().year
    await sign_in(client, "admin")
    for key in ("beiba", "xin", "home"):
        assert (await post(client, c, "/stations/models", _form(st[key], year))).status_code == 303
    selection = (await owner_sql("SELECT id FROM model_stations WHERE station_id = $1", st["xin"]))[0][0]
    beiba, xin, home = (c.canonical("北坝村"), c.canonical("新村", "河坝乡"), "alpha县潼川镇人大代表之家")
    expected = {"viewer": {beiba, xin, home}, "tongchuan": {beiba, home}, "heba": {xin}, "liaison": {beiba}}
    for who, names in expected.items():
        await sign_in(client, who)
        page = await client.get(f"{c.base}/stations/models?year={year}")
        assert page.status_code == 200, who
        listed = page.text.split('id="selected"')[1].split("</section>")[0]
        assert {n for n in (beiba, xin, home) if n in listed} == names, who
        assert 'id="select"' not in page.text and "Withdraw the selection" not in page.text
        # only the county's administrators select and withdraw
        assert (await post(client, c, "/stations/models", _form(st["beiba"], year - 1))).status_code == 404
        assert (await post(client, c, f"/stations/models/{selection}/withdraw")).status_code == 404
        assert ("guide 3–5" in page.text) == (who == "viewer")  # the county's counts
    await sign_in(client, "unit")
    assert (await client.get(f"{c.base}/stations/models")).status_code == 404
    assert (await owner_sql("SELECT count(*) FROM model_stations"))[0][0] == 3


async def test_a_selection_is_withdrawn_and_audited(client, database, owner_sql):
    c, st = await _model_world(database)
    year = county_today().year
    await sign_in(client, "admin")
    await post(client, c, "/stations/models", _form(st["xin"], year))
    selection = (await owner_sql("SELECT id FROM model_stations"))[0][0]
    r = await post(client, c, f"/stations/models/{selection}/withdraw")
    assert r.status_code == 303 and r.headers["location"].endswith(f"year={year}&done=withdrawn")
    assert (await owner_sql("SELECT count(*) FROM model_stations"))[0][0] == 0
    audit = await owner_sql("SELECT target FROM audit_log WHERE action = 'model_station_withdrawn'")
    assert [r[0] for r in audit] == [f"station:{st['xin']}"]
    assert (await post(client, c, f"/stations/models/{selection}/withdraw")).status_code == 404
