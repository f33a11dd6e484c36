"""Retention periods per tenant (PIPL): the county's periods (tenant_config.retain_*, migration 0020)
and the worker's nightly pass that applies them (statements in app.data.retention_sql).

Records and counts stay. In cases finished longer ago than the period (closed; merged, forwarded or
turned into a suggestion: from their last change) the public's name becomes PLACEHOLDER and the mobile
NULL, and both are replaced by PLACEHOLDER where staff copied them into the case's text, answer,
history notes, or the answer a joint station keeps of a referral; the opinion register row the case
came from loses its name; the case's photos are deleted (a history step counts them). A case referred
from a joint station takes the shorter of the two tenants' periods. Deputies who stopped serving
longer ago than the roster period lose their rosters' personal fields and their own mobile and public
contact. Delivery attempts are deleted and finished outbox rows lose address, body, parameters and
last error. Audit rows older than the period are deleted by the SECURITY DEFINER prune_audit_log (the
runtime role may not delete audit rows), never rows younger than six months.

Services change the session and audit; they do not commit (the route does).
"""

from __future__ import annotations

import calendar
from collections import Counter
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.services import record
from app.cases.models import Case
from app.core.clock import now as clock_now
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.data import retention_sql as sql
from app.tenancy.config import config_row
from app.tenancy.models import CASE_PERSON_MONTHS, Tenant, TenantConfig

PLACEHOLDER = "（已按期限删除）"
BATCH = 500  # rows per statement and transaction: the nightly pass never holds long locks
AUDIT_MIN_MONTHS = 6
# key: (lowest, highest, default, what is said when out of range); ranges as migration 0020 enforces.
PERIODS = {
    "retain_case_person_months": (1, 240, CASE_PERSON_MONTHS, lazy(
        "The public's name and mobile number are kept from 1 to 240 months after a case is closed.")),
    "retain_roster_months": (1, 240, 12, lazy(
        "Rosters of former deputies are kept from 1 to 240 months after they stop serving.")),
    "retain_delivery_months": (1, 120, 6, lazy("Delivery logs are kept from 1 to 120 months.")),
    "retain_audit_months": (AUDIT_MIN_MONTHS, 240, 36, lazy(
        "The audit log is kept at least 6 and at most 240 months.")),
}


# --- the county's settings --------------------------------------------------------------------------

async def get_periods(db: AsyncSession, tenant_id: int) -> dict[str, int]:
    """The tenant's periods in months; the defaults where the county saved none."""
    row = await db.get(TenantConfig, tenant_id)
    return {key: (getattr(row, key, None) if row is not None else None) or spec[2] for key, spec in PERIODS.items()}


def parse_periods(values: dict[str, str]) -> dict[str, int]:
    """Whole numbers within each period's range, or a Refusal naming the first that is not."""
    out = {}
    for key, (low, high, _default, message) in PERIODS.items():
        raw = str(values.get(key, "")).strip()
        if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
            raise Refusal(message)
        out[key] = int(raw)
    return out


async def save_periods(db: AsyncSession, *, tenant_id: int, actor_id: int, values: dict[str, str],
                       client_addr: str | None = None) -> None:
    """Save the retention page: every period checked before anything is written; audited."""
    periods = parse_periods(values)
    before = await get_periods(db, tenant_id)
    row = await config_row(db, tenant_id)
    for key, value in periods.items():
        setattr(row, key, value)
    row.updated_at = func.now()
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="retention_saved",
                 target="tenant_config", client_addr=client_addr, details={"before": before, "after": periods})


# --- the nightly pass -------------------------------------------------------------------------------

def months_before(at: datetime, months: int) -> datetime:
    """``at`` moved back by calendar months (the 31st becomes the month's last day)."""
    index = at.year * 12 + at.month - 1 - months
    year, month = divmod(index, 12)
    day = min(at.day, calendar.monthrange(year, month + 1)[1])
    return at.replace(year=year, month=month + 1, day=day)


# (what is counted, the statement, the period it applies, whether the statement returns its count)
STEPS = (
    ("cases", sql.CASES_SQL, "retain_case_person_months", False),
    ("case_photos", sql.PHOTOS_SQL, "retain_case_person_months", True),
    ("roster_entries", sql.ROSTER_SQL, "retain_roster_months", False),
    ("roster_contacts", sql.CONTACTS_SQL, "retain_roster_months", False),
    ("deputies", sql.DEPUTIES_SQL, "retain_roster_months", False),
    ("deliveries", sql.DELIVERIES_SQL, "retain_delivery_months", False),
    ("outbox", sql.OUTBOX_SQL, "retain_delivery_months", False),
)


async def apply_all(database, *, now: datetime | None = None) -> dict[str, int]:
    """Every tenant's periods, each tenant under its own binding. Returns rows changed per kind."""
    at = now or clock_now()
    async with database.transaction() as db:
        tenant_ids = list(await db.scalars(select(Tenant.id).where(Tenant.status != "deleted").order_by(Tenant.id)))
    totals: Counter = Counter()
    for tenant_id in tenant_ids:
        totals.update(await apply_tenant(database, tenant_id, now=at))
    return dict(totals)


async def apply_tenant(database, tenant_id: int, *, now: datetime) -> Counter:
    """One tenant's pass, in batches of BATCH rows, each batch its own transaction bound to the tenant."""
    async with database.transaction(tenant_id=tenant_id) as db:
        periods = await get_periods(db, tenant_id)
        referring = list(await db.scalars(select(Case.referred_from_tenant_id).distinct().where(
            Case.tenant_id == tenant_id, Case.referred_from_tenant_id.is_not(None))))
    cutoffs = {key: months_before(now, months) for key, months in periods.items()}
    from_cutoffs = {other: await _case_cutoff(database, other, now) for other in referring}
    cases = {"from_ids": list(from_cutoffs), "from_cutoffs": list(from_cutoffs.values()),
             "widest": max([cutoffs["retain_case_person_months"], *from_cutoffs.values()])}
    counts: Counter = Counter()
    for kind, statement, period, returns_count in STEPS:
        params = {"tenant": tenant_id, "cutoff": cutoffs[period], "ph": PLACEHOLDER, "batch": BATCH}
        if period == "retain_case_person_months":
            params.update(cases)
        counts[kind] += await _in_batches(database, tenant_id, statement, params, rowcount=not returns_count)
    counts["audit_log"] += await _in_batches(database, tenant_id, sql.AUDIT_SQL, {"now": now, "batch": BATCH},
                                             rowcount=False)
    return counts


async def _case_cutoff(database, tenant_id: int, now: datetime) -> datetime:
    """The cut-off of the public's data in cases of another tenant (a joint station that referred
    cases here), read under that tenant's binding."""
    async with database.transaction(tenant_id=tenant_id) as db:
        return months_before(now, (await get_periods(db, tenant_id))["retain_case_person_months"])


async def _in_batches(database, tenant_id: int, statement, params: dict, *, rowcount: bool) -> int:
    done = 0
    while True:
        async with database.transaction(tenant_id=tenant_id) as db:
            result = await db.execute(statement, params)
            changed = (result.rowcount if rowcount else result.scalar_one()) or 0
        done += changed
        if changed < BATCH:
            return done
