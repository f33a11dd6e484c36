"""Each role's home shows what waits for it: items, each a count that links to the list of exactly those
rows (issue 17, "a workbench home per role"). Station staff: opinions to handle and to classify,
activities to record, today's activity with its sign-in screen, the mailbox due this week. Township
staff: stations to approve, cases to assign, due soon, overdue, rules at risk — their township's only.
A handling unit: newly assigned, due soon, overdue, sent back — its own cases only. County admins and
viewers: the county at a glance and the county's own matters."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from app.cases import steps
from app.cases.models import MailboxOpening
from app.core.periods import period_of
from app.tenancy.config import config_row
from tests.activities.world import EAST, HOME, TZ, put_activity
from tests.cases.wf_helpers import step
from tests.cases.world import build_case_county, put_case
from tests.compliance.compliance_world import JINZHONG, put_rules
from tests.deputies.deputy_world import signed_in, text_of
from tests.home.work_world import (
    HEBA, check_links, days, home, items, now_utc, reception_rule, set_people, today, values,
)


@pytest.fixture
async def cc(database):
    return await build_case_county(database)


async def test_station_staff_see_their_stations_work(app, database, cc):
    now = now_utc()
    await put_case(database, cc, content="东街路灯")  # registered at 东街社区, with a category
    await put_case(database, cc, content="东街下水道", category=None)
    await put_case(database, cc, content="已交办", state="assigned", unit="transport", reply_due=days(10))
    await put_case(database, cc, content="别的站", station=HOME, category=None)
    await put_case(database, cc, content="河坝的", station=HEBA)
    for ago, status, station in ((3, "planned", EAST), (40, "planned", EAST), (3, "held", EAST), (3, "planned", HOME)):
        await put_activity(database, cc.ac, kind="visit", starts_at=now - timedelta(days=ago), status=status,
                           station=station)
    today_id = await put_activity(database, cc.ac, kind="reception", starts_at=now, status="planned", topic="今日接待日")
    await put_activity(database, cc.ac, kind="reception", starts_at=now, status="planned", station=HOME)

    html, _ = await home(app, cc.county, "station")
    shown = items(html)
    assert values(html) == {"to-handle": "2", "to-classify": "1", "to-record": "2",
                            f"today-{today_id}": now.astimezone(TZ).strftime("%H:%M"), "mailbox": "1"}
    assert shown[f"today-{today_id}"][0] == f"/t/{cc.slug}/activities/{today_id}/screen"
    assert "今日接待日" in html
    await check_links(app, cc.county, "station", html, ["to-handle", "to-classify", "to-record"])
    await check_screen_and_mailbox(app, cc, shown, today_id)

    async with database.transaction(tenant_id=cc.tenant.id) as db:  # the box is opened this week
        db.add(MailboxOpening(tenant_id=cc.tenant.id, station_id=cc.stations[EAST], opened_at=now, letters=2))
    html, _ = await home(app, cc.county, "station")
    assert values(html)["mailbox"] == "0" and 'id="work-mailbox" class="zero"' in html


async def check_screen_and_mailbox(app, cc, shown, today_id) -> None:
    async with signed_in(app, cc.county, "station") as client:
        for key in (f"today-{today_id}", "mailbox"):
            assert (await client.get(shown[key][0])).status_code == 200, key


async def test_township_staff_see_their_township_only(app, database, cc):
    # 城关镇 (东街社区 and the township's home) ...
    await put_case(database, cc, content="镇里待交办一")
    await put_case(database, cc, content="镇里待交办二", station=HOME)
    await put_case(database, cc, content="县级事项", level="county")
    await put_case(database, cc, content="快到期", state="accepted", unit="town-agri", reply_due=days(1))
    await put_case(database, cc, content="超期答复", state="assigned", unit="town-agri", reply_due=days(-3))
    await put_case(database, cc, content="超期反馈", state="replied", unit="town-agri", reply_due=days(-9),
                   feedback_due=days(-1))
    # ... and 河坝乡
    await put_case(database, cc, content="河坝待交办", station=HEBA)
    await put_case(database, cc, content="河坝超期", station=HEBA, state="accepted", unit="ecology", reply_due=days(-2))
    await reception_rule(database, cc.ac)  # 东街社区 held its reception this month; the township's home did not
    await put_activity(database, cc.ac, kind="reception", starts_at=now_utc(), status="held")

    html, _ = await home(app, cc.county, "town")
    assert values(html) == {"stations-proposed": "1", "to-assign": "2", "due-soon": "1", "overdue": "2",
                            "at-risk": "1"}
    await check_links(app, cc.county, "town", html, ["stations-proposed", "to-assign", "due-soon", "overdue"])
    assert items(html)["at-risk"][0] == f"/t/{cc.slug}/compliance?verdict=at_risk"

    html, _ = await home(app, cc.county, "heba")  # 河坝村's station is filed: the county's step, not theirs
    assert values(html) == {"stations-proposed": "0", "to-assign": "1", "due-soon": "0", "overdue": "1",
                            "at-risk": "0"}
    await check_links(app, cc.county, "heba", html, ["to-assign", "overdue"])


async def test_a_handling_unit_sees_its_own_cases(app, database, cc):
    for n in range(2):
        await put_case(database, cc, content=f"新交办{n}", state="assigned", unit="transport", reply_due=days(10))
    await put_case(database, cc, content="退回重办", state="assigned", unit="transport", reply_due=days(10), rehandled=1)
    await put_case(database, cc, content="今天到期", state="accepted", unit="transport", reply_due=days(0))
    await put_case(database, cc, content="后天到期", state="accepted", unit="transport", reply_due=days(2))
    await put_case(database, cc, content="三天后到期", state="accepted", unit="transport", reply_due=days(3))
    await put_case(database, cc, content="已超期", state="clarifying", unit="transport", reply_due=days(-1))
    await put_case(database, cc, content="别的单位", state="assigned", unit="ecology", reply_due=days(10))
    await put_case(database, cc, content="别的单位超期", state="accepted", unit="ecology", reply_due=days(-5))

    html, queries = await home(app, cc.county, "transport")
    assert values(html) == {"new": "2", "due-soon": "2", "overdue": "1", "sent-back": "1"}
    await check_links(app, cc.county, "transport", html, ["new", "due-soon", "overdue", "sent-back"])
    assert queries <= 8

    # "due soon" is the county's own window, the one the unit's reminder uses
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        (await config_row(db, cc.tenant.id)).case_due_soon_days = 5
    html, _ = await home(app, cc.county, "transport")
    assert values(html)["due-soon"] == "3"
    await check_links(app, cc.county, "transport", html, ["due-soon"])


async def county_world(database, cc) -> dict:
    """Cases, activities and attendance with known figures for the county's glance."""
    now = now_utc()
    await put_case(database, cc, content="待交办")
    for n in range(2):
        await put_case(database, cc, content=f"县级待交办{n}", level="county")
    await put_case(database, cc, content="超期", state="accepted", unit="transport", reply_due=days(-2))
    await put_case(database, cc, content="去年收到还在办", state="assigned", unit="transport", reply_due=days(20),
                   created_at=now - timedelta(days=400))
    # answered this quarter in 2 and 4 days; two of the three rated satisfied or basically
    for (answered, took, satisfaction) in ((True, 2, "satisfied"), (True, 4, "basically"), (False, 0, "unsatisfied")):
        await put_case(database, cc, content="已办结", state="closed", unit="transport", satisfaction=satisfaction,
                       assigned_at=now - timedelta(days=6) if answered else None,
                       replied_at=now - timedelta(days=6 - took) if answered else None)
    await put_case(database, cc, content="去年办结", state="closed", satisfaction="unsatisfied",
                   created_at=now - timedelta(days=400))
    await put_case(database, cc, content="并案", state="merged")
    month_start = period_of("month", today()).first
    first = await put_activity(database, cc.ac, kind="reception", starts_at=now, status="held",
                               invited=("张伟", "李娜"), present=("张伟",))
    second = await put_activity(database, cc.ac, kind="visit", starts_at=now, status="held", invited=("张伟",),
                                present=("张伟",))
    await set_people(database, cc.ac, first, 10)
    await set_people(database, cc.ac, second, 5)
    await put_activity(database, cc.ac, kind="visit", status="held",
                       starts_at=now.replace(year=month_start.year, month=month_start.month, day=1) - timedelta(days=2))
    await put_activity(database, cc.ac, kind="visit", starts_at=now + timedelta(days=3), status="planned")
    await reception_rule(database, cc.ac)
    return {"open": "5", "overdue": "1", "reply-days": "3.0", "satisfaction": "67%", "held": "2", "people": "15",
            "attendance": "67%", "rules-met": "1", "at-risk": "1", "rules-missed": "0", "county-to-assign": "2",
            "stations-approved": "0", "stations-filed": "1"}


