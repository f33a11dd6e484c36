"""The public opinion form on a station's public page: what a villager sends, what they get back,
and every refusal (honeypot, limits, text, mobile, photo) with nothing written."""

from __future__ import annotations

import asyncio
import io
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.cases import public
from app.cases.codes import group_code
from app.cases.models import Case, CaseEvent, CasePhoto
from app.core.db import attempt
from app.core.errors import Refusal
from app.core.images import StoredImage
from app.public.access import public_station
from app.tenancy.config import get_config
from app.tenancy.models import TenantConfig
from tests.cases.world import EAST, HOME, build_case_county, put_case
from tests.core.bombs import png_declaring

PROPOSED = "西村人大代表联络站"


@pytest.fixture
async def cc(database):
    return await build_case_county(database)


@pytest.fixture
async def en(client):
    client.cookies.set("lang", "en")
    return client


def url(cc, station: str = EAST) -> str:
    return f"/p/{cc.slug}/stations/{cc.stations[station]}/opinion"


def png(size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (20, 120, 40)).save(out, "PNG")
    return out.getvalue()


async def counts(database, cc) -> tuple[int, int, int, int]:
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        return (await db.scalar(select(func.count()).select_from(Case)),
                await db.scalar(select(func.count()).select_from(CaseEvent)),
                await db.scalar(select(func.count()).select_from(StoredImage)),
                await db.scalar(select(func.count()).select_from(AuditEntry)
                                .where(AuditEntry.action == "case_registered")))


async def set_limits(database, cc, **limits) -> None:
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        row = await db.get(TenantConfig, cc.tenant.id)
        if row is None:
            db.add(TenantConfig(tenant_id=cc.tenant.id, **limits))
        else:
            for key, value in limits.items():
                setattr(row, key, value)


# --- the form --------------------------------------------------------------------------------------

async def test_form_page_works_without_javascript(en, cc):
    r = await en.get(url(cc))
    assert r.status_code == 200
    html = r.text
    assert "<script" not in html
    assert f'<form method="post" action="{url(cc)}" enctype="multipart/form-data">' in html
    for name in ("content", "person_name", "person_mobile", "photo"):
        assert f'name="{name}"' in html, name
    assert "Leave a message or an opinion" in html and EAST in html
    assert "deleted 24 months after your matter is closed" in html and "Only if you want an answer" in html
    # the honeypot: hidden from people and assistive technology, out of the tab order
    assert '<div hidden aria-hidden="true"><label>' in html
    assert 'name="website" tabindex="-1"' in html
    # no token, no cookie: a shared cache may keep it
    assert "_csrf_token" not in html
    assert r.headers["cache-control"] == "public, max-age=300"
    assert "set-cookie" not in r.headers


async def test_station_page_links_to_the_form_and_the_lookup(en, cc):
    html = (await en.get(f"/p/{cc.slug}/stations/{cc.stations[EAST]}")).text
    assert f'href="{url(cc)}">Leave a message or an opinion</a>' in html
    assert f'href="/p/{cc.slug}/lookup">Look up the progress of an opinion</a>' in html


async def test_stations_not_public_and_other_tenants_are_404(client, cc, database):
    other = await build_case_county(database, "beta")
    for path in (url(cc, PROPOSED), f"/p/{cc.slug}/stations/{other.stations[EAST]}/opinion",
                 f"/p/{cc.slug}/stations/987654321/opinion", f"/p/nowhere/stations/{cc.stations[EAST]}/opinion"):
        assert (await client.get(path)).status_code == 404, path
        r = await client.post(path, data={"content": "路灯坏了"})
        assert r.status_code == 404, path
    assert (await counts(database, cc))[0] == 0 and (await counts(database, other))[0] == 0


# --- submitting ------------------------------------------------------------------------------------

