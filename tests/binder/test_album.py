"""The binder's photo album (照片册): the photos of the activities held at the binder's stations in the
year, by month of the activity's local day, each with its caption (the topic when it has none), day,
kind and station; a station's album only its photos, a township's only its township's (and another
township's photo is a 404 for a township user); lazy thumbnails on screen, eager ones in print; the
XLSX typed (dates as dates, no formula); the album a part of the whole binder; fixed queries."""

from __future__ import annotations

import io
import re
from datetime import datetime

import pytest
from openpyxl import load_workbook

from tests.activities.world import EAST, HOME, local, put_activity
from tests.binder.album_world import put_photo
from tests.binder.binder_world import HEBA, YEAR, build_binder_world
from tests.deputies.deputy_world import signed_in, text_of

MONTH_HEADING = re.compile(r"<h3>([^<]+)</h3>")


@pytest.fixture
async def world(database):
    w = await build_binder_world(database)
    ac = w.ac
    # late on 31 January and early on 1 March, Shanghai time: the months are the county's, not UTC's
    january = await put_activity(database, ac, kind="visit", starts_at=local(YEAR, 1, 31, 23, 30), topic="新春走访")
    march = await put_activity(database, ac, kind="training", starts_at=local(YEAR, 3, 1, 0, 30), topic="三月学习")
    heba = await put_activity(database, ac, kind="survey", starts_at=local(YEAR, 6, 2), topic="河坝踏勘", station=HEBA)
    last_year = await put_activity(database, ac, kind="survey", starts_at=local(YEAR - 1, 12, 31, 15), topic="旧年")
    w.photos = {
        "january": await put_photo(database, ac, january, "村民座谈"),
        "road": await put_photo(database, ac, w.survey, "村道现场", size=(48, 64)),
        "road-untitled": await put_photo(database, ac, w.survey, "  "),  # no caption: the topic stands for it
        "march": await put_photo(database, ac, march, "=1+1"),  # a formula in the sheet: written as text
        "reception": await put_photo(database, ac, w.reception),
        "heba": await put_photo(database, ac, heba, "河坝的桥"),
        "last-year": await put_photo(database, ac, last_year, "去年的照片"),
    }
    w.heba = heba
    return w


def _url(client, path: str = "album", station=None, year=YEAR, **more) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"station": station or "", "year": year, **more}.items())
    return f"{client.base}/binder/{path}?{query}"


def _captions(html: str) -> list[str]:
    return re.findall(r"<figcaption>([^<]*)<br>", html)


async def test_photos_by_month_with_their_captions(app, world):
    ac = world.ac
    async with signed_in(app, ac.county, "admin") as client:
        r = await client.get(_url(client, station=ac.stations[EAST]))
        road = await client.get(f"{client.base}/activities/{world.survey}/photos/{world.photos['road']}")
    assert r.status_code == 200
    assert MONTH_HEADING.findall(r.text) == ["January", "March", "April"]
    # in the activities' order, then the order they were added; the untitled photo shows its activity's topic
    assert _captions(r.text) == ["村民座谈", "=1+1", "村道现场", "道路调研", "四月接待日"]
    assert "2026-03-10 · 调研视察 · " + EAST in text_of(r.text)
    assert "2026-01-31 · 走访选区" in r.text and "2026-03-01 · 学习培训" in r.text
    for absent in ("河坝的桥", "去年的照片"):  # another station; last year
        assert absent not in r.text
    # on screen: the thumbnail, its place kept (width/height), loaded as it comes into view
    link = f"{client.base}/activities/{world.survey}/photos/{world.photos['road']}"
    assert f'<img src="{link}" width="48" height="64" alt="村道现场" loading="lazy">' in r.text
    assert 'loading="eager"' not in r.text
    assert road.status_code == 200 and road.headers["content-type"] == "image/webp"
    assert "5 photos" in r.text


async def test_the_print_view_loads_every_image(app, world):
    ac = world.ac
    async with signed_in(app, ac.county, "viewer") as client:
        r = await client.get(_url(client, station=ac.stations[EAST], print=1))
        binder = await client.get(_url(client, "print", ac.stations[EAST]))
    assert r.status_code == 200 and 'class="subnav"' not in r.text
    assert r.text.count('loading="eager"') == 5 and 'loading="lazy"' not in r.text
    assert '<article class="card">' in r.text  # six columns in its sheet: printed portrait
    # a part of the whole binder's print-out: portrait, its month headings and photos, loaded at once
    assert binder.status_code == 200
    part = binder.text.split('<article class="card binder-part" id="part-album">')[1].split("</article>")[0]
    assert f"<h2>Photo album ({YEAR})</h2>" in part
    assert MONTH_HEADING.findall(part) == ["January", "March", "April"]
    assert part.count('loading="eager"') == 5 and 'loading="lazy"' not in part