async def test_the_county_at_a_glance_for_admins_and_viewers(app, database, cc):
    expected = await county_world(database, cc)
    for who in ("admin", "viewer"):
        html, _ = await home(app, cc.county, who)
        assert values(html) == expected, who
        await check_links(app, cc.county, who, html, ["open", "overdue", "held", "county-to-assign",
                                                        "stations-approved", "stations-filed"])
        quarter = period_of("quarter", today()).key
        links = {k: link for k, (link, _v) in items(html).items()}
        assert links["reply-days"] == links["satisfaction"] == f"/t/{cc.slug}/cases/stats?period={quarter}"
        assert links["people"] == f"/t/{cc.slug}/activities?status=held&month={today():%Y-%m}"
        async with signed_in(app, cc.county, who) as client:
            stats = text_of((await client.get(links["reply-days"])).text)
            assert "3.0" in stats and "67%" in stats  # the statistics page says the same
            for key in ("attendance", "rules-met", "at-risk", "rules-missed"):
                assert (await client.get(links[key])).status_code == 200, key


async def test_the_new_case_shows_on_the_units_home_in_chinese(app, database, cc):
    """The issue's check: after 交办 to 交通运输局, its user's home says 新交办 1."""
    case = await put_case(database, cc, content="村道坑洼")
    before, _ = await home(app, cc.county, "transport", lang="zh_Hans")
    assert "新交办 0" in text_of(before)
    await step(database, cc, "admin", case.id, steps.assign, unit_id=cc.units["transport"])
    after, _ = await home(app, cc.county, "transport", lang="zh_Hans")
    assert "新交办 1" in text_of(after)
    assert 'href="/t/alpha/cases?state=assigned&amp;sent_back=0"' in after


