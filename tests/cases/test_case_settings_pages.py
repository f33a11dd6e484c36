"""The county's case settings pages: case categories, handling units, due-date rules and the case
settings. County admins only (the same 404 for everyone else); bad input refused (400) with nothing
written; every change audited."""

from __future__ import annotations

from sqlalchemy import select

from app.cases import settings as svc
from app.cases.models import CaseCategory, DueRule
from app.tenancy.models import HandlingUnit
from app.cases.services import due_rule
from app.core.errors import Refusal
from app.tenancy.config import get_config
from tests.cases.world import build_case_county, put_case
from tests.deputies.deputy_world import count, post, signed_in, text_of

CATS = "/settings/case-categories"
UNITS = "/settings/handling-units"
RULES = "/settings/case-rules"


async def test_only_county_admins_reach_the_case_settings(app, database, owner_sql):
    cc = await build_case_county(database)
    cat, unit = cc.categories["roads"], cc.units["transport"]
    rule = await _add_rule(database, cc)
    gets = [CATS, f"{CATS}/{cat}", UNITS, f"{UNITS}/{unit}", RULES]
    posts = gets + [f"{CATS}/{cat}/retire", f"{UNITS}/{unit}/retire", f"{UNITS}/{unit}/users",
                    f"{UNITS}/{unit}/invitations", f"{RULES}/add", f"{RULES}/{rule}/delete"]
    audit = await count(owner_sql, "audit_log")
    for username in ("town", "viewer", "station", "rep", "transport"):
        async with signed_in(app, cc.county, username) as client:
            for url in gets:
                assert (await client.get(client.base + url)).status_code == 404, (username, url)
            for url in posts:
                r = await post(client, client.base + url, {"name": "x", "sort": "1", "kind": "other",
                                                           "level": "county", "reply_days": "3", "feedback_days": "3"})
                assert r.status_code == 404, (username, url)
    assert await count(owner_sql, "case_due_rules") == 1
    assert await count(owner_sql, "case_categories", "retired_at IS NOT NULL") == 0
    assert await count(owner_sql, "audit_log", "action NOT IN ('signed_in', 'tenant_entered')") == \
        await count(owner_sql, "audit_log", "action NOT IN ('signed_in', 'tenant_entered') AND id <= $1", audit)


async def _add_rule(database, cc) -> int:
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        rule = DueRule(tenant_id=cc.tenant.id, urgency="urgent", reply_days=5, feedback_days=3, working_days=True)
        db.add(rule)
        await db.flush()
        return rule.id


async def test_categories_add_rename_retire(app, database, owner_sql):
    cc = await build_case_county(database)
    async with signed_in(app, cc.county, "admin") as client:
        page = await client.get(client.base + CATS)
        assert page.status_code == 200 and "道路交通" in page.text and "生态环境" in page.text
        assert f'href="{client.base}{UNITS}"' in page.text and f'href="{client.base}{RULES}"' in page.text
        r = await post(client, client.base + CATS, {"name": " 教育 ", "code": "education", "sort": "50"})
        assert r.status_code == 303 and r.headers["location"] == f"{client.base}{CATS}?done=added"
        r = await post(client, client.base + CATS, {"name": "其他", "sort": ""})
        assert r.status_code == 303
        codes = {c: n for c, n in await owner_sql("SELECT code, name FROM case_categories")}
        assert codes["education"] == "教育" and "own-6" in codes  # a code is made up when none is given

        for form, message in (({"name": "", "sort": "1"}, "is required"),
                              ({"name": "道路交通", "sort": "1"}, "already called"),
                              ({"name": "新类", "sort": "x"}, "whole number"),
                              ({"name": "新类", "code": "Bad Code", "sort": "1"}, "lower-case letters"),
                              ({"name": "新类", "code": "roads", "sort": "1"}, "already has the code")):
            r = await post(client, client.base + CATS, form)
            assert r.status_code == 400 and message in text_of(r.text), form
        assert await count(owner_sql, "case_categories") == 6

        roads = cc.categories["roads"]
        r = await post(client, f"{client.base}{CATS}/{roads}", {"name": "道路交通运输", "sort": "3"})
        assert r.status_code == 303
        await put_case(database, cc, category="roads")
        r = await post(client, f"{client.base}{CATS}/{roads}/retire")
        assert r.status_code == 303 and r.headers["location"].endswith("?done=retired")
        r = await post(client, f"{client.base}{CATS}/{roads}/retire")
        assert r.status_code == 400 and "already retired" in r.text
        page = await client.get(client.base + CATS)
        assert "retired category" in page.text
    rows = await owner_sql("SELECT name, sort, retired_at IS NOT NULL AS retired FROM case_categories WHERE id = $1",
                           roads)
    assert tuple(rows[0]) == ("道路交通运输", 3, True)
    # its case keeps it
    assert await count(owner_sql, "cases", "category_id = $1", roads) == 1
    actions = [r[0] for r in await owner_sql("SELECT action FROM audit_log WHERE action LIKE 'case_category%'")]
    assert actions.count("case_category_saved") == 3 and actions.count("case_category_retired") == 1


