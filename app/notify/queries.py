"""Reading notifications: the member's inbox (and their own read marks), the header's unread count,
the tenant's delivery log with its filters, the failed-messages figures and this month's SMS.

Every statement runs in a session bound to the tenant (RLS); the inbox adds ``inbox_filter``.
Each page costs a fixed number of queries, whatever the number of rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, DateTime, and_, bindparam, case, func, select, update
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.core.db import MAX_ID, bound_tenant
from app.core.i18n import lazy
from app.core.security import mask_mobile
from app.deputies.models import Deputy
from app.notify.models import CHANNELS, STATUSES, Delivery, Outbox
from app.notify.settle import UNKNOWN_AFTER
from app.notify.sweep import TELL_AFTER_ATTEMPTS
from app.notify.texts import KINDS

INBOX_PAGE = 30
LOG_PAGE = 50
FAILED_WARNING_DAYS = 7
STUCK_AFTER = timedelta(minutes=3)
# A check normally ends within UNKNOWN_AFTER (then the row is `unknown`): longer means nobody asks.
CHECKING_LONG = UNKNOWN_AFTER + STUCK_AFTER
MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


# --- the inbox ------------------------------------------------------------------------------------


def inbox_filter(user_id: int) -> ColumnElement[bool]:
    """The one filter of a member's inbox: their in-app messages that have been delivered."""
    return and_(Outbox.user_id == user_id, Outbox.channel == "inapp", Outbox.status == "sent")


# Built once: every tenant page's header runs it (issue 20), so a request pays only the execution.
_UNREAD = select(func.count()).select_from(Outbox).where(
    Outbox.tenant_id == bindparam("tenant_id"), inbox_filter(bindparam("user_id")),  # type: ignore[arg-type]
    Outbox.read_at.is_(None))


def header_unread() -> ColumnElement[int]:
    """The same count as a scalar subquery for the membership statement of every whole tenant page
    (app.tenancy.access.membership_guard): its ``:tenant_id`` and ``:user_id``, the tenant named as well
    as bound (the partial index outbox_unread leads with it)."""
    return _UNREAD.scalar_subquery()


async def unread_count(db: AsyncSession, user_id: int) -> int:
    """The header's figure: one count on the partial index outbox_unread."""
    return await db.scalar(_UNREAD, {"tenant_id": bound_tenant(db), "user_id": user_id}) or 0


# --- rows staff should see within minutes ----------------------------------------------------------

# The flags of the county's home and the delivery log's "needs attention" filter, in the order shown.
TROUBLE = ("unknown", "stuck", "checking_long", "retrying", "failed_lately")
TROUBLE_STATUSES = ("unknown", "sending", "checking", "pending", "failed")  # every flag is one of these
TROUBLE_NAMES = {
    "unknown": lazy("Outcome unknown: staff to decide"),
    "stuck": lazy("Stuck while being sent"),
    "checking_long": lazy("Checked with the provider for long"),
    "retrying": lazy("Failing again and again, still retried"),
    "failed_lately": lazy("Failed in the last days"),
}


def _current_attempt(*where) -> ColumnElement[bool]:
    # the tenant named as well as correlated: Citus prunes shards on a value, not through a correlation
    return select(Delivery.id).where(Delivery.tenant_id == bindparam("tenant_id"),
                                     Delivery.tenant_id == Outbox.tenant_id, Delivery.outbox_id == Outbox.id,
                                     *where).exists()


def trouble_where(flag: str, now: datetime) -> ColumnElement[bool]:
    """The rows a flag counts at ``now``: waiting for a staff decision; claimed over STUCK_AFTER ago and
    still `sending`; `checking` for over CHECKING_LONG since the attempt began; waiting to be tried
    again after TELL_AFTER_ATTEMPTS or more attempts, the last of which failed; failed, with an attempt
    in the last FAILED_WARNING_DAYS."""
    if flag == "unknown":
        return Outbox.status == "unknown"
    if flag == "stuck":
        return and_(Outbox.status == "sending", Outbox.claimed_at < stuck_since(now))
    if flag == "checking_long":
        return and_(Outbox.status == "checking", _current_attempt(
            Delivery.attempt == Outbox.attempts, Delivery.started_at < now - CHECKING_LONG))
    if flag == "retrying":
        return and_(Outbox.status == "pending", Outbox.attempts >= TELL_AFTER_ATTEMPTS, _current_attempt(
            Delivery.attempt == Outbox.attempts, Delivery.result == "retry"))
    assert flag == "failed_lately", flag
    return and_(Outbox.status == "failed", _current_attempt(Delivery.started_at >= failed_warning_since(now)))


