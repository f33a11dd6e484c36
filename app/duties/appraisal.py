"""The yearly appraisal (履职测评, seed 001 庄子乡): a county admin runs the year's appraisal as a draft
with every serving deputy's score, adjusts a score with a reason, and publishes it; publishing sends
each deputy the feedback notice (《履职测评结果反馈通知书》, inbox and SMS with a short link) and writes
the reminders of the rectification report (《履职测评整改报告》) due by the county's day. Deputies file
their report; staff see who has not; the 不合格 are listed for a talk (谈话提醒), recorded here.

The county's duty settings (app.duties.settings) give a new appraisal its thresholds and due day (so
many days from today), and say whether a report is asked at all. A county that asks for none publishes
without a due day: the notice says nothing of a report, no reminder is written, nobody is missing. So
a published appraisal asks for reports exactly when it has a due day; for a draft, the settings at the
moment of publishing decide (a due day typed into the draft is dropped when the county asks for none).

The scale: a deputy's score is their points for the calendar year (app.duties.points.compute, the
county's scheme) as they are, kept within 0..100 (below 0 counts 0, above 100 counts 100). Grades by
the appraisal's thresholds (default ≥90 excellent, ≥80 satisfactory, else unsatisfactory).

A report handed in after the due day is accepted and shown as late: the rectification still matters
more than the date, and the list of who is late is what the county follows up.

Everything runs in a fixed number of queries whatever the number of deputies (the draft: the points'
six and two inserts; publishing: an update, the recipients, and one outbox insert per distinct score
and one for the reminders). Services take the session and the acting member and do not commit.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, and_, any_, insert, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.services import record
from app.core.errors import NotFound, Refusal
from app.core.i18n import DEFAULT_LOCALE, catalogue, lazy
from app.core.periods import Period
from app.deputies.access import deputies_in_scope, require_view
from app.deputies.models import Deputy
from app.deputies.services import Actor
from app.duties import points
from app.duties.settings import check_thresholds, duty_settings
from app.duties.appraisal_models import (GRADE_NAMES, MAX_AGREED, MAX_REASON, MAX_REPORT, MAX_TALKED_BY, Appraisal,
                                         AppraisalResult, AppraisalTalk)
from app.notify import outbox
from app.notify.config import notify_settings
from app.notify.short_links import short_code

RUN_ROLES = ("county_admin",)  # run, adjust, publish
STAFF_ROLES = ("county_admin", "viewer", "township_staff", "station_staff")  # see results in their reach
TALK_ROLES = ("county_admin", "township_staff")  # record a talk with a deputy in reach
REMIND_DAYS = 3  # the reminder of the report goes out so many days before its due day, at 09:00
REMIND_AT = time(9)
SCORE_RE = re.compile(r"^\d{1,3}(\.\d)?$")

NOT_ALLOWED = lazy("Only the county's administrators run the appraisal.")
BAD_YEAR = lazy("Choose a year from the list.")
EXISTS = lazy("The appraisal of %(year)s has already been started.")
BAD_DUE = lazy("Give the day the rectification reports are due (year-month-day).")
DUE_PAST = lazy("The day the rectification reports are due must be after today.")
PUBLISHED = lazy("This appraisal has been published and can no longer change.")
NOT_IN_DRAFT = lazy("The deputy is not in this appraisal.")
BAD_SCORE = lazy("The score is a number from 0 to 100 with at most one decimal.")
NO_REASON = lazy("Give the reason for the adjustment (at most %(max)s characters).")
SAME_SCORE = lazy("The new score is the same as the current one.")
NOT_PUBLISHED = lazy("This appraisal has not been published yet.")
NOT_YOURS = lazy("Only the deputy hands in their rectification report, or staff who record talks enter one handed in on paper.")
NO_REPORT = lazy("Write the rectification report (at most %(max)s characters).")
REPORTED = lazy("The rectification report has already been handed in.")
NO_REPORT_ASKED = lazy("No rectification report is asked for in this appraisal.")
NO_TALK_RIGHTS = lazy("You may not record talks.")
BAD_TALK_DAY = lazy("Give the day of the talk (year-month-day), not in the future.")
NO_TALKED_BY = lazy("Say who talked with the deputy (at most %(max)s characters).")
NO_AGREED = lazy("Say what was agreed (at most %(max)s characters).")


def to_score(points_: Decimal) -> Decimal:
    """The county's scale: points as they are, kept within 0..100, one decimal."""
    return min(max(Decimal(points_), Decimal(0)), Decimal(100)).quantize(Decimal("0.1"))


