"""A local fake SMS gateway for the demo and the tests: `python -m app sms-gateway --port 8025`.

It answers app.notify.sms (GET query or POSTed form) like Alibaba Cloud SMS:
  - checks the HMAC-SHA1 signature with its secret (env LIANLUO_SMS_KEY_ID / LIANLUO_SMS_KEY_SECRET,
    defaults lianluo-dev / lianluo-dev-secret): a bad one → 403 {"Code": "SignatureDoesNotMatch"};
  - SendSms: a number that is not 11 digits starting with 1 → 400 {"Code": "isv.MOBILE_NUMBER_ILLEGAL"};
    the provider's template rules, each answered 200 with the documented Code as the real service does:
    a TemplateCode that is not registered → isv.SMS_TEMPLATE_ILLEGAL, a variable of the template left
    out → isv.TEMPLATE_MISSING_PARAMETERS, a variable that reads as an address →
    isv.PARAM_NOT_SUPPORT_URL, one empty or longer than 35 characters → isv.PARAM_LENGTH_LIMIT. The
    registered templates are ours: one per SMS kind (app.notify.sms_templates), under the codes of
    LIANLUO_SMS_TEMPLATES (default LIANLUO_<KIND>);
    else EVERY accepted request is a new SMS, as at the real provider, which does not dedupe on OutId
    → 200 {"Code": "OK", "BizId": …, "RequestId": …}. (`dedupe` mode keeps one per OutId instead,
    only to show the difference.)
  - QuerySendDetails (PhoneNumber, SendDate yyyyMMdd, optional BizId, PageSize ≤ 50, CurrentPage):
    {"Code": "OK", "TotalCount": n, "SmsSendDetailDTOs": {"SmsSendDetailDTO": [{PhoneNum, SendStatus
    (1 waiting for the receipt, 2 failed, 3 delivered), ErrCode, TemplateCode, Content, SendDate,
    ReceiveDate, OutId}, …]}}; a message is delivered `receipt_delay_ms` after it was accepted (or
    failed on the handset, per the receipt mode when it was accepted).
Inspection and failure injection (tests, and the operator's page /ops/sms-gateway):
  GET /_messages  → {"gateway": "lianluo-fake-sms", "messages": [{biz_id, out_id, copy, mobile, sign,
                     template, params, received_at}, … one per accepted request], "accepted": n,
                     "repeats": {out_id: accepted requests, for every OutId accepted more than once},
                     "requests": <all SendSms requests, refused ones too>, "queries": <QuerySendDetails>}
  POST /_reset    → forget everything
  POST /_mode     {"mode": one of MODES, "delay_ms": 200, "times": n, "dedupe": false,
                   "receipt": "delivered" | "failed" | "none", "receipt_delay_ms": 0,
                   "query": "ok" | "error", "templates": "registered" | "any"}:
                  fail (or delay) the next n SendSms requests, or all of them
                  until changed. Modes: `error500` (isp.SYSTEM_ERROR), `timeout` (held longer than any
                  client waits, nothing kept), `slow` (answered after delay_ms), `late` (accepted and
                  kept at once, answered after delay_ms: a client that gives up earlier does not know),
                  `throttle` (400 Throttling.Api), `minute_limit`/`day_limit`
                  (isv.BUSINESS_LIMIT_CONTROL), `arrears` (isv.AMOUNT_NOT_ENOUGH), `out_of_service`.
                  `templates: any` accepts any TemplateCode and variables (tests of the protocol
                  alone); `_reset` brings back `registered`.
Messages live in memory only. Nothing is logged per request (the numbers are personal data).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from litestar import Litestar, Request, Response, get, post, route

from app.core.settings import _templates
from app.notify.sms import signature
from app.notify.sms_templates import URL_LIKE, VALUE_MAX, sms_kinds, variables

GATEWAY_NAME = "lianluo-fake-sms"
DEFAULT_KEY_ID = "lianluo-dev"
DEFAULT_KEY_SECRET = "lianluo-dev-secret"
TIMEOUT_HOLD_SECONDS = 30.0
MODES = ("ok", "error500", "timeout", "slow", "late", "throttle", "minute_limit", "day_limit", "arrears",
         "out_of_service")
RECEIPTS = ("delivered", "failed", "none")
TEMPLATE_RULES = ("registered", "any")
PROVIDER_TZ = ZoneInfo("Asia/Shanghai")
_MOBILE = re.compile(r"1\d{10}")
# the provider's refusals per mode: HTTP status, Code, Message
REFUSALS = {
    "error500": (500, "isp.SYSTEM_ERROR", "The gateway failed (injected)."),
    "throttle": (400, "Throttling.Api", "Request was denied due to api flow control."),
    "minute_limit": (200, "isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1"),
    "day_limit": (200, "isv.BUSINESS_LIMIT_CONTROL", "触发天级流控Permits:10"),
    "arrears": (200, "isv.AMOUNT_NOT_ENOUGH", "账户余额不足"),
    "out_of_service": (200, "isv.OUT_OF_SERVICE", "业务停机"),
}


@dataclass
class GatewayState:
    key_id: str
    key_secret: str
    messages: list[dict] = field(default_factory=list)
    copies: Counter = field(default_factory=Counter)  # accepted requests per OutId
    requests: int = 0
    queries: int = 0
    mode: str = "ok"
    delay_ms: int = 200
    times_left: int | None = None  # None: until changed
    dedupe: bool = False
    receipt: str = "delivered"
    receipt_delay_ms: int = 0
    query_mode: str = "ok"
    registered: dict[str, tuple[str, ...]] = field(default_factory=dict)  # TemplateCode → its variables
    templates: str = "registered"  # "any": template rules off

    def reset(self) -> None:
        self.messages.clear()
        self.copies.clear()
        self.requests = self.queries = 0
        self.mode, self.delay_ms, self.times_left = "ok", 200, None
        self.dedupe, self.receipt, self.receipt_delay_ms, self.query_mode = False, "delivered", 0, "ok"
        self.templates = "registered"

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

    def set(self, body: dict) -> str | None:
        """Apply a /_mode request; an error text when it is malformed (nothing changed then)."""
        try:
            mode = body.get("mode", self.mode)
            delay_ms, times = int(body.get("delay_ms") or 200), int(body.get("times") or 0)
            receipt, query = body.get("receipt", self.receipt), body.get("query", self.query_mode)
            receipt_delay = int(body.get("receipt_delay_ms", self.receipt_delay_ms) or 0)
            templates = body.get("templates", self.templates)
        except (AttributeError, TypeError, ValueError):
            return "send a JSON object"
        if (mode not in MODES or receipt not in RECEIPTS or query not in ("ok", "error")
                or templates not in TEMPLATE_RULES):
            return (f"mode: one of {', '.join(MODES)}; receipt: one of {', '.join(RECEIPTS)}; query: ok | error; "
                    f"templates: {' | '.join(TEMPLATE_RULES)}")
        self.templates = templates
        self.mode, self.delay_ms = mode, max(0, delay_ms)
        self.times_left = times if times > 0 and mode != "ok" else None
        self.receipt, self.receipt_delay_ms, self.query_mode = receipt, max(0, receipt_delay), query
        if "dedupe" in body:
            self.dedupe = bool(body["dedupe"])
        return None

    def view(self) -> dict:
        return {"mode": self.mode, "delay_ms": self.delay_ms, "times": self.times_left, "dedupe": self.dedupe,
                "receipt": self.receipt, "receipt_delay_ms": self.receipt_delay_ms, "query": self.query_mode,
                "templates": self.templates}


def registered_templates(codes: str) -> dict[str, tuple[str, ...]]:
    """The templates an operator registered (docs/sms-templates.md): TemplateCode → its variables, one per
    SMS kind, under the codes of `codes` ("kind=CODE,…", LIANLUO_SMS_TEMPLATES; the default code as in
    Settings.sms_template)."""
    chosen = _templates(codes)
    return {chosen.get(kind) or f"LIANLUO_{kind.upper()}": variables(kind) for kind in sms_kinds()}


def _answer(status: int, body: dict) -> Response:
    return Response(content=body, status_code=status, media_type="application/json")


def _signed(state: GatewayState, method: str, params: dict) -> Response | None:
    given = params.get("Signature", "")
    if params.get("AccessKeyId") != state.key_id or not given or given != signature(method, params, state.key_secret):
        return _answer(403, {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched."})
    return None


def _check(state: GatewayState, params: dict) -> Response | None:
    """The provider's own refusals of a SendSms, in its order: number, parameters, template."""
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
    return _template_rules(state, params["TemplateCode"], template_params)


