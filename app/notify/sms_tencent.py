"""Tencent Cloud SMS (`SendSms`, API 2021-01-11) behind the same interface as app.notify.sms.

Requests are JSON POSTs to the endpoint (https://sms.tencentcloudapi.com/), signed with TC3-HMAC-SHA256
(`tc3_authorization`: the canonical request over content-type and host, the body's SHA-256, a key derived
from the secret, the UTC date and the service). The body is serialised as Tencent's own SDK does
(`json.dumps` with its defaults: ASCII only), so `tests/notify/test_sdk_signers.py` can hold our
Authorization header to the SDK's for the very same request.

Templates: Tencent numbers its variables ({1}, {2}, …), so the template map says, per message kind, the
template id and the order of our named params (`LIANLUO_SMS_TENCENT_TEMPLATES`,
"kind=1234567:name|link,…"); `variables` maps each template id to that order. The reference travels
as `SessionContext`, which Tencent echoes back in delivery reports (ask Tencent's SMS helper to switch
that on: by default the reports leave it empty). Its status pull lists only messages that have a
receipt, so it never proves a message was not sent: `query` says "waiting" for one we know was
accepted and cannot say (raises) for one we do not, which the sweep leaves to staff, never resends.

Errors come at two levels: the whole request (`Response.Error.Code`) and per number
(`SendStatusSet[i].Code`, "Ok" when accepted); both are classified by `classify` from Tencent's
documented codes (tencentcloud.sms.v20210111.errorcodes).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta, timezone

import httpx

from app.notify.sms import (
    AccountHeldError,
    DailyLimitError,
    DeliveryReport,
    PermanentSendError,
    SendError,
    TransientSendError,
    UnknownOutcomeError,
)
from app.notify.sms_templates import variables as template_variables
from app.notify.texts import KINDS

API_VERSION = "2021-01-11"
SERVICE = "sms"
DEFAULT_URL = "https://sms.tencentcloudapi.com/"
DEFAULT_REGION = "ap-guangzhou"
DEFAULT_APP_ID = "1400000000"  # what the local fake expects (app.notify.fake_tencent)
CONTENT_TYPE = "application/json"
ALGORITHM = "TC3-HMAC-SHA256"
QUERY_LOOKBACK = timedelta(minutes=2)  # clocks differ; a report must not fall just before the window

# Tencent's documented codes, by what we do about them. Codes not listed: permanent.
THROTTLED = ("RequestLimitExceeded", "LimitExceeded.GlobalSmsSendingRateLimit", "AuthFailure.SignatureExpire")
RETRY_AFTER = {"LimitExceeded.PhoneNumberThirtySecondLimit": timedelta(minutes=1),
               "LimitExceeded.DeliveryFrequencyLimit": timedelta(minutes=1),
               "LimitExceeded.PhoneNumberOneHourLimit": timedelta(hours=1)}
DAILY_LIMIT = ("LimitExceeded.PhoneNumberDailyLimit", "LimitExceeded.PhoneNumberSameContentDailyLimit",
               "LimitExceeded.AppDailyLimit", "LimitExceeded.AppMainlandChinaDailyLimit",
               "LimitExceeded.DailyLimit")
ACCOUNT_HELD = ("FailedOperation.InsufficientBalanceInSmsPackage",
                "UnauthorizedOperation.ServiceSuspendDueToArrears")
BAD_NUMBER = ("InvalidParameterValue.IncorrectPhoneNumber", "FailedOperation.PhoneNumberParseFail",
              "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber",
              "FailedOperation.PhoneNumberInBlacklist", "UnsupportedOperation.ChineseMainlandTemplateToGlobalPhone")


# --- signing (pure; shared with the local fake, which checks what the client signs) ----------------------

def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def tc3_signature(*, secret_key: str, date: str, service: str, string_to_sign: str) -> str:
    """HMAC-SHA256 chain: "TC3" + secret → date → service → "tc3_request" → the string to sign (hex)."""
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def tc3_authorization(*, secret_id: str, secret_key: str, service: str, host: str, timestamp: int,
                      payload: bytes, method: str = "POST", uri: str = "/", query: str = "",
                      content_type: str = CONTENT_TYPE) -> str:
    """The Authorization header of a TC3-HMAC-SHA256 signed request (signed headers: content-type;host)."""
    canonical_request = "\n".join([
        method.upper(), uri, query, f"content-type:{content_type}\nhost:{host}\n", "content-type;host",
        hashlib.sha256(payload).hexdigest(),
    ])
    date = datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join([ALGORITHM, str(timestamp), scope,
                                hashlib.sha256(canonical_request.encode()).hexdigest()])
    signature = tc3_signature(secret_key=secret_key, date=date, service=service, string_to_sign=string_to_sign)
    return f"{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders=content-type;host, Signature={signature}"


def encode_body(params: dict) -> bytes:
    """The JSON body as Tencent's SDK writes it (json.dumps defaults: ASCII, ", " and ": ")."""
    return json.dumps(params).encode()


