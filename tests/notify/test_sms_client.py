"""The SMS client (Alibaba Cloud SMS `SendSms` and `QuerySendDetails`) against the local fake gateway, a
real HTTP server in a subprocess: signed requests, the provider's message id, every accepted request a
new SMS (as at the real provider), what the provider knows of a message, and how each documented
error is read (worth another try, tomorrow, never, or not known to have failed at all)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from app.notify.sms import (
    AccountHeldError,
    DailyLimitError,
    HttpSmsProvider,
    PermanentSendError,
    SendError,
    TransientSendError,
    UnknownOutcomeError,
    _answer,
    send_sms_params,
    signature,
)
from tests.notify.conftest import free_port

# The worked example of Alibaba Cloud's SMS signature documentation (GET, secret "testSecret").
DOC_PARAMS = {
    "AccessKeyId": "testId", "Action": "SendSms", "Format": "XML", "OutId": "123", "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou", "SignName": "阿里云短信测试专用", "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466", "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007", "TemplateParam": '{"customer":"test"}', "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}


@pytest.fixture(autouse=True)
def any_template(request):
    """These tests are about the protocol (signing, ids, errors, queries) with made-up templates: the
    gateway's template rules (test_fake_gateway_templates.py) are switched off; a reset brings them back."""
    if "sms_gateway" in request.fixturenames:
        request.getfixturevalue("sms_gateway").mode("ok", templates="any")


def provider(gateway, *, secret: str | None = None, timeout: float = 2) -> HttpSmsProvider:
    return HttpSmsProvider(gateway.url, gateway.key_id, secret or gateway.key_secret, "联络", timeout=timeout)


