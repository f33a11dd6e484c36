"""Cases raised at a joint station and referred to the member county (or counties) whose jurisdiction
they fall in. Named, audited functions move them between tenants, each in the caller's transaction,
working in each other tenant inside an `as_tenant` block, so they return bound as they were called:

- refer: the joint case (registered) becomes `referred`; each chosen member county (an active member
  of the agreement, read from the joint tenant's own copy, which shares cases) gets a case in its own
  tenant — source `referral`, the content and the person's name, never the mobile (the answer goes
  back through the joint station), at the county's township named in the agreement (if exactly one)
  or its root — linked back (`referred_from_*`), and the joint tenant a `joint_referrals` row.
  Audited in both (`joint_case_referred`).
- mirror: after every step of a referred county case (app.cases.steps calls it) the joint tenant's
  referral row takes the county case's agreed status fields (state, reply date, reply time, the first
  600 characters of the answer); audited there (`joint_case_mirrored`). When every referral of the
  joint case has an answer, the joint case becomes `replied` (the answers, each under its county's
  name; the feedback date from the joint tenant's rules) for the joint staff to feed back.
  A county that sent its case back for re-handling (the person was not satisfied) takes the joint
  case back to `referred` (`referral_reopened`), to be answered and fed back again.
  A county that withdrew from the agreement sends nothing any more.
- passed_on: the joint station fed the answer back to the person, or the person's satisfaction was
  recorded there: each member county's case follows (`replied` → `fed_back`, `fed_back` → `closed`
  with the same satisfaction), so it does not wait for a feedback the county cannot give (it has no
  mobile). Audited in the county (`joint_case_passed_on`) and in the joint tenant.
The county never reads the joint tenant's tables: what its case page says about the joint station is
in the case's own "registered" step.
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.services import record
from app.cases import notices, steps, workflow
from app.cases.access import CaseRef
from app.cases.models import LEVELS, Case
from app.cases.models import JointReferral
from app.cases.services import add_days, add_event, due_rule, new_receipt_code, today_in
from app.core.calendar import load_calendar
from app.core.db import as_tenant
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.joint.models import MEMBER_STATES, JointAgreement
from app.tenancy.config import get_config
from app.tenancy.models import AdminNode, Tenant
from app.tenancy.scope import Scope

SUMMARY_MAX = 600
REPLY_MAX = 4000
REFER_LEVELS = ("township", "county")
ANSWERED = ("replied", "fed_back", "closed")  # the joint case's states once the counties have answered
HANDLING = ("registered", "assigned", "accepted", "clarifying")  # a county case being (re-)handled
# An archived station still refers the cases it holds, to its remaining member (app.joint.archive).
IN_FORCE = ("active", "archived")

COUNTY_REQUIRED = lazy("Choose the member county (or counties) the case is referred to.")
COUNTY_BAD = lazy("Choose member counties of this joint station from the list.")
LEVEL_BAD = lazy("Choose whether it is a township or a county matter.")
NOT_SHARED = lazy("The agreement does not share cases: this joint station cannot refer them.")
NO_AGREEMENT = lazy("This joint station's agreement is not in force.")


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(timezone.utc)


async def _agreement(db: AsyncSession, joint_id: int) -> JointAgreement | None:
    """The joint tenant's own copy of its agreement (bound to the joint tenant)."""
    return await db.scalar(select(JointAgreement).where(JointAgreement.joint_tenant_id == joint_id)
                           .order_by(JointAgreement.id).limit(1))


def _members(agreement: JointAgreement | None) -> list[dict]:
    if agreement is None:
        return []
    return [p for p in agreement.parties if p["status"] in MEMBER_STATES]


async def member_counties(db: AsyncSession, joint_id: int) -> list[tuple[int, str]]:
    """(tenant id, name) of the counties a case can be referred to now (the refer form's choices)."""
    agreement = await _agreement(db, joint_id)
    if agreement is None or agreement.status not in IN_FORCE or "cases" not in agreement.shares:
        return []
    return [(p["tenant_id"], p["name"]) for p in _members(agreement)]