def signed_headers(*, action: str, payload: bytes, secret_id: str, secret_key: str, host: str, region: str,
                   timestamp: int, version: str = API_VERSION) -> dict[str, str]:
    return {
        "Content-Type": CONTENT_TYPE,
        "Host": host,
        "X-TC-Action": action,
        "X-TC-Timestamp": str(timestamp),
        "X-TC-Version": version,
        "X-TC-Region": region,
        "Authorization": tc3_authorization(secret_id=secret_id, secret_key=secret_key, service=SERVICE,
                                           host=host, timestamp=timestamp, payload=payload),
    }


# --- request bodies ---------------------------------------------------------------------------------

def e164(mobile: str) -> str:
    """A mainland mobile number as Tencent wants it (+86…); anything else is passed on for it to refuse."""
    mobile = (mobile or "").strip()
    return f"+86{mobile}" if len(mobile) == 11 and mobile.isdigit() else mobile


def template_values(names: tuple[str, ...], params: dict) -> list[str]:
    """Named params → the template's positional values ({1}, {2}, …), as strings."""
    return ["" if params.get(name) is None else str(params[name]) for name in names]


def send_sms_body(*, app_id: str, sign_name: str, template_id: str, values: list[str], mobile: str,
                  reference: str) -> dict:
    # the fields in the order of the SDK's SendSmsRequest, so that the same request is the same bytes
    return {"PhoneNumberSet": [e164(mobile)], "SmsSdkAppId": app_id, "TemplateId": template_id,
            "SignName": sign_name, "TemplateParamSet": values, "SessionContext": reference}


def pull_status_body(*, app_id: str, mobile: str, begin: datetime, end: datetime, limit: int = 100) -> dict:
    return {"BeginTime": int(begin.timestamp()), "Offset": 0, "Limit": limit, "PhoneNumber": e164(mobile),
            "SmsSdkAppId": app_id, "EndTime": int(end.timestamp())}


# --- answers -----------------------------------------------------------------------------------------

def classify(code: str, detail: str) -> SendError:
    """The error to raise for one of Tencent's codes (request-level or per number)."""
    if code in BAD_NUMBER:
        return PermanentSendError(detail)
    if code in DAILY_LIMIT:
        return DailyLimitError(detail)
    if code in ACCOUNT_HELD:
        return AccountHeldError(detail)
    if code in RETRY_AFTER:
        return TransientSendError(detail, RETRY_AFTER[code])
    if code in THROTTLED or code.startswith(("RequestLimitExceeded", "InternalError")):
        return TransientSendError(detail)
    return PermanentSendError(detail)


def _response(response: httpx.Response) -> dict:
    """The `Response` object of an answer, or the error its status or `Error` says. Tencent answers
    HTTP 200 with its own codes; a 5xx without them is a proxy's, after which the request may have
    gone through, and an answer we cannot read may have been an acceptance."""
    try:
        body = response.json()["Response"]
    except (ValueError, KeyError, TypeError):
        body = None
    if not isinstance(body, dict):
        if response.status_code == 429:
            raise TransientSendError("HTTP 429")
        raise UnknownOutcomeError(f"HTTP {response.status_code}: not a Tencent Cloud answer")
    error = body.get("Error")
    if isinstance(error, dict):
        code = str(error.get("Code") or "")
        raise classify(code, f"HTTP {response.status_code} {code}: {error.get('Message') or ''}".rstrip(": "))
    return body


def _serial_no(body: dict) -> str:
    statuses = body.get("SendStatusSet")
    if not isinstance(statuses, list) or len(statuses) != 1 or not isinstance(statuses[0], dict):
        raise UnknownOutcomeError("SendSms answered without one send status")
    status = statuses[0]
    code = str(status.get("Code") or "")
    if code != "Ok":
        raise classify(code, f"{code}: {status.get('Message') or ''}".rstrip(": "))
    if not status.get("SerialNo"):
        raise UnknownOutcomeError("SendSms answered Ok without a SerialNo")
    return str(status["SerialNo"])[:80]


