"""Three counties for the joint-station tests: 梧州 (Guangxi side) and 封开 (Guangdong side) make a
joint station; 第三县 is a bystander that must see nothing. Each has an admin and a township staff."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import update

from app.accounts.models import Membership
from app.joint import agreements
from app.joint.agreements import Side
from tests.factories import add_member, make_tenant, make_user


@dataclass
class County:
    tenant: object
    users: dict = field(default_factory=dict)

    @property
    def id(self) -> int:
        return self.tenant.id


async def county(database, slug: str, towns: tuple[str, ...]) -> County:
    tenant = await make_tenant(database, slug, nodes=[(t, "township") for t in towns])
    c = County(tenant=tenant)
    for role in ("county_admin", "township_staff", "viewer"):
        user = await make_user(database, f"{slug}-{role.split('_')[0]}")
        await add_member(database, tenant, user, role, scope=towns[0] if role == "township_staff" else None)
        c.users[role] = user
    return c


async def three_counties(database) -> tuple[County, County, County]:
    return (await county(database, "wuzhou", ("龙圩镇", "大坡镇")),
            await county(database, "fengkai", ("江川镇", "南丰镇")),
            await county(database, "third", ("别的镇",)))


async def act(database, c: County, fn, *args, **kwargs):
    """Run an agreements function as the county's admin, in one transaction bound to the county."""
    async with database.transaction(tenant_id=c.id, user_id=c.users["county_admin"].id) as db:
        return await fn(db, *args, tenant=c.tenant, actor=c.users["county_admin"], **kwargs)


async def proposed(database, a: County, b: County):
    return await act(database, a, agreements.propose, name="两广龙圩—江川省际人大代表联络站", slug="liangguang",
                     partners=[b.tenant.slug], side=Side(towns=["龙圩镇"], co_heads=["龙圩镇人大主席"],
                                                          deputy_heads=["龙圩镇人大副主席"]),
                     shares=["deputies", "activities", "cases", "ledgers"])


async def accepted(database, a: County, b: County):
    agreement = await proposed(database, a, b)
    return await act(database, b, agreements.answer, key=agreement.agreement_key, accept=True,
                     side=Side(towns=["江川镇"], co_heads=["江川镇人大主席"]))
