"""The operator closes a county (PIPL): suspended → deletion scheduled 30 days ahead (shown on the
county's page and the console, cancellable) → when due, the worker removes every row of the county,
after it has left its joint stations; the `tenants` row stays as a tombstone, the accounts that were
the county's alone are anonymised, and the platform log keeps what happened. The database function
that deletes refuses a county that is not due."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from app.accounts.models import Membership
from app.audit.services import record
from app.cases.models import Case
from app.core.clock import now as clock_now
from app.data import closing
from app.deputies.models import Deputy
from app.platform.routes import CHINA
from app.tenancy.models import AdminNode
from tests.factories import add_member, csrf_from, login, make_user
from tests.joint.world import accepted, three_counties
from tests.platform.conftest import enrolled_operator, sign_in_operator

TENANT_TABLES = ("SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid "
                 "AND a.attname = 'tenant_id' WHERE c.relnamespace = 'public'::regnamespace "
                 "AND c.relkind = 'r' ORDER BY 1")


async def county_records(database, c, word: str) -> None:
    """A deputy, a case from the public and an audit entry of the county's own."""
    async with database.transaction(tenant_id=c.id) as db:
        node = await db.scalar(select(AdminNode.id).where(AdminNode.kind == "township"))
        db.add_all([Deputy(tenant_id=c.id, name=f"{word}代表", mobile="13912345678"),
                    Case(tenant_id=c.id, receipt_code=f"{word.upper()}CDEFGHJK"[:10], source="online",
                         person_name="李群众", person_mobile="13787654321", content=f"{word}路灯坏了", node_id=node)])
        await record(db, tenant_id=c.id, actor_user_id=c.users["county_admin"].id, action="test_entry")


async def rows_of(owner_sql, tenant_id: int) -> dict[str, int]:
    """Rows naming the tenant in every table with a tenant_id (read as the owner, past RLS)."""
    counts = {}
    for row in await owner_sql(TENANT_TABLES):
        [n] = await owner_sql(f'SELECT count(*) AS n FROM "{row["relname"]}" WHERE tenant_id = $1', tenant_id)
        if n["n"]:
            counts[row["relname"]] = n["n"]
    return counts


async def post_form(client, page_url: str, action: str, **fields):
    page = await client.get(page_url)
    return await client.post(action, data={"_csrf_token": csrf_from(page.text), **fields}, follow_redirects=False)


async def pass_the_grace_period(owner_sql, tenant_id: int) -> None:
    """The database's clock cannot be moved: the due date is moved back instead, as 30 days would."""
    await owner_sql("UPDATE tenants SET deletion_due_at = now() - interval '1 minute' WHERE id = $1", tenant_id)


