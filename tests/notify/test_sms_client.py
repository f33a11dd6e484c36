"""The SMS client (Alibaba Cloud SMS `SendSms` style) against the local fake gateway, a real HTTP server
in a subprocess: signed requests, the provider's message id, one message per reference, and which
failures are worth another try."""

from __future__ import annotations

import httpx
import pytest

from app.notify.sms import (
    HttpSmsProvider,
    PermanentSendError,
    TransientSendError,
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


async def test_the_same_reference_twice_is_one_message(sms_gateway):
    sms = provider(sms_gateway)
    try:
        first = await sms.send(mobile="13800000001", template="T", params={}, text="", reference="1-1")
        again = await sms.send(mobile="13800000001", template="T", params={}, text="", reference="1-1")
        other = await sms.send(mobile="13800000001", template="T", params={}, text="", reference="1-2")
    finally:
        await sms.aclose()
    assert first == again != other
    assert len(sms_gateway.messages()) == 2 and sms_gateway.requests() == 3


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


async def test_errors_timeouts_and_no_connection_are_transient(sms_gateway):
    sms = provider(sms_gateway, timeout=0.3)
    try:
        sms_gateway.mode("error500", times=2)
        for _ in range(2):
            with pytest.raises(TransientSendError, match="500"):
                await sms.send(mobile="13800000001", template="T", params={}, text="", reference="4-1")
        assert await sms.send(mobile="13800000001", template="T", params={}, text="", reference="4-1")
        sms_gateway.mode("timeout", times=1)
        with pytest.raises(TransientSendError, match="timeout"):
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


@pytest.mark.parametrize("status, body, kind", [
    (200, {"Code": "OK", "BizId": "9"}, None),
    (200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控"}, TransientSendError),
    (200, {"Code": "isv.SMS_TEMPLATE_ILLEGAL"}, PermanentSendError),
    (200, {"Code": "OK"}, TransientSendError),  # no message id: not known to be sent
    (400, {"Code": "isv.MOBILE_NUMBER_ILLEGAL"}, PermanentSendError),
    (429, {}, TransientSendError),
    (502, "<html>bad gateway</html>", TransientSendError),
])
def test_how_answers_are_read(status, body, kind):
    response = httpx.Response(status, json=body) if isinstance(body, dict) else httpx.Response(status, text=body)
    if kind is None:
        assert _answer(response) == "9"
    else:
        with pytest.raises(kind):
            _answer(response)


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
