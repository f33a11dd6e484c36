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

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User
from app.core.db import MAX_ID
from app.core.security import mask_mobile
from app.deputies.models import Deputy
from app.notify.models import CHANNELS, STATUSES, Delivery, Outbox
from app.notify.texts import KINDS

INBOX_PAGE = 30
LOG_PAGE = 50
FAILED_WARNING_DAYS = 7
MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


# --- the inbox ------------------------------------------------------------------------------------


def inbox_filter(user_id: int) -> ColumnElement[bool]:
    """The one filter of a member's inbox: their in-app messages that have been delivered."""
    return and_(Outbox.user_id == user_id, Outbox.channel == "inapp", Outbox.status == "sent")


async def unread_count(db: AsyncSession, user_id: int) -> int:
    """The header's figure: one count on the partial index outbox_unread."""
    return await db.scalar(
        select(func.count()).select_from(Outbox).where(inbox_filter(user_id), Outbox.read_at.is_(None))) or 0


async def home_counts(db: AsyncSession, user_id: int, *, failed_since: datetime | None) -> tuple[int, int]:
    """The home page's unread count and (for county admins: ``failed_since`` given) the failed messages
    last attempted since then, in one statement."""
    unread = select(func.count()).select_from(Outbox).where(inbox_filter(user_id), Outbox.read_at.is_(None))
    if failed_since is None:
        return (await db.scalar(unread) or 0), 0
    lately = select(Delivery.id).where(Delivery.outbox_id == Outbox.id, Delivery.started_at >= failed_since)
    failed = select(func.count()).select_from(Outbox).where(Outbox.status == "failed", lately.exists())
    row = (await db.execute(select(unread.scalar_subquery(), failed.scalar_subquery()))).one()
    return int(row[0] or 0), int(row[1] or 0)


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

    @classmethod
    def read(cls, params) -> "LogFilter":
        get = params.get
        return cls(status=get("status") if get("status") in STATUSES else None,
                   channel=get("channel") if get("channel") in CHANNELS else None,
                   kind=get("kind") if get("kind") in KINDS else None, month=_month(get("month")),
                   before=_id(get("before")))

    def params(self, **change) -> dict:
        values = {"status": self.status, "channel": self.channel, "kind": self.kind, "month": self.month,
                  "before": self.before, **change}
        return {k: v for k, v in values.items() if v not in (None, "")}

    def where(self, tz: ZoneInfo) -> list:
        out = []
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


async def log_page(db: AsyncSession, f: LogFilter, tz: ZoneInfo, limit: int = LOG_PAGE) -> LogPage:
    """Newest written first (keyset by id), with the recipients' names: one query."""
    query = (
        select(Outbox, User.display_name, Deputy.name)
        .outerjoin(User, User.id == Outbox.user_id)
        .outerjoin(Deputy, and_(Deputy.tenant_id == Outbox.tenant_id, Deputy.id == Outbox.deputy_id))
        .where(*f.where(tz)).order_by(Outbox.id.desc()).limit(limit + 1)
    )
    if f.before is not None:
        query = query.where(Outbox.id < f.before)
    rows = (await db.execute(query)).all()
    lines = [LogLine(row, deputy or member or "", masked_address(row) if row.address else "")
             for row, member, deputy in rows[:limit]]
    return LogPage(lines, rows[limit - 1][0].id if len(rows) > limit else None)


async def failed_count(db: AsyncSession) -> int:
    return await db.scalar(select(func.count()).select_from(Outbox).where(Outbox.status == "failed")) or 0


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
