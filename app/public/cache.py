"""The rendered public pages (/p/…) kept in Redis, and the HTTP side of caching them (ETag, 304).

Keys (one Redis, shared by every web process and the worker), under ``lp:<database name>:`` so that
two databases sharing a Redis (staging beside production, the test suite beside the demo) never see
each other's pages:
  slug:<slug>               the tenant id of a slug (a hint: a miss checks it against PostgreSQL)
  G                         the platform's generation (the working calendar: every county's reception days)
  t:<tenant>                the tenant's generation (its name, status, stations, deputies, plans, boards …)
  s:<tenant>:<station>      a station's own generation (its goals, commitments, deputies' assignments)
  b:<tenant>:<G.t.s>:<page> a rendered page: a hash of its ETag, its bodies (identity, br, gzip) and the
                            moment its day ends; <page> names the release (code, templates, catalogues, static
                            files: a deploy, even a rolling one, never serves another release's page),
                            the language and the canonical path

A page is stored under the generations read *before* the database was: a change that commits later
bumps a generation (app.public.invalidation, after the commit), so what was read before it is never
found again. A hit is one Redis round trip (a Lua script: slug → generations → page) and no database.
Entries live TTL_SECONDS at most (a backstop for what nothing bumps: the yearly plan's "coming" list
moving with the clock, another county's link on an archived joint station) and never past the
county's midnight, so "today" on a page rolls over with the county's day. Generations never expire
(Redis must not evict them: arq needs `noeviction` anyway).

Redis away or slow: pages are rendered from the database as before (for a few seconds no Redis is
tried), never an error.
"""

from __future__ import annotations

import gzip
import hashlib
import time
from dataclasses import dataclass
from datetime import date, datetime, time as clock_time, timedelta
from zoneinfo import ZoneInfo

import brotli
from sqlalchemy.engine import make_url

from app.core.read_cache import RedisCache, release


TTL_SECONDS = 60  # the backstop; changes themselves invalidate at once
# What a phone or a proxy may reuse without asking: a minute, so an edit reaches everyone within one
# (the app's own cache answers the revalidation, a 304 without a body, from Redis).
MAX_AGE = 60
SLUG_TTL = 86400
BROTLI_QUALITY = 4  # as the app's compression middleware (app.main)
GZIP_LEVEL = 6
ENCODINGS = {"br": "br", "gz": "gzip"}  # our field name → Content-Encoding
HTML = "text/html"  # Litestar adds "; charset=utf-8"

# One round trip: the slug's tenant, the three generations, and the page's ETag, body and day's end.
# (The keys it reads after the slug's are named from it: one Redis, not a cluster.)
LOOKUP = """
local ns = ARGV[4]
local tid = redis.call('GET', KEYS[1])
if not tid then return {} end
local g = redis.call('GET', ns .. 'G') or '0'
local t = redis.call('GET', ns .. 't:' .. tid) or '0'
local s = '0'
if ARGV[1] ~= '' then s = redis.call('GET', ns .. 's:' .. tid .. ':' .. ARGV[1]) or '0' end
local gens = g .. '.' .. t .. '.' .. s
local found = redis.call('HMGET', ns .. 'b:' .. tid .. ':' .. gens .. ':' .. ARGV[2], 'etag', ARGV[3], 'until')
return {tid, gens, found[1], found[2], found[3]}
"""


def slug_key(ns: str, slug: str) -> str:
    return f"{ns}slug:{slug}"


def body_key(ns: str, tenant_id: int, gens: str, page: str) -> str:
    return f"{ns}b:{tenant_id}:{gens}:{page}"


def global_key(ns: str) -> str:
    return f"{ns}G"


def tenant_key(ns: str, tenant_id: int) -> str:
    return f"{ns}t:{tenant_id}"


def station_key(ns: str, tenant_id: int, station_id: int) -> str:
    return f"{ns}s:{tenant_id}:{station_id}"


