"""The steps of a case's workflow (``app.cases.workflow`` says which are allowed when and for whom).

Each function takes the member's scope and the case they can see (``access.get_case``), checks the
step (a ``Refusal``, nothing written, when it is not allowed or the input is bad), then changes the
case, adds the step to its history (who, when, what was said) and writes an audit entry. They do
not commit. ``today``/``now`` may be given by tests; otherwise the tenant's local day and the clock.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.services import record
from app.cases import joint_port, notices, rating, workflow
from app.cases.access import CaseRef, get_case
from app.cases.models import FEEDBACK_CHANNELS, SATISFACTIONS, URGENCIES, Case, CaseCategory
from app.tenancy.models import AdminNode, HandlingUnit, Tenant
from app.cases.codes import normalise_code
from app.cases.services import NOTE_MAX, add_days, add_event, due_rule, today_in
from app.core.calendar import load_calendar
from app.core.errors import NotFound, Refusal
from app.core.i18n import gettext, lazy
from app.stations.refusals import FIELD_TOO_LONG
from app.tenancy.config import Config, get_config
from app.tenancy.scope import Scope

AUDIT_ACTIONS = {
    "classify": "case_classified",
    "answer_on_spot": "case_answered_on_spot", "assign": "case_assigned", "escalate": "case_escalated",
    "forward_outside": "case_forwarded", "accept": "case_accepted", "ask_clarification": "case_clarification_asked",
    "clarify": "case_clarified", "reply": "case_replied", "feed_back": "case_fed_back", "rate": "case_rated",
    "send_back": "case_sent_back", "supervise": "case_supervised", "to_suggestion": "case_to_suggestion",
    "merge": "case_merged", "refer": "joint_case_referred",
}
OUTSIDE_BODY_MAX, OUTSIDE_REF_MAX = 100, 60
# States after which pending satisfaction requests and staff notices of the case are withdrawn.
FINISHED = ("closed", "merged", "forwarded", "suggestion")

ANSWER_REQUIRED = lazy("Please write down the answer given.")
RESULT_REQUIRED = lazy("Please write down the result of the handling.")
QUESTION_REQUIRED = lazy("Please write down the question for the staff.")
CLARIFICATION_REQUIRED = lazy("Please write down the clarification.")
SUPERVISION_REQUIRED = lazy("Please write down the supervision note.")
OUTSIDE_REQUIRED = lazy("Please give the outside body and its reference number.")
CHANNEL_BAD = lazy("Please choose how the answer was fed back.")
SATISFACTION_BAD = lazy("Please choose how satisfied the person is.")
UNIT_BAD = lazy("Please choose a handling unit of this county.")
CLASSIFY_CATEGORY_BAD = lazy("Please choose a category of this county for the case.")
CLASSIFY_URGENCY_BAD = lazy("Please choose whether the case is urgent or normal.")
UNIT_OUT_OF_REACH = lazy("Township staff may assign cases only to their township's own handling units.")
DUE_BAD = lazy("Please give the reply date as a valid date.")
DUE_PAST = lazy("The reply date may not be in the past.")
MERGE_TARGET_BAD = lazy("Please give the number or receipt code of another open case you can see.")
LABELS = {"answer": lazy("Answer given"), "result": lazy("Result of the handling"),
          "note": lazy("Note on the step"), "outside_body": lazy("Outside body"),
          "outside_ref": lazy("Reference number of the outside body")}


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(timezone.utc)


def text(value: object, key: str, *, required: str | None = None, max_len: int = NOTE_MAX) -> str:
    value = str(value or "").strip()
    if required and not value:
        raise Refusal(required)
    if len(value) > max_len:
        raise Refusal(FIELD_TOO_LONG, field=gettext(LABELS[key]), max=max_len)
    return value


async def context(db: AsyncSession, case: Case, today: date | None = None) -> tuple[Config, date]:
    """The tenant's configuration and its local today."""
    config = await get_config(db, case.tenant_id)
    if today is None:
        tz = await db.scalar(select(Tenant.timezone).where(Tenant.id == case.tenant_id))
        today = today_in(ZoneInfo(tz or "Asia/Shanghai"))
    return config, today