async def test_units_add_change_and_retire_with_open_cases_refused(app, database, owner_sql):
    cc = await build_case_county(database)
    town = cc.county.nodes["城关镇"]
    async with signed_in(app, cc.county, "admin") as client:
        page = await client.get(client.base + UNITS)
        assert page.status_code == 200 and "县交通运输局" in page.text and "城关镇" in page.text
        r = await post(client, client.base + UNITS, {"name": "河坝乡人民政府", "kind": "township_office",
                                                     "level": "township", "node": str(cc.county.nodes["河坝乡"]),
                                                     "sort": "5", "code": "heba"})
        assert r.status_code == 303
        unit = await _unit(database, cc, "heba")
        assert (unit.level, unit.node_id, unit.kind) == ("township", cc.county.nodes["河坝乡"], "township_office")

        bad = (({"name": "x局", "kind": "county_department", "level": "township", "node": str(town)}, "level that fits"),
               ({"name": "x站", "kind": "township_office", "level": "township", "node": ""}, "needs its township"),
               ({"name": "x站", "kind": "township_office", "level": "township", "node": "999999"}, "needs its township"),
               ({"name": "x局", "kind": "county_department", "level": "county", "node": str(town)}, "leave the place"),
               ({"name": "x", "kind": "bogus", "level": "county", "node": ""}, "kind of handling unit"),
               ({"name": "县交通运输局", "kind": "county_department", "level": "county", "node": ""}, "already called"),
               ({"name": "", "kind": "other", "level": "county", "node": ""}, "is required"))
        for form, message in bad:
            r = await post(client, client.base + UNITS, {"sort": "0", **form})
            assert r.status_code == 400 and message in text_of(r.text), form
        assert await count(owner_sql, "handling_units") == 4

        transport = cc.units["transport"]
        page = await client.get(f"{client.base}{UNITS}/{transport}")
        assert page.status_code == 200 and "alpha-transport" in page.text  # its user
        r = await post(client, f"{client.base}{UNITS}/{transport}",
                       {"name": "县交通局", "kind": "county_department", "level": "county", "node": "", "sort": "1"})
        assert r.status_code == 303

        await put_case(database, cc, state="assigned", unit="transport", level="county")
        await put_case(database, cc, state="accepted", unit="transport", level="county")
        await put_case(database, cc, state="closed", unit="transport", level="county")
        r = await post(client, f"{client.base}{UNITS}/{transport}/retire")
        assert r.status_code == 400 and "2 open cases" in text_of(r.text)
        assert (await _unit(database, cc, "transport")).retired_at is None
        r = await post(client, f"{client.base}{UNITS}/{cc.units['ecology']}/retire")
        assert r.status_code == 303
    assert (await _unit(database, cc, "ecology")).retired_at is not None
    assert (await _unit(database, cc, "transport")).name == "县交通局"
    assert await count(owner_sql, "audit_log", "action = 'handling_unit_retired'") == 1
    assert await count(owner_sql, "audit_log", "action = 'handling_unit_saved'") == 2


async def test_a_units_contact_is_kept_shown_and_checked(app, database, owner_sql):
    """Whom staff call at a unit (the unit import writes it too) is edited on the unit's page."""
    cc = await build_case_county(database)
    transport = cc.units["transport"]
    base = {"name": "县交通运输局", "kind": "county_department", "level": "county", "node": "", "sort": "1"}
    async with signed_in(app, cc.county, "admin") as client:
        r = await post(client, f"{client.base}{UNITS}/{transport}",
                       {**base, "contact_name": "  李  科长 ", "contact_phone": "0816-1234567"})
        assert r.status_code == 303
        page = await client.get(f"{client.base}{UNITS}/{transport}")
        assert 'value="李 科长"' in page.text and 'value="0816-1234567"' in page.text
        for form, message in (({"contact_phone": "call 0816"}, "only digits"),
                              ({"contact_name": "李" * 41}, "at most 40")):
            r = await post(client, f"{client.base}{UNITS}/{transport}", {**base, **form})
            assert r.status_code == 400 and message in text_of(r.text), form
    unit = await _unit(database, cc, "transport")
    assert (unit.contact_name, unit.contact_phone) == ("李 科长", "0816-1234567")
    assert await count(owner_sql, "audit_log", "action = 'handling_unit_saved' AND details->>'contact_phone' = "
                                                "'0816-1234567'") == 1