async def test_submit_registers_an_online_case_and_shows_the_receipt(en, cc, database):
    r = await en.post(url(cc), data={"content": "  东街路灯坏了三盏，晚上看不见路。 ", "person_name": "王小明",
                                     "person_mobile": "139 1234 5678", "website": ""})
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert "set-cookie" not in r.headers and not en.cookies.get("csrftoken")
    assert "Your opinion has been received" in r.text
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        case = await db.scalar(select(Case))
        events = list(await db.scalars(select(CaseEvent)))
    assert case.state == "registered" and case.source == "online"
    assert case.station_id == cc.stations[EAST] and case.created_by is None
    assert case.content == "东街路灯坏了三盏，晚上看不见路。"
    assert case.person_name == "王小明" and case.person_mobile == "13912345678"
    assert len(case.client_hash) == 64 and "testclient" not in case.client_hash
    assert case.client_hash == public.client_hash(en.app.state.settings.secret_key, cc.tenant.id, "testclient")
    assert group_code(case.receipt_code) in r.text
    # the code is in the page, never in an address; the receipt offers the lookup as a POST
    assert f'<input type="hidden" name="code" value="{case.receipt_code}">' in r.text
    assert "location" not in r.headers
    assert [(e.action, e.public, e.actor_user_id) for e in events] == [("registered", True, None)]
    assert (await counts(database, cc))[3] == 1


async def test_submit_with_a_photo_keeps_a_thumbnail(client, cc, database):
    r = await client.post(url(cc), data={"content": "桥栏杆断了"},
                          files={"photo": ("bridge.png", png((1600, 1200)), "image/png")})
    assert r.status_code == 200
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        case = await db.scalar(select(Case))
        photo = await db.scalar(select(CasePhoto))
        image = await db.scalar(select(StoredImage))
    assert photo.case_id == case.id and photo.image_id == image.id
    assert image.media_type == "image/webp" and max(image.width, image.height) <= 480


async def test_an_empty_file_field_is_no_photo(client, cc, database):
    r = await client.post(url(cc), data={"content": "桥栏杆断了"}, files={"photo": ("", b"", "application/octet-stream")})
    assert r.status_code == 200
    assert (await counts(database, cc))[:3] == (1, 1, 0)


@pytest.mark.parametrize("form, files, message", [
    ({"content": "路灯坏了", "website": "http://spam.example"}, None, "The form could not be accepted"),
    ({"content": "   "}, None, "Please write down the opinion or problem."),
    ({"content": "长" * 2001}, None, "The opinion may have at most 2000 characters."),
    ({"content": "路灯坏了", "person_mobile": "12345"}, None, "is not a mobile number"),
    ({"content": "路灯坏了", "person_name": "名" * 41}, None, "The name may have at most 40 characters."),
    ({"content": "路灯坏了"}, {"photo": ("x.png", b"not an image at all", "image/png")}, "is not a photo we can read"),
    ({"content": "路灯坏了"}, {"photo": ("big.jpg", b"\xff" * (8 * 1024 * 1024 + 10), "image/jpeg")},
     "The photo is too large"),
])
async def test_refusals_write_nothing_and_keep_what_was_typed(en, cc, database, form, files, message):
    r = await en.post(url(cc), data={"person_name": "王小明", **form}, files=files)
    assert r.status_code == 400
    assert message in r.text
    assert 'role="alert"' in r.text
    assert r.headers["cache-control"] == "no-store" and "set-cookie" not in r.headers
    if form["content"].strip():
        assert form["content"][:50] in r.text
    assert (await counts(database, cc)) == (0, 0, 0, 0)


async def test_per_client_limit(en, cc, database):
    await set_limits(database, cc, public_limit_per_client=2)
    for n in range(2):
        assert (await en.post(url(cc), data={"content": f"意见{n}"})).status_code == 200
    # another station of the county counts too: the limit is the client's
    r = await en.post(url(cc, HOME), data={"content": "第三条意见"})
    assert r.status_code == 429
    assert "Too many opinions were sent from your network in the last hour" in r.text
    assert "第三条意见" in r.text
    assert (await counts(database, cc))[0] == 2


async def test_per_station_limit_counts_the_last_hour_only(en, cc, database):
    await set_limits(database, cc, public_limit_per_station=2)
    old = datetime.now(timezone.utc) - timedelta(hours=2)
    await put_case(database, cc, source="online", client_hash="a" * 64, created_at=old)
    await put_case(database, cc, source="online", client_hash="b" * 64)
    await put_case(database, cc, source="reception")  # staff registrations do not count
    assert (await en.post(url(cc), data={"content": "第一条"})).status_code == 200
    r = await en.post(url(cc), data={"content": "第二条"})
    assert r.status_code == 429
    assert "This station has received too many online opinions in the last hour" in r.text
    # another station still takes opinions
    assert (await en.post(url(cc, HOME), data={"content": "第二条"})).status_code == 200


