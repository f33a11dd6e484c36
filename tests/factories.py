"""Small builders for test data, going through the same services the product uses."""

from __future__ import annotations

import re

from app.accounts.models import Membership
from app.accounts.services import create_user
from app.core.db import Database
from app.tenancy.models import AdminNode, Tenant
from app.presets.services import Preset, apply_preset

PASSWORD = "correct-horse-battery"


async def make_tenant(database: Database, slug: str, *, status: str = "active", nodes=()) -> Tenant:
    preset = Preset(name="test", tenant={}, nodes=[{"path": p, "kind": k} for p, k in nodes])
    return await apply_preset(
        database, preset, slug=slug, name=f"{slug}县人大常委会", division_code="510722", county=f"{slug}县",
        status=status,
    )


async def make_user(database: Database, username: str, *, mobile: str | None = None, operator: bool = False):
    async with database.transaction() as db:
        return await create_user(db, username=username, display_name=username.title(), password=PASSWORD,
                                 mobile=mobile, is_operator=operator)


async def add_member(database: Database, tenant: Tenant, user, role: str = "county_admin", scope: str | None = None):
    async with database.transaction(tenant_id=tenant.id) as db:
        scope_id = None
        if scope:
            from sqlalchemy import select

            scope_id = await db.scalar(select(AdminNode.id).where(AdminNode.name == scope))
        m = Membership(tenant_id=tenant.id, user_id=user.id, role=role, scope_node_id=scope_id)
        db.add(m)
        await db.flush()
        return m


def csrf_from(html: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


async def login(client, username: str, password: str = PASSWORD):
    page = await client.get("/login")
    return await client.post(
        "/login", data={"login": username, "password": password, "_csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )


_last_totp_step: dict[str, int] = {}


def totp_code(secret: str) -> str:
    """A TOTP code the server has not seen yet: it refuses a step it already accepted (replay), so a
    second sign-in within the same 30 s uses the next step, which it still accepts (±1 step)."""
    import time

    import pyotp

    totp = pyotp.TOTP(secret)
    step = max(totp.timecode(time.time()), _last_totp_step.get(secret, -1) + 1)
    _last_totp_step[secret] = step
    return totp.generate_otp(step)