def negotiate(accept_encoding: str | None) -> str:
    """'br', 'gz' or 'id' (identity) for the request's Accept-Encoding, brotli first."""
    accepted: dict[str, float] = {}
    for part in (accept_encoding or "").lower().split(","):
        name, _, params = part.partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        accepted[name.strip()] = q
    if accepted.get("br", 0) > 0:
        return "br"
    if accepted.get("gzip", 0) > 0:
        return "gz"
    return "id"


@dataclass
class Page:
    """One rendered page: its bodies per encoding and its strong validator."""
    digest: str  # of the identity body; each encoding's ETag adds its name (different bytes)
    bodies: dict[str, bytes]
    until: int  # epoch seconds at which the county's day (the page's "today") ends

    @classmethod
    def of(cls, html: str, until: int) -> Page:
        body = html.encode()
        return cls(
            digest=hashlib.blake2b(body, digest_size=16).hexdigest(),
            bodies={"id": body, "br": brotli.compress(body, quality=BROTLI_QUALITY),
                    "gz": gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)},
            until=until,
        )


def day_end(today: date, tz: ZoneInfo) -> int:
    """Epoch seconds of the midnight after ``today`` in the county's zone."""
    return int(datetime.combine(today + timedelta(days=1), clock_time(0), tz).timestamp())


def etag(digest: str, encoding: str) -> str:
    return f'"{digest}"' if encoding == "id" else f'"{digest}-{encoding}"'


def matches(if_none_match: str | None, digest: str) -> bool:
    """The client holds a representation of this very body (any of its encodings)."""
    if not if_none_match:
        return False
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*":
            return True
        if tag.startswith("W/"):  # a weak comparison is enough for If-None-Match (RFC 9110 13.1.2)
            tag = tag[2:]
        if tag.strip('"').split("-")[0] == digest:
            return True
    return False


@dataclass
class Lookup:
    tenant_id: int | None = None  # the slug's tenant as Redis knows it (None: unknown, or Redis away)
    gens: str | None = None
    digest: str | None = None
    body: bytes | None = None
    until: int = 0

    @property
    def hit(self) -> bool:
        return self.body is not None and self.digest is not None


class PageCache(RedisCache):
    """The web process's view of the cache (one per app and event loop)."""

    label = "public page cache"
    script = LOOKUP

    def page(self, locale: str, path: str) -> str:
        return f"{self.release}:{locale}:{path}"

    async def lookup(self, slug: str, station_id: int | None, page: str, encoding: str) -> Lookup:
        if not self._usable():
            return Lookup()
        try:
            self._redis()
            found = await self._script(keys=[slug_key(self.ns, slug)],
                                       args=["" if station_id is None else str(station_id), page, encoding, self.ns])
        except Exception as exc:  # Redis away: the database answers
            self._failed("lookup", exc)
            return Lookup()
        if not found:
            return Lookup()
        tenant_id, gens, digest, body, until = found
        return Lookup(tenant_id=int(tenant_id), gens=gens.decode(), digest=digest.decode() if digest else None,
                      body=body, until=int(until or 0))

    async def store(self, slug: str, tenant_id: int, gens: str | None, page: str, rendered: Page | None) -> None:
        """Remember the slug's tenant, and the page when its generations were read before the database."""
        if not self._usable():
            return
        try:
            pipe = self._redis().pipeline(transaction=False)
            pipe.set(slug_key(self.ns, slug), tenant_id, ex=SLUG_TTL)
            ttl_ms = min(TTL_SECONDS * 1000, int((rendered.until - time.time()) * 1000)) if rendered else 0
            if gens is not None and ttl_ms > 0:
                key = body_key(self.ns, tenant_id, gens, page)
                pipe.hset(key, mapping={"etag": rendered.digest, "until": rendered.until, **rendered.bodies})
                pipe.pexpire(key, ttl_ms)
            await pipe.execute()
        except Exception as exc:
            self._failed("store", exc)


def page_cache(app) -> PageCache:
    """The app's page cache, made at its first use (app.state holds it)."""
    cache = app.state.get("public_page_cache")
    if cache is None:
        settings = app.state.settings
        cache = PageCache(settings.redis_url, make_url(settings.app_database_url).database,
                          release(app.state.static))
        app.state["public_page_cache"] = cache
    return cache