async def more_of_everything(database, cc, n: int) -> None:
    """n more of each kind of row the homes count, spread over both townships and several units."""
    now = now_utc()
    for i in range(n):
        for station in (EAST, HOME, HEBA):
            await put_case(database, cc, content=f"批量{i}", station=station, category=None if i % 2 else "roads")
            await put_case(database, cc, content=f"批量交办{i}", station=station, state="assigned", unit="transport",
                           reply_due=days(i % 4 - 1), rehandled=i % 2)
            await put_case(database, cc, content=f"批量办结{i}", station=station, state="closed", satisfaction="satisfied",
                           assigned_at=now - timedelta(days=3), replied_at=now - timedelta(days=1))
        await put_activity(database, cc.ac, kind="reception", starts_at=now - timedelta(days=i + 1), status="planned")
        await put_activity(database, cc.ac, kind="visit", starts_at=now - timedelta(hours=i), status="held",
                           station=HOME, invited=("张伟", "李娜"), present=("李娜",))


# Queries per home, at most. Every home pays 6 (session, tenant and membership, three bindings, the
# header's unread count); all the workbench's counts are 1. The compliance board's own evaluation
# (rules, stations, deputies in three, kinds, one per counted source: 9 with the Jinzhong rules) is
# most of the rest for county admins, viewers and township staff.
QUERY_BUDGET = {"admin": 19, "viewer": 18, "town": 19, "station": 11, "rep": 10, "transport": 7}


async def test_each_home_costs_a_few_queries_whatever_the_data(app, database, cc):
    await put_rules(database, cc.ac, JINZHONG)  # rules of stations and deputies, counting every source
    await more_of_everything(database, cc, 2)
    few = {who: (await home(app, cc.county, who))[1] for who in QUERY_BUDGET}
    await more_of_everything(database, cc, 4)  # three times the rows
    many = {who: (await home(app, cc.county, who))[1] for who in QUERY_BUDGET}
    assert many == few
    assert all(few[who] <= budget for who, budget in QUERY_BUDGET.items()), few


async def test_the_setup_checklist_stays_above_the_workbench(app, database, cc):
    html, _ = await home(app, cc.county, "admin")
    assert 'id="setup"' in html and html.index('id="setup"') < html.index('id="work-open"')


async def test_unit_counts_follow_the_overdue_rule_of_the_list(app, database, cc):
    """A reply waiting to be fed back past its date is overdue in the list; the unit's count agrees."""
    await put_case(database, cc, content="待反馈超期", state="replied", unit="transport", reply_due=days(-9),
                   feedback_due=days(-1))
    html, _ = await home(app, cc.county, "transport")
    assert values(html)["overdue"] == "1"
    await check_links(app, cc.county, "transport", html, ["overdue"])


async def test_station_staff_without_a_station_get_an_empty_workbench(app, database, cc):
    from app.accounts.models import Membership

    async with database.transaction(tenant_id=cc.tenant.id) as db:
        await db.execute(update(Membership).where(Membership.user_id == cc.users["station"].id).values(station_id=None))
    html, _ = await home(app, cc.county, "station")
    assert items(html) == {}
