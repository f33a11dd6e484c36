from app.core.security import token_digest
from app.platform import services
from tests.factories import add_member, csrf_from, login, make_tenant, make_user


async def _application(owner_sql, code="510722", county="四川省 绵阳市 三台县", phone="13800138000"):
    rows = await owner_sql(
        "INSERT INTO signup_applications (division_code, county_name, contact_name, contact_phone, client_addr) "
        "VALUES ($1, $2, '张三', $3, '10.0.0.1') RETURNING id", code, county, phone)
    return rows[0]["id"]


async def _actions(owner_sql):
    return [r["action"] for r in await owner_sql("SELECT action FROM platform_audit_log ORDER BY id")]


async def test_dashboard_lists_pending_masked_and_tenant_usage(client, database, owner_sql, operator):
    await _application(owner_sql)
    tenant = await make_tenant(database, "alpha")
    for name in ("a1", "a2"):
        await add_member(database, tenant, await make_user(database, name))
    r = await client.get("/ops/")
    assert r.status_code == 200
    assert "138****8000" in r.text and "13800138000" not in r.text
    assert "alpha县人大常委会" in r.text
    row = r.text.split("alpha县人大常委会")[1].split("</tr>")[0]
    assert "<td>2</td>" in row  # members
    assert "成员" in r.text and "短信" in r.text
    assert len(r.content) < 14_000


async def test_usage_service_counts_active_members(database, owner_sql):
    tenant = await make_tenant(database, "alpha")
    other = await make_tenant(database, "beta")
    await add_member(database, tenant, await make_user(database, "a1"))
    await add_member(database, tenant, await make_user(database, "a2"))
    await owner_sql("UPDATE memberships SET revoked_at = now() WHERE id = (SELECT min(id) FROM memberships)")
    async with database.session() as db:
        usage = {u.tenant.slug: u.figures for u in await services.tenants_with_usage(db)}
    assert usage["alpha"] == {"members": 1, "stations": 0, "deputies": 0, "open_cases": 0, "sms_month": 0,
                              "msg_unknown": 0, "msg_stuck": 0, "msg_failing": 0}
    assert usage["beta"]["members"] == 0 and other.id


async def test_approve_creates_active_tenant_and_invitation(client, database, owner_sql, operator):
    app_id = await _application(owner_sql)
    page = await client.get(f"/ops/applications/{app_id}")
    assert page.status_code == 200
    assert "13800138000" in page.text  # full number for the reviewer, and the reveal is audited
    assert 'value="c510722"' in page.text and 'value="三台县人大常委会"' in page.text
    assert "signup_contact_viewed" in await _actions(owner_sql)
    r = await client.post(f"/ops/applications/{app_id}/approve", data={
        "preset": "standard", "slug": "c510722", "name": "三台县人大常委会", "admin_name": "张三",
        "admin_mobile": "13800138000", "_csrf_token": csrf_from(page.text)})
    assert r.status_code == 200, r.text
    assert "/join/c510722/" in r.text and "短信" in r.text
    token = r.text.split("/join/c510722/")[1].split("<")[0]
    tenant = (await owner_sql("SELECT * FROM tenants"))[0]
    assert (tenant["slug"], tenant["status"], tenant["division_code"], tenant["preset"]) == (
        "c510722", "active", "510722", "standard")
    root = await owner_sql("SELECT name, kind FROM admin_nodes WHERE parent_id IS NULL")
    assert [(n["name"], n["kind"]) for n in root] == [("三台县", "county")]
    application = (await owner_sql("SELECT * FROM signup_applications"))[0]
    assert application["status"] == "approved" and application["created_tenant_id"] == tenant["id"]
    assert application["decided_by"] == operator.id
    invitation = (await owner_sql("SELECT * FROM invitations"))[0]
    assert invitation["tenant_id"] == tenant["id"] and invitation["role"] == "county_admin"
    assert invitation["display_name"] == "张三" and invitation["mobile"] == "13800138000"
    assert bytes(invitation["token_hash"]) == token_digest(token)
    assert invitation["accepted_at"] is None and invitation["created_by"] == operator.id
    actions = await _actions(owner_sql)
    assert "signup_approved" in actions and "tenant_created" in actions
    audited = await owner_sql("SELECT * FROM platform_audit_log WHERE action = 'signup_approved'")
    assert audited[0]["actor_user_id"] == operator.id and audited[0]["subject_tenant_id"] == tenant["id"]
    # already decided: refused, nothing changes
    again = await client.post(f"/ops/applications/{app_id}/approve", data={
        "preset": "standard", "slug": "c510722x", "name": "x", "admin_name": "张三", "admin_mobile": "",
        "_csrf_token": csrf_from(page.text)})
    assert again.status_code == 409 and "已经处理" in again.text
    assert len(await owner_sql("SELECT id FROM tenants")) == 1
    assert len(await owner_sql("SELECT id FROM invitations")) == 1