async def test_a_closed_county_is_deleted_when_due_and_nothing_else(client, database, owner_sql):
    wuzhou, fengkai, third = await three_counties(database)
    agreement = await accepted(database, wuzhou, fengkai)
    for c in (fengkai, third):
        await county_records(database, c, c.tenant.slug)
    await owner_sql("INSERT INTO operator_exports (subject_tenant_id, reason, status) VALUES ($1, 'letter', 'done')",
                    fengkai.id)
    user, secret = await enrolled_operator(database, owner_sql)
    await sign_in_operator(client, user.username, secret)
    page = f"/ops/tenants/{fengkai.id}"
    assert (await post_form(client, page, f"{page}/suspend", reason="县里书面申请注销")).status_code == 303
    r = await post_form(client, page, f"{page}/deletion", reason="县里书面申请注销，已导出")
    assert r.status_code == 303, r.text
    due = clock_now() + closing.GRACE
    shown = (await client.get(page)).text
    assert due.astimezone(CHINA).strftime("%Y-%m-%d") in shown and "/deletion/cancel" in shown
    assert due.astimezone(CHINA).strftime("%Y-%m-%d") in (await client.get("/ops/")).text

    third_before = await rows_of(owner_sql, third.id)
    assert await closing.delete_due(database) == []  # not due yet
    assert (await rows_of(owner_sql, fengkai.id)).get("deputies") == 1

    await pass_the_grace_period(owner_sql, fengkai.id)
    assert await closing.delete_due(database) == [fengkai.id]

    assert await rows_of(owner_sql, fengkai.id) == {}
    assert await owner_sql("SELECT 1 FROM operator_exports WHERE subject_tenant_id = $1", fengkai.id) == []
    assert await rows_of(owner_sql, third.id) == third_before
    [tomb] = await owner_sql("SELECT name, status FROM tenants WHERE id = $1", fengkai.id)
    assert (tomb["name"], tomb["status"]) == (fengkai.tenant.name, "deleted")
    # the joint agreement was withdrawn first: the other county's copy says so
    [copy] = await owner_sql("SELECT status, parties FROM joint_agreements WHERE tenant_id = $1 AND agreement_key = $2",
                             wuzhou.id, agreement.agreement_key)
    assert copy["status"] == "archived" and '"withdrawn"' in copy["parties"]
    entries = {r["action"]: r for r in await owner_sql(
        "SELECT action, details FROM platform_audit_log WHERE subject_tenant_id = $1", fengkai.id)}
    assert {"tenant_suspended", "tenant_deletion_scheduled", "tenant_deleted"} <= entries.keys()
    assert '"deputies": 1' in entries["tenant_deleted"]["details"]
    assert '"joint_agreements_left": 1' in entries["tenant_deleted"]["details"]
    after = (await client.get(page)).text
    assert f"{page}/deletion" not in after and f"{page}/reactivate" not in after


async def test_the_operator_cancels_a_scheduled_deletion(client, database, owner_sql):
    wuzhou, fengkai, _third = await three_counties(database)
    user, secret = await enrolled_operator(database, owner_sql)
    await sign_in_operator(client, user.username, secret)
    page = f"/ops/tenants/{fengkai.id}"
    await post_form(client, page, f"{page}/suspend", reason="申请注销")
    await post_form(client, page, f"{page}/deletion", reason="申请注销")
    # while scheduled, the county cannot be reactivated
    assert (await post_form(client, page, f"{page}/reactivate", reason="误操作")).status_code == 409
    r = await post_form(client, page, f"{page}/deletion/cancel")
    assert r.status_code == 303
    [row] = await owner_sql("SELECT status, deletion_due_at FROM tenants WHERE id = $1", fengkai.id)
    assert (row["status"], row["deletion_due_at"]) == ("suspended", None)
    assert "/deletion/cancel" not in (await client.get(page)).text
    assert await closing.delete_due(database, now=clock_now() + timedelta(days=60)) == []
    assert (await rows_of(owner_sql, fengkai.id)).get("memberships") == 3
    actions = [r["action"] for r in await owner_sql(
        "SELECT action FROM platform_audit_log WHERE subject_tenant_id = $1 ORDER BY id", fengkai.id)]
    assert actions[-2:] == ["tenant_deletion_scheduled", "tenant_deletion_cancelled"]


async def test_only_a_suspended_county_can_be_scheduled(client, database, owner_sql):
    wuzhou, _fengkai, _third = await three_counties(database)
    user, secret = await enrolled_operator(database, owner_sql)
    await sign_in_operator(client, user.username, secret)
    page = f"/ops/tenants/{wuzhou.id}"
    r = await post_form(client, page, f"{page}/deletion", reason="申请注销")
    assert r.status_code == 409 and 'role="alert"' in r.text
    [row] = await owner_sql("SELECT status, deletion_due_at FROM tenants WHERE id = $1", wuzhou.id)
    assert (row["status"], row["deletion_due_at"]) == ("active", None)


