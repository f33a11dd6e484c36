"""Sessions live in PostgreSQL: with Redis unreachable, people still sign in and work."""

import dataclasses

from litestar.testing import AsyncTestClient

from app.main import create_app
from tests.factories import add_member, login, make_tenant, make_user


async def test_sign_in_and_pages_work_while_redis_is_down(settings, database):
    tenant = await make_tenant(database, "alpha")
    user = await make_user(database, "wang")
    await add_member(database, tenant, user)
    no_redis = dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0")
    async with AsyncTestClient(app=create_app(no_redis), base_url="http://testserver.local") as client:
        r = await login(client, "wang")
        assert r.status_code == 303
        page = await client.get("/t/alpha/")
        assert page.status_code == 200 and "alpha县人大常委会" in page.text
        # readiness depends on the database only: a load balancer keeps this node (its pages work);
        # Redis's state is in the body for the operator
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ok", "database": "ok", "redis": "unavailable"}
