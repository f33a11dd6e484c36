"""The sweep: deliver what the outbox holds when it falls due (the worker runs it every 10 seconds).

For each tenant with due rows (`outbox_due_tenants`; a few tenants at a time), in a constant number
of statements:
1. claim (one transaction bound to the tenant): up to `batch` rows that are pending and due, or
   `sending` but claimed longer than `stale_after` ago by a worker that died, `FOR UPDATE SKIP LOCKED`
   (so two workers never take the same row). During the tenant's quiet hours SMS are not claimed: the
   pending ones are moved to the end of the quiet hours. SMS beyond the month's quota are `skipped`,
   the recipient gets the message in the inbox instead, and the county admins are told once a month.
   Claimed rows become `sending` (attempt + 1; a reclaimed row keeps its attempt) and the attempt is
   recorded in `deliveries` before anything is sent: (outbox row, attempt) is the send's unique key.
2. send, outside any transaction, a few at a time. The reference passed to the provider is
   "<tenant>-<outbox id>", the same for every attempt, so a resend after a crash is the same message.
3. record (one transaction): sent; or pending again after a backoff (transient errors, up to
   MAX_ATTEMPTS); or failed at once (permanent errors). The county admins get an in-app
   `delivery_failed` for each failed row.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, case, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Membership
from app.core.db import Database
from app.core.i18n import DEFAULT_LOCALE, LOCALES, catalogue
from app.core.logs import log_tenant
from app.core.security import mask_mobile
from app.notify import outbox
from app.notify.config import NotifySettings, notify_settings
from app.notify.mail import Mailer
from app.notify.models import CHANNEL_NAMES, Delivery, Outbox
from app.notify.sms import HttpSmsProvider, PermanentSendError, SmsProvider, TransientSendError, UnconfiguredSms
from app.notify.texts import KINDS, render

log = logging.getLogger("lianluo.notify")

STALE_AFTER = timedelta(seconds=300)
MAX_ATTEMPTS = 5
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))
CONCURRENCY = 8  # sends under way at once per tenant (a real provider answers in tens of milliseconds)
TENANTS_AT_ONCE = 4  # tenants swept at the same time (each uses a connection for its claim and record)
SEND_LIMIT_SECONDS = 30  # a send that hangs longer than this is a transient failure


@dataclass
class Channels:
    sms: SmsProvider
    mail: Mailer | None = None
    templates: dict[str, str] = field(default_factory=dict)  # kind → the provider's template code

    def template(self, kind: str) -> str:
        return self.templates.get(kind) or f"LIANLUO_{kind.upper()}"

    async def aclose(self) -> None:
        for channel in (self.sms, self.mail):
            close = getattr(channel, "aclose", None)
            if close is not None:
                await close()


def channels_from_settings(settings) -> Channels:
    sms = (HttpSmsProvider(settings.sms_url, settings.sms_key_id, settings.sms_key_secret, settings.sms_sign)
           if settings.sms_url else UnconfiguredSms())
    mail = (Mailer(settings.smtp_host, settings.smtp_port, settings.smtp_from, settings.smtp_user,
                   settings.smtp_password, settings.smtp_starttls) if settings.smtp_host else None)
    return Channels(sms=sms, mail=mail, templates=dict(settings.sms_templates))


@dataclass(frozen=True)
class Claimed:
    id: int
    channel: str
    kind: str
    address: str | None
    params: dict
    body: str
    attempt: int
    claimed_at: datetime
    due_at: datetime


@dataclass(frozen=True)
class Outcome:
    row: Claimed
    result: str  # sent | retry | failed
    provider_id: str | None = None
    error: str | None = None
    next_at: datetime | None = None


def backoff(attempt: int) -> timedelta:
    return BACKOFF[min(max(attempt, 1), len(BACKOFF)) - 1]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


async def sweep(database: Database, *, now: datetime | None = None, channels: Channels | None = None,
                batch: int = 200, stale_after: timedelta = STALE_AFTER, tenant_ids=None) -> dict[str, int]:
    """One pass over every tenant with due rows (at most `batch` rows each). `now` fixes the clock
    (tests); else the real time. Returns counts of sent / retry / failed / skipped rows."""
    own = channels is None
    channels = channels or channels_from_settings(database.settings)
    counts: Counter = Counter(sent=0, retry=0, failed=0, skipped=0)
    tenants = asyncio.Semaphore(TENANTS_AT_ONCE)

    async def one(tenant_id: int) -> Counter:
        async with tenants:
            token = log_tenant.set(str(tenant_id))
            try:
                return await sweep_tenant(database, tenant_id, now=now, channels=channels, batch=batch,
                                          stale_after=stale_after)
            except Exception:  # one tenant's trouble must not hold up the others; its rows wait
                log.exception("sweep of tenant %s failed", tenant_id)
                return Counter()
            finally:
                log_tenant.reset(token)

    try:
        at = now or _utcnow()
        async with database.transaction() as db:
            due = list((await db.execute(text("SELECT tenant_id FROM outbox_due_tenants(:at, :stale)"),
                                         {"at": at, "stale": stale_after})).scalars())
        wanted = None if tenant_ids is None else {int(t) for t in tenant_ids}
        for result in await asyncio.gather(*(one(t) for t in due if wanted is None or t in wanted)):
            counts.update(result)
    finally:
        if own:
            await channels.aclose()
    return dict(counts)


async def sweep_tenant(database: Database, tenant_id: int, *, now: datetime | None, channels: Channels,
                       batch: int = 200, stale_after: timedelta = STALE_AFTER) -> Counter:
    claimed_at = now or _utcnow()
    config, rows, skipped = await _claim(database, tenant_id, claimed_at, batch, stale_after)
    counts: Counter = Counter(skipped=skipped)
    if not rows:
        return counts
    limit = asyncio.Semaphore(CONCURRENCY)  # per tenant: its claimed rows wait for nobody else's

    async def one(row: Claimed) -> Outcome:
        async with limit:
            return await _send(tenant_id, row, channels, now or _utcnow())

    outcomes = await asyncio.gather(*(one(r) for r in rows))
    applied = await _record(database, tenant_id, config, outcomes, now or _utcnow())
    counts.update(o.result for o in outcomes if o.row.id in applied)
    if counts["sent"] or counts["failed"] or counts["retry"]:
        log.info("tenant %s: sent %s, retry %s, failed %s, skipped %s", tenant_id, counts["sent"],
                 counts["retry"], counts["failed"], counts["skipped"])
    return counts


# --- 1. claim ---------------------------------------------------------------------------------------

def quiet_until(config: NotifySettings, now: datetime) -> datetime:
    """The end of the quiet hours that `now` falls in (local time of the tenant), in UTC."""
    local = now.astimezone(config.tz)
    end = local.replace(hour=config.quiet_end, minute=0, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(timezone.utc)


def month_start(config: NotifySettings, now: datetime) -> datetime:
    local = now.astimezone(config.tz)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(timezone.utc)


async def _claim(database: Database, tenant_id: int, now: datetime, batch: int,
                 stale_after: timedelta) -> tuple[NotifySettings, list[Claimed], int]:
    async with database.transaction(tenant_id=tenant_id) as db:
        config = await notify_settings(db, tenant_id)
        quiet = config.quiet_at(now.astimezone(config.tz).hour)
        if quiet:  # SMS wait for the morning; in-app and e-mail go now
            await db.execute(update(Outbox).where(
                Outbox.status == "pending", Outbox.channel == "sms", Outbox.next_attempt_at <= now,
            ).values(next_attempt_at=quiet_until(config, now)).execution_options(synchronize_session=False))
        query = (
            select(Outbox.id, Outbox.channel, Outbox.kind, Outbox.address, Outbox.params, Outbox.body,
                   Outbox.attempts, Outbox.status, Outbox.user_id, Outbox.deputy_id, Outbox.subject,
                   Outbox.dedupe_key, Outbox.due_at)
            .where(Outbox.status.in_(("pending", "sending")), or_(
                and_(Outbox.status == "pending", Outbox.next_attempt_at <= now),
                and_(Outbox.status == "sending", Outbox.claimed_at < now - stale_after)))
            .order_by(Outbox.next_attempt_at, Outbox.id).limit(batch).with_for_update(skip_locked=True)
        )
        if quiet:
            query = query.where(Outbox.channel != "sms")
        rows = (await db.execute(query)).all()
        over = await _over_quota(db, config, rows, now)
        if over:
            await _skip_for_quota(db, config, over, now)
            gone = {r.id for r in over}
            rows = [r for r in rows if r.id not in gone]
        claimed = await _mark_sending(db, tenant_id, rows, now)
    return config, claimed, len(over)


async def _over_quota(db: AsyncSession, config: NotifySettings, rows, now: datetime) -> list:
    """New SMS beyond what is left of this month's quota (a reclaimed row was counted already)."""
    new_sms = [r for r in rows if r.channel == "sms" and r.status == "pending"]
    if not new_sms:
        return []
    used = await db.scalar(select(func.count()).select_from(Delivery).where(
        Delivery.channel == "sms", Delivery.started_at >= month_start(config, now),
        Delivery.result.in_(("sending", "sent")))) or 0
    room = max(0, config.sms_quota - used)
    return new_sms[room:]


