"""人大接待代表登记簿: recording the township presidium or the county congress receiving deputies (county
admins for the county or any township, township staff for their own township, the deputies serving and
in reach), every bad input refused with its message and nothing written, the reply added later, and the
register: its page, its XLSX, its sheet in the whole binder, rolled up by township."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from html import unescape
from io import BytesIO

import pytest
from openpyxl import load_workbook

from tests.activities.world import EAST
from tests.binder.binder_world import HEBA, build_binder_world
from tests.deputies.deputy_world import add_deputy, count, post, signed_in, text_of

DAY = date.today() - timedelta(days=1)
REGISTER = "/binder/receptions-of-deputies"
TITLE = "Register of the congress receiving deputies"
BAD_BODY = ("Please choose the township whose presidium received the deputies (or the county congress, "
            "for county staff).")
BAD_DEPUTIES = "A deputy chosen is not a serving deputy in your reach. Please choose again."


@pytest.fixture
async def world(database):
    w = await build_binder_world(database)
    w.heba_deputy = await add_deputy(database, w.ac.county, "孙丽", station=HEBA, level="township")
    w.retired = await add_deputy(database, w.ac.county, "周退", station=EAST, status="resigned")
    return w


def _form(world, body, **more) -> dict:
    d = world.ac.deputies
    return {"node_id": str(body), "received_on": DAY.isoformat(), "received_by": "镇人大主席团主席",
            "deputy_id": [str(d["张伟"]), str(d["李娜"])], "matter": "村道硬化进度慢", "reply": "", **more}


async def _record(client, data: dict):
    return await post(client, f"{client.base}{REGISTER}/new", data, page=f"{client.base}{REGISTER}/new")


def _register(client, station="", year=None) -> str:
    return f"{client.base}{REGISTER}?station={station}&year={year or DAY.year}"


async def test_a_county_admin_records_for_the_county_and_any_township(app, world, owner_sql):
    ac = world.ac
    async with signed_in(app, ac.county, "admin") as client:
        r = await _record(client, _form(world, "county", matter="县人大常委会听取代表意见", reply="已转交县政府"))
        assert r.status_code == 303
        assert r.headers["location"] == f"{client.base}{REGISTER}?year={DAY.year}&done=recorded"
        r = await _record(client, _form(world, ac.county.nodes["河坝乡"], matter="河坝的桥",
                                        deputy_id=[str(world.heba_deputy)]))
        assert r.status_code == 303
        page = await client.get(_register(client) + "&done=recorded")
        east = text_of((await client.get(_register(client, ac.stations[EAST]))).text)
        heba = text_of((await client.get(_register(client, ac.stations[HEBA]))).text)
    text = unescape(text_of(page.text))
    assert "The reception of deputies has been recorded." in text
    assert (f"{DAY.isoformat()} The county people's congress 镇人大主席团主席 张伟、李娜 县人大常委会听取代表意见 已转交县政府"
            in text)
    assert "Presidium of 河坝乡" in text and "河坝的桥" in text  # rolled up over every station
    assert "县人大常委会听取代表意见" in east and "河坝的桥" not in east  # 东街社区 is in 城关镇
    assert "县人大常委会听取代表意见" in heba and "河坝的桥" in heba
    assert await count(owner_sql, "deputy_receptions") == 2
    assert await count(owner_sql, "deputy_reception_deputies") == 3
    logged = await owner_sql("SELECT details->>'received_on' AS day, details->'deputies' AS d FROM audit_log "
                             "WHERE action = 'deputy_reception_recorded' ORDER BY id")
    assert [row["day"] for row in logged] == [DAY.isoformat()] * 2


async def test_the_county_form_folds_the_deputies_by_township(app, world):
    """A county holds hundreds of deputies: the form groups them by the township of their stations,
    each group folded, and a refused form opens the groups holding the deputies already chosen."""
    async with signed_in(app, world.ac.county, "admin") as client:
        form = (await client.get(f"{client.base}{REGISTER}/new")).text
        groups = [g.split("</summary>")[0].strip() for g in form.split("<summary>")[1:]]
        assert [g.split(" (")[0] for g in groups] == ["城关镇", "河坝乡"], groups
        chengguan, heba = form.split("<summary>")[1:3]
        assert "张伟" in chengguan and "孙丽" not in chengguan and "孙丽" in heba and "周退" not in form
        assert "<details open>" not in form
        r = await _record(client, _form(world, "county", matter="", deputy_id=[str(world.heba_deputy)]))
        assert r.status_code == 400
        opened = [g for g in r.text.split("<details")[1:] if g.startswith(" open>")]
        assert len(opened) == 1 and "孙丽" in opened[0] and 'checked' in opened[0]


async def test_township_staff_record_for_their_own_township_only(app, world, owner_sql):
    ac = world.ac
    async with signed_in(app, ac.county, "town") as client:
        form = (await client.get(f"{client.base}{REGISTER}/new")).text
        assert "Presidium of 城关镇" in form and "河坝乡" not in form and 'value="county"' not in form
        assert "张伟" in form and "孙丽" not in form and "周退" not in form
        for body in (ac.county.nodes["河坝乡"], "county", ac.county.nodes["东街社区"], "", "x"):
            r = await _record(client, _form(world, body))
            assert r.status_code == 400 and BAD_BODY in r.text, body
        for deputies in ([str(world.heba_deputy)], [str(world.retired)], [str(ac.deputies["张伟"]), "abc"]):
            r = await _record(client, _form(world, ac.county.nodes["城关镇"], deputy_id=deputies))
            assert r.status_code == 400 and BAD_DEPUTIES in r.text, deputies
        assert await count(owner_sql, "deputy_receptions") == 0
        r = await _record(client, _form(world, ac.county.nodes["城关镇"]))
        assert r.status_code == 303
        assert "村道硬化进度慢" in (await client.get(_register(client))).text
    assert await count(owner_sql, "deputy_receptions", "node_id = $1", ac.county.nodes["城关镇"]) == 1


async def test_another_tenants_deputy_is_refused(app, database, world, owner_sql):
    beta = await build_binder_world(database, "beta")
    async with signed_in(app, world.ac.county, "admin") as client:
        r = await _record(client, _form(world, "county", deputy_id=[str(beta.ac.deputies["张伟"])]))
    assert r.status_code == 400 and BAD_DEPUTIES in r.text
    assert await count(owner_sql, "deputy_receptions") == 0


async def test_only_the_county_and_townships_see_the_form(app, world):
    for username in ("viewer", "station", "rep", "handler"):
        async with signed_in(app, world.ac.county, username) as client:
            assert (await client.get(f"{client.base}{REGISTER}/new")).status_code == 404, username
            assert (await client.get(f"{client.base}{REGISTER}/reply?reception=1")).status_code == 404, username
    async with signed_in(app, world.ac.county, "viewer") as client:  # reads the register, without the links
        page = await client.get(_register(client))
    assert page.status_code == 200 and "Record a reception of deputies" not in page.text


@pytest.mark.parametrize("change, message", [
    ({"received_on": ""}, "Please give the day of the reception as a date, not after today."),
    ({"received_on": "2026-13-01"}, "Please give the day of the reception as a date, not after today."),
    ({"received_on": (date.today() + timedelta(days=2)).isoformat()},
     "Please give the day of the reception as a date, not after today."),
    ({"matter": "  "}, "Please write the matter the deputies raised, in at most 1000 characters."),
    ({"matter": "长" * 1001}, "Please write the matter the deputies raised, in at most 1000 characters."),
    ({"received_by": ""}, "Please say who received the deputies, in at most 100 characters."),
    ({"received_by": "主" * 101}, "Please say who received the deputies, in at most 100 characters."),
    ({"reply": "答" * 1001}, "The reply can be at most 1000 characters."),
    ({"deputy_id": []}, "Please choose the deputies received."),
])
async def test_bad_input_is_refused_and_nothing_written(app, world, owner_sql, change, message):
    async with signed_in(app, world.ac.county, "admin") as client:
        r = await _record(client, _form(world, "county", **change))
    assert r.status_code == 400 and message in r.text
    assert "镇人大主席团主席" in r.text or change.get("received_by") is not None  # what was typed stays
    assert await count(owner_sql, "deputy_receptions") == 0


async def test_the_reply_is_added_later_by_the_same_roles(app, database, world, owner_sql):
    ac = world.ac
    async with signed_in(app, ac.county, "admin") as client:
        await _record(client, _form(world, "county", matter="县级的事"))
        await _record(client, _form(world, ac.county.nodes["城关镇"], matter="镇里的事"))
    county_id, town_id = [row["id"] for row in await owner_sql("SELECT id FROM deputy_receptions ORDER BY id")]
    beta = await build_binder_world(database, "beta")
    async with signed_in(app, beta.ac.county, "admin") as client:  # another tenant's reception: 404
        assert (await client.get(f"{client.base}{REGISTER}/reply?reception={town_id}")).status_code == 404
    async with signed_in(app, ac.county, "town") as client:
        page = text_of((await client.get(_register(client))).text)
        assert "Add the reply" in page
        assert (await client.get(f"{client.base}{REGISTER}/reply?reception={county_id}")).status_code == 404
        reply_page = f"{client.base}{REGISTER}/reply?reception={town_id}"
        assert (await client.get(reply_page)).status_code == 200
        r = await post(client, f"{client.base}{REGISTER}/reply", {"reception": town_id, "reply": "答" * 1001},
                       page=reply_page)
        assert r.status_code == 400 and "The reply can be at most 1000 characters." in r.text
        r = await post(client, f"{client.base}{REGISTER}/reply", {"reception": county_id, "reply": "不行"},
                       page=reply_page)
        assert r.status_code == 404
        r = await post(client, f"{client.base}{REGISTER}/reply", {"reception": town_id, "reply": "已安排施工"},
                       page=reply_page)
        assert r.status_code == 303
        page = text_of((await client.get(_register(client) + "&done=replied")).text)
    assert "The reply has been saved." in page and "镇里的事 已安排施工" in page
    rows = await owner_sql("SELECT reply, replied_at IS NOT NULL AS at FROM deputy_receptions WHERE id = $1", town_id)
    assert (rows[0]["reply"], rows[0]["at"]) == ("已安排施工", True)
    assert await count(owner_sql, "audit_log", "action = 'deputy_reception_replied'") == 1


async def test_the_register_exports_and_is_in_the_whole_binder(app, world, owner_sql):
    ac = world.ac
    async with signed_in(app, ac.county, "admin") as client:
        await _record(client, _form(world, ac.county.nodes["城关镇"], reply="已答复"))
        index = await client.get(f"{client.base}/binder?year={DAY.year}")
        sheet = await client.get(f"{client.base}{REGISTER}.xlsx?station={ac.stations[EAST]}&year={DAY.year}")
        whole = await client.get(f"{client.base}/binder/book.xlsx?station={ac.stations[EAST]}&year={DAY.year}")
        printed = await client.get(f"{client.base}/binder/print?station={ac.stations[EAST]}&year={DAY.year}")
        printable = await client.get(_register(client, ac.stations[EAST]) + "&print=1")
    assert TITLE in index.text and f"{REGISTER}.xlsx?" in index.text
    assert sheet.status_code == 200 and "attachment" in sheet.headers["content-disposition"]
    rows = list(load_workbook(BytesIO(sheet.content)).active.iter_rows(values_only=True))
    assert rows[0] == ("Date of the reception", "Receiving body", "Who received the deputies", "Deputies received",
                       "Matter raised", "Reply")
    assert rows[1] == (datetime(DAY.year, DAY.month, DAY.day), "Presidium of 城关镇", "镇人大主席团主席", "张伟、李娜",
                       "村道硬化进度慢", "已答复")
    book = load_workbook(BytesIO(whole.content))
    assert TITLE[:31] in book.sheetnames
    assert list(book[TITLE[:31]].iter_rows(values_only=True))[1][4] == "村道硬化进度慢"
    assert f"<h2>{TITLE} ({DAY.year})</h2>" in printed.text and "村道硬化进度慢" in printed.text
    assert "Add the reply" not in printed.text and "Change the reply" not in printable.text
    logged = await owner_sql("SELECT target FROM audit_log WHERE action = 'binder_register_exported'")
    assert [row["target"] for row in logged] == ["binder:receptions-of-deputies"]