async def _place(db: AsyncSession, party: dict) -> int:
    """In the county (bound to it): its township named in the agreement if exactly one, else its root."""
    towns = party.get("towns") or []
    if len(towns) == 1:
        node_id = await db.scalar(select(AdminNode.id).where(
            AdminNode.name == towns[0], AdminNode.kind.in_(("township", "street")), AdminNode.retired_at.is_(None))
            .order_by(AdminNode.id).limit(1))
        if node_id is not None:
            return node_id
    return await db.scalar(select(AdminNode.id).where(AdminNode.parent_id.is_(None)).order_by(AdminNode.id).limit(1))


async def refer(db: AsyncSession, scope: Scope, ref: CaseRef, *, county_tenant_ids, note: str = "",
                level: str = "township", actor_id: int, client_addr: str | None = None,
                now: datetime | None = None) -> list[JointReferral]:
    """Refer a registered case of the joint station to member counties (see the module). Bound to the
    joint tenant before and after; a Refusal writes nothing."""
    case = ref.case
    joint_id = case.tenant_id
    config, today = await steps.context(db, case)
    kind = await db.scalar(select(Tenant.kind).where(Tenant.id == joint_id))
    spec = workflow.check("refer", scope, ref, today=today, rehandle_limit=config.case_rehandle_limit,
                          tenant_kind=kind or "", steward=await steps.archive_steward(db, scope, case))
    note = steps.text(note, "note")
    if level not in REFER_LEVELS or level not in LEVELS:
        raise Refusal(LEVEL_BAD)
    agreement = await _agreement(db, joint_id)
    if agreement is None or agreement.status not in IN_FORCE:
        raise Refusal(NO_AGREEMENT)
    if "cases" not in agreement.shares:
        raise Refusal(NOT_SHARED)
    members = {p["tenant_id"]: p for p in _members(agreement)}
    chosen = list(dict.fromkeys(county_tenant_ids or []))
    if not chosen:
        raise Refusal(COUNTY_REQUIRED)
    if any(not isinstance(c, int) or c not in members for c in chosen):
        raise Refusal(COUNTY_BAD)
    joint_name = ref.station.name if ref.station else await db.scalar(select(Tenant.name).where(Tenant.id == joint_id))
    now = _now(now)
    await db.flush()
    made: list[tuple[dict, Case]] = []
    for county_id in chosen:
        party = members[county_id]
        async with as_tenant(db, county_id):
            county_case = Case(
                tenant_id=county_id, receipt_code=new_receipt_code(), source="referral", person_name=case.person_name,
                person_mobile=None, content=case.content, node_id=await _place(db, party), level=level,
                urgency=case.urgency, state="registered", referred_from_tenant_id=joint_id,
                referred_from_case_id=case.id, created_at=now, updated_at=now)
            db.add(county_case)
            await db.flush()
            origin = {"source": "referral", "joint_name": joint_name, "joint_receipt_code": case.receipt_code}
            add_event(db, county_case, "registered", None, to_state="registered", note=note, data=origin,
                      public=True)
            await db.flush()
            await record(db, tenant_id=county_id, actor_user_id=actor_id, action="joint_case_referred",
                         target=f"case:{county_case.id}", client_addr=client_addr,
                         details={"joint": joint_name, "joint_receipt_code": case.receipt_code})
        made.append((party, county_case))
    rows = [JointReferral(tenant_id=joint_id, case_id=case.id, county_tenant_id=party["tenant_id"],
                          county_case_id=c.id, county_receipt_code=c.receipt_code, state=c.state, referred_at=now,
                          updated_at=now) for party, c in made]
    db.add_all(rows)
    case.level = level
    await steps.finish(db, ref, spec, actor_id=actor_id, now=now, client_addr=client_addr, note=note,
                       data={"counties": [p["name"] for p, _ in made], "level": level,
                             "county_cases": [c.receipt_code for _, c in made]})
    return rows


async def referrals_of(db: AsyncSession, case: Case) -> list[tuple[JointReferral, str]]:
    """The joint case's referrals with their counties' names (the joint case's page; bound to the joint tenant)."""
    rows = list((await db.scalars(select(JointReferral).where(JointReferral.case_id == case.id)
                                  .order_by(JointReferral.id))).all())
    if not rows:
        return []
    agreement = await _agreement(db, case.tenant_id)
    names = {p["tenant_id"]: p["name"] for p in (agreement.parties if agreement else [])}
    return [(r, names.get(r.county_tenant_id, "")) for r in rows]