def grade_of(score: Decimal, excellent: int, pass_: int) -> str:
    return "excellent" if score >= excellent else "pass" if score >= pass_ else "fail"


def years_offered(today: date) -> list[int]:
    """The years an appraisal may be run for: this year and the two before (a year is appraised early
    in the next)."""
    return [today.year - n for n in range(3)]


async def points_for_year(db: AsyncSession, tenant_id: int, year: int, tz: ZoneInfo) -> dict[int, Decimal]:
    """Every serving deputy's points for the calendar year (the county's points scheme)."""
    period = Period("year", date(year, 1, 1), date(year, 12, 31))
    return {did: d.points for did, d in (await points.compute(db, tenant_id, period, tz)).items()}


def _require_run(actor: Actor) -> None:
    if actor.scope.role not in RUN_ROLES:
        raise Refusal(NOT_ALLOWED, status=403)


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError:
        return None


def _due_day(value: str, today: date) -> date | None:
    """The due day typed (None when left empty), after today, or Refusal."""
    if not str(value or "").strip():
        return None
    due = _day(value)
    if due is None:
        raise Refusal(BAD_DUE, input_name="report_due")
    if due <= today:
        raise Refusal(DUE_PAST, input_name="report_due")
    return due


# --- reading -------------------------------------------------------------------------------------

async def appraisal_for(db: AsyncSession, tenant_id: int, year: int, *, for_update: bool = False) -> Appraisal:
    stmt = select(Appraisal).where(Appraisal.tenant_id == tenant_id, Appraisal.year == year)
    found = await db.scalar(stmt.with_for_update() if for_update else stmt)
    if found is None:
        raise NotFound()
    return found


async def appraisals(db: AsyncSession, tenant_id: int) -> list[Appraisal]:
    return list((await db.scalars(select(Appraisal).where(Appraisal.tenant_id == tenant_id)
                                  .order_by(Appraisal.year.desc()))).all())


def _results_in_scope(actor: Actor, appraisal: Appraisal):
    require_view(actor.scope.role)  # the deputies' roles: handling units reach no deputy
    return (select(AppraisalResult, Deputy)
            .join(Deputy, and_(Deputy.tenant_id == AppraisalResult.tenant_id, Deputy.id == AppraisalResult.deputy_id))
            .where(AppraisalResult.tenant_id == appraisal.tenant_id, AppraisalResult.appraisal_id == appraisal.id,
                   deputies_in_scope(actor.scope)))


async def results(db: AsyncSession, actor: Actor, appraisal: Appraisal) -> list[tuple[AppraisalResult, Deputy]]:
    """The results of the deputies in the member's reach, by name: one query."""
    rows = await db.execute(_results_in_scope(actor, appraisal).order_by(Deputy.name, Deputy.id))
    return [(r, d) for r, d in rows.all()]


async def access_result(db: AsyncSession, actor: Actor, appraisal: Appraisal,
                        deputy_id: int) -> tuple[AppraisalResult, Deputy]:
    """One deputy's result, if the member may see the deputy (a deputy only their own, and only once
    published); missing and out of reach alike are not found."""
    if actor.scope.role == "deputy" and appraisal.status != "published":
        raise NotFound()
    row = (await db.execute(_results_in_scope(actor, appraisal).where(AppraisalResult.deputy_id == deputy_id))).first()
    if row is None:
        raise NotFound()
    return row[0], row[1]


async def talks(db: AsyncSession, actor: Actor, appraisal: Appraisal) -> dict[int, list[AppraisalTalk]]:
    """The talks of the appraisal with deputies in reach, by deputy: one query."""
    require_view(actor.scope.role)
    rows = await db.scalars(
        select(AppraisalTalk).join(Deputy, and_(Deputy.tenant_id == AppraisalTalk.tenant_id,
                                                Deputy.id == AppraisalTalk.deputy_id))
        .where(AppraisalTalk.tenant_id == appraisal.tenant_id, AppraisalTalk.appraisal_id == appraisal.id,
               deputies_in_scope(actor.scope)).order_by(AppraisalTalk.day, AppraisalTalk.id))
    out: dict[int, list[AppraisalTalk]] = defaultdict(list)
    for talk in rows.all():
        out[talk.deputy_id].append(talk)
    return out


async def grades_of(db: AsyncSession, tenant_id: int, deputy_id: int) -> list[tuple[int, str, Decimal]]:
    """(year, grade, score) of the deputy's published appraisals, newest first (the grade history
    across the term). The caller has checked the deputy is in reach."""
    return (await grades_by_deputy(db, tenant_id, [deputy_id]))[deputy_id]


