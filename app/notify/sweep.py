"""The sweep: deliver what the outbox holds when it falls due (the worker runs it every 10 seconds).

SMS providers are not idempotent: every request they accept is a new SMS, whatever its reference. So a
message is sent again only when we know the provider did not take it. For each tenant with work
(`outbox_due_tenants`; a few tenants at a time), a pass:
0. settles what is uncertain (app.notify.settle): rows left `sending` by a worker that stopped before
   recording (SMS are checked with the provider, never resent blindly), rows whose outcome is
   unknown (`checking`), and the delivery receipts of recently sent SMS. Bounded in rows. Then the
   queued notices of new work become inbox rows and digests (app.notify.work_notices).
1. claims (one transaction bound to the tenant) up to `batch` pending rows that are due, `FOR UPDATE
   SKIP LOCKED` (two workers never take the same row). During the tenant's quiet hours, and while the
   platform's SMS account is held (arrears, app.notify.provider_status), SMS are not claimed. SMS
   beyond the month's quota are `skipped` (the recipient gets the message in the inbox instead; the
   county admins are told once a month). Claimed rows become `sending` (attempt + 1), and the attempt
   is recorded in `deliveries` before anything is sent.
2. sends, outside any transaction, a few at a time, each send and the writing of its outcome (a short
   transaction as soon as it comes back, shared with those that came back meanwhile: `Recorder`)
   shielded from cancellation: a worker told to stop (arq cancels the job on
   SIGTERM, and at its timeout) finishes the sends under way and records them before it exits. No send
   starts after `pass_seconds` (well inside the job's timeout); claimed rows not sent by then, or
   when the pass is cancelled, go back to `pending` as if never claimed.
Outcomes: sent (the receipt is asked for later); pending again after a backoff (transient errors,
up to MAX_ATTEMPTS; a number's daily limit waits for the next day; arrears hold every SMS);
`checking` when the provider may have taken it (timeout, broken connection); failed at once for
permanent errors. The county admins get an in-app `delivery_failed` for a row that failed, that keeps
failing (TELL_AFTER_ATTEMPTS transient attempts), or whose outcome nobody can tell (app.notify.notices).
The reference passed to the provider is "<tenant>-<outbox id>", the same for every attempt (the
provider does not dedupe on it; the checks look for it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database, every_county
from app.core.i18n import DEFAULT_LOCALE, catalogue
from app.core.logs import log_tenant
from app.notify import outbox, provider_status
from app.notify.config import NotifySettings, notify_settings
from app.notify.mail import Mailer
from app.notify.models import Delivery, Outbox
from app.notify.notices import county_admins, inapp_row, insert_inapp, tell_failures
from app.notify.settle import CHECK_GRACE, RECEIPT_FIRST, settle
from app.notify.sms import (
    PROVIDER_TZ, AccountHeldError, DailyLimitError, HttpSmsProvider, PermanentSendError, SmsProvider,
    TransientSendError, UnconfiguredSms, UnknownOutcomeError,
)
from app.notify.sms_tencent import TencentSmsProvider
from app.notify.texts import KINDS
from app.notify.work_notices import expand as expand_work

log = logging.getLogger("lianluo.notify")

STALE_AFTER = timedelta(seconds=120)  # a claim older than this belongs to a worker that stopped
MAX_ATTEMPTS = 5
TELL_AFTER_ATTEMPTS = 3  # transient failures before the county admins are told (~6 minutes; still retried)
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))
CONCURRENCY = 16  # sends under way at once per tenant (a real provider answers in tens of milliseconds;
# a slow one in seconds: 16 keeps a county's 200 messages within a minute at 4.6 s each)
TENANTS_AT_ONCE = 4  # tenants swept at the same time (each uses a connection for its claim and record)
PASS_SECONDS = 20.0  # no send starts later than this into a tenant's pass (the job's timeout is 110 s)
SEND_LIMIT_SECONDS = 15  # a send still under way after this has an unknown outcome
FIRST_CHECK = timedelta(seconds=10)  # an unknown outcome is first asked about this long after
RECORD_TRIES = (0.5, 1.0, 2.0)  # pauses between tries to write an outcome (PostgreSQL restarting)


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
    sms = (TencentSmsProvider.from_settings(settings) if settings.sms_url and settings.sms_provider == "tencent"
           else HttpSmsProvider(settings.sms_url, settings.sms_key_id, settings.sms_key_secret, settings.sms_sign)
           if settings.sms_url else UnconfiguredSms())
    mail = (Mailer(settings.smtp_host, settings.smtp_port, settings.smtp_from, settings.smtp_user,
                   settings.smtp_password, settings.smtp_starttls, tls=settings.smtp_tls) if settings.smtp_host else None)
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
    result: str  # sent | retry | failed | checking (unknown outcome) | held (account in arrears)
    provider_id: str | None = None
    error: str | None = None
    next_at: datetime | None = None
    tell: bool = False  # the county admins are told (failed, or failing again and again)


def backoff(attempt: int) -> timedelta:
    return BACKOFF[min(max(attempt, 1), len(BACKOFF)) - 1]


def next_day(now: datetime) -> datetime:
    """Local midnight (the provider's zone) after `now`, when a number's daily limit starts again."""
    local = now.astimezone(PROVIDER_TZ)
    return (local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)).astimezone(timezone.utc)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


async def sweep(database: Database, *, now: datetime | None = None, channels: Channels | None = None,
                batch: int = 200, stale_after: timedelta = STALE_AFTER, tenant_ids=None,
                grace: timedelta | None = None, pass_seconds: float = PASS_SECONDS) -> dict[str, int]:
    """One pass over every tenant with work (at most `batch` rows each). `now` fixes the clock
    (tests); else the real time. `grace`: how long after a send the provider's "no such message"
    means it was not taken (default: the setting, else CHECK_GRACE). Returns counts of sent / retry /
    failed / skipped rows (and checked, unknown, delivered where there were any)."""
    own = channels is None
    channels = channels or channels_from_settings(database.settings)
    if grace is None:
        seconds = getattr(database.settings, "sms_check_grace_seconds", None)
        grace = timedelta(seconds=seconds) if seconds is not None else CHECK_GRACE
    counts: Counter = Counter(sent=0, retry=0, failed=0, skipped=0)
    tenants = asyncio.Semaphore(TENANTS_AT_ONCE)

    async def one(tenant_id: int) -> Counter:
        async with tenants:
            token = log_tenant.set(str(tenant_id))
            try:
                return await sweep_tenant(database, tenant_id, now=now, channels=channels, batch=batch,
                                          stale_after=stale_after, grace=grace, pass_seconds=pass_seconds)
            except Exception:  # one tenant's trouble must not hold up the others; its rows wait
                log.exception("sweep of tenant %s failed", tenant_id)
                return Counter()
            finally:
                log_tenant.reset(token)

    try:
        at = now or _utcnow()
        async with database.transaction() as db:
            due = list((await every_county(db, "SELECT tenant_id FROM outbox_due_tenants(:at, :stale)",
                                           {"at": at, "stale": stale_after})).scalars())
        wanted = None if tenant_ids is None else {int(t) for t in tenant_ids}
        for result in await all_to_the_end(one(t) for t in due if wanted is None or t in wanted):
            counts.update(result)
    finally:
        if own:
            await channels.aclose()
    return dict(counts)


async def sweep_tenant(database: Database, tenant_id: int, *, now: datetime | None, channels: Channels,
                       batch: int = 200, stale_after: timedelta = STALE_AFTER, grace: timedelta = CHECK_GRACE,
                       pass_seconds: float = PASS_SECONDS) -> Counter:
    deadline = time.monotonic() + pass_seconds
    counts: Counter = await settle(database, tenant_id, now=now, sms=channels.sms, stale_after=stale_after,
                                   grace=grace, deadline=deadline)
    work = await _work_notices(database, tenant_id, now or _utcnow())
    if work:
        counts["work"] = work
    config, rows, skipped = await _claim(database, tenant_id, now or _utcnow(), batch)
    counts["skipped"] += skipped
    if rows:
        counts.update(await _send_all(database, tenant_id, config, rows, channels, now, deadline))
    if any(counts[k] for k in ("sent", "failed", "retry", "checking", "unknown")):
        log.info("tenant %s: %s", tenant_id, ", ".join(f"{k} {n}" for k, n in sorted(counts.items()) if n))
    return counts


async def _work_notices(database: Database, tenant_id: int, now: datetime) -> int:
    """Queued notices of new work become inbox rows and digests before the claim (app.notify.work_notices);
    trouble there must not hold up what is due."""
    try:
        return await expand_work(database, tenant_id, now=now)
    except Exception:
        log.exception("notices of new work of tenant %s failed; they wait for the next pass", tenant_id)
        return 0


# --- 1. claim ---------------------------------------------------------------------------------------

def quiet_until(config: NotifySettings, now: datetime) -> datetime:
    """The end of the quiet hours that `now` falls in (local time of the tenant), in UTC."""
    return config.quiet_until(now)


def month_start(config: NotifySettings, now: datetime) -> datetime:
    local = now.astimezone(config.tz)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(timezone.utc)


_COLUMNS = (Outbox.id, Outbox.channel, Outbox.kind, Outbox.address, Outbox.params, Outbox.body, Outbox.attempts,
            Outbox.status, Outbox.user_id, Outbox.deputy_id, Outbox.subject, Outbox.dedupe_key, Outbox.due_at)


async def _claim(database: Database, tenant_id: int, now: datetime,
                 batch: int) -> tuple[NotifySettings, list[Claimed], int]:
    async with database.transaction(tenant_id=tenant_id) as db:
        config = await notify_settings(db, tenant_id)
        quiet = config.quiet_at(now.astimezone(config.tz).hour)
        if quiet:  # SMS wait for the morning; in-app and e-mail go now
            await db.execute(update(Outbox).where(
                Outbox.status == "pending", Outbox.channel == "sms", Outbox.next_attempt_at <= now,
            ).values(next_attempt_at=quiet_until(config, now)).execution_options(synchronize_session=False))
        due = (select(*_COLUMNS).where(Outbox.status == "pending", Outbox.next_attempt_at <= now)
               .order_by(Outbox.next_attempt_at, Outbox.id).limit(batch).with_for_update(skip_locked=True))
        held = not quiet and await provider_status.held(db)
        if not (quiet or held):
            rows = (await db.execute(due)).all()
        else:  # no SMS; while held, one SMS as a probe of whether the account works again
            rows = (await db.execute(due.where(Outbox.channel != "sms"))).all()
            if held:
                probe = (await db.execute(due.where(Outbox.channel == "sms").limit(1))).all()
                if probe and await provider_status.take_probe(db, now):
                    rows += probe
        over = await _over_quota(db, config, rows, now)
        if over:
            await _skip_for_quota(db, config, over, now)
            gone = {r.id for r in over}
            rows = [r for r in rows if r.id not in gone]
        claimed = await _mark_sending(db, tenant_id, rows, now)
    return config, claimed, len(over)


async def _over_quota(db: AsyncSession, config: NotifySettings, rows, now: datetime) -> list:
    """New SMS beyond what is left of this month's quota."""
    new_sms = [r for r in rows if r.channel == "sms"]
    if not new_sms:
        return []
    used = await db.scalar(select(func.count()).select_from(Delivery).where(
        Delivery.channel == "sms", Delivery.started_at >= month_start(config, now),
        Delivery.result.in_(("sending", "sent", "unknown")))) or 0
    room = max(0, config.sms_quota - used)
    return new_sms[room:]


async def _mark_sending(db: AsyncSession, tenant_id: int, rows, now: datetime) -> list[Claimed]:
    if not rows:
        return []
    ids = [r.id for r in rows]
    attempts = dict((await db.execute(
        update(Outbox).where(Outbox.id.in_(ids))
        .values(status="sending", claimed_at=now, attempts=Outbox.attempts + 1)
        .returning(Outbox.id, Outbox.attempts).execution_options(synchronize_session=False)
    )).all())
    await db.execute(insert(Delivery).values([
        dict(tenant_id=tenant_id, outbox_id=r.id, attempt=attempts[r.id], channel=r.channel, started_at=now)
        for r in rows
    ]).on_conflict_do_nothing(index_elements=[Delivery.tenant_id, Delivery.outbox_id, Delivery.attempt]))
    return [Claimed(id=r.id, channel=r.channel, kind=r.kind, address=r.address, params=r.params or {},
                    body=r.body, attempt=attempts[r.id], claimed_at=now, due_at=r.due_at) for r in rows]


# --- 2. send, and record each outcome as it comes back ---------------------------------------------

async def shielded(aw):
    """Run `aw` to its end even if the caller is cancelled meanwhile (it is bounded: one send, one short
    transaction); the cancellation is passed on once it is done."""
    task = asyncio.ensure_future(aw)
    cancelled = False
    while not task.done():
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        if not task.cancelled():
            task.exception()  # retrieved: the cancellation is what the caller hears
        raise asyncio.CancelledError
    return task.result()


async def all_to_the_end(aws) -> list:
    """Like asyncio.gather, but a cancellation waits for every one of them to end (each finishes or
    records its sends) before it is passed on: gather alone returns as soon as one child is cancelled."""
    tasks = [asyncio.ensure_future(aw) for aw in aws]
    try:
        return await asyncio.gather(*tasks)
    except asyncio.CancelledError:
        left = {t for t in tasks if not t.done()}
        while left:
            try:
                done, left = await asyncio.wait(left)
            except asyncio.CancelledError:
                continue
        raise


class Recorder:
    """Writes outcomes as they come back, each write one short transaction: whatever came back while
    the previous write ran goes into the next (a group commit), so a busy pass writes a few rows at a
    time, and a quiet one writes each outcome at once. `record` returns once its outcome is written."""

    def __init__(self, write):
        self._write = write
        self._queue: list[tuple[Outcome, asyncio.Future]] = []
        self._turn = asyncio.Lock()

    async def record(self, outcome: Outcome) -> None:
        mine = asyncio.get_running_loop().create_future()
        self._queue.append((outcome, mine))
        async with self._turn:
            if not mine.done():  # nobody wrote it meanwhile: write everything waiting
                batch, self._queue = self._queue, []
                try:
                    await self._write([o for o, _ in batch])
                except Exception as error:  # each sender tries again with its own outcome
                    for _, waiting in batch:
                        waiting.set_exception(error)
                else:
                    for _, waiting in batch:
                        waiting.set_result(None)
        await mine


async def _send_all(database: Database, tenant_id: int, config: NotifySettings, rows: list[Claimed],
                    channels: Channels, now: datetime | None, deadline: float) -> Counter:
    """Send the claimed rows, CONCURRENCY at a time; each outcome is written as soon as it is known.
    On cancellation (or once the pass is over, or the account is held) no send starts; those under
    way finish and are recorded; the rows never sent go back to pending."""
    limit = asyncio.Semaphore(CONCURRENCY)
    counts: Counter = Counter()
    started: set[int] = set()
    held = asyncio.Event()
    recorder = Recorder(lambda outcomes: _record(database, tenant_id, config, outcomes, now or _utcnow()))

    async def one(row: Claimed) -> None:
        async with limit:
            if held.is_set() or time.monotonic() > deadline:
                return
            started.add(row.id)
            outcome = await shielded(_send_and_record(recorder, tenant_id, row, channels, now))
            counts[outcome.result] += 1
            if outcome.result == "held":
                held.set()

    try:
        await all_to_the_end(one(r) for r in rows)
    finally:
        unsent = [r for r in rows if r.id not in started]
        if unsent:
            await shielded(_release(database, tenant_id, unsent))
    return counts


async def _send_and_record(recorder: Recorder, tenant_id: int, row: Claimed, channels: Channels,
                           now: datetime | None) -> Outcome:
    outcome = await _send(tenant_id, row, channels, now or _utcnow())
    for pause in (*RECORD_TRIES, None):
        try:
            await recorder.record(outcome)
            return outcome
        except Exception:  # PostgreSQL away: try again shortly; at worst the row is settled later
            if pause is None:
                log.exception("recording the outcome of outbox row %s-%s failed", tenant_id, row.id)
                return outcome
            await asyncio.sleep(pause)
    return outcome


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
    """The outcome of one send, classified (never raises)."""
    retry_after = None
    try:
        provider_id = await asyncio.wait_for(_deliver(tenant_id, row, channels), SEND_LIMIT_SECONDS)
        return Outcome(row, "sent", provider_id=provider_id)
    except PermanentSendError as error:
        return Outcome(row, "failed", error=str(error), tell=True)
    except DailyLimitError as error:
        return Outcome(row, "retry", error=str(error), next_at=next_day(now))
    except AccountHeldError as error:
        return Outcome(row, "held", error=str(error), next_at=now)
    except (UnknownOutcomeError, asyncio.TimeoutError) as error:
        if row.channel == "sms":  # the provider may have it: ask before anything is sent again
            return Outcome(row, "checking", error=f"outcome unknown: {error or 'timeout'}", next_at=now + FIRST_CHECK)
        reason = str(error) or "timeout"
    except TransientSendError as error:
        reason, retry_after = str(error), error.retry_after
    except Exception as error:  # a bug or an unexpected answer: retried like a transient failure
        log.exception("sending outbox row %s-%s failed unexpectedly", tenant_id, row.id)
        reason = f"unexpected: {type(error).__name__}"
    if row.attempt >= MAX_ATTEMPTS:
        return Outcome(row, "failed", error=f"{reason} (gave up after {row.attempt} attempts)"[:400], tell=True)
    return Outcome(row, "retry", error=reason[:400], next_at=now + (retry_after or backoff(row.attempt)),
                   tell=row.attempt >= TELL_AFTER_ATTEMPTS)


# --- 3. record --------------------------------------------------------------------------------------

_RECORD_OUTBOX = text("""
UPDATE outbox o SET
  status = CASE WHEN v.result IN ('retry', 'held') THEN 'pending' ELSE v.result END,
  sent_at = CASE WHEN v.result = 'sent' THEN CAST(:now AS timestamptz) ELSE o.sent_at END,
  provider_id = CASE WHEN v.result = 'sent' THEN v.provider_id ELSE o.provider_id END,
  last_error = CASE WHEN v.result = 'sent' THEN NULL ELSE v.error END,
  next_attempt_at = CASE WHEN v.result IN ('retry', 'held', 'checking') THEN v.next_at ELSE o.next_attempt_at END,
  receipt_check_at = CASE WHEN v.result = 'sent' AND o.channel = 'sms'
                          THEN CAST(:receipt_check_at AS timestamptz) ELSE NULL END,
  claimed_at = NULL
FROM unnest(CAST(:ids AS bigint[]), CAST(:attempts AS integer[]), CAST(:claimed AS timestamptz[]),
            CAST(:results AS text[]), CAST(:providers AS text[]), CAST(:errors AS text[]),
            CAST(:next_ats AS timestamptz[])) AS v(id, attempt, claimed_at, result, provider_id, error, next_at)
WHERE o.tenant_id = :tenant_id AND o.id = v.id AND o.attempts = v.attempt
  AND o.status = 'sending' AND o.claimed_at = v.claimed_at
RETURNING o.id
""")

# A searched CASE: Citus sends `CASE v.result WHEN …` to the worker as `text = boolean` comparisons.
_RECORD_DELIVERIES = text("""
UPDATE deliveries d SET finished_at = CAST(:now AS timestamptz), provider_id = v.provider_id, error = v.error,
  result = CASE WHEN v.result = 'held' THEN 'retry' WHEN v.result = 'checking' THEN 'unknown' ELSE v.result END
FROM unnest(CAST(:ids AS bigint[]), CAST(:attempts AS integer[]), CAST(:results AS text[]),
            CAST(:providers AS text[]), CAST(:errors AS text[])) AS v(outbox_id, attempt, result, provider_id, error)
WHERE d.tenant_id = :tenant_id AND d.outbox_id = v.outbox_id AND d.attempt = v.attempt AND d.result = 'sending'
""")


async def _record(database: Database, tenant_id: int, config: NotifySettings, outcomes: list[Outcome],
                  now: datetime) -> set[int]:
    """Write the results in one short transaction; returns the ids whose row took them (a row settled
    by another worker meanwhile keeps what that one found)."""
    values = dict(
        tenant_id=tenant_id, now=now, ids=[o.row.id for o in outcomes], attempts=[o.row.attempt for o in outcomes],
        results=[o.result for o in outcomes], providers=[o.provider_id for o in outcomes],
        errors=[o.error for o in outcomes],
    )
    async with database.transaction(tenant_id=tenant_id) as db:
        applied = set((await db.execute(_RECORD_OUTBOX, {
            **values, "claimed": [o.row.claimed_at for o in outcomes], "next_ats": [o.next_at for o in outcomes],
            "receipt_check_at": now + RECEIPT_FIRST,  # a value: Citus takes no timestamptz arithmetic in a CASE
        })).scalars())
        await db.execute(_RECORD_DELIVERIES, values)
        await _note_provider(db, [o for o in outcomes if o.row.channel == "sms" and o.row.id in applied], now)
        await tell_failures(db, config, [(o.row, _told(o)) for o in outcomes if o.tell and o.row.id in applied], now)
    return applied


def _told(o: Outcome) -> str:
    if o.result == "retry":
        return f"{o.error} ({o.row.attempt} attempts so far; trying again)"
    return o.error or ""


async def _note_provider(db: AsyncSession, outcomes: list[Outcome], now: datetime) -> None:
    """The platform's SMS account: a success ends a hold; arrears start one (and alert the operator)."""
    held = next((o for o in outcomes if o.result == "held"), None)
    if held is not None:
        await provider_status.hold(db, code=_code(held.error), error=held.error or "", now=now)
    elif any(o.result == "sent" for o in outcomes):
        await provider_status.note_success(db, now)
    elif any(o.result in ("failed", "retry") for o in outcomes):
        await provider_status.note_failure(db, _code(next(o.error for o in outcomes if o.error)), now)


def _code(error: str | None) -> str:
    """The provider's code in a reason such as "HTTP 200 isv.AMOUNT_NOT_ENOUGH: …"."""
    words = (error or "").split(":")[0].split()
    return words[2] if len(words) > 2 else (error or "")[:60]


async def _release(database: Database, tenant_id: int, rows: list[Claimed]) -> None:
    """Claimed rows that were never sent (the pass ended, or was cancelled): pending again, as if
    never claimed (their attempt is taken back)."""
    ids, attempts = [r.id for r in rows], [r.attempt for r in rows]
    async with database.transaction(tenant_id=tenant_id) as db:
        await db.execute(text(
            "DELETE FROM deliveries d USING unnest(CAST(:ids AS bigint[]), CAST(:attempts AS integer[])) AS v(id, attempt) "
            "WHERE d.tenant_id = :t AND d.outbox_id = v.id AND d.attempt = v.attempt AND d.result = 'sending'"),
            {"t": tenant_id, "ids": ids, "attempts": attempts})
        await db.execute(text(
            "UPDATE outbox o SET status = 'pending', attempts = o.attempts - 1, claimed_at = NULL "
            "FROM unnest(CAST(:ids AS bigint[]), CAST(:attempts AS integer[]), CAST(:claimed AS timestamptz[])) "
            "AS v(id, attempt, claimed_at) WHERE o.tenant_id = :t AND o.id = v.id AND o.attempts = v.attempt "
            "AND o.status = 'sending' AND o.claimed_at = v.claimed_at"),
            {"t": tenant_id, "ids": ids, "attempts": attempts, "claimed": [r.claimed_at for r in rows]})


# --- the SMS quota ----------------------------------------------------------------------------------

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
            copies.append(inapp_row(config, r.kind, r.subject, who, r.due_at, r.params or {}, now,
                                    key=f"{stem}:inapp:{due}", body=r.body))
    await insert_inapp(db, copies)
    month = month_start(config, now)
    rows = [inapp_row(config, "sms_quota_reached", "tenant", admin, month, {"quota": config.sms_quota}, now)
            for admin in await county_admins(db, config)]
    await insert_inapp(db, rows)
