"""Retention periods per tenant (PIPL): a county admin sets them (bounded, audited, nothing changed on
bad input); the nightly pass blanks the public's personal data in cases finished longer ago (also where
copied into their texts, the joint station's copies, the photos), rosters and own contact of former
deputies and delivery logs, deletes audit rows past the period but never younger than six months,
tenant by tenant, at 03:15 in Shanghai; the public form names the county's period."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text

from app.activities.models import Opinion
from app.audit.models import AuditEntry
from app.cases.models import Case, CaseEvent, CasePhoto, JointReferral
from app.core.clock import now as clock_now
from app.core.images import StoredImage
from app.data import retention, retention_sql
from app.deputies.models import Deputy, RosterContact, RosterEntry
from app.notify.models import Delivery, Outbox
from app.stations.models import Station, StationKind
from app.tenancy.models import AdminNode, TenantConfig
from tests.factories import add_member, csrf_from, login, make_tenant, make_user

PH = "（已按期限删除）"
NODES = [("城关镇", "township"), ("城关镇/东街社区", "community")]
PERIODS = {"retain_case_person_months": "24", "retain_roster_months": "12", "retain_delivery_months": "6",
           "retain_audit_months": "36"}


def ago(months: int, days: int = 0):
    return retention.months_before(clock_now(), months) - timedelta(days=days)


async def stored_periods(database, tenant_id: int) -> dict:
    async with database.transaction(tenant_id=tenant_id) as db:
        return await retention.get_periods(db, tenant_id)


async def set_periods(database, tenant_id: int, **periods) -> None:
    async with database.transaction(tenant_id=tenant_id) as db:
        row = await db.get(TenantConfig, tenant_id) or TenantConfig(tenant_id=tenant_id)
        for key, value in periods.items():
            setattr(row, key, value)
        db.add(row)


async def test_county_admin_saves_periods_and_bad_input_changes_nothing(client, database):
    tenant = await make_tenant(database, "ret-set", nodes=NODES)
    admin = await make_user(database, "ret-set-admin")
    await add_member(database, tenant, admin, "county_admin")
    await login(client, "ret-set-admin")
    url = f"/t/{tenant.slug}/settings/retention"
    page = await client.get(url)
    assert page.status_code == 200 and 'value="24"' in page.text and 'value="36"' in page.text
    saved = await client.post(url, data={**PERIODS, "retain_case_person_months": "18", "retain_audit_months": "60",
                                         "_csrf_token": csrf_from(page.text)}, follow_redirects=True)
    assert saved.status_code == 200 and "保存期限已保存" in saved.text
    expected = {**{k: int(v) for k, v in PERIODS.items()}, "retain_case_person_months": 18, "retain_audit_months": 60}
    assert await stored_periods(database, tenant.id) == expected
    async with database.transaction(tenant_id=tenant.id) as db:
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "retention_saved"))
    assert entry.details["after"]["retain_audit_months"] == 60 and entry.details["before"]["retain_audit_months"] == 36

    for bad, message in ((("retain_audit_months", "5"), "审计日志至少保存 6 个月"),
                         (("retain_delivery_months", "六"), "投递记录保存 1 至 120 个月"),
                         (("retain_case_person_months", "abc"), "办结后保存 1 至 240 个月"),
                         (("retain_roster_months", "-3"), "不再履职后保存 1 至 240 个月")):
        refused = await client.post(url, data={**PERIODS, bad[0]: bad[1], "_csrf_token": csrf_from(page.text)})
        assert refused.status_code == 400 and message in refused.text, bad
        assert f'value="{bad[1]}"' in refused.text  # what was typed is shown back
        assert await stored_periods(database, tenant.id) == expected  # nothing changed, not even the valid fields
    viewer = await make_user(database, "ret-set-viewer")
    await add_member(database, tenant, viewer, "viewer")
    await client.get("/logout")
    await login(client, "ret-set-viewer")
    hidden = await client.get(url)
    assert hidden.status_code in (403, 404) and "retain_audit_months" not in hidden.text


async def seed(database, slug: str) -> dict:
    """Cases closed 25 and 23 months ago and one open; a deputy who left 13 months ago and a serving
    one, each with a constituent; an SMS of 7 months ago and one of last week; audit rows of 40, 7 and
    5 months ago."""
    tenant = await make_tenant(database, slug, nodes=NODES)
    t = tenant.id
    async with database.transaction(tenant_id=t) as db:
        cases = {name: Case(tenant_id=t, receipt_code=code, source="online", person_name=name,
                            person_mobile="13787654321", content="路灯坏了", state=state, closed_at=closed,
                            client_hash="h" * 64)
                 for name, code, state, closed in (("旧群众", "AAAAAAAAAA", "closed", ago(25)),
                                                   ("近群众", "BBBBBBBBBB", "closed", ago(23)),
                                                   ("在办群众", "CCCCCCCCCC", "registered", None))}
        former = Deputy(tenant_id=t, name="前代表", status="resigned", left_at=ago(13))
        serving = Deputy(tenant_id=t, name="现代表")
        db.add_all([*cases.values(), former, serving])
        await db.flush()
        entries = [RosterEntry(tenant_id=t, deputy_id=d.id, name=f"{d.name}的选民", age=50, education="高中",
                               address="幸福路12号", work_unit="粮站", mobile="13611112222", note="常来")
                   for d in (former, serving)]
        db.add_all(entries)
        await db.flush()
        db.add_all([RosterContact(tenant_id=t, entry_id=e.id, contacted_on=clock_now().date(), note="谈了路灯")
                    for e in entries])
        messages = [Outbox(tenant_id=t, dedupe_key=f"k{i}", kind="case_person", channel="sms", subject="case:1",
                           address="13787654321", body="您的事项已办结", params={"name": "旧群众"}, due_at=at,
                           next_attempt_at=at, status="sent", created_at=at, sent_at=at)
                    for i, at in enumerate((ago(7), ago(0, days=7)))]
        db.add_all(messages)
        await db.flush()
        db.add_all([Delivery(tenant_id=t, outbox_id=m.id, attempt=1, channel="sms", started_at=m.created_at,
                             result="sent") for m in messages])
        db.add_all([AuditEntry(tenant_id=t, at=ago(months, days=1), action="case_viewed", target=f"{months}")
                    for months in (40, 7, 5)])
    return {"tenant": tenant}


async def person_fields(database, tenant_id: int) -> dict:
    async with database.transaction(tenant_id=tenant_id) as db:
        rows = (await db.execute(select(Case.receipt_code, Case.person_name, Case.person_mobile)
                                 .order_by(Case.receipt_code))).all()
    return {code: (name, mobile) for code, name, mobile in rows}


async def roster_rows(database, tenant_id: int) -> list:
    async with database.transaction(tenant_id=tenant_id) as db:
        entries = (await db.execute(select(RosterEntry.name, RosterEntry.mobile, RosterEntry.address)
                                    .order_by(RosterEntry.id))).all()
        notes = list(await db.scalars(select(RosterContact.note).order_by(RosterContact.id)))
    return [tuple(e) for e in entries] + notes


async def logs(database, tenant_id: int) -> tuple:
    async with database.transaction(tenant_id=tenant_id) as db:
        outbox = (await db.execute(select(Outbox.address, Outbox.body).order_by(Outbox.id))).all()
        deliveries = len(list(await db.scalars(select(Delivery.id))))
        audit = sorted(await db.scalars(select(AuditEntry.target).where(AuditEntry.action == "case_viewed")))
    return [tuple(o) for o in outbox], deliveries, audit


async def test_nightly_pass_applies_each_countys_periods(database):
    a = (await seed(database, "ret-a"))["tenant"].id
    b = (await seed(database, "ret-b"))["tenant"].id
    await set_periods(database, a, retain_audit_months=6)
    # The other county keeps everything for 20 years.
    await set_periods(database, b, retain_case_person_months=240, retain_roster_months=240,
                      retain_delivery_months=120, retain_audit_months=240)
    b_before = (await person_fields(database, b), await roster_rows(database, b), await logs(database, b))

    changed = await retention.apply_all(database, now=clock_now())

    assert await person_fields(database, a) == {"AAAAAAAAAA": (PH, None), "BBBBBBBBBB": ("近群众", "13787654321"),
                                                "CCCCCCCCCC": ("在办群众", "13787654321")}
    async with database.transaction(tenant_id=a) as db:
        assert len(list(await db.scalars(select(Case.id)))) == 3  # the records and the counts stay
    assert await roster_rows(database, a) == [(PH, None, ""), ("现代表的选民", "13611112222", "幸福路12号"), "", "谈了路灯"]
    outbox, deliveries, audit = await logs(database, a)
    assert outbox == [("", PH), ("13787654321", "您的事项已办结")] and deliveries == 1
    assert audit == ["5"]  # 40 and 7 months old: past the 6 months; 5 months: kept
    assert (await person_fields(database, b), await roster_rows(database, b), await logs(database, b)) == b_before
    assert changed["cases"] == 1 and changed["audit_log"] == 2
    # A second night finds nothing more to do.
    assert not any((await retention.apply_all(database, now=clock_now())).values())


async def test_audit_rows_younger_than_six_months_are_never_deleted(database):
    t = (await seed(database, "ret-floor"))["tenant"].id
    await set_periods(database, t, retain_audit_months=6)
    async with database.transaction(tenant_id=t) as db:
        # A caller's clock ten years ahead does not move the cut-off: the database's clock bounds it.
        removed = await db.scalar(text("SELECT prune_audit_log(:at, 1000)"),
                                  {"at": clock_now() + timedelta(days=3650)})
    assert removed == 2
    assert (await logs(database, t))[2] == ["5"]


async def public_station(database, slug: str) -> tuple[str, int]:
    tenant = await make_tenant(database, slug, nodes=NODES)
    async with database.transaction(tenant_id=tenant.id) as db:
        node = await db.scalar(select(AdminNode.id).where(AdminNode.name == "东街社区"))
        kind = StationKind(tenant_id=tenant.id, code="station", name="代表联络站", node_kinds=["community"])
        db.add(kind)
        await db.flush()
        station = Station(tenant_id=tenant.id, kind_id=kind.id, node_id=node, name="东街代表联络站", status="active")
        db.add(station)
        await db.flush()
    return tenant, station.id


async def test_public_form_names_the_countys_period(client, database):
    tenant, station = await public_station(database, "ret-pub")
    url = f"/p/{tenant.slug}/stations/{station}/opinion"
    page = await client.get(url)
    assert page.status_code == 200 and "您的姓名、手机号和照片在事项办结 24 个月后删除" in page.text
    assert "按本县规定的期限保存" not in page.text
    await set_periods(database, tenant.id, retain_case_person_months=36)
    assert "您的姓名、手机号和照片在事项办结 36 个月后删除" in (await client.get(url)).text


async def test_finished_cases_lose_the_person_in_their_texts_photos_and_opinion(database):
    """Past the period the name and mobile go from everywhere staff copied them, the photos go (a step
    says how many), the opinion register row the case came from loses its name; a case finished as
    merged (no closed_at) counts from its last change; a case within the period keeps all."""
    t = (await make_tenant(database, "ret-texts", nodes=NODES)).id
    async with database.transaction(tenant_id=t) as db:
        opinion = Opinion(tenant_id=t, received_on=clock_now().date(), raised_by="王小明", content="路灯坏了")
        db.add(opinion)
        await db.flush()
        old, recent, merged = cases = [
            Case(tenant_id=t, receipt_code=code, source="visit", person_name=name, person_mobile="13787654321",
                 content=f"{name}反映：路灯坏了，电话13787654321", reply_text=f"已答复{name}", state=state,
                 closed_at=closed, updated_at=updated, opinion_id=opinion.id if code == "OLD0000000" else None)
            for code, name, state, closed, updated in (
                ("OLD0000000", "王小明", "closed", ago(25), ago(25)),
                ("NEW0000000", "王小明", "closed", ago(23), ago(23)),
                ("MRG0000000", "李四", "merged", None, ago(25)))]
        db.add_all(cases)
        await db.flush()
        db.add_all([CaseEvent(tenant_id=t, case_id=c.id, action="note", note=f"已电话联系{c.person_name}（13787654321）")
                    for c in cases] + [CaseEvent(tenant_id=t, case_id=old.id, action="note", note="已现场查看")])
        for c, n in ((old, 2), (recent, 1)):
            for _ in range(n):
                image = StoredImage(tenant_id=t, media_type="image/webp", data=b"face", width=1, height=1)
                db.add(image)
                await db.flush()
                db.add(CasePhoto(tenant_id=t, case_id=c.id, image_id=image.id))

    changed = await retention.apply_all(database, now=clock_now())

    async with database.transaction(tenant_id=t) as db:
        rows = {c.receipt_code: c for c in await db.scalars(select(Case).execution_options(populate_existing=True))}
        notes = {(c, n) for c, n in (await db.execute(select(CaseEvent.case_id, CaseEvent.note)
                                                      .where(CaseEvent.action == "note"))).all()}
        photos = (await db.execute(select(CasePhoto.case_id, func.count()).group_by(CasePhoto.case_id))).all()
        images = await db.scalar(select(func.count()).select_from(StoredImage))
        removed = (await db.execute(select(CaseEvent.case_id, CaseEvent.data)
                                    .where(CaseEvent.action == retention_sql.PHOTOS_EVENT))).all()
        raised_by = await db.scalar(select(Opinion.raised_by))
    for code in ("OLD0000000", "MRG0000000"):
        c = rows[code]
        assert (c.person_name, c.person_mobile) == (PH, None)
        assert c.content == f"{PH}反映：路灯坏了，电话{PH}" and c.reply_text == f"已答复{PH}"
    r = rows["NEW0000000"]
    assert (r.person_name, r.person_mobile, r.reply_text) == ("王小明", "13787654321", "已答复王小明")
    assert notes == {(old.id, f"已电话联系{PH}（{PH}）"), (old.id, "已现场查看"), (merged.id, f"已电话联系{PH}（{PH}）"),
                     (recent.id, "已电话联系王小明（13787654321）")}
    assert photos == [(recent.id, 1)] and images == 1
    assert removed == [(old.id, {"photos": 2})]
    assert raised_by == PH
    assert changed["cases"] == 2 and changed["case_photos"] == 2
    assert not any((await retention.apply_all(database, now=clock_now())).values())


async def test_a_referred_case_takes_the_joint_stations_shorter_period(database):
    """The county's copy of a case referred from a joint station holds the name given there: the joint
    station's 12 months apply to it, not the county's 24; the joint station's own case and the answer
    it keeps of the referral lose the person too. The county's own case of the same age stays."""
    joint = (await make_tenant(database, "ret-joint", nodes=NODES)).id
    county = (await make_tenant(database, "ret-county", nodes=NODES)).id
    await set_periods(database, joint, retain_case_person_months=12)
    async with database.transaction(tenant_id=joint) as db:
        joint_case = Case(tenant_id=joint, receipt_code="JNT0000000", source="visit", person_name="赵六",
                          person_mobile="13787654321", content="赵六反映：河堤垮了", state="closed",
                          reply_text="江川县: 已联系赵六", closed_at=ago(13))
        db.add(joint_case)
        await db.flush()
    async with database.transaction(tenant_id=county) as db:
        copy, own = [Case(tenant_id=county, receipt_code=code, source=source, person_name=name,
                          content=f"{name}反映：河堤垮了", state="closed", closed_at=ago(13),
                          referred_from_tenant_id=joint if source == "referral" else None,
                          referred_from_case_id=joint_case.id if source == "referral" else None)
                     for code, source, name in (("CPY0000000", "referral", "赵六"), ("OWN0000000", "visit", "孙七"))]
        db.add_all([copy, own])
        await db.flush()
    async with database.transaction(tenant_id=joint) as db:
        db.add(JointReferral(tenant_id=joint, case_id=joint_case.id, county_tenant_id=county, county_case_id=copy.id,
                             county_receipt_code=copy.receipt_code, state="closed",
                             answer_summary="已联系赵六，电话13787654321"))

    await retention.apply_all(database, now=clock_now())

    async with database.transaction(tenant_id=joint) as db:
        j = await db.scalar(select(Case).execution_options(populate_existing=True))
        summary = await db.scalar(select(JointReferral.answer_summary))
    assert (j.person_name, j.person_mobile, j.content, j.reply_text) == (PH, None, f"{PH}反映：河堤垮了", f"江川县: 已联系{PH}")
    assert summary == f"已联系{PH}，电话{PH}"
    async with database.transaction(tenant_id=county) as db:
        kept = dict((await db.execute(select(Case.receipt_code, Case.content))).all())
    assert kept == {"CPY0000000": f"{PH}反映：河堤垮了", "OWN0000000": "孙七反映：河堤垮了"}