@dataclass
class Trouble:
    """How many rows each flag counts (TROUBLE)."""
    unknown: int = 0
    stuck: int = 0
    checking_long: int = 0
    retrying: int = 0
    failed_lately: int = 0

    def shown(self) -> list[tuple[str, int]]:
        return [(flag, getattr(self, flag)) for flag in TROUBLE if getattr(self, flag)]


def trouble_counts(shown_to: ColumnElement[bool]) -> ColumnElement:
    """Every flag's count (TROUBLE's order) at ``:now`` in the ``:tenant_id``'s messages, as one array
    read only where ``shown_to`` holds (else null): the home page's figures, read with the membership
    (app.tenancy.access ``membership_figures``) for a role that sees the delivery log. One grouped count
    over the rows in TROUBLE_STATUSES."""
    now = bindparam("now", type_=DateTime(timezone=True))
    counts = (select(array([func.count().filter(trouble_where(flag, now)) for flag in TROUBLE]))
              .select_from(Outbox).where(Outbox.tenant_id == bindparam("tenant_id"),
                                         Outbox.status.in_(TROUBLE_STATUSES)))
    return case((shown_to, counts.scalar_subquery()))


def trouble_of(counts: list | None) -> Trouble | None:
    """The flags from ``trouble_counts``' array (None: the role does not see them)."""
    return None if counts is None else Trouble(*(int(n or 0) for n in counts))


@dataclass
class InboxPage:
    messages: list[Outbox]
    older: int | None  # the id to continue before, None on the last page
    unread: int


async def inbox_page(db: AsyncSession, user_id: int, before: int | None, limit: int = INBOX_PAGE) -> InboxPage:
    """The member's messages, newest first (keyset by id on the index outbox_inbox)."""
    query = select(Outbox).where(inbox_filter(user_id)).order_by(Outbox.id.desc()).limit(limit + 1)
    if before is not None and 0 < before <= MAX_ID:
        query = query.where(Outbox.id < before)
    rows = list((await db.scalars(query)).all())
    older = rows[limit - 1].id if len(rows) > limit else None
    return InboxPage(rows[:limit], older, await unread_count(db, user_id))


async def mark_read(db: AsyncSession, message: Outbox, now: datetime | None = None) -> None:
    """The member's own mark (fetched through ``access.my_message``); no audit: it changes nothing
    anyone else sees."""
    if message.read_at is None:
        message.read_at = now or datetime.now(timezone.utc)
        await db.flush()


async def mark_all_read(db: AsyncSession, user_id: int, now: datetime | None = None) -> int:
    result = await db.execute(
        update(Outbox).where(inbox_filter(user_id), Outbox.read_at.is_(None))
        .values(read_at=now or datetime.now(timezone.utc)).execution_options(synchronize_session=False))
    return result.rowcount or 0


# --- the delivery log -----------------------------------------------------------------------------


def _month(value) -> str | None:
    text = str(value or "").strip()
    return text if MONTH_RE.match(text) else None


def _id(value) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and 0 < int(text) <= MAX_ID else None