async def test_a_township_sees_its_own_photos_only(app, world):
    ac = world.ac
    heba_photo = f"/activities/{world.heba}/photos/{world.photos['heba']}"
    async with signed_in(app, ac.county, "admin") as client:
        everything = await client.get(_url(client))
        assert (await client.get(client.base + heba_photo)).status_code == 200
    assert "河坝的桥" in _captions(everything.text) and "村道现场" in _captions(everything.text)
    async with signed_in(app, ac.county, "town") as client:  # 城关镇: not 河坝乡's stations
        town = await client.get(_url(client))
        assert (await client.get(_url(client, station=ac.stations[HEBA]))).status_code == 404
        assert (await client.get(_url(client, "album.xlsx", ac.stations[HEBA]))).status_code == 404
        assert (await client.get(client.base + heba_photo)).status_code == 404  # the image itself
        own = await client.get(f"{client.base}/activities/{world.survey}/photos/{world.photos['road']}")
        assert own.status_code == 200
        sheet = load_workbook(io.BytesIO((await client.get(_url(client, "album.xlsx"))).content)).active
    assert town.status_code == 200 and "村道现场" in _captions(town.text) and "河坝的桥" not in town.text
    assert "河坝的桥" not in [row[4] for row in sheet.iter_rows(values_only=True)]
    async with signed_in(app, ac.county, "station") as client:  # 东街社区's staff: their station only
        assert (await client.get(_url(client, station=ac.stations[HOME]))).status_code == 404
        assert "村道现场" in (await client.get(_url(client))).text
    for username in ("rep", "handler"):
        async with signed_in(app, ac.county, username) as client:
            for path in ("album", "album.xlsx"):
                assert (await client.get(_url(client, path))).status_code == 404, (username, path)


async def test_a_bad_year_is_refused_and_an_empty_year_says_so(app, world):
    async with signed_in(app, world.ac.county, "admin") as client:
        for path in ("album", "album.xlsx"):
            r = await client.get(_url(client, path, year="20x6"))
            assert r.status_code == 400
            assert "Please give the year as four digits, from 2000 to 2100." in r.text
        empty = await client.get(_url(client, year=YEAR + 2))
    assert empty.status_code == 200 and f"No photos of activities held in {YEAR + 2}." in empty.text


async def test_the_sheet_lists_every_photo_with_typed_cells(app, world, owner_sql):
    ac = world.ac
    async with signed_in(app, ac.county, "admin") as client:
        r = await client.get(_url(client, "album.xlsx", ac.stations[EAST]))
        book = await client.get(_url(client, "book.xlsx", ac.stations[EAST]))
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(r.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert sheet.title == "Photo album"
    assert rows[0] == ("Month", "Date of the activity", "Station", "Activity", "Photo caption", "Address of the photo")
    road = f"/t/{ac.slug}/activities/{world.survey}/photos/{world.photos['road']}"
    assert rows[3] == ("March", datetime(YEAR, 3, 10), EAST, "道路调研", "村道现场", road)
    assert rows[4][4] == "道路调研"  # the caption's fallback
    assert rows[2][0] == "March" and rows[2][1] == datetime(YEAR, 3, 1) and rows[2][4] == "'=1+1"  # guarded
    assert [row[0] for row in rows[1:]] == ["January", "March", "March", "March", "April"]
    assert sheet.cell(row=2, column=2).number_format == "yyyy-mm-dd" and sheet.cell(row=2, column=2).data_type == "d"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    logged = await owner_sql("SELECT target FROM audit_log WHERE action = 'binder_register_exported'")
    assert [row["target"] for row in logged] == ["binder:album"]
    # the whole binder holds the same sheet, named in its contents
    whole = load_workbook(io.BytesIO(book.content))
    assert "Photo album" in whole.sheetnames
    assert list(whole["Photo album"].iter_rows(values_only=True)) == rows
    assert ("Photo album", 5) in list(whole.worksheets[0].iter_rows(values_only=True))


async def _queries(client, path: str) -> int:
    r = await client.get(_url(client, path))
    assert r.status_code == 200
    return int(r.headers["x-query-count"])


async def test_queries_do_not_grow_with_the_photos(app, database, world):
    ac = world.ac
    async with signed_in(app, ac.county, "admin") as client:
        await client.get(f"{client.base}/binder")  # the first entry into the tenant is recorded: not counted here
        before = [await _queries(client, p) for p in ("album", "album.xlsx")]
        for day in range(1, 6):
            activity = await put_activity(database, ac, kind="visit", starts_at=local(YEAR, 7, day), topic=f"走访{day}")
            await put_photo(database, ac, activity, f"照片{day}")
            await put_photo(database, ac, activity)
        after = [await _queries(client, p) for p in ("album", "album.xlsx")]
        r = await client.get(_url(client))
    assert after == before and r.text.count("<figure>") == 6 + 10  # 东街社区's five and 河坝村's one, then ten more
