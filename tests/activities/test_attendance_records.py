"""A deputy's registers: opinions received (社情民意) and suggestions filed (代表建议), which the
compliance rules count. Who may add, bad input refused with nothing written, and the audit trail."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.activities import attendance as att
from app.core.errors import Refusal
from app.deputies.models import Deputy
from app.tenancy.scope import Scope
from tests.activities.world import EAST, build_activity_county, local, put_activity
from tests.deputies.deputy_world import count, post, signed_in, text_of


async def test_deputy_adds_an_opinion_and_a_suggestion(app, database, owner_sql):
    ac = await build_activity_county(database)
    zhang = ac.deputies["张伟"]
    async with signed_in(app, ac.county, "rep") as client:
        url = f"{client.base}/deputies/{zhang}"
        r = await post(client, f"{url}/opinions", {"content": "东街路灯坏了三盏", "raised_by": "居民刘某",
                                                    "received_on": "2024-03-08"})
        assert r.status_code == 303 and "year=2024" in r.headers["location"]
        r = await post(client, f"{url}/suggestions", {"kind": "motion", "title": "关于老旧小区加装电梯的议案",
                                                       "filed_on": "2024-01-15"})
        assert r.status_code == 303
        page = text_of((await client.get(f"{url}/records?year=2024")).text)
        assert "东街路灯坏了三盏" in page and "居民刘某" in page and "2024-03-08" in page
        assert "关于老旧小区加装电梯的议案" in page and "Deputy motion" in page
        assert "No opinions registered this year." in text_of((await client.get(f"{url}/records?year=2023")).text)
    rows = await owner_sql("SELECT deputy_id, station_id, registered_by FROM opinions")
    assert rows[0]["deputy_id"] == zhang and rows[0]["station_id"] == ac.stations[EAST]
    assert rows[0]["registered_by"] == ac.users["rep"].id
    assert await count(owner_sql, "suggestions", "deputy_id = $1 AND kind = 'motion'", zhang) == 1
    assert await count(owner_sql, "audit_log", "action = 'opinion_registered'") == 1
    assert await count(owner_sql, "audit_log", "action = 'suggestion_recorded'") == 1


async def test_staff_within_reach_add_and_an_activitys_opinion_is_listed(app, database, owner_sql):
    ac = await build_activity_county(database)
    li = ac.deputies["李娜"]
    activity = await put_activity(database, ac, kind="reception", starts_at=local(2024, 5, 6), present=("李娜",),
                                  topic="五月接待日")
    await owner_sql("INSERT INTO opinions (tenant_id, activity_id, deputy_id, received_on, content) "
                    "VALUES ($1, $2, $3, '2024-05-06', '学校门口交通拥堵')", ac.tenant.id, activity, li)
    for who in ("station", "town", "admin"):
        async with signed_in(app, ac.county, who) as client:
            r = await post(client, f"{client.base}/deputies/{li}/suggestions",
                           {"kind": "suggestion", "title": f"建议-{who}", "filed_on": "2024-06-01"})
            assert r.status_code == 303, who
    assert await count(owner_sql, "suggestions", "deputy_id = $1", li) == 3
    async with signed_in(app, ac.county, "viewer") as client:
        page = await client.get(f"{client.base}/deputies/{li}/records?year=2024")
        assert page.status_code == 200 and "五月接待日" in page.text and "学校门口交通拥堵" in page.text
        assert f"/activities/{activity}" in page.text
        assert "Register the opinion" not in page.text  # viewers read only


async def test_who_may_not_add(app, database, owner_sql):
    ac = await build_activity_county(database)
    zhang, li = ac.deputies["张伟"], ac.deputies["李娜"]
    data = {"content": "意见", "received_on": "2024-03-08"}
    async with signed_in(app, ac.county, "viewer") as client:
        r = await post(client, f"{client.base}/deputies/{zhang}/opinions", data)
        assert r.status_code == 403
        assert "may read this deputy's registers but not add" in text_of(r.text).replace("&#39;", "'")
    async with signed_in(app, ac.county, "heba") as client:  # township staff of another township
        assert (await post(client, f"{client.base}/deputies/{zhang}/opinions", data)).status_code == 404
        assert (await client.get(f"{client.base}/deputies/{zhang}/records")).status_code == 404
    async with signed_in(app, ac.county, "rep") as client:  # 张伟 for 李娜
        assert (await post(client, f"{client.base}/deputies/{li}/opinions", data)).status_code == 404
        assert (await client.get(f"{client.base}/deputies/{li}/records")).status_code == 404
    async with signed_in(app, ac.county, "handler") as client:
        assert (await post(client, f"{client.base}/deputies/{zhang}/suggestions",
                           {"kind": "suggestion", "title": "x", "filed_on": "2024-01-01"})).status_code == 404
    assert await count(owner_sql, "opinions") == 0 and await count(owner_sql, "suggestions") == 0
    assert await count(owner_sql, "audit_log", "action IN ('opinion_registered', 'suggestion_recorded')") == 0


@pytest.mark.parametrize("path, data, message", [
    ("opinions", {"content": "  ", "received_on": "2024-03-08"}, "Please write down the opinion."),
    ("opinions", {"content": "长" * 2001, "received_on": "2024-03-08"}, "may have at most 2000 characters"),
    ("opinions", {"content": "意见", "raised_by": "名" * 41, "received_on": "2024-03-08"}, "at most 40 characters"),
    ("opinions", {"content": "意见", "received_on": "2999-01-01"}, "not in the future"),
    ("opinions", {"content": "意见", "received_on": "昨天"}, "not in the future"),
    ("suggestions", {"kind": "suggestion", "title": "", "filed_on": "2024-01-01"}, "Please give the title"),
    ("suggestions", {"kind": "suggestion", "title": "题" * 201, "filed_on": "2024-01-01"}, "at most 200 characters"),
    ("suggestions", {"kind": "petition", "title": "题目", "filed_on": "2024-01-01"}, "suggestion or a motion"),
    ("suggestions", {"kind": "motion", "title": "题目", "filed_on": "2999-12-31"}, "not in the future"),
])
async def test_bad_input_is_refused_and_nothing_written(app, database, owner_sql, path, data, message):
    ac = await build_activity_county(database)
    async with signed_in(app, ac.county, "station") as client:
        r = await post(client, f"{client.base}/deputies/{ac.deputies['张伟']}/{path}", data)
        assert r.status_code == 400
        assert message in text_of(r.text).replace("&#34;", '"')
    assert await count(owner_sql, "opinions") == 0 and await count(owner_sql, "suggestions") == 0
    assert await count(owner_sql, "audit_log", "action IN ('opinion_registered', 'suggestion_recorded')") == 0


async def test_services_directly(database):
    ac = await build_activity_county(database)
    t = ac.tenant.id
    viewer = Scope(role="viewer", node_path=None, station_id=None, user_id=ac.users["viewer"].id)
    admin = Scope(role="county_admin", node_path=None, station_id=None, user_id=ac.users["admin"].id)
    async with database.transaction(tenant_id=t) as db:
        deputy = await db.scalar(select(Deputy).where(Deputy.id == ac.deputies["王强"]))
        with pytest.raises(Refusal) as refused:
            await att.add_opinion(db, viewer, tenant_id=t, actor_id=ac.users["viewer"].id, deputy=deputy,
                                  values={"content": "x", "received_on": "2024-01-01"}, today=date(2024, 6, 1))
        assert refused.value.status == 403
        with pytest.raises(Refusal):  # the day after "today"
            await att.add_suggestion(db, admin, tenant_id=t, actor_id=ac.users["admin"].id, deputy=deputy,
                                     values={"kind": "suggestion", "title": "t", "filed_on": "2024-06-02"},
                                     today=date(2024, 6, 1))
        s = await att.add_suggestion(db, admin, tenant_id=t, actor_id=ac.users["admin"].id, deputy=deputy,
                                     values={"kind": "suggestion", "title": " 关于农村饮水的建议 ",
                                             "filed_on": "2024-06-01"}, today=date(2024, 6, 1))
        assert s.title == "关于农村饮水的建议" and s.filed_on == date(2024, 6, 1)
        opinions, suggestions = await att.register_lists(db, deputy.id, 2024)
        assert opinions == [] and [x.id for x in suggestions] == [s.id]