def delivery_report(records, *, reference: str, provider_id: str | None) -> DeliveryReport:
    """What PullSmsSendStatusByPhoneNumber's records say of our message (its SerialNo, or the
    SessionContext we sent): delivered if any copy was, else failed. Tencent lists only messages
    with a receipt, so no record proves nothing: a message we know it accepted is "waiting", and
    of one we do not know about it cannot say (SendError: the sweep asks again, then staff decide)."""
    ours = [r for r in (records if isinstance(records, list) else []) if isinstance(r, dict) and (
        (provider_id and r.get("SerialNo") == provider_id) or (reference and r.get("SessionContext") == reference))]
    if not ours:
        if provider_id:
            return DeliveryReport("waiting")
        raise TransientSendError("no delivery report under this reference (yet): Tencent cannot say")
    delivered = [r for r in ours if str(r.get("ReportStatus") or "").upper() == "SUCCESS"]
    record = (delivered or ours)[0]
    received = record.get("UserReceiveTime")
    at = datetime.fromtimestamp(int(received), timezone.utc) if str(received or "").isdigit() else None
    if delivered:
        return DeliveryReport("delivered", received_at=at, copies=len(ours))
    return DeliveryReport("failed", error=str(record.get("Description") or "FAIL")[:60], received_at=at,
                          copies=len(ours))


def variable_orders(templates: dict[str, tuple[str, tuple[str, ...] | None]]) -> dict[str, tuple[str, ...]]:
    """kind → (template id, order or None) → template id → order. Without an order, the kind's
    variables in the order its text uses them (app.notify.sms_templates): a template registered
    with the same text, its variables numbered as they come."""
    orders = {}
    for kind, (template_id, names) in templates.items():
        if names is None:
            if kind not in KINDS:
                continue  # no such kind: nothing is sent with this template
            names = template_variables(kind)
        orders[template_id] = tuple(names)
    return orders


# --- the HTTP client ---------------------------------------------------------------------------------

class TencentSmsProvider:
    """Tencent Cloud SMS over HTTPS; one pooled client. `variables`: template id → param names in the
    order of the template's {1}, {2}, …"""

    def __init__(self, url: str, secret_id: str, secret_key: str, app_id: str, sign_name: str,
                 variables: dict[str, tuple[str, ...]], *, region: str = DEFAULT_REGION, timeout: float = 5):
        self.url = url
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.app_id = app_id
        self.sign_name = sign_name
        self.variables = dict(variables)
        self.region = region
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings) -> "TencentSmsProvider":
        return cls(settings.sms_url, settings.sms_key_id, settings.sms_key_secret, settings.sms_tencent_app_id,
                   settings.sms_sign, variable_orders(settings.sms_tencent_templates),
                   region=settings.sms_tencent_region)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # as many connections as the sweep has sends under way (sweep.TENANTS_AT_ONCE x CONCURRENCY)
            self._client = httpx.AsyncClient(timeout=self.timeout, limits=httpx.Limits(max_connections=64))
        return self._client

    async def _call(self, action: str, params: dict) -> dict:
        """One signed request; transport trouble is classified by whether the request may have arrived."""
        payload = encode_body(params)
        host = httpx.URL(self.url).netloc.decode()
        headers = signed_headers(action=action, payload=payload, secret_id=self.secret_id,
                                 secret_key=self.secret_key, host=host, region=self.region,
                                 timestamp=int(time.time()))
        try:
            response = await self._http().post(self.url, content=payload, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransientSendError(f"connection: {type(exc).__name__}") from None  # never sent
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            # the request went out: Tencent may have accepted it, so the outcome is unknown
            raise UnknownOutcomeError(f"no answer: {type(exc).__name__}") from None
        return _response(response)

    async def send(self, *, mobile: str, template: str, params: dict, text: str, reference: str) -> str:
        names = self.variables.get(template)
        if names is None:
            raise PermanentSendError(f"no variable order configured for Tencent template {template} "
                                     "(LIANLUO_SMS_TENCENT_TEMPLATES)")
        body = send_sms_body(app_id=self.app_id, sign_name=self.sign_name, template_id=template,
                             values=template_values(names, params or {}), mobile=mobile, reference=reference)
        return _serial_no(await self._call("SendSms", body))

    async def query(self, *, mobile: str, sent_at: datetime, reference: str,
                    provider_id: str | None = None) -> DeliveryReport | None:
        """What Tencent knows of a send (PullSmsSendStatusByPhoneNumber: the number's receipts from
        just before the send until now; it keeps seven days, and receipts come within three)."""
        now = datetime.now(timezone.utc)
        begin = max(sent_at - QUERY_LOOKBACK, now - timedelta(days=7) + QUERY_LOOKBACK)
        end = min(now, sent_at + timedelta(days=3))
        try:
            body = await self._call("PullSmsSendStatusByPhoneNumber",
                                    pull_status_body(app_id=self.app_id, mobile=mobile, begin=begin, end=end))
        except UnknownOutcomeError as exc:  # a query changes nothing: just "cannot say"
            raise TransientSendError(f"query: {exc}") from None
        return delivery_report(body.get("PullSmsSendStatusSet"), reference=reference, provider_id=provider_id)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

