"""The attendance of a county's deputies at a joint station's activities, rolled up into the county's
own tenant (`joint_attendance`), so the county's records of the deputy show it without the county ever
reading the joint tenant's tables.

- roll_up (the named, audited cross-tenant function): called in the joint tenant, in the same
  transaction as every change that affects attendance (create/invite/withdraw, every way of signing
  in, removal of a sign-in, record, reschedule, cancel, edit of the topic). For every deputy invited to
  the activity whose projection maps to a home deputy of a member county, that county's row is
  written (in an `as_tenant` block for the county): the joint station's name, the kind, topic, start, status,
  and whether / how the deputy signed in (late, left early), how many deputies were present and the
  kind's code (the county's compliance rules count it); the rows of deputies no longer invited are removed. Each
  county written to gets an audit entry (`joint_attendance_rolled_up`); nothing is written where
  nothing changed. It returns bound to the joint tenant, as it started. In a county tenant it is one
  primary-key look-up (the tenant's kind) and returns.
- county_lines / county_counts: the county reads its own rows for a deputy's year (one query), for the
  deputy's attendance page and the yearly report: a part of their own, "at joint stations".
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import and_, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import Activity, ActivityKind, Attendance, Invitation, JointAttendance
from app.audit.services import record
from app.core.db import as_tenant
from app.joint.models import MEMBER_STATES, JointAgreement, JointDeputy
from app.stations.models import Station
from app.tenancy.models import Tenant

FIELDS = ("joint_name", "kind_name", "kind_code", "topic", "starts_at", "status", "present_count", "present", "method",
          "on_behalf_reason", "signed_at", "late", "left_early")


async def _invited(db: AsyncSession, activity_id: int) -> list[tuple]:
    """(deputy id, withdrawn?, Attendance | None) of every invitation of the activity, withdrawn ones too."""
    rows = await db.execute(
        select(Invitation.deputy_id, Invitation.withdrawn_at.is_not(None), Attendance)
        .outerjoin(Attendance, and_(Attendance.tenant_id == Invitation.tenant_id,
                                    Attendance.activity_id == Invitation.activity_id,
                                    Attendance.deputy_id == Invitation.deputy_id))
        .where(Invitation.activity_id == activity_id)
    )
    return [tuple(r) for r in rows]


async def _member_counties(db: AsyncSession, joint_id: int) -> set[int]:
    """The member counties in the joint tenant's own copy of the agreement (bound to the joint tenant)."""
    agreement = await db.scalar(select(JointAgreement).where(JointAgreement.tenant_id == joint_id,
                                                             JointAgreement.joint_tenant_id == joint_id).limit(1))
    if agreement is None or agreement.status not in ("active", "archived"):
        return set()
    return {p["tenant_id"] for p in agreement.parties if p["status"] in MEMBER_STATES}


async def roll_up(db: AsyncSession, activity: Activity, *, actor_id: int | None = None,
                  client_addr: str | None = None) -> dict[int, int]:
    """A joint station's activity (app.activities.joint_port asks only for those): its attendance goes
    into each member county's `joint_attendance` (see the module's docstring). Returns {county tenant
    id: rows written or removed} for the counties written to."""
    joint_id = activity.tenant_id
    await db.flush()  # the caller's changes go to the joint tenant before the binding moves
    invited = await _invited(db, activity.id)
    if not invited:
        return {}
    mapping = await home_counties(db, joint_id, [d for d, _, _ in invited])
    members = await _member_counties(db, joint_id)
    kind_name, kind_code, station_name = (await db.execute(
        select(ActivityKind.name, ActivityKind.code, Station.name).select_from(Activity)
        .join(ActivityKind, and_(ActivityKind.tenant_id == Activity.tenant_id, ActivityKind.id == Activity.kind_id))
        .outerjoin(Station, and_(Station.tenant_id == Activity.tenant_id, Station.id == Activity.station_id))
        .where(Activity.id == activity.id))).one()
    joint_name = station_name or await db.scalar(select(Tenant.name).where(Tenant.id == joint_id))
    present_count = sum(1 for _, withdrawn, att in invited if att is not None and not withdrawn)
    base = {"joint_name": joint_name[:120], "kind_name": kind_name[:40], "kind_code": (kind_code or "")[:40],
            "topic": activity.topic[:200], "starts_at": activity.starts_at, "status": activity.status,
            "present_count": present_count}
    per_county: dict[int, tuple[dict[int, dict], set[int]]] = {}
    for deputy_id, withdrawn, att in invited:
        home = mapping.get(deputy_id)
        if home is None or home[0] not in members:
            continue
        county_id, home_deputy_id = home
        wanted, gone = per_county.setdefault(county_id, ({}, set()))
        if withdrawn:
            gone.add(home_deputy_id)
            continue
        wanted[home_deputy_id] = {**base, "present": att is not None, "method": att.method if att else None,
                                  "on_behalf_reason": (att.on_behalf_reason or "")[:200] if att else "",
                                  "signed_at": att.signed_at if att else None,
                                  "late": bool(att and att.late), "left_early": bool(att and att.left_early)}
    written: dict[int, int] = {}
    for county_id, (wanted, gone) in per_county.items():
        async with as_tenant(db, county_id):
            n = await _write_county(db, county_id, joint_id, activity.id, wanted, gone - set(wanted))
            if n:
                written[county_id] = n
                await record(db, tenant_id=county_id, actor_user_id=actor_id, action="joint_attendance_rolled_up",
                             target=f"joint_activity:{joint_id}:{activity.id}", client_addr=client_addr,
                             details={"joint": joint_name, "topic": activity.topic[:200], "status": activity.status,
                                      "changed": n})
    return written


