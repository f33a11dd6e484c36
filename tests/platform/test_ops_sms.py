"""The operator sees the platform's SMS provider (/ops/sms): the provider in use, the last success and
the last failure with its code, the share of errors in the last hour and day, the hold while the
account is in arrears (lifted here: operator only, CSRF, audited), the open alerts, and per county the
messages that need attention, counted as the county's home counts them."""

from __future__ import annotations

import re
import pytest
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from sqlalchemy import text

from app.notify import provider_status
from app.notify.models import Delivery, Outbox
from app.platform import services, sms_status
from app.platform.routes import CHINA
from tests.factories import add_member, csrf_from, login, make_tenant, make_user
from tests.home.test_home_message_trouble import put_rows
from tests.deputies.deputy_world import text_of

NOW = datetime.now(timezone.utc)


@pytest.fixture(autouse=True)
def _now_is_when_the_test_starts():
    """The pages count against the real clock: NOW is this test's start, not the module's import
    (in a full run minutes apart, a row "claimed now" would already count as stuck)."""
    global NOW
    NOW = datetime.now(timezone.utc)


async def sent_sms(database, tenant, minutes_ago: list[int]) -> None:
    """SMS accepted by the provider, one row and one attempt each."""
    t = tenant.id
    async with database.transaction(tenant_id=t) as db:
        rows = [Outbox(tenant_id=t, dedupe_key=f"ok{i}", kind="case_receipt", channel="sms", subject="case:9",
                       address="13912345678", body="b", due_at=NOW, next_attempt_at=NOW, status="sent", attempts=1)
                for i in range(len(minutes_ago))]
        db.add_all(rows)
        await db.flush()
        db.add_all([Delivery(tenant_id=t, outbox_id=row.id, attempt=1, channel="sms", result="sent",
                             started_at=NOW - timedelta(minutes=ago)) for row, ago in zip(rows, minutes_ago)])


async def world(database):
    """alpha: every kind of trouble (tests/home), 7 attempts answered in the last hour, all errors;
    beta: 3 SMS accepted in the last hour and 2 five hours ago; gamma: nothing at all."""
    alpha, beta = await make_tenant(database, "alpha"), await make_tenant(database, "beta")
    await make_tenant(database, "gamma")
    await put_rows(database, SimpleNamespace(tenant=alpha))
    await sent_sms(database, beta, [1, 20, 50, 300, 300])
    async with database.transaction() as db:  # as the sweep notes them
        await db.execute(text(
            "INSERT INTO sms_provider_status (id, last_success_at, last_failure_at, last_failure_code) "
            "VALUES (1, :ok, :failed, 'isv.MOBILE_NUMBER_ILLEGAL')"),
            {"ok": NOW - timedelta(minutes=2), "failed": NOW - timedelta(minutes=7)})
    return alpha, beta


async def test_error_rates_and_the_counties_with_trouble_as_their_home_counts_them(database):
    alpha, beta = await world(database)
    async with database.session() as db:
        view = await sms_status.provider_health(db, provider="aliyun", url="https://dysmsapi.aliyuncs.com/")
        usage = {u.tenant.slug: u.figures for u in await services.tenants_with_usage(db)}
    assert (view.hour.errors, view.hour.answered, view.hour.error_percent) == (7, 10, 70)
    assert (view.day.errors, view.day.answered, view.day.error_percent) == (7, 12, 58)
    # unknown; stuck sending + checked for long; failing again and again + failed lately
    assert [(t.slug, (c["msg_unknown"], c["msg_stuck"], c["msg_failing"])) for t, c in view.troubled] == [
        ("alpha", (1, 2, 2))]
    assert {k: usage["alpha"][k] for k in ("msg_unknown", "msg_stuck", "msg_failing")} == {
        "msg_unknown": 1, "msg_stuck": 2, "msg_failing": 2}
    assert usage["beta"]["sms_month"] >= 3 and usage["gamma"]["msg_failing"] == 0
    assert view.where == "https://dysmsapi.aliyuncs.com" and not view.held


