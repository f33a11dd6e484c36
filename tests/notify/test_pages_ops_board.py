"""The operator's SMS quota and usage figure per county, and the compliance board's flag for a station
whose deputy mailbox was not opened in some week of the last twelve."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from app.cases.models import MailboxOpening
from app.notify.models import Delivery, Outbox
from app.platform.services import sms_month_start
from tests.activities.world import EAST, HOME, build_activity_county
from tests.compliance.compliance_world import JINZHONG, put_rules
from tests.deputies.deputy_world import signed_in, text_of
from tests.factories import csrf_from, make_tenant
from tests.platform.conftest import enrolled_operator, sign_in_operator

TZ = ZoneInfo("Asia/Shanghai")


async def put_sms(database, tenant_id: int, results: list[tuple[str, datetime]]) -> None:
    """One SMS row with one delivery per (result, started_at)."""
    now = datetime.now(timezone.utc)
    async with database.transaction(tenant_id=tenant_id) as db:
        row = Outbox(tenant_id=tenant_id, dedupe_key="sms", kind="activity_sms", channel="sms", subject="activity:1",
                     address="13800000002", body="b", due_at=now, next_attempt_at=now, status="sent")
        db.add(row)
        await db.flush()
        db.add_all([Delivery(tenant_id=tenant_id, outbox_id=row.id, attempt=n, channel="sms", started_at=at,
                             result=result) for n, (result, at) in enumerate(results, 1)])


async def test_operator_sets_the_quota_and_sees_this_months_sms(client, database, owner_sql):
    alpha, beta = await make_tenant(database, "alpha"), await make_tenant(database, "beta")
    start = sms_month_start()
    await put_sms(database, alpha.id, [("sent", start - timedelta(minutes=1)), ("retry", start + timedelta(hours=1)),
                                       ("sent", start + timedelta(hours=2)), ("sending", start + timedelta(hours=3))])
    await put_sms(database, beta.id, [("sent", start + timedelta(hours=1))])
    _, secret = await enrolled_operator(database, owner_sql)
    client.cookies.set("lang", "en")
    await sign_in_operator(client, "ops", secret)
    dashboard = await client.get("/ops/")
    row = dashboard.text.split("alpha县人大常委会")[1].split("</tr>")[0]
    assert row.rstrip().endswith("<td>2</td>")  # SMS this month: the sent and the one being sent
    page = await client.get(f"/ops/tenants/{alpha.id}")
    assert page.status_code == 200 and 'name="sms_quota" value="1000"' in page.text
    for bad in ("abc", "-5", "99999999999"):
        r = await client.post(f"/ops/tenants/{alpha.id}/sms-quota",
                              data={"sms_quota": bad, "_csrf_token": csrf_from(page.text)}, follow_redirects=False)
        assert r.status_code == 400 and f'value="{bad}"' in r.text
    r = await client.post(f"/ops/tenants/{alpha.id}/sms-quota", data={"sms_quota": "200",
                          "_csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/ops/tenants/{alpha.id}?done=quota"
    quotas = {r["slug"]: r["sms_quota"] for r in await owner_sql("SELECT slug, sms_quota FROM tenants")}
    assert quotas == {"alpha": 200, "beta": 1000}
    audit = await owner_sql("SELECT action, subject_tenant_id, details FROM platform_audit_log "
                            "WHERE action = 'tenant_sms_quota_set'")
    assert [a["subject_tenant_id"] for a in audit] == [alpha.id] and '"to": 200' in audit[0]["details"]
    page = await client.get(f"/ops/tenants/{alpha.id}?done=quota")
    assert "SMS this month: 2 of 200." in text_of(page.text) and 'name="sms_quota" value="200"' in page.text


async def test_the_board_flags_a_station_that_missed_a_mailbox_week(app, database):
    ac = await build_activity_county(database)
    await put_rules(database, ac, JINZHONG)
    today = datetime.now(TZ).date()
    monday = today - timedelta(days=today.weekday())
    t = ac.tenant.id
    async with database.transaction(tenant_id=t) as db:
        # 东街社区 opened its box on the Tuesday of each of the last 12 weeks; the home skipped three
        for n in range(12):
            day = monday - timedelta(weeks=n) + timedelta(days=1)
            if day > today:
                continue
            db.add(MailboxOpening(tenant_id=t, station_id=ac.stations[EAST], letters=0,
                                  opened_at=datetime.combine(day, time(1, 0), tzinfo=TZ)))
            if n not in (0, 2, 5, 7):
                db.add(MailboxOpening(tenant_id=t, station_id=ac.stations[HOME], letters=1,
                                      opened_at=datetime.combine(day, time(2, 0), tzinfo=TZ)))
    town = ac.county.nodes["城关镇"]
    async with signed_in(app, ac.county, "admin") as admin:
        r = await admin.get(f"{admin.base}/compliance?node={town}")
        assert r.status_code == 200
        rows = {name: r.text.split(name, 1)[1].split("</td>")[0] for name in (EAST, HOME)}
        assert "Mailbox missed 3 weeks" in rows[HOME] and f"/stations/{ac.stations[HOME]}/mailbox" in rows[HOME]
        assert "Mailbox missed" not in rows[EAST]
        county = await admin.get(f"{admin.base}/compliance")  # the county level lists the flagged stations
        section = county.text.split('id="mailbox"')[1]
        assert HOME in section and EAST not in section and "Mailbox missed 3 weeks" in section
    async with signed_in(app, ac.county, "station") as staff:  # the station staff of 东街社区: no flag
        r = await staff.get(f"{staff.base}/compliance")
        assert r.status_code == 200 and "Mailbox missed" not in r.text and HOME not in r.text
