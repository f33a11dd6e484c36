from app.tenancy import divisions
from tests.factories import csrf_from, make_tenant

GOOD = {"division": "510722", "contact_name": "张三", "contact_phone": "13800138000", "note": "请尽快开通"}


async def _post(client, **changes):
    page = await client.get("/signup")
    data = {**GOOD, "_csrf_token": csrf_from(page.text), **changes}
    return await client.post("/signup", data=data, follow_redirects=False)


async def _count(owner_sql, table="signup_applications"):
    return (await owner_sql(f"SELECT count(*) AS n FROM {table}"))[0]["n"]


def test_division_list_and_search():
    assert len(divisions.all_divisions()) > 2800
    d = divisions.lookup("510722")
    assert (d.province, d.city, d.county) == ("四川省", "绵阳市", "三台县")
    assert divisions.search("三台", 5) == [d]
    assert divisions.lookup("510700") is None  # a prefecture-level city, not a county
    assert all(x.code.startswith("5107") for x in divisions.search("5107", 50))
    assert divisions.lookup("110101").label == "北京市 东城区"


async def test_signup_page_is_public_small_and_explains_contact_use(client):
    r = await client.get("/signup")
    assert r.status_code == 200
    assert "申请" in r.text and "行政区划代码" in r.text
    assert "联系人" in r.text and "仅用于" in r.text
    assert "<select" not in r.text  # no giant list of ~2,850 divisions
    assert len(r.content) < 14_000


async def test_signup_happy_path(client, owner_sql):
    r = await _post(client)
    assert r.status_code == 303
    assert r.headers["location"] == "/signup/sent?code=510722"
    done = await client.get(r.headers["location"])
    assert "四川省 绵阳市 三台县" in done.text and "已收到" in done.text
    rows = await owner_sql("SELECT * FROM signup_applications")
    assert len(rows) == 1
    row = rows[0]
    assert (row["division_code"], row["status"], row["contact_name"], row["contact_phone"]) == (
        "510722", "pending", "张三", "13800138000")
    assert row["county_name"] == "四川省 绵阳市 三台县"
    assert row["client_addr"]
    actions = [a["action"] for a in await owner_sql("SELECT action FROM platform_audit_log")]
    assert actions == ["signup_submitted"]


async def test_signup_by_unique_name(client, owner_sql):
    r = await _post(client, division="三台")
    assert r.status_code == 303
    assert (await owner_sql("SELECT division_code FROM signup_applications"))[0]["division_code"] == "510722"


async def test_signup_with_several_matches_offers_a_choice(client, owner_sql):
    r = await _post(client, division="朝阳")
    assert r.status_code == 400
    assert "请在下面选择" in r.text
    assert 'type="radio" name="code" value="110105"' in r.text
    assert await _count(owner_sql) == 0
    r = await _post(client, division="朝阳", code="110105")
    assert r.status_code == 303
    assert (await owner_sql("SELECT division_code FROM signup_applications"))[0]["division_code"] == "110105"


async def test_division_suggestions_partial(client):
    r = await client.get("/signup/divisions?q=三台", headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert 'value="510722"' in r.text and "<html" not in r.text
    assert len(r.content) <= 5_000
    r = await client.get("/signup/divisions?q=区")
    assert len(r.content) <= 5_000
    r = await client.get("/signup/divisions?q=不存在的地方")
    assert "没有" in r.text


async def test_unknown_code_is_refused(client, owner_sql):
    r = await _post(client, division="510700")
    assert r.status_code == 400
    assert "510700 不是县级行政区划的代码" in r.text
    assert 'value="13800138000"' in r.text  # what was entered stays in the form
    assert await _count(owner_sql) == 0 and await _count(owner_sql, "platform_audit_log") == 0


async def test_no_matching_name_is_refused(client, owner_sql):
    r = await _post(client, division="霍格沃茨")
    assert r.status_code == 400 and "没有匹配" in r.text
    assert await _count(owner_sql) == 0


async def test_bad_mobile_is_refused(client, owner_sql):
    for phone in ("1380013800", "23800138000", "138001380001", "abc"):
        r = await _post(client, contact_phone=phone)
        assert r.status_code == 400
        assert "手机号码为以 1 开头的 11 位数字" in r.text
    assert await _count(owner_sql) == 0


async def test_missing_contact_name_is_refused(client, owner_sql):
    r = await _post(client, contact_name=" ")
    assert r.status_code == 400
    assert await _count(owner_sql) == 0


async def test_overlong_note_is_refused(client, owner_sql):
    r = await _post(client, note="字" * 1001)
    assert r.status_code == 400
    assert "1000" in r.text
    assert await _count(owner_sql) == 0
    r = await _post(client, note="字" * 1000)
    assert r.status_code == 303


async def test_second_pending_application_is_refused(client, owner_sql):
    assert (await _post(client)).status_code == 303
    r = await _post(client, contact_name="李四", contact_phone="13900139000")
    assert r.status_code == 400
    assert "四川省 绵阳市 三台县的申请正在等待审核" in r.text
    assert await _count(owner_sql) == 1


async def test_division_with_a_tenant_is_refused(client, database, owner_sql):
    await make_tenant(database, "santai")  # division 510722
    r = await _post(client)
    assert r.status_code == 400
    assert "已在使用" in r.text
    assert await _count(owner_sql) == 0


async def test_missing_csrf_is_refused(client, owner_sql):
    await client.get("/signup")
    r = await client.post("/signup", data=GOOD)
    assert r.status_code == 403
    assert await _count(owner_sql) == 0


async def test_too_many_applications_from_one_address(client, owner_sql):
    codes = ["510722", "510703", "510704", "510705", "510723"]
    for code in codes:
        assert (await _post(client, division=code)).status_code == 303, code
    r = await _post(client, division="510725")
    assert r.status_code == 429
    assert "请稍后再试" in r.text
    assert await _count(owner_sql) == 5
    await owner_sql("UPDATE signup_applications SET created_at = now() - interval '61 minutes'")
    assert (await _post(client, division="510725")).status_code == 303


async def test_a_chosen_match_must_fit_what_was_typed(client, owner_sql):
    r = await _post(client, division="三台", code="110105")  # a stale choice from an earlier search
    assert r.status_code == 303
    assert (await owner_sql("SELECT division_code FROM signup_applications"))[0]["division_code"] == "510722"