async def _mark_sending(db: AsyncSession, tenant_id: int, rows, now: datetime) -> list[Claimed]:
    if not rows:
        return []
    ids = [r.id for r in rows]
    attempts = dict((await db.execute(
        update(Outbox).where(Outbox.id.in_(ids))
        .values(status="sending", claimed_at=now,  # a reclaimed row (it was `sending`) keeps its attempt
                attempts=case((Outbox.status == "pending", Outbox.attempts + 1), else_=Outbox.attempts))
        .returning(Outbox.id, Outbox.attempts).execution_options(synchronize_session=False)
    )).all())
    await db.execute(insert(Delivery).values([
        dict(tenant_id=tenant_id, outbox_id=r.id, attempt=attempts[r.id], channel=r.channel, started_at=now)
        for r in rows
    ]).on_conflict_do_nothing(index_elements=[Delivery.tenant_id, Delivery.outbox_id, Delivery.attempt]))
    return [Claimed(id=r.id, channel=r.channel, kind=r.kind, address=r.address, params=r.params or {},
                    body=r.body, attempt=attempts[r.id], claimed_at=now, due_at=r.due_at) for r in rows]


# --- 2. send ----------------------------------------------------------------------------------------

def _subject(kind: str) -> str:
    return catalogue(DEFAULT_LOCALE).get(KINDS[kind].name, KINDS[kind].name)


