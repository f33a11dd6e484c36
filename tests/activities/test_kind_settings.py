"""The county's kinds of activity (/settings/activity-kinds) and the activity settings of the county
settings page: add, rename, reorder, retire (refused while a rule counts the kind), bad input refused
with nothing written, county admins only."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.activities import kind_services
from app.activities.models import ActivityKind, Rule
from app.activities.services import KIND_REQUIRED, active_kind
from app.core.errors import Refusal
from app.tenancy.models import TenantConfig
from tests.activities.world import build_activity_county, local, put_activity
from tests.deputies.deputy_world import count, post, signed_in, text_of

BASE = "/settings/activity-kinds"


async def _kind(database, ac, code: str = "", name: str = "") -> ActivityKind:
    where = ActivityKind.code == code if code else ActivityKind.name == name
    async with database.session(tenant_id=ac.tenant.id) as db:
        return await db.scalar(select(ActivityKind).where(where))


async def test_only_county_admins_reach_the_kinds(app, database):
    ac = await build_activity_county(database)
    urls = [BASE, f"{BASE}/{ac.kinds['visit']}"]
    for username in ("town", "viewer", "station", "rep"):
        async with signed_in(app, ac.county, username) as client:
            for url in urls:
                assert (await client.get(client.base + url)).status_code == 404, (username, url)
            for url in urls + [f"{BASE}/{ac.kinds['visit']}/retire"]:
                r = await post(client, client.base + url, {"name": "x", "sort": "1"})
                assert r.status_code == 404, (username, url)
    assert (await _kind(database, ac, "visit")).retired_at is None


async def test_add_rename_and_retire_a_kind(app, database, owner_sql):
    ac = await build_activity_county(database)
    async with signed_in(app, ac.county, "admin") as client:
        page = await client.get(client.base + BASE)
        assert page.status_code == 200 and "接待选民" in page.text and "民主评议" in page.text
        settings = await client.get(client.base + "/settings")
        assert f'href="{client.base}{BASE}"' in settings.text
        assert f'href="{client.base}/settings/rules"' in settings.text

        r = await post(client, client.base + BASE, {"name": " 代表 接访日 ", "sort": "5"})
        assert r.status_code == 303 and r.headers["location"] == f"{client.base}{BASE}?done=added"
        added = await _kind(database, ac, name="代表 接访日")
        assert added.sort == 5 and added.code not in ac.kinds  # a code is made up when none is given
        r = await post(client, client.base + BASE, {"name": "法律咨询", "code": "legal", "sort": "200"})
        assert r.status_code == 303
        page = await client.get(client.base + BASE + "?done=added")
        assert "has been added" in page.text
        assert page.text.index("接待选民") < page.text.index("代表 接访日") < page.text.index("走访选区") < page.text.index("法律咨询")

        url = f"{client.base}{BASE}/{added.id}"
        r = await post(client, url, {"name": "接访日", "sort": "300"}, page=url)
        assert r.status_code == 303
        renamed = await _kind(database, ac, added.code)
        assert (renamed.name, renamed.sort, renamed.id) == ("接访日", 300, added.id)

        r = await post(client, f"{url}/retire", page=url)
        assert r.status_code == 303 and r.headers["location"] == f"{client.base}{BASE}?done=retired"
        assert (await _kind(database, ac, added.code)).retired_at is not None
        page = await client.get(url)
        assert "Retire this kind of activity" not in page.text
        r = await post(client, f"{url}/retire", page=url)
        assert r.status_code == 400 and "already retired" in r.text
    actions = [r["action"] for r in await owner_sql(
        "SELECT action FROM audit_log WHERE action LIKE 'activity_kind%' ORDER BY id")]
    assert actions == ["activity_kind_saved"] * 3 + ["activity_kind_retired"]


async def test_bad_kinds_are_refused_and_nothing_written(app, database, owner_sql):
    ac = await build_activity_county(database)
    before = await count(owner_sql, "activity_kinds")
    async with signed_in(app, ac.county, "admin") as client:
        for data, message in (
            ({"name": ""}, "name of the kind of activity is required"),
            ({"name": "字" * 41}, "at most 40"),
            ({"name": "接待选民"}, "already called “接待选民”"),
            ({"name": "新类型", "sort": "first"}, "whole number"),
            ({"name": "新类型", "code": "Bad Code"}, "lower-case"),
            ({"name": "新类型", "code": "visit"}, "already has the code “visit”"),
        ):
            r = await post(client, client.base + BASE, data)
            assert r.status_code == 400 and message in text_of(r.text), (data, text_of(r.text)[:400])
        url = f"{client.base}{BASE}/{ac.kinds['visit']}"
        r = await post(client, url, {"name": "调研视察", "sort": "1"}, page=url)
        assert r.status_code == 400 and "already called" in r.text
    assert await count(owner_sql, "activity_kinds") == before
    assert (await _kind(database, ac, "visit")).name == "走访选区"
    assert await count(owner_sql, "audit_log", "action LIKE 'activity_kind%'") == 0


async def test_a_kind_counted_by_a_rule_cannot_be_retired(app, database, owner_sql):
    ac = await build_activity_county(database)
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        db.add(Rule(tenant_id=ac.tenant.id, code="monthly", name="每月接待选民一次", subject="station",
                    kind_codes=["reception", "visit"], period="month", minimum=1))
        db.add(Rule(tenant_id=ac.tenant.id, code="old", name="旧规范", subject="station", kind_codes=["survey"],
                    period="year", minimum=1, retired_at=local(2025, 1, 1)))
    async with signed_in(app, ac.county, "admin") as client:
        url = f"{client.base}{BASE}/{ac.kinds['visit']}"
        page = await client.get(url)
        assert "每月接待选民一次" in page.text and "Retire this kind of activity" not in page.text
        r = await post(client, f"{url}/retire", page=url)
        assert r.status_code == 400 and "The rule “每月接待选民一次” counts this kind" in r.text
        assert (await _kind(database, ac, "visit")).retired_at is None
        listing = await client.get(client.base + BASE)
        assert "每月接待选民一次" in listing.text
        # a retired rule does not hold its kinds
        url = f"{client.base}{BASE}/{ac.kinds['survey']}"
        assert (await post(client, f"{url}/retire", page=url)).status_code == 303
    assert await count(owner_sql, "audit_log", "action = 'activity_kind_retired'") == 1


async def test_a_retired_kind_keeps_its_activities_but_is_not_offered(app, database):
    ac = await build_activity_county(database)
    held = await put_activity(database, ac, kind="aid", starts_at=local(2026, 1, 10), present=("张伟",))
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        kind = await kind_services.get_kind(db, ac.kinds["aid"])
        await kind_services.retire_kind(db, tenant_id=ac.tenant.id, actor_id=ac.users["admin"].id, kind=kind)
    async with database.session(tenant_id=ac.tenant.id) as db:
        lines = {line.kind.code: line for line in await kind_services.list_kinds(db)}
        assert lines["aid"].kind.retired_at is not None and lines["aid"].activities == 1
        with pytest.raises(Refusal) as refused:
            await active_kind(db, ac.kinds["aid"])  # what the activity forms use
        assert refused.value.message == KIND_REQUIRED
        assert (await active_kind(db, ac.kinds["visit"])).code == "visit"
    assert held


async def test_services_refuse_directly(database):
    ac = await build_activity_county(database)
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        with pytest.raises(Refusal):
            await kind_services.save_kind(db, tenant_id=ac.tenant.id, actor_id=ac.users["admin"].id, kind=None,
                                          name="", sort="0")
        kind = await kind_services.save_kind(db, tenant_id=ac.tenant.id, actor_id=ac.users["admin"].id, kind=None,
                                             name="座谈会", sort="", code="forum")
        assert kind.code == "forum" and kind.sort == 0


async def test_activity_settings_are_saved_and_checked(app, database, owner_sql):
    ac = await build_activity_county(database)
    t = ac.tenant.id
    async with signed_in(app, ac.county, "admin") as client:
        page = await client.get(client.base + "/settings")
        assert 'name="signin_opens_minutes"' in page.text and 'name="photo_originals_mb"' in page.text
        good = {"signin_opens_minutes": "30", "signin_closes_minutes": "240", "at_risk_days": "14",
                "photo_originals_mb": "1000", "approval": "1", "filing": "1"}
        for change, message in (
            ({"signin_opens_minutes": "1441"}, "0 to 1440 minutes"),
            ({"signin_closes_minutes": "-5"}, "0 to 10080 minutes"),
            ({"at_risk_days": "181"}, "0 to 180 days"),
            ({"at_risk_days": ""}, "0 to 180 days"),
            ({"photo_originals_mb": "lots"}, "0 to 100000"),
        ):
            r = await post(client, client.base + "/settings", {**good, **change})
            assert r.status_code == 400 and message in text_of(r.text), change
            assert f'value="{next(iter(change.values()))}"' in r.text  # what was typed is shown again
        assert await count(owner_sql, "audit_log", "action = 'config_saved'") == 0
        cfg = (await owner_sql("SELECT at_risk_days FROM tenant_config WHERE tenant_id = $1", t))
        r = await post(client, client.base + "/settings", good)
        assert r.status_code == 303
        page = await client.get(client.base + "/settings")
        assert 'value="240"' in page.text
    async with database.session(tenant_id=t) as db:
        row = await db.get(TenantConfig, t)
    assert (row.signin_opens_minutes, row.signin_closes_minutes, row.at_risk_days, row.photo_originals_mb) == (
        30, 240, 14, 1000)
    assert cfg == [] or cfg[0]["at_risk_days"] != 14
    details = (await owner_sql("SELECT details FROM audit_log WHERE action = 'config_saved'"))[0]["details"]
    assert "240" in str(details)