@dataclass
class LogFilter:
    """The log's filters, read from the address; anything malformed is ignored."""
    status: str | None = None
    channel: str | None = None
    kind: str | None = None
    month: str | None = None  # YYYY-MM, by the time the message was (or is) due, in the tenant's zone
    before: int | None = None
    flag: str | None = None  # one of TROUBLE: rows that need attention

    @classmethod
    def read(cls, params) -> "LogFilter":
        get = params.get
        return cls(status=get("status") if get("status") in STATUSES else None,
                   channel=get("channel") if get("channel") in CHANNELS else None,
                   kind=get("kind") if get("kind") in KINDS else None, month=_month(get("month")),
                   before=_id(get("before")), flag=get("flag") if get("flag") in TROUBLE else None)

    def params(self, **change) -> dict:
        values = {"status": self.status, "channel": self.channel, "kind": self.kind, "month": self.month,
                  "flag": self.flag, "before": self.before, **change}
        return {k: v for k, v in values.items() if v not in (None, "")}

    def where(self, tz: ZoneInfo, now: datetime | None = None) -> list:
        out = [trouble_where(self.flag, now or datetime.now(timezone.utc))] if self.flag else []
        if self.status:
            out.append(Outbox.status == self.status)
        if self.channel:
            out.append(Outbox.channel == self.channel)
        if self.kind:
            out.append(Outbox.kind == self.kind)
        if self.month:
            start, end = month_bounds(self.month, tz)
            out += [Outbox.due_at >= start, Outbox.due_at < end]
        return out


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    year, number = (int(x) for x in month.split("-"))
    first = date(year, number, 1)
    following = date(year + number // 12, number % 12 + 1, 1)
    return datetime.combine(first, time.min, tzinfo=tz), datetime.combine(following, time.min, tzinfo=tz)


def recent_months(today: date, n: int = 13) -> list[str]:
    """The month filter's choices: this month and the ``n - 1`` before it, newest first."""
    out, year, month = [], today.year, today.month
    for _ in range(n):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out


def mask_email(address: str | None) -> str:
    if not address or "@" not in address:
        return mask_mobile(address)
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def masked_address(row: Outbox) -> str:
    return mask_email(row.address) if row.channel == "email" else mask_mobile(row.address)


@dataclass
class LogLine:
    row: Outbox
    recipient: str  # the member's or deputy's name; empty for a person known by a number only
    address: str  # masked mobile or e-mail; empty for in-app


@dataclass
class LogPage:
    lines: list[LogLine] = field(default_factory=list)
    older: int | None = None


async def log_page(db: AsyncSession, f: LogFilter, tz: ZoneInfo, limit: int = LOG_PAGE,
                   now: datetime | None = None) -> LogPage:
    """Newest written first (keyset by id), with the recipients' names: one query."""
    query = (
        select(Outbox, User.display_name, Deputy.name)
        .outerjoin(User, User.id == Outbox.user_id)
        .outerjoin(Deputy, and_(Deputy.tenant_id == Outbox.tenant_id, Deputy.id == Outbox.deputy_id))
        .where(*f.where(tz, now)).order_by(Outbox.id.desc()).limit(limit + 1)
    )
    if f.before is not None:
        query = query.where(Outbox.id < f.before)
    rows = (await db.execute(query, {"tenant_id": bound_tenant(db)})).all()
    lines = [LogLine(row, deputy or member or "", masked_address(row) if row.address else "")
             for row, member, deputy in rows[:limit]]
    return LogPage(lines, rows[limit - 1][0].id if len(rows) > limit else None)


async def failed_count(db: AsyncSession) -> int:
    return await db.scalar(select(func.count()).select_from(Outbox).where(Outbox.status == "failed")) or 0


def stuck_since(now: datetime) -> datetime:
    """A row claimed before this and still `sending` is stuck (a pass ends within about a minute)."""
    return now - STUCK_AFTER


@dataclass
class Attention:
    """Rows staff should know of: outcome unknown (being asked / waiting for a decision), stuck."""
    checking: int = 0
    unknown: int = 0
    stuck: int = 0


async def attention(db: AsyncSession, now: datetime) -> Attention:
    """One statement (the partial index outbox_due covers `sending`, outbox_checking `checking`)."""
    def count(*where):
        return select(func.count()).select_from(Outbox).where(*where).scalar_subquery()

    row = (await db.execute(select(
        count(Outbox.status == "checking"), count(Outbox.status == "unknown"),
        count(Outbox.status == "sending", Outbox.claimed_at < stuck_since(now))))).one()
    return Attention(*(int(n or 0) for n in row))


def failed_warning_since(now: datetime) -> datetime:
    return now - timedelta(days=FAILED_WARNING_DAYS)


# --- SMS this month -------------------------------------------------------------------------------


def month_start(now: datetime, tz: ZoneInfo) -> datetime:
    local = now.astimezone(tz)
    return datetime.combine(local.date().replace(day=1), time.min, tzinfo=tz)


async def sms_this_month(db: AsyncSession, tz: ZoneInfo, now: datetime | None = None) -> int:
    """SMS attempts sent or being sent since the first of the month in the tenant's zone (the count the
    quota is checked against; the operator's figure reads the same through platform_sms_since)."""
    since = month_start(now or datetime.now(timezone.utc), tz)
    return await db.scalar(select(func.count()).select_from(Delivery).where(
        Delivery.channel == "sms", Delivery.started_at >= since, Delivery.result.in_(("sending", "sent")))) or 0