async def test_approve_with_bad_input_writes_nothing(client, owner_sql, database, operator):
    await make_tenant(database, "taken")
    app_id = await _application(owner_sql, code="510723", county="四川省 绵阳市 盐亭县")
    page = await client.get(f"/ops/applications/{app_id}")
    base = {"preset": "standard", "slug": "c510723", "name": "盐亭县人大常委会", "admin_name": "张三",
            "admin_mobile": "13800138000", "_csrf_token": csrf_from(page.text)}
    # "santai" is a demo county's preset with its own townships: never offered for a new county
    assert 'value="santai"' not in page.text and "标准县级配置" in page.text
    for changes in ({"slug": "Bad Slug"}, {"slug": "taken"}, {"preset": "nope"}, {"preset": "santai"},
                    {"admin_mobile": "123"},
                    {"admin_name": ""}, {"name": ""}):
        r = await client.post(f"/ops/applications/{app_id}/approve", data={**base, **changes})
        assert r.status_code == 400, changes
        assert 'class="error"' in r.text
    assert [t["slug"] for t in await owner_sql("SELECT slug FROM tenants")] == ["taken"]
    assert (await owner_sql("SELECT status FROM signup_applications"))[0]["status"] == "pending"
    assert not await owner_sql("SELECT id FROM invitations")


async def test_reject_needs_a_reason(client, owner_sql, operator):
    app_id = await _application(owner_sql)
    page = await client.get(f"/ops/applications/{app_id}")
    r = await client.post(f"/ops/applications/{app_id}/reject", data={"reason": " ", "_csrf_token": csrf_from(page.text)})
    assert r.status_code == 400 and "原因" in r.text
    assert (await owner_sql("SELECT status FROM signup_applications"))[0]["status"] == "pending"
    r = await client.post(f"/ops/applications/{app_id}/reject", data={"reason": "非县级人大", "_csrf_token": csrf_from(page.text)},
                          follow_redirects=False)
    assert r.status_code == 303
    row = (await owner_sql("SELECT * FROM signup_applications"))[0]
    assert (row["status"], row["reason"], row["decided_by"]) == ("rejected", "非县级人大", operator.id)
    assert "signup_rejected" in await _actions(owner_sql)
    shown = await client.get(f"/ops/applications/{app_id}")
    assert "已拒绝" in shown.text and "138****8000" in shown.text and "<form method=\"post\" action=\"/ops/applications" not in shown.text
    r = await client.post(f"/ops/applications/{app_id}/reject", data={"reason": "again", "_csrf_token": csrf_from(page.text)})
    assert r.status_code == 409
    assert (await owner_sql("SELECT reason FROM signup_applications"))[0]["reason"] == "非县级人大"


async def test_unknown_application_and_tenant_are_404(client, operator):
    assert (await client.get("/ops/applications/999")).status_code == 404
    assert (await client.get("/ops/tenants/999")).status_code == 404


