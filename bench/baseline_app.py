"""The bare-stack baseline that bench/throughput.py measures the product against (issue 20).

The same stack and versions as the product (Litestar and granian from the venv, SQLAlchemy's async
engine over asyncpg, Jinja) with none of the product: one page that opens one transaction as the
runtime role, binds the tenant the way app.core.db does (set_config of app.tenant_id and app.user_id,
transaction-local), reads 50 rows of a table under forced row-level security (the tenant's
activities, newest first: the `activities_starts` index) and renders them in a small Jinja template.
No sessions, CSRF, compression, request logging or middleware: the floor a page of the product stands on.

Served by granian as the product is (`--interface asgi --factory`), from the checkout's root:

    BASELINE_DATABASE_URL=postgresql+asyncpg://lianluo_app@127.0.0.1/lianluo_bench BASELINE_TENANT=santai \\
      .venv/bin/python -m granian --interface asgi --factory --workers 2 bench.baseline_app:create_app

GET and POST (a form body, read and ignored) answer the same page, so the product's POST pages have a
baseline that reads a body too. The X-Rows header says how many rows were read.

Two more shapes give the POSTs a second comparison, the same kind of work on the bare stack (printed
beside the page's ratio, never instead of it):
- POST /baseline/login: a user's password hash read by name and checked with argon2id at the
  product's cost (in a thread, as the product does), a cookie set, 303 — the floor of any sign-in
  that hashes as DESIGN.md asks.
- POST /baseline/opinion/{slug}/{station_id}: what registering a villager's opinion writes, as plain
  statements in one committed transaction with the tenant bound — the station in operation and the
  county's limits read, the case, its first history step, the staff's notice, the audit entry and the
  rating code inserted, then the station's lock taken and the last hour's opinions counted (the product's order and
  statements, app.cases.public) — and a small receipt page: the same work without the product's layers.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from jinja2 import DictLoader, Environment, select_autoescape
from litestar import Litestar, Request, Response, post, route
from litestar.logging.config import LoggingConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.template import TemplateConfig
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

ROWS = 50
PATH = "/baseline"
LOGIN_PATH = "/baseline/login"
OPINION_PATH = "/baseline/opinion/{slug:str}/{station_id:int}"
# The same binding statement as app.core.db's, then the page's one query.
BIND = text("SELECT set_config('app.tenant_id', :tenant_id, true), set_config('app.user_id', :user_id, true)")
SELECT = text("SELECT id, starts_at, place, topic, status FROM activities "
              "ORDER BY starts_at DESC, id DESC LIMIT :rows")
FIND_USER = text("SELECT id, password_hash FROM users WHERE username = :login")
LIMITS = text("SELECT public_limit_per_client, public_limit_per_station FROM tenant_config WHERE tenant_id = :tenant_id")
STATION = text("SELECT id, node_id, name FROM stations WHERE id = :station_id AND status = 'active'")
CASE = text("INSERT INTO cases (tenant_id, receipt_code, source, content, node_id, station_id, client_hash) "
            "VALUES (:tenant_id, :code, 'online', :content, :node_id, :station_id, :client) RETURNING id")
EVENT = text("INSERT INTO case_events (tenant_id, case_id, action, to_state, data, public) "
             "VALUES (:tenant_id, :case_id, 'registered', 'registered', '{\"source\": \"online\"}', true)")
NOTICE = text("INSERT INTO work_notices (tenant_id, kind, subject, case_id, station_id, node_id, state) "
              "VALUES (:tenant_id, 'new_case', :subject, :case_id, :station_id, :node_id, 'registered')")
AUDIT = text("INSERT INTO audit_log (tenant_id, action, target) VALUES (:tenant_id, 'case_registered', :subject)")
RATING = text("INSERT INTO case_rating_codes (tenant_id, case_id, digest, sent_by) "
              "VALUES (:tenant_id, :case_id, :digest, 'receipt')")
LOCK = text("SELECT pg_advisory_xact_lock(hashtext('public-case'), hashtext(:key))")
COUNT = text("SELECT count(*) FILTER (WHERE client_hash = :client), count(*) FILTER (WHERE station_id = :station_id) "
             "FROM cases WHERE source = 'online' AND created_at > now() - interval '1 hour' "
             "AND (client_hash = :client OR station_id = :station_id)")
CODE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
# the product's production cost (app.core.security.PRODUCTION_HASH_COST), written out: no product code here
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
WRITTEN = """<!doctype html>
<html lang="zh-Hans"><head><meta charset="utf-8"><title>已收到</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>已收到</h1><p>{{ content }}</p></main></body></html>
"""
PAGE = """<!doctype html>
<html lang="zh-Hans"><head><meta charset="utf-8"><title>{{ title }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>{{ title }}</h1>
<table><thead><tr><th>编号</th><th>时间</th><th>地点</th><th>主题</th><th>状态</th></tr></thead>
<tbody>{% for row in rows %}
<tr><td>{{ row.id }}</td><td>{{ row.starts_at.strftime("%Y-%m-%d %H:%M") }}</td><td>{{ row.place }}</td>
<td>{{ row.topic }}</td><td>{{ row.status }}</td></tr>{% endfor %}
</tbody></table></main></body></html>
"""


def create_app() -> Litestar:
    """Read BASELINE_DATABASE_URL (the runtime role's URL) and BASELINE_TENANT (a tenant's slug) from
    the environment."""
    url = os.environ["BASELINE_DATABASE_URL"].replace("postgresql://", "postgresql+asyncpg://", 1)
    slug = os.environ.get("BASELINE_TENANT", "santai")
    # The product's pool size, without its pre-ping: the bare stack's cost per checkout.
    engine = create_async_engine(url, pool_size=10, max_overflow=10)
    tenant: dict[str, str] = {}
    counties: dict[str, int | None] = {}  # the opinion's county by slug

    async def find_tenant() -> None:
        # once per process, at start: the tenants table is not under row-level security
        async with engine.connect() as conn:
            found = await conn.scalar(text("SELECT id FROM tenants WHERE slug = :slug"), {"slug": slug})
        if found is None:
            raise RuntimeError(f"no tenant {slug!r} in the database (load the demo)")
        tenant["id"] = str(found)

    @route(PATH, http_method=["GET", "POST"])
    async def page(request: Request) -> Response:
        if request.method == "POST":
            await request.form()
        async with engine.begin() as conn:
            await conn.execute(BIND, {"tenant_id": tenant["id"], "user_id": ""})
            rows = (await conn.execute(SELECT, {"rows": ROWS})).all()
        return Template("page.html", context={"title": "活动", "rows": rows}, headers={"X-Rows": str(len(rows))})

    @post(LOGIN_PATH, status_code=303)
    async def login(request: Request) -> Response:
        form = await request.form()
        async with engine.connect() as conn:
            user = (await conn.execute(FIND_USER, {"login": str(form.get("login", ""))})).first()
        try:
            ok = user is not None and await asyncio.to_thread(HASHER.verify, user.password_hash,
                                                               str(form.get("password", "")))
        except VerificationError:
            ok = False
        if not ok:
            return Response("wrong", status_code=401)
        response = Redirect("/baseline", status_code=303)
        response.set_cookie("session", secrets.token_urlsafe(32), httponly=True, samesite="lax")
        return response

    @post(OPINION_PATH, status_code=200)
    async def opinion(request: Request, slug: str, station_id: int) -> Response:
        if slug not in counties:  # once per process and county, as `find_tenant` (no row-level security)
            async with engine.connect() as conn:
                counties[slug] = await conn.scalar(text("SELECT id FROM tenants WHERE slug = :slug"), {"slug": slug})
        county = counties[slug]
        if county is None:
            return Response("no such county", status_code=404)
        form = await request.form()
        content = str(form.get("content", "")).strip()[:1000]
        code = "".join(secrets.choice(CODE_LETTERS) for _ in range(10))
        client = hashlib.sha256(f"{county}:{request.headers.get('x-forwarded-for', '')}".encode()).hexdigest()
        async with engine.begin() as conn:
            await conn.execute(BIND, {"tenant_id": str(county), "user_id": ""})
            station = (await conn.execute(STATION, {"station_id": station_id})).first()
            if station is None:
                return Response("no such station", status_code=404)
            ids = {"tenant_id": county, "station_id": station.id, "node_id": station.node_id}
            await conn.execute(LIMITS, ids)
            case_id = await conn.scalar(CASE, {**ids, "code": code, "content": content, "client": client})
            subject = f"case:{case_id}"
            await conn.execute(EVENT, {**ids, "case_id": case_id})
            await conn.execute(NOTICE, {**ids, "case_id": case_id, "subject": subject})
            await conn.execute(AUDIT, {**ids, "subject": subject})
            rating = "".join(secrets.choice(CODE_LETTERS) for _ in range(10))
            await conn.execute(RATING, {**ids, "case_id": case_id, "digest": hashlib.sha256(rating.encode()).digest()})
            await conn.execute(LOCK, {"key": f"{county}:{station.id}"})
            await conn.execute(COUNT, {"client": client, "station_id": station.id})
        return Template("written.html", context={"content": f"{station.name} {code} {rating} {content}"})

    environment = Environment(loader=DictLoader({"page.html": PAGE, "written.html": WRITTEN}), autoescape=select_autoescape(default=True))

    async def dispose() -> None:
        await engine.dispose()

    return Litestar(route_handlers=[page, login, opinion], on_startup=[find_tenant], on_shutdown=[dispose],
                    logging_config=LoggingConfig(log_exceptions="always"),  # a 500's cause in the log; else silent
                    template_config=TemplateConfig(engine=JinjaTemplateEngine.from_environment(environment)))
