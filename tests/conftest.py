"""Test servers: the ones named by TEST_DATABASE_URL / TEST_REDIS_URL (.ci/run points them at this
machine's PostgreSQL and Redis), otherwise embedded ones started for the run. The schema is built
with Alembic as the owner, and everything else connects as the runtime role."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

# Cheap password hashes for the suite (each hash records its cost; tests/core/test_password_cost.py
# checks that production still uses argon2id at 19 MiB, t=2). Set before app.core.security loads.
os.environ.setdefault("LIANLUO_PASSWORD_HASH_COST", "test")

from app.core.settings import derive_app_url, load_settings, to_async_url
from app.wiring import plug_in
from tests.locks import taking_turns

plug_in()  # as every entry point does (app.wiring)

# pytest-xdist runs the suite in several processes: each gets its own database and Redis db number.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
TEST_DB = os.environ.get("TEST_DATABASE_NAME", "lianluo_test") + (f"_{XDIST_WORKER}" if XDIST_WORKER else "")
# Tables that migrations fill and tests must not empty.
SEEDED_BY_MIGRATIONS = {"alembic_version"}


def _worker_index() -> int:
    return int(XDIST_WORKER[2:]) if XDIST_WORKER.startswith("gw") else 0


def _worker_redis(url: str) -> str:
    """TEST_REDIS_URL names db N for the first process; the others count down from it."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss"} or not _worker_index():
        return url
    base = int(parts.path.strip("/") or 0)
    db = base - _worker_index()
    if db < 0:
        raise RuntimeError(f"TEST_REDIS_URL db {base} leaves no Redis db for xdist worker {XDIST_WORKER}")
    return urlunsplit(parts._replace(path=f"/{db}"))


@pytest.fixture(scope="session")
def servers():
    """(admin database URL on the server, redis URL)."""
    pg = os.environ.get("TEST_DATABASE_URL")
    redis = os.environ.get("TEST_REDIS_URL")
    redis = _worker_redis(redis) if redis else None
    embedded = None
    if not pg or not redis:
        from app.core.embedded import start_embedded

        embedded = start_embedded(Path(tempfile.mkdtemp(prefix="lianluo-test-")), temporary=True)
        pg = pg or embedded.database_url
        redis = redis or embedded.redis_url
    yield to_async_url(pg), redis
    if embedded is not None:
        embedded.stop()


def _admin(sql: str, admin_url: str) -> None:
    async def go():
        import asyncpg

        url = make_url(admin_url)
        conn = await asyncpg.connect(
            user=url.username, password=url.password, host=url.query.get("host") or url.host,
            port=url.port, database=url.database or "postgres",
        )
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


# LIANLUO_TEST_ON_CITUS=1: the tests run against the local Citus cluster (tests/citus/cluster.py) with
# LIANLUO_DB_CITUS on — tests/citus/test_isolation_on_citus.py runs tests/isolation so.
ON_CITUS = bool(os.environ.get("LIANLUO_TEST_ON_CITUS"))


def _citus_settings(redis_url: str, data_dir: Path):
    """A distributed database of this process's own on the cluster; "the owner" of the tests' own
    set-up (owner_sql, the table reset) is the superuser there, as on the single server."""
    from tests.citus.cluster import app_url, distributed_database

    owner_url, superuser_url = distributed_database(TEST_DB)
    return load_settings(database_url=superuser_url, app_database_url=app_url(owner_url), redis_url=redis_url,
                         data_dir=data_dir, secure_cookies=False, db_citus=True, count_queries=True,
                         allowed_hosts=["testserver.local", "localhost", "127.0.0.1"])


@pytest.fixture(scope="session")
def settings(servers, tmp_path_factory):
    admin_url, redis_url = servers
    os.environ["LIANLUO_SECRET_KEY"] = "test-secret-key-not-for-production"
    if ON_CITUS:
        return _citus_settings(redis_url, tmp_path_factory.mktemp("data"))
    _admin(f"DROP DATABASE IF EXISTS {TEST_DB} WITH (FORCE)", admin_url)
    _admin(f"CREATE DATABASE {TEST_DB}", admin_url)
    owner_url = make_url(admin_url).set(database=TEST_DB).render_as_string(hide_password=False)
    from app.cli import migrate

    # The runtime role is shared by every database on the server: processes that migrate at once
    # would race on CREATE/ALTER ROLE, so they take turns.
    with taking_turns(admin_url):
        migrate(owner_url)
    os.environ["LIANLUO_SECRET_KEY"] = "test-secret-key-not-for-production"
    return load_settings(
        database_url=owner_url,
        app_database_url=derive_app_url(owner_url, "lianluo_app", None),
        redis_url=redis_url,
        data_dir=tmp_path_factory.mktemp("data"),
        secure_cookies=False,
        allowed_hosts=["testserver.local", "localhost", "127.0.0.1"],
        count_queries=True,
    )


