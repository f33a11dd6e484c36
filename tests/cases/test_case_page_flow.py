"""The staff pages: the quick registration form, the case page with exactly the forms of the steps the
member may take, the steps through HTTP (refusals in place, nothing written), the mobile reveal, photos,
who sees which case, the suggestion page and the activity page's link to an opinion's case."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from tests.cases.world import EAST, build_case_county, put_case
from tests.core.bombs import png_declaring
from tests.deputies.deputy_world import count, post, signed_in

HEBA = "河坝村人大代表联络站"


@pytest.fixture
async def cc(database):
    return await build_case_county(database)


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 40), "red").save(out, "PNG")
    return out.getvalue()


def forms(html: str) -> set[str]:
    return set(re.findall(r'/steps/([a-z_]+)"', html))


async def test_register_from_a_phone_and_reveal_the_mobile(app, cc, owner_sql):
    async with signed_in(app, cc.county, "station") as client:
        r = await client.get(f"{client.base}/cases/new")
        assert r.status_code == 200 and "only if they want an answer" in r.text
        bad = await post(client, f"{client.base}/cases/new", {"content": " ", "source": "phone",
                                                              "station_id": str(cc.stations[EAST])})
        assert bad.status_code == 400 and "Please write down the opinion or problem." in bad.text
        bad = await post(client, f"{client.base}/cases/new", {"content": "x", "source": "phone",
                                                              "person_mobile": "12345"})
        assert bad.status_code == 400 and "is not a mobile number" in bad.text
        assert await count(owner_sql, "cases") == 0
        r = await post(client, f"{client.base}/cases/new", {
            "content": "小区门口积水严重", "source": "phone", "station_id": str(cc.stations[EAST]),
            "category_id": str(cc.categories["water"]), "person_name": "李阿姨", "person_mobile": "13912345678",
            "deputy_id": str(cc.deputies["李娜"]), "urgency": "urgent"}, files={"photo": ("p.png", png(), "image/png")})
        assert r.status_code == 303
        page = await client.get(r.headers["location"])
        case = (await owner_sql("SELECT * FROM cases"))[0]
        assert case["receipt_code"] in page.text and "139****5678" in page.text and "13912345678" not in page.text
        assert case["urgency"] == "urgent" and case["deputy_id"] == cc.deputies["李娜"]
        photo = (await owner_sql("SELECT id FROM case_photos"))[0]["id"]
        img = await client.get(f"{client.base}/cases/{case['id']}/photos/{photo}")
        assert img.status_code == 200 and img.headers["content-type"] == "image/webp"
        shown = await post(client, f"{client.base}/cases/{case['id']}/mobile")
        assert shown.status_code == 200 and "13912345678" in shown.text
    assert await count(owner_sql, "audit_log", "action = 'case_mobile_revealed'") == 1
    assert await count(owner_sql, "audit_log", "action = 'case_photo_added'") == 1


async def test_a_photo_of_too_many_pixels_registers_nothing(app, cc, owner_sql):
    async with signed_in(app, cc.county, "station") as client:
        r = await post(client, f"{client.base}/cases/new", {
            "content": "小区门口积水严重", "source": "phone", "station_id": str(cc.stations[EAST])},
            files={"photo": ("bomb.png", png_declaring(8000, 8000), "image/png")})
        assert r.status_code == 400 and "The photo has too many pixels (at most 25 million)" in r.text
    assert await count(owner_sql, "cases") == 0 and await count(owner_sql, "images") == 0


async def test_county_assigns_unit_accepts_and_replies(app, cc, owner_sql):
    async with signed_in(app, cc.county, "admin") as client:
        r = await post(client, f"{client.base}/cases/new", {"content": "县道塌方", "source": "visit",
                                                            "station_id": str(cc.stations[EAST])})
        case_id = int(r.headers["location"].split("/cases/")[1].split("?")[0])
        page = await client.get(f"{client.base}/cases/{case_id}")
        assert {"assign", "answer_on_spot", "escalate", "forward_outside", "to_suggestion", "merge"} <= forms(page.text)
        past = await post(client, f"{client.base}/cases/{case_id}/steps/assign",
                          {"unit_id": str(cc.units["transport"]), "reply_due": "2001-01-01"})
        assert past.status_code == 400 and "The reply date may not be in the past." in past.text
        r = await post(client, f"{client.base}/cases/{case_id}/steps/assign", {"unit_id": str(cc.units["transport"])})
        assert r.status_code == 303
    async with signed_in(app, cc.county, "ecology") as client:
        assert (await client.get(f"{client.base}/cases/{case_id}")).status_code == 404
        r = await post(client, f"{client.base}/cases/{case_id}/steps/accept")
        assert r.status_code == 404
    async with signed_in(app, cc.county, "transport") as client:
        page = await client.get(f"{client.base}/cases/{case_id}")
        assert forms(page.text) == {"accept", "ask_clarification"}
        wrong = await post(client, f"{client.base}/cases/{case_id}/steps/reply", {"result": "x"})
        assert wrong.status_code == 400 and "This step is not possible now" in wrong.text
        assert (await post(client, f"{client.base}/cases/{case_id}/steps/accept")).status_code == 303
        page = await client.get(f"{client.base}/cases/{case_id}")
        assert forms(page.text) == {"reply", "ask_clarification"}
        r = await post(client, f"{client.base}/cases/{case_id}/steps/reply", {"result": "已抢修完毕"})
        assert r.status_code == 303
        page = await client.get(f"{client.base}/cases/{case_id}")
        assert "已抢修完毕" in page.text and forms(page.text) == set()
    async with signed_in(app, cc.county, "station") as client:
        page = await client.get(f"{client.base}/cases/{case_id}")
        assert forms(page.text) == {"feed_back"}
        assert "Replied by the handling unit" in page.text and "Accepted by the handling unit" in page.text
        assert (await post(client, f"{client.base}/cases/{case_id}/steps/feed_back", {"channel": "sms"})).status_code == 303
        r = await post(client, f"{client.base}/cases/{case_id}/steps/rate", {"satisfaction": "satisfied"})
        assert r.status_code == 303
    assert (await owner_sql("SELECT state FROM cases WHERE id = $1", case_id))[0]["state"] == "closed"
    assert await count(owner_sql, "case_events", "case_id = $1", case_id) == 6


async def test_who_sees_which_case(app, database, cc):
    heba_case = await put_case(database, cc, station=HEBA)
    unit_case = await put_case(database, cc, state="assigned", unit="transport", level="county")
    async with signed_in(app, cc.county, "town") as client:
        assert (await client.get(f"{client.base}/cases/{heba_case.id}")).status_code == 404
        assert (await post(client, f"{client.base}/cases/{heba_case.id}/mobile")).status_code == 404
        assert (await client.get(f"{client.base}/cases/{unit_case.id}")).status_code == 200
    async with signed_in(app, cc.county, "heba") as client:
        page = await client.get(f"{client.base}/cases/{heba_case.id}")
        assert page.status_code == 200 and "assign" in forms(page.text)
    async with signed_in(app, cc.county, "townoffice") as client:
        assert (await client.get(f"{client.base}/cases/{unit_case.id}")).status_code == 404
        assert (await client.get(f"{client.base}/cases/new")).status_code == 404
    async with signed_in(app, cc.county, "viewer") as client:
        page = await client.get(f"{client.base}/cases/{unit_case.id}")
        assert page.status_code == 200 and forms(page.text) == set()
        r = await post(client, f"{client.base}/cases/{unit_case.id}/steps/supervise", {"note": "x"})
        assert r.status_code == 403


async def test_suggestion_page_and_opinion_link(app, database, cc, owner_sql):
    case = await put_case(database, cc, deputy_id=cc.deputies["张伟"], opinion_id=None)
    async with signed_in(app, cc.county, "rep") as client:
        page = await client.get(f"{client.base}/cases/{case.id}")
        assert forms(page.text) == {"to_suggestion"}
        r = await post(client, f"{client.base}/cases/{case.id}/steps/to_suggestion",
                       {"kind": "motion", "title": "关于农村道路的议案"})
        assert r.status_code == 303
    sid = (await owner_sql("SELECT suggestion_id FROM cases WHERE id = $1", case.id))[0]["suggestion_id"]
    async with signed_in(app, cc.county, "admin") as client:
        page = await client.get(f"{client.base}/suggestions/{sid}")
        assert page.status_code == 200 and "关于农村道路的议案" in page.text
        r = await post(client, f"{client.base}/suggestions/{sid}/assign", {"unit_id": str(cc.units["ecology"])})
        assert r.status_code == 303
    async with signed_in(app, cc.county, "transport") as client:
        assert (await client.get(f"{client.base}/suggestions/{sid}")).status_code == 404
    async with signed_in(app, cc.county, "ecology") as client:
        bad = await post(client, f"{client.base}/suggestions/{sid}/answer", {"answer": ""})
        assert bad.status_code == 400
        assert (await post(client, f"{client.base}/suggestions/{sid}/answer", {"answer": "已答复"})).status_code == 303
    assert (await owner_sql("SELECT state FROM suggestions WHERE id = $1", sid))[0]["state"] == "answered"


async def test_activity_opinion_links_to_its_case(app, database, cc, owner_sql):
    from datetime import datetime, timedelta, timezone

    from app.activities.models import Activity

    now = datetime.now(timezone.utc)
    async with database.transaction(tenant_id=cc.tenant.id) as db:
        activity = Activity(tenant_id=cc.tenant.id, kind_id=cc.ac.kinds["visit"], station_id=cc.stations[EAST],
                            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1))
        db.add(activity)
    async with signed_in(app, cc.county, "station") as client:
        r = await post(client, f"{client.base}/activities/{activity.id}/opinions", {"content": "路面破损"})
        assert r.status_code == 303
        page = await client.get(f"{client.base}/activities/{activity.id}")
        link = re.search(r'href="([^"]*/cases/from-opinion/\d+)"', page.text).group(1)
        r = await client.get(link, follow_redirects=False)
        case = (await owner_sql("SELECT id, source FROM cases"))[0]
        assert r.status_code == 303 and r.headers["location"].endswith(f"/cases/{case['id']}")
        assert case["source"] == "visit"
    async with signed_in(app, cc.county, "heba") as client:
        assert (await client.get(link, follow_redirects=False)).status_code == 404