async def _deliver(tenant_id: int, row: Claimed, channels: Channels) -> str | None:
    reference = f"{tenant_id}-{row.id}"
    if row.channel == "inapp":
        return None  # the inbox reads the row itself
    if row.channel == "sms":
        return await channels.sms.send(mobile=row.address, template=channels.template(row.kind),
                                       params=row.params, text=row.body, reference=reference)
    if channels.mail is None:
        raise PermanentSendError("no mail server configured (LIANLUO_SMTP_HOST)")
    return await channels.mail.send(to=row.address, subject=_subject(row.kind), text=row.body, reference=reference)


async def _send(tenant_id: int, row: Claimed, channels: Channels, now: datetime) -> Outcome:
    try:
        provider_id = await asyncio.wait_for(_deliver(tenant_id, row, channels), SEND_LIMIT_SECONDS)
        return Outcome(row, "sent", provider_id=provider_id)
    except PermanentSendError as error:
        return Outcome(row, "failed", error=str(error))
    except (TransientSendError, asyncio.TimeoutError) as error:
        reason = str(error) or "timeout"
    except Exception as error:  # a bug or an unexpected answer: retried like a transient failure
        log.exception("sending outbox row %s-%s failed unexpectedly", tenant_id, row.id)
        reason = f"unexpected: {type(error).__name__}"
    if row.attempt >= MAX_ATTEMPTS:
        return Outcome(row, "failed", error=f"{reason} (gave up after {row.attempt} attempts)"[:400])
    return Outcome(row, "retry", error=reason[:400], next_at=now + backoff(row.attempt))


# --- 3. record --------------------------------------------------------------------------------------

_RECORD_OUTBOX = text("""
UPDATE outbox o SET
  status = CASE WHEN v.result = 'retry' THEN 'pending' ELSE v.result END,
  sent_at = CASE WHEN v.result = 'sent' THEN CAST(:now AS timestamptz) ELSE o.sent_at END,
  provider_id = CASE WHEN v.result = 'sent' THEN v.provider_id ELSE o.provider_id END,
  last_error = CASE WHEN v.result = 'sent' THEN NULL ELSE v.error END,
  next_attempt_at = CASE WHEN v.result = 'retry' THEN v.next_at ELSE o.next_attempt_at END,
  claimed_at = NULL
FROM unnest(CAST(:ids AS bigint[]), CAST(:attempts AS integer[]), CAST(:claimed AS timestamptz[]),
            CAST(:results AS text[]), CAST(:providers AS text[]), CAST(:errors AS text[]),
            CAST(:next_ats AS timestamptz[])) AS v(id, attempt, claimed_at, result, provider_id, error, next_at)
WHERE o.tenant_id = :tenant_id AND o.id = v.id AND o.attempts = v.attempt
  AND ((o.status = 'sending' AND o.claimed_at = v.claimed_at)
       OR (v.result = 'sent' AND o.status IN ('sending', 'pending')))
RETURNING o.id
""")

_RECORD_DELIVERIES = text("""
UPDATE deliveries d SET result = v.result, finished_at = CAST(:now AS timestamptz), provider_id = v.provider_id,
  error = v.error
FROM unnest(CAST(:ids AS bigint[]), CAST(:attempts AS integer[]), CAST(:results AS text[]),
            CAST(:providers AS text[]), CAST(:errors AS text[])) AS v(outbox_id, attempt, result, provider_id, error)
WHERE d.tenant_id = :tenant_id AND d.outbox_id = v.outbox_id AND d.attempt = v.attempt AND d.result = 'sending'
""")


