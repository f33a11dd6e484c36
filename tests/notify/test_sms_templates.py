"""Every SMS passes the provider's template rules (Alibaba Cloud SMS: a variable is 1–35 characters
and never an address; every variable of the template is sent, no other) with the longest values the
database allows, and says exactly what the template registered with the provider says
(docs/sms-templates.md) with those variables filled in."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.activities import services
from app.activities.access import get_activity
from app.cases.codes import group_code, new_code
from app.core.db import MAX_ID
from app.notify import links, outbox, short_links
from app.notify.models import Outbox
from app.notify.sms_templates import VALUE_MAX, problems, sms_kinds, variables
from app.stations.access import get_station
from app.core.settings import ROOT
from tests.activities.world import EAST, build_activity_county
from tests.notify.short_link_helpers import link_of
from tests.notify.test_activity_reminders import NOW, START, admin

HOST = "https://lianluo.example.cn"
DOC = ROOT / "docs" / "sms-templates.md"
URL_LIKE = re.compile(r"https?|www\.|://|[a-z0-9-]+\.[a-z]{2,}", re.IGNORECASE)


@pytest.fixture(autouse=True)
def public_url():
    links.configure(HOST)  # the host the documented templates name
    yield
    links.configure(None)


def documented() -> dict[str, str]:
    """kind → the template text the operator registers (docs/sms-templates.md)."""
    text = DOC.read_text(encoding="utf-8")
    return dict(re.findall(r"^### `(\w+)`.*?^模板内容：`([^`]+)`", text, re.MULTILINE | re.DOTALL))


def check_sms(row: Outbox, templates: dict[str, str]) -> None:
    """The row's TemplateParam (its params, as the sweep sends them) and its body."""
    params = row.params
    assert problems(params, row.kind) == [], (row.kind, params)
    for name, value in params.items():  # the provider's rules, checked here on their own as well
        assert isinstance(value, str) and 1 <= len(value) <= VALUE_MAX, (row.kind, name, value)
        assert not URL_LIKE.search(value), (row.kind, name, value)
    assert set(params) == set(re.findall(r"\$\{(\w+)\}", templates[row.kind])), row.kind
    expected = re.sub(r"\$\{(\w+)\}", lambda m: params[m.group(1)], templates[row.kind])
    assert row.body == expected, (row.kind, row.body, expected)


async def column_max(owner_sql, table: str, column: str) -> int:
    [row] = await owner_sql("SELECT character_maximum_length AS n FROM information_schema.columns "
                            "WHERE table_name = $1 AND column_name = $2", table, column)
    return row["n"]


def test_every_sms_kind_has_a_documented_template_with_its_variables():
    templates = documented()
    assert set(templates) == set(sms_kinds())
    doc = DOC.read_text(encoding="utf-8")
    for kind, text in templates.items():
        assert set(re.findall(r"\$\{(\w+)\}", text)) == set(variables(kind)), kind
        assert "http" not in text.replace(f"{HOST}/s/${{link}}", ""), kind  # the only address: ours
        assert f"`{kind}=…` (default `LIANLUO_{kind.upper()}`)" in doc
        for name in variables(kind):
            assert re.search(rf"^### `{kind}`.*?^\| `{name}` \|", doc, re.MULTILINE | re.DOTALL), (kind, name)