async def archive_steward(db: AsyncSession, scope: Scope, case: Case) -> bool:
    """A viewer of an archived joint station who was its staff: may still finish its cases
    (``workflow.ARCHIVE_STEPS``). Asks the joint stations only for a viewer of a joint tenant."""
    if scope.role != "viewer":
        return False
    if await db.scalar(select(Tenant.kind).where(Tenant.id == case.tenant_id)) != "joint":
        return False
    return await joint_port.joint_stations().archive_steward(db, case.tenant_id, scope.user_id)


async def begin(db: AsyncSession, scope: Scope, ref: CaseRef, step: str,
                today: date | None = None) -> tuple[workflow.Step, Config, date]:
    config, today = await context(db, ref.case, today)
    kind = "county"
    if step in workflow.NOT_AT_JOINT:  # a joint station refers instead (one look-up, these steps only)
        kind = await db.scalar(select(Tenant.kind).where(Tenant.id == ref.case.tenant_id)) or kind
    joint_feeds_back = step in workflow.FED_BACK_AT_JOINT and await joint_port.joint_feeds_back(db, ref.case)
    spec = workflow.check(step, scope, ref, today=today, rehandle_limit=config.case_rehandle_limit, tenant_kind=kind,
                          joint_feeds_back=joint_feeds_back, steward=await archive_steward(db, scope, ref.case))
    return spec, config, today


async def finish(db: AsyncSession, ref: CaseRef, spec: workflow.Step, *, actor_id: int | None, now: datetime,
                 client_addr: str | None, note: str = "", data: dict | None = None) -> None:
    """The state change, the history step and the audit entry every step ends with."""
    case = ref.case
    before = case.state
    if spec.to_state:
        case.state = spec.to_state
    if case.state == "closed" and before != "closed":
        case.closed_at = now
    case.updated_at = now
    add_event(db, case, spec.name, actor_id, from_state=before, to_state=case.state, note=note, data=data,
              public=spec.public)
    await db.flush()
    if case.state in FINISHED and before != case.state:
        await notices.finished(db, case)
    await record(db, tenant_id=case.tenant_id, actor_user_id=actor_id, action=AUDIT_ACTIONS[spec.name],
                 target=f"case:{case.id}", client_addr=client_addr,
                 details={"from": before, "to": case.state, **(data or {})})
    await joint_port.mirror(db, case, now)
    if spec.name in ("feed_back", "rate"):
        await joint_port.passed_on(db, case, actor_id=actor_id, client_addr=client_addr, now=now)



# --- registered: classify, answer on the spot, assign, escalate, forward -----------------------------

async def classify(db: AsyncSession, scope: Scope, ref: CaseRef, *, category_id: int | None, urgency: str,
                   actor_id: int, client_addr: str | None = None, now: datetime | None = None) -> None:
    """Set the category and the urgency of a registered case (an online submission comes without them);
    they decide the due dates when the case is assigned."""
    spec, _, _ = await begin(db, scope, ref, "classify")
    if not category_id or await db.scalar(select(CaseCategory.id).where(
            CaseCategory.id == category_id, CaseCategory.retired_at.is_(None))) is None:
        raise Refusal(CLASSIFY_CATEGORY_BAD)
    if urgency not in URGENCIES:
        raise Refusal(CLASSIFY_URGENCY_BAD)
    case = ref.case
    data = {"category_id": [case.category_id, category_id], "urgency": [case.urgency, urgency]}
    case.category_id, case.urgency = category_id, urgency
    await finish(db, ref, spec, actor_id=actor_id, now=_now(now), client_addr=client_addr, data=data)


async def answer_on_spot(db: AsyncSession, scope: Scope, ref: CaseRef, *, answer: str, actor_id: int,
                         client_addr: str | None = None, now: datetime | None = None) -> None:
    """现场答复: the answer given in person, which closes the case."""
    spec, _, _ = await begin(db, scope, ref, "answer_on_spot")
    answer = text(answer, "answer", required=ANSWER_REQUIRED)
    now = _now(now)
    ref.case.reply_text, ref.case.replied_at = answer, now
    ref.case.fed_back_at, ref.case.feedback_channel = now, "visit"
    await finish(db, ref, spec, actor_id=actor_id, now=now, client_addr=client_addr, note=answer)


