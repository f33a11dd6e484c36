"""The station page: profile, photo, staff, goals and commitments; images served to staff in scope."""

from tests.stations.places import add_station, county, person, png, post, rows, sign_in, snapshot, station_deputy
from tests.core.bombs import png_declaring


async def setup(database):
    c = await county(database)
    sid = await add_station(database, c, c.canonical("北坝村"))
    other = await add_station(database, c, c.canonical("新村", "河坝乡"), node="新村")
    await person(database, c, "admin")
    await person(database, c, "tongchuan", "township_staff", scope="潼川镇")
    await person(database, c, "heba", "township_staff", scope="河坝乡")
    await person(database, c, "viewer", "viewer")
    await person(database, c, "liaison", "station_staff", station_id=sid)
    await station_deputy(database, c, sid, "李四")
    return c, sid, other


async def test_profile_is_edited_by_the_stations_staff(client, database, owner_sql):
    c, sid, _ = await setup(database)
    await sign_in(client, "liaison")
    r = await post(client, c, f"/stations/{sid}/profile", {
        "address": "北坝村村委会二楼", "contact_name": "王五", "contact_phone": "0816-5551234",
        "opening_hours": "工作日 9:00–17:00", "reception_rule": "每月15日、每月第一个星期五", "intro": "北坝村联络站成立于2026年。",
    })
    assert r.status_code == 303
    page = await client.get(f"{c.base}/stations/{sid}")
    for text in ("北坝村村委会二楼", "王五", "0816-5551234", "工作日 9:00–17:00", "每月15日", "北坝村联络站成立于2026年。"):
        assert text in page.text
    # the next three reception days are shown
    assert page.text.count("星期", page.text.index("最近：")) >= 3
    audit = await owner_sql("SELECT details FROM audit_log WHERE action = 'station_profile_changed'")
    assert len(audit) == 1


async def test_bad_profile_input_is_refused(client, database, owner_sql):
    c, sid, _ = await setup(database)
    await sign_in(client, "admin")
    await client.get(f"{c.base}/stations")
    before = await snapshot(owner_sql, c.tenant)
    r = await post(client, c, f"/stations/{sid}/profile", {"reception_rule": "偶尔", "address": "新地址"})
    assert r.status_code == 400 and "偶尔" in r.text
    r = await post(client, c, f"/stations/{sid}/profile", {"contact_phone": "call me"})
    assert r.status_code == 400 and "联系电话只能包含数字" in r.text
    r = await post(client, c, f"/stations/{sid}/profile", {"address": "地" * 201})
    assert r.status_code == 400 and "不超过200个字" in r.text
    assert await snapshot(owner_sql, c.tenant) == before


async def test_a_photo_of_too_many_pixels_is_refused(client, database, owner_sql):
    c, sid, _ = await setup(database)
    await sign_in(client, "admin")
    await client.get(f"{c.base}/stations")
    before = await snapshot(owner_sql, c.tenant)
    r = await post(client, c, f"/stations/{sid}/photo",
                   files={"photo": ("bomb.png", png_declaring(8000, 8000), "image/png")})
    assert r.status_code == 400 and "照片像素过多（最多 2500 万像素），请缩小后再上传。" in r.text
    assert await snapshot(owner_sql, c.tenant) == before


async def test_viewer_and_other_township_cannot_edit(client, database, owner_sql):
    c, sid, _ = await setup(database)
    await sign_in(client, "viewer")
    page = await client.get(f"{c.base}/stations/{sid}")
    assert page.status_code == 200 and "保存简介" not in page.text
    assert (await post(client, c, f"/stations/{sid}/profile", {"address": "x"})).status_code == 404
    await sign_in(client, "heba")
    assert (await post(client, c, f"/stations/{sid}/profile", {"address": "x"})).status_code == 404
    assert (await owner_sql("SELECT address FROM stations WHERE id = $1", sid))[0]["address"] == ""