async def test_every_kind_with_the_longest_values_the_columns_allow(database, owner_sql):
    ac = await build_activity_county(database)
    t = ac.tenant.id
    longest = {table_column: await column_max(owner_sql, *table_column.split(".")) for table_column in (
        "stations.name", "activity_kinds.name", "activities.place", "activities.topic", "activities.cancel_reason",
        "deputies.name", "users.display_name", "case_categories.name", "handling_units.name",
        "activity_rules.name", "tenants.name")}
    assert all(longest.values()), longest
    station, name = "站" * longest["stations.name"], "名" * longest["users.display_name"]
    async with database.transaction(tenant_id=t) as db:
        link = await short_links.short_code(db, t, f"/signin/{'s' * 40}/{'t' * 22}")
    raw = {
        "name": name, "station": station, "kind": "类" * longest["activity_kinds.name"], "when": "2026-12-31 23:59",
        "place": "地" * longest["activities.place"], "topic": "题" * longest["activities.topic"],
        "deputies": "、".join(["代" * longest["deputies.name"]] * 30), "reason": "因" * longest["activities.cancel_reason"],
        "link": link, "code": f"#{MAX_ID}", "rating": group_code(new_code()), "category": "别" * longest["case_categories.name"],
        "due": "2026-12-31", "unit": "单" * longest["handling_units.name"], "rule": "规" * longest["activity_rules.name"],
        "who": "团" * longest["tenants.name"], "count": 99999, "minimum": 100000, "period": "Second half of 2026",
        "ends": "2026-12-31", "year": 2026, "present": 365, "invited": 366,
    }
    hostile = {**raw, "name": "", "station": "www.example.com会议室", "place": "见 http://evil.cn/x",
               "topic": "【通知】详见abc.com.cn", "reason": "  ", "unit": None, "category": "HTTP"}
    async with database.transaction(tenant_id=t) as db:
        for n, values in enumerate((raw, hostile)):
            for kind in sms_kinds():
                await outbox.notify(db, tenant_id=t, kind=kind, subject=f"test:{n}", due_at=NOW, now=NOW,
                                    recipients=[outbox.person("13900000000", values["name"])], params=values)
        rows = list(await db.scalars(select(Outbox).where(Outbox.channel == "sms")))
    assert sorted(r.kind for r in rows) == sorted(sms_kinds() * 2)
    templates = documented()
    for row in rows:
        check_sms(row, templates)
    by = {(r.subject, r.kind): r.params for r in rows}
    # a long value is cut with an ellipsis, a short one kept whole, an empty one "无"
    assert by["test:0", "activity_sms"]["place"] == "地" * 34 + "…" and by["test:0", "activity_sms"]["when"] == raw["when"]
    assert by["test:1", "activity_sms"]["name"] == "无" and by["test:1", "activity_cancelled"]["reason"] == "无"
    assert by["test:0", "case_answer"]["link"] == link and by["test:0", "case_answer"]["rating"] == raw["rating"]


async def test_the_reminders_of_an_activity_with_the_longest_names_pass_the_rules(database, owner_sql):
    """The producers themselves, with names, places, topics and reasons as long as the columns allow."""
    ac = await build_activity_county(database)
    t = ac.tenant.id
    await owner_sql(f"UPDATE stations SET name = repeat('站', {await column_max(owner_sql, 'stations', 'name')}) "
                    "WHERE id = $1", ac.stations[EAST])
    await owner_sql(f"UPDATE activity_kinds SET name = repeat('类', {await column_max(owner_sql, 'activity_kinds', 'name')})")
    width = await column_max(owner_sql, "deputies", "name")
    await owner_sql(f"UPDATE deputies SET name = repeat(left(name, 1), {width})")
    await owner_sql(f"UPDATE users SET display_name = repeat('名', {await column_max(owner_sql, 'users', 'display_name')})")
    async with database.transaction(tenant_id=t) as db:
        new = services.NewActivity(
            kind_id=ac.kinds["reception"], starts_at=START + timedelta(days=10), ends_at=START + timedelta(days=10, hours=2),
            place="会" * await column_max(owner_sql, "activities", "place"),
            topic="题" * await column_max(owner_sql, "activities", "topic"), deputy_ids=tuple(ac.deputies.values()))
        activity = await services.create_activity(db, admin(ac), tenant_id=t, actor_id=ac.users["admin"].id,
                                                  station=await get_station(db, admin(ac), ac.stations[EAST]),
                                                  group=None, new=new, now=NOW)
        aid = activity.id
    for verb, kwargs in (("reschedule", {"starts_at": START + timedelta(days=1), "ends_at": START + timedelta(days=1, hours=2),
                                         "reason": "改期"}),
                         ("cancel", {"reason": "因" * 200})):
        async with database.transaction(tenant_id=t) as db:
            ref = await get_activity(db, admin(ac), aid, for_update=True)
            await getattr(services, verb)(db, admin(ac), ref, actor_id=ac.users["admin"].id, now=NOW, **kwargs)
    async with database.transaction(tenant_id=t) as db:
        rows = list(await db.scalars(select(Outbox)))
    assert {"activity_liaison", "activity_sms", "activity_moved", "activity_cancelled"} <= {r.kind for r in rows}
    assert {"activity_sms", "activity_moved", "activity_cancelled"} <= {r.kind for r in rows if r.channel == "sms"}
    templates = documented()
    for row in rows:  # the liaison officer reads theirs in the inbox: the same variables all the same
        assert problems(row.params, row.kind) == [], (row.kind, row.params)
        if row.channel == "sms":
            check_sms(row, templates)
            if "link" in row.params:
                assert (await link_of(database, row.body)).startswith(f"/signin/{ac.slug}/")
    liaison = next(r for r in rows if r.kind == "activity_liaison")
    assert liaison.params["deputies"].endswith(f"等{len(ac.deputies)}人")  # one long name cut, then how many