def parse_due(value: object, today: date) -> date | None:
    raw = str(value or "").strip()
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw) if isinstance(value, str) else value
    except ValueError:
        raise Refusal(DUE_BAD) from None
    if not isinstance(day, date):
        raise Refusal(DUE_BAD)
    if day < today:
        raise Refusal(DUE_PAST)
    return day


async def unit_for(db: AsyncSession, scope: Scope, unit_id: int | None) -> HandlingUnit:
    """A handling unit in service that this member may assign to (township staff: their township's)."""
    if not unit_id or not 0 < unit_id < 2**63:
        raise Refusal(UNIT_BAD)
    row = (await db.execute(
        select(HandlingUnit, AdminNode.path)
        .outerjoin(AdminNode, and_(AdminNode.tenant_id == HandlingUnit.tenant_id, AdminNode.id == HandlingUnit.node_id))
        .where(HandlingUnit.id == unit_id, HandlingUnit.retired_at.is_(None))
    )).first()
    if row is None:
        raise Refusal(UNIT_BAD)
    unit, path = row
    if scope.role == "township_staff" and (unit.level != "township" or not path or not scope.covers_path(path)):
        raise Refusal(UNIT_OUT_OF_REACH)
    return unit


async def _to_unit(db: AsyncSession, scope: Scope, ref: CaseRef, step: str, *, unit_id: int | None, reply_due,
                   note: str, actor_id: int, client_addr: str | None, today: date | None,
                   now: datetime | None) -> None:
    spec, config, today = await begin(db, scope, ref, step, today)
    note = text(note, "note")
    unit = await unit_for(db, scope, unit_id)
    given = parse_due(reply_due, today)
    case = ref.case
    reply_days, feedback_days, working = await due_rule(db, config, level=case.level, category_id=case.category_id,
                                                        urgency=case.urgency)
    calendar = await load_calendar(db, since=today)
    case.reply_due = given or add_days(today, reply_days, working, calendar)
    case.feedback_due = add_days(case.reply_due, feedback_days, working, calendar)
    now = _now(now)
    data = {"unit_id": unit.id, "unit": unit.name, "reply_due": case.reply_due.isoformat(),
            "feedback_due": case.feedback_due.isoformat()}
    if step == "send_back":
        data["satisfaction"] = case.satisfaction
        case.rehandled += 1
        case.satisfaction, case.rated_at, case.closed_at = None, None, None
        case.reply_text, case.replied_at, case.fed_back_at, case.feedback_channel = "", None, None, None
    case.handling_unit_id, case.assigned_at = unit.id, now
    ref.unit = unit
    await finish(db, ref, spec, actor_id=actor_id, now=now, client_addr=client_addr, note=note, data=data)


async def assign(db: AsyncSession, scope: Scope, ref: CaseRef, *, unit_id: int | None, reply_due=None,
                 note: str = "", actor_id: int, client_addr: str | None = None, today: date | None = None,
                 now: datetime | None = None) -> None:
    """交办 to a handling unit, with due dates from the tenant's rules (or a reply date staff give)."""
    await _to_unit(db, scope, ref, "assign", unit_id=unit_id, reply_due=reply_due, note=note, actor_id=actor_id,
                   client_addr=client_addr, today=today, now=now)


async def send_back(db: AsyncSession, scope: Scope, ref: CaseRef, *, unit_id: int | None, reply_due=None,
                    note: str = "", actor_id: int, client_addr: str | None = None, today: date | None = None,
                    now: datetime | None = None) -> None:
    """An unsatisfied answer goes back for re-handling (same or another unit), within the tenant's limit;
    the earlier answer and rating stay in the history."""
    await _to_unit(db, scope, ref, "send_back", unit_id=unit_id, reply_due=reply_due, note=note, actor_id=actor_id,
                   client_addr=client_addr, today=today, now=now)


