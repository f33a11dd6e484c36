"""as_tenant switches the row-level-security tenant for a block of one transaction and puts the
previous one back, also when the block raises."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.core.db import as_tenant, bound_tenant
from app.core.errors import Refusal
from tests.factories import make_tenant

NODES = text("SELECT count(*) FROM admin_nodes")
SETTING = text("SELECT current_setting('app.tenant_id', true)")


async def _two_counties(database):
    alpha = await make_tenant(database, "alpha")
    beta = await make_tenant(database, "beta", nodes=[("城关镇", "township"), ("河坝乡", "township")])
    return alpha, beta


async def test_block_sees_the_other_tenant_and_the_binding_comes_back(database):
    alpha, beta = await _two_counties(database)
    async with database.transaction(tenant_id=alpha.id) as db:
        own = await db.scalar(NODES)
        async with as_tenant(db, beta.id):
            assert bound_tenant(db) == beta.id
            other = await db.scalar(NODES)
            async with as_tenant(db, alpha.id):  # blocks nest
                assert await db.scalar(NODES) == own
            assert await db.scalar(NODES) == other
        assert await db.scalar(SETTING) == str(alpha.id)
        assert await db.scalar(NODES) == own
    assert own != other


async def test_a_refusal_inside_the_block_still_restores_the_binding(database):
    alpha, beta = await _two_counties(database)
    async with database.transaction(tenant_id=alpha.id) as db:
        with pytest.raises(Refusal):
            async with as_tenant(db, beta.id):
                raise Refusal("No.")
        assert bound_tenant(db) == alpha.id
        assert await db.scalar(SETTING) == str(alpha.id)
