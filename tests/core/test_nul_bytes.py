"""A NUL character (which PostgreSQL text cannot hold) anywhere in what a client sends, the query
string, the path or a text field of a form, is a 400 page that says so in the user's language, for
every route, signed in or not, and nothing is written. File contents may hold NUL bytes."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.cases.world import EAST, build_case_county
from tests.core.test_bad_input import row_counts
from tests.deputies.deputy_world import signed_in
from tests.factories import csrf_from
from tests.isolation.routes import endpoints

NUL_ZH = "提交的内容含有无法保存的空字符"
NUL_EN = "contains a null character"


def assert_nul_refused(r, english: bool = False) -> None:
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert (NUL_EN if english else NUL_ZH) in r.text
    assert "Traceback" not in r.text


@pytest.fixture
async def cc(database):
    return await build_case_county(database)


def fill(endpoint, slug: str) -> str:
    values = {name: slug if name == "tenant_slug" else {"int": 1, "path": "x"}.get(kind, "x")
              for name, kind in endpoint.params}
    return endpoint.url(values)


async def test_nul_in_the_query_is_400_on_every_get_route(app, cc, owner_sql):
    """Signed in as the county admin, so that the lists really run their searches."""
    gets = [e for e in endpoints(app) if e.method == "GET"]
    assert len(gets) > 50  # the routes are really read from the app
    async with signed_in(app, cc.county, "admin") as client:
        await client.get(f"{client.base}/")  # entering the county is audited: before counting
        before = await row_counts(owner_sql)
        for endpoint in gets:
            url = fill(endpoint, cc.slug)
            for query in ("q=%00", "q=a%00b&page_no=1", "%00=1"):
                r = await client.get(f"{url}?{query}", follow_redirects=False)
                assert r.status_code == 400, (str(endpoint), query, r.status_code)
                assert NUL_EN in r.text, str(endpoint)
        assert await row_counts(owner_sql) == before


async def test_nul_in_the_path_is_400(client, cc):
    for path in (f"/t/{cc.slug}%00/", f"/p/{cc.slug}%00/lookup", f"/p/%00{cc.slug}",
                 f"/t/{cc.slug}/deputies/checks%00"):
        assert_nul_refused(await client.get(path, follow_redirects=False))


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (20, 120, 40)).save(out, "PNG")
    return out.getvalue()


BOUNDARY = "nulboundary7MA4YWxk"


def multipart(fields: dict[str, str], upload: tuple[str, str, bytes]) -> bytes:
    """A multipart body written by hand: httpx percent-encodes control characters in file names."""
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    name, filename, data = upload
    parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                 f"Content-Type: image/png\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


async def test_public_forms_with_nul_are_400_and_write_nothing(client, cc, owner_sql):
    before = await row_counts(owner_sql)
    opinion = f"/p/{cc.slug}/stations/{cc.stations[EAST]}/opinion"
    sent = [
        await client.post("/login", data={"login": "alpha-admin\x00", "password": "x",
                                          "_csrf_token": csrf_from((await client.get("/login")).text)}),
        await client.post(f"/p/{cc.slug}/lookup", data={"code": "ABCD\x00EFGH"}),
        await client.post(f"/p/{cc.slug}/lookup/rate", data={"code": "ABCD", "satisfaction": "\x00"}),
        await client.post(opinion, data={"content": "路灯坏了\x00", "person_name": "王"}),
        await client.post(opinion, data={"content": "路灯坏了", "person_name": "王\x00"},
                          files={"photo": ("p.png", png(), "image/png")}),
        await client.post(opinion, content=multipart({"content": "路灯坏了"}, ("photo", "p\x00.png", png())),
                          headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"}),
    ]
    for r in sent:
        assert_nul_refused(r)
    assert await row_counts(owner_sql) == before
    # a file's contents are not text: a PNG is full of NUL bytes and goes through
    ok = await client.post(opinion, data={"content": "路灯坏了"}, files={"photo": ("p.png", png(), "image/png")})
    assert ok.status_code == 200 and b"\x00" in png()
    assert (await owner_sql("SELECT count(*) AS n FROM cases"))[0]["n"] == 1


STAFF_FORMS = {  # path under /t/<slug> -> a form that would otherwise be accepted (or refused) by the route
    "/deputies": {"name": "钱\x00多", "level": "county", "term": "18"},
    "/stations": {"name": "新站\x00", "kind_id": "1", "node_id": "1"},
    "/cases/new": {"content": "问题\x00", "source": "reception"},
    "/activities/new": {"topic": "\x00", "kind_id": "1"},
    "/account/password": {"current": "x\x00", "new": "y", "confirm": "y"},
}


@pytest.mark.parametrize("path", list(STAFF_FORMS))
async def test_staff_forms_with_nul_are_400_and_write_nothing(app, cc, owner_sql, path):
    async with signed_in(app, cc.county, "admin") as client:
        token = csrf_from((await client.get(f"{client.base}/")).text)  # entering the county is audited: before
        url = path if path.startswith("/account") else client.base + path
        before = await row_counts(owner_sql)
        r = await client.post(url, data={"_csrf_token": token, **STAFF_FORMS[path]}, follow_redirects=False)
        assert_nul_refused(r, english=True)
        # a field's name is text too
        r = await client.post(url, data={"_csrf_token": token, "na\x00me": "x"}, follow_redirects=False)
        assert_nul_refused(r, english=True)
        assert await row_counts(owner_sql) == before