async def _record(database: Database, tenant_id: int, config: NotifySettings, outcomes: list[Outcome],
                  now: datetime) -> set[int]:
    """Write the results; returns the ids whose row took them (another worker may have reclaimed a
    row in the meantime: then its own result counts)."""
    values = dict(
        tenant_id=tenant_id, now=now, ids=[o.row.id for o in outcomes], attempts=[o.row.attempt for o in outcomes],
        results=[o.result for o in outcomes], providers=[o.provider_id for o in outcomes],
        errors=[o.error for o in outcomes],
    )
    async with database.transaction(tenant_id=tenant_id) as db:
        applied = set((await db.execute(_RECORD_OUTBOX, {
            **values, "claimed": [o.row.claimed_at for o in outcomes], "next_ats": [o.next_at for o in outcomes],
        })).scalars())
        await db.execute(_RECORD_DELIVERIES, values)
        failed = [o for o in outcomes if o.result == "failed" and o.row.id in applied]
        if failed:
            await _tell_failures(db, config, failed, now)
    return applied


# --- notices to the county admins ---------------------------------------------------------------------

async def county_admins(db: AsyncSession, config: NotifySettings) -> list[outbox.Recipient]:
    ids = (await db.scalars(select(Membership.user_id).where(
        Membership.tenant_id == config.tenant_id, Membership.role == "county_admin",
        Membership.revoked_at.is_(None)))).all()
    return await outbox.members(db, config.tenant_id, ids, config=config)


def mask_address(channel: str, address: str | None) -> str:
    if not address:
        return ""
    if channel == "email":
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    return mask_mobile(address)


def _inapp_row(config: NotifySettings, kind: str, subject: str, who: outbox.Recipient, due_at: datetime,
               params: dict, now: datetime, key: str | None = None, body: str | None = None) -> dict:
    if body is None:
        body = render(kind, {**params, "name": who.name}, locale=who.locale, county_texts=config.message_texts)
    return dict(tenant_id=config.tenant_id, dedupe_key=key or outbox.dedupe_key(kind, subject, who, "inapp", due_at),
                kind=kind, channel="inapp", subject=subject, user_id=who.user_id, deputy_id=who.deputy_id,
                params=params, body=body, due_at=due_at, next_attempt_at=due_at, status="sent", sent_at=now)


async def _insert_inapp(db: AsyncSession, rows: list[dict]) -> None:
    if rows:
        await db.execute(insert(Outbox).values(rows).on_conflict_do_nothing(
            index_elements=[Outbox.tenant_id, Outbox.dedupe_key]))


async def _tell_failures(db: AsyncSession, config: NotifySettings, failed: list[Outcome], now: datetime) -> None:
    """One in-app `delivery_failed` per failed row and county admin (once per outbox row)."""
    admins = await county_admins(db, config)
    rows = []
    for o in failed:
        for admin in admins:
            locale = admin.locale if admin.locale in LOCALES else DEFAULT_LOCALE
            words = catalogue(locale)
            params = {"what": words.get(KINDS[o.row.kind].name, KINDS[o.row.kind].name),
                      "recipient": mask_address(o.row.channel, o.row.address),
                      "channel": words.get(CHANNEL_NAMES[o.row.channel], CHANNEL_NAMES[o.row.channel]),
                      "error": o.error or "", "outbox_id": o.row.id}
            rows.append(_inapp_row(config, "delivery_failed", f"outbox:{o.row.id}", admin, o.row.due_at, params, now))
    await _insert_inapp(db, rows)


async def _skip_for_quota(db: AsyncSession, config: NotifySettings, over: list, now: datetime) -> None:
    """SMS beyond the quota: skipped; the same message in the recipient's inbox (when they have an
    account and have not got it there already); the county admins told once a month."""
    await db.execute(update(Outbox).where(Outbox.id.in_([r.id for r in over]))
                     .values(status="skipped", last_error="quota").execution_options(synchronize_session=False))
    copies = []
    for r in over:
        if r.user_id:
            stem, _, due = r.dedupe_key.rpartition(":")
            stem = stem.rpartition(":")[0]  # the same key with channel inapp: no second copy in the inbox
            who = outbox.Recipient(user_id=r.user_id, deputy_id=r.deputy_id)
            copies.append(_inapp_row(config, r.kind, r.subject, who, r.due_at, r.params or {}, now,
                                     key=f"{stem}:inapp:{due}", body=r.body))
    await _insert_inapp(db, copies)
    month = month_start(config, now)
    rows = [_inapp_row(config, "sms_quota_reached", "tenant", admin, month, {"quota": config.sms_quota}, now)
            for admin in await county_admins(db, config)]
    await _insert_inapp(db, rows)

