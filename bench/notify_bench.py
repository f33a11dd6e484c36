"""Delivering reminders at scale: 10,000 due SMS across 100 tenants, one worker's sweep loop, the
local fake SMS gateway on the other end.

    .venv/bin/python bench/notify_bench.py                     # embedded PostgreSQL in a temporary folder
    DATABASE_URL=postgresql://postgres@127.0.0.1/lianluo_bench REDIS_URL=redis://127.0.0.1:6379/13 \\
      .venv/bin/python bench/notify_bench.py [--tenants 100] [--per-tenant 100]   # that database (migrated)

Starts the fake gateway (`python -m app sms-gateway` on a free port), makes N tenants (default 100,
quiet hours off so the wall clock never holds an SMS back), and writes their due reminders
(`activity_sms` to deputies without an account, through `app.notify.outbox.notify` as the producers
do, one multi-row insert per tenant); `ANALYZE` is committed. Then two rounds with the same number of
reminders per tenant: the first 10 tenants' reminders, then all N tenants'. Each round calls
`app.notify.sweep.sweep` (what the worker's `deliver_notifications` cron runs) in a loop until a pass
finds nothing due, with the channels the worker builds (`channels_from_settings`), counting queries
(`app.core.db.query_counter`). One line per round: tenants, reminders, passes, seconds, messages per
second, queries, queries per reminder and per tenant — queries per reminder must be the same at 10 and
at N tenants (each outcome is written in its own short transaction as soon as the provider answers,
so that a worker that stops loses none: a few statements per message, never a query per row read or
per recipient).

Nothing is asserted on time or rate. The exit code is 1 only if a reminder is missing at the gateway
or arrived twice (the gateway, like the real provider, sends every request it accepts: counted by
reference "<tenant>-<outbox id>", and by mobile + template + parameters),
or if a reminder is left undelivered in the outbox.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import analyze, bench_database  # noqa: E402 (bench/)

SMALL = 10  # tenants in the first round


def _arg(name: str, default: int) -> int:
    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gateway(logdir: Path) -> tuple[subprocess.Popen, str]:
    """The fake SMS gateway in a subprocess; (process, base URL) once it answers."""
    port = _free_port()
    log = (logdir / "sms-gateway.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "app", "sms-gateway", "--port", str(port)], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url + "_messages", timeout=1).raise_for_status()
            return proc, url
        except httpx.HTTPError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                sys.exit(f"the fake SMS gateway did not start (log in {logdir})")
            time.sleep(0.1)


async def make_tenants(database, n: int) -> list[int]:
    """``n`` tenants (no admin tree: the sweep needs none), quiet hours off."""
    from app.tenancy.models import TenantConfig
    from app.presets.services import Preset, apply_preset

    stamp = int(time.time())
    ids = []
    for i in range(n):
        tenant = await apply_preset(database, Preset(name="bench", tenant={}, nodes=[]), slug=f"nb{stamp}-{i}",
                                    name=f"通知基准{i}县人大常委会", division_code="510722", county=f"通知基准{i}县",
                                    status="active")
        async with database.transaction(tenant_id=tenant.id) as db:
            row = await db.get(TenantConfig, tenant.id)
            if row is None:
                row = TenantConfig(tenant_id=tenant.id)
                db.add(row)
            row.quiet_start, row.quiet_end = 0, 0
        ids.append(tenant.id)
    return ids


async def write_reminders(database, tenant_ids: list[int], per_tenant: int, round_no: int) -> set[str]:
    """``per_tenant`` due `activity_sms` per tenant; the references "<tenant>-<outbox id>" written."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import select

    from app.notify import outbox
    from app.notify.models import Outbox

    due = datetime.now(timezone.utc) - timedelta(minutes=1)
    refs: set[str] = set()
    for n, t in enumerate(tenant_ids):
        subject = f"activity:{round_no}"
        people = [outbox.person(f"13{round_no}{n:03d}{i:05d}", name=f"代表{i}") for i in range(per_tenant)]
        async with database.transaction(tenant_id=t) as db:
            await outbox.notify(db, tenant_id=t, kind="activity_sms", subject=subject, recipients=people,
                                due_at=due, now=due,
                                params={"station": f"第{n}联络站", "kind": "接待选民", "when": "周五 09:00",
                                        "place": "联络站", "topic": "听取意见", "link": "23456789AB3"})  # a short code
            ids = await db.scalars(select(Outbox.id).where(Outbox.subject == subject, Outbox.channel == "sms"))
            refs |= {f"{t}-{i}" for i in ids}
    return refs


