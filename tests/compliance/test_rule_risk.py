"""Rules that warn in time (issue 17): a cell is at risk when it is behind a steady pace or in the
rule's last days (its own, else the county's); the board and the drill-down say why, and the nudges
fire on exactly the cells the board shows at risk."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from app.activities.models import Rule
from app.compliance import detail as details
from app.compliance import nudges, risk, services
from app.core import i18n
from app.core.periods import period_of
from app.notify.config import notify_settings
from app.notify.models import Outbox
from tests.activities.world import EAST, HOME, TZ, build_activity_county, local, put_activity
from tests.compliance.compliance_world import DISTRICT, board_as, put_rules, put_suggestion, verdicts
from tests.deputies.deputy_world import signed_in, text_of

DECEMBER_6 = date(2026, 12, 6)
MARCH_1 = date(2026, 3, 1)


def judge(minimum: int, period: str, today: date, count: int, county_days: int = 10, **rule) -> tuple[str, str]:
    """(verdict, explanation in Chinese) of a count for a rule as the engine judges it."""
    g = risk.gauge(Rule(minimum=minimum, period=period, **rule), period_of(period, today), today, county_days)
    token = i18n.current_locale.set("zh_Hans")
    try:
        return g.verdict(count), risk.explain(g, count)
    finally:
        i18n.current_locale.reset(token)


def test_a_yearly_rule_of_two_by_pace():
    assert judge(2, "year", DECEMBER_6, 0) == ("at_risk", "全年需2次，已完成0次；按进度此时应已完成1次")
    assert judge(2, "year", MARCH_1, 0) == ("open", "")
    assert judge(2, "year", DECEMBER_6, 1) == ("open", "")  # on pace: 1 of 2 by early December
    # pace expects 1 from the day when more than half of the year has passed
    assert judge(2, "year", date(2026, 7, 2), 0)[0] == "open"  # 182 of 365 days passed
    assert judge(2, "year", date(2026, 7, 3), 0)[0] == "at_risk"  # 183
    # the last days still apply to a subject on pace; met and missed as before
    assert judge(2, "year", date(2026, 12, 22), 1) == ("at_risk", "距周期结束还有9天，尚差1次")
    assert judge(2, "year", date(2026, 12, 31), 1) == ("at_risk", "今天是周期最后一天，尚差1次")
    assert judge(2, "year", DECEMBER_6, 2) == ("met", "")
    assert judge(2, "year", date(2027, 1, 1), 1) == ("open", "")  # a new year: its own period
    g = risk.gauge(Rule(minimum=2, period="year"), period_of("year", date(2026, 1, 1)), date(2027, 1, 2), 10)
    assert g.verdict(1) == "missed" and g.why(1) == ""


def test_a_monthly_rule():
    # four a month, June (30 days): 1 expected once 8 days have passed
    assert judge(4, "month", date(2026, 6, 8), 0) == ("open", "")
    assert judge(4, "month", date(2026, 6, 9), 0) == ("at_risk", "本月需4次，已完成0次；按进度此时应已完成1次")
    assert judge(4, "month", date(2026, 6, 16), 2) == ("open", "")  # 2 expected, 2 done
    # one a month never falls behind pace: only the last days warn (10 days before the end, inclusive)
    assert judge(1, "month", date(2026, 6, 19), 0) == ("open", "")
    assert judge(1, "month", date(2026, 6, 20), 0) == ("at_risk", "距周期结束还有10天，尚差1次")


def test_the_rules_own_setting_overrides_the_county():
    # a yearly rule of 1 warns 60 days before the end when it says so, whatever the county's 10
    assert judge(1, "year", date(2026, 11, 1), 0, at_risk_days=60) == ("at_risk", "距周期结束还有60天，尚差1次")
    assert judge(1, "year", date(2026, 11, 1), 0)[0] == "open"
    assert judge(1, "year", date(2026, 10, 31), 0, at_risk_days=60)[0] == "open"
    # a rule's own 0 days: only its last day; pace switched off: the last days only
    assert judge(1, "month", date(2026, 6, 25), 0, at_risk_days=0)[0] == "open"
    assert judge(2, "year", DECEMBER_6, 0, at_risk_pace=False) == ("open", "")
    assert judge(2, "year", date(2026, 12, 21), 0, at_risk_pace=False)[0] == "at_risk"
    # quarters and halves by pace too
    assert judge(3, "quarter", date(2026, 11, 15), 0)[1] == "本季度需3次，已完成0次；按进度此时应已完成1次"
    assert judge(2, "half", date(2026, 8, 15), 0)[0] == "open"
    assert judge(2, "half", date(2026, 10, 3), 0, county_days=90)[1] == "距周期结束还有89天，尚差2次"


async def test_a_monthly_rule_of_two_on_the_board(database):
    ac = await build_activity_county(database)
    await put_rules(database, ac, [dict(code="twice", name="每月两次接待", subject="station", kind_codes=["reception"],
                                        period="month", minimum=2)])
    await put_activity(database, ac, kind="reception", starts_at=local(2026, 6, 2), station=HOME)
    east, home = f"station:{ac.stations[EAST]}", f"station:{ac.stations[HOME]}"
    mid = await board_as(database, ac, "admin", today=date(2026, 6, 16))  # 15 of 30 days passed: 1 expected
    assert verdicts(mid, east) == {"twice": ("at_risk", 0)} and verdicts(mid, home) == {"twice": ("open", 1)}
    before = await board_as(database, ac, "admin", today=date(2026, 6, 15))
    assert verdicts(before, east) == {"twice": ("open", 0)}


@pytest.fixture
def december_6(monkeypatch):
    """The county's "today" on the board and the drill-down."""
    for module in (services, details):
        monkeypatch.setattr(module, "local_today", lambda tz: DECEMBER_6)


