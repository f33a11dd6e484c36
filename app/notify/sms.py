"""Sending SMS: the provider interface, the classified errors, and the Alibaba Cloud SMS client.

The interface (what the sweep, app.notify.sweep, relies on; a second provider implements the same):

    class SmsProvider(Protocol):
        async def send(self, *, mobile, template, params, text, reference) -> str
        async def query(self, *, mobile, sent_at, reference, provider_id) -> DeliveryReport | None

`send` returns the provider's message id or raises one of these (all `SendError`, `str()` is a short
reason without personal data):
  - `TransientSendError`: not sent, try again after a backoff (throttling, the provider's own
    trouble, no connection). `retry_after` may say how long to wait (an hour-level limit).
  - `DailyLimitError`: not sent; this number's daily limit is reached: try again after local
    midnight (Asia/Shanghai), without counting it as a failure.
  - `AccountHeldError`: not sent; the account cannot send at all (arrears): every SMS of the
    platform waits until a probe succeeds or an operator lifts the hold.
  - `PermanentSendError`: not sent, and trying again will not help (a bad number, a template the
    provider refuses, wrong credentials).
  - `UnknownOutcomeError`: the request may have reached the provider (a timeout after it was sent, a
    broken connection, an answer we cannot read). Providers are NOT idempotent (every accepted
    request is a new SMS, whatever its reference), so the sweep never sends such a row again blindly:
    it asks `query` first.
`query` says what the provider knows of the message sent to `mobile` around `sent_at` under
`reference` (our OutId, "<tenant id>-<outbox id>", the same for every attempt of a row) or
`provider_id` (when `send` returned one): a `DeliveryReport` (waiting for the handset's receipt,
delivered, or failed on the handset), or None when the provider clearly has no such message. It
raises a `SendError` when the provider cannot say (the sweep then asks again later, and after a while
hands the row to staff).

`HttpSmsProvider` speaks the RPC style of Alibaba Cloud SMS (API version 2017-05-25): `SendSms` and
`QuerySendDetails`. Every parameter is signed with HMAC-SHA1 over the sorted, percent-encoded query
(signature version 1.0) and POSTed as a form; answers are JSON ({"Code": "OK", ...} or
{"Code": "<error>", "Message": ...}). The error codes are read as the provider documents them:
`Throttling.*` (even with HTTP 400) and `isp.*` transient; `isv.BUSINESS_LIMIT_CONTROL` a per-number
limit (minute and hour level: transient after that long; day level, also `isv.DAY_LIMIT_CONTROL`:
the next day); `isv.AMOUNT_NOT_ENOUGH` and `isv.OUT_OF_SERVICE` arrears; anything else refused
permanent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx

from app.core.logs import scrub

API_VERSION = "2017-05-25"
PROVIDER_TZ = ZoneInfo("Asia/Shanghai")  # the provider's days (daily limits, SendDate of queries)
QUERY_PAGE_SIZE = 50  # the provider's maximum
QUERY_PAGES = 4  # at most this many pages of one number's day are read
ARREARS_CODES = {"isv.AMOUNT_NOT_ENOUGH", "isv.OUT_OF_SERVICE"}
DAY_LIMIT_CODES = {"isv.DAY_LIMIT_CONTROL"}
LIMIT_CODE = "isv.BUSINESS_LIMIT_CONTROL"  # per number: minute, hour or day level, said in Message
TRANSIENT_CODES = {"ServiceUnavailable", "InternalError", "SignatureNonceUsed"}
PERMANENT_CODES = {"isp.RAM_PERMISSION_DENY"}  # an isp.* code that no retry mends


class SendError(Exception):
    """A send (or a query) that did not go through; `str(error)` is a short reason without personal data."""

    def __init__(self, reason: str):
        super().__init__(scrub(reason)[:400])


class TransientSendError(SendError):
    """Not sent; try again later (connection refused, 5xx with the provider's code, throttled)."""

    def __init__(self, reason: str, retry_after: timedelta | None = None):
        super().__init__(reason)
        self.retry_after = retry_after


class DailyLimitError(SendError):
    """Not sent: the number's daily limit is reached; try again tomorrow (not a failure)."""


class AccountHeldError(SendError):
    """Not sent: the account cannot send (arrears); hold every SMS until it is topped up."""


class PermanentSendError(SendError):
    """Not sent, and trying again will not help (bad number, bad signature, unknown template)."""


class UnknownOutcomeError(SendError):
    """The request may have been accepted: ask the provider (`query`) before sending again."""


@dataclass(frozen=True)
class DeliveryReport:
    """What the provider knows of one message: `state` is "waiting" (accepted, no receipt yet),
    "delivered" or "failed" (on the handset; `error` is the carrier's code)."""

    state: str
    error: str | None = None
    received_at: datetime | None = None
    copies: int = 1  # how many accepted requests the provider holds under this reference


class SmsProvider(Protocol):
    async def send(self, *, mobile: str, template: str, params: dict, text: str, reference: str) -> str:
        """Send one SMS; returns the provider's message id (errors: see the module's docstring)."""
        ...

    async def query(self, *, mobile: str, sent_at: datetime, reference: str,
                    provider_id: str | None) -> DeliveryReport | None:
        """The provider's record of one message, None if it has none; raises SendError if it cannot say."""
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


def signed(action: dict, *, key_id: str, secret: str, method: str = "POST", now: datetime | None = None,
           nonce: str | None = None) -> dict[str, str]:
    """The common parameters around an action's own, signed."""
    now = now or datetime.now(timezone.utc)
    query = {
        "AccessKeyId": key_id, "Format": "JSON", "RegionId": "cn-hangzhou", "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": nonce or uuid.uuid4().hex, "SignatureVersion": "1.0",
        "Timestamp": now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "Version": API_VERSION,
        **action,
    }
    query["Signature"] = signature(method, query, secret)
    return query


def send_sms_params(*, key_id: str, secret: str, sign_name: str, mobile: str, template: str, params: dict,
                    reference: str, method: str = "POST", now: datetime | None = None,
                    nonce: str | None = None) -> dict[str, str]:
    """The complete, signed SendSms parameter set."""
    action = {
        "Action": "SendSms", "PhoneNumbers": mobile, "SignName": sign_name, "TemplateCode": template,
        "TemplateParam": json.dumps({k: "" if v is None else str(v) for k, v in (params or {}).items()},
                                    ensure_ascii=False, sort_keys=True),
        "OutId": reference,
    }
    return signed(action, key_id=key_id, secret=secret, method=method, now=now, nonce=nonce)


def query_params(*, key_id: str, secret: str, mobile: str, day: str, provider_id: str | None = None,
                 page: int = 1, now: datetime | None = None) -> dict[str, str]:
    """The signed QuerySendDetails parameter set for one number's day (yyyyMMdd, the provider's zone)."""
    action = {"Action": "QuerySendDetails", "PhoneNumber": mobile, "SendDate": day,
              "PageSize": str(QUERY_PAGE_SIZE), "CurrentPage": str(page)}
    if provider_id:
        action["BizId"] = provider_id
    return signed(action, key_id=key_id, secret=secret, now=now)


# --- the HTTP client ----------------------------------------------------------------------------------

class HttpSmsProvider:
    """Alibaba Cloud SMS over HTTPS (`SendSms`, `QuerySendDetails`); one pooled client."""

    def __init__(self, url: str, key_id: str, key_secret: str, sign_name: str, timeout: float = 5):
        self.url = url
        self.key_id = key_id
        self.key_secret = key_secret
        self.sign_name = sign_name
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # as many connections as the sweep has sends under way (sweep.TENANTS_AT_ONCE x CONCURRENCY)
            self._client = httpx.AsyncClient(timeout=self.timeout, limits=httpx.Limits(max_connections=64))
        return self._client

    async def _post(self, form: dict) -> httpx.Response:
        """POST a signed form. Failures before the request left (no connection, no free connection)
        are transient; after it may have left, the outcome is unknown."""
        try:
            return await self._http().post(self.url, data=form)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransientSendError(f"connection: {type(exc).__name__}") from None
        except httpx.TimeoutException:
            raise UnknownOutcomeError("timeout") from None
        except httpx.HTTPError as exc:
            raise UnknownOutcomeError(f"connection: {type(exc).__name__}") from None

    async def send(self, *, mobile: str, template: str, params: dict, text: str, reference: str) -> str:
        form = send_sms_params(key_id=self.key_id, secret=self.key_secret, sign_name=self.sign_name,
                               mobile=mobile, template=template, params=params, reference=reference)
        return _answer(await self._post(form))

    async def query(self, *, mobile: str, sent_at: datetime, reference: str,
                    provider_id: str | None = None) -> DeliveryReport | None:
        found: list[dict] = []
        for day in _days(sent_at):
            for page in range(1, QUERY_PAGES + 1):
                form = query_params(key_id=self.key_id, secret=self.key_secret, mobile=mobile, day=day,
                                    provider_id=provider_id, page=page)
                try:
                    details, total = _details(await self._post(form))
                except UnknownOutcomeError as exc:  # a query changes nothing: just "cannot say"
                    raise TransientSendError(f"query: {exc}") from None
                found += [d for d in details if str(d.get("OutId") or "") == reference]
                if page * QUERY_PAGE_SIZE >= total:
                    break
        return report(found)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _days(sent_at: datetime) -> list[str]:
    """The provider's day of the send, and the next one when the send was just before midnight."""
    local = sent_at.astimezone(PROVIDER_TZ)
    days = [local.strftime("%Y%m%d")]
    later = (local + timedelta(minutes=5)).strftime("%Y%m%d")
    return days + ([later] if later != days[0] else [])


def report(details: list[dict]) -> DeliveryReport | None:
    """One report from the provider's records of a reference (SendStatus 1 waiting, 2 failed, 3
    delivered): delivered if any copy was, else waiting if any copy still is, else failed."""
    if not details:
        return None
    states = {str(d.get("SendStatus")): d for d in details}
    if "3" in states:
        return DeliveryReport("delivered", received_at=_provider_time(states["3"].get("ReceiveDate")),
                              copies=len(details))
    if "1" in states:
        return DeliveryReport("waiting", copies=len(details))
    failed = states.get("2") or details[0]
    return DeliveryReport("failed", error=str(failed.get("ErrCode") or "")[:60] or None,
                          received_at=_provider_time(failed.get("ReceiveDate")), copies=len(details))


def _provider_time(value) -> datetime | None:
    try:
        return datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S").replace(tzinfo=PROVIDER_TZ)
    except (TypeError, ValueError):
        return None


def _body(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        body = {}
    return body if isinstance(body, dict) else {}


def _details(response: httpx.Response) -> tuple[list[dict], int]:
    body = _body(response)
    if response.status_code >= 400 or body.get("Code") != "OK":
        _raise(response, body)
    holder = body.get("SmsSendDetailDTOs") or {}
    details = holder.get("SmsSendDetailDTO") if isinstance(holder, dict) else holder
    details = [d for d in (details or []) if isinstance(d, dict)]
    try:
        total = int(body.get("TotalCount") or len(details))
    except (TypeError, ValueError):
        total = len(details)
    return details, total


def _answer(response: httpx.Response) -> str:
    body = _body(response)
    if response.status_code < 400 and body.get("Code") == "OK":
        biz_id = body.get("BizId")
        if not biz_id:
            raise UnknownOutcomeError("HTTP 200 without BizId")
        return str(biz_id)[:80]
    _raise(response, body)


def _raise(response: httpx.Response, body: dict):
    """The provider's refusal as a classified error."""
    code = str(body.get("Code") or "")
    message = str(body.get("Message") or "")
    detail = f"HTTP {response.status_code}" + (f" {code}" if code else "") + (f": {message}" if message else "")
    if code in ARREARS_CODES:
        raise AccountHeldError(detail)
    if code in DAY_LIMIT_CODES or (code == LIMIT_CODE and ("天" in message or "day" in message.lower())):
        raise DailyLimitError(detail)
    if code == LIMIT_CODE:
        hour = "小时" in message or "hour" in message.lower()
        raise TransientSendError(detail, timedelta(hours=1) if hour else timedelta(minutes=1))
    if code in PERMANENT_CODES:
        raise PermanentSendError(detail)
    if code.startswith("Throttling") or code.startswith("isp.") or code in TRANSIENT_CODES:
        raise TransientSendError(detail)
    if response.status_code == 429:
        raise TransientSendError(detail)
    if response.status_code >= 500:
        # a proxy's 502/504 without the provider's answer: the request may have gone through
        raise (TransientSendError if code else UnknownOutcomeError)(detail)
    raise PermanentSendError(detail)


class UnconfiguredSms:
    """No SMS provider configured (LIANLUO_SMS_URL unset): SMS wait and are retried, then fail, and
    the county admin is told; set the variable and restart the worker."""

    async def send(self, *, mobile: str, template: str, params: dict, text: str, reference: str) -> str:
        raise TransientSendError("no SMS provider configured (LIANLUO_SMS_URL)")

    async def query(self, *, mobile: str, sent_at: datetime, reference: str,
                    provider_id: str | None = None) -> DeliveryReport | None:
        raise TransientSendError("no SMS provider configured (LIANLUO_SMS_URL)")

    async def aclose(self) -> None:
        return None
