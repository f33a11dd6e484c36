"""Messages about a case, written into the outbox (app.notify.outbox) in the transaction of the step that
causes them (subject "case:<id>"), and the daily scans the worker runs (app.jobs.scheduled).

To the person who raised it, by SMS, when they gave a mobile and the county tells people
(`notify_case_person`): the receipt code with the lookup link at registration (`case_receipt`), the
answer when it is fed back (`case_answer`), and a day later, at 09:00 local, the satisfaction request
(`case_satisfaction`), withdrawn if the case is rated (by staff or by the person) before it goes. The
answer and the request carry a new rating code (`{rating}`, app.cases.codes): the person's proof on
the public rating page, which staff never see.

Staff's messages name a case by its receipt code, except a handling unit's (`case_due_soon`): the unit
sees no receipt code (it could rate in the person's name with it), so it gets the case number.

To staff, from the daily scan: `case_due_soon` to the handling unit's users when the reply is due within
`case_due_soon_days` (once per case and reply date), and `case_overdue` (督办) to the supervising
staff — county admins for county matters, the township staff whose subtree holds the case's place for
township matters — once per case and due date, when `notify_case_overdue`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import String, and_, any_, literal, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Membership
from app.cases.codes import group_code, issue_rating_code
from app.cases.models import OPEN_WITH_UNIT, Case, CaseCategory
from app.tenancy.models import AdminNode, HandlingUnit, Tenant
from app.notify import links, outbox
from app.notify.config import NotifySettings, notify_settings
from app.notify.models import Outbox

NINE = time(9)
OPEN_KINDS = ("case_satisfaction", "case_due_soon", "case_overdue")


def subject(case_id: int) -> str:
    return f"case:{case_id}"


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(timezone.utc)


async def _slug(db: AsyncSession, tenant_id: int) -> str:
    return await db.scalar(select(Tenant.slug).where(Tenant.id == tenant_id)) or ""


def case_number(case_id: int) -> str:
    """How a case is named where its receipt code must not be shown (a handling unit's messages)."""
    return f"#{case_id}"


# --- to the person ----------------------------------------------------------------------------------

async def _person_config(db: AsyncSession, case: Case) -> NotifySettings | None:
    if not case.person_mobile:
        return None
    config = await notify_settings(db, case.tenant_id)
    return config if config.notify_case_person else None


async def registered(db: AsyncSession, case: Case, *, now: datetime | None = None) -> int:
    """The receipt SMS (code and lookup link), due now."""
    config = await _person_config(db, case)
    if config is None:
        return 0
    now = _now(now)
    params = {"code": case.receipt_code,
              "link": await links.case_lookup(db, case.tenant_id, await _slug(db, case.tenant_id), now=now)}
    return await outbox.notify(db, tenant_id=case.tenant_id, kind="case_receipt", subject=subject(case.id),
                               recipients=[outbox.person(case.person_mobile, case.person_name)], due_at=now,
                               params=params, now=now, config=config)


async def receipt_by_sms(db: AsyncSession, case: Case) -> bool:
    """Is the receipt code on its way by SMS (the public receipt page says so)?"""
    if not case.person_mobile:  # it goes to the person's mobile only
        return False
    return bool(await db.scalar(select(Outbox.id).where(
        Outbox.subject == subject(case.id), Outbox.kind == "case_receipt", Outbox.channel == "sms").limit(1)))


async def fed_back(db: AsyncSession, case: Case, *, now: datetime | None = None) -> int:
    """The answer by SMS now, and the satisfaction request at 09:00 local the day after."""
    config = await _person_config(db, case)
    if config is None:
        return 0
    now = _now(now)
    who = [outbox.person(case.person_mobile, case.person_name)]
    # The answer itself is on the lookup page: an SMS variable holds 35 characters, no free text.
    params = {"code": case.receipt_code,
              "link": await links.case_lookup(db, case.tenant_id, await _slug(db, case.tenant_id), now=now),
              "rating": group_code(await issue_rating_code(db, case, "sms"))}
    common = dict(tenant_id=case.tenant_id, subject=subject(case.id), recipients=who, now=now, config=config)
    written = await outbox.notify(db, kind="case_answer", due_at=now, params=params, **common)
    tomorrow = now.astimezone(config.tz).date() + timedelta(days=1)
    written += await outbox.notify(db, kind="case_satisfaction", due_at=datetime.combine(tomorrow, NINE, config.tz),
                                   params=params, **common)
    return written


async def finished(db: AsyncSession, case: Case) -> int:
    """Closed (rated by staff or by the person, answered on the spot), merged, forwarded or turned into a
    suggestion: a satisfaction request not yet sent and pending staff notices are withdrawn (the receipt
    and the answer stay: they are the person's record)."""
    return await outbox.withdraw(db, subject=subject(case.id), kinds=OPEN_KINDS)


# --- the daily scans ------------------------------------------------------------------------------------

def _nine(day: date, config: NotifySettings) -> datetime:
    return datetime.combine(day, NINE, config.tz)


async def _already(db: AsyncSession, kind: str, subjects: list[str]) -> set[tuple[str, datetime]]:
    """(subject, due_at) of the rows of this kind already written for these subjects: one query, so an
    hourly run writes nothing twice and costs little."""
    if not subjects:
        return set()
    wanted = literal(subjects, ARRAY(String))  # one array parameter, however many cases
    rows = await db.execute(select(Outbox.subject, Outbox.due_at).distinct()
                            .where(Outbox.kind == kind, Outbox.subject == any_(wanted)))
    return {(s, d) for s, d in rows}


async def _send(db: AsyncSession, config: NotifySettings, kind: str, items, recipients_of, now: datetime,
                slug: str) -> int:
    """items: (case, due_at, params); recipients_of(case) → recipients. Skips rows already written;
    the others get the short link of the case's page."""
    done = await _already(db, kind, [subject(c.id) for c, _, _ in items])
    written = 0
    for case, due_at, params in items:
        if (subject(case.id), due_at) in done:
            continue
        params = {**params, "link": await links.case_page(db, config.tenant_id, slug, case.id, now=now)}
        written += await outbox.notify(db, tenant_id=config.tenant_id, kind=kind, subject=subject(case.id),
                                       recipients=recipients_of(case), due_at=due_at, params=params,
                                       now=now, config=config)
    return written


async def due_soon(db: AsyncSession, config: NotifySettings, *, slug: str, now: datetime) -> int:
    """`case_due_soon` to the unit's users: reply due from today to today + case_due_soon_days; due at
    09:00 on the day the window opens (a stable time: once per case and reply date)."""
    days = config.case_due_soon_days
    if days <= 0:
        return 0
    today = now.astimezone(config.tz).date()
    rows = (await db.execute(
        select(Case, CaseCategory.name)
        .outerjoin(CaseCategory, and_(CaseCategory.tenant_id == Case.tenant_id, CaseCategory.id == Case.category_id))
        .where(Case.state.in_(OPEN_WITH_UNIT), Case.handling_unit_id.is_not(None),
               Case.reply_due >= today, Case.reply_due <= today + timedelta(days=days))
    )).all()
    if not rows:
        return 0
    units: dict[int, list[int]] = defaultdict(list)
    for unit_id, user_id in await db.execute(select(Membership.handling_unit_id, Membership.user_id).where(
            Membership.tenant_id == config.tenant_id, Membership.role == "handling_unit",
            Membership.revoked_at.is_(None), Membership.handling_unit_id.in_({c.handling_unit_id for c, _ in rows}))):
        units[unit_id].append(user_id)
    people = {r.user_id: r for r in await outbox.members(db, config.tenant_id, {u for v in units.values() for u in v},
                                                          config=config)}
    items = [(c, _nine(c.reply_due - timedelta(days=days), config),
              {"code": case_number(c.id), "category": category or "—", "due": c.reply_due.isoformat()})
             for c, category in rows]
    return await _send(db, config, "case_due_soon", items,
                       lambda c: [people[u] for u in units.get(c.handling_unit_id, []) if u in people], now, slug)


def _overdue_since(case: Case, today: date) -> date | None:
    """The date the case became overdue on (the due date it missed), or None."""
    if case.state in OPEN_WITH_UNIT and case.reply_due is not None and case.reply_due < today:
        return case.reply_due
    if case.state == "replied" and case.feedback_due is not None and case.feedback_due < today:
        return case.feedback_due
    return None


async def _supervisors(db: AsyncSession, config: NotifySettings) -> tuple[list[int], list[tuple[str, int]]]:
    """(county admins' user ids, [(township staff's subtree path, user id)]): one query."""
    admins, township = [], []
    rows = await db.execute(
        select(Membership.role, Membership.user_id, AdminNode.path)
        .outerjoin(AdminNode, and_(AdminNode.tenant_id == Membership.tenant_id,
                                   AdminNode.id == Membership.scope_node_id))
        .where(Membership.tenant_id == config.tenant_id, Membership.revoked_at.is_(None),
               Membership.role.in_(("county_admin", "township_staff"))))
    for role, user_id, path in rows:
        if role == "county_admin":
            admins.append(user_id)
        elif path:
            township.append((path, user_id))
    return admins, township


async def overdue(db: AsyncSession, config: NotifySettings, *, slug: str, now: datetime) -> int:
    """`case_overdue` (督办) to the supervising staff, due at 09:00 the day after the missed date.
    A township matter nobody's subtree covers goes to the county admins."""
    if not config.notify_case_overdue:
        return 0
    today = now.astimezone(config.tz).date()
    rows = (await db.execute(
        select(Case, HandlingUnit.name, AdminNode.path)
        .outerjoin(HandlingUnit, and_(HandlingUnit.tenant_id == Case.tenant_id, HandlingUnit.id == Case.handling_unit_id))
        .outerjoin(AdminNode, and_(AdminNode.tenant_id == Case.tenant_id, AdminNode.id == Case.node_id))
        .where(or_(and_(Case.state.in_(OPEN_WITH_UNIT), Case.reply_due < today),
                   and_(Case.state == "replied", Case.feedback_due < today)))
    )).all()
    if not rows:
        return 0
    admins, township = await _supervisors(db, config)
    people = {r.user_id: r for r in await outbox.members(db, config.tenant_id, admins + [u for _, u in township],
                                                          config=config)}
    paths = {c.id: path or "" for c, _, path in rows}

    def supervisors(case: Case) -> list:
        ids = [] if case.level == "county" else [u for p, u in township if paths[case.id].startswith(p)]
        ids = ids or admins
        return [people[u] for u in dict.fromkeys(ids) if u in people]

    items = []
    for c, unit, _ in rows:
        since = _overdue_since(c, today)
        if since is not None:
            items.append((c, _nine(since + timedelta(days=1), config),
                          {"code": c.receipt_code, "unit": unit or "", "due": since.isoformat()}))
    return await _send(db, config, "case_overdue", items, supervisors, now, slug)