async def grades_by_deputy(db: AsyncSession, tenant_id: int,
                           deputy_ids: list[int]) -> dict[int, list[tuple[int, str, Decimal]]]:
    """``grades_of`` for several deputies at once (the station binder's archive): one query."""
    rows = await db.execute(
        select(AppraisalResult.deputy_id, Appraisal.year, AppraisalResult.grade, AppraisalResult.computed,
               AppraisalResult.adjusted)
        .join(Appraisal, and_(Appraisal.tenant_id == AppraisalResult.tenant_id, Appraisal.id == AppraisalResult.appraisal_id))
        .where(AppraisalResult.tenant_id == tenant_id, AppraisalResult.deputy_id.in_(deputy_ids),
               Appraisal.status == "published")
        .order_by(Appraisal.year.desc()))
    out: dict[int, list] = {i: [] for i in deputy_ids}
    for deputy_id, year, grade, computed, adjusted in rows.all():
        out[deputy_id].append((year, grade, computed if adjusted is None else adjusted))
    return out


async def latest_grades(db: AsyncSession, tenant_id: int, deputy_ids: list[int]) -> tuple[int | None, dict[int, str]]:
    """(year, deputy id → grade) of the county's latest PUBLISHED appraisal for these deputies (the
    public appraisal board; a deputy not in it has no grade): one query. (None, {}) before any."""
    latest = (select(Appraisal.id, Appraisal.year)
              .where(Appraisal.tenant_id == tenant_id, Appraisal.status == "published")
              .order_by(Appraisal.year.desc()).limit(1).subquery())
    rows = (await db.execute(
        select(latest.c.year, AppraisalResult.deputy_id, AppraisalResult.grade).select_from(latest)
        .outerjoin(AppraisalResult, and_(AppraisalResult.tenant_id == tenant_id,
                                         AppraisalResult.appraisal_id == latest.c.id,
                                         AppraisalResult.deputy_id == any_(literal(deputy_ids, ARRAY(BigInteger))))))
            ).all()
    if not rows:
        return None, {}
    return rows[0][0], {did: grade for _, did, grade in rows if did is not None}


# --- running the appraisal -----------------------------------------------------------------------

async def create_draft(db: AsyncSession, actor: Actor, *, year: str, excellent: str, pass_: str, report_due: str,
                       today: date, tz: ZoneInfo) -> Appraisal:
    """The year's draft with every serving deputy's score and grade. The due day may be left for later
    (publishing asks for it); a county that asks for no report gets none."""
    _require_run(actor)
    chosen = int(year) if str(year).strip().isdigit() else 0
    if chosen not in years_offered(today):
        raise Refusal(BAD_YEAR, input_name="year")
    e, p = check_thresholds(excellent, pass_)
    due = _due_day(report_due, today) if (await duty_settings(db, actor.tenant_id)).rectification else None
    if await db.scalar(select(Appraisal.id).where(Appraisal.tenant_id == actor.tenant_id, Appraisal.year == chosen)):
        raise Refusal(EXISTS, input_name="year", year=chosen)
    appraisal = Appraisal(tenant_id=actor.tenant_id, year=chosen, status="draft", excellent=e, pass_=p,
                          report_due=due, created_by=actor.user_id)
    db.add(appraisal)
    await db.flush()
    scores = await points_for_year(db, actor.tenant_id, chosen, tz)
    if scores:
        rows = []
        for deputy_id, value in scores.items():
            score = to_score(value)
            rows.append(dict(tenant_id=actor.tenant_id, appraisal_id=appraisal.id, deputy_id=deputy_id,
                             computed=score, grade=grade_of(score, e, p)))
        await db.execute(insert(AppraisalResult), rows)
    await record(db, tenant_id=actor.tenant_id, actor_user_id=actor.user_id, action="appraisal_drafted",
                 target=f"appraisal:{appraisal.id}", client_addr=actor.client_addr,
                 details={"year": chosen, "excellent": e, "pass": p, "deputies": len(scores)})
    return appraisal


