"""Database engines and the per-transaction tenant binding.

Every transaction of the runtime role starts with
  set_config('app.tenant_id', <tenant or ''>, true), set_config('app.user_id', <user or ''>, true)
taken from the Session's ``info``. The settings are transaction-local, so a pooled connection never
carries one request's tenant into the next; with nothing bound, the RLS policies match no row.

On a Citus coordinator (LIANLUO_DB_CITUS) a set_config stays on the coordinator, while the policies
run on the worker nodes' shards: there every binding is `SET LOCAL app.tenant_id = '…'` (and
app.user_id), which the coordinator passes on to the worker connections of the transaction because
each connection sets citus.propagate_set_commands = 'local' (../shared/STACK-NOTES.md). SET takes no
parameters: the values are ids (whole numbers) or empty, never anything a user typed.
"""

from __future__ import annotations

from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from functools import lru_cache
from typing import AsyncIterator, Awaitable, TypeVar
from uuid import uuid4

from sqlalchemy import event, inspect as sa_inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Session, with_loader_criteria
from sqlalchemy.sql.util import find_tables

from app.core.errors import Refusal
from app.core.settings import Settings

T = TypeVar("T")


class Base(DeclarativeBase):
    pass


MAX_ID = 2**63 - 1  # ids are bigint identities: a larger number is nobody's id


def as_id(value: object) -> int | None:
    """A record id from a form field or query argument: a positive whole number that fits a bigint,
    else None (which finds nothing, like an id that does not exist)."""
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) <= 19 and 0 < int(text) <= MAX_ID else None


class TenantBoundSession(Session):
    """The sync session class behind every runtime AsyncSession; binds the tenant per transaction."""


_BIND_SQL = text(
    "SELECT set_config('app.tenant_id', :tenant_id, true), set_config('app.user_id', :user_id, true)"
)


def _citus(session: Session | AsyncSession) -> bool:
    return bool(session.info.get("citus"))


def _set_local(setting: str, record_id: int | None) -> str:
    return f"SET LOCAL app.{setting} = '{'' if record_id is None else int(record_id)}'"


async def _bind_with_set_local(session: AsyncSession, tenant_id: int | None, user_id: int | None) -> None:
    for setting, record_id in (("tenant_id", tenant_id), ("user_id", user_id)):
        await session.execute(text(_set_local(setting, record_id)))


# A session whose first statement sets both settings itself (the request guard's sign-in statement,
# app.accounts.access): its first transaction skips the separate binding round trip. Only that first
# one: a later transaction (after a refused form's rollback) binds from ``info`` as usual. A first
# statement that finds nothing sets nothing, and unset settings match no row (fail closed).
FIRST_STATEMENT_BINDS = "first_statement_binds"


def first_statement_binds(session: AsyncSession) -> None:
    """The next transaction's first statement binds the tenant and the user itself."""
    if session.in_transaction():
        raise RuntimeError("only before the transaction begins")
    session.info[FIRST_STATEMENT_BINDS] = True


@event.listens_for(TenantBoundSession, "after_begin")
def _bind_tenant(session: Session, transaction, connection) -> None:
    tenant_id = session.info.get("tenant_id")
    user_id = session.info.get("user_id")
    session.info["bound_tenant_id"] = tenant_id
    if _citus(session):  # each one its own statement: several in one string fail on Citus
        session.info.pop(FIRST_STATEMENT_BINDS, None)
        connection.exec_driver_sql(_set_local("tenant_id", tenant_id))
        connection.exec_driver_sql(_set_local("user_id", user_id))
        return
    if session.info.pop(FIRST_STATEMENT_BINDS, False):
        return
    connection.execute(
        _BIND_SQL,
        {"tenant_id": "" if tenant_id is None else str(tenant_id), "user_id": "" if user_id is None else str(user_id)},
    )


@lru_cache(maxsize=1)
def _tenant_classes(mapper_count: int) -> dict:
    """Each tenant table's mapped class (the tables with a tenant_id column), by table; asked with the
    registry's size, so that models imported later are picked up."""
    return {mapper.local_table: mapper.class_ for mapper in Base.registry.mappers if "tenant_id" in mapper.columns}