async def test_photo_becomes_a_small_webp_served_privately(client, database, owner_sql):
    c, sid, other = await setup(database)
    await sign_in(client, "tongchuan")
    raw = png()
    assert len(raw) > 40 * 1024
    r = await post(client, c, f"/stations/{sid}/photo", files={"photo": ("photo.png", raw, "image/png")})
    assert r.status_code == 303
    image = (await owner_sql("SELECT i.id, i.media_type, octet_length(i.data) AS n FROM images i "
                             "JOIN stations s ON s.photo_id = i.id AND s.tenant_id = i.tenant_id WHERE s.id = $1",
                             sid))[0]
    assert image["media_type"] == "image/webp" and image["n"] <= 40 * 1024
    page = await client.get(f"{c.base}/stations/{sid}")
    assert f'src="/t/alpha/images/{image["id"]}"' in page.text
    got = await client.get(f"{c.base}/images/{image['id']}")
    assert got.status_code == 200 and got.headers["content-type"] == "image/webp"
    assert got.content[:4] == b"RIFF" and got.content[8:12] == b"WEBP"
    assert got.headers["cache-control"].startswith("private") and "max-age" in got.headers["cache-control"]
    # another township's staff cannot fetch it
    await sign_in(client, "heba")
    assert (await client.get(f"{c.base}/images/{image['id']}")).status_code == 404
    # replacing the photo drops the old thumbnail
    await sign_in(client, "admin")
    r = await post(client, c, f"/stations/{sid}/photo", files={"photo": ("p2.png", png(400, 300), "image/png")})
    assert r.status_code == 303
    assert await rows(owner_sql, "images", c.tenant) == 1


async def test_a_text_file_is_not_a_photo(client, database, owner_sql):
    c, sid, _ = await setup(database)
    await sign_in(client, "admin")
    await client.get(f"{c.base}/stations")
    before = await snapshot(owner_sql, c.tenant)
    r = await post(client, c, f"/stations/{sid}/photo", files={"photo": ("notes.txt", b"hello, not a photo", "text/plain")})
    assert r.status_code == 400
    assert "无法识别" in r.text or "JPEG" in r.text
    r = await post(client, c, f"/stations/{sid}/photo", {})
    assert r.status_code == 400 and "请选择要上传的照片" in r.text
    assert await snapshot(owner_sql, c.tenant) == before


async def test_staff_roles(client, database, owner_sql):
    c, sid, _ = await setup(database)
    await sign_in(client, "admin")
    liaison = c.users["liaison"].id
    r = await post(client, c, f"/stations/{sid}/staff", {"role": "head", "person": f"d:{c.deputies['李四']}"})
    assert r.status_code == 303
    r = await post(client, c, f"/stations/{sid}/staff", {"role": "liaison", "person": f"u:{liaison}"})
    assert r.status_code == 303
    page = await client.get(f"{c.base}/stations/{sid}")
    staff = page.text[page.text.index('id="staff"'):page.text.index('id="deputies"')]
    assert "站长" in staff and "李四" in staff and "Liaison" in staff
    assert f'href="/t/alpha/deputies/{c.deputies["李四"]}"' in staff
    before = await snapshot(owner_sql, c.tenant)
    r = await post(client, c, f"/stations/{sid}/staff", {"role": "head", "person": f"u:{liaison}"})
    assert r.status_code == 400 and "本站已有站长" in r.text
    r = await post(client, c, f"/stations/{sid}/staff", {"role": "boss", "person": f"u:{liaison}"})
    assert r.status_code == 400 and "请从列表中选择职务" in r.text
    r = await post(client, c, f"/stations/{sid}/staff", {"role": "convener", "person": "u:999999"})
    assert r.status_code == 400 and "请从列表中选择人员" in r.text
    assert await snapshot(owner_sql, c.tenant) == before
    for n in range(2):
        user = await person(database, c, f"vice{n}")
        assert (await post(client, c, f"/stations/{sid}/staff", {"role": "deputy_head", "person": f"u:{user.id}"})
                ).status_code == 303
    r = await post(client, c, f"/stations/{sid}/staff", {"role": "deputy_head", "person": f"u:{liaison}"})
    assert r.status_code == 400 and "已有两名副站长" in r.text
    staff_id = (await owner_sql("SELECT id FROM station_staff WHERE role = 'head'"))[0]["id"]
    assert (await post(client, c, f"/stations/{sid}/staff/{staff_id}/remove")).status_code == 303
    assert await rows(owner_sql, "station_staff", c.tenant) == 3
    # station staff do not appoint staff
    await sign_in(client, "liaison")
    r = await post(client, c, f"/stations/{sid}/staff", {"role": "head", "person": f"u:{liaison}"})
    assert r.status_code == 404


