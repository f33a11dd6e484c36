"""Our request signing against each provider's official SDK (test-only dependencies): the same request,
secret and clock must give the same signature, or the real service refuses every SMS."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import pytest
from aliyunsdkcore.auth.algorithm import sha_hmac1
from aliyunsdkcore.auth.composer import rpc_signature_composer
from tencentcloud.common import abstract_client, credential
from tencentcloud.sms.v20210111 import models, sms_client

from app.notify.sms import query_params, send_sms_params, signature
from app.notify.sms_tencent import (
    encode_body,
    pull_status_body,
    send_sms_body,
    signed_headers,
    template_values,
)

NOW = datetime(2026, 12, 6, 9, 30, 15, tzinfo=timezone.utc)
# values that exercise the encodings: Chinese, spaces, JSON punctuation, * ~ + / and a full-width comma
PARAMS = {"name": "张 三", "station": "东街*联络站~1+2/3", "when": "12月8日 09:30，上午"}


# --- Alibaba Cloud SMS (RPC, HMAC-SHA1, signature 1.0: SendSms and QuerySendDetails) --------------------

def _aliyun_string_to_sign(method: str, params: dict) -> str:
    compose = getattr(rpc_signature_composer, "__compose_string_to_sign")  # the SDK's own canonicaliser
    return compose(method, {k: v for k, v in params.items() if k != "Signature"})


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_our_sendsms_signature_is_the_alibaba_sdks(method):
    ours = send_sms_params(key_id="LTAI5tExampleKeyId", secret="ExampleSecret/+=", sign_name="联络",
                           mobile="13800000001", template="SMS_123456789", params=PARAMS, reference="7-42",
                           method=method, now=NOW, nonce="2f1d5c6e-0000-4000-8000-0123456789ab")
    sdk = sha_hmac1.get_sign_string(_aliyun_string_to_sign(method, ours), "ExampleSecret/+=" + "&")
    assert ours["Signature"] == sdk


def test_our_querysenddetails_signature_is_the_alibaba_sdks():
    ours = query_params(key_id="LTAI5tExampleKeyId", secret="ExampleSecret/+=", mobile="13800000001",
                        day="20261206", provider_id="900619746936498440^0", page=2, now=NOW)
    assert ours["Action"] == "QuerySendDetails" and ours["BizId"] == "900619746936498440^0"
    sdk = sha_hmac1.get_sign_string(_aliyun_string_to_sign("POST", ours), "ExampleSecret/+=" + "&")
    assert ours["Signature"] == sdk


def test_the_alibaba_sdks_own_request_verifies_with_our_signer(monkeypatch):
    """The SDK builds the common parameters itself (it adds SignatureType); our signer must agree on them."""
    helper = rpc_signature_composer.helper
    monkeypatch.setattr(helper, "get_iso_8061_date", lambda: "2026-12-06T09:30:15Z")
    monkeypatch.setattr(helper, "get_uuid", lambda: "2f1d5c6e-0000-4000-8000-0123456789ab")
    business = {"Action": "SendSms", "Version": "2017-05-25", "RegionId": "cn-hangzhou",
                "PhoneNumbers": "13800000001", "SignName": "联络", "TemplateCode": "SMS_123456789",
                "TemplateParam": json.dumps(PARAMS, ensure_ascii=False, sort_keys=True), "OutId": "7-42"}
    url, _ = rpc_signature_composer.get_signed_url(dict(business), "LTAI5tExampleKeyId", "ExampleSecret/+=",
                                                   "JSON", "POST", {})
    signed = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    assert signed["SignatureType"] == "" and signed["TemplateParam"] == business["TemplateParam"]
    assert signature("POST", signed, "ExampleSecret/+=") == signed["Signature"]


# --- Tencent Cloud SMS (TC3-HMAC-SHA256) --------------------------------------------------------------

TS = int(NOW.timestamp())
SECRET_ID, SECRET_KEY, REGION = "AKIDExampleSecretId", "ExampleSecretKey", "ap-guangzhou"


def _sdk_request(monkeypatch, call):
    """What the official SMS client puts on the wire for `call(client)`, captured before it is sent."""
    monkeypatch.setattr(abstract_client, "time", SimpleNamespace(time=lambda: TS))
    client = sms_client.SmsClient(credential.Credential(SECRET_ID, SECRET_KEY), REGION)
    captured = []

    def capture(request):
        captured.append(request)
        raise RuntimeError("captured")

    monkeypatch.setattr(client.request, "send_request", capture)
    with pytest.raises(Exception, match="captured"):
        call(client)
    [request] = captured
    return request


def _assert_same(sdk_request, action: str, body: dict):
    payload = encode_body(body)
    ours = signed_headers(action=action, payload=payload, secret_id=SECRET_ID, secret_key=SECRET_KEY,
                          host="sms.tencentcloudapi.com", region=REGION, timestamp=TS)
    assert sdk_request.method == "POST" and sdk_request.uri == "/"
    assert sdk_request.data == payload.decode()  # the same bytes are signed
    for name in ("Authorization", "Content-Type", "Host", "X-TC-Action", "X-TC-Timestamp", "X-TC-Version",
                 "X-TC-Region"):
        assert ours[name] == sdk_request.header[name], name
    assert ours["Authorization"].startswith(f"TC3-HMAC-SHA256 Credential={SECRET_ID}/2026-12-06/sms/tc3_request")


def test_our_tc3_authorization_for_sendsms_is_the_tencent_sdks(monkeypatch):
    body = send_sms_body(app_id="1400006666", sign_name="联络", template_id="1234567",
                         values=template_values(("name", "station", "when"), PARAMS), mobile="13800000001",
                         reference="7-42")
    request = models.SendSmsRequest()
    request.from_json_string(json.dumps(body))
    sdk = _sdk_request(monkeypatch, lambda client: client.SendSms(request))
    _assert_same(sdk, "SendSms", body)


def test_our_tc3_authorization_for_the_status_pull_is_the_tencent_sdks(monkeypatch):
    body = pull_status_body(app_id="1400006666", mobile="13800000001", begin=NOW, end=NOW)
    request = models.PullSmsSendStatusByPhoneNumberRequest()
    request.from_json_string(json.dumps(body))
    sdk = _sdk_request(monkeypatch, lambda client: client.PullSmsSendStatusByPhoneNumber(request))
    _assert_same(sdk, "PullSmsSendStatusByPhoneNumber", body)
