"""The person's satisfaction with an answer (满意度测评): what "not satisfied" does, and the period in
which the person may rate. The person's own rating (``rate_by_public``, also ``steps.rate_by_public``)
is here; staff recording it (``steps.rate``) use the same rules. Nothing here commits.

- "Not satisfied" needs the person's reason: on the public page they write it, staff recording the
  rating on their behalf write it down. While the county's limit of re-handlings
  (``case_rehandle_limit``) allows and the unit that answered is still in service, the case goes back
  to that unit as the staff's send-back does (state ``assigned``, new due dates, ``rehandled`` + 1,
  the answer and the rating cleared; they stay in the history), recorded as ONE case event
  ``sent_back_by_person`` with the reason as its note — the record of the send-back, for the staff,
  the unit and whatever notices follow case events. Past the limit, or without a unit to go back to (a
  joint station's case, a retired unit), "not satisfied" is recorded and the case closes; staff may
  still send a closed case back where the limit allows (step ``send_back``).
- The person may rate within ``case_rating_days`` days after the answer was fed back (counted in the
  tenant's days; the last day included). After that no rating is recorded in the person's name: the
  hourly producer (``close_lapsed``, app.jobs.scheduled) closes the case without a rating (event
  ``rating_lapsed``, 未评价). It is not counted as satisfied — the satisfaction rate counts rated
  cases only — and it counts as resolved. Staff may record a rating they asked for until then.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.services import record
from app.cases import joint_port, notices, workflow
from app.cases.models import SATISFACTIONS, Case
from app.cases.services import add_days, add_event, due_rule
from app.core.calendar import load_calendar
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.tenancy.config import Config, get_config
from app.tenancy.models import HandlingUnit, Tenant

REASON_MAX = 500
SENT_BACK = "sent_back_by_person"  # the case event of the person's send-back
LAPSED = "rating_lapsed"  # the case event of a case closed without a rating

REASON_REQUIRED = lazy("Please tell us why you are not satisfied: your reason goes back to the handling unit "
                       "with your opinion.")
REASON_TOO_LONG = lazy("Please keep your reason within %(max)s characters.")
STAFF_REASON_REQUIRED = lazy("Please write down why the person is not satisfied: the reason goes back to the "
                             "handling unit with the case.")
PUBLIC_SATISFACTION_BAD = lazy("Please choose how satisfied you are with the answer.")
NOT_YET_RATEABLE = lazy("The answer can be rated once it has been fed back to you.")
RATING_CLOSED = lazy("The period for rating this answer ended on %(day)s: the answer can no longer be rated here.")


def check_reason(satisfaction: str, reason: str) -> str:
    """The person's reason: required for "not satisfied" and bounded; kept with any other rating too."""
    reason = str(reason or "").strip()
    if satisfaction == "unsatisfied" and not reason:
        raise Refusal(REASON_REQUIRED, input_name="reason")
    if len(reason) > REASON_MAX:
        raise Refusal(REASON_TOO_LONG, input_name="reason", max=REASON_MAX)
    return reason


def rating_until(case: Case, days: int, tz) -> date | None:
    """The last day (the tenant's) on which the person may rate the answer; None before any feedback."""
    if case.fed_back_at is None:
        return None
    return case.fed_back_at.astimezone(tz).date() + timedelta(days=days)


async def zone_of(db: AsyncSession, tenant_id: int) -> ZoneInfo:
    return ZoneInfo(await db.scalar(select(Tenant.timezone).where(Tenant.id == tenant_id)) or "Asia/Shanghai")


def check_period(case: Case, config: Config, tz, today: date) -> None:
    until = rating_until(case, config.case_rating_days, tz)
    if until is not None and today > until:
        raise Refusal(RATING_CLOSED, day=until.isoformat())


async def rehandling_unit(db: AsyncSession, case: Case, config: Config) -> HandlingUnit | None:
    """The unit a "not satisfied" answer goes back to, or None: the county's limit is used up, or no unit
    in service answered it."""
    if case.handling_unit_id is None or case.rehandled >= config.case_rehandle_limit:
        return None
    return await db.scalar(select(HandlingUnit).where(HandlingUnit.id == case.handling_unit_id,
                                                      HandlingUnit.retired_at.is_(None)))


async def due_dates(db: AsyncSession, config: Config, case: Case, today: date) -> tuple[date, date]:
    """(reply due, feedback due) from today by the county's rules, as an assignment gets them."""
    reply_days, feedback_days, working = await due_rule(db, config, level=case.level, category_id=case.category_id,
                                                        urgency=case.urgency)
    calendar = await load_calendar(db, since=today)
    reply_due = add_days(today, reply_days, working, calendar)
    return reply_due, add_days(reply_due, feedback_days, working, calendar)


