"""The fake gateway holds every SMS to Alibaba Cloud SMS's template rules, as the real service does
(a registered TemplateCode, every variable of the template, each 1–35 characters and never an
address; refusals answered HTTP 200 with the documented Code), and every SMS the demo sends passes."""

from __future__ import annotations

import json
from collections import Counter

import httpx
import pytest

from app.demo import load_demo
from app.notify.sms import HttpSmsProvider, PermanentSendError, send_sms_params
from app.notify.sweep import Channels

GOOD = {"code": "K7QZ2M", "link": "aB3dE5gH7jKm"}  # case_receipt's variables


def provider(gateway) -> HttpSmsProvider:
    return HttpSmsProvider(gateway.url, gateway.key_id, gateway.key_secret, "联络", timeout=3)


def raw_send(gateway, template: str, params: dict) -> httpx.Response:
    form = send_sms_params(key_id=gateway.key_id, secret=gateway.key_secret, sign_name="联络",
                           mobile="13800000001", template=template, params=params, reference="9-1")
    return httpx.post(gateway.url, data=form, timeout=5)


@pytest.mark.parametrize("template, params, code", [
    ("LIANLUO_NO_SUCH_KIND", GOOD, "isv.SMS_TEMPLATE_ILLEGAL"),
    ("LIANLUO_CASE_RECEIPT", {"code": "K7QZ2M"}, "isv.TEMPLATE_MISSING_PARAMETERS"),
    ("LIANLUO_CASE_RECEIPT", {**GOOD, "link": "https://lianluo.example.cn/p/alpha/lookup"},
     "isv.PARAM_NOT_SUPPORT_URL"),
    ("LIANLUO_CASE_RECEIPT", {**GOOD, "link": "lianluo.example.cn"}, "isv.PARAM_NOT_SUPPORT_URL"),
    ("LIANLUO_CASE_RECEIPT", {**GOOD, "code": "字" * 36}, "isv.PARAM_LENGTH_LIMIT"),
    ("LIANLUO_CASE_RECEIPT", {**GOOD, "code": ""}, "isv.PARAM_LENGTH_LIMIT"),
])
def test_the_gateway_refuses_what_the_provider_refuses_with_its_code(sms_gateway, template, params, code):
    answer = raw_send(sms_gateway, template, params)
    assert (answer.status_code, answer.json()["Code"]) == (200, code)  # as the real service answers
    assert sms_gateway.messages() == [] and sms_gateway.requests() == 1


async def test_the_client_reads_a_template_refusal_as_permanent_and_a_valid_message_goes(sms_gateway):
    sms = provider(sms_gateway)
    try:
        with pytest.raises(PermanentSendError, match="PARAM_LENGTH_LIMIT"):
            await sms.send(mobile="13800000001", template="LIANLUO_CASE_RECEIPT",
                           params={**GOOD, "code": "长" * 36}, text="", reference="9-2")
        assert await sms.send(mobile="13800000001", template="LIANLUO_CASE_RECEIPT", params={**GOOD, "code": "字" * 35},
                              text="", reference="9-3")
    finally:
        await sms.aclose()
    assert [m["out_id"] for m in sms_gateway.messages()] == ["9-3"]
    # only a test of the protocol alone switches the rules off; a reset brings them back
    sms_gateway.mode("ok", templates="any")
    assert raw_send(sms_gateway, "T", {"a": "http://x.cn"}).json()["Code"] == "OK"
    sms_gateway.reset()
    assert raw_send(sms_gateway, "T", {}).json()["Code"] == "isv.SMS_TEMPLATE_ILLEGAL"


async def test_every_sms_the_demo_sends_passes_the_providers_variable_rules(database, owner_sql, settings,
                                                                          sms_gateway):
    await load_demo(database)
    rows = await owner_sql("SELECT tenant_id, id, kind, address, params FROM outbox WHERE channel = 'sms' "
                           "ORDER BY tenant_id, id")
    assert len(rows) >= 10 and len({r["kind"] for r in rows}) >= 3, Counter(r["kind"] for r in rows)
    channels = Channels(sms=provider(sms_gateway), templates=dict(settings.sms_templates))
    refused = []
    try:
        for r in rows:
            try:
                await channels.sms.send(mobile=r["address"], template=channels.template(r["kind"]),
                                        params=json.loads(r["params"]), text="",
                                        reference=f"{r['tenant_id']}-{r['id']}")
            except PermanentSendError as error:
                refused.append((r["kind"], str(error), r["params"]))
    finally:
        await channels.sms.aclose()
    assert refused == []
    assert len(sms_gateway.messages()) == len(rows)
