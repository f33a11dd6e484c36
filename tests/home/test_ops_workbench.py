"""The operator's console opens on what waits for them: sign-ups to review, counties near their SMS quota
this month (80 % or more used), counties whose messages fail — each a count linking to the list of
exactly those, read without a query per county."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from sqlalchemy import update

from app.notify.models import Delivery, Outbox
from app.platform.models import SignupApplication
from app.tenancy.models import Tenant
from tests.factories import make_tenant
from tests.home.test_home_message_trouble import put_rows
from tests.home.work_world import items
from tests.platform.conftest import enrolled_operator, sign_in_operator


async def sms_sent(database, tenant, n: int) -> None:
    """n SMS accepted by the provider just now."""
    t, now = tenant.id, datetime.now(timezone.utc)
    async with database.transaction(tenant_id=t) as db:
        rows = [Outbox(tenant_id=t, dedupe_key=f"ok{i}", kind="case_receipt", channel="sms", subject="case:9",
                       address="13912345678", body="b", due_at=now, next_attempt_at=now, status="sent", attempts=1)
                for i in range(n)]
        db.add_all(rows)
        await db.flush()
        db.add_all([Delivery(tenant_id=t, outbox_id=row.id, attempt=1, channel="sms", result="sent",
                             started_at=now - timedelta(seconds=5)) for row in rows])


async def world(database) -> None:
    """alpha: messages in every kind of trouble; beta: 4 of its 5 SMS used; gamma: 4 of 1000."""
    alpha, beta, gamma = [await make_tenant(database, slug) for slug in ("alpha", "beta", "gamma")]
    await put_rows(database, SimpleNamespace(tenant=alpha))
    await sms_sent(database, beta, 4)
    await sms_sent(database, gamma, 4)
    async with database.transaction() as db:
        await db.execute(update(Tenant).where(Tenant.id == beta.id).values(sms_quota=5))
        db.add_all([SignupApplication(division_code="510722", county_name=f"三台县{n}", contact_name="王",
                                      contact_phone="13800000000", status=status)
                    for n, status in enumerate(("pending", "pending", "rejected"))])


def tenant_rows(html: str) -> set[str]:
    table = html[html.index('id="tenants"'):html.index('id="joint"')]
    return set(re.findall(r'<span class="muted">(\w+)</span></td>', table))


async def test_the_console_opens_on_the_operators_work(client, database, owner_sql):
    await world(database)
    _user, secret = await enrolled_operator(database, owner_sql)
    await sign_in_operator(client, "ops", secret)
    r = await client.get("/ops/")
    assert r.status_code == 200
    found = items(r.text)
    assert {k: v for k, (_link, v) in found.items()} == {"signups": "2", "quota": "1", "failing": "1"}
    assert found["signups"][0] == "/ops/#pending" and 'id="pending"' in r.text
    quota = await client.get(found["quota"][0])
    assert tenant_rows(quota.text) == {"beta"}
    failing = await client.get(found["failing"][0])
    assert tenant_rows(failing.text) == {"alpha"}
    assert tenant_rows(r.text) == {"alpha", "beta", "gamma"}

    queries = int(r.headers["x-query-count"])
    for n in range(5):  # more counties, the same queries
        await sms_sent(database, await make_tenant(database, f"more{n}"), 1)
    again = await client.get("/ops/")
    assert int(again.headers["x-query-count"]) == queries
    assert {k: v for k, (_link, v) in items(again.text).items()} == {"signups": "2", "quota": "1", "failing": "1"}