async def joint_feeds_back(db: AsyncSession, case: Case) -> bool:
    """A county's case referred from a joint station the county is still a member of: the joint station
    feeds the answer back and records the satisfaction (one look-up in the county's own agreement copy;
    none for any other case). After a withdrawal the county does it itself."""
    if case.referred_from_tenant_id is None:
        return False
    own = await db.scalar(select(JointAgreement).where(JointAgreement.joint_tenant_id == case.referred_from_tenant_id)
                          .limit(1))
    party = own.party(case.tenant_id) if own else None
    return party is not None and party["status"] in MEMBER_STATES and own.status == "active"


async def mirror(db: AsyncSession, county_case: Case, *, now: datetime | None = None) -> JointReferral | None:
    """The county case's agreed status fields into the joint tenant's referral row (see the module).
    Called bound to the county, in the step's transaction; ends bound to the county."""
    county_id, joint_id = county_case.tenant_id, county_case.referred_from_tenant_id
    if joint_id is None:
        return None
    await db.flush()
    own = await db.scalar(select(JointAgreement).where(JointAgreement.joint_tenant_id == joint_id).limit(1))
    party = own.party(county_id) if own else None
    if party is None or party["status"] not in MEMBER_STATES:
        return None  # withdrew: nothing flows to the joint station any more
    now = _now(now)
    async with as_tenant(db, joint_id):
        joint_case = await db.scalar(select(Case).where(Case.id == county_case.referred_from_case_id)
                                     .with_for_update().execution_options(populate_existing=True))
        referral = await db.scalar(select(JointReferral).where(
            JointReferral.county_tenant_id == county_id, JointReferral.county_case_id == county_case.id)
            .execution_options(populate_existing=True))
        if joint_case is None or referral is None:
            return None
        answered_before = referral.replied_at is not None
        reopened = (referral.state in ANSWERED and county_case.state in HANDLING and joint_case.state in ANSWERED)
        referral.state, referral.reply_due = county_case.state, county_case.reply_due
        referral.replied_at = county_case.replied_at
        referral.answer_summary = (county_case.reply_text or "")[:SUMMARY_MAX]
        referral.updated_at = now
        await db.flush()
        await record(db, tenant_id=joint_id, actor_user_id=None, action="joint_case_mirrored",
                     target=f"case:{joint_case.id}",
                     details={"county": party["name"], "county_case": county_case.receipt_code,
                              "state": county_case.state})
        if reopened:
            _reopen(db, joint_case, party["name"], referral, now)
        if referral.replied_at is not None and not answered_before:
            await _answered(db, joint_case, referral, party["name"], now)
        await db.flush()
        return referral


async def _answered(db: AsyncSession, joint_case: Case, referral: JointReferral, county_name: str,
                    now: datetime) -> None:
    """A county's answer arrived: a step in the joint case's history; with every referral answered the
    joint case is `replied` (bound to the joint tenant, the joint case locked)."""
    rows = (await db.scalars(select(JointReferral).where(JointReferral.case_id == joint_case.id)
                             .order_by(JointReferral.id))).all()
    done = joint_case.state == "referred" and all(r.replied_at is not None for r in rows)
    before = joint_case.state
    if done:
        agreement = await _agreement(db, joint_case.tenant_id)
        names = {p["tenant_id"]: p["name"] for p in (agreement.parties if agreement else [])}
        joint_case.reply_text = "\n\n".join(
            f"{names.get(r.county_tenant_id, '')}: {r.answer_summary}" for r in rows)[:REPLY_MAX]
        config = await get_config(db, joint_case.tenant_id)
        tz = await db.scalar(select(Tenant.timezone).where(Tenant.id == joint_case.tenant_id))
        _, feedback_days, working = await due_rule(db, config, level=joint_case.level,
                                                   category_id=joint_case.category_id, urgency=joint_case.urgency)
        today = today_in(ZoneInfo(tz or "Asia/Shanghai"))
        joint_case.feedback_due = add_days(today, feedback_days, working, await load_calendar(db, since=today))
        joint_case.state, joint_case.replied_at = "replied", now
    joint_case.updated_at = now
    add_event(db, joint_case, "referral_answered", None, from_state=before if done else None,
              to_state="replied" if done else None, note=referral.answer_summary, public=done,
              data={"county": county_name, "county_case": referral.county_receipt_code})


