"""A local fake SMS gateway for the demo and the tests: `python -m app sms-gateway --port 8025`.

It answers the SendSms request of app.notify.sms (GET query or POSTed form) like the real service:
  - checks the HMAC-SHA1 signature with its secret (env LIANLUO_SMS_KEY_ID / LIANLUO_SMS_KEY_SECRET,
    defaults lianluo-dev / lianluo-dev-secret): a bad one → 403 {"Code": "SignatureDoesNotMatch"};
  - a number that is not 11 digits starting with 1 → 400 {"Code": "isv.MOBILE_NUMBER_ILLEGAL"};
  - else keeps the message ONCE per OutId (a repeat with the same OutId answers the same BizId and is
    not kept again) → 200 {"Code": "OK", "BizId": …, "RequestId": …}.
Inspection and failure injection (tests, and the operator's page /ops/sms-gateway):
  GET /_messages  → {"gateway": "lianluo-fake-sms", "messages": [{biz_id, out_id, mobile, sign,
                     template, params, received_at}, …], "requests": <all SendSms requests, repeats too>}
  POST /_reset    → forget everything
  POST /_mode     {"mode": "ok" | "error500" | "timeout" | "slow", "delay_ms": 200, "times": n}: fail
                  (or delay) the next n SendSms requests, or all of them until changed. `timeout` holds
                  the request longer than any client waits and keeps nothing.
Messages live in memory only. Nothing is logged per request (the numbers are personal data).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from litestar import Litestar, Request, Response, get, post, route

from app.notify.sms import signature

GATEWAY_NAME = "lianluo-fake-sms"
DEFAULT_KEY_ID = "lianluo-dev"
DEFAULT_KEY_SECRET = "lianluo-dev-secret"
TIMEOUT_HOLD_SECONDS = 30.0
MODES = ("ok", "error500", "timeout", "slow")
_MOBILE = re.compile(r"1\d{10}")


@dataclass
class GatewayState:
    key_id: str
    key_secret: str
    messages: list[dict] = field(default_factory=list)
    by_out_id: dict[str, str] = field(default_factory=dict)
    requests: int = 0
    mode: str = "ok"
    delay_ms: int = 200
    times_left: int | None = None  # None: until changed

    def reset(self) -> None:
        self.messages.clear()
        self.by_out_id.clear()
        self.requests = 0
        self.mode, self.delay_ms, self.times_left = "ok", 200, None

    def take_mode(self) -> tuple[str, int]:
        """The failure mode for this request (counting down `times`)."""
        if self.mode == "ok":
            return "ok", 0
        mode, delay = self.mode, self.delay_ms
        if self.times_left is not None:
            self.times_left -= 1
            if self.times_left <= 0:
                self.mode, self.times_left = "ok", None
        return mode, delay


def _answer(status: int, body: dict) -> Response:
    return Response(content=body, status_code=status, media_type="application/json")


def _check(state: GatewayState, method: str, params: dict) -> Response | None:
    """The provider's own refusals, in its order: credentials and signature, action, number."""
    given = params.get("Signature", "")
    if params.get("AccessKeyId") != state.key_id or not given or given != signature(method, params, state.key_secret):
        return _answer(403, {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched."})
    if params.get("Action") != "SendSms":
        return _answer(400, {"Code": "InvalidAction", "Message": "Only SendSms is served here."})
    if not _MOBILE.fullmatch(params.get("PhoneNumbers", "")):
        return _answer(400, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "Invalid mobile number."})
    try:
        template_params = json.loads(params.get("TemplateParam") or "{}")
    except ValueError:
        template_params = None
    if not isinstance(template_params, dict):
        return _answer(400, {"Code": "isv.INVALID_JSON_PARAM", "Message": "TemplateParam is not a JSON object."})
    if not params.get("TemplateCode") or not params.get("SignName"):
        return _answer(400, {"Code": "isv.SMS_TEMPLATE_ILLEGAL", "Message": "Template or sign name missing."})
    return None


def _keep(state: GatewayState, params: dict) -> str:
    out_id = params.get("OutId", "")
    if out_id and out_id in state.by_out_id:
        return state.by_out_id[out_id]
    biz_id = f"{len(state.messages) + 1:06d}^{uuid.uuid4().hex[:12]}"
    state.messages.append({
        "biz_id": biz_id, "out_id": out_id, "mobile": params["PhoneNumbers"], "sign": params.get("SignName", ""),
        "template": params.get("TemplateCode", ""), "params": json.loads(params.get("TemplateParam") or "{}"),
        "received_at": datetime.now(timezone.utc).isoformat(),
    })
    if out_id:
        state.by_out_id[out_id] = biz_id
    return biz_id


async def _send_sms(state: GatewayState, method: str, params: dict) -> Response:
    state.requests += 1
    mode, delay = state.take_mode()
    if mode == "error500":
        return _answer(500, {"Code": "isp.SYSTEM_ERROR", "Message": "The gateway failed (injected)."})
    if mode == "timeout":
        await asyncio.sleep(TIMEOUT_HOLD_SECONDS)
        return _answer(504, {"Code": "isp.SYSTEM_ERROR", "Message": "Timed out (injected)."})
    if mode == "slow":
        await asyncio.sleep(delay / 1000)
    refusal = _check(state, method, params)
    if refusal is not None:
        return refusal
    biz_id = _keep(state, params)
    return _answer(200, {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": uuid.uuid4().hex})


def create_gateway(key_id: str | None = None, key_secret: str | None = None) -> Litestar:
    state = GatewayState(
        key_id=key_id or os.environ.get("LIANLUO_SMS_KEY_ID") or DEFAULT_KEY_ID,
        key_secret=key_secret or os.environ.get("LIANLUO_SMS_KEY_SECRET") or DEFAULT_KEY_SECRET,
    )

    @route("/", http_method=["GET", "POST"])
    async def send_sms(request: Request) -> Response:
        params = {k: v for k, v in request.query_params.items()}
        if request.method == "POST":
            form = await request.form()
            params.update({k: str(v) for k, v in form.items()})
        return await _send_sms(state, request.method, params)

    @get("/_messages")
    async def messages() -> Response:
        return _answer(200, {"gateway": GATEWAY_NAME, "messages": state.messages, "requests": state.requests})

    @post("/_reset")
    async def reset() -> Response:
        state.reset()
        return _answer(200, {"ok": True})

    @post("/_mode")
    async def set_mode(request: Request) -> Response:
        try:
            body = await request.json()
            mode, delay_ms, times = body["mode"], int(body.get("delay_ms") or 200), int(body.get("times") or 0)
        except Exception:  # not JSON, not an object, not numbers
            mode = None
        if mode not in MODES:
            return _answer(400, {"error": f"send {{\"mode\": one of {', '.join(MODES)}, \"delay_ms\", \"times\"}}"})
        state.mode, state.delay_ms = mode, max(0, delay_ms)
        state.times_left = times if times > 0 and mode != "ok" else None
        return _answer(200, {"mode": state.mode, "delay_ms": state.delay_ms, "times": state.times_left})

    app = Litestar(route_handlers=[send_sms, messages, reset, set_mode], debug=False)
    app.state.gateway = state
    return app


def serve(host: str = "127.0.0.1", port: int = 8025) -> None:
    import uvicorn

    # held "timeout" requests must not delay a shutdown
    uvicorn.run(create_gateway(), host=host, port=port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=1)