async def test_a_photo_of_8000_by_8000_pixels_is_refused_before_decoding(client, cc, database):
    """A few hundred bytes declaring 64 Mpx: refused from its header, in Chinese, nothing written."""
    r = await client.post(url(cc), data={"content": "桥栏杆断了"},
                          files={"photo": ("bomb.png", png_declaring(8000, 8000), "image/png")})
    assert r.status_code == 400
    assert "照片像素过多（最多 2500 万像素），请缩小后再上传。" in r.text and "桥栏杆断了" in r.text
    assert (await counts(database, cc)) == (0, 0, 0, 0)


@pytest.mark.parametrize("photo", [png_declaring(8000, 8000), b"not an image at all"])
async def test_the_limits_are_checked_before_the_photo(en, cc, database, photo):
    """Past the limit a photo is not even looked at: the answer is the limit's, whatever the photo."""
    await set_limits(database, cc, public_limit_per_client=1)
    assert (await en.post(url(cc), data={"content": "第一条"})).status_code == 200
    r = await en.post(url(cc), data={"content": "第二条"}, files={"photo": ("p.png", photo, "image/png")})
    assert r.status_code == 429
    assert "Too many opinions were sent from your network in the last hour" in r.text
    assert (await counts(database, cc))[:3] == (1, 1, 0)


# --- the services, directly ------------------------------------------------------------------------

async def test_submit_opinion_service(database, cc):
    async with database.session(tenant_id=cc.tenant.id) as db:
        station = await public_station(db, cc.stations[EAST])
        config = await get_config(db, cc.tenant.id)
        with pytest.raises(Refusal) as refused:
            await public.submit_opinion(db, config, tenant_id=cc.tenant.id, station=station, hashed="h" * 64,
                                        opinion=public.PublicOpinion(content="x", honeypot="bot"))
        assert refused.value.message == public.HONEYPOT_FILLED
        case, rating_code = await public.submit_opinion(db, config, tenant_id=cc.tenant.id, station=station,
                                                        hashed="h" * 64,
                                                        opinion=public.PublicOpinion(content="水渠堵了", photo=png()))
        await db.commit()
    assert case.source == "online" and case.client_hash == "h" * 64
    assert len(rating_code) == 10 and rating_code != case.receipt_code
    assert (await counts(database, cc))[:3] == (1, 1, 1)


async def test_simultaneous_opinions_at_a_station_stop_exactly_at_its_limit(database, cc):
    """Twelve villagers press send at the same moment (each its own connection and address) on a
    station that takes five an hour: five cases are written, seven are refused and leave nothing."""
    await set_limits(database, cc, public_limit_per_station=5)

    async def send(n: int) -> int:
        async with database.session(tenant_id=cc.tenant.id) as db:
            station = await public_station(db, cc.stations[EAST])
            config = await get_config(db, cc.tenant.id)
            try:
                await attempt(db, public.submit_opinion(db, config, tenant_id=cc.tenant.id, station=station,
                                                        hashed=f"{n:064d}",
                                                        opinion=public.PublicOpinion(content=f"同时发送的意见{n}")))
            except Refusal as refusal:
                assert refusal.message == public.STATION_LIMIT
                return 429
            await db.commit()
            return 200

    answers = await asyncio.gather(*(send(n) for n in range(12)))
    assert sorted(answers) == [200] * 5 + [429] * 7
    assert (await counts(database, cc)) == (5, 5, 0, 5)


def test_codes_are_grouped_for_reading():
    assert group_code("ABCDEFGHJK") == "ABCD-EFGH-JK"


def test_client_hash_is_keyed_and_per_tenant():
    a = public.client_hash("k1", 1, "10.0.0.1")
    assert a != public.client_hash("k2", 1, "10.0.0.1") and a != public.client_hash("k1", 2, "10.0.0.1")
    assert "10.0.0.1" not in a and len(a) == 64