def _tables_in(statement) -> set:
    found = set()
    for element in find_tables(statement, check_columns=True, include_aliases=True, include_selects=True,
                               include_crud=True):
        found.add(getattr(element, "original", element))
    return found


@event.listens_for(TenantBoundSession, "do_orm_execute")
def _name_the_tenant(state) -> None:
    """On Citus, every ORM select, update and delete of a tenant's rows also names the bound tenant
    (DESIGN.md: an explicit `tenant_id = <bound tenant>` on each tenant table): row-level security
    conditions route nothing, a value does — without it the coordinator sends the statement to every
    shard. Added for each tenant class the statement reads, in joins and subqueries too (where
    with_loader_criteria reaches). Statements of Core tables without an entity carry their own
    condition. On one PostgreSQL the policies give the same rows, so nothing is added there (no cost).
    Nothing bound (the platform's own work): nothing added."""
    if not _citus(state.session) or state.is_column_load:
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    tenant_id = bound_tenant(state.session)  # before a transaction's begin: the tenant it will bind
    if tenant_id is None:
        return
    classes = _tenant_classes(len(Base.registry.mappers))
    # not kept on the loaded objects (their lazy loads come through here too): kept pages pickle them
    options = [with_loader_criteria(classes[table], lambda cls: cls.tenant_id == tenant_id, include_aliases=True,
                                    propagate_to_loaders=False)
               for table in _tables_in(state.statement) if table in classes]
    if options:
        state.statement = state.statement.options(*options)


@event.listens_for(TenantBoundSession, "after_transaction_end")
def _forget_binding(session: Session, transaction) -> None:
    """A transaction's binding ends with it: until the next one begins, ``bound_tenant`` answers the
    tenant that one will bind (``info["tenant_id"]``), never the last one's switch."""
    if transaction.parent is None:
        session.info.pop("bound_tenant_id", None)


# Query counting for budgets (bench/ and tests): a per-request counter, off unless asked for.
query_counter: ContextVar[list[int] | None] = ContextVar("query_counter", default=None)


def _count_query(conn, cursor, statement, parameters, context, executemany) -> None:
    counter = query_counter.get()
    if counter is not None:
        counter[0] += 1


def _statement_name() -> str:
    return f"__asyncpg_{uuid4().hex}__"


def engine_options(settings: Settings) -> dict:
    """Behind PgBouncer in transaction mode each transaction may run on another server connection, so
    a statement prepared under a name in one is missing (or another's) in the next. Then: no statement
    caches (asyncpg's, SQLAlchemy's), and the statements SQLAlchemy must still prepare get unique names.
    The tenant binding needs nothing: set_config(..., true) lasts one transaction."""
    connect_args: dict = {}
    if settings.db_pooler == "pgbouncer":
        connect_args.update(statement_cache_size=0, prepared_statement_cache_size=0,
                            prepared_statement_name_func=_statement_name)
    if settings.db_citus:
        # per connection, not ALTER ROLE: set on the role, the workers would propagate again
        # ("cannot execute a distributed query from a query on a shard")
        # and plans made with each statement's values: a generic plan of a prepared statement (PostgreSQL
        # tries one after five runs) cannot tell Citus which shard `tenant_id = $2 AND tenant_id = $4`
        # (a statement's own condition and the naming hook's) is on, and goes to every shard
        connect_args["server_settings"] = {"citus.propagate_set_commands": "local",
                                           "plan_cache_mode": "force_custom_plan"}
    return {"connect_args": connect_args} if connect_args else {}


WEB_POOL_WAIT = 3  # seconds a web request waits for a pooled connection before it answers 503
RECYCLE_AFTER = 1800  # seconds: a pooled connection older than this is replaced at its next checkout


def pool_options(web: bool) -> dict:
    """A web process checks no connection before use (a round trip per request): a connection the
    server dropped fails its request with a 503 (``web.database_unavailable``) and SQLAlchemy then
    replaces every older pooled connection; and it waits for a free connection only briefly, so that
    an overload answers 503 with Retry-After at once instead of after 30 seconds. The worker's jobs
    keep the ping: a long-running sweep may find its connection gone after an outage, and retrying
    costs more there than a round trip."""
    if web:
        return {"pool_pre_ping": False, "pool_recycle": RECYCLE_AFTER, "pool_timeout": WEB_POOL_WAIT}
    return {"pool_pre_ping": True}


