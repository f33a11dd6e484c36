"""The time-based producers, run by the worker every hour (cron `produce_reminders`): for every active
tenant that may have something due (`scheduled_due_tenants`, migration 0042: one call, ids only, so
idle counties cost no transaction), in its own transaction bound to it, the daily and weekly scans write their outbox rows —
cases due soon and overdue (app.cases.notices), rules at risk (app.compliance.nudges), the weekly
mailbox reminder (app.cases.mailbox_reminders) and, in January, the yearly attendance report
(app.activities.yearly_delivery). The same pass closes the cases whose rating period ended
(app.cases.rating.close_lapsed).

Every row has a stable due time (09:00 local on its day) and so a stable dedupe key: running this
twice, or every hour, writes nothing twice; a run missed while the worker was down is caught up by
the next. Rule nudges (due at their period's start, already past) are only written from 09:00 local,
so nobody is nudged at midnight. One tenant's failure is logged and does not stop the others.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from sqlalchemy import select

from app.activities import yearly_delivery
from app.cases import mailbox_reminders, notices, rating
from app.compliance import nudges
from app.core.db import Database, every_county
from app.notify.config import notify_settings
from app.tenancy.models import Tenant

log = logging.getLogger("lianluo.notify")
DAY_STARTS = 9  # local hour from which nudges go out


_DUE = "SELECT tenant_id FROM scheduled_due_tenants(:at)"


async def active_tenants(database: Database, tenant_ids=None, *, due_at: datetime | None = None) -> list[tuple[int, str]]:
    """(id, slug) of the active tenants (the tenants table is the platform's: no binding needed); with
    `due_at`, only those `scheduled_due_tenants` names (a superset of the tenants whose producers
    would write or close anything then), in the same transaction."""
    query = select(Tenant.id, Tenant.slug).where(Tenant.status == "active").order_by(Tenant.id)
    if tenant_ids is not None:
        query = query.where(Tenant.id.in_(list(tenant_ids)))
    async with database.transaction() as db:
        if due_at is not None:
            due = list((await every_county(db, _DUE, {"at": due_at})).scalars())
            if not due:
                return []
            query = query.where(Tenant.id.in_(due))
        return [(tid, slug) for tid, slug in await db.execute(query)]


async def produce(database: Database, tenant_id: int, slug: str, now: datetime) -> dict[str, int]:
    """Every scheduled producer for one tenant, in one transaction bound to it: rows written per producer."""
    async with database.transaction(tenant_id=tenant_id) as db:
        config = await notify_settings(db, tenant_id)
        out = {
            "case_due_soon": await notices.due_soon(db, config, slug=slug, now=now),
            "case_overdue": await notices.overdue(db, config, slug=slug, now=now),
            "mailbox_weekly": await mailbox_reminders.remind(db, config, slug=slug, now=now),
            "yearly_report": await yearly_delivery.deliver(db, config, slug=slug, now=now),
            # not messages: answers whose rating period ended close unrated (app.cases.rating)
            "case_rating_lapsed": await rating.close_lapsed(db, tenant_id, now=now),
            "rule_at_risk": 0,
        }
        if now.astimezone(config.tz).hour >= DAY_STARTS:
            out["rule_at_risk"] = await nudges.nudge(db, config, slug=slug, now=now)
    return out


async def run_scheduled(database: Database, *, now: datetime | None = None, tenant_ids=None) -> int:
    """One pass over every active tenant with something due (or only those of `tenant_ids`); returns
    the outbox rows written (and the cases closed unrated)."""
    now = now or datetime.now(timezone.utc)
    total = 0
    for tenant_id, slug in await active_tenants(database, tenant_ids, due_at=now):
        try:
            written = await produce(database, tenant_id, slug, now)
        except Exception:  # noqa: BLE001 - one county's failure must not starve the others
            log.exception("scheduled reminders failed", extra={"tenant_id": tenant_id})
            continue
        total += sum(written.values())
        if any(written.values()):
            log.info("scheduled reminders written", extra={"tenant_id": tenant_id, **written})
    return total