async def escalate(db: AsyncSession, scope: Scope, ref: CaseRef, *, note: str = "", actor_id: int,
                   client_addr: str | None = None, now: datetime | None = None) -> None:
    """A township matter becomes a county matter; it stays registered, for the county to assign."""
    spec, _, _ = await begin(db, scope, ref, "escalate")
    note = text(note, "note")
    ref.case.level = "county"
    await finish(db, ref, spec, actor_id=actor_id, now=_now(now), client_addr=client_addr, note=note,
                 data={"level": ["township", "county"]})


async def forward_outside(db: AsyncSession, scope: Scope, ref: CaseRef, *, outside_body: str, outside_ref: str,
                          note: str = "", actor_id: int, client_addr: str | None = None,
                          now: datetime | None = None) -> None:
    """A matter of the city or province, forwarded (上报) to the outside body with its reference number."""
    spec, _, _ = await begin(db, scope, ref, "forward_outside")
    body = text(outside_body, "outside_body", required=OUTSIDE_REQUIRED, max_len=OUTSIDE_BODY_MAX)
    number = text(outside_ref, "outside_ref", required=OUTSIDE_REQUIRED, max_len=OUTSIDE_REF_MAX)
    note = text(note, "note")
    ref.case.outside_body, ref.case.outside_ref, ref.case.level = body, number, "outside"
    await finish(db, ref, spec, actor_id=actor_id, now=_now(now), client_addr=client_addr, note=note,
                 data={"outside_body": body, "outside_ref": number})


# --- the unit: accept, ask, reply; staff: clarify ------------------------------------------------------

async def accept(db: AsyncSession, scope: Scope, ref: CaseRef, *, note: str = "", actor_id: int,
                 client_addr: str | None = None, now: datetime | None = None) -> None:
    spec, _, _ = await begin(db, scope, ref, "accept")
    await finish(db, ref, spec, actor_id=actor_id, now=_now(now), client_addr=client_addr, note=text(note, "note"))


async def ask_clarification(db: AsyncSession, scope: Scope, ref: CaseRef, *, question: str, actor_id: int,
                            client_addr: str | None = None, now: datetime | None = None) -> None:
    spec, _, _ = await begin(db, scope, ref, "ask_clarification")
    question = text(question, "note", required=QUESTION_REQUIRED)
    await finish(db, ref, spec, actor_id=actor_id, now=_now(now), client_addr=client_addr, note=question)


async def clarify(db: AsyncSession, scope: Scope, ref: CaseRef, *, answer: str, actor_id: int,
                  client_addr: str | None = None, now: datetime | None = None) -> None:
    spec, _, _ = await begin(db, scope, ref, "clarify")
    answer = text(answer, "note", required=CLARIFICATION_REQUIRED)
    await finish(db, ref, spec, actor_id=actor_id, now=_now(now), client_addr=client_addr, note=answer)


async def reply(db: AsyncSession, scope: Scope, ref: CaseRef, *, result: str, actor_id: int,
                client_addr: str | None = None, now: datetime | None = None) -> None:
    """办理结果: the unit's answer, to be fed back to the person."""
    spec, _, _ = await begin(db, scope, ref, "reply")
    result = text(result, "result", required=RESULT_REQUIRED)
    now = _now(now)
    ref.case.reply_text, ref.case.replied_at = result, now
    await finish(db, ref, spec, actor_id=actor_id, now=now, client_addr=client_addr, note=result)


# --- staff: feed back, rate, supervise ---------------------------------------------------------------

async def feed_back(db: AsyncSession, scope: Scope, ref: CaseRef, *, channel: str, note: str = "", actor_id: int,
                    client_addr: str | None = None, now: datetime | None = None) -> None:
    spec, _, _ = await begin(db, scope, ref, "feed_back")
    if channel not in FEEDBACK_CHANNELS:
        raise Refusal(CHANNEL_BAD)
    note = text(note, "note")
    now = _now(now)
    ref.case.feedback_channel, ref.case.fed_back_at = channel, now
    await finish(db, ref, spec, actor_id=actor_id, now=now, client_addr=client_addr, note=note,
                 data={"channel": channel})
    await notices.fed_back(db, ref.case, now=now)


