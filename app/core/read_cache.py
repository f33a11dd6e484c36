"""What a signed-in page read from the database, kept in Redis until the county's data changes (issue 20).

A page's reads (the home's counts, a list's rows) are kept under the county's *data generation*: every
committed write to one of the county's tables bumps it (app.public.invalidation notes the writes of
every runtime session — routes, services, the worker, imports — and bumps after the commit, never on a
rollback), so a value is never served after a change it did not see. What nothing bumps — a due time
passing, a platform table such as a user's name — is seen within TTL_SECONDS (the first request after
that reads again; the others of its process are answered from the older value while it does, so a busy
page does not stall every minute); callers put the county's date in the name, so "today" rolls over
with the county's day.

Keys, under the public page cache's ``lp:<database name>:`` (one Redis, two databases never mix):
  D                          the platform's data generation (the working calendar; a write to a tenant
                             table with no tenant known)
  d:<tenant>                 the tenant's data generation
  rd:<tenant>:<D.d>:<name>   a value, pickled (the values are ours, written by our own processes, as
                             arq's jobs are)

A value is stored under the generations read *before* the database was (a write that commits meanwhile
bumps them after its commit, so what was read before it is unreachable). A hit is one Redis round trip
(a Lua script) and no database. Names say whose reads they are (a membership, its filters): the
caller keeps personal values personal. Redis away or slow: the database answers, never an error.
Sign-in, membership, roles and every write are never cached: a revoked session or a suspended county
stops at once as before.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import pickle
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from app.core.i18n import current_locale

log = logging.getLogger("lianluo.read_cache")

TTL_SECONDS = 60  # the backstop for what no write bumps (the clock, platform tables)
GRACE_SECONDS = 30  # an older value stays this long, to answer while one request reads it again
wall_clock = time.time  # when a value was kept (every web process of the deployment compares it)
REDIS_TIMEOUT = 0.5  # seconds; past this the database answers
PAUSE_AFTER_ERROR = 5.0  # seconds without trying Redis after it failed
WAIT_FOR_FIRST = 2.0  # seconds a request waits for another's reading of the same value
MAX_VALUE_BYTES = 512 * 1024  # a larger value is not kept (a page that big is not read twice a minute)

LOOKUP = """
local ns = ARGV[1]
local gens = (redis.call('GET', ns .. 'D') or '0') .. '.' .. (redis.call('GET', ns .. 'd:' .. ARGV[2]) or '0')
return {gens, redis.call('GET', ns .. 'rd:' .. ARGV[2] .. ':' .. gens .. ':' .. ARGV[3])}
"""

T = TypeVar("T")


def namespace(database_name: str | None) -> str:
    return f"lp:{database_name or ''}:"  # the public page cache's (app.public.cache.namespace)


def platform_data_key(ns: str) -> str:
    return f"{ns}D"


def tenant_data_key(ns: str, tenant_id: int) -> str:
    return f"{ns}d:{tenant_id}"


class RedisCache:
    """A web process's Redis client for one of the caches (this one, app.public.cache): made for the
    running event loop with the cache's Lua script; after a failure the database answers for
    PAUSE_AFTER_ERROR seconds without trying Redis."""

    label = "read cache"
    script = LOOKUP

    def __init__(self, redis_url: str, database_name: str | None, release: str = ""):
        self.redis_url = redis_url
        self.ns = namespace(database_name)
        self.release = release
        self._client: Redis | None = None
        self._script = None
        self._loop = None
        self._paused_until = 0.0

    def _redis(self) -> Redis:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = Redis.from_url(self.redis_url, socket_connect_timeout=REDIS_TIMEOUT,
                                          socket_timeout=REDIS_TIMEOUT)
            self._script = self._client.register_script(self.script)
            self._loop = loop
        return self._client

    def _usable(self) -> bool:
        return bool(self.redis_url) and time.monotonic() >= self._paused_until

    def _failed(self, what: str, exc: Exception) -> None:
        self._paused_until = time.monotonic() + PAUSE_AFTER_ERROR
        log.warning("%s: %s failed (%s); reading the database", self.label, what, type(exc).__name__)


class ReadCache(RedisCache):
    """The web process's view of the read cache (one per app and event loop)."""

    def __init__(self, redis_url: str, database_name: str | None, release: str = ""):
        super().__init__(redis_url, database_name, release)
        self._computing: dict[str, asyncio.Event] = {}  # values being read by a request of this process

    async def remember(self, tenant_id: int, name: str, compute: Callable[[], Awaitable[T]]) -> T:
        """The value kept under ``name`` (in the request's language: a value may hold translated words) for
        the tenant's current data, or ``compute()``'s (then kept). Requests of this process that miss the
        same value at once wait for the first one's (after a change, a busy page is read once per
        process, not once per waiting request), then look again. A value older than TTL_SECONDS (the
        data unchanged: only the clock moved) is read again by the first request that finds it, and
        the others of its process are answered from it meanwhile instead of waiting."""
        name = f"{self.release}:{current_locale.get()}:{name}"
        gens, found = await self._lookup(tenant_id, name)
        key = f"{tenant_id}:{gens}:{name}"
        if found is not None:
            stored_at, value = pickle.loads(found)
            if wall_clock() - stored_at < TTL_SECONDS or key in self._computing:
                return value
            return await self._compute_and_store(key, tenant_id, gens, name, compute)
        if gens is None:
            return await compute()
        first = self._computing.get(key)
        if first is not None:
            try:
                await asyncio.wait_for(first.wait(), timeout=WAIT_FOR_FIRST)
            except asyncio.TimeoutError:
                pass
            gens, found = await self._lookup(tenant_id, name)
            if found is not None:
                return pickle.loads(found)[1]
            return await compute()
        return await self._compute_and_store(key, tenant_id, gens, name, compute)

    async def _compute_and_store(self, key: str, tenant_id: int, gens: str, name: str,
                                 compute: Callable[[], Awaitable[T]]) -> T:
        self._computing[key] = done = asyncio.Event()
        try:
            value = await compute()
            await self._store(tenant_id, gens, name, value)
            return value
        finally:
            del self._computing[key]
            done.set()

    async def _lookup(self, tenant_id: int, name: str) -> tuple[str | None, bytes | None]:
        """(the generations, the kept value or None); (None, None) when Redis is away."""
        if not self._usable():
            return None, None
        try:
            self._redis()
            gens, found = await self._script(args=[self.ns, str(tenant_id), name])
            return gens.decode(), found
        except Exception as exc:  # Redis away: the database answers
            self._failed("lookup", exc)
            return None, None

    async def _store(self, tenant_id: int, gens: str, name: str, value) -> None:
        data = pickle.dumps((wall_clock(), value), protocol=pickle.HIGHEST_PROTOCOL)
        if len(data) > MAX_VALUE_BYTES or not self._usable():
            return
        try:
            await self._redis().set(f"{self.ns}rd:{tenant_id}:{gens}:{name}", data, ex=TTL_SECONDS + GRACE_SECONDS)
        except Exception as exc:
            self._failed("store", exc)


def release(manifest) -> str:
    """What a kept value or page is made of besides the data: the code, the templates, the catalogues
    and the static files' hashed names (read once per process). A deploy, even a rolling one, never
    serves what another release kept."""
    digest = hashlib.blake2b(digest_size=8)
    for name in sorted(manifest.by_name):
        digest.update(manifest.url(name).encode())
    app_dir = Path(__file__).resolve().parents[1]
    for path in sorted(p for suffix in ("*.py", "*.html", "*.po") for p in app_dir.rglob(suffix)):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def read_cache(app) -> ReadCache:
    """The app's read cache, made at its first use (app.state holds it)."""
    cache = app.state.get("read_cache")
    if cache is None:
        settings = app.state.settings
        cache = ReadCache(settings.redis_url, make_url(settings.app_database_url).database, release(app.state.static))
        app.state["read_cache"] = cache
    return cache
