"""Prometheus metrics: `/metrics`, for the operator's monitoring, never for the public.

What each web process counts as it works: requests by route template (never the raw path: ids and
slugs would make a series per record) and status, their latency, and its database pool. granian runs
several worker processes, so `serve` points PROMETHEUS_MULTIPROC_DIR at a fresh folder before they
start (`prepare_multiprocess_dir`): each process writes its figures there and any process answering
a scrape sums them all (prometheus_client's multiprocess mode). Without that variable (tests, a
single process) the figures live in the process.

What no web process sees is read when the scrape comes, from the registered `sources` (the outbox
backlog from PostgreSQL, the worker's job and delivery counters from Redis; `app.jobs.metrics`):
each is bounded in time, and one that fails is reported as `lianluo_scrape_source_up 0` instead of
failing the scrape.

The endpoint and who may read it: `app.core.health.metrics_endpoint`.
"""

from __future__ import annotations

import asyncio
import glob
import logging
import os
import tempfile
from pathlib import Path
from typing import Awaitable, Callable, Iterable

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import event

log = logging.getLogger("lianluo.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
SOURCE_TIMEOUT_SECONDS = 10.0
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # a path no route knows (404s, refused before routing): one series for all

REQUESTS = Counter("lianluo_http_requests_total", "HTTP requests answered, by route template and status",
                   ["method", "route", "status"])
LATENCY = Histogram("lianluo_http_request_duration_seconds", "Time to answer an HTTP request",
                    ["method", "route", "status"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
POOL_SIZE = Gauge("lianluo_db_pool_size", "Database connections each pool keeps (summed over live processes)",
                  multiprocess_mode="livesum")
POOL_CHECKED_OUT = Gauge("lianluo_db_pool_checked_out", "Database connections in use (summed over live processes)",
                         multiprocess_mode="livesum")

# A scrape-time source: given the app's state, the metric families it reads (database, Redis).
Source = Callable[[object], Awaitable[Iterable[Metric]]]


def observe_request(scope, status: int, seconds: float) -> None:
    """Count one answered request under its route template (`/t/{tenant_slug}/cases/{case_id}`)."""
    method = scope.get("method") or ""
    method = method if method in METHODS else "OTHER"
    route = scope.get("path_template") or UNMATCHED
    labels = (method, route, str(status))
    REQUESTS.labels(*labels).inc()
    LATENCY.labels(*labels).observe(seconds)


def instrument_pool(engine) -> None:
    """Keep this process's pool figures current: set on every checkout and checkin, so a scrape that
    another process answers reads them too (multiprocess mode)."""
    pool = engine.sync_engine.pool
    if not hasattr(pool, "checkedout"):
        return  # a pool without counts (NullPool behind a pooler): nothing to report
    POOL_SIZE.set(pool.size())

    def checked_out(*_args) -> None:
        POOL_CHECKED_OUT.set(pool.checkedout())

    def checked_in(*_args) -> None:
        # the checkin event fires before the connection is back in the pool
        POOL_CHECKED_OUT.set(max(0, pool.checkedout() - 1))

    event.listen(engine.sync_engine, "checkout", checked_out)
    event.listen(engine.sync_engine, "checkin", checked_in)


# --- several processes (granian workers) --------------------------------------------------------

def prepare_multiprocess_dir(env: dict) -> str:
    """Before the web processes start: an empty folder for their figures, named in `env`. An
    operator's PROMETHEUS_MULTIPROC_DIR is emptied of old figures (a restart starts from zero, which
    Prometheus reads as a counter reset); else a new temporary folder."""
    folder = env.get(MULTIPROC_ENV)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for stale in glob.glob(os.path.join(folder, "*.db")):
            os.remove(stale)
    else:
        folder = tempfile.mkdtemp(prefix="lianluo-metrics-")
    env[MULTIPROC_ENV] = folder
    return folder


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _forget_dead_processes(folder: str) -> None:
    """A worker that was killed (and replaced by granian) leaves its gauges behind: they would count
    its connections for ever. Its counters stay: what it counted happened."""
    pids = set()
    for path in glob.glob(os.path.join(folder, "gauge_live*_*.db")):
        stem = os.path.basename(path)[:-3]
        pid = stem.rpartition("_")[2]
        if pid.isdigit():
            pids.add(int(pid))
    for pid in pids:
        if not _pid_alive(pid):
            multiprocess.mark_process_dead(pid, folder)


def _process_figures() -> bytes:
    folder = os.environ.get(MULTIPROC_ENV)
    if not folder:
        return generate_latest(REGISTRY)
    _forget_dead_processes(folder)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=folder)
    return generate_latest(registry)


# --- the scrape ---------------------------------------------------------------------------------

class _Families:
    def __init__(self, families: list[Metric]):
        self.families = families

    def collect(self):
        return iter(self.families)


async def _scrape_sources(sources: Iterable[tuple[str, Source]], state) -> bytes:
    families: list[Metric] = []
    up = GaugeMetricFamily("lianluo_scrape_source_up", "1 when a scrape-time source answered", labels=["source"])
    for name, source in sources:
        try:
            families.extend(await asyncio.wait_for(source(state), SOURCE_TIMEOUT_SECONDS))
            up.add_metric([name], 1)
        except Exception as exc:  # a database or Redis outage must not hide the other figures
            log.warning("metrics source %s failed: %s", name, type(exc).__name__)
            up.add_metric([name], 0)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families([*families, up]))
    return generate_latest(registry)


async def exposition(state) -> bytes:
    """The scrape's body: every process's figures, then the scrape-time sources'."""
    return _process_figures() + await _scrape_sources(getattr(state, "metrics_sources", ()), state)
