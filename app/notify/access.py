"""Who may see which notification pages and rows.

- The inbox and the channel choices: every member, their own rows only (``Outbox.user_id``).
- The delivery log: county admins and viewers (the whole tenant); sending failed messages again and
  the notification settings: county admins. Everyone else gets the same 404 as a missing page.
- A row fetched by id: the tenant's (RLS) and, in the inbox, the member's own; missing, another
  tenant's and someone else's all give the same 404.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import MAX_ID
from app.core.errors import NotFound
from app.notify.models import Outbox
from app.notify.queries import inbox_filter
from app.tenancy.access import TenantContext

LOG_ROLES = ("county_admin", "viewer")
ADMIN_ROLES = ("county_admin",)



def require_log(ctx: TenantContext) -> None:
    ctx.require_role(*LOG_ROLES)


def require_admin(ctx: TenantContext) -> None:
    ctx.require_role(*ADMIN_ROLES)


async def my_message(db: AsyncSession, user_id: int, outbox_id: int) -> Outbox:
    """One message of the member's inbox, or 404."""
    row = None
    if 0 < outbox_id <= MAX_ID:
        row = await db.scalar(select(Outbox).where(Outbox.id == outbox_id, inbox_filter(user_id)))
    if row is None:
        raise NotFound()
    return row


async def log_row(db: AsyncSession, outbox_id: int) -> Outbox:
    """One row of the tenant's delivery log (RLS keeps it to the tenant), or 404."""
    row = await db.scalar(select(Outbox).where(Outbox.id == outbox_id)) if 0 < outbox_id <= MAX_ID else None
    if row is None:
        raise NotFound()
    return row
