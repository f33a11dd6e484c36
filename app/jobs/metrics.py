"""What the worker does, for /metrics (app.core.metrics): job runs and failures, SMS and e-mail sent
and failed, and the outbox backlog.

The worker runs on its own (any number of them, on any host), so it does not serve metrics itself:
each job adds its counts to one Redis hash (`WORKER_KEY`, HINCRBY: several workers add up) when it
ends, and the web process that answers a scrape reads the hash. The counts are totals since Redis
last lost the hash, which Prometheus reads like any counter reset. A job that finds Redis away does
not run at all (arq), so nothing is counted that could not be flushed, except the counts of a worker
killed mid-job.

The outbox backlog is read from PostgreSQL at scrape time. The outbox is a tenant table under
row-level security, so it goes through `outbox_due_tenants` (the sweep's own SECURITY DEFINER
function, ids only) and then counts each of those tenants' due rows in one transaction bound to
each in turn (`as_tenant`), for at most `MAX_TENANTS` tenants per scrape.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import Counter
from datetime import datetime, timedelta, timezone

from arq import Retry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import and_, func, or_, select

from app.core.db import as_tenant, every_county
from app.core.redis import redis_client
from app.notify.models import Outbox
from app.notify.sms import PermanentSendError

log = logging.getLogger("lianluo.worker")

WORKER_KEY = "lianluo:metrics:worker"
MAX_TENANTS = 200  # tenants whose due rows one scrape counts (the number of such tenants is exact)
FLUSH_TIMEOUT_SECONDS = 2.0

_pending: Counter = Counter()  # this process's counts not yet added to Redis


def count(kind: str, name: str, result: str) -> None:
    _pending[f"{kind}|{name}|{result}"] += 1


async def flush(redis) -> None:
    """Add this process's counts to the Redis hash (kept for the next flush when Redis is away)."""
    if redis is None or not _pending:
        return
    counts = dict(_pending)
    _pending.clear()
    try:
        pipe = redis.pipeline(transaction=False)
        for field, n in counts.items():
            pipe.hincrby(WORKER_KEY, field, n)
        await asyncio.wait_for(pipe.execute(), FLUSH_TIMEOUT_SECONDS)
    except Exception as exc:
        _pending.update(counts)
        log.warning("job counters not recorded in Redis: %s", type(exc).__name__)


def counted(fn):
    """An arq job whose runs count by result: ok, failed (raised), retry (arq.Retry), cancelled
    (timed out or the worker stopped). The job keeps its name (arq names jobs by `__qualname__`)."""

    @functools.wraps(fn)
    async def job(ctx, *args, **kwargs):
        result = "failed"
        try:
            value = await fn(ctx, *args, **kwargs)
            result = "ok"
            return value
        except Retry:
            result = "retry"
            raise
        except asyncio.CancelledError:
            result = "cancelled"
            raise
        finally:
            count("job", fn.__name__, result)
            await flush(ctx.get("redis"))

    return job


class CountingChannel:
    """An SMS provider or mailer whose sends count: sent, failed (refused for good: the row fails),
    error (a transient failure or timeout: the row is tried again)."""

    def __init__(self, inner, channel: str):
        self._inner = inner
        self._channel = channel

    async def send(self, **kwargs):
        result = "error"
        try:
            value = await self._inner.send(**kwargs)
            result = "sent"
            return value
        except PermanentSendError:
            result = "failed"
            raise
        finally:
            count("message", self._channel, result)

    def __getattr__(self, name):  # aclose, message_id, …
        return getattr(self._inner, name)


def count_channels(channels) -> None:
    channels.sms = CountingChannel(channels.sms, "sms")
    if channels.mail is not None:
        channels.mail = CountingChannel(channels.mail, "email")


# --- scrape-time sources ------------------------------------------------------------------------

async def worker_counters(state) -> list:
    client = redis_client(state.settings.redis_url)
    try:
        raw = await client.hgetall(WORKER_KEY)
    finally:
        await client.aclose()
    jobs = CounterMetricFamily("lianluo_jobs", "Background job runs by job and result (ok, failed, retry, cancelled)",
                               labels=["job", "result"])
    messages = CounterMetricFamily("lianluo_messages", "SMS and e-mail send attempts by result "
                                   "(sent; failed: refused for good; error: tried again)",
                                   labels=["channel", "result"])
    for field, value in sorted(raw.items()):
        kind, _, rest = field.decode().partition("|")
        name, _, result = rest.partition("|")
        family = jobs if kind == "job" else messages if kind == "message" else None
        if family is not None and result:
            family.add_metric([name, result], int(value))
    return [jobs, messages]


_DUE = "SELECT tenant_id FROM outbox_due_tenants(:at, :stale)"
# Due and not yet sent: pending rows whose time has come, rows whose outcome the worker is to check
# with the provider (`checking`), and rows a worker claimed and then stopped answering for (`sending`
# for longer than the stale period: reported as "stalled").
STATES = {"pending": "pending", "checking": "checking", "sending": "stalled"}


def _due(at: datetime, stale: timedelta):
    return or_(and_(Outbox.status.in_(("pending", "checking")), Outbox.next_attempt_at <= at),
               and_(Outbox.status == "sending", Outbox.claimed_at < at - stale))


async def outbox_backlog(state, now: datetime | None = None) -> list:
    at = now or datetime.now(timezone.utc)
    stale = timedelta(seconds=state.settings.outbox_stale_seconds)
    totals = Counter({name: 0 for name in STATES.values()})
    oldest: datetime | None = None
    async with state.db.transaction() as db:
        tenants = list((await every_county(db, _DUE, {"at": at, "stale": stale})).scalars())
        for tenant_id in tenants[:MAX_TENANTS]:
            async with as_tenant(db, tenant_id):
                rows = (await db.execute(
                    select(Outbox.status, func.count(), func.min(Outbox.next_attempt_at))
                    .where(Outbox.tenant_id == tenant_id, _due(at, stale)).group_by(Outbox.status))).all()
            for status, n, first in rows:
                totals[STATES[status]] += n
                oldest = first if oldest is None or first < oldest else oldest
    messages = GaugeMetricFamily("lianluo_outbox_due_messages", "Outbox messages due and not sent, by state: pending "
                                 "(waiting for a worker), checking (outcome to be asked of the provider), stalled "
                                 "(claimed by a worker that stopped answering)", labels=["state"])
    for name in STATES.values():
        messages.add_metric([name], totals[name])
    age = GaugeMetricFamily("lianluo_outbox_oldest_due_seconds", "How long the oldest due message has waited (0: none)",
                            value=max(0.0, (at - oldest).total_seconds()) if oldest else 0.0)
    count_tenants = GaugeMetricFamily("lianluo_outbox_due_tenants", "Tenants with outbox work due (their messages "
                                      f"are counted above for the first {MAX_TENANTS})", value=len(tenants))
    return [messages, age, count_tenants]


SCRAPE_SOURCES = (("outbox", outbox_backlog), ("worker", worker_counters))
