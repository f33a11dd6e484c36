"""The operator's working calendar (/ops/calendar): days entered for years the calendar library does
not cover, checked and audited, and the console's warning while a year's arrangement is unknown."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from app.core.calendar import missing_years
from app.platform.calendar import calendar_state
from tests.factories import add_member, csrf_from, login, make_tenant, make_user

WARNING = 'id="calendar-warning"'


def today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


async def _post(client, path: str, data: dict):
    page = await client.get("/ops/calendar")
    return await client.post(path, data={**data, "_csrf_token": csrf_from(page.text)}, follow_redirects=False)


async def _state(owner_sql):
    days = await owner_sql("SELECT day, kind, name FROM working_calendar_days ORDER BY day")
    audit = await owner_sql("SELECT action FROM platform_audit_log WHERE action LIKE 'calendar%'")
    return [tuple(r.values()) for r in days], len(audit)


async def test_an_operator_adds_and_removes_a_day(client, operator, owner_sql):
    year = today().year + 1
    r = await _post(client, "/ops/calendar", {"day": f"{year}-02-11", "kind": "holiday", "name": " 春节 "})
    assert r.status_code == 303 and r.headers["location"] == "/ops/calendar?done=added"
    page = (await client.get(r.headers["location"])).text
    assert "已添加这一天。" in page and f"{year}-02-11" in page and "春节" in page
    assert [dict(r) for r in await owner_sql("SELECT day, kind, name, created_by FROM working_calendar_days")] == [
        {"day": date(year, 2, 11), "kind": "holiday", "name": "春节", "created_by": operator.id}]
    audit = await owner_sql("SELECT actor_user_id, target, details FROM platform_audit_log "
                            "WHERE action = 'calendar_day_added'")
    assert audit[0]["actor_user_id"] == operator.id and audit[0]["target"] == f"calendar:{year}-02-11"
    # a Saturday as a make-up working day
    saturday = next(date(year, 2, d) for d in range(1, 8) if date(year, 2, d).weekday() == 5)
    r = await _post(client, "/ops/calendar", {"day": saturday.isoformat(), "kind": "workday", "name": "春节调休上班"})
    assert r.status_code == 303
    r = await _post(client, "/ops/calendar/remove", {"day": f"{year}-02-11"})
    assert r.status_code == 303 and r.headers["location"] == "/ops/calendar?done=removed"
    days, audited = await _state(owner_sql)
    assert days == [(saturday, "workday", "春节调休上班")] and audited == 3


async def test_bad_input_is_explained_in_chinese_and_nothing_changes(client, operator, owner_sql):
    year = today().year + 1
    await _post(client, "/ops/calendar", {"day": f"{year}-10-08", "kind": "holiday", "name": "国庆节"})
    before = await _state(owner_sql)
    monday = next(date(year, 3, d) for d in range(1, 8) if date(year, 3, d).weekday() == 0)
    for data, message in (
        ({"day": f"{year}-13-01", "kind": "holiday", "name": "春节"}, "请按“年-月-日”填写日期"),
        ({"day": "明年春节", "kind": "holiday", "name": "春节"}, "请按“年-月-日”填写日期"),
        ({"day": f"{year + 5}-01-01", "kind": "holiday", "name": "元旦"}, f"年份在 {year - 2} 至 {year + 1} 之间"),
        ({"day": f"{year}-02-11", "kind": "sometimes", "name": "春节"}, "请选择这一天是放假还是调休上班"),
        ({"day": f"{year}-02-11", "kind": "holiday", "name": "  "}, "请填写节日名称（不超过 20 个字）"),
        ({"day": f"{year}-02-11", "kind": "holiday", "name": "节" * 21}, "请填写节日名称（不超过 20 个字）"),
        ({"day": f"{year}-10-08", "kind": "holiday", "name": "国庆节"}, f"{year}-10-08 已在表中"),
        ({"day": monday.isoformat(), "kind": "workday", "name": "调休"}, "调休上班日应是星期六、星期日"),
    ):
        r = await _post(client, "/ops/calendar", data)
        assert r.status_code == 400 and message in r.text, (data, r.text[-2000:])
        assert await _state(owner_sql) == before, data
    r = await _post(client, "/ops/calendar/remove", {"day": f"{year}-02-12"})
    assert r.status_code == 400 and f"表中没有 {year}-02-12" in r.text
    assert await _state(owner_sql) == before


async def test_the_console_warns_while_a_year_is_unknown(client, operator, database):
    missing = missing_years(today(), set())
    for path in ("/ops/", "/ops/calendar"):
        page = (await client.get(path)).text
        assert (WARNING in page) == bool(missing), path
    for year in missing:  # one day entered is the operator saying "this year is in"
        r = await _post(client, "/ops/calendar", {"day": f"{year}-10-02", "kind": "holiday", "name": "国庆节"})
        assert r.status_code == 303
    assert WARNING not in (await client.get("/ops/")).text


async def test_the_warning_shows_from_november_when_next_year_is_missing(database, owner_sql):
    async with database.session() as db:
        assert (await calendar_state(db, date(2026, 10, 31))).missing == []  # 2026 is in the library
        assert (await calendar_state(db, date(2026, 11, 1))).missing == [2027]
        state = await calendar_state(db, date(2026, 12, 6))
    assert [(y.year, y.source) for y in state.years] == [(2026, "library"), (2027, "missing"), (2028, "missing")]
    await owner_sql("INSERT INTO working_calendar_days (day, kind, name) VALUES ('2027-01-01', 'holiday', '元旦')")
    async with database.session() as db:
        state = await calendar_state(db, date(2026, 12, 6))
    assert state.missing == [] and (state.years[1].source, state.years[1].days) == ("table", 1)


async def test_only_operators_reach_the_calendar(client, database, owner_sql):
    tenant = await make_tenant(database, "alpha")
    await add_member(database, tenant, await make_user(database, "wang"))
    await login(client, "wang")
    assert (await client.get("/ops/calendar", follow_redirects=False)).status_code == 404
    page = await client.get("/t/alpha/")
    r = await client.post("/ops/calendar", data={"day": "2027-02-11", "kind": "holiday", "name": "春节",
                                                 "_csrf_token": csrf_from(page.text)})
    assert r.status_code == 404
    assert await owner_sql("SELECT * FROM working_calendar_days") == []