def test_the_signature_matches_the_providers_documented_example():
    assert signature("GET", DOC_PARAMS, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


async def test_a_signed_request_is_accepted_and_its_message_id_returned(sms_gateway):
    sms = provider(sms_gateway)
    try:
        biz_id = await sms.send(mobile="13800000001", template="SMS_100", params={"station": "东街 联络站", "n": 3},
                                text="…", reference="7-42")
    finally:
        await sms.aclose()
    [message] = sms_gateway.messages()
    assert message["biz_id"] == biz_id and message["out_id"] == "7-42"
    assert (message["mobile"], message["sign"], message["template"]) == ("13800000001", "联络", "SMS_100")
    assert message["params"] == {"station": "东街 联络站", "n": "3"}  # template parameters travel as strings


async def test_the_same_reference_twice_is_two_messages_as_at_the_real_provider(sms_gateway):
    sms = provider(sms_gateway)
    try:
        first = await sms.send(mobile="13800000001", template="T", params={}, text="", reference="1-1")
        again = await sms.send(mobile="13800000001", template="T", params={}, text="", reference="1-1")
        other = await sms.send(mobile="13800000001", template="T", params={}, text="", reference="1-2")
        assert len({first, again, other}) == 3
        assert [(m["out_id"], m["copy"]) for m in sms_gateway.messages()] == [("1-1", 1), ("1-1", 2), ("1-2", 1)]
        assert sms_gateway.state()["repeats"] == {"1-1": 2}
        # the dedupe mode (never the provider's behaviour) shows the difference
        sms_gateway.reset()
        sms_gateway.mode("ok", dedupe=True, templates="any")
        first = await sms.send(mobile="13800000001", template="T", params={}, text="", reference="1-1")
        assert await sms.send(mobile="13800000001", template="T", params={}, text="", reference="1-1") == first
        assert len(sms_gateway.messages()) == 1 and sms_gateway.requests() == 2
    finally:
        await sms.aclose()


async def test_a_get_request_signed_for_get_is_accepted_too(sms_gateway):
    query = send_sms_params(key_id=sms_gateway.key_id, secret=sms_gateway.key_secret, sign_name="联络",
                            mobile="13800000009", template="T", params={"a": "b"}, reference="2-1", method="GET")
    answer = httpx.get(sms_gateway.url, params=query, timeout=5)
    assert answer.status_code == 200 and answer.json()["Code"] == "OK"
    post_signed_sent_as_get = {**query, "Signature": signature("POST", query, sms_gateway.key_secret)}
    assert httpx.get(sms_gateway.url, params=post_signed_sent_as_get, timeout=5).status_code == 403


async def test_a_wrong_secret_or_number_is_a_permanent_failure(sms_gateway):
    wrong = provider(sms_gateway, secret="not-the-secret")
    sms = provider(sms_gateway)
    try:
        with pytest.raises(PermanentSendError, match="SignatureDoesNotMatch"):
            await wrong.send(mobile="13800000001", template="T", params={}, text="", reference="3-1")
        for bad in ("1380000000", "23800000001", "138000000012", "1380000000a"):
            with pytest.raises(PermanentSendError, match="MOBILE_NUMBER_ILLEGAL") as refused:
                await sms.send(mobile=bad, template="T", params={}, text="", reference="3-2")
            assert bad not in str(refused.value)
    finally:
        await wrong.aclose()
        await sms.aclose()
    assert sms_gateway.messages() == []


async def test_errors_and_no_connection_are_transient_a_timeout_is_unknown(sms_gateway):
    sms = provider(sms_gateway, timeout=0.3)
    try:
        sms_gateway.mode("error500", times=2)
        for _ in range(2):
            with pytest.raises(TransientSendError, match="500"):
                await sms.send(mobile="13800000001", template="T", params={}, text="", reference="4-1")
        assert await sms.send(mobile="13800000001", template="T", params={}, text="", reference="4-1")
        sms_gateway.mode("timeout", times=1)
        with pytest.raises(UnknownOutcomeError, match="timeout"):  # the request had gone: not known
            await sms.send(mobile="13800000002", template="T", params={}, text="", reference="4-2")
        sms_gateway.mode("slow", delay_ms=50)
        assert await sms.send(mobile="13800000002", template="T", params={}, text="", reference="4-2")
    finally:
        await sms.aclose()
    assert len(sms_gateway.messages()) == 2
    nobody = HttpSmsProvider(f"http://127.0.0.1:{free_port()}/", "k", "s", "联络", timeout=1)
    try:
        with pytest.raises(TransientSendError, match="connection"):
            await nobody.send(mobile="13800000001", template="T", params={}, text="", reference="4-3")
    finally:
        await nobody.aclose()


@pytest.mark.parametrize("status, body, kind, wait", [
    (200, {"Code": "OK", "BizId": "9"}, None, None),
    (400, {"Code": "Throttling.Api", "Message": "Request was denied due to api flow control."}, TransientSendError, None),
    (200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控Permits:1"}, TransientSendError,
     timedelta(minutes=1)),
    (200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发小时级流控Permits:5"}, TransientSendError,
     timedelta(hours=1)),
    (200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发天级流控Permits:10"}, DailyLimitError, None),
    (200, {"Code": "isv.DAY_LIMIT_CONTROL", "Message": "触发日发送限额"}, DailyLimitError, None),
    (200, {"Code": "isv.AMOUNT_NOT_ENOUGH", "Message": "账户余额不足"}, AccountHeldError, None),
    (200, {"Code": "isv.OUT_OF_SERVICE", "Message": "业务停机"}, AccountHeldError, None),
    (500, {"Code": "isp.SYSTEM_ERROR"}, TransientSendError, None),
    (200, {"Code": "isv.SMS_TEMPLATE_ILLEGAL"}, PermanentSendError, None),
    (400, {"Code": "isv.PARAM_NOT_SUPPORT_URL"}, PermanentSendError, None),
    (400, {"Code": "isv.MOBILE_NUMBER_ILLEGAL"}, PermanentSendError, None),
    (403, {"Code": "isp.RAM_PERMISSION_DENY"}, PermanentSendError, None),
    (429, {}, TransientSendError, None),
    (200, {"Code": "OK"}, UnknownOutcomeError, None),  # no message id: perhaps sent, perhaps not
    (502, "<html>bad gateway</html>", UnknownOutcomeError, None),  # a proxy's answer: the same
])
def test_how_answers_are_read(status, body, kind, wait):
    response = httpx.Response(status, json=body) if isinstance(body, dict) else httpx.Response(status, text=body)
    if kind is None:
        assert _answer(response) == "9"
    else:
        with pytest.raises(kind) as raised:
            _answer(response)
        assert type(raised.value) is kind
        if wait is not None:
            assert raised.value.retry_after == wait


async def test_the_provider_says_what_it_knows_of_a_message(sms_gateway):
    sms = provider(sms_gateway)
    now = datetime.now(timezone.utc)
    try:
        sms_gateway.mode("ok", receipt_delay_ms=60_000)  # accepted, the handset's receipt still to come
        await sms.send(mobile="13800000001", template="T", params={}, text="", reference="5-1")
        waiting = await sms.query(mobile="13800000001", sent_at=now, reference="5-1", provider_id=None)
        assert waiting.state == "waiting"
        sms_gateway.mode("ok", receipt="delivered", receipt_delay_ms=0)
        biz = await sms.send(mobile="13800000001", template="T", params={}, text="", reference="5-2")
        delivered = await sms.query(mobile="13800000001", sent_at=now, reference="5-2", provider_id=biz)
        assert delivered.state == "delivered" and delivered.received_at is not None
        sms_gateway.mode("ok", receipt="failed")
        await sms.send(mobile="13800000002", template="T", params={}, text="", reference="5-3")
        failed = await sms.query(mobile="13800000002", sent_at=now, reference="5-3", provider_id=None)
        assert (failed.state, failed.error) == ("failed", "MK:0001")
        # nothing under that reference, that number or that day: the provider has no record
        assert await sms.query(mobile="13800000001", sent_at=now, reference="5-9", provider_id=None) is None
        assert await sms.query(mobile="13800000009", sent_at=now, reference="5-1", provider_id=None) is None
        assert await sms.query(mobile="13800000001", sent_at=now - timedelta(days=2), reference="5-1",
                               provider_id=None) is None
        sms_gateway.mode("ok", query="error")
        with pytest.raises(SendError):  # the provider cannot say: never read as "no record"
            await sms.query(mobile="13800000001", sent_at=now, reference="5-1", provider_id=None)
    finally:
        await sms.aclose()
    assert sms_gateway.requests() == 3  # asking sends nothing


# --- the operator's page ----------------------------------------------------------------------------

async def test_the_operator_sees_what_the_gateway_received_masked_newest_first(client, database, owner_sql, settings,
                                                                               sms_gateway, monkeypatch):
    from tests.factories import make_tenant
    from tests.platform.conftest import enrolled_operator, sign_in_operator

    tenant = await make_tenant(database, "alpha")
    sms = provider(sms_gateway)
    try:
        await sms.send(mobile="13800000001", template="LIANLUO_ACTIVITY_SMS",
                       params={"station": "东街", "link": "http://127.0.0.1:8000/signin/alpha/SECRETTOKEN123"},
                       text="", reference=f"{tenant.id}-1")
        await sms.send(mobile="13900000002", template="LIANLUO_CASE_RECEIPT", params={"code": "K7"}, text="",
                       reference=f"{tenant.id}-2")
    finally:
        await sms.aclose()
    _user, secret = await enrolled_operator(database, owner_sql)
    await sign_in_operator(client, "ops", secret)
    monkeypatch.setattr(settings, "sms_url", sms_gateway.url)
    r = await client.get("/ops/sms-gateway")
    assert r.status_code == 200
    assert "138****0001" in r.text and "139****0002" in r.text
    assert "13800000001" not in r.text and "13900000002" not in r.text
    assert r.text.index("LIANLUO_CASE_RECEIPT") < r.text.index("LIANLUO_ACTIVITY_SMS")  # newest first
    assert "alpha县人大常委会" in r.text and "SECRETTOKEN123" not in r.text and "/signin/alpha/…" in r.text

    monkeypatch.setattr(settings, "sms_url", "https://dysmsapi.aliyuncs.com/")
    r = await client.get("/ops/sms-gateway")
    assert r.status_code == 200 and "https://dysmsapi.aliyuncs.com" in r.text and "138****0001" not in r.text
    monkeypatch.setattr(settings, "sms_url", "")
    r = await client.get("/ops/sms-gateway")
    assert r.status_code == 200 and "LIANLUO_SMS_URL" in r.text
    monkeypatch.setattr(settings, "sms_url", f"http://127.0.0.1:{free_port()}/")
    r = await client.get("/ops/sms-gateway")
    assert r.status_code == 200 and "python -m app sms-gateway" in r.text


async def test_only_operators_see_the_gateway_page(client, database):
    from tests.factories import add_member, login, make_tenant, make_user

    tenant = await make_tenant(database, "alpha")
    await add_member(database, tenant, await make_user(database, "admin"))
    assert (await client.get("/ops/sms-gateway", follow_redirects=False)).status_code in (302, 303)
    await login(client, "admin")
    assert (await client.get("/ops/sms-gateway", follow_redirects=False)).status_code == 404
