"""A local fake of Tencent Cloud SMS (API 2021-01-11) for the tests and a demo:
`python -m app.notify.fake_tencent --port 8027`.

It behaves like the real service where it matters for exactly-once delivery:
  - checks the TC3-HMAC-SHA256 Authorization (SecretId / SecretKey: env LIANLUO_SMS_KEY_ID /
    LIANLUO_SMS_KEY_SECRET, defaults lianluo-dev / lianluo-dev-secret; SmsSdkAppId: env
    LIANLUO_SMS_TENCENT_APP_ID, default 1400000000) and the timestamp (5 minutes);
  - every accepted SendSms is a new SMS with a new SerialNo: it never dedupes (the real service keeps
    no idempotence key; SessionContext is only echoed). `/_messages` counts repeats per SessionContext;
  - answers HTTP 200 with {"Response": {"Error": {...}}} for a refused request and a per-number
    `SendStatusSet[].Code` ("Ok" when accepted), with Tencent's documented codes;
  - PullSmsSendStatusByPhoneNumber returns the delivery reports of a number within a time range.
Failure injection (POST /_mode, JSON): {"mode": m, "delay_ms": 200, "times": n, "code": "…"} for the
next n SendSms (or all until changed):
  ok | slow (answer after delay_ms) | timeout (hold the request past any client's timeout, keep nothing)
  | accepted_timeout (keep the SMS, then hold the answer past the client's timeout: a lost answer)
  | http502 | error (answer Error.Code `code`) | status (accept the request, per-number Code `code`).
POST /_config {"balance": n | null, "daily_limit": n | null, "reports": "success" | "fail" | "pending"}:
the SMS package's balance (0 → FailedOperation.InsufficientBalanceInSmsPackage), the per-number
daily limit (→ LimitExceeded.PhoneNumberDailyLimit) and what reports new messages get.
Messages live in memory only; nothing is logged per request (the numbers are personal data).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from litestar import Litestar, Request, Response, get, post

from app.notify.sms_tencent import API_VERSION, DEFAULT_APP_ID, SERVICE, tc3_authorization

GATEWAY_NAME = "lianluo-fake-tencent-sms"
DEFAULT_KEY_ID = "lianluo-dev"
DEFAULT_KEY_SECRET = "lianluo-dev-secret"
TIMEOUT_HOLD_SECONDS = 30.0
MODES = ("ok", "slow", "timeout", "accepted_timeout", "http502", "error", "status")
REPORTS = ("success", "fail", "pending")
_MOBILE = re.compile(r"(?:\+86|0086|86)?(1\d{10})")
_URL = re.compile(r"https?://|www\.|\b[\w-]+\.(?:cn|com|net|org)\b", re.IGNORECASE)
_AUTH = re.compile(r"TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d{2}-\d{2})/([\w-]+)/tc3_request, "
                   r"SignedHeaders=content-type;host, Signature=([0-9a-f]{64})")


@dataclass
class FakeState:
    secret_id: str
    secret_key: str
    app_id: str
    messages: list[dict] = field(default_factory=list)
    requests: int = 0
    mode: str = "ok"
    code: str = ""
    delay_ms: int = 200
    times_left: int | None = None
    balance: int | None = None  # None: unlimited
    daily_limit: int | None = None
    reports: str = "success"

    def reset(self) -> None:
        self.messages.clear()
        self.requests = 0
        self.mode, self.code, self.delay_ms, self.times_left = "ok", "", 200, None
        self.balance, self.daily_limit, self.reports = None, None, "success"

    def take_mode(self) -> tuple[str, str, int]:
        if self.mode == "ok":
            return "ok", "", 0
        taken = (self.mode, self.code, self.delay_ms)
        if self.times_left is not None:
            self.times_left -= 1
            if self.times_left <= 0:
                self.mode, self.code, self.times_left = "ok", "", None
        return taken

    def view(self) -> dict:
        repeats: dict[str, int] = {}
        for message in self.messages:
            repeats[message["session_context"]] = repeats.get(message["session_context"], 0) + 1
        return {"gateway": GATEWAY_NAME, "messages": self.messages, "requests": self.requests,
                "duplicates": {ref: n for ref, n in repeats.items() if ref and n > 1}}


def _answer(body: dict, status: int = 200) -> Response:
    return Response(content={"Response": {**body, "RequestId": str(uuid.uuid4())}}, status_code=status,
                    media_type="application/json")


def _error(code: str, message: str) -> Response:
    return _answer({"Error": {"Code": code, "Message": message}})


def _refuse_auth(state: FakeState, headers, payload: bytes) -> Response | None:
    """The API gateway's own checks: credentials, signature, timestamp, version."""
    match = _AUTH.fullmatch(headers.get("authorization", ""))
    if not match:
        return _error("AuthFailure.InvalidAuthorization", "Authorization is not TC3-HMAC-SHA256.")
    if match.group(1) != state.secret_id:
        return _error("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
    try:
        timestamp = int(headers.get("x-tc-timestamp", ""))
    except ValueError:
        return _error("MissingParameter", "X-TC-Timestamp is missing.")
    expected = tc3_authorization(secret_id=state.secret_id, secret_key=state.secret_key, service=SERVICE,
                                 host=headers.get("host", ""), timestamp=timestamp, payload=payload,
                                 content_type=headers.get("content-type", ""))
    if headers.get("authorization") != expected:
        return _error("AuthFailure.SignatureFailure", "The provided credentials could not be validated.")
    if abs(time.time() - timestamp) > 300:
        return _error("AuthFailure.SignatureExpire", "Signature expired.")
    if headers.get("x-tc-version") != API_VERSION:
        return _error("NoSuchVersion", "The API version does not exist.")
    return None


def _refuse_send(state: FakeState, body: dict) -> Response | None:
    """SendSms's request-level refusals, in the real service's terms."""
    if body.get("SmsSdkAppId") != state.app_id:
        return _error("UnauthorizedOperation.SmsSdkAppIdVerifyFail", "SmsSdkAppId verify failed.")
    numbers = body.get("PhoneNumberSet")
    if not isinstance(numbers, list) or not numbers:
        return _error("MissingParameter.EmptyPhoneNumberSet", "PhoneNumberSet is empty.")
    if len(numbers) > 200:
        return _error("LimitExceeded.PhoneNumberCountLimit", "More than 200 numbers.")
    if any(isinstance(n, str) and n.startswith("+") and not n.startswith("+86") for n in numbers):
        return _error("UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber",
                      "Domestic and international numbers in one request.")
    values = body.get("TemplateParamSet") or []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        return _error("InvalidParameter", "TemplateParamSet must be a list of strings.")
    if any(_URL.search(v) for v in values):
        return _error("InvalidParameterValue.ProhibitedUseUrlInTemplateParameter", "No URL in a variable.")
    if not body.get("TemplateId") or not body.get("SignName"):
        return _error("FailedOperation.TemplateIncorrectOrUnapproved", "Template or sign name missing.")
    return None


def _sent_today(state: FakeState, mobile: str) -> int:
    today = datetime.now(timezone.utc).date().isoformat()
    return sum(1 for m in state.messages if m["mobile"] == mobile and m["received_at"].startswith(today))


def _one_number(state: FakeState, body: dict, number, forced: str) -> dict:
    """Send to one number: its SendStatus, keeping the message when accepted."""
    status = {"SerialNo": "", "PhoneNumber": str(number), "Fee": 0, "SessionContext": body.get("SessionContext", ""),
              "IsoCode": "CN"}
    match = _MOBILE.fullmatch(number) if isinstance(number, str) else None
    code = forced or (
        "InvalidParameterValue.IncorrectPhoneNumber" if not match else
        "FailedOperation.InsufficientBalanceInSmsPackage" if state.balance is not None and state.balance <= 0 else
        "LimitExceeded.PhoneNumberDailyLimit" if state.daily_limit is not None
        and _sent_today(state, match.group(1)) >= state.daily_limit else "Ok")
    if code != "Ok":
        return {**status, "Code": code, "Message": code}
    serial = f"{int(time.time())}:{uuid.uuid4().int % 10**20:020d}"
    now = datetime.now(timezone.utc)
    state.messages.append({
        "serial_no": serial, "session_context": body.get("SessionContext", ""), "mobile": match.group(1),
        "sign": body.get("SignName", ""), "template": body.get("TemplateId", ""),
        "params": list(body.get("TemplateParamSet") or []), "received_at": now.isoformat(),
        "report": state.reports,
    })
    if state.balance is not None:
        state.balance -= 1
    return {**status, "SerialNo": serial, "Fee": 1, "Code": "Ok", "Message": "send success"}


async def _send_sms(state: FakeState, body: dict) -> Response:
    state.requests += 1
    mode, code, delay = state.take_mode()
    if mode == "http502":
        return Response(content="<html>502 Bad Gateway</html>", status_code=502, media_type="text/html")
    if mode == "timeout":
        await asyncio.sleep(TIMEOUT_HOLD_SECONDS)
        return _error("InternalError.Timeout", "Timed out (injected).")
    if mode == "slow":
        await asyncio.sleep(delay / 1000)
    if mode == "error":
        return _error(code or "InternalError", "Injected error.")
    refusal = _refuse_send(state, body)
    if refusal is not None:
        return refusal
    statuses = [_one_number(state, body, n, code if mode == "status" else "") for n in body["PhoneNumberSet"]]
    if mode == "accepted_timeout":
        await asyncio.sleep(TIMEOUT_HOLD_SECONDS)  # kept, but the client gives up before the answer
    return _answer({"SendStatusSet": statuses})


def _pull_status(state: FakeState, body: dict) -> Response:
    if body.get("SmsSdkAppId") != state.app_id:
        return _error("UnauthorizedOperation.SmsSdkAppIdVerifyFail", "SmsSdkAppId verify failed.")
    match = _MOBILE.fullmatch(str(body.get("PhoneNumber") or ""))
    try:
        begin, end, limit = int(body["BeginTime"]), int(body.get("EndTime") or time.time()), int(body["Limit"])
    except (KeyError, TypeError, ValueError):
        return _error("InvalidParameterValue.BeginTimeVerifyFail", "BeginTime / Limit missing.")
    if not match:
        return _error("InvalidParameterValue.IncorrectPhoneNumber", "Incorrect phone number.")
    found = []
    for m in state.messages:
        at = int(datetime.fromisoformat(m["received_at"]).timestamp())
        if m["mobile"] == match.group(1) and begin <= at <= end and m["report"] != "pending":
            found.append({"UserReceiveTime": at + 1, "CountryCode": "86", "SubscriberNumber": m["mobile"],
                          "PhoneNumber": f"+86{m['mobile']}", "SerialNo": m["serial_no"],
                          "ReportStatus": "SUCCESS" if m["report"] == "success" else "FAIL",
                          "Description": "DELIVRD" if m["report"] == "success" else "UNDELIV",
                          "SessionContext": m["session_context"]})
    return _answer({"PullSmsSendStatusSet": found[:max(0, min(limit, 100))]})


def create_fake(secret_id: str | None = None, secret_key: str | None = None, app_id: str | None = None) -> Litestar:
    state = FakeState(
        secret_id=secret_id or os.environ.get("LIANLUO_SMS_KEY_ID") or DEFAULT_KEY_ID,
        secret_key=secret_key or os.environ.get("LIANLUO_SMS_KEY_SECRET") or DEFAULT_KEY_SECRET,
        app_id=app_id or os.environ.get("LIANLUO_SMS_TENCENT_APP_ID") or DEFAULT_APP_ID,
    )

    @post("/", status_code=200)
    async def api(request: Request) -> Response:
        payload = await request.body()
        refusal = _refuse_auth(state, request.headers, payload)
        if refusal is not None:
            return refusal
        try:
            body = json.loads(payload or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _error("FailedOperation.JsonParseFail", "The body is not a JSON object.")
        action = request.headers.get("x-tc-action")
        if action == "SendSms":
            return await _send_sms(state, body)
        if action == "PullSmsSendStatusByPhoneNumber":
            return _pull_status(state, body)
        return _error("InvalidAction", "Only SendSms and PullSmsSendStatusByPhoneNumber are served here.")

    @get("/_messages")
    async def messages() -> Response:
        return Response(content=state.view(), media_type="application/json")

    @post("/_reset", status_code=200)
    async def reset() -> dict:
        state.reset()
        return {"ok": True}

    @post("/_mode", status_code=200)
    async def set_mode(data: dict) -> Response:
        mode = data.get("mode")
        if mode not in MODES:
            return Response(content={"error": f"mode: one of {', '.join(MODES)}"}, status_code=400)
        times = int(data.get("times") or 0)
        state.mode, state.code = mode, str(data.get("code") or "")
        state.delay_ms = max(0, int(data.get("delay_ms") or 200))
        state.times_left = times if times > 0 and mode != "ok" else None
        return Response(content={"mode": state.mode, "code": state.code, "times": state.times_left})

    @post("/_config", status_code=200)
    async def configure(data: dict) -> Response:
        if data.get("reports", state.reports) not in REPORTS:
            return Response(content={"error": f"reports: one of {', '.join(REPORTS)}"}, status_code=400)
        for key in ("balance", "daily_limit"):
            if key in data:
                setattr(state, key, None if data[key] is None else int(data[key]))
        state.reports = data.get("reports", state.reports)
        return Response(content={"balance": state.balance, "daily_limit": state.daily_limit,
                                 "reports": state.reports})

    app = Litestar(route_handlers=[api, messages, reset, set_mode, configure], debug=False)
    app.state.fake = state
    return app


def serve(host: str = "127.0.0.1", port: int = 8027) -> None:
    import uvicorn

    # held "timeout" requests must not delay a shutdown
    uvicorn.run(create_fake(), host=host, port=port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=1)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="A local fake of Tencent Cloud SMS.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8027)
    arguments = parser.parse_args()
    serve(arguments.host, arguments.port)