def _reopen(db: AsyncSession, joint_case: Case, county_name: str, referral: JointReferral, now: datetime) -> None:
    """The county sent its case back for re-handling: the joint case waits for the new answer (its
    earlier answer, feedback and rating stay in its history)."""
    before = joint_case.state
    joint_case.state, joint_case.updated_at = "referred", now
    joint_case.satisfaction = joint_case.rated_at = joint_case.closed_at = None
    joint_case.fed_back_at = joint_case.feedback_channel = joint_case.replied_at = joint_case.feedback_due = None
    add_event(db, joint_case, "referral_reopened", None, from_state=before, to_state="referred", public=True,
              data={"county": county_name, "county_case": referral.county_receipt_code})


async def passed_on(db: AsyncSession, joint_case: Case, *, actor_id: int | None = None,
                    client_addr: str | None = None, now: datetime | None = None) -> int:
    """The joint case was fed back or rated: the referred county cases follow (see the module). Called
    bound to the joint tenant in the step's transaction (app.cases.steps); ends bound to it. Returns
    the county cases moved."""
    rows = list((await db.scalars(select(JointReferral).where(JointReferral.case_id == joint_case.id)
                                  .order_by(JointReferral.id))).all())
    if not rows or joint_case.state not in ("fed_back", "closed"):
        return 0
    members = {p["tenant_id"]: p for p in _members(await _agreement(db, joint_case.tenant_id))}
    joint_id, now = joint_case.tenant_id, _now(now)
    await db.flush()
    moved: list[tuple[JointReferral, str, str]] = []
    for referral in rows:
        party = members.get(referral.county_tenant_id)
        if party is None:
            continue  # withdrew: nothing flows there any more
        async with as_tenant(db, referral.county_tenant_id):
            county_case = await db.scalar(select(Case).where(Case.id == referral.county_case_id).with_for_update()
                                          .execution_options(populate_existing=True))
            if county_case is None or not await _follow(db, county_case, joint_case, now):
                continue
            await record(db, tenant_id=county_case.tenant_id, actor_user_id=actor_id, action="joint_case_passed_on",
                         target=f"case:{county_case.id}", client_addr=client_addr,
                         details={"joint_receipt_code": joint_case.receipt_code, "state": county_case.state})
        moved.append((referral, county_case.state, party["name"]))
    for referral, state, _ in moved:
        referral.state, referral.updated_at = state, now
    if moved:
        await record(db, tenant_id=joint_id, actor_user_id=actor_id, action="joint_case_passed_on",
                     target=f"case:{joint_case.id}", client_addr=client_addr,
                     details={"counties": [name for _, _, name in moved], "state": joint_case.state})
    await db.flush()
    return len(moved)


async def _follow(db: AsyncSession, county_case: Case, joint_case: Case, now: datetime) -> bool:
    """The county case (bound to its county, locked) takes the joint case's feedback or rating."""
    before = county_case.state
    if before == "replied" and joint_case.state in ("fed_back", "closed"):
        county_case.state, county_case.fed_back_at = "fed_back", now
        county_case.feedback_channel = joint_case.feedback_channel
        add_event(db, county_case, "joint_fed_back", None, from_state=before, to_state="fed_back", public=True,
                  data={"channel": joint_case.feedback_channel})
    if county_case.state == "fed_back" and joint_case.state == "closed" and joint_case.satisfaction:
        county_case.state, county_case.satisfaction = "closed", joint_case.satisfaction
        county_case.rated_at = county_case.closed_at = now
        add_event(db, county_case, "joint_rated", None, from_state="fed_back", to_state="closed", public=True,
                  data={"satisfaction": joint_case.satisfaction})
    if county_case.state == before:
        return False
    county_case.updated_at = now
    await db.flush()
    if county_case.state == "closed":
        await notices.finished(db, county_case)
    return True
