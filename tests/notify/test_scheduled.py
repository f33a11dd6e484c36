"""The hourly producers (`run_scheduled`) with the clock moved: cases due soon and overdue, rules at
risk, the weekly mailbox reminder and the yearly attendance report reach the right people once,
however often the worker runs, and each county on its own."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from app.cases.models import MailboxOpening
from app.activities.models import Rule
from app.notify.models import Outbox
from app.jobs.scheduled import run_scheduled
from app.tenancy.models import Tenant, TenantConfig
from tests.activities.world import TZ, put_activity
from tests.cases.world import EAST, HOME, build_case_county, put_case
from tests.notify.short_link_helpers import link_of, target_of

HEBA = "河坝村人大代表联络站"
WEDNESDAY = datetime(2026, 11, 18, 10, 0, tzinfo=TZ)


@pytest.fixture
async def cc(database):
    return await build_case_county(database)


async def rows(database, tenant_id, **where) -> list[Outbox]:
    async with database.transaction(tenant_id=tenant_id) as db:
        query = select(Outbox).order_by(Outbox.id)
        for key, value in where.items():
            query = query.where(getattr(Outbox, key) == value)
        return list((await db.scalars(query)).all())


async def configure(database, tenant_id, **values) -> None:
    async with database.transaction(tenant_id=tenant_id) as db:
        row = await db.get(TenantConfig, tenant_id)
        if row is None:
            db.add(TenantConfig(tenant_id=tenant_id, **values))
        else:
            for key, value in values.items():
                setattr(row, key, value)


def who(cc, found: list[Outbox]) -> set[tuple[str, str]]:
    users = {u.id: name for name, u in cc.users.items()}
    deputies = {d: name for name, d in cc.deputies.items()}
    return {(r.subject, deputies.get(r.deputy_id) or users.get(r.user_id)) for r in found}


async def test_cases_due_soon_and_overdue_reach_the_unit_and_the_supervisors_once(database, cc):
    t = cc.tenant.id
    await configure(database, t, mailbox_weekday=0, yearly_report_day=0)
    soon = await put_case(database, cc, state="assigned", unit="transport", level="county", reply_due=date(2026, 11, 19))
    later = await put_case(database, cc, state="accepted", unit="transport", reply_due=date(2026, 11, 25))
    county = await put_case(database, cc, state="accepted", unit="ecology", level="county", reply_due=date(2026, 11, 10))
    town = await put_case(database, cc, state="assigned", unit="town-agri", reply_due=date(2026, 11, 15))
    heba = await put_case(database, cc, station=HEBA, state="replied", unit="town-agri", reply_due=date(2026, 11, 9),
                          feedback_due=date(2026, 11, 16))
    await put_case(database, cc, state="closed", unit="transport", reply_due=date(2026, 11, 1))
    for hour in range(3):  # the worker runs every hour
        await run_scheduled(database, now=WEDNESDAY + timedelta(hours=hour))
    got = await rows(database, t)
    assert {r.kind for r in got} == {"case_due_soon", "case_overdue"}
    assert who(cc, [r for r in got if r.kind == "case_due_soon"]) == {(f"case:{soon.id}", "transport")}
    assert who(cc, [r for r in got if r.kind == "case_overdue"]) == {
        (f"case:{county.id}", "admin"), (f"case:{town.id}", "town"), (f"case:{heba.id}", "heba")}
    assert len(got) == 4 and all(r.channel == "inapp" for r in got)  # these members gave no mobile
    due = {r.subject: r.due_at.astimezone(TZ) for r in got}
    assert due[f"case:{soon.id}"] == datetime(2026, 11, 17, 9, 0, tzinfo=TZ)  # two days before the 19th
    assert due[f"case:{town.id}"] == datetime(2026, 11, 16, 9, 0, tzinfo=TZ)  # the day after the 15th
    assert due[f"case:{heba.id}"] == datetime(2026, 11, 17, 9, 0, tzinfo=TZ)  # feedback was due on the 16th
    body = next(r.body for r in got if r.subject == f"case:{county.id}")
    assert county.receipt_code in body and "县生态环境局" in body and "2026-11-10" in body
    # Six days on: the case due on the 25th is due soon, the one due on the 19th overdue; nothing else
    # is written again.
    await run_scheduled(database, now=WEDNESDAY + timedelta(days=6))
    new = [r for r in await rows(database, t) if r.id > max(x.id for x in got)]
    assert {(r.kind, *next(iter(who(cc, [r])))) for r in new} == {
        ("case_due_soon", f"case:{later.id}", "transport"), ("case_overdue", f"case:{soon.id}", "admin")}
    # Switched off: no overdue escalation for a newly overdue case.
    await configure(database, t, notify_case_overdue=False)
    await run_scheduled(database, now=WEDNESDAY + timedelta(days=9))
    assert not [r for r in await rows(database, t, kind="case_overdue") if r.subject == f"case:{later.id}"]


async def add_rules(database, tenant_id) -> None:
    async with database.transaction(tenant_id=tenant_id) as db:
        db.add(Rule(tenant_id=tenant_id, code="reception", name="每月一次接待选民", subject="station",
                    counts="activities", kind_codes=["reception"], period="month", minimum=1))
        db.add(Rule(tenant_id=tenant_id, code="opinion", name="每位代表每月反映一条社情民意", subject="deputy",
                    counts="opinions", kind_codes=[], period="month", minimum=1))


async def test_rules_at_risk_nudge_the_responsible_staff_and_the_deputy_once_per_period(database, cc):
    t = cc.tenant.id
    await configure(database, t, mailbox_weekday=0, yearly_report_day=0)
    await add_rules(database, t)
    await put_activity(database, cc.ac, kind="reception", starts_at=datetime(2026, 11, 3, 9, 0, tzinfo=TZ))
    # 25 November: the month ends within the county's 10 at-risk days. Not before 09:00, though.
    await run_scheduled(database, now=datetime(2026, 11, 25, 7, 0, tzinfo=TZ))
    assert await rows(database, t) == []
    for day in (25, 26):
        await run_scheduled(database, now=datetime(2026, 11, day, 10, 0, tzinfo=TZ))
    got = await rows(database, t, kind="rule_at_risk")
    rules = {r.code: r.id for r in await _rules(database, t)}
    home = f"rule:{rules['reception']}:station:{cc.stations[HOME]}"
    # 东街社区 held its reception; the township home did not: its township staff are nudged.
    assert {s for s, _ in who(cc, got)} == {home} | {
        f"rule:{rules['opinion']}:deputy:{d}" for d in cc.deputies.values()}
    assert {name for s, name in who(cc, got) if s == home} == {"town"}
    zhang = f"rule:{rules['opinion']}:deputy:{cc.deputies['张伟']}"
    assert {name for s, name in who(cc, got) if s == zhang} == {"张伟", "station", "town"}
    li = [r for r in got if r.subject == f"rule:{rules['opinion']}:deputy:{cc.deputies['李娜']}"]
    assert {(r.channel, r.address) for r in li if r.deputy_id} == {("sms", "13800000002")}
    assert {r.due_at for r in got} == {datetime(2026, 11, 1, 9, 0, tzinfo=TZ)}
    assert all("每位代表每月反映一条社情民意" in r.body and "2026-11-30" in r.body for r in got if "deputy" in r.subject)
    # December is a new period: nudged again when it is at risk, not before.
    await run_scheduled(database, now=datetime(2026, 12, 5, 10, 0, tzinfo=TZ))
    assert len(await rows(database, t, kind="rule_at_risk")) == len(got)
    await run_scheduled(database, now=datetime(2026, 12, 28, 10, 0, tzinfo=TZ))
    assert len(await rows(database, t, kind="rule_at_risk")) > len(got)


async def _rules(database, tenant_id) -> list[Rule]:
    async with database.transaction(tenant_id=tenant_id) as db:
        return list((await db.scalars(select(Rule))).all())


async def test_switched_off_nudges_write_nothing(database, cc):
    await configure(database, cc.tenant.id, notify_at_risk=False, mailbox_weekday=0, yearly_report_day=0)
    await add_rules(database, cc.tenant.id)
    await run_scheduled(database, now=datetime(2026, 11, 25, 10, 0, tzinfo=TZ))
    assert await rows(database, cc.tenant.id) == []


async def test_mailbox_reminder_on_the_weekday_once_a_week_unless_already_opened(database, cc):
    t = cc.tenant.id
    await configure(database, t, mailbox_weekday=3, yearly_report_day=0)  # Wednesdays
    await run_scheduled(database, now=WEDNESDAY - timedelta(days=1))  # Tuesday: not yet
    assert await rows(database, t) == []
    for hours in (0, 1, 30):  # Wednesday, an hour later, Thursday (catching up the same week)
        await run_scheduled(database, now=WEDNESDAY + timedelta(hours=hours))
    got = await rows(database, t)
    # 东街社区's staff member is reminded; the township home has no staff to remind; stations not in
    # operation get nothing.
    assert who(cc, got) == {(f"station:{cc.stations[EAST]}", "station")}
    assert [(r.kind, r.channel, r.due_at) for r in got] == [
        ("mailbox_weekly", "inapp", datetime(2026, 11, 18, 9, 0, tzinfo=TZ))]
    assert EAST in got[0].body and await link_of(database, got[0].body) == f"/t/{cc.slug}/stations/{cc.stations[EAST]}/mailbox"
    # Next week the box was opened on Monday: no reminder on Wednesday.
    async with database.transaction(tenant_id=t) as db:
        db.add(MailboxOpening(tenant_id=t, station_id=cc.stations[EAST], letters=2,
                              opened_at=datetime(2026, 11, 23, 8, 30, tzinfo=TZ)))
    await run_scheduled(database, now=WEDNESDAY + timedelta(days=7))
    assert len(await rows(database, t)) == 1
    await run_scheduled(database, now=WEDNESDAY + timedelta(days=14))
    assert len(await rows(database, t)) == 2


async def test_yearly_report_in_january_to_each_deputy_invited_the_year_before(database, cc):
    t = cc.tenant.id
    await configure(database, t, mailbox_weekday=0)
    ac = cc.ac
    await put_activity(database, ac, kind="reception", starts_at=datetime(2026, 3, 5, 9, 0, tzinfo=TZ),
                       invited=("张伟", "李娜"), present=("李娜",))
    await put_activity(database, ac, kind="visit", starts_at=datetime(2026, 9, 5, 9, 0, tzinfo=TZ),
                       invited=("张伟",), present=("张伟",))
    await put_activity(database, ac, kind="visit", starts_at=datetime(2026, 10, 5, 9, 0, tzinfo=TZ),
                       invited=("王强",), status="cancelled")
    await put_activity(database, ac, kind="visit", starts_at=datetime(2027, 1, 5, 9, 0, tzinfo=TZ), invited=("赵敏",))
    await run_scheduled(database, now=datetime(2027, 1, 9, 10, 0, tzinfo=TZ))  # the report day is the 10th
    assert await rows(database, t) == []
    for day in (10, 10, 20):
        await run_scheduled(database, now=datetime(2027, 1, day, 10, 0, tzinfo=TZ))
    got = await rows(database, t, kind="yearly_report")
    assert sorted((r.channel, r.deputy_id) for r in got) == sorted([
        ("sms", cc.deputies["张伟"]), ("inapp", cc.deputies["张伟"]), ("sms", cc.deputies["李娜"])])
    li = next(r for r in got if r.deputy_id == cc.deputies["李娜"])
    assert (li.params["invited"], li.params["present"], li.params["year"]) == ("1", "1", "2026")  # as sent
    zhang = next(r for r in got if r.deputy_id == cc.deputies["张伟"])
    assert (zhang.params["invited"], zhang.params["present"]) == ("2", "1")
    assert await target_of(database, zhang.params["link"]) == (
        f"/t/{cc.slug}/deputies/{cc.deputies['张伟']}/attendance/2026/report")
    assert {r.due_at for r in got} == {datetime(2027, 1, 10, 9, 0, tzinfo=TZ)}


async def test_each_county_on_its_own_and_suspended_counties_left_alone(database, cc):
    other = await build_case_county(database, "beta")
    await put_case(database, cc, state="assigned", unit="transport", level="county", reply_due=date(2026, 11, 10))
    await put_case(database, other, state="assigned", unit="transport", level="county", reply_due=date(2026, 11, 10))
    async with database.transaction() as db:
        suspended = await db.get(Tenant, other.tenant.id)
        suspended.status = "suspended"
    first = await run_scheduled(database, now=WEDNESDAY)
    assert first == len(await rows(database, cc.tenant.id)) > 0
    assert await rows(database, other.tenant.id) == []
    assert await run_scheduled(database, now=WEDNESDAY) == 0
    async with database.transaction() as db:
        (await db.get(Tenant, other.tenant.id)).status = "active"
    assert await run_scheduled(database, now=WEDNESDAY) > 0
    assert {r.user_id for r in await rows(database, other.tenant.id, kind="case_overdue")} == {other.users["admin"].id}


def test_every_kind_has_a_chinese_text_with_the_same_placeholders():
    from app.core.i18n import catalogue
    from app.notify.texts import KINDS, placeholders, render

    chinese = catalogue("zh_Hans")
    for code, kind in KINDS.items():
        assert chinese.get(kind.name), kind.name
        assert placeholders(chinese.get(kind.text, "")) == placeholders(kind.text), code
        assert "{" not in render(code, {p: "x" for p in placeholders(kind.text)}), code
