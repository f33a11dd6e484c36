"""Writing reminders and notifications: producers call `notify` inside the transaction of the change
that causes them, and `withdraw` when the cause goes away. Nothing here sends: the worker's sweep
(app.notify.sweep) does, at each row's due time.

A recipient is a member (user), a deputy (whose mobile gets SMS even without an account), or a person
who gave a mobile number (a case). Channels: the kind's channels, narrowed by what the recipient
accepts (a member's choice plus what the county requires); in-app needs an account, SMS a mobile,
e-mail an address.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import and_, literal_column, null, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Membership, User
from app.deputies.models import Deputy
from app.notify.config import NotifySettings, notify_settings
from app.notify.models import Outbox
from app.notify.sms_templates import template_params
from app.notify.texts import KINDS, render, render_sms


@dataclass(frozen=True)
class Recipient:
    user_id: int | None = None
    deputy_id: int | None = None
    name: str = ""
    mobile: str | None = None
    email: str | None = None
    accepts: frozenset[str] = field(default_factory=frozenset)  # besides in-app
    locale: str | None = None

    @property
    def key(self) -> str:
        if self.user_id:
            return f"u{self.user_id}"
        if self.deputy_id:
            return f"d{self.deputy_id}"
        return "p" + hashlib.sha256((self.mobile or self.email or "").encode()).hexdigest()[:16]


def person(mobile: str | None, name: str = "") -> Recipient:
    """Someone outside the product who gave a mobile number (a case's person): SMS only."""
    return Recipient(name=name, mobile=mobile, accepts=frozenset({"sms"}))


async def _required(db: AsyncSession, tenant_id: int, config: NotifySettings | None) -> set[str]:
    if config is None:
        config = await notify_settings(db, tenant_id)
    return set(config.required_channels)


async def members(db: AsyncSession, tenant_id: int, user_ids, *, config: NotifySettings | None = None) -> list[Recipient]:
    """Active members of the tenant among `user_ids` (others are left out: a revoked member gets nothing)."""
    ids = sorted({int(u) for u in user_ids if u})
    if not ids:
        return []
    required = await _required(db, tenant_id, config)
    rows = (await db.execute(
        select(User, Membership.channels)
        .join(Membership, and_(Membership.user_id == User.id, Membership.tenant_id == tenant_id,
                               Membership.revoked_at.is_(None)))
        .where(User.id.in_(ids), User.disabled_at.is_(None))
    )).all()
    seen: dict[int, Recipient] = {}
    for user, channels in rows:
        accepts = frozenset(set(channels or []) | required) | seen.get(user.id, Recipient()).accepts
        seen[user.id] = Recipient(user_id=user.id, name=user.display_name, mobile=user.mobile, email=user.email,
                                  accepts=accepts, locale=user.locale)
    return [seen[i] for i in ids if i in seen]


async def deputies(db: AsyncSession, tenant_id: int, deputy_ids, *, config: NotifySettings | None = None) -> list[Recipient]:
    """Deputies: a deputy with an account is reached as that member (and by the deputy's mobile if the
    account has none); one without an account by SMS to the mobile on the deputy's record."""
    ids = sorted({int(d) for d in deputy_ids if d})
    if not ids:
        return []
    found = (await db.execute(select(Deputy.id, Deputy.name, Deputy.mobile, Deputy.user_id).where(Deputy.id.in_(ids)))).all()
    accounts = {r.user_id: r for r in await members(db, tenant_id, [d.user_id for d in found], config=config)}
    out = []
    for deputy_id, name, mobile, user_id in found:
        member = accounts.get(user_id)
        if member:
            out.append(Recipient(user_id=member.user_id, deputy_id=deputy_id, name=name,
                                 mobile=member.mobile or mobile, email=member.email, accepts=member.accepts,
                                 locale=member.locale))
        else:
            out.append(Recipient(deputy_id=deputy_id, name=name, mobile=mobile, accepts=frozenset({"sms"})))
    return out


def channels_for(kind: str, r: Recipient) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for channel in KINDS[kind].channels:
        if channel == "inapp" and r.user_id:
            out.append(("inapp", None))
        elif channel == "sms" and r.mobile and "sms" in r.accepts:
            out.append(("sms", r.mobile))
        elif channel == "email" and r.email and "email" in r.accepts:
            out.append(("email", r.email))
    return out


def dedupe_key(kind: str, subject: str, recipient: Recipient, channel: str, due_at: datetime) -> str:
    return f"{kind}:{subject}:{recipient.key}:{channel}:{due_at.astimezone(timezone.utc):%Y%m%dT%H%M}"


def message_params(kind: str, params: dict, recipient: Recipient) -> dict:
    """What the row keeps as its params: for a kind that may go by SMS exactly its template's variables,
    short as the provider wants them (the sweep sends them as TemplateParam), `{name}` the recipient's."""
    values = {**params, "name": recipient.name}
    return template_params(kind, values) if "sms" in KINDS[kind].channels else values


def _upsert():
    """The outbox insert, built once: SQLAlchemy caches its compiled form, and the rows go as
    parameters (asyncpg allows 32,767 arguments a statement; SQLAlchemy sends 1,000 rows a batch)."""
    stmt = insert(Outbox.__table__)  # Core: the ORM's bulk insert would split the rows by which are NULL
    return stmt.on_conflict_do_update(
        index_elements=[Outbox.tenant_id, Outbox.dedupe_key],
        set_={"status": stmt.excluded.status, "sent_at": stmt.excluded.sent_at, "body": stmt.excluded.body,
              "params": stmt.excluded.params, "next_attempt_at": stmt.excluded.next_attempt_at,
              # SQL constants, not parameters: a parameter here makes SQLAlchemy send the rows one by one
              "attempts": literal_column("0"), "last_error": null(), "claimed_at": null()},
        where=Outbox.status == "withdrawn",
    ).returning(Outbox.id)


UPSERT = _upsert()


async def notify(db: AsyncSession, *, tenant_id: int, kind: str, subject: str, recipients, due_at: datetime,
                 params: dict | Callable[[Recipient], dict], now: datetime | None = None,
                 config: NotifySettings | None = None) -> int:
    """Write one outbox row per recipient and channel (in the caller's transaction). A row with the same
    dedupe key is left as it is, unless it was withdrawn (then it is pending again): running a producer
    twice writes nothing new. `{name}` in a text is the recipient's name. An SMS row's body is the
    registered template's text with its params; other channels read the county's own wording.
    ``params`` is the same for everyone, or a function giving each recipient their own (their points,
    their rank: one call for a whole county). Returns the rows written."""
    if kind not in KINDS:
        raise ValueError(f"unknown message kind {kind}")
    recipients = list(recipients)
    if not recipients:
        return 0
    if config is None:
        config = await notify_settings(db, tenant_id)
    texts = config.message_texts
    now = now or datetime.now(timezone.utc)
    rows = []
    for r in recipients:
        values = message_params(kind, params(r) if callable(params) else params, r)
        body = render(kind, values, locale=r.locale, county_texts=texts)
        for channel, address in channels_for(kind, r):
            # In-app messages due now need no worker: they are in the inbox at once.
            at_once = channel == "inapp" and due_at <= now
            rows.append(dict(
                tenant_id=tenant_id, dedupe_key=dedupe_key(kind, subject, r, channel, due_at), kind=kind,
                channel=channel, subject=subject, user_id=r.user_id, deputy_id=r.deputy_id, address=address,
                params=values, body=render_sms(kind, values) if channel == "sms" else body, due_at=due_at,
                next_attempt_at=due_at, status="sent" if at_once else "pending", sent_at=now if at_once else None,
            ))
    if not rows:
        return 0
    return len((await db.execute(UPSERT, rows)).all())


async def withdraw(db: AsyncSession, *, subject: str, kinds=None, deputy_id: int | None = None,
                   user_id: int | None = None, due_after: datetime | None = None) -> int:
    """Pending rows of `subject` (optionally only some kinds, one deputy's or member's, or only those
    due after a moment) are withdrawn, in the caller's transaction. Rows already sent or being sent
    are history and stay."""
    stmt = update(Outbox).where(Outbox.subject == subject, Outbox.status == "pending")
    if due_after is not None:
        stmt = stmt.where(Outbox.due_at > due_after)
    if kinds:
        stmt = stmt.where(Outbox.kind.in_(list(kinds)))
    if deputy_id is not None:
        stmt = stmt.where(Outbox.deputy_id == deputy_id)
    if user_id is not None:
        stmt = stmt.where(Outbox.user_id == user_id)
    result = await db.execute(stmt.values(status="withdrawn", last_error=None).execution_options(synchronize_session=False))
    return result.rowcount


async def pending(db: AsyncSession, subject: str) -> list[Outbox]:
    return list((await db.scalars(
        select(Outbox).where(Outbox.subject == subject, Outbox.status == "pending").order_by(Outbox.due_at, Outbox.id)
    )).all())
