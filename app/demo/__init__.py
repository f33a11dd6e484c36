"""Demo data: an operator, two counties from app/presets/files/ (a Mianyang-style and a Jinzhong-style county,
each with its tree, station kinds, naming rule, lifecycle, seats, checklist, kinds of activity and
rules, case categories and handling units), a few users in each, their places and people
(app/demo/people.py), a year of activities (app/demo/activities.py) and their cases and mailbox
openings (app/demo/cases.py), the deputies' duty records — dossiers, a published quarter of points,
the appraisals, a 述职评议 at 北坝村 (app/demo/duties.py) — and the reminders of the coming activities
(which the worker sends to the local SMS gateway as they fall due). Also the joint station across the
Guangxi–Guangdong border (app/demo/joint.py): 八步区 and 封开县 from app/presets/files/, with a few
deputies each, the joint preset tenants/joint-hezhou-fengkai.toml applied, a held 站长协商会, a coming
mediation and a referred case.
Idempotent: running it again changes nothing."""

from __future__ import annotations

from sqlalchemy import select

from app.accounts.models import Membership, User
from app.accounts.services import create_user
from app.tenancy.models import AdminNode, HandlingUnit
from app.core.db import Database
from app.core.errors import Refusal
from app.demo.cases import load_cases
from app.demo.activities import load_activities
from app.demo.duties import load_duties
from app.demo.presidium import load_presidiums
from app.demo.joint import JOINT_COUNTY_PRESETS, JOINT_SLUG, load_joint, load_joint_counties
from app.demo.people import COUNTIES, liaison_place, load_places_and_people
from app.deputies import services as deputies
from app.deputies.models import Deputy
from app.presets.services import apply_preset, load_preset

DEMO_PASSWORD = "lianluo-demo-2026"

# (username, display name, tenant slug, role, scope node name or None)
DEMO_USERS = [
    ("santai-admin", "王主任", "santai", "county_admin", None),
    ("santai-tongchuan", "李委员", "santai", "township_staff", "潼川镇"),
    ("santai-viewer", "赵干事", "santai", "viewer", None),
    ("yuci-admin", "陈主任", "yuci", "county_admin", None),
    ("yuci-zhuangzi", "刘委员", "yuci", "township_staff", "庄子乡"),
    ("liaison-both", "周联络员", "santai", "station_staff", None),
    ("liaison-both", "周联络员", "yuci", "station_staff", None),
    ("santai-deputy", "张代表", "santai", "deputy", None),
    ("santai-jiaotong", "孙科长", "santai", "handling_unit", None),
    ("yuci-huanbao", "郝科长", "yuci", "handling_unit", None),
    # the joint station across the border (app/demo/joint.py)
    ("babu-admin", "覃主任", "babu", "county_admin", None),
    ("pumen-staff", "邓小燕", "babu", "township_staff", "铺门镇"),
    ("fengkai-admin", "梁主任", "fengkai", "county_admin", None),
    ("fengkai-huanbao", "罗科长", "fengkai", "handling_unit", None),
]
# Demo logins of a handling unit: username -> the unit's code in the county's preset.
DEMO_UNIT_LOGINS = {"santai-jiaotong": "jiaotong", "yuci-huanbao": "huanbao", "fengkai-huanbao": "huanbao"}
# Demo logins that are a deputy's own account: username -> (tenant slug, the deputy's name).
DEMO_DEPUTY_LOGINS = {"santai-deputy": ("santai", "张德明")}  # of 潼川镇, stationed at its home
# The demo counties' presets (app/presets/files/<name>.toml).
DEMO_PRESETS = ("mianyang-santai", "jinzhong-yuci", *JOINT_COUNTY_PRESETS)
DEMO_OPERATOR = ("ops", "平台运营")


