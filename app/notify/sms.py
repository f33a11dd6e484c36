"""Sending SMS: the provider interface and a real HTTP client for a domestic SMS service.

`HttpSmsProvider` speaks the RPC style of Alibaba Cloud SMS `SendSms` (API version 2017-05-25): every
parameter (the common ones and PhoneNumbers, SignName, TemplateCode, TemplateParam, OutId) is signed
with HMAC-SHA1 over the sorted, percent-encoded query (signature version 1.0) and POSTed as a form.
The answer is JSON: {"Code": "OK", "BizId": "…", "RequestId": "…"} or {"Code": "<error>", "Message": …}.

`reference` (sent as OutId) is "<tenant id>-<outbox id>": the same for every attempt of one outbox
row, so a provider that keeps OutIds (and our fake gateway, app.notify.fake_gateway) treats a resend
after a crash as the same message.

Errors: `TransientSendError` (timeouts, connection errors, 5xx, throttling: try again later) and
`PermanentSendError` (4xx: a bad number, a bad signature, a missing template: never retried).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import datetime, timezone
from typing import Protocol
from urllib.parse import quote

import httpx

from app.core.logs import scrub

API_VERSION = "2017-05-25"
# Provider answers that are worth another try later (throttling, the provider's own trouble).
TRANSIENT_CODES = {"isp.SYSTEM_ERROR", "isv.BUSINESS_LIMIT_CONTROL", "Throttling", "Throttling.User",
                   "ServiceUnavailable", "InternalError"}


class SendError(Exception):
    """A send that did not go through; `str(error)` is a short reason without personal data."""

    def __init__(self, reason: str):
        super().__init__(scrub(reason)[:400])


class TransientSendError(SendError):
    """Try again later (timeout, connection refused, 5xx, throttled)."""


class PermanentSendError(SendError):
    """Trying again will not help (bad number, bad signature, unknown template)."""


class SmsProvider(Protocol):
    async def send(self, *, mobile: str, template: str, params: dict, text: str, reference: str) -> str:
        """Send one SMS; returns the provider's message id."""
        ...


# --- signing (shared with the fake gateway, which checks what the client signs) ------------------------

def percent_encode(value) -> str:
    """RFC 3986 encoding as the signature wants it: unreserved characters kept, space as %20."""
    return quote(str(value), safe="-_.~")


def canonical_query(params: dict) -> str:
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items())
                    if k != "Signature")


def signature(method: str, params: dict, secret: str) -> str:
    to_sign = f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def send_sms_params(*, key_id: str, secret: str, sign_name: str, mobile: str, template: str, params: dict,
                    reference: str, method: str = "POST", now: datetime | None = None,
                    nonce: str | None = None) -> dict[str, str]:
    """The complete, signed SendSms parameter set."""
    now = now or datetime.now(timezone.utc)
    query = {
        "AccessKeyId": key_id,
        "Action": "SendSms",
        "Format": "JSON",
        "PhoneNumbers": mobile,
        "RegionId": "cn-hangzhou",
        "SignName": sign_name,
        "TemplateCode": template,
        "TemplateParam": json.dumps({k: "" if v is None else str(v) for k, v in (params or {}).items()},
                                    ensure_ascii=False, sort_keys=True),
        "OutId": reference,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": nonce or uuid.uuid4().hex,
        "SignatureVersion": "1.0",
        "Timestamp": now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Version": API_VERSION,
    }
    query["Signature"] = signature(method, query, secret)
    return query


# --- the HTTP client ----------------------------------------------------------------------------------

class HttpSmsProvider:
    """A domestic SMS service over HTTPS (Alibaba Cloud SMS `SendSms` style); one pooled client."""

    def __init__(self, url: str, key_id: str, key_secret: str, sign_name: str, timeout: float = 5):
        self.url = url
        self.key_id = key_id
        self.key_secret = key_secret
        self.sign_name = sign_name
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout, limits=httpx.Limits(max_connections=40))
        return self._client

    async def send(self, *, mobile: str, template: str, params: dict, text: str, reference: str) -> str:
        form = send_sms_params(key_id=self.key_id, secret=self.key_secret, sign_name=self.sign_name,
                               mobile=mobile, template=template, params=params, reference=reference)
        try:
            response = await self._http().post(self.url, data=form)
        except httpx.TimeoutException:
            raise TransientSendError("timeout") from None
        except httpx.HTTPError as exc:
            raise TransientSendError(f"connection: {type(exc).__name__}") from None
        return _answer(response)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _answer(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = str(body.get("Code") or "")
    detail = f"HTTP {response.status_code}" + (f" {code}" if code else "")
    if body.get("Message"):
        detail += f": {body['Message']}"
    if response.status_code >= 500 or response.status_code == 429 or code in TRANSIENT_CODES:
        raise TransientSendError(detail)
    if response.status_code >= 400 or code != "OK":
        raise PermanentSendError(detail)
    biz_id = body.get("BizId")
    if not biz_id:
        raise TransientSendError("HTTP 200 without BizId")
    return str(biz_id)[:80]


class UnconfiguredSms:
    """No SMS provider configured (LIANLUO_SMS_URL unset): SMS wait and are retried, then fail, and
    the county admin is told; set the variable and restart the worker."""

    async def send(self, *, mobile: str, template: str, params: dict, text: str, reference: str) -> str:
        raise TransientSendError("no SMS provider configured (LIANLUO_SMS_URL)")

    async def aclose(self) -> None:
        return None
