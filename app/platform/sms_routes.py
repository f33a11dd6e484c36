"""The operator's SMS pages.

- /ops/sms: the platform's SMS provider (app.platform.sms_status): the provider in use, last success
  and failure, the error rate of the last hour and day, the hold while the account is in arrears with
  a button to lift it (audited), the open alerts, and the counties with messages that need attention.
- /ops/sms-gateway: the local fake SMS gateway: every request it accepted (each one an SMS, as at the
  real provider), newest first, mobile numbers masked, with how many accepted requests each outbox
  reference had (more than one: a person got the message twice). Only a gateway on this machine is
  asked; a real provider is named and never queried from here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlparse

import httpx
from litestar import Request, Response, get, post
from sqlalchemy import select

from app.accounts.access import current_auth
from app.core.errors import Refusal
from app.core.security import mask_mobile
from app.core.web import client_addr, page, see_other
from app.notify.fake_gateway import GATEWAY_NAME
from app.platform import sms_status
from app.platform.access import requires_operator
from app.platform.routes import when
from app.tenancy.models import Tenant

SHOWN = 200
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
# personal sign-in links and invitation links carry a secret at the end of the path
_SECRET_LINK = re.compile(r"(https?://[^/\s]+/(?:signin|join)/[^/\s]+/)[^\s]+")


@dataclass
class GatewayView:
    state: str  # "unset" | "remote" | "down" | "ok"
    where: str = ""  # scheme://host:port of the configured provider
    messages: list[dict] | None = None
    received: int = 0
    requests: int = 0
    repeats: dict[str, int] | None = None  # outbox reference → accepted requests, where more than one


def _where(url: str) -> str:
    parsed = urlparse(url)
    return f"{parsed.scheme}://{parsed.hostname or ''}{f':{parsed.port}' if parsed.port else ''}"


async def read_gateway(url: str) -> GatewayView:
    if not url:
        return GatewayView("unset")
    where = _where(url)
    if urlparse(url).hostname not in LOCAL_HOSTS:
        return GatewayView("remote", where)
    try:
        async with httpx.AsyncClient(timeout=3) as client:
            answer = (await client.get(url.rstrip("/") + "/_messages")).json()
    except (httpx.HTTPError, ValueError):
        return GatewayView("down", where)
    if not isinstance(answer, dict) or answer.get("gateway") != GATEWAY_NAME:
        return GatewayView("remote", where)
    messages = list(answer.get("messages") or [])
    repeats = answer.get("repeats") if isinstance(answer.get("repeats"), dict) else {}
    return GatewayView("ok", where, messages=messages[::-1][:SHOWN], received=len(messages),
                       requests=int(answer.get("requests") or 0), repeats=repeats)


def _shown_params(params) -> str:
    if not isinstance(params, dict):
        return ""
    return "; ".join(f"{k}={_hide_secret(str(v))[:80]}" for k, v in params.items())


def _hide_secret(value: str) -> str:
    return _SECRET_LINK.sub(r"\1…", value)


def _received(value: str) -> str:
    try:
        return when(datetime.fromisoformat(value))
    except (TypeError, ValueError):
        return ""


async def _county_names(request: Request, messages: list[dict]) -> dict[int, str]:
    ids = {int(m["out_id"].split("-")[0]) for m in messages
           if str(m.get("out_id", "")).split("-")[0].isdigit()}
    if not ids:
        return {}
    async with request.app.state.db.session() as db:
        return dict((await db.execute(select(Tenant.id, Tenant.name).where(Tenant.id.in_(ids)))).all())


@get("/ops/sms-gateway", guards=[requires_operator])
async def sms_gateway(request: Request) -> Response:
    view = await read_gateway(request.app.state.settings.sms_url)
    rows = []
    if view.messages:
        counties = await _county_names(request, view.messages)
        for m in view.messages:
            tenant = str(m.get("out_id", "")).split("-")[0]
            rows.append({
                "received": _received(m.get("received_at")), "mobile": mask_mobile(m.get("mobile")),
                "county": counties.get(int(tenant), "") if tenant.isdigit() else "",
                "sign": m.get("sign", ""), "template": m.get("template", ""), "params": _shown_params(m.get("params")),
                "biz_id": m.get("biz_id", ""), "out_id": m.get("out_id", ""),
                "copies": (view.repeats or {}).get(m.get("out_id", ""), 1),
            })
    return page(request, "platform/sms_gateway.html", view=view, rows=rows, shown=SHOWN)


# --- the provider's status ---------------------------------------------------------------------------


async def _status_page(request: Request, status_code: int = 200, **context) -> Response:
    settings = request.app.state.settings
    async with request.app.state.db.session() as db:
        view = await sms_status.provider_health(db, provider=settings.sms_provider, url=settings.sms_url)
    return page(request, "platform/sms_status.html", status_code=status_code, view=view, when=when,
                PROVIDER_NAMES=sms_status.PROVIDER_NAMES, ALERT_NAMES=sms_status.ALERT_NAMES, **context)


@get("/ops/sms", guards=[requires_operator])
async def sms_status_page(request: Request, done: str = "") -> Response:
    return await _status_page(request, done=done == "lifted")


@post("/ops/sms/lift", guards=[requires_operator])
async def lift_sms_hold(request: Request) -> Response:
    auth = current_auth(request)
    async with request.app.state.db.session() as db:
        try:
            await sms_status.lift_hold(db, actor=auth.user, client_addr=client_addr(request))
        except Refusal as refusal:
            return await _status_page(request, status_code=409, error=refusal.text())
    return see_other("/ops/sms?done=lifted")


route_handlers = [sms_gateway, sms_status_page, lift_sms_hold]
