"""What staff decide about a message whose outcome nobody can tell (status `unknown`: the provider may
have sent it, and could not say; app.notify.settle): send it again (it may arrive twice: staff know the
person and the message, the worker does not) or drop it. County admins, from the delivery log; audited."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.services import record
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.notify.models import Outbox

NOT_UNKNOWN = lazy("This message's outcome is known: there is nothing to decide.")


async def _decide(db: AsyncSession, row: Outbox, values: dict) -> None:
    if row.status != "unknown":
        raise Refusal(NOT_UNKNOWN)
    done = await db.execute(update(Outbox).where(Outbox.id == row.id, Outbox.status == "unknown")
                            .values(**values).execution_options(synchronize_session=False))
    if not done.rowcount:
        raise Refusal(NOT_UNKNOWN)


async def send_again(db: AsyncSession, *, tenant_id: int, actor_id: int, row: Outbox, now: datetime | None = None,
                     client_addr: str | None = None) -> None:
    """Queue it again, due now (its attempts are kept)."""
    now = now or datetime.now(timezone.utc)
    await _decide(db, row, dict(status="pending", next_attempt_at=now, claimed_at=None,
                                last_error="sent again by staff; the first may have arrived too"))
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="notification_unknown_resent",
                 target=f"outbox:{row.id}", client_addr=client_addr)


async def drop(db: AsyncSession, *, tenant_id: int, actor_id: int, row: Outbox,
               client_addr: str | None = None) -> None:
    """Never send it again (withdrawn)."""
    await _decide(db, row, dict(status="withdrawn", claimed_at=None,
                                last_error="dropped by staff: its outcome is unknown"))
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="notification_unknown_dropped",
                 target=f"outbox:{row.id}", client_addr=client_addr)