async def test_former_deputies_lose_their_own_contact_and_outbox_errors_go(database):
    """A deputy who stopped serving longer ago than the roster period loses the private mobile and the
    public contact; name, occupation and work unit (the public record) stay. A finished message past
    the delivery period loses its last error; an undecided one keeps it."""
    t = (await make_tenant(database, "ret-deputy", nodes=NODES)).id
    async with database.transaction(tenant_id=t) as db:
        db.add_all([Deputy(tenant_id=t, name=name, status=status, left_at=left, mobile="13912345678",
                           public_contact="微信 wx123", occupation="农民", work_unit="粮站")
                    for name, status, left in (("前代表", "resigned", ago(13)), ("新近卸任", "resigned", ago(11)),
                                               ("现代表", "active", None))])
        at = ago(7)
        db.add_all([Outbox(tenant_id=t, dedupe_key=f"e{status}", kind="case_person", channel="sms", subject="case:1",
                           address="13787654321", body="您的事项已办结", params={}, due_at=at, next_attempt_at=at,
                           status=status, created_at=at, last_error="号码13787654321已停机")
                    for status in ("failed", "unknown")])

    changed = await retention.apply_all(database, now=clock_now())

    async with database.transaction(tenant_id=t) as db:
        deputies = (await db.execute(select(Deputy.name, Deputy.mobile, Deputy.public_contact, Deputy.occupation,
                                            Deputy.work_unit).order_by(Deputy.id))).all()
        errors = (await db.execute(select(Outbox.status, Outbox.last_error).order_by(Outbox.id))).all()
    assert [tuple(d) for d in deputies] == [("前代表", None, "", "农民", "粮站"),
                                            ("新近卸任", "13912345678", "微信 wx123", "农民", "粮站"),
                                            ("现代表", "13912345678", "微信 wx123", "农民", "粮站")]
    assert [tuple(e) for e in errors] == [("failed", None), ("unknown", "号码13787654321已停机")]
    assert changed["deputies"] == 1


def test_the_nightly_pass_runs_at_03_15_in_shanghai_whatever_the_workers_zone(settings, monkeypatch):
    """arq evaluates cron fields in the Worker's `timezone`, the host's zone when unset: the pass must
    fall at 03:15 in Shanghai on a host in UTC, in Shanghai or anywhere else (arq's own next-run)."""
    from arq.worker import Worker

    from app.jobs.worker import worker_settings

    shanghai = ZoneInfo("Asia/Shanghai")
    monkeypatch.setenv("REDIS_URL", settings.redis_url)
    try:
        for zone in ("UTC", "Asia/Shanghai", "America/New_York"):
            monkeypatch.setenv("TZ", zone)
            time.tzset()
            options = worker_settings()
            job = next(j for j in options["cron_jobs"] if j.name == "cron:apply_retention")
            worker = Worker(**options)
            job.calculate_next(datetime(2025, 6, 1, 12, 0, tzinfo=worker.timezone))
            at = job.next_run.astimezone(shanghai)
            assert (at.hour, at.minute) == (3, 15), (zone, at)
    finally:
        monkeypatch.undo()
        time.tzset()
