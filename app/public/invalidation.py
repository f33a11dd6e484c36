"""What invalidates the cached public pages (app.public.cache): every committed write to a table the
pages read, wherever it comes from (a route, a service, the worker, an import, the command line); and
the signed-in pages' read cache (app.core.read_cache): every committed write to a county's tables but
NOT_DATA_TABLES bumps that county's data generation.

Two session hooks on every runtime session (app.core.db.TenantBoundSession) note what a transaction
wrote: ``after_flush`` the ORM rows (their class, tenant and station), ``do_orm_execute`` the Core
``insert()/update()/delete()`` statements and plain-text SQL (their table, in the tenant the session
works as at that moment). After the commit — never before, so a reader can't cache the old rows
under the new generation — ``after_commit`` bumps the generations in Redis: the station's own where
only its page shows the row, else the tenant's, else (the operator's working calendar) everyone's.
A rolled-back transaction bumps nothing. ``tests/public/test_page_cache.py`` checks that every table
the pages read is listed here.

Writes outside the runtime sessions (the owner's migrations, restoring a backup, SQL typed by hand)
reach the pages after TTL_SECONDS, or at once with `redis-cli INCR lp:<database name>:G` after such
work. A bump that fails (Redis away) is logged; the entries it should have
invalidated live TTL_SECONDS at most.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from itertools import chain

from redis import Redis
from sqlalchemy import event, inspect
from sqlalchemy.sql.elements import TextClause

from app.core.db import TenantBoundSession
from app.core.read_cache import PAUSE_AFTER_ERROR, REDIS_TIMEOUT, namespace, platform_data_key, tenant_data_key
from app.public.cache import global_key, station_key, tenant_key

log = logging.getLogger("lianluo.public.cache")

# Rows shown on one station's page only (its id in ``station_id``).
STATION_TABLES = frozenset({"station_goals", "deputy_commitments", "station_deputies"})
# Rows that may show on any of the county's pages: the county itself, its places and stations, its
# deputies and their levels, the published plans (activities, their kinds and changes), the public
# appraisal board (appraisals, points: duty records, attendance at held activities, the scheme) and
# the county's choice of board, a joint station's agreement (its archive says where to go instead).
TENANT_TABLES = frozenset({
    "tenants", "tenant_config", "admin_nodes", "stations", "station_kinds", "deputies", "deputy_mandates",
    "activity_plans", "activities", "activity_kinds", "activity_events", "attendances", "joint_attendance",
    "appraisals", "appraisal_results", "points_items", "duty_entries", "joint_agreements",
})
# The operator's working calendar: every county's reception days.
GLOBAL_TABLES = frozenset({"working_calendar_days"})
# Read by the pages but never changed in place: a stored photo is replaced by storing another and
# pointing the station or deputy at it (that row's change invalidates).
UNCHANGING_TABLES = frozenset({"images"})
WATCHED = STATION_TABLES | TENANT_TABLES | GLOBAL_TABLES
# The signed-in pages' read cache (app.core.read_cache) is invalidated by a write to any table but
# these: platform tables no cached read shows (a user's name reaches a kept page within its TTL),
# bookkeeping a page's own GET writes (the viewing of personal data logged, a sign-in screen's codes,
# public lookups that found nothing) or a trigger keeps beside a change that is itself a write, and the
# messages the worker sends every few seconds (no kept read shows them: the inbox count and the
# delivery trouble are read on every request).
NOT_DATA_TABLES = frozenset({
    "users", "user_sessions", "failed_logins", "operator_digests", "operator_exports", "platform_alerts",
    "platform_audit_log", "signup_applications", "sms_provider_status", "alembic_version",
    "audit_log", "signin_codes", "case_lookup_misses", "short_link_misses", "compliance_stale",
    "outbox", "deliveries", "work_notices",
})
# Functions called in plain SQL that delete or change watched rows.
WRITING_FUNCTIONS = ("delete_tenant_data",)

_MARKS = "public_page_marks"  # session.info: what this transaction changed
_WRITE = re.compile(r"\b(?:insert\s+into|update|delete\s+from)\s+(?:only\s+)?\"?(\w+)", re.I)

Mark = tuple  # ("G",) | ("t", tenant_id) | ("s", tenant_id, station_id) | ("D",) | ("d", tenant_id)


def _data_marks(obj, session) -> list[Mark]:
    table = getattr(getattr(obj, "__table__", None), "name", None)
    if table is None or table in NOT_DATA_TABLES:
        return []
    if table == "tenants":
        return [("d", obj.id)]
    tenant_id = getattr(obj, "tenant_id", None) or _bound(session)
    return [("D",)] if tenant_id is None or table in GLOBAL_TABLES else [("d", tenant_id)]


def _row_marks(obj, session, dirty) -> list[Mark]:
    table = getattr(getattr(obj, "__table__", None), "name", None)
    if table not in WATCHED:
        return []
    if table in GLOBAL_TABLES:
        return [("G",)]
    if table == "tenants":
        return [("t", obj.id)]
    tenant_id = getattr(obj, "tenant_id", None) or _bound(session)
    if tenant_id is None:
        return [("G",)]
    if table == "activity_events" and not obj.plan_change:
        return []  # only changes to a published plan are public
    if table in STATION_TABLES:
        station_id = obj.station_id
        moved = obj in dirty and inspect(obj).attrs.station_id.history.has_changes()
        if station_id is not None and not moved:
            return [("s", tenant_id, station_id)]
    return [("t", tenant_id)]


def _bound(session) -> int | None:
    return session.info.get("bound_tenant_id", session.info.get("tenant_id"))


def _note(session, marks) -> None:
    if marks:
        session.info.setdefault(_MARKS, set()).update(marks)


def _flushed(session, flush_context) -> None:
    dirty = session.dirty
    _note(session, [m for obj in chain(session.new, dirty, session.deleted)
                    for m in chain(_row_marks(obj, session, dirty), _data_marks(obj, session))])


def _statement_tables(statement) -> list[str]:
    if getattr(statement, "is_dml", False):
        table = getattr(statement, "table", None)
        return [getattr(table, "name", "")]
    if isinstance(statement, TextClause):
        sql = statement.text
        found = _WRITE.findall(sql)
        if any(name in sql for name in WRITING_FUNCTIONS):
            found.append("tenants")
        return found
    return []


def _executed(state) -> None:
    if state.is_select and not isinstance(state.statement, TextClause):
        return
    written = _statement_tables(state.statement)
    tenant_id = _bound(state.session)
    data = [t for t in written if t not in NOT_DATA_TABLES]
    if data:
        global_data = tenant_id is None or any(t in GLOBAL_TABLES for t in data)
        _note(state.session, [("D",) if global_data else ("d", tenant_id)])
    tables = [t for t in written if t in WATCHED]
    if not tables:
        return
    if any(t in GLOBAL_TABLES for t in tables) or tenant_id is None:
        _note(state.session, [("G",)])
    else:
        # a statement's rows are not known one by one: the whole county (a station table included)
        _note(state.session, [("t", tenant_id)])


def _committed(session) -> None:
    marks = session.info.pop(_MARKS, None)
    if marks:
        bump(session.info.get("redis_url") or "", session.info.get("database_name"), marks)


def _rolled_back(session) -> None:
    session.info.pop(_MARKS, None)


HOOKS = (("after_flush", _flushed), ("do_orm_execute", _executed), ("after_commit", _committed),
         ("after_rollback", _rolled_back))


def install() -> None:
    """Hook the runtime sessions (app.wiring.plug_in, once per process; again is harmless)."""
    for name, hook in HOOKS:
        if not event.contains(TenantBoundSession, name, hook):
            event.listen(TenantBoundSession, name, hook)


_clients: dict[str, Redis] = {}
_clients_lock = threading.Lock()


def _client(url: str) -> Redis:
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT,
                                                    socket_timeout=REDIS_TIMEOUT)
        return client


def keys_of(ns: str, marks) -> list[str]:
    keys = set()
    for mark in marks:
        if mark[0] == "G":
            keys.add(global_key(ns))
        elif mark[0] == "D":
            keys.add(platform_data_key(ns))
        elif mark[0] == "d":
            keys.add(tenant_data_key(ns, mark[1]))
        elif mark[0] == "t":
            keys.add(tenant_key(ns, mark[1]))
        else:
            keys.add(station_key(ns, mark[1], mark[2]))
    return sorted(keys)


_paused_until: dict[str, float] = {}


def bump(redis_url: str, database_name: str | None, marks) -> None:
    """Bump the generations (one round trip). Synchronous: it runs inside the session's commit (on the
    event loop's thread, a loopback round trip of well under a millisecond, bounded by REDIS_TIMEOUT).
    After a failure, commits do not wait for Redis for PAUSE_AFTER_ERROR seconds (the pages read
    nothing from it meanwhile either; what they kept lives TTL_SECONDS at most)."""
    if not redis_url or time.monotonic() < _paused_until.get(redis_url, 0.0):
        return
    keys = keys_of(namespace(database_name), marks)
    try:
        pipe = _client(redis_url).pipeline(transaction=False)
        for key in keys:
            pipe.incr(key)
        pipe.execute()
    except Exception as exc:
        _paused_until[redis_url] = time.monotonic() + PAUSE_AFTER_ERROR
        log.warning("public page cache: bumping %s failed (%s)", " ".join(keys), type(exc).__name__)


def forget_everything_kept(settings) -> None:
    """Never serve again what the page and read caches kept of this database: after a restore, or after
    rows were written outside the runtime sessions (a bench's bulk copies)."""
    from sqlalchemy.engine import make_url

    bump(settings.redis_url, make_url(settings.app_database_url).database, [("G",), ("D",)])
