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

from app.core.settings import derive_app_url, load_settings, to_async_url

TEST_DB = os.environ.get("TEST_DATABASE_NAME", "lianluo_test")
TABLES_TO_RESET = (
    "joint_attendance, joint_referrals, joint_deputies, joint_agreement_events, joint_agreements, deliveries, outbox, mailbox_openings, case_photos, case_events, cases, case_due_rules, handling_units, case_categories, "
    "activity_rules, suggestions, opinions, activity_photos, attendances, signin_codes, activity_invitations, "
    "activity_events, activities, activity_plans, activity_kinds, "
    "import_jobs, roster_contacts, roster_entries, deputy_commitments, station_staff, station_deputies, "
    "deputy_mandates, station_scores, checklist_items, station_goals, station_events, stations, station_kinds, "
    "deputies, deputy_groups, images, tenant_config, "
    "audit_log, invitations, memberships, admin_nodes, platform_audit_log, signup_applications, "
    "failed_logins, user_sessions, users, tenants"
)


@pytest.fixture(scope="session")
def servers():
    """(admin database URL on the server, redis URL)."""
    pg = os.environ.get("TEST_DATABASE_URL")
    redis = os.environ.get("TEST_REDIS_URL")
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


@pytest.fixture(scope="session")
def settings(servers, tmp_path_factory):
    admin_url, redis_url = servers
    _admin(f"DROP DATABASE IF EXISTS {TEST_DB} WITH (FORCE)", admin_url)
    _admin(f"CREATE DATABASE {TEST_DB}", admin_url)
    owner_url = make_url(admin_url).set(database=TEST_DB).render_as_string(hide_password=False)
    from app.cli import migrate

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


@pytest.fixture
def owner_sql(settings):
    """Run SQL as the owner role (test set-up and catalog checks only; the app never does this)."""

    async def run(sql: str, *args):
        import asyncpg

        url = make_url(settings.database_url)
        conn = await asyncpg.connect(
            user=url.username, password=url.password, host=url.query.get("host") or url.host,
            port=url.port, database=url.database,
        )
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    return run


@pytest.fixture(autouse=True)
async def clean_database(request, settings, owner_sql):
    if "no_db_reset" in request.keywords:
        yield
        return
    await owner_sql(f"TRUNCATE {TABLES_TO_RESET} RESTART IDENTITY CASCADE")
    yield


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
