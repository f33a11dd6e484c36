"""The tenant's audit log page, and the log's append-only guarantee."""

import gzip
import re

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from tests.accounts.people import admin_of, count, county, session_of, use_session
from tests.factories import add_member, login, make_user


async def test_admin_sees_who_entered_the_unit_in_readable_chinese(client, database, owner_sql):
    tenant = await county(database)
    await admin_of(client, database, tenant)
    admin = session_of(client)
    user = await make_user(database, "zhao")
    await add_member(database, tenant, user, "viewer")
    use_session(client, None)
    await login(client, "zhao")
    assert (await client.get("/t/alpha/")).status_code == 200
    await client.get("/t/alpha/")  # a second page in the same session is not a new entry
    use_session(client, admin)
    r = await client.get("/t/alpha/audit")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert "审计日志" in r.text
    rows = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td>([^<]+)</td>", r.text)
    # newest first: the admin entering (with this very page), then Zhao
    assert [(who, action) for _, who, action in rows] == [("Admin", "进入本单位"), ("Zhao", "进入本单位")]
    assert "testclient" in r.text  # the client address
    assert await count(owner_sql, "SELECT count(*) FROM audit_log WHERE action = 'tenant_entered'") == 2


async def test_changes_show_translated_roles_and_times_in_the_tenants_zone(client, database, owner_sql):
    tenant = await county(database)
    admin, _ = await admin_of(client, database, tenant)
    await owner_sql(
        "INSERT INTO audit_log (tenant_id, at, actor_user_id, action, target, details) VALUES "
        "($1, '2026-03-01 23:30:00+00', $2, 'membership_role_changed', 'membership:7', "
        "'{\"member\": \"钱七\", \"old_role\": \"viewer\", \"new_role\": \"deputy\"}'), "
        "($1, '2026-03-02 00:00:00+00', NULL, 'something_new', NULL, NULL)",
        tenant.id, admin.id,
    )
    r = await client.get("/t/alpha/audit")
    assert "2026-03-02 07:30:00" in r.text  # Asia/Shanghai is UTC+8
    assert "2026-03-02 08:00:00" in r.text
    assert "更改角色" in r.text and "钱七 · 只读查看 → 人大代表" in r.text and "membership:7" in r.text
    assert "something_new" in r.text  # an action without a label shows its code


async def test_other_tenants_entries_are_not_shown(client, database, owner_sql):
    tenant = await county(database)
    beta = await county(database, "beta")
    await admin_of(client, database, tenant)
    await owner_sql("INSERT INTO audit_log (tenant_id, action, target) VALUES ($1, 'secret_thing', 'beta-only')", beta.id)
    r = await client.get("/t/alpha/audit")
    assert "beta-only" not in r.text and "secret_thing" not in r.text


async def test_older_link_pages_by_id(client, database, owner_sql):
    tenant = await county(database)
    admin, _ = await admin_of(client, database, tenant)
    await client.get("/t/alpha/")  # the admin's own tenant_entered entry: id 1
    await owner_sql(
        "INSERT INTO audit_log (tenant_id, actor_user_id, action, target) "
        "SELECT $1, $2, 'invitation_created', 'invitation:' || n FROM generate_series(1, 60) AS n",
        tenant.id, admin.id,
    )
    first = await client.get("/t/alpha/audit")
    assert first.text.count("发出邀请") == 50
    assert len(gzip.compress(first.content, 6)) <= 14 * 1024  # a full page stays within the first-HTML budget
    assert "invitation:60<" in first.text and "invitation:11<" in first.text and "invitation:10<" not in first.text
    older = re.search(r'href="(/t/alpha/audit\?before=(\d+))"', first.text)
    assert older and older.group(2) == "12"  # id of the last entry shown
    second = await client.get(older.group(1))
    assert second.text.count("发出邀请") == 10 and "进入本单位" in second.text
    assert "before=" not in second.text  # nothing older
    assert 'href="/t/alpha/audit"' in second.text  # back to the newest


async def test_audit_page_uses_a_constant_number_of_queries(client, database, owner_sql):
    tenant = await county(database)
    await admin_of(client, database, tenant)
    await client.get("/t/alpha/")
    few = int((await client.get("/t/alpha/audit")).headers["x-query-count"])
    for i in range(5):
        user = await make_user(database, f"user{i}")
        await owner_sql("INSERT INTO audit_log (tenant_id, actor_user_id, action) VALUES ($1, $2, 'tenant_entered')",
                        tenant.id, user.id)
    r = await client.get("/t/alpha/audit")
    assert int(r.headers["x-query-count"]) == few
    assert all(f"User{i}" in r.text for i in range(5))


async def test_bad_before_parameter_is_a_400(client, database):
    tenant = await county(database)
    await admin_of(client, database, tenant)
    for value in ("abc", "0", "99999999999999999999999"):
        assert (await client.get(f"/t/alpha/audit?before={value}")).status_code == 400


@pytest.mark.parametrize("role", ["township_staff", "viewer", "deputy"])
async def test_other_roles_get_404(client, database, role):
    tenant = await county(database)
    user = await make_user(database, "zhang")
    await add_member(database, tenant, user, role, scope="城关镇" if role == "township_staff" else None)
    await login(client, "zhang")
    r = await client.get("/t/alpha/audit")
    assert r.status_code == 404 and "页面不存在" in r.text


async def test_the_runtime_role_cannot_change_or_delete_audit_entries(database, owner_sql):
    tenant = await county(database)
    await owner_sql("INSERT INTO audit_log (tenant_id, action) VALUES ($1, 'tenant_entered')", tenant.id)
    for sql in ("UPDATE audit_log SET action = 'forged'", "DELETE FROM audit_log",
                "UPDATE platform_audit_log SET action = 'forged'", "DELETE FROM platform_audit_log"):
        with pytest.raises(ProgrammingError, match="permission denied"):
            async with database.transaction(tenant_id=tenant.id) as db:
                await db.execute(text(sql))
    assert [r["action"] for r in await owner_sql("SELECT action FROM audit_log")] == ["tenant_entered"]
    # appending still works, in the bound tenant only
    async with database.transaction(tenant_id=tenant.id) as db:
        await db.execute(text("INSERT INTO audit_log (tenant_id, action) VALUES (:t, 'x')"), {"t": tenant.id})
    assert await count(owner_sql, "SELECT count(*) FROM audit_log") == 2