async def load_demo(database: Database, *, border: bool = True) -> list[tuple[str, str]]:
    """Returns the demo logins as (username, what it is). ``border`` False leaves out the joint station
    across the border and its two counties (tests that count the two demo counties' rows)."""
    tenants = {}
    for name in DEMO_PRESETS if border else [p for p in DEMO_PRESETS if p not in JOINT_COUNTY_PRESETS]:
        tenant = await apply_preset(database, load_preset(name))
        tenants[tenant.slug] = tenant.id
    async with database.transaction() as db:
        users = {}
        wanted = {u[0]: u[1] for u in DEMO_USERS if u[2] in tenants} | {DEMO_OPERATOR[0]: DEMO_OPERATOR[1]}
        for username, display in wanted.items():
            user = await db.scalar(select(User).where(User.username == username))
            if user is None:
                user = await create_user(
                    db, username=username, display_name=display, password=DEMO_PASSWORD,
                    is_operator=username == DEMO_OPERATOR[0],
                )
            users[username] = user.id
    for username, _, slug, role, scope in DEMO_USERS:
        if slug not in tenants:
            continue
        async with database.transaction(tenant_id=tenants[slug]) as db:
            exists = await db.scalar(
                select(Membership.id).where(Membership.user_id == users[username], Membership.revoked_at.is_(None))
            )
            if exists:
                continue
            scope_id = None
            if scope:
                scope_id = await db.scalar(select(AdminNode.id).where(AdminNode.name == scope))
            unit_id = None
            if username in DEMO_UNIT_LOGINS:
                unit_id = await db.scalar(select(HandlingUnit.id).where(HandlingUnit.code == DEMO_UNIT_LOGINS[username]))
            db.add(Membership(tenant_id=tenants[slug], user_id=users[username], role=role, scope_node_id=scope_id,
                              handling_unit_id=unit_id))
    await load_demo_places_and_people(database, tenants)
    await link_demo_deputies(database, tenants, users)
    await load_activities(database, tenants)
    await load_cases(database, tenants)
    await load_duties(database, tenants)
    await load_presidiums(database, tenants)
    if border:
        await load_joint_counties(database, tenants)
        await load_joint(database, users)
    await plan_demo_reminders(database, tenants)
    logins = [(DEMO_OPERATOR[0], "operator (/ops/, sets up TOTP at first sign-in)")]
    for u, _, slug, role, scope in [u for u in DEMO_USERS if u[2] in tenants]:
        where = scope or (liaison_place(slug) if role == "station_staff" else None)
        where = DEMO_DEPUTY_LOGINS[u][1] if u in DEMO_DEPUTY_LOGINS else where
        where = DEMO_UNIT_LOGINS[u] if u in DEMO_UNIT_LOGINS else where
        logins.append((u, f"{role} in {slug}" + (f" ({where})" if where else "")))
    if border:
        logins.append(("pumen-staff", f"station_staff in {JOINT_SLUG} (the joint station, given by babu)"))
    return logins


async def load_demo_places_and_people(database: Database, tenant_ids: dict[str, int]) -> None:
    """Stations, deputies (with photos), assignments and rosters of the demo counties (app/demo/people.py).

    ``tenant_ids`` maps slug -> tenant id ("santai", "yuci"). In 三台县: 潼川镇's home, stations at
    北坝村 and 白鹤村 in operation and one at 东街社区 left proposed (潼川镇's staff approve it); in 榆次区:
    庄子乡's home and stations at 庄子村, 北合流村 and 桥东社区. Ten deputies each, two of them not
    stationed and one stationed outside their constituency. A county already holding any demo station
    or deputy is left alone.
    """
    await load_places_and_people(database, tenant_ids)


async def link_demo_deputies(database: Database, tenant_ids: dict[str, int], users: dict[str, int]) -> None:
    """Link each demo deputy login to its deputy (as the county admin would), unless that account is
    linked already; a deputy missing (renamed by hand) is skipped."""
    from app.demo.people import _scope

    for username, (slug, name) in DEMO_DEPUTY_LOGINS.items():
        if slug not in tenant_ids:
            continue
        tenant_id = tenant_ids[slug]
        async with database.transaction(tenant_id=tenant_id) as db:
            if await db.scalar(select(Deputy.id).where(Deputy.user_id == users[username])) is not None:
                continue
            deputy = await db.scalar(select(Deputy).where(Deputy.name == name, Deputy.user_id.is_(None)))
            admin_id = users[COUNTIES[slug].admin]
            if deputy is None:
                continue
            actor = deputies.Actor(tenant_id=tenant_id, user_id=admin_id, scope=await _scope(db, tenant_id, admin_id))
            try:
                await deputies.link_user(db, actor, deputy, str(users[username]))
            except Refusal:
                continue


async def plan_demo_reminders(database: Database, tenant_ids: dict[str, int]) -> None:
    """The demo's activities were written straight into the tables (a year of history at once), so their
    reminders are written here, as arranging them in the product would have: for every activity still
    to come that has none yet, its invited deputies' and liaison officers' reminders. (A later start
    must not write an activity's "SMS at once" again: activities with reminders are left alone.)"""
    from datetime import datetime, timezone

    from app.activities import reminders
    from app.activities.models import Activity, Invitation
    from app.notify.models import Outbox

    now = datetime.now(timezone.utc)
    for tenant_id in tenant_ids.values():
        async with database.transaction(tenant_id=tenant_id) as db:
            done = set((await db.scalars(select(Outbox.subject).where(Outbox.subject.like("activity:%"))
                                         .distinct())).all())
            coming = (await db.scalars(select(Activity).where(Activity.status == "planned", Activity.starts_at > now)
                                       .order_by(Activity.starts_at))).all()
            for activity in coming:
                if reminders.subject(activity.id) in done:
                    continue
                invited = (await db.scalars(select(Invitation.deputy_id).where(
                    Invitation.activity_id == activity.id, Invitation.withdrawn_at.is_(None)))).all()
                await reminders.invited(db, activity, invited, now=now)