async def send_back(db: AsyncSession, case: Case, unit: HandlingUnit, *, reason: str, actor_id: int | None,
                    config: Config, today: date, now: datetime) -> None:
    """The person is not satisfied: the case (locked, ``fed_back``) goes back to ``unit`` for re-handling.
    ``actor_id``: the staff member who recorded it, None when the person rated on the public page."""
    before = case.state
    case.reply_due, case.feedback_due = await due_dates(db, config, case, today)
    case.rehandled += 1
    case.state, case.assigned_at, case.updated_at = "assigned", now, now
    case.satisfaction = case.rated_at = case.closed_at = None
    case.reply_text, case.replied_at, case.fed_back_at, case.feedback_channel = "", None, None, None
    add_event(db, case, SENT_BACK, actor_id, from_state=before, to_state="assigned", note=reason, public=True,
              data={"satisfaction": "unsatisfied", "by_staff": actor_id is not None, "unit_id": unit.id,
                    "unit": unit.name, "reply_due": case.reply_due.isoformat(),
                    "feedback_due": case.feedback_due.isoformat(), "round": case.rehandled})
    await db.flush()
    # the round's satisfaction request and due-date notices are over, as when a case closes
    await notices.finished(db, case)
    await joint_port.mirror(db, case, now)


async def close_lapsed(db: AsyncSession, tenant_id: int, *, now: datetime | None = None) -> int:
    """Close the tenant's fed-back cases whose rating period is over, without a rating (see the module).
    Bound to the tenant; rows another transaction holds are left to the next run. Returns how many."""
    now = now or datetime.now(timezone.utc)
    config = await get_config(db, tenant_id)
    tz = await zone_of(db, tenant_id)
    today = now.astimezone(tz).date()
    # by the clock first (a superset: a day is at most a day long), then by the tenant's days
    due = await db.scalars(select(Case).where(
        Case.tenant_id == tenant_id, Case.state == "fed_back", Case.satisfaction.is_(None),
        Case.fed_back_at < now - timedelta(days=config.case_rating_days)).order_by(Case.id)
        .with_for_update(skip_locked=True))
    closed = 0
    for case in list(due):
        if rating_until(case, config.case_rating_days, tz) >= today:
            continue
        case.state, case.closed_at, case.updated_at = "closed", now, now
        add_event(db, case, LAPSED, None, from_state="fed_back", to_state="closed", public=True,
                  data={"rating_days": config.case_rating_days})
        await db.flush()
        await notices.finished(db, case)
        await joint_port.mirror(db, case, now)
        closed += 1
    return closed


async def rate_by_public(db: AsyncSession, case: Case, satisfaction: str, *, reason: str = "",
                         client_addr: str | None = None, now: datetime | None = None) -> str:
    """The person's own rating from the receipt lookup: once per answer, only once it was fed back and
    within the county's rating period. "Not satisfied" needs a reason and sends the case back while the
    county allows (see the module); any other rating closes it. The case is locked and read again
    first: of two ratings racing, the second is refused. Returns "sent_back", "closed", or, not satisfied
    but closed, "closed_at_limit" (the county's re-handlings are used up) or "closed_unsatisfied" (no
    unit to go back to)."""
    if satisfaction not in SATISFACTIONS:
        raise Refusal(PUBLIC_SATISFACTION_BAD)
    case = await db.scalar(select(Case).where(Case.id == case.id).with_for_update()
                           .execution_options(populate_existing=True))
    if case is None:
        raise NotFound()
    if case.satisfaction is not None or case.rated_at is not None:
        raise Refusal(workflow.ALREADY_RATED)
    if case.state != "fed_back":
        raise Refusal(NOT_YET_RATEABLE)
    now = now or datetime.now(timezone.utc)
    config, tz = await get_config(db, case.tenant_id), await zone_of(db, case.tenant_id)
    today = now.astimezone(tz).date()
    check_period(case, config, tz, today)
    reason = check_reason(satisfaction, reason)
    unit = await rehandling_unit(db, case, config) if satisfaction == "unsatisfied" else None
    details = {"satisfaction": satisfaction, "sent_back": unit is not None}
    if unit is not None:
        await send_back(db, case, unit, reason=reason, actor_id=None, config=config, today=today, now=now)
    else:
        case.state, case.satisfaction, case.rated_at, case.closed_at, case.updated_at = \
            "closed", satisfaction, now, now, now
        add_event(db, case, "rated_by_public", None, from_state="fed_back", to_state="closed", public=True,
                  note=reason, data={"satisfaction": satisfaction})
        await db.flush()
        await notices.finished(db, case)
    await record(db, tenant_id=case.tenant_id, actor_user_id=None, action="case_rated_by_public",
                 target=f"case:{case.id}", client_addr=client_addr, details=details)
    if unit is not None:
        return "sent_back"
    await joint_port.mirror(db, case, now)
    await joint_port.passed_on(db, case, actor_id=None, client_addr=client_addr, now=now)
    if satisfaction != "unsatisfied":
        return "closed"
    return "closed_at_limit" if case.rehandled >= config.case_rehandle_limit else "closed_unsatisfied"
