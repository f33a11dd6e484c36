"""What a county's deputies did at a joint station counts in the county's own statistics: a deputy rule
of the county ("each deputy visits the constituency twice a year") counts a held joint activity of a
kind with the same code that the deputy attended, with the deputies present there checked against the
rule's minimum; the cell's drill-down lists it with the joint station's name (no link: the county holds
only its roll-up). Late / left-early marks reach the county's rows too."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from app.activities import signin
from app.activities.access import get_activity
from app.activities.models import ActivityKind, Rule
from app.compliance.rules import check_rule
from app.tenancy.config import get_config
from tests.factories import login
from tests.joint.test_attendance import TOPIC, joint_activity, joint_admin, local_ids, rows_of, world  # noqa: F401

TZ = ZoneInfo("Asia/Shanghai")


async def county_rule(database, county, *, min_deputies: int | None = None) -> int:
    async with database.transaction(tenant_id=county.id) as db:
        db.add(ActivityKind(tenant_id=county.id, code="visit", name="走访选区"))
        clean = check_rule(dict(code="deputy-visit", name="每年两次进选区", subject="deputy", counts="activities",
                                kind_codes=["visit"], period="year", minimum=2, min_deputies=min_deputies),
                           kind_codes={"visit"}, station_kind_codes=set())
        rule = Rule(tenant_id=county.id, sort=0, **clean)
        db.add(rule)
        await db.flush()
        return rule.id


async def held_joint_visit(database, a, agreement, names, *, signed) -> int:
    """A joint visit held three hours ago (this year), the `signed` deputies signed in by staff, the
    first of them marked late."""
    start = datetime.now(timezone.utc) - timedelta(hours=3)
    activity_id = await joint_activity(database, a, agreement, kind="visit", names=names, starts_at=start, held=True)
    joint = agreement.joint_tenant_id
    async with database.transaction(tenant_id=joint, user_id=a.users["county_admin"].id) as db:
        ids = await local_ids(db)
        ref = await get_activity(db, joint_admin(a), activity_id, for_update=True)
        for name in signed:
            await signin.sign_in_on_behalf(db, joint_admin(a), ref, deputy_id=str(ids[name]), reason="纸质签到补录",
                                           actor_id=a.users["county_admin"].id, config=await get_config(db, joint),
                                           tz=TZ, now=start + timedelta(hours=2))
        await signin.set_marks(db, joint_admin(a), ref, str(ids[signed[0]]), late=True, left_early=False, note="迟到",
                               actor_id=a.users["county_admin"].id)
    return activity_id


async def test_a_joint_visit_counts_for_the_countys_deputy_rule(client, database, world):
    a, b, c, agreement, home = world
    if datetime.now(TZ).month == 1 and datetime.now(TZ).day == 1:
        return  # three hours ago may be last year: the rule's period would differ
    rule_id = await county_rule(database, b)
    await held_joint_visit(database, a, agreement, ("赵代表", "钱代表", "李代表"), signed=("赵代表", "李代表"))
    zhao, qian = home["赵代表"][1], home["钱代表"][1]
    row = (await rows_of(database, b))[zhao]
    assert (row.kind_code, row.present_count, row.late, row.present) == ("visit", 2, True, True)
    client.cookies.set("lang", "en")
    assert (await login(client, "fengkai-county")).status_code == 303
    detail = await client.get(f"/t/fengkai/compliance/detail?rule={rule_id}&subject=deputy:{zhao}")
    assert detail.status_code == 200, detail.text
    assert "1 / 2" in detail.text
    assert TOPIC in detail.text and f"at the joint station {agreement.name}" in detail.text
    assert "纸质签到补录" in detail.text  # signed in by staff, said so
    not_there = await client.get(f"/t/fengkai/compliance/detail?rule={rule_id}&subject=deputy:{qian}")
    assert "0 / 2" in not_there.text and TOPIC not in not_there.text


async def test_too_few_deputies_present_is_not_counted(client, database, world):
    a, b, c, agreement, home = world
    if datetime.now(TZ).month == 1 and datetime.now(TZ).day == 1:
        return
    rule_id = await county_rule(database, b, min_deputies=3)
    await held_joint_visit(database, a, agreement, ("赵代表", "钱代表"), signed=("赵代表", "钱代表"))
    client.cookies.set("lang", "en")
    assert (await login(client, "fengkai-county")).status_code == 303
    zhao = home["赵代表"][1]
    detail = await client.get(f"/t/fengkai/compliance/detail?rule={rule_id}&subject=deputy:{zhao}")
    assert "0 / 2" in detail.text and "2 deputies present, the rule asks for at least 3" in detail.text