async def adjust(db: AsyncSession, actor: Actor, appraisal: Appraisal, *, deputy_id: int, score: str,
                 reason: str) -> AppraisalResult:
    """Change one deputy's score in the draft, with the reason (audited: before → after)."""
    _require_run(actor)
    if appraisal.status != "draft":
        raise Refusal(PUBLISHED)
    result = await db.scalar(select(AppraisalResult).where(
        AppraisalResult.tenant_id == appraisal.tenant_id, AppraisalResult.appraisal_id == appraisal.id,
        AppraisalResult.deputy_id == deputy_id).with_for_update())
    if result is None:
        raise Refusal(NOT_IN_DRAFT)
    text = str(score or "").strip()
    new = Decimal(text) if SCORE_RE.match(text) else None
    if new is None or new > 100:
        raise Refusal(BAD_SCORE, input_name="score")
    reason = " ".join(str(reason or "").split())
    if not reason or len(reason) > MAX_REASON:
        raise Refusal(NO_REASON, input_name="reason", max=MAX_REASON)
    before = result.score
    if new == before:
        raise Refusal(SAME_SCORE, input_name="score")
    result.adjusted, result.reason = new, reason
    result.grade = grade_of(new, appraisal.excellent, appraisal.pass_)
    await record(db, tenant_id=actor.tenant_id, actor_user_id=actor.user_id, action="appraisal_adjusted",
                 target=f"appraisal:{appraisal.id}", client_addr=actor.client_addr,
                 details={"deputy_id": deputy_id, "before": str(before), "after": str(new), "reason": reason})
    return result


def _chinese(msgid: str) -> str:
    """An SMS says the registered (Chinese) template, whatever language the publisher reads."""
    return catalogue(DEFAULT_LOCALE).get(msgid) or msgid


async def publish(db: AsyncSession, actor: Actor, appraisal: Appraisal, *, slug: str, report_due: str = "",
                  now: datetime, tz: ZoneInfo) -> Appraisal:
    """Publish once: every deputy's notice goes out (inbox and SMS), and the reminders of the report
    are written to go out REMIND_DAYS before its due day (withdrawn as each deputy files theirs). Where
    the county asks for no report (its settings now), the appraisal is published without a due day."""
    _require_run(actor)
    if appraisal.status == "published":
        raise Refusal(PUBLISHED)
    if (await duty_settings(db, appraisal.tenant_id)).rectification:
        today = now.astimezone(tz).date()
        appraisal.report_due = _due_day(report_due, today) or appraisal.report_due
        if appraisal.report_due is None:
            raise Refusal(BAD_DUE, input_name="report_due")
        if appraisal.report_due <= today:
            raise Refusal(DUE_PAST, input_name="report_due")
    else:
        appraisal.report_due = None
    appraisal.status, appraisal.published_at, appraisal.published_by = "published", now, actor.user_id
    await db.flush()
    changed = await db.execute(
        update(AppraisalResult).where(AppraisalResult.tenant_id == appraisal.tenant_id,
                                      AppraisalResult.appraisal_id == appraisal.id)
        .values(notice_at=now).returning(AppraisalResult.deputy_id, AppraisalResult.grade,
                                         AppraisalResult.computed, AppraisalResult.adjusted)
        .execution_options(synchronize_session=False))
    figures = {did: (grade, computed if adjusted is None else adjusted) for did, grade, computed, adjusted in changed.all()}
    await _tell(db, appraisal, figures, slug=slug, now=now, tz=tz)
    await record(db, tenant_id=actor.tenant_id, actor_user_id=actor.user_id, action="appraisal_published",
                 target=f"appraisal:{appraisal.id}", client_addr=actor.client_addr,
                 details={"year": appraisal.year, "deputies": len(figures),
                          "report_due": appraisal.report_due.isoformat() if appraisal.report_due else None})
    return appraisal


def subject_of(appraisal: Appraisal) -> str:
    return f"appraisal:{appraisal.id}"


async def _tell(db: AsyncSession, appraisal: Appraisal, figures: dict, *, slug: str, now: datetime,
                tz: ZoneInfo) -> None:
    """Deputies with the same grade and score share one outbox insert; the link is the same for all
    (it opens the reader's own notice). Without a due day no report is asked: the notice of that kind
    (``appraisal_result``) says nothing of one, and there is nothing to remind of."""
    if not figures:
        return
    t = appraisal.tenant_id
    config = await notify_settings(db, t)
    link = await short_code(db, t, f"/t/{slug}/appraisals/{appraisal.year}/mine", now=now)
    people = await outbox.deputies(db, t, list(figures), config=config)
    due = {"due": appraisal.report_due.isoformat()} if appraisal.report_due else {}
    same: dict[tuple, list] = defaultdict(list)
    for r in people:
        same[figures[r.deputy_id]].append(r)
    for (grade, score), group in same.items():
        await outbox.notify(db, tenant_id=t, kind="appraisal_notice" if due else "appraisal_result",
                            subject=subject_of(appraisal), recipients=group, due_at=now, now=now, config=config,
                            params={"year": appraisal.year, "grade": _chinese(GRADE_NAMES[grade]), "score": str(score),
                                    "link": link, **due})
    if not due:
        return
    remind_at = datetime.combine(appraisal.report_due - timedelta(days=REMIND_DAYS), REMIND_AT, tzinfo=tz)
    if remind_at > now:
        await outbox.notify(db, tenant_id=t, kind="appraisal_report_due", subject=subject_of(appraisal),
                            recipients=people, due_at=remind_at, now=now, config=config,
                            params={"year": appraisal.year, "link": link, **due})