async def _unit(database, cc, code: str) -> HandlingUnit:
    async with database.session(tenant_id=cc.tenant.id) as db:
        return await db.scalar(select(HandlingUnit).where(HandlingUnit.code == code))


async def test_due_rules_and_settings(app, database, owner_sql):
    cc = await build_case_county(database)
    roads = cc.categories["roads"]
    async with signed_in(app, cc.county, "admin") as client:
        page = await client.get(client.base + RULES)
        assert page.status_code == 200 and 'name="case_reply_days" value="15"' in page.text
        r = await post(client, client.base + RULES, {"case_reply_days": "10", "case_feedback_days": "7",
                                                     "case_rehandle_limit": "2", "public_limit_per_client": "3",
                                                     "public_limit_per_station": "100", "case_rating_days": "20"})
        assert r.status_code == 303
        for key, value in (("case_reply_days", "0"), ("case_feedback_days", "366"), ("case_rehandle_limit", "6"),
                           ("public_limit_per_client", "-1"), ("public_limit_per_station", "abc")):
            form = {"case_reply_days": "9", "case_feedback_days": "9", "case_rehandle_limit": "1",
                    "public_limit_per_client": "9", "public_limit_per_station": "9", "case_rating_days": "9",
                    key: value}
            r = await post(client, client.base + RULES, form)
            assert r.status_code == 400, key
        rule = {"level": "county", "category": str(roads), "urgency": "urgent", "reply_days": "3",
                "feedback_days": "2", "working_days": ""}
        r = await post(client, client.base + RULES + "/add", rule)
        assert r.status_code == 303
        r = await post(client, client.base + RULES + "/add", rule)
        assert r.status_code == 400 and "exists already" in text_of(r.text)
        for change, message in (({"reply_days": "0"}, "1 to 365"), ({"feedback_days": "400"}, "1 to 365"),
                                ({"level": "city"}, "level of the rule"), ({"urgency": "soon"}, "urgency of the rule"),
                                ({"category": "999999"}, "case category in use")):
            r = await post(client, client.base + RULES + "/add", {**rule, "level": "", **change})
            assert r.status_code == 400 and message in text_of(r.text), change
        page = await client.get(client.base + RULES)
        assert "道路交通" in page.text and "Calendar days" in page.text
    config = await _config(database, cc)
    assert (config.case_reply_days, config.case_feedback_days, config.case_rehandle_limit,
            config.public_limit_per_client, config.public_limit_per_station, config.case_rating_days) == (
        10, 7, 2, 3, 100, 20)
    async with database.session(tenant_id=cc.tenant.id) as db:
        assert await due_rule(db, config, level="county", category_id=roads, urgency="urgent") == (3, 2, False)
        assert await due_rule(db, config, level="township", category_id=roads, urgency="urgent") == (10, 7, True)
        rule_id = await db.scalar(select(DueRule.id))
    async with signed_in(app, cc.county, "admin") as client:
        r = await post(client, f"{client.base}{RULES}/{rule_id}/delete")
        assert r.status_code == 303
        assert (await post(client, f"{client.base}{RULES}/{rule_id}/delete")).status_code == 404
    assert await count(owner_sql, "case_due_rules") == 0
    actions = {r[0] for r in await owner_sql("SELECT action FROM audit_log")}
    assert {"case_settings_saved", "due_rule_added", "due_rule_deleted"} <= actions


async def _config(database, cc):
    async with database.session(tenant_id=cc.tenant.id) as db:
        return await get_config(db, cc.tenant.id)


async def test_services_directly(database):
    """The services refuse what the form refuses, without the HTTP layer."""
    cc = await build_case_county(database)
    admin = cc.users["admin"].id
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        category = await svc.save_category(db, tenant_id=cc.tenant.id, actor_id=admin, category=None, name="社会保障",
                                           sort="7")
        assert category.code.startswith("own-")
        for kwargs in ({"name": "x", "kind": "village_committee", "level": "county", "node": ""},
                       {"name": "x", "kind": "other", "level": "outside", "node": ""}):
            try:
                await svc.save_unit(db, tenant_id=cc.tenant.id, actor_id=admin, unit=None, sort="0", **kwargs)
            except Refusal:
                pass
            else:
                raise AssertionError(kwargs)
        unit = await svc.save_unit(db, tenant_id=cc.tenant.id, actor_id=admin, unit=None, name="西村村委会",
                                   kind="village_committee", level="township", node=str(cc.county.nodes["西村"]),
                                   sort="0")
        assert unit.code.startswith("unit-")
        lines = await svc.list_units(db, cc.tenant.id)
        assert {line.unit.name: line.users for line in lines}["县交通运输局"] == 1
    async with database.session(tenant_id=cc.tenant.id) as db:
        names = [c.name for c in (await db.scalars(select(CaseCategory).order_by(CaseCategory.sort))).all()]
        assert "社会保障" in names
