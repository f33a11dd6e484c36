"""Every response, errors included, carries the security headers; caching and compression follow
DESIGN.md; CSRF holds for plain forms and htmx alike; HSTS and Secure cookies when configured."""

from __future__ import annotations

import dataclasses

import pytest
from litestar.testing import AsyncTestClient

from tests.factories import add_member, csrf_from, login, make_tenant, make_user


def assert_security_headers(r, *, hsts: bool = False) -> None:
    csp = r.headers.get("content-security-policy", "")
    where = f"{r.request.method} {r.request.url.path} -> {r.status_code}"
    assert csp, f"no CSP on {where}"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, where
    assert "frame-ancestors 'none'" in csp, where
    assert "default-src 'self'" in csp and "object-src 'none'" in csp, where
    assert r.headers.get("x-content-type-options") == "nosniff", where
    assert r.headers.get("referrer-policy") in ("same-origin", "no-referrer", "strict-origin-when-cross-origin"), where
    if hsts:
        assert "max-age=" in r.headers.get("strict-transport-security", ""), where
        max_age = int(r.headers["strict-transport-security"].split("max-age=")[1].split(";")[0])
        assert max_age >= 180 * 86400, where


@pytest.fixture
async def member(database):
    tenant = await make_tenant(database, "alpha")
    user = await make_user(database, "wang")
    await add_member(database, tenant, user)
    return user


async def responses_of_every_kind(client, app) -> dict[str, object]:
    """A normal page, 404, 403, 413, 400 (twice), 405, static file, /healthz: one of each."""
    out = {"page": await client.get("/login"), "404": await client.get("/no-such-page")}
    out["403"] = await client.post("/login", data={"login": "x", "password": "y", "_csrf_token": "forged"})
    token = csrf_from(out["page"].text)
    limit = app.state.settings.max_body_bytes
    out["413"] = await client.post(
        "/login", content=(b"login=wang&password=" + b"x" * limit)[: limit + 1],
        headers={"content-type": "application/x-www-form-urlencoded", "x-csrftoken": token},
    )
    out["400"] = await client.post("/login", data={"login": "", "password": "", "_csrf_token": token})
    out["400-form"] = await client.post(
        "/login", content=b"login=\xff&password=x",
        headers={"content-type": "application/x-www-form-urlencoded", "x-csrftoken": token},
    )
    out["405"] = await client.delete("/login", headers={"x-csrftoken": token})
    out["static"] = await client.get(app.state.static.url("app.css"))
    out["static-404"] = await client.get("/static/app.css")  # unhashed names are not served
    out["healthz"] = await client.get("/healthz")
    return out


async def test_security_headers_on_every_kind_of_response(client, app):
    got = await responses_of_every_kind(client, app)
    expected = {"page": 200, "404": 404, "403": 403, "413": 413, "400": 400, "400-form": 400, "405": 405, "static": 200, "static-404": 404,
                "healthz": 200}
    assert {k: r.status_code for k, r in got.items()} == expected
    for r in got.values():
        assert_security_headers(r)
        assert "strict-transport-security" not in r.headers  # plain-HTTP development settings
        assert r.headers.get("x-request-id")


async def test_security_headers_on_a_server_error(settings, member):
    """An error page: the database is unreachable when the session cookie is looked up (a 503)."""
    from app.main import create_app

    broken = create_app(dataclasses.replace(
        settings, app_database_url="postgresql+asyncpg://lianluo_app@127.0.0.1:1/nowhere"
    ))
    async with AsyncTestClient(app=broken, base_url="http://testserver.local") as c:
        c.cookies.set("lianluo_session", "some-session-token")
        r = await c.get("/t/alpha/")
    assert r.status_code == 503
    assert_security_headers(r)
    assert r.headers["cache-control"] == "no-store"
    assert "暂时无法访问" in r.text
    assert "Traceback" not in r.text and "nowhere" not in r.text and "asyncpg" not in r.text