def _refused(code: str, message: str) -> Response:
    """A business refusal: the real service answers these with HTTP 200 and the Code."""
    return _answer(200, {"Code": code, "Message": message, "RequestId": uuid.uuid4().hex})


def _template_rules(state: GatewayState, template: str, values: dict) -> Response | None:
    """Alibaba Cloud SMS's template rules: a registered template, all its variables, each 1–35
    characters and none an address (the domain belongs in the approved template text)."""
    if state.templates == "any":
        return None
    wanted = state.registered.get(template)
    if wanted is None:
        return _refused("isv.SMS_TEMPLATE_ILLEGAL", "模板不合法")
    if any(name not in values for name in wanted):
        return _refused("isv.TEMPLATE_MISSING_PARAMETERS", "短信模板变量缺少参数")
    texts = [str(values[name]) for name in wanted]
    if any(URL_LIKE.search(text) for text in texts):
        return _refused("isv.PARAM_NOT_SUPPORT_URL", "不支持url为变量")
    if any(not 1 <= len(text) <= VALUE_MAX for text in texts):
        return _refused("isv.PARAM_LENGTH_LIMIT", "变量长度受限")
    return None


def _keep(state: GatewayState, params: dict) -> str:
    """Every accepted request is a new message (unless the dedupe mode is on)."""
    out_id = params.get("OutId", "")
    if state.dedupe and out_id and state.copies[out_id]:
        return next(m["biz_id"] for m in state.messages if m["out_id"] == out_id)
    biz_id = f"{len(state.messages) + 1:06d}^{uuid.uuid4().hex[:12]}"
    state.copies[out_id] += 1
    now = datetime.now(timezone.utc)
    state.messages.append({
        "biz_id": biz_id, "out_id": out_id, "copy": state.copies[out_id], "mobile": params["PhoneNumbers"],
        "sign": params.get("SignName", ""), "template": params.get("TemplateCode", ""),
        "params": json.loads(params.get("TemplateParam") or "{}"), "received_at": now.isoformat(),
        "receipt": state.receipt, "receipt_at": (now + timedelta(milliseconds=state.receipt_delay_ms)).isoformat(),
    })
    return biz_id


