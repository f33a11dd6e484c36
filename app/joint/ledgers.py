"""The joint station's year in figures, for a member county's own joint-station page — only when the
agreement shares ledgers and statistics. The county's admins and viewers see it without holding a role
in the joint tenant.

- summary (the named, audited cross-tenant read): in an `as_tenant` block for the joint tenant, two
  aggregate queries (activities by state; cases received, referred to this county, fed back, rated
  satisfied) and one audit entry there (`joint_ledger_read`, which county read it). Figures only: no
  names, contents or people go across.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.counting import year_bounds
from app.activities.models import Activity
from app.audit.services import record
from app.cases.models import Case
from app.cases.models import JointReferral
from app.core.db import as_tenant
from app.joint.models import MEMBER_STATES, JointAgreement
from app.tenancy.models import Tenant

@dataclass
class Summary:
    year: int
    held: int = 0  # activities held
    coming: int = 0  # activities planned, not yet started
    cases: int = 0  # cases received at the joint station
    referred_here: int = 0  # of which referred to this county
    fed_back: int = 0  # answers fed back to the person (fed back or closed after feed-back)
    satisfied: int = 0  # rated satisfied or basically satisfied
    rated: int = 0


async def summary(db: AsyncSession, tenant: Tenant, agreement: JointAgreement, *, actor_id: int | None,
                  client_addr: str | None = None, now: datetime | None = None) -> Summary | None:
    """The figures of the current year (the county's time zone), or None when ledgers are not shared,
    the joint station is not set up, or the county is not (or no longer) a member."""
    party = agreement.party(tenant.id)
    if ("ledgers" not in agreement.shares or agreement.joint_tenant_id is None or party is None
            or party["status"] not in MEMBER_STATES or agreement.status not in ("active", "archived")):
        return None
    now = now or datetime.now(timezone.utc)
    year = now.astimezone(ZoneInfo(tenant.timezone)).year
    start, end = year_bounds(year, tenant.timezone)
    joint_id = agreement.joint_tenant_id
    out = Summary(year=year)
    async with as_tenant(db, joint_id):
        out.held, out.coming = (await db.execute(select(
            func.count().filter(Activity.status == "held"),
            func.count().filter(Activity.status == "planned", Activity.starts_at > now),
        ).where(Activity.starts_at >= start, Activity.starts_at < end))).one()
        answered = Case.fed_back_at.is_not(None)
        good = Case.satisfaction.in_(("satisfied", "basically"))
        here = select(JointReferral.case_id).where(JointReferral.county_tenant_id == tenant.id)
        out.cases, out.referred_here, out.fed_back, out.satisfied, out.rated = (await db.execute(select(
            func.count(),
            func.count().filter(Case.id.in_(here)),
            func.count().filter(answered),
            func.count().filter(and_(answered, good)),
            func.count().filter(Case.satisfaction.is_not(None)),
        ).where(Case.created_at >= start, Case.created_at < end))).one()
        await record(db, tenant_id=joint_id, actor_user_id=actor_id, action="joint_ledger_read",
                     target=f"joint:{agreement.agreement_key}", client_addr=client_addr,
                     details={"county": party["name"], "year": year})
    return out