async def test_the_board_on_6_december_says_why(app, database, monkeypatch, december_6):
    ac = await build_activity_county(database)
    ids = await put_rules(database, ac, DISTRICT)  # 每年两次进选区
    await put_activity(database, ac, kind="visit", starts_at=local(2026, 4, 3), present=("李娜",))
    zhang = ac.deputies["张伟"]
    async with signed_in(app, ac.county, "admin") as client:
        page = text_of((await client.get(f"{client.base}/compliance?deputy={zhang}")).text)
        assert "At risk 0/2" in page
        assert "The whole year needs 2, 0 done; at a steady pace 1 would be done by now" in page
        li = text_of((await client.get(f"{client.base}/compliance?deputy={ac.deputies['李娜']}")).text)
        assert "Under way 1/2" in li and "steady pace" not in li
        client.cookies.set("lang", "zh_Hans")
        r = await client.get(f"{client.base}/compliance?deputy={zhang}")
        assert "有风险 0/2" in text_of(r.text) and "全年需2次，已完成0次；按进度此时应已完成1次" in r.text
        r = await client.get(f"{client.base}/compliance/detail?rule={ids['deputy-constituency']}&subject=deputy:{zhang}")
        assert r.status_code == 200
        assert "风险原因" in r.text and "全年需2次，已完成0次；按进度此时应已完成1次" in r.text
    monkeypatch.setattr(services, "local_today", lambda tz: MARCH_1)
    async with signed_in(app, ac.county, "admin") as client:
        page = text_of((await client.get(f"{client.base}/compliance?deputy={zhang}")).text)
        assert "Under way 0/2" in page and "steady pace" not in page


async def _nudged(database, ac, now: datetime) -> set[str]:
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        config = await notify_settings(db, ac.tenant.id)
        await nudges.nudge(db, config, slug=ac.slug, now=now)
        return set((await db.scalars(select(Outbox.subject).where(Outbox.kind == nudges.KIND))).all())


async def test_nudges_fire_on_the_cells_the_board_shows_at_risk(database):
    ac = await build_activity_county(database)
    rules = await put_rules(database, ac, DISTRICT + [
        dict(code="suggest", name="每年一件建议", subject="deputy", counts="suggestions", period="year", minimum=1),
        dict(code="no-pace", name="每年两次接待", subject="deputy", kind_codes=["reception"], period="year",
             minimum=2),
    ])
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        for rule in await db.scalars(select(Rule)):
            if rule.code == "suggest":
                rule.at_risk_days = 30  # its own days: from 1 December
            elif rule.code == "no-pace":
                rule.at_risk_pace = False
    await put_activity(database, ac, kind="visit", starts_at=local(2026, 4, 3), present=("李娜", "赵敏"))
    await put_activity(database, ac, kind="visit", starts_at=local(2026, 9, 3), present=("赵敏",))
    await put_suggestion(database, ac, "王强", date(2026, 3, 1))
    assert await _nudged(database, ac, datetime(2026, 3, 1, 10, tzinfo=TZ)) == set()
    board = await board_as(database, ac, "admin", today=DECEMBER_6)
    at_risk = {nudges.subject(c.rule.id, c.subject.key) for c in board.cells.values() if c.verdict == "at_risk"}
    d = ac.deputies
    expected = {nudges.subject(rules["deputy-constituency"], f"deputy:{d[name]}") for name in ("张伟", "王强")} | {
        nudges.subject(rules["suggest"], f"deputy:{d[name]}") for name in ("张伟", "李娜", "赵敏")}
    assert at_risk == expected
    assert await _nudged(database, ac, datetime(2026, 12, 6, 10, tzinfo=TZ)) == expected
