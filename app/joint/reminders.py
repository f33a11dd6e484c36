"""Reminders to the deputies of a joint station, relayed into their home counties' outboxes.

The joint tenant holds only the agreed public fields of a deputy (no mobile, no account), so an
activity's reminders (app.activities.reminders) cannot reach a projected deputy from there. The county
that owns the deputy can: the messages are written into the county's own outbox, addressed to the
county's deputy (SMS to the mobile on the county's record, in-app when the deputy has an account there),
under the county's settings (quiet hours, channels it requires, its wording, its SMS quota). The
personal sign-in link in them points at the joint station's invitation.

- relay (the named, audited cross-tenant step): called in the joint tenant with the messages one
  change produced; for each member county concerned, in an `as_tenant` block for it, the rows are
  written and one audit entry (`joint_reminders_relayed`) records it.
- withdraw: the pending relayed rows of an activity (some kinds, one deputy, or those due after a
  moment) are withdrawn in the counties; an audit entry where rows were withdrawn.
- withdraw_deputies: a deputy taken out of the joint station (or the county withdrew) gets none of its
  pending reminders.
Subject in the county: "joint:<joint tenant id>:activity:<activity id>" (the county's own activities
use "activity:<id>", so the two never collide).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.joint_port import RelayedMessage
from app.activities.models import Activity
from app.audit.services import record
from app.core.db import as_tenant
from app.notify import outbox
from app.notify.config import notify_settings
from app.notify.models import Outbox

def subject(joint_id: int, activity_id: int) -> str:
    return f"joint:{joint_id}:activity:{activity_id}"


async def relay(db: AsyncSession, activity: Activity, messages: list[RelayedMessage], *, now: datetime) -> dict[int, int]:
    """Write the messages into the home counties' outboxes (see the module's docstring). Returns
    {county id: rows written}."""
    if not messages:
        return {}
    joint_id = activity.tenant_id
    await db.flush()  # the caller's changes reach the joint tenant before the binding moves
    by_county: dict[int, list[RelayedMessage]] = defaultdict(list)
    for m in messages:
        by_county[m.county_id].append(m)
    written: dict[int, int] = {}
    for county_id, items in sorted(by_county.items()):
        async with as_tenant(db, county_id):
            config = await notify_settings(db, county_id)
            found = {r.deputy_id: r for r in await outbox.deputies(
                db, county_id, {m.home_deputy_id for m in items}, config=config)}
            n = 0
            for m in items:
                who = found.get(m.home_deputy_id)
                if who is not None:
                    n += await outbox.notify(db, tenant_id=county_id, kind=m.kind, subject=subject(joint_id, activity.id),
                                             recipients=[who], due_at=m.due_at, params=m.params, now=now, config=config)
            if n:
                written[county_id] = n
                await record(db, tenant_id=county_id, actor_user_id=None, action="joint_reminders_relayed",
                             target=f"joint_activity:{joint_id}:{activity.id}",
                             details={"kinds": sorted({m.kind for m in items}), "deputies": len(found), "rows": n})
    return written


async def withdraw(db: AsyncSession, activity: Activity, home_deputies: dict[int, tuple[int, int]], *, kinds=None,
                   deputy_id: int | None = None, due_after: datetime | None = None) -> int:
    """Withdraw the activity's pending relayed rows in the home counties of `home_deputies` ({joint
    deputy id: (county id, county's deputy id)}), narrowed like `outbox.withdraw`; `deputy_id` is the
    joint tenant's. Returns the rows withdrawn."""
    if deputy_id is not None:
        home_deputies = {deputy_id: home_deputies[deputy_id]} if deputy_id in home_deputies else {}
    counties: dict[int, list[int]] = defaultdict(list)
    for county_id, home_deputy_id in home_deputies.values():
        counties[county_id].append(home_deputy_id)
    if not counties:
        return 0
    joint_id = activity.tenant_id
    await db.flush()
    total = 0
    for county_id, home_ids in sorted(counties.items()):
        async with as_tenant(db, county_id):
            n = await outbox.withdraw(db, subject=subject(joint_id, activity.id), kinds=kinds, due_after=due_after,
                                      deputy_id=home_ids[0] if deputy_id is not None else None)
            if n:
                total += n
                await record(db, tenant_id=county_id, actor_user_id=None, action="joint_reminders_withdrawn",
                             target=f"joint_activity:{joint_id}:{activity.id}", details={"rows": n})
    return total


async def withdraw_deputies(db: AsyncSession, joint_id: int, county_id: int, home_deputy_ids: list[int]) -> int:
    """The county's deputies left the joint station: their pending reminders of its activities are
    withdrawn in the county (audited there)."""
    if not home_deputy_ids:
        return 0
    await db.flush()
    async with as_tenant(db, county_id):
        result = await db.execute(
            update(Outbox).where(Outbox.subject.like(f"joint:{joint_id}:%"), Outbox.status == "pending",
                                 Outbox.deputy_id.in_(home_deputy_ids))
            .values(status="withdrawn", last_error=None).execution_options(synchronize_session=False))
        n = result.rowcount
        if n:
            await record(db, tenant_id=county_id, actor_user_id=None, action="joint_reminders_withdrawn",
                         target=f"joint:{joint_id}", details={"rows": n, "deputies": len(home_deputy_ids)})
    return n