async def test_the_operator_reads_the_providers_status(client, database, owner_sql, operator, settings, monkeypatch):
    await world(database)
    monkeypatch.setattr(settings, "sms_url", "https://dysmsapi.aliyuncs.com/")
    r = await client.get("/ops/sms")
    assert r.status_code == 200
    page = text_of(r.text)
    assert "阿里云短信" in page or "Alibaba Cloud SMS" in page
    last_success = r.text.split('id="sms-last-success">')[1].split("</dd>")[0]
    assert last_success.startswith(f"{(NOW - timedelta(minutes=2)).astimezone(CHINA):%Y-%m-%d}")
    assert "isv.MOBILE_NUMBER_ILLEGAL" in r.text.split('id="sms-last-failure">')[1].split("</dd>")[0]
    errors_hour = r.text.split('id="sms-errors-hour">')[1].split("</dd>")[0]
    assert "7" in errors_hour and "10" in errors_hour and "(70%)" in errors_hour
    assert "(58%)" in r.text.split('id="sms-errors-day">')[1].split("</dd>")[0]
    troubled = r.text.split('id="sms-troubled"')[1].split("</table>")[0]
    assert "alpha县人大常委会" in troubled and "beta" not in troubled
    assert 'id="sms-held"' not in r.text and "/ops/sms/lift" not in r.text
    # the console's table has the per-county figures too
    row = (await client.get("/ops/")).text.split("alpha县人大常委会")[1].split("</tr>")[0]
    assert re.search(r"<td>1</td><td>2</td><td>2</td><td>\d+</td>$", row.strip()), row  # then SMS this month


async def test_the_operator_lifts_the_arrears_hold_once_and_it_is_audited(client, database, owner_sql, operator):
    async with database.transaction() as db:
        await provider_status.hold(db, code="isv.AMOUNT_NOT_ENOUGH", error="HTTP 200 isv.AMOUNT_NOT_ENOUGH: 账户余额不足",
                                   now=NOW)
    dashboard = await client.get("/ops/")
    assert 'id="sms-warning"' in dashboard.text and 'href="/ops/sms"' in dashboard.text
    page = await client.get("/ops/sms")
    assert 'id="sms-held"' in page.text and "isv.AMOUNT_NOT_ENOUGH" in page.text
    assert "账户余额不足" in page.text.split('id="sms-alerts"')[1]  # the open alert
    # without the form's token nothing happens
    r = await client.post("/ops/sms/lift", data={}, follow_redirects=False)
    assert r.status_code == 403
    assert (await owner_sql("SELECT held_since FROM sms_provider_status"))[0]["held_since"] is not None
    r = await client.post("/ops/sms/lift", data={"_csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ops/sms?done=lifted"
    status = (await owner_sql("SELECT held_since, held_code FROM sms_provider_status"))[0]
    assert (status["held_since"], status["held_code"]) == (None, None)
    alert = (await owner_sql("SELECT resolved_at, resolved_by FROM platform_alerts"))[0]
    assert alert["resolved_at"] is not None and alert["resolved_by"] == operator.id
    audit = await owner_sql("SELECT actor_user_id, details FROM platform_audit_log WHERE action = 'sms_hold_lifted'")
    assert len(audit) == 1 and audit[0]["actor_user_id"] == operator.id and "AMOUNT_NOT_ENOUGH" in audit[0]["details"]
    after = await client.get("/ops/sms?done=lifted")
    assert 'id="sms-held"' not in after.text and 'id="sms-warning"' not in (await client.get("/ops/")).text
    # a second lift (another operator was quicker) is refused and writes nothing
    r = await client.post("/ops/sms/lift", data={"_csrf_token": csrf_from(after.text)}, follow_redirects=False)
    assert r.status_code == 409
    assert len(await owner_sql("SELECT 1 FROM platform_audit_log WHERE action = 'sms_hold_lifted'")) == 1


async def test_only_operators_see_the_page_or_lift_the_hold(client, database, owner_sql):
    tenant = await make_tenant(database, "alpha")
    await add_member(database, tenant, await make_user(database, "wang"))
    async with database.transaction() as db:
        await provider_status.hold(db, code="isv.OUT_OF_SERVICE", error="业务停机", now=NOW)
    await login(client, "wang")
    assert (await client.get("/ops/sms", follow_redirects=False)).status_code == 404
    page = await client.get("/t/alpha/")
    r = await client.post("/ops/sms/lift", data={"_csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert r.status_code == 404
    assert (await owner_sql("SELECT held_since FROM sms_provider_status"))[0]["held_since"] is not None