@pytest.mark.parametrize("state", ["active", "suspended, not due", "suspended, due later"])
async def test_the_database_function_refuses_a_county_not_due(database, owner_sql, state):
    wuzhou, _fengkai, _third = await three_counties(database)
    if state != "active":
        await owner_sql("UPDATE tenants SET status = 'suspended' WHERE id = $1", wuzhou.id)
    if state == "suspended, due later":
        await owner_sql("UPDATE tenants SET deletion_due_at = now() + interval '1 day' WHERE id = $1", wuzhou.id)
    with pytest.raises(DBAPIError, match="not suspended with its deletion due"):
        async with database.transaction(tenant_id=wuzhou.id) as db:  # the runtime role, bound to the county
            await db.execute(text("SELECT delete_tenant_data(:t)"), {"t": wuzhou.id})
    assert (await rows_of(owner_sql, wuzhou.id)).get("memberships") == 3


async def test_accounts_of_the_deleted_county_alone_are_anonymised(client, database, owner_sql):
    """users is a platform table: the county's rows go, its accounts would stay. Those with no active
    membership in another tenant lose what identifies them and cannot sign in (their rows stay: other
    records point at them); a member of another county, and an operator, keep everything."""
    wuzhou, fengkai, third = await three_counties(database)
    admin = fengkai.users["county_admin"]
    both = await make_user(database, "fengkai-and-third", mobile="13911112222")
    operator = await make_user(database, "ops-member", operator=True)
    moved_on = await make_user(database, "fengkai-formerly-third")
    for user in (both, operator, moved_on):
        await add_member(database, fengkai.tenant, user, "viewer")
    await add_member(database, third.tenant, both, "viewer")
    gone = await add_member(database, third.tenant, moved_on, "viewer")
    async with database.transaction(tenant_id=third.id) as db:
        await db.execute(update(Membership).where(Membership.id == gone.id).values(revoked_at=clock_now()))
    await owner_sql("UPDATE users SET mobile = '13900001111', email = 'admin@fengkai.example', totp_secret = 'v1:x', "
                    "totp_enabled_at = now(), locale = 'zh_Hans' WHERE id = $1", admin.id)
    assert (await login(client, admin.username)).status_code == 303  # a live session
    await owner_sql("UPDATE tenants SET status = 'suspended', deletion_due_at = now() - interval '1 minute' "
                    "WHERE id = $1", fengkai.id)
    before = {r["id"]: dict(r) for r in await owner_sql("SELECT * FROM users WHERE id = ANY($1::bigint[])",
                                                       [both.id, operator.id])}

    assert await closing.delete_due(database) == [fengkai.id]

    leaving = [admin.id, fengkai.users["township_staff"].id, fengkai.users["viewer"].id, moved_on.id]
    rows = await owner_sql("SELECT * FROM users WHERE id = ANY($1::bigint[]) ORDER BY id", leaving)
    assert [(r["username"], r["display_name"], r["mobile"], r["email"], r["password_hash"], r["totp_secret"],
             r["totp_enabled_at"], r["locale"], r["disabled_at"] is not None) for r in rows] == [
        (f"deleted:{r['id']}", "（已注销的账号）", None, None, "", None, None, None, True) for r in rows]
    assert len(rows) == 4
    assert await owner_sql("SELECT 1 FROM user_sessions WHERE user_id = $1 AND revoked_at IS NULL", admin.id) == []
    assert (await client.get(f"/t/{fengkai.tenant.slug}/")).url.path == "/login"  # the session is over
    await client.get("/logout")
    assert (await login(client, admin.username)).status_code == 401
    assert (await login(client, f"deleted:{admin.id}")).status_code == 401
    after = {r["id"]: dict(r) for r in await owner_sql("SELECT * FROM users WHERE id = ANY($1::bigint[])",
                                                      [both.id, operator.id])}
    assert after == before
    assert (await login(client, both.username)).status_code == 303
    [entry] = await owner_sql("SELECT details FROM platform_audit_log WHERE action = 'tenant_deleted' "
                              "AND subject_tenant_id = $1", fengkai.id)
    assert '"users_anonymised": 4' in entry["details"]
    # the other counties' members are untouched
    assert not await owner_sql("SELECT 1 FROM users WHERE disabled_at IS NOT NULL AND id = ANY($1::bigint[])",
                               [u.id for c in (wuzhou, third) for u in c.users.values()])