class Database:
    """Holds the runtime engine and hands out tenant-bound sessions."""

    def __init__(self, settings: Settings, *, web: bool = False):
        self.settings = settings
        self.engine: AsyncEngine = create_async_engine(
            settings.app_database_url, pool_size=10, max_overflow=10, **pool_options(web),
            **engine_options(settings),
        )
        if settings.count_queries:
            event.listen(self.engine.sync_engine, "before_cursor_execute", _count_query)
        # where a commit bumps the public page cache's generations (app.public.invalidation)
        self._sessions = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=TenantBoundSession,
            info={"redis_url": settings.redis_url, "database_name": self.engine.url.database,
                  "citus": settings.db_citus},
        )

    def session(self, tenant_id: int | None = None, user_id: int | None = None) -> AsyncSession:
        s = self._sessions()
        bind(s, tenant_id, user_id)
        return s

    @asynccontextmanager
    async def transaction(self, tenant_id: int | None = None, user_id: int | None = None) -> AsyncIterator[AsyncSession]:
        """A session whose work commits at the end of the block (rolls back on error)."""
        async with self.session(tenant_id, user_id) as s:
            async with s.begin():
                yield s

    async def dispose(self) -> None:
        await self.engine.dispose()


_SWITCH_SQL = text("SELECT set_config('app.tenant_id', :tenant_id, true)")


async def _switch(session: AsyncSession, tenant_id: int | None) -> None:
    if _citus(session):
        await session.execute(text(_set_local("tenant_id", tenant_id)))
    else:
        await session.execute(_SWITCH_SQL, {"tenant_id": "" if tenant_id is None else str(tenant_id)})
    session.info["bound_tenant_id"] = tenant_id


@asynccontextmanager
async def as_tenant(session: AsyncSession, tenant_id: int) -> AsyncIterator[AsyncSession]:
    """Work inside this transaction as ``tenant_id`` (row-level security follows), then go back to the
    tenant bound before — also when the block raises. The one way to cross tenants (joint stations);
    blocks nest. Callers write an audit entry in each tenant they write to."""
    await session.connection()  # begin the transaction first: it binds the session's own tenant
    previous = session.info.get("bound_tenant_id", session.info.get("tenant_id"))
    await _switch(session, tenant_id)
    try:
        yield session
    except BaseException:
        # A failed transaction refuses every statement (and its rollback drops the binding anyway);
        # after a refusal the transaction goes on, so the binding must be put back.
        with suppress(Exception):
            await _switch(session, previous)
        raise
    await _switch(session, previous)


@asynccontextmanager
async def across_shards(session: AsyncSession) -> AsyncIterator[None]:
    """A statement that reads several counties' rows on purpose (a person's own memberships): on Citus
    it goes to every shard, and says so here — where fan-out is refused (tests/citus: the runtime
    role's citus.multi_task_query_log_level = 'error') it is allowed for this block only. Nothing on
    one PostgreSQL."""
    if not _citus(session):
        yield
        return
    level = await session.scalar(text("SELECT current_setting('citus.multi_task_query_log_level')"))
    await session.execute(text("SET LOCAL citus.multi_task_query_log_level = 'off'"))
    try:
        yield
    finally:
        with suppress(Exception):  # a failed transaction refuses SET too; its rollback ends the setting
            await session.execute(text(f"SET LOCAL citus.multi_task_query_log_level = '{level}'"))


async def one_connection_per_node(session: AsyncSession) -> None:
    """On Citus, the rest of the transaction talks to each node over one connection. Citus refuses to
    change a reference table (users, tenants: written on every node) after a statement read a
    distributed table over several connections per node in the same transaction ("cannot modify
    table … because there was a parallel operation"). Call it before the first statement that reads
    across shards. Nothing on one PostgreSQL."""
    if _citus(session):
        await session.execute(text("SET LOCAL citus.multi_shard_modify_mode = 'sequential'"))