async def test_goals_and_commitments(client, database, owner_sql):
    c, sid, _ = await setup(database)
    await sign_in(client, "liaison")
    r = await post(client, c, f"/stations/{sid}/goals", {"year": "2026", "goal": "每月接待选民一次"})
    assert r.status_code == 303
    goal_id = (await owner_sql("SELECT id FROM station_goals"))[0]["id"]
    r = await post(client, c, f"/stations/{sid}/goals/{goal_id}", {"progress": "已接待10次", "done": "1"})
    assert r.status_code == 303
    r = await post(client, c, f"/stations/{sid}/commitments",
                   {"deputy_id": c.deputies["李四"], "year": "2026", "commitment": "每季度走访选区"})
    assert r.status_code == 303
    page = await client.get(f"{c.base}/stations/{sid}")
    assert "每月接待选民一次" in page.text and "已接待10次" in page.text and "已完成" in page.text
    assert "每季度走访选区" in page.text
    before = await snapshot(owner_sql, c.tenant)
    r = await post(client, c, f"/stations/{sid}/goals", {"year": "1999", "goal": "x"})
    assert r.status_code == 400 and "请填写2000至2100之间的年份" in r.text
    r = await post(client, c, f"/stations/{sid}/goals", {"year": "2026", "goal": ""})
    assert r.status_code == 400 and "请填写目标" in r.text
    # only deputies stationed here make commitments here
    r = await post(client, c, f"/stations/{sid}/commitments",
                   {"deputy_id": c.deputies["张三"], "year": "2026", "commitment": "x"})
    assert r.status_code == 400 and "请选择在本站的代表" in r.text
    assert await snapshot(owner_sql, c.tenant) == before
    commitment_id = (await owner_sql("SELECT id FROM deputy_commitments"))[0]["id"]
    assert (await post(client, c, f"/stations/{sid}/commitments/{commitment_id}/remove")).status_code == 303
    assert await rows(owner_sql, "deputy_commitments", c.tenant) == 0
    # a goal of another station is not reachable through this one
    await sign_in(client, "admin")
    r = await post(client, c, f"/stations/{sid}/goals/987654", {"progress": "x"})
    assert r.status_code == 404


async def test_a_phone_sized_photo_over_1_mb_is_accepted(client, database, owner_sql):
    """Phones take photos of several MB; the app's general 1 MB body limit must not refuse them here."""
    import io
    import os

    from PIL import Image

    c, sid, _ = await setup(database)
    await sign_in(client, "admin")
    out = io.BytesIO()
    Image.frombytes("RGB", (900, 900), os.urandom(900 * 900 * 3)).save(out, "PNG")
    raw = out.getvalue()
    assert len(raw) > 1_000_000
    r = await post(client, c, f"/stations/{sid}/photo", files={"photo": ("big.png", raw, "image/png")})
    assert r.status_code == 303, r.text[:300]
    stored = await owner_sql("SELECT octet_length(data) AS n FROM images")
    assert len(stored) == 1 and stored[0]["n"] <= 40 * 1024


async def test_a_closed_stations_staff_stays_on_record(client, database, owner_sql):
    c, sid, _ = await setup(database)
    await sign_in(client, "admin")
    r = await post(client, c, f"/stations/{sid}/staff", {"role": "head", "person": f"d:{c.deputies['李四']}"})
    assert r.status_code == 303
    staff_id = (await owner_sql("SELECT id FROM station_staff"))[0]["id"]
    await owner_sql("UPDATE stations SET status = 'closed', closed_at = now() WHERE id = $1", sid)
    r = await post(client, c, f"/stations/{sid}/staff/{staff_id}/remove", {})
    assert r.status_code == 400
    assert len(await owner_sql("SELECT id FROM station_staff")) == 1
