"""Alembic runs as the owner role (DATABASE_URL); the runtime role only ever gets grants."""

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.settings import load_settings, to_async_url

config = context.config


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    # Operators give plain postgresql:// URLs; asyncpg is the driver we ship.
    url = to_async_url(config.attributes.get("database_url") or load_settings().database_url)
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


asyncio.run(_main())
