"""A deputy who has an account in the home county reaches the joint station with the same login (a
deputy member there, through the tenant switcher) and signs in to a joint activity by scanning the
station's QR code; the attendance lands in the county's records. Taken out of the joint station, the
membership ends and the joint station's pages are closed to that login."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from litestar.testing import AsyncTestClient
from sqlalchemy import update

from app.deputies.models import Deputy
from app.joint import deputies
from tests.factories import add_member, csrf_from, login, make_user
from tests.joint.test_attendance import joint_activity, world  # noqa: F401
from tests.joint.world import act


async def with_account(database, county, deputy_id: int, username: str):
    user = await make_user(database, username)
    await add_member(database, county.tenant, user, "deputy")
    async with database.transaction(tenant_id=county.id) as db:
        await db.execute(update(Deputy).where(Deputy.id == deputy_id).values(user_id=user.id))
    return user


async def memberships(owner_sql, tenant_id: int, user) -> list[tuple]:
    return [tuple(r) for r in await owner_sql(
        "SELECT role, home_tenant_id, revoked_at IS NULL FROM memberships WHERE tenant_id = $1 AND user_id = $2",
        tenant_id, user.id)]


async def test_the_deputys_login_reaches_the_joint_station_and_signs_in_by_code(app, database, owner_sql, world):
    a, b, c, agreement, home = world
    joint = agreement.joint_tenant_id
    zhao = await with_account(database, b, home["赵代表"][1], "zhao-deputy")
    await act(database, b, deputies.join, key=agreement.agreement_key, deputy_ids=[home["赵代表"][1]])  # the job's step
    assert await memberships(owner_sql, joint, zhao) == [("deputy", b.id, True)]
    activity_id = await joint_activity(database, a, agreement, starts_at=datetime.now(timezone.utc) + timedelta(minutes=5))

    async with AsyncTestClient(app=app, base_url="http://testserver.local") as staff:
        staff.cookies.set("lang", "en")
        await login(staff, a.users["county_admin"].username)
        screen = await staff.get(f"/t/{agreement.slug}/activities/{activity_id}/screen")
        assert screen.status_code == 200, screen.text
        path = re.search(r'data-signin-url="([^"]+)"', screen.text).group(1).removeprefix("http://testserver.local")
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as phone:
        phone.cookies.set("lang", "en")
        await login(phone, "zhao-deputy")
        switcher = await phone.get("/tenants")
        assert agreement.name in switcher.text and b.tenant.name in switcher.text
        page = await phone.get(path)
        assert page.status_code == 200 and "赵代表" in page.text
        r = await phone.post(path, data={"_csrf_token": csrf_from(page.text)}, follow_redirects=False)
        assert r.status_code == 303
    [row] = await owner_sql("SELECT present, method FROM joint_attendance WHERE tenant_id = $1 AND deputy_id = $2",
                            b.id, home["赵代表"][1])
    assert tuple(row) == (True, "code")

    # taken out of the joint station: the membership ends, the joint station's pages close to that login
    await act(database, b, deputies.leave, key=agreement.agreement_key, deputy_id=home["赵代表"][1])
    assert await memberships(owner_sql, joint, zhao) == [("deputy", b.id, False)]
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as phone:
        await login(phone, "zhao-deputy")
        assert (await phone.get(path)).status_code in (403, 404)
        assert (await phone.get(f"/t/{agreement.slug}/")).status_code in (403, 404)
    # the county's own membership is untouched
    assert await memberships(owner_sql, b.id, zhao) == [("deputy", None, True)]


async def test_an_archive_keeps_no_deputy_members(app, database, owner_sql, world):
    """One member left: the joint station becomes a read-only archive for the staff; the remaining
    county's deputies lose their membership there (they would otherwise become its viewers)."""
    from app.joint import agreements

    a, b, c, agreement, home = world
    li = await with_account(database, a, home["李代表"][1], "li-deputy")
    await act(database, a, deputies.join, key=agreement.agreement_key, deputy_ids=[home["李代表"][1]])
    assert await memberships(owner_sql, agreement.joint_tenant_id, li) == [("deputy", a.id, True)]
    await act(database, b, agreements.withdraw, key=agreement.agreement_key)
    assert await memberships(owner_sql, agreement.joint_tenant_id, li) == [("deputy", a.id, False)]
    admins = await memberships(owner_sql, agreement.joint_tenant_id, a.users["county_admin"])
    assert admins == [("viewer", a.id, True)]
