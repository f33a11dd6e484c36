"""The Tencent Cloud SMS client against the local fake of the service (a real HTTP server in a
subprocess): signed requests, the template's variables in order, every accepted request a new SMS,
Tencent's error codes classified, and what the status pull says after a lost answer."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from app.core.settings import load_settings
from app.notify.sms import (
    AccountHeldError,
    DailyLimitError,
    PermanentSendError,
    TransientSendError,
    UnknownOutcomeError,
)
from app.notify.sms_templates import variables as template_variables
from app.notify.sms_tencent import TencentSmsProvider, encode_body, send_sms_body, signed_headers
from tests.notify.conftest import ROOT, SMS_KEY_ID, SMS_KEY_SECRET, free_port

APP_ID = "1400000000"
TEMPLATE = "1234567"
ORDER = ("name", "station", "when")  # the template reads "{1}代表：{2}将于{3}召开…"
PARAMS = {"when": "12月8日 09:30", "name": "张三", "station": "东街联络站", "unused": "x"}


class FakeTencent:
    def __init__(self, port: int, process: subprocess.Popen):
        self.url = f"http://127.0.0.1:{port}/"
        self.process = process

    def view(self) -> dict:
        return httpx.get(self.url + "_messages", timeout=5).json()

    def messages(self) -> list[dict]:
        return self.view()["messages"]

    def post(self, path: str, body: dict) -> dict:
        answer = httpx.post(self.url + path, json=body, timeout=5)
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture(scope="module")
def fake_process():
    port = free_port()
    env = {**os.environ, "LIANLUO_SMS_KEY_ID": SMS_KEY_ID, "LIANLUO_SMS_KEY_SECRET": SMS_KEY_SECRET,
           "LIANLUO_SMS_TENCENT_APP_ID": APP_ID}
    process = subprocess.Popen([sys.executable, "-m", "app.notify.fake_tencent", "--port", str(port)], cwd=ROOT,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    fake = FakeTencent(port, process)
    deadline = time.monotonic() + 20
    while True:
        try:
            fake.view()
            break
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"fake_tencent did not start: {process.stderr.read().decode()[-2000:]}")
            time.sleep(0.1)
    yield fake
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def fake(fake_process):
    fake_process.post("_reset", {})
    return fake_process


def provider(fake, *, secret: str = SMS_KEY_SECRET, timeout: float = 2) -> TencentSmsProvider:
    return TencentSmsProvider(fake.url, SMS_KEY_ID, secret, APP_ID, "联络", {TEMPLATE: ORDER}, timeout=timeout)


async def send(sms: TencentSmsProvider, mobile: str = "13800000001", reference: str = "7-42", **params) -> str:
    return await sms.send(mobile=mobile, template=TEMPLATE, params=params or PARAMS, text="…", reference=reference)


async def test_a_signed_sendsms_is_accepted_with_the_variables_in_the_templates_order(fake):
    sms = provider(fake)
    try:
        serial = await send(sms)
    finally:
        await sms.aclose()
    [message] = fake.messages()
    assert message["serial_no"] == serial and message["session_context"] == "7-42"
    assert (message["mobile"], message["sign"], message["template"]) == ("13800000001", "联络", TEMPLATE)
    assert message["params"] == ["张三", "东街联络站", "12月8日 09:30"]  # {1}, {2}, {3}


async def test_every_accepted_request_is_a_new_sms_even_with_the_same_reference(fake):
    sms = provider(fake)
    try:
        first, again = await send(sms), await send(sms)
    finally:
        await sms.aclose()
    view = fake.view()
    assert first != again and len(view["messages"]) == 2 and view["requests"] == 2
    assert view["duplicates"] == {"7-42": 2}  # the provider keeps no idempotence: it is ours to keep


async def test_a_template_without_a_variable_order_is_refused_before_sending(fake):
    sms = provider(fake)
    try:
        with pytest.raises(PermanentSendError, match="LIANLUO_SMS_TENCENT_TEMPLATES"):
            await sms.send(mobile="13800000001", template="7654321", params=PARAMS, text="", reference="1-1")
    finally:
        await sms.aclose()
    assert fake.view()["requests"] == 0


@pytest.mark.parametrize("mode, code, error", [
    ("error", "RequestLimitExceeded", TransientSendError),
    ("error", "InternalError.Timeout", TransientSendError),
    ("status", "LimitExceeded.PhoneNumberThirtySecondLimit", TransientSendError),
    ("status", "LimitExceeded.PhoneNumberDailyLimit", DailyLimitError),
    ("status", "FailedOperation.InsufficientBalanceInSmsPackage", AccountHeldError),
    ("error", "UnauthorizedOperation.ServiceSuspendDueToArrears", AccountHeldError),
    ("status", "FailedOperation.PhoneNumberInBlacklist", PermanentSendError),
    ("error", "FailedOperation.TemplateIncorrectOrUnapproved", PermanentSendError),
    ("http502", "", UnknownOutcomeError),  # a proxy's answer: the request may have gone through
])
async def test_tencents_codes_are_classified(fake, mode, code, error):
    fake.post("_mode", {"mode": mode, "code": code, "times": 1})
    sms = provider(fake)
    try:
        with pytest.raises(error) as raised:
            await send(sms)
        assert type(raised.value) is error
        assert code in str(raised.value)
        assert await send(sms)  # the next request goes through again
    finally:
        await sms.aclose()
    assert len(fake.messages()) == 1


async def test_an_hour_limit_waits_an_hour(fake):
    fake.post("_mode", {"mode": "status", "code": "LimitExceeded.PhoneNumberOneHourLimit", "times": 1})
    sms = provider(fake)
    try:
        with pytest.raises(TransientSendError) as raised:
            await send(sms)
    finally:
        await sms.aclose()
    assert raised.value.retry_after == timedelta(hours=1)


async def test_the_service_refuses_like_the_real_one(fake):
    """Refusals that come from the request itself, not from an injected mode: nothing is sent."""
    wrong = provider(fake, secret="not-the-secret")
    sms = provider(fake)
    try:
        with pytest.raises(PermanentSendError, match="AuthFailure.SignatureFailure"):
            await send(wrong)
        with pytest.raises(PermanentSendError, match="IncorrectPhoneNumber") as refused:
            await send(sms, mobile="1380000000")
        assert "1380000000" not in str(refused.value)
        with pytest.raises(PermanentSendError, match="ContainDomesticAndInternational"):
            await send(sms, mobile="+12025550123")
        with pytest.raises(PermanentSendError, match="ProhibitedUseUrl"):
            await send(sms, name="张三", station="东街", when="https://lianluo.example.cn/s/K7")
        fake.post("_config", {"daily_limit": 1})
        assert await send(sms, mobile="13900000009")
        with pytest.raises(DailyLimitError):
            await send(sms, mobile="13900000009", reference="7-43")
        fake.post("_config", {"daily_limit": None, "balance": 0})
        with pytest.raises(AccountHeldError, match="InsufficientBalanceInSmsPackage"):
            await send(sms, reference="7-44")
    finally:
        await wrong.aclose()
        await sms.aclose()
    assert [m["mobile"] for m in fake.messages()] == ["13900000009"]


def test_an_old_timestamp_is_refused_as_expired(fake):
    body = send_sms_body(app_id=APP_ID, sign_name="联络", template_id=TEMPLATE, values=["张三", "东街", "明天"],
                         mobile="13800000001", reference="1-1")
    payload = encode_body(body)
    headers = signed_headers(action="SendSms", payload=payload, secret_id=SMS_KEY_ID, secret_key=SMS_KEY_SECRET,
                             host=httpx.URL(fake.url).netloc.decode(), region="ap-guangzhou",
                             timestamp=int(time.time()) - 600)
    answer = httpx.post(fake.url, content=payload, headers=headers, timeout=5).json()["Response"]
    assert answer["Error"]["Code"] == "AuthFailure.SignatureExpire" and fake.messages() == []


async def test_a_lost_answer_is_an_unknown_outcome_counted_as_sent_and_the_status_pull_finds_it(fake):
    fake.post("_mode", {"mode": "accepted_timeout", "times": 1})
    sms = provider(fake, timeout=0.5)
    sent_at = datetime.now(timezone.utc)
    try:
        with pytest.raises(UnknownOutcomeError):
            await send(sms)
        assert len(fake.messages()) == 1  # the provider accepted it: sending again would be a duplicate
        report = await sms.query(mobile="13800000001", sent_at=sent_at, reference="7-42", provider_id=None)
    finally:
        await sms.aclose()
    assert (report.state, report.copies) == ("delivered", 1)


async def test_a_request_held_without_acceptance_is_unknown_too_and_the_pull_cannot_say(fake):
    """Tencent lists only messages with a receipt: no record is no proof that nothing was sent."""
    fake.post("_mode", {"mode": "timeout", "times": 1})
    sms = provider(fake, timeout=0.5)
    sent_at = datetime.now(timezone.utc)
    try:
        with pytest.raises(UnknownOutcomeError):
            await send(sms)
        with pytest.raises(TransientSendError, match="cannot say"):
            await sms.query(mobile="13800000001", sent_at=sent_at, reference="7-42", provider_id=None)
    finally:
        await sms.aclose()
    assert fake.messages() == []


async def test_delivery_reports_turn_accepted_into_delivered_or_failed(fake):
    sms = provider(fake)
    sent_at = datetime.now(timezone.utc)
    try:
        fake.post("_config", {"reports": "pending"})
        waiting = await send(sms, reference="5-1")
        fake.post("_config", {"reports": "fail"})
        failed = await send(sms, reference="5-2")
        fake.post("_config", {"reports": "success"})
        delivered = await send(sms, reference="5-3")
        states = [await sms.query(mobile="13800000001", sent_at=sent_at, reference=ref, provider_id=serial)
                  for ref, serial in (("5-1", waiting), ("5-2", failed), ("5-3", delivered))]
        with pytest.raises(TransientSendError):  # another number's reports are not ours
            await sms.query(mobile="13900000001", sent_at=sent_at, reference="5-3", provider_id=None)
    finally:
        await sms.aclose()
    assert [s.state for s in states] == ["waiting", "failed", "delivered"]
    assert states[1].error == "UNDELIV" and states[2].received_at is not None


async def test_no_connection_is_transient_never_unknown():
    sms = TencentSmsProvider(f"http://127.0.0.1:{free_port()}/", "k", "s", APP_ID, "联络", {TEMPLATE: ORDER},
                             timeout=1)
    try:
        with pytest.raises(TransientSendError, match="connection"):
            await send(sms)
    finally:
        await sms.aclose()


# --- settings ---------------------------------------------------------------------------------------

def test_the_settings_choose_tencent_with_its_own_template_map(monkeypatch):
    from app.notify.sweep import channels_from_settings

    monkeypatch.setenv("LIANLUO_SMS_PROVIDER", "tencent")
    monkeypatch.setenv("LIANLUO_SMS_URL", "https://sms.tencentcloudapi.com/")
    monkeypatch.setenv("LIANLUO_SMS_TENCENT_APP_ID", "1400006666")
    monkeypatch.setenv("LIANLUO_SMS_TENCENT_TEMPLATES",
                       "activity_sms=1234567:name|station|when, case_receipt=7654321, nonsense=1")
    monkeypatch.setenv("LIANLUO_SMS_TEMPLATES", "activity_sms=SMS_1")  # Alibaba's map: not read for Tencent
    settings = load_settings()
    channels = channels_from_settings(settings)
    assert isinstance(channels.sms, TencentSmsProvider)
    assert channels.template("activity_sms") == "1234567" and channels.template("case_receipt") == "7654321"
    # without an order: the kind's variables as its text uses them (the template registered alike)
    assert channels.sms.variables == {"1234567": ("name", "station", "when"),
                                      "7654321": template_variables("case_receipt")}
    assert (channels.sms.app_id, channels.sms.url) == ("1400006666", "https://sms.tencentcloudapi.com/")

    monkeypatch.delenv("LIANLUO_SMS_PROVIDER")
    settings = load_settings()
    assert settings.sms_provider == "aliyun" and settings.sms_templates == {"activity_sms": "SMS_1"}
    assert not isinstance(channels_from_settings(settings).sms, TencentSmsProvider)

    monkeypatch.setenv("LIANLUO_SMS_PROVIDER", "tencnet")
    with pytest.raises(ValueError, match="LIANLUO_SMS_PROVIDER"):
        load_settings()