async def rate(db: AsyncSession, scope: Scope, ref: CaseRef, *, satisfaction: str, note: str = "", actor_id: int,
               client_addr: str | None = None, now: datetime | None = None) -> None:
    """满意度测评 as staff record it (asked by phone or in person): closes the case, except "not satisfied",
    which needs the person's reason (the note) and sends the case back like the person's own rating
    (``app.cases.rating``)."""
    spec, config, today = await begin(db, scope, ref, "rate")
    if satisfaction not in SATISFACTIONS:
        raise Refusal(SATISFACTION_BAD)
    note = text(note, "note", required=rating.STAFF_REASON_REQUIRED if satisfaction == "unsatisfied" else None)
    now = _now(now)
    unit = await rating.rehandling_unit(db, ref.case, config) if satisfaction == "unsatisfied" else None
    if unit is not None:
        await rating.send_back(db, ref.case, unit, reason=note, actor_id=actor_id, config=config, today=today,
                               now=now)
        await record(db, tenant_id=ref.case.tenant_id, actor_user_id=actor_id, action=AUDIT_ACTIONS["rate"],
                     target=f"case:{ref.case.id}", client_addr=client_addr,
                     details={"from": "fed_back", "to": "assigned", "satisfaction": satisfaction, "sent_back": True})
        return
    ref.case.satisfaction, ref.case.rated_at = satisfaction, now
    await finish(db, ref, spec, actor_id=actor_id, now=now, client_addr=client_addr, note=note,
                 data={"satisfaction": satisfaction})


# The person's own rating (the public lookup page) lives with the rest of the rating rules.
rate_by_public = rating.rate_by_public


async def supervise(db: AsyncSession, scope: Scope, ref: CaseRef, *, note: str, actor_id: int,
                    client_addr: str | None = None, today: date | None = None, now: datetime | None = None) -> None:
    """督办 an overdue case: a recorded note; the state does not change."""
    spec, _, today = await begin(db, scope, ref, "supervise", today)
    note = text(note, "note", required=SUPERVISION_REQUIRED)
    now = _now(now)
    ref.case.supervised_at = now
    await finish(db, ref, spec, actor_id=actor_id, now=now, client_addr=client_addr, note=note,
                 data={"reply_due": ref.case.reply_due.isoformat() if ref.case.reply_due else None})


# --- merge -------------------------------------------------------------------------------------------

async def merge(db: AsyncSession, scope: Scope, ref: CaseRef, *, into: str, note: str = "", actor_id: int,
                client_addr: str | None = None, now: datetime | None = None) -> Case:
    """A duplicate merged into another case the member can see; both keep their histories (the kept
    case's page shows the duplicate's too)."""
    spec, _, _ = await begin(db, scope, ref, "merge")
    note = text(note, "note")
    kept = await _merge_target(db, scope, ref.case, into)
    now = _now(now)
    ref.case.merged_into_id = kept.id
    add_event(db, kept, "merged_here", actor_id, note=note, data={"case_id": ref.case.id})
    kept.updated_at = now
    await finish(db, ref, spec, actor_id=actor_id, now=now, client_addr=client_addr, note=note,
                 data={"into": kept.id})
    return kept


async def _merge_target(db: AsyncSession, scope: Scope, duplicate: Case, into: str) -> Case:
    raw = str(into or "").strip().lstrip("#")
    case_id = int(raw) if raw.isdigit() and len(raw) <= 18 else None
    if case_id is None and raw:
        case_id = await db.scalar(select(Case.id).where(Case.receipt_code == normalise_code(raw)))
    if not case_id or case_id == duplicate.id:
        raise Refusal(MERGE_TARGET_BAD)
    try:
        kept = (await get_case(db, scope, case_id, for_update=True)).case
    except NotFound:
        raise Refusal(MERGE_TARGET_BAD) from None
    if kept.state in ("merged",):
        raise Refusal(MERGE_TARGET_BAD)
    return kept