# --- the deputy's report and the talks -----------------------------------------------------------

async def file_report(db: AsyncSession, actor: Actor, appraisal: Appraisal, result: AppraisalResult, deputy: Deputy,
                      *, text: str, now: datetime) -> AppraisalResult:
    """The deputy hands in their rectification report, once; a late one is accepted (see the module).
    Many deputies have no account and hand theirs in on paper: staff who record talks (TALK_ROLES, the
    deputy in their reach, which the caller checked) enter it for them; ``on_paper`` tells it apart."""
    if appraisal.status != "published":
        raise Refusal(NOT_PUBLISHED)
    own = actor.scope.role == "deputy" and deputy.user_id == actor.user_id
    if not own and actor.scope.role not in TALK_ROLES:
        raise Refusal(NOT_YOURS, status=403)
    if appraisal.report_due is None:
        raise Refusal(NO_REPORT_ASKED)
    if result.report_at is not None:
        raise Refusal(REPORTED)
    body = str(text or "").strip()
    if not body or len(body) > MAX_REPORT:
        raise Refusal(NO_REPORT, input_name="report", max=MAX_REPORT)
    result.report_text, result.report_at, result.report_by = body, now, actor.user_id
    await outbox.withdraw(db, subject=subject_of(appraisal), kinds=["appraisal_report_due"], deputy_id=deputy.id)
    await record(db, tenant_id=actor.tenant_id, actor_user_id=actor.user_id, action="appraisal_report_filed",
                 target=f"appraisal:{appraisal.id}", client_addr=actor.client_addr,
                 details={"deputy_id": deputy.id, "late": is_late(appraisal, result, now.tzinfo), "on_paper": not own})
    return result


def on_paper(result: AppraisalResult, deputy: Deputy) -> bool:
    """A report not handed in by the deputy's own account was entered by staff from paper."""
    return result.report_at is not None and (result.report_by is None or result.report_by != deputy.user_id)


def is_late(appraisal: Appraisal, result: AppraisalResult, tz) -> bool:
    return bool(result.report_at and appraisal.report_due and result.report_at.astimezone(tz).date() > appraisal.report_due)


async def record_talk(db: AsyncSession, actor: Actor, appraisal: Appraisal, deputy: Deputy, *, day: str,
                      talked_by: str, agreed: str, today: date) -> AppraisalTalk:
    """A talk with a deputy in reach (the caller fetched the deputy through the scope)."""
    if actor.scope.role not in TALK_ROLES:
        raise Refusal(NO_TALK_RIGHTS, status=403)
    if appraisal.status != "published":
        raise Refusal(NOT_PUBLISHED)
    when = _day(day)
    if when is None or when > today or when.year < appraisal.year:
        raise Refusal(BAD_TALK_DAY, input_name="day")
    who = " ".join(str(talked_by or "").split())
    if not who or len(who) > MAX_TALKED_BY:
        raise Refusal(NO_TALKED_BY, input_name="talked_by", max=MAX_TALKED_BY)
    what = str(agreed or "").strip()
    if not what or len(what) > MAX_AGREED:
        raise Refusal(NO_AGREED, input_name="agreed", max=MAX_AGREED)
    talk = AppraisalTalk(tenant_id=actor.tenant_id, appraisal_id=appraisal.id, deputy_id=deputy.id, day=when,
                         talked_by=who, agreed=what, recorded_by=actor.user_id)
    db.add(talk)
    await db.flush()
    await record(db, tenant_id=actor.tenant_id, actor_user_id=actor.user_id, action="appraisal_talk_recorded",
                 target=f"appraisal:{appraisal.id}", client_addr=actor.client_addr,
                 details={"deputy_id": deputy.id, "day": when.isoformat()})
    return talk
