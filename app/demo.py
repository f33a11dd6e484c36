"""Demo data: an operator, two counties from tenants/, and a few users in each. Idempotent."""

from __future__ import annotations

from sqlalchemy import select

from app.accounts.models import Membership, User
from app.accounts.services import create_user
from app.core.db import Database
from app.tenancy.models import AdminNode
from app.tenancy.services import apply_preset, load_preset

DEMO_PASSWORD = "lianluo-demo-2026"

# (username, display name, tenant slug, role, scope node name or None)
DEMO_USERS = [
    ("santai-admin", "王主任", "santai", "county_admin", None),
    ("santai-tongchuan", "李委员", "santai", "township_staff", "潼川镇"),
    ("santai-viewer", "赵干事", "santai", "viewer", None),
    ("youxian-admin", "陈主任", "youxian", "county_admin", None),
    ("youxian-weicheng", "刘委员", "youxian", "township_staff", "魏城镇"),
    ("liaison-both", "周联络员", "santai", "station_staff", None),
    ("liaison-both", "周联络员", "youxian", "station_staff", None),
]
DEMO_OPERATOR = ("ops", "平台运营")


async def load_demo(database: Database) -> list[tuple[str, str]]:
    """Returns the demo logins as (username, what it is)."""
    tenants = {}
    for name in ("santai", "youxian"):
        tenant = await apply_preset(database, load_preset(name))
        tenants[tenant.slug] = tenant.id
    async with database.transaction() as db:
        users = {}
        wanted = {u[0]: u[1] for u in DEMO_USERS} | {DEMO_OPERATOR[0]: DEMO_OPERATOR[1]}
        for username, display in wanted.items():
            user = await db.scalar(select(User).where(User.username == username))
            if user is None:
                user = await create_user(
                    db, username=username, display_name=display, password=DEMO_PASSWORD,
                    is_operator=username == DEMO_OPERATOR[0],
                )
            users[username] = user.id
    for username, _, slug, role, scope in DEMO_USERS:
        async with database.transaction(tenant_id=tenants[slug]) as db:
            exists = await db.scalar(
                select(Membership.id).where(Membership.user_id == users[username], Membership.revoked_at.is_(None))
            )
            if exists:
                continue
            scope_id = None
            if scope:
                scope_id = await db.scalar(select(AdminNode.id).where(AdminNode.name == scope))
            db.add(Membership(tenant_id=tenants[slug], user_id=users[username], role=role, scope_node_id=scope_id))
    logins = [(DEMO_OPERATOR[0], "operator (/ops/, sets up TOTP at first sign-in)")]
    logins += [(u, f"{role} in {slug}" + (f" ({scope})" if scope else "")) for u, _, slug, role, scope in DEMO_USERS]
    return logins
