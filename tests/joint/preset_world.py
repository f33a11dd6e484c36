"""The source scenario (app/presets/files/joint-hezhou-fengkai.toml) on the test database: the two county presets,
their admins, 铺门镇's township staff, Fengkai's environment unit user, the deputies the joint preset
names (and one of each county who does not join), a third county, then the joint preset applied."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select, update

from app.accounts.models import Membership
from app.tenancy.models import HandlingUnit
from app.joint.presets import Applied, apply_joint_preset, load_joint_preset
from app.presets.services import load_preset
from app.presets.services import apply_preset
from tests.factories import add_member, make_tenant, make_user
from tests.joint.test_deputies import deputy
from tests.joint.world import County

JOINT = "joint-hezhou-fengkai"
NOT_JOINED = {"babu": "韦不入站", "fengkai": "冯不入站"}


@dataclass
class Scenario:
    babu: County
    fengkai: County
    third: County
    applied: Applied | None = None
    deputies: dict = field(default_factory=dict)  # name -> (county, the county's deputy id)


async def counties(database) -> Scenario:
    preset = load_joint_preset(JOINT)
    made = {}
    for name in ("hezhou-babu", "zhaoqing-fengkai"):
        tenant = await apply_preset(database, load_preset(name))
        c = County(tenant=tenant)
        admin = await make_user(database, f"{tenant.slug}-admin")
        await add_member(database, tenant, admin, "county_admin")
        c.users["county_admin"] = admin
        made[tenant.slug] = c
    babu, fengkai = made["babu"], made["fengkai"]
    staff = await make_user(database, "pumen-staff")
    await add_member(database, babu.tenant, staff, "township_staff", scope="铺门镇")
    babu.users["township_staff"] = staff
    unit_user = await make_user(database, "fengkai-huanbao")
    await add_member(database, fengkai.tenant, unit_user, "handling_unit")
    async with database.transaction(tenant_id=fengkai.id) as db:
        unit_id = await db.scalar(select(HandlingUnit.id).where(HandlingUnit.code == "huanbao"))
        await db.execute(update(Membership).where(Membership.tenant_id == fengkai.id,
                                                  Membership.user_id == unit_user.id).values(handling_unit_id=unit_id))
    fengkai.users["handling_unit"], fengkai.users["unit_id"] = unit_user, unit_id
    third = County(tenant=await make_tenant(database, "third", nodes=[("别的镇", "township")]))
    third.users["county_admin"] = await make_user(database, "third-admin")
    await add_member(database, third.tenant, third.users["county_admin"], "county_admin")
    scenario = Scenario(babu=babu, fengkai=fengkai, third=third)
    for side in preset.sides:
        c = made[side.county]
        for name in (*side.deputies, NOT_JOINED[side.county]):
            scenario.deputies[name] = (c, await deputy(database, c, name, levels=("county", "township")))
    await deputy(database, third, "别县代表")
    return scenario


async def scenario(database) -> Scenario:
    s = await counties(database)
    s.applied = await apply_joint_preset(database, JOINT)
    return s
