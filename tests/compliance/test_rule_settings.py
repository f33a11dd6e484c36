"""The county admin's rules settings: the list in plain words, adding, bad input (400, nothing
written), changing, retiring; other roles see nothing."""

from __future__ import annotations

import json

import pytest

from app.compliance import rule_services
from app.core.errors import Refusal
from tests.activities.world import build_activity_county
from tests.compliance.compliance_world import BEIJING, put_rules
from tests.deputies.deputy_world import count, post, signed_in, text_of

GOOD = {"code": "monthly-reception", "name": "每月接待", "subject": "station", "counts": "activities",
        "kind_codes": "reception", "period": "month", "minimum": "1", "min_deputies": "2", "sort": "10"}


@pytest.fixture
async def county(database):
    return await build_activity_county(database)


async def test_add_a_rule_and_see_it_in_plain_words(app, county, owner_sql):
    async with signed_in(app, county.county, "admin") as client:
        page = f"{client.base}/settings/rules/new"
        assert (await client.get(page)).status_code == 200
        r = await post(client, page, GOOD, page=page)
        assert r.status_code == 303
        listing = text_of((await client.get(f"{client.base}/settings/rules")).text)
        assert "每月接待" in listing
        assert "Each station · Per month · 接待选民 ≥ 1 times · at least 2 deputies present each time" in listing
        board = await client.get(f"{client.base}/compliance")
        assert "每月接待" in board.text
    assert await count(owner_sql, "activity_rules", "code = 'monthly-reception' AND min_deputies = 2") == 1
    assert await count(owner_sql, "audit_log", "action = 'rule_saved'") == 1


@pytest.mark.parametrize("change, message", [
    ({"minimum": "40"}, "At most 31 per month"),
    ({"period": "week"}, "Please choose the period"),
    ({"kind_codes": "dancing"}, "“dancing” is not a kind of activity of this county"),
    ({"counts": "opinions", "subject": "deputy"}, "Kinds of activity apply only to rules that count activities"),
    ({"counts": "opinions"}, "Opinions and suggestions are counted for each deputy only"),
    ({"code": "Bad Code"}, "lower-case letters"),
    ({"station_kind_codes": "palace"}, "“palace” is not a kind of station"),
    ({"at_risk_days": "31"}, "from 0 to 30 for a rule per month"),
    ({"at_risk_days": "-1"}, "from 0 to 30 for a rule per month"),
    ({"at_risk_days": "ten"}, "from 0 to 30 for a rule per month"),
    ({"at_risk_pace": "maybe"}, "also warns when behind a steady pace"),
])
async def test_bad_input_is_refused_and_nothing_written(app, county, owner_sql, change, message):
    async with signed_in(app, county.county, "admin") as client:
        page = f"{client.base}/settings/rules/new"
        r = await post(client, page, {**GOOD, **change}, page=page)
        assert r.status_code == 400
        assert message in r.text
    assert await count(owner_sql, "activity_rules") == 0
    assert await count(owner_sql, "audit_log", "action LIKE 'rule_%'") == 0


async def test_change_and_retire(app, database, county, owner_sql):
    ids = await put_rules(database, county, BEIJING)
    rule = ids["bj-four-a-year"]
    async with signed_in(app, county.county, "admin") as client:
        page = f"{client.base}/settings/rules/{rule}"
        form = (await client.get(page)).text
        assert "bj-four-a-year" in form
        values = {**GOOD, "code": "bj-four-a-year", "name": "每年至少六次活动", "period": "year", "minimum": "6"}
        assert (await post(client, page, values, page=page)).status_code == 303
        clash = await post(client, page, {**values, "code": "bj-every-quarter"}, page=page)
        assert clash.status_code == 400 and "already has the code" in clash.text
        assert (await post(client, f"{page}/retire", page=page)).status_code == 303
        again = await post(client, f"{page}/retire", page=page)
        assert again.status_code == 400
        assert "每年至少六次活动" not in (await client.get(f"{client.base}/compliance")).text
        assert "retired rule" in (await client.get(f"{client.base}/settings/rules")).text
    rows = await owner_sql("SELECT name, minimum, retired_at FROM activity_rules WHERE id = $1", rule)
    assert rows[0]["name"] == "每年至少六次活动" and rows[0]["minimum"] == 6 and rows[0]["retired_at"] is not None
    assert await count(owner_sql, "audit_log", "action = 'rule_retired' AND target = $1", f"rule:{rule}") == 1


@pytest.mark.parametrize("who", ["town", "viewer", "station", "rep", "handler"])
async def test_only_the_county_admin(app, county, who, owner_sql):
    async with signed_in(app, county.county, who) as client:
        assert (await client.get(f"{client.base}/settings/rules")).status_code == 404
        r = await post(client, f"{client.base}/settings/rules/new", GOOD)
        assert r.status_code == 404
    assert await count(owner_sql, "activity_rules") == 0


async def test_service_refuses_directly(database, county):
    async with database.transaction(tenant_id=county.tenant.id) as db:
        with pytest.raises(Refusal):
            await rule_services.save_rule(db, tenant_id=county.tenant.id, actor_id=county.users["admin"].id,
                                          rule=None, values={**GOOD, "minimum": "0"})


async def test_a_rules_own_at_risk_setting(app, database, county, owner_sql):
    """When the rule warns: its own days (empty: the county's) and pace on or off; audited; in the
    rule's plain words."""
    ids = await put_rules(database, county, BEIJING)
    rule = ids["bj-four-a-year"]
    async with signed_in(app, county.county, "admin") as client:
        page = f"{client.base}/settings/rules/{rule}"
        form = text_of((await client.get(page)).text)
        assert "setting, 10 days" in form and "Also when behind a steady pace" in form
        values = {**GOOD, "code": "bj-four-a-year", "period": "year", "minimum": "4", "at_risk_days": "60",
                  "at_risk_pace": "off"}
        assert (await post(client, page, values, page=page)).status_code == 303
        listing = text_of((await client.get(f"{client.base}/settings/rules")).text)
        assert "at risk 60 days before the end · no warning by pace" in listing
        form = (await client.get(page)).text
        assert 'name="at_risk_days" value="60"' in form and '<option value="off" selected>' in form
        assert (await post(client, page, {**values, "at_risk_days": "", "at_risk_pace": "on"}, page=page)).status_code == 303
    rows = await owner_sql("SELECT at_risk_days, at_risk_pace FROM activity_rules WHERE id = $1", rule)
    assert (rows[0]["at_risk_days"], rows[0]["at_risk_pace"]) == (None, True)
    audits = await owner_sql("SELECT details FROM audit_log WHERE action = 'rule_saved' AND target = $1 ORDER BY id",
                             f"rule:{rule}")
    details = [a["details"] if isinstance(a["details"], dict) else json.loads(a["details"]) for a in audits]
    assert [(d["at_risk_days"], d["at_risk_pace"]) for d in details] == [(60, False), (None, True)]


async def test_a_new_rule_warns_by_pace_and_the_countys_days(app, county, owner_sql):
    async with signed_in(app, county.county, "admin") as client:
        page = f"{client.base}/settings/rules/new"
        assert '<option value="on" selected>' in (await client.get(page)).text
        assert (await post(client, page, GOOD, page=page)).status_code == 303  # a form without the setting
    rows = await owner_sql("SELECT at_risk_days, at_risk_pace FROM activity_rules WHERE code = 'monthly-reception'")
    assert (rows[0]["at_risk_days"], rows[0]["at_risk_pace"]) == (None, True)