async def test_disallowed_host_is_refused_with_headers(client):
    r = await client.get("/login", headers={"host": "evil.example"})
    assert r.status_code == 400
    assert_security_headers(r)
    assert "evil.example" not in r.text


async def test_dynamic_pages_are_not_stored(client, member):
    for r in (await client.get("/login"), await client.get("/no-such-page")):
        assert r.headers["cache-control"] == "no-store"
    await login(client, "wang")
    r = await client.get("/t/alpha/")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert_security_headers(r)


async def test_static_files_are_immutable_revalidated_and_compressed(client, app):
    for logical in ("app.css", "htmx-2.0.11.min.js"):
        url = app.state.static.url(logical)
        r = await client.get(url, headers={"accept-encoding": "br"})
        assert r.status_code == 200
        assert "immutable" in r.headers["cache-control"] and "max-age=31536000" in r.headers["cache-control"]
        assert r.headers["content-encoding"] == "br"
        assert r.content == (app.state.static.by_name[logical].raw)  # httpx decoded the brotli body
        assert "set-cookie" not in r.headers  # no CSRF cookie on static files
        etag = r.headers["etag"]
        again = await client.get(url, headers={"if-none-match": etag})
        assert again.status_code == 304 and again.content == b""
        assert_security_headers(again)
        gz = await client.get(url, headers={"accept-encoding": "gzip"})
        assert gz.headers["content-encoding"] == "gzip"
        plain = await client.get(url, headers={"accept-encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert plain.content == app.state.static.by_name[logical].raw


async def test_dynamic_pages_are_compressed_with_brotli(client):
    r = await client.get("/login", headers={"accept-encoding": "br"})
    assert r.status_code == 200
    assert r.headers.get("content-encoding") == "br"
    assert "登录" in r.text


async def test_hsts_and_secure_cookies_when_configured(settings, member):
    from app.main import create_app

    secure = create_app(dataclasses.replace(settings, secure_cookies=True))
    async with AsyncTestClient(app=secure, base_url="https://testserver.local") as c:
        page = await c.get("/login")
        assert_security_headers(page, hsts=True)
        assert "secure" in page.headers["set-cookie"].lower()  # the CSRF cookie
        r = await login(c, "wang")
        assert r.status_code == 303
        cookie = next(v for v in r.headers.get_list("set-cookie") if v.startswith("lianluo_session="))
        attributes = [a.strip().lower() for a in cookie.split(";")]
        assert "secure" in attributes and "httponly" in attributes and "samesite=lax" in attributes
        assert_security_headers(r, hsts=True)
        assert_security_headers(await c.get("/no-such-page"), hsts=True)
        assert_security_headers(await c.get("/healthz"), hsts=True)
        assert_security_headers(await c.get(secure.state.static.url("app.css")), hsts=True)
        lang = await c.get("/lang/en?next=/login", follow_redirects=False)
        assert "secure" in [a.strip().lower() for a in lang.headers["set-cookie"].split(";")]


async def test_htmx_post_needs_the_csrf_header(client, member):
    await login(client, "wang")
    page = await client.get("/t/alpha/")
    token = csrf_from(page.text)
    assert f'"x-csrftoken": "{token}"' in page.text  # what htmx sends on every request
    htmx = {"hx-request": "true", "hx-current-url": "http://testserver.local/t/alpha/"}
    refused = await client.post("/logout", headers=htmx, follow_redirects=False)
    assert refused.status_code == 403
    assert_security_headers(refused)
    assert (await client.get("/t/alpha/", follow_redirects=False)).status_code == 200  # still signed in
    wrong = await client.post("/logout", headers={**htmx, "x-csrftoken": token[:-4] + "AAAA"}, follow_redirects=False)
    assert wrong.status_code == 403
    accepted = await client.post("/logout", headers={**htmx, "x-csrftoken": token}, follow_redirects=False)
    assert accepted.status_code in (200, 303)
    assert (await client.get("/t/alpha/", follow_redirects=False)).status_code == 303  # signed out