async def every_county(session: AsyncSession, statement: str, params: dict | None = None):
    """Call one of the cross-county functions of the worker and the operator (migration 0044: owned
    by the sweep role, one statement over every county, ids and counts only). On Citus that
    statement goes to every shard, on purpose (`across_shards`)."""
    async with across_shards(session):
        return await session.execute(text(statement), params or {})


async def attempt(session: AsyncSession, change: Awaitable[T]) -> T:
    """Await a service's change; a Refusal rolls back what it wrote before it goes on, so a page that
    shows the refusal reads the records as they were. (Tenant routes use ``ctx.attempt``.)"""
    try:
        return await change
    except Refusal:
        await session.rollback()
        raise


def bound_tenant(session: AsyncSession) -> int | None:
    """The tenant this session's current transaction works as."""
    return session.info.get("bound_tenant_id", session.info.get("tenant_id"))


# The scope state's key of the session a request's guard opened for the whole request (tenant pages:
# sign-in, membership and page in one transaction); whoever takes it closes it, and the request context
# middleware closes one nobody took (e.g. an OPTIONS answer), so no connection is left checked out.
REQUEST_DB = "request_db"


async def close_request_db(state: dict) -> None:
    leftover = state.pop(REQUEST_DB, None)
    if leftover is not None:
        await leftover.close()


async def bind_now(session: AsyncSession, tenant_id: int | None, user_id: int | None) -> None:
    """Bind the tenant and the user from here on: in the transaction already begun (so a request's
    guard and its page share one transaction and one connection) and in every later one."""
    session.info["tenant_id"] = tenant_id
    session.info["user_id"] = user_id
    session.info["bound_tenant_id"] = tenant_id
    if _citus(session):
        await _bind_with_set_local(session, tenant_id, user_id)
        return
    await session.execute(_BIND_SQL, {"tenant_id": "" if tenant_id is None else str(tenant_id),
                                      "user_id": "" if user_id is None else str(user_id)})


async def note_bound(session: AsyncSession, tenant_id: int | None, user_id: int | None) -> None:
    """Record a binding a statement of the caller has just made (``set_config`` in its select list):
    later transactions of the session bind the same, ``bound_tenant`` answers it. On Citus that
    set_config did not reach the workers: the binding is made again there with SET LOCAL."""
    session.info["tenant_id"] = tenant_id
    session.info["user_id"] = user_id
    session.info["bound_tenant_id"] = tenant_id
    if _citus(session):
        await _bind_with_set_local(session, tenant_id, user_id)


def bind(session: AsyncSession, tenant_id: int | None, user_id: int | None = None) -> None:
    """Set the tenant for the session's next transaction (takes effect at its begin)."""
    if session.in_transaction():
        raise RuntimeError("bind the tenant before the transaction begins")
    session.info["tenant_id"] = tenant_id
    session.info["user_id"] = user_id


# --- plain records ----------------------------------------------------------------------------
# What a request reads for every page (the session, its user, the tenant, the membership) is read with
# Core into these: no identity map, no instrumented attributes, nothing that a rollback expires. They
# carry the mapped class's attribute names, so code written for the ORM objects reads them alike.


class Record:
    __slots__ = ()
    _keys: tuple[str, ...] = ()
    columns: tuple = ()  # the table's columns, in the order the constructor takes their values

    def __repr__(self) -> str:  # the id only: a user's record holds its password hash and TOTP secret
        return f"<{type(self).__name__} id={getattr(self, 'id', None)!r}>"


def record_type(model: type) -> type:
    """A slotted class with ``model``'s column attributes, built from a row's values in column order:
    ``Rec(*row[i:i + len(Rec.columns)])``."""
    attrs = list(sa_inspect(model).column_attrs)
    keys = tuple(a.key for a in attrs)
    args = ", ".join(keys)
    body = "".join(f"\n    self.{k} = {k}" for k in keys)
    namespace: dict = {}
    exec(f"def __init__(self, {args}):{body}", namespace)  # plain assignments: the cheapest constructor
    return type(f"{model.__name__}Record", (Record,), {
        "__slots__": keys, "_keys": keys, "__init__": namespace["__init__"],
        "columns": tuple(a.columns[0] for a in attrs), "__module__": model.__module__,
    })