def _ok(biz_id: str) -> Response:
    return _answer(200, {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": uuid.uuid4().hex})


async def _send_sms(state: GatewayState, params: dict) -> Response:
    state.requests += 1
    mode, delay = state.take_mode()
    if mode in REFUSALS:
        status, code, message = REFUSALS[mode]
        return _answer(status, {"Code": code, "Message": message, "RequestId": uuid.uuid4().hex})
    if mode == "timeout":
        await asyncio.sleep(TIMEOUT_HOLD_SECONDS)
        return _answer(504, {"Code": "isp.SYSTEM_ERROR", "Message": "Timed out (injected)."})
    if mode == "slow":
        await asyncio.sleep(delay / 1000)
    refusal = _check(state, params)
    if refusal is not None:
        return refusal
    biz_id = _keep(state, params)
    if mode == "late":  # accepted and kept; the answer comes after the client stopped waiting
        await asyncio.sleep(delay / 1000)
    return _ok(biz_id)


def _provider_time(value: str) -> str:
    return datetime.fromisoformat(value).astimezone(PROVIDER_TZ).strftime("%Y-%m-%d %H:%M:%S")


def _detail(m: dict, now: datetime) -> dict:
    """One SmsSendDetailDTO: waiting until its receipt is due, then delivered or failed."""
    due = m["receipt"] != "none" and datetime.fromisoformat(m["receipt_at"]) <= now
    status = (3 if m["receipt"] == "delivered" else 2) if due else 1
    return {"PhoneNum": m["mobile"], "SendStatus": status,
            "ErrCode": {1: "", 2: "MK:0001", 3: "DELIVERED"}[status], "TemplateCode": m["template"],
            "Content": json.dumps(m["params"], ensure_ascii=False), "SendDate": _provider_time(m["received_at"]),
            "ReceiveDate": _provider_time(m["receipt_at"]) if due else "", "OutId": m["out_id"]}


def _query(state: GatewayState, params: dict) -> Response:
    state.queries += 1
    if state.query_mode == "error":
        return _answer(500, {"Code": "isp.SYSTEM_ERROR", "Message": "The query failed (injected)."})
    day, mobile = params.get("SendDate", ""), params.get("PhoneNumber", "")
    try:
        size, page = int(params.get("PageSize") or 10), int(params.get("CurrentPage") or 1)
    except ValueError:
        size = page = 0
    if not re.fullmatch(r"\d{8}", day) or not _MOBILE.fullmatch(mobile) or not 1 <= size <= 50 or page < 1:
        return _answer(400, {"Code": "isv.INVALID_PARAMETERS", "Message": "PhoneNumber, SendDate, PageSize."})
    now = datetime.now(timezone.utc)
    found = [m for m in state.messages if m["mobile"] == mobile
             and datetime.fromisoformat(m["received_at"]).astimezone(PROVIDER_TZ).strftime("%Y%m%d") == day
             and (not params.get("BizId") or m["biz_id"] == params["BizId"])]
    shown = found[(page - 1) * size: page * size]
    return _answer(200, {"Code": "OK", "Message": "OK", "RequestId": uuid.uuid4().hex, "TotalCount": len(found),
                         "SmsSendDetailDTOs": {"SmsSendDetailDTO": [_detail(m, now) for m in shown]}})


async def _serve(state: GatewayState, method: str, params: dict) -> Response:
    refusal = _signed(state, method, params)
    if refusal is not None:
        if params.get("Action") == "SendSms":
            state.requests += 1
        return refusal
    if params.get("Action") == "SendSms":
        return await _send_sms(state, params)
    if params.get("Action") == "QuerySendDetails":
        return _query(state, params)
    return _answer(400, {"Code": "InvalidAction", "Message": "Only SendSms and QuerySendDetails are served here."})


def create_gateway(key_id: str | None = None, key_secret: str | None = None) -> Litestar:
    state = GatewayState(
        key_id=key_id or os.environ.get("LIANLUO_SMS_KEY_ID") or DEFAULT_KEY_ID,
        key_secret=key_secret or os.environ.get("LIANLUO_SMS_KEY_SECRET") or DEFAULT_KEY_SECRET,
        registered=registered_templates(os.environ.get("LIANLUO_SMS_TEMPLATES", "")),
    )

    @route("/", http_method=["GET", "POST"])
    async def send_sms(request: Request) -> Response:
        params = {k: v for k, v in request.query_params.items()}
        if request.method == "POST":
            form = await request.form()
            params.update({k: str(v) for k, v in form.items()})
        return await _serve(state, request.method, params)

    @get("/_messages")
    async def messages() -> Response:
        return _answer(200, {"gateway": GATEWAY_NAME, "messages": state.messages, "accepted": len(state.messages),
                             "repeats": {k: n for k, n in state.copies.items() if n > 1},
                             "requests": state.requests, "queries": state.queries, "mode": state.view()})

    @post("/_reset")
    async def reset() -> Response:
        state.reset()
        return _answer(200, {"ok": True})

    @post("/_mode")
    async def set_mode(request: Request) -> Response:
        try:
            body = await request.json()
        except Exception:  # not JSON
            body = None
        error = state.set(body) if isinstance(body, dict) else "send a JSON object"
        if error:
            return _answer(400, {"error": error})
        return _answer(200, state.view())

    app = Litestar(route_handlers=[send_sms, messages, reset, set_mode], debug=False)
    app.state.gateway = state
    return app


def serve(host: str = "127.0.0.1", port: int = 8025) -> None:
    import uvicorn

    # held "timeout" requests must not delay a shutdown
    uvicorn.run(create_gateway(), host=host, port=port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=1)