async def test_suspend_revokes_sessions_and_members_see_the_notice(client, database, owner_sql, operator):
    """Two browsers share one test client: the session cookie is swapped between them."""
    tenant = await make_tenant(database, "alpha")
    member = await make_user(database, "wang")
    await add_member(database, tenant, member)
    ops_cookie = client.cookies.get("lianluo_session")

    async def as_member():
        client.cookies.delete("lianluo_session")
        await login(client, "wang")
        return client.cookies.get("lianluo_session")

    def as_operator():
        client.cookies.set("lianluo_session", ops_cookie)

    member_cookie = await as_member()
    assert (await client.get("/t/alpha/")).status_code == 200
    as_operator()
    page = await client.get(f"/ops/tenants/{tenant.id}")
    r = await client.post(f"/ops/tenants/{tenant.id}/suspend", data={"reason": "", "_csrf_token": csrf_from(page.text)})
    assert r.status_code == 400  # a reason is required
    assert (await owner_sql("SELECT status FROM tenants"))[0]["status"] == "active"
    r = await client.post(f"/ops/tenants/{tenant.id}/suspend", data={"reason": "欠费", "_csrf_token": csrf_from(page.text)},
                          follow_redirects=False)
    assert r.status_code == 303
    row = (await owner_sql("SELECT status, status_changed_at FROM tenants"))[0]
    assert row["status"] == "suspended" and row["status_changed_at"] is not None
    sessions = await owner_sql("SELECT revoked_at FROM user_sessions WHERE user_id = $1", member.id)
    assert sessions and all(s["revoked_at"] is not None for s in sessions)
    # the member is signed out at once ...
    client.cookies.set("lianluo_session", member_cookie)
    r = await client.get("/t/alpha/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    # ... and after signing in again sees the notice
    await as_member()
    r = await client.get("/t/alpha/")
    assert r.status_code == 404 and "暂停" in r.text
    assert "账户已暂停" in r.text and "页面不存在" not in r.text  # titled as what it is
    assert 'action="/logout"' in r.text and 'href="/tenants"' in r.text  # a way out
    # the start page does not bounce them back into the suspended county
    r = await client.get("/", follow_redirects=False)
    assert r.headers["location"] == "/tenants"
    # the operator's own session is untouched
    as_operator()
    assert (await client.get("/ops/")).status_code == 200
    page = await client.get(f"/ops/tenants/{tenant.id}")
    assert "已暂停" in page.text
    r = await client.post(f"/ops/tenants/{tenant.id}/suspend", data={"reason": "again", "_csrf_token": csrf_from(page.text)})
    assert r.status_code == 409
    r = await client.post(f"/ops/tenants/{tenant.id}/reactivate", data={"reason": "已缴费", "_csrf_token": csrf_from(page.text)},
                          follow_redirects=False)
    assert r.status_code == 303
    assert (await owner_sql("SELECT status FROM tenants"))[0]["status"] == "active"
    assert "已恢复" in (await client.get(r.headers["location"])).text
    await as_member()
    assert (await client.get("/t/alpha/")).status_code == 200
    audited = await owner_sql(
        "SELECT action, actor_user_id, subject_tenant_id, details FROM platform_audit_log "
        "WHERE action IN ('tenant_suspended', 'tenant_reactivated') ORDER BY id")
    assert [a["action"] for a in audited] == ["tenant_suspended", "tenant_reactivated"]
    assert all(a["actor_user_id"] == operator.id and a["subject_tenant_id"] == tenant.id for a in audited)


async def test_audit_page_shows_actor_names_newest_first_and_pages(client, owner_sql, operator):
    await owner_sql("INSERT INTO platform_audit_log (actor_user_id, action) SELECT $1, 'filler_' || g "
                    "FROM generate_series(1, 60) g", operator.id)
    r = await client.get("/ops/audit")
    assert r.status_code == 200
    assert "Ops" in r.text  # the operator's display name
    assert r.text.index("filler_60") < r.text.index("filler_59")
    assert "filler_5<" not in r.text
    older = r.text.split('href="/ops/audit?before=')[1].split('"')[0]
    r2 = await client.get(f"/ops/audit?before={older}")
    assert "filler_5<" in r2.text and "filler_60" not in r2.text


async def test_non_operator_gets_404_everywhere(client, database, owner_sql):
    tenant = await make_tenant(database, "alpha")
    await add_member(database, tenant, await make_user(database, "wang"))
    await login(client, "wang")
    app_id = await _application(owner_sql, code="510723")
    for path in ("/ops/", "/ops/audit", f"/ops/applications/{app_id}", f"/ops/tenants/{tenant.id}",
                 "/ops/totp", "/ops/totp/enrol"):
        assert (await client.get(path, follow_redirects=False)).status_code == 404, path
    page = await client.get("/t/alpha/")
    r = await client.post(f"/ops/tenants/{tenant.id}/suspend", data={"reason": "x", "_csrf_token": csrf_from(page.text)})
    assert r.status_code == 404
    assert (await owner_sql("SELECT status FROM tenants"))[0]["status"] == "active"


async def test_signed_out_visitor_is_sent_to_login(client):
    r = await client.get("/ops/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


async def test_approval_never_takes_over_an_existing_tenant(database):
    """Two approvals racing for one short name: the second must not rename the first county."""
    from app.presets.services import TenantExists, apply_preset, load_preset
    from tests.factories import make_tenant

    first = await make_tenant(database, "c510723")
    try:
        await apply_preset(database, load_preset("standard"), create_only=True, slug="c510723",
                           name="别的县人大常委会", division_code="350102", county="别的县")
    except TenantExists:
        pass
    else:
        raise AssertionError("create_only updated an existing tenant")
    async with database.session() as db:
        from sqlalchemy import select

        from app.tenancy.models import Tenant

        again = await db.scalar(select(Tenant).where(Tenant.id == first.id))
    assert (again.name, again.division_code) == (first.name, first.division_code)