async def _write_county(db: AsyncSession, county_id: int, joint_id: int, activity_id: int,
                        wanted: dict[int, dict], gone: set[int]) -> int:
    """Upsert the county's rows for this activity and remove the ones of deputies no longer invited;
    only what differs is written (bound to the county). Returns how many rows changed."""
    key = (JointAttendance.joint_tenant_id == joint_id, JointAttendance.joint_activity_id == activity_id)
    existing = {row.deputy_id: row for row in (await db.execute(
        select(JointAttendance.deputy_id, *[getattr(JointAttendance, f) for f in FIELDS]).where(*key))).all()}
    changed = [d for d, values in wanted.items()
               if d not in existing or any(getattr(existing[d], f) != values[f] for f in FIELDS)]
    removed = [d for d in gone if d in existing]
    now = datetime.now(timezone.utc)
    for deputy_id in changed:
        values = wanted[deputy_id]
        stmt = insert(JointAttendance).values(tenant_id=county_id, deputy_id=deputy_id, joint_tenant_id=joint_id,
                                              joint_activity_id=activity_id, updated_at=now, **values)
        await db.execute(stmt.on_conflict_do_update(
            index_elements=["tenant_id", "joint_tenant_id", "joint_activity_id", "deputy_id"],
            set_={**values, "updated_at": now}))
    if removed:
        await db.execute(delete(JointAttendance).where(*key, JointAttendance.deputy_id.in_(removed))
                         .execution_options(synchronize_session=False))
    return len(changed) + len(removed)


async def drop_upcoming(db: AsyncSession, joint_id: int, county_id: int, pairs: list[tuple[int, int]]) -> int:
    """The county's deputies left the joint station (or the county withdrew): their rows of the joint
    station's activities not yet held — (joint activity id, the county's deputy id) — are removed from
    the county (audited there); their past rows stay."""
    if not pairs:
        return 0
    await db.flush()  # the caller's changes go to the joint tenant before the binding moves
    removed = 0
    async with as_tenant(db, county_id):
        for activity_id, home_id in pairs:
            result = await db.execute(delete(JointAttendance).where(
                JointAttendance.joint_tenant_id == joint_id, JointAttendance.joint_activity_id == activity_id,
                JointAttendance.deputy_id == home_id).execution_options(synchronize_session=False))
            removed += result.rowcount
        if removed:
            await record(db, tenant_id=county_id, actor_user_id=None, action="joint_attendance_rolled_up",
                         target=f"joint:{joint_id}", details={"removed": removed, "left_joint_station": True})
    return removed


async def home_counties(db: AsyncSession, joint_id: int, deputy_ids) -> dict[int, tuple[int, int]]:
    """{joint tenant's deputy id: (home county id, the county's deputy id)} for projected deputies
    among `deputy_ids` (read in the joint tenant)."""
    async with as_tenant(db, joint_id):
        rows = (await db.execute(select(JointDeputy.deputy_id, JointDeputy.home_tenant_id, JointDeputy.home_deputy_id)
                                 .where(JointDeputy.deputy_id.in_(list(deputy_ids))))).all()
    return {d: (t, h) for d, t, h in rows}
