async def test_healthz(client):
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    assert "default-src 'self'" in r.headers["content-security-policy"]


async def test_readyz_reports_database_and_redis(client):
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok", "database": "ok", "redis": "ok"}