async def deliver(database, settings) -> tuple[int, int, float, Counter]:
    """Sweep until a pass finds nothing due: (passes, queries, seconds, counts by result)."""
    from app.core.db import query_counter
    from app.notify.sweep import channels_from_settings, sweep

    channels = channels_from_settings(settings)
    counter = [0]
    token = query_counter.set(counter)
    totals: Counter = Counter()
    passes = 0
    started = time.perf_counter()
    try:
        while True:
            passes += 1
            got = await sweep(database, channels=channels)
            totals.update({k: v for k, v in got.items() if isinstance(v, int)})
            if not any(v for v in got.values() if isinstance(v, int)) or passes > 1000:
                break
    finally:
        query_counter.reset(token)
        close = getattr(channels.sms, "aclose", None)
        if close is not None:
            await close()
    return passes, counter[0], time.perf_counter() - started, totals


def check(messages: list[dict], refs: set[str]) -> list[str]:
    """Missing or twice-delivered reminders of this round."""
    mine = [m for m in messages if m["out_id"] in refs]
    by_ref = Counter(m["out_id"] for m in mine)
    problems = []
    if missing := refs - set(by_ref):
        problems.append(f"{len(missing)} reminders missing at the gateway, e.g. {sorted(missing)[:3]}")
    if twice := [r for r, c in by_ref.items() if c > 1]:
        problems.append(f"{len(twice)} references accepted twice, e.g. {twice[:3]}")
    texts = Counter((m["mobile"], m["template"], json.dumps(m["params"], sort_keys=True, ensure_ascii=False))
                    for m in mine)
    if dup := [k for k, c in texts.items() if c > 1]:
        problems.append(f"{len(dup)} texts delivered twice, e.g. {dup[:2]}")
    return problems


async def undelivered(owner_url: str, refs: set[str]) -> int:
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(owner_url)
    conn = await asyncpg.connect(user=url.username, password=url.password, host=url.query.get("host") or url.host,
                                 port=url.port, database=url.database)
    try:
        ids = [int(r.split("-")[1]) for r in refs]
        return await conn.fetchval("SELECT count(*) FROM outbox WHERE id = ANY($1::bigint[]) AND status <> 'sent'", ids)
    finally:
        await conn.close()


async def run_round(database, settings, url: str, tenant_ids: list[int], per_tenant: int, round_no: int) -> list[str]:
    refs = await write_reminders(database, tenant_ids, per_tenant, round_no)
    await analyze(settings.database_url)
    passes, queries, seconds, totals = await deliver(database, settings)
    messages = httpx.get(url + "_messages", timeout=60).json()["messages"]
    problems = check(messages, refs)
    left = await undelivered(settings.database_url, refs)
    if left:
        problems.append(f"{left} reminders not marked sent in the outbox")
    print(f"{len(tenant_ids):>8}{len(refs):>11}{passes:>8}{seconds:>9.1f}{len(refs) / seconds:>9.0f}"
          f"{queries:>9}{queries / len(refs):>13.3f}{queries / len(tenant_ids):>13.2f}   {dict(totals)}", flush=True)
    return problems


async def main() -> int:
    tenants, per_tenant = _arg("--tenants", 100), _arg("--per-tenant", 100)
    logdir = Path(tempfile.mkdtemp(prefix="lianluo-notify-bench-"))
    gateway, url = start_gateway(logdir)
    os.environ["LIANLUO_SMS_URL"] = url
    os.environ.setdefault("LIANLUO_OUTBOX_STALE_SECONDS", "300")
    problems: list[str] = []
    try:
        async with bench_database("notify") as (settings, database):
            started = time.perf_counter()
            ids = await make_tenants(database, tenants)
            print(f"made {tenants} tenants in {time.perf_counter() - started:.1f} s; "
                  f"{per_tenant} due reminders per tenant and round; gateway {url}", flush=True)
            print(f"{'tenants':>8}{'reminders':>11}{'passes':>8}{'seconds':>9}{'msg/s':>9}{'queries':>9}"
                  f"{'queries/msg':>13}{'queries/ten.':>13}   results", flush=True)
            problems += await run_round(database, settings, url, ids[:SMALL], per_tenant, 1)
            problems += await run_round(database, settings, url, ids, per_tenant, 2)
    finally:
        gateway.terminate()
        try:
            gateway.wait(timeout=10)
        except subprocess.TimeoutExpired:
            gateway.kill()
    for p in problems:
        print("PROBLEM:", p, flush=True)
    if problems:
        print(f"the gateway's log is in {logdir}", flush=True)
        return 1
    shutil.rmtree(logdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