async def _owner_connection(settings):
    import asyncpg

    url = make_url(settings.database_url)
    return await asyncpg.connect(
        user=url.username, password=url.password, host=url.query.get("host") or url.host,
        port=url.port, database=url.database,
        # on Citus a transaction's SET LOCAL reaches the workers only with this
        server_settings={"citus.propagate_set_commands": "local"} if settings.db_citus else None,
    )


@pytest.fixture
def owner_sql(settings):
    """Run SQL as the owner role (test set-up and catalog checks only; the app never does this)."""

    async def run(sql: str, *args):
        conn = await _owner_connection(settings)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    return run


async def _reset_sql(fetch) -> list[str]:
    """One statement that empties every table and restarts their id sequences, read from the catalog
    (no list kept by hand), ~20x faster than TRUNCATE. The deletes are one statement so that foreign
    keys (NO ACTION, checked at its end) hold whatever the order and through cycles."""
    tables = sorted({r["name"] for r in await fetch(
        "SELECT relname AS name FROM pg_class WHERE relnamespace = 'public'::regnamespace "
        "AND relkind IN ('r', 'p')")} - SEEDED_BY_MIGRATIONS)
    sequences = [r["seq"] for r in await fetch(
        "SELECT s.oid::regclass::text AS seq FROM pg_class s JOIN pg_depend d ON d.objid = s.oid "
        "AND d.deptype IN ('a', 'i') JOIN pg_class t ON t.oid = d.refobjid "
        "WHERE s.relkind = 'S' AND t.relname = ANY($1::text[])", tables)]
    restarts = ", ".join(f"setval('{s}', 1, false)" for s in sequences) or "1"
    if ON_CITUS:  # no data-modifying CTE over several shards; TRUNCATE takes ~13 s there: one DELETE
        # a table, the foreign keys' triggers off (on the workers too: SET LOCAL is passed on), one
        # connection per node (parallel DML on a distributed table bars a reference table's after it)
        # (statement by statement: sent as one query string, Citus refuses it)
        return ["BEGIN", "SET LOCAL session_replication_role = replica",
                "SET LOCAL citus.multi_shard_modify_mode = 'sequential'", *(f"DELETE FROM {t}" for t in tables),
                f"SELECT {restarts}", "COMMIT"]
    deletes = ", ".join(f"d{i} AS (DELETE FROM {t})" for i, t in enumerate(tables))
    return [f"BEGIN; WITH {deletes} SELECT 1; SELECT {restarts}; COMMIT;"]


@pytest.fixture(scope="session")
async def reset_tables(settings):
    """Empties every table before a test, on one owner connection kept for the whole run."""
    conn = await _owner_connection(settings)
    statements = await _reset_sql(conn.fetch)

    async def reset():
        for statement in statements:
            await conn.execute(statement)

    yield reset
    await conn.close()


@pytest.fixture(scope="session")
def forget_cached_pages(settings):
    """Drops what the page and read caches kept (ids restart with every test: tenant 1 of one test must
    not find tenant 1's pages of the one before)."""
    from redis import Redis

    client = Redis.from_url(settings.redis_url)
    pattern = f"lp:{make_url(settings.app_database_url).database}:*"

    def forget():
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)

    yield forget
    client.close()


@pytest.fixture(autouse=True)
async def clean_database(reset_tables, forget_cached_pages):
    await reset_tables()
    forget_cached_pages()


@pytest.fixture
async def database(settings):
    from app.core.db import Database

    db = Database(settings)
    yield db
    await db.dispose()


@pytest.fixture(scope="session")
def app(settings):
    from app.main import create_app

    return create_app(settings)


@pytest.fixture
async def client(app):
    from litestar.testing import AsyncTestClient

    async with AsyncTestClient(app=app, base_url="http://testserver.local") as c:
        yield c
