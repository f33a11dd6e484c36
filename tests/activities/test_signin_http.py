"""Sign-in over HTTP with the real clock: activities start a few minutes from now (sign-in open),
hours from now (not yet open) or ended hours ago (closed)."""

from __future__ import annotations

import gzip
import re
from datetime import datetime, timedelta, timezone

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from app.activities.models import Invitation
from app.deputies.models import Deputy
from tests.activities.world import EAST, build_activity_county, put_activity
from tests.deputies.deputy_world import add_deputy, count, post, signed_in, text_of
from tests.factories import add_member, csrf_from, login, make_user


def _in(minutes: int) -> datetime:
    return datetime.now(timezone.utc) + timedelta(minutes=minutes)


@pytest.fixture
async def ac(database):
    ac = await build_activity_county(database)
    async with database.transaction(tenant_id=ac.tenant.id) as db:  # 李娜 is the member "rep2"
        await db.execute(update(Deputy).where(Deputy.id == ac.deputies["李娜"]).values(user_id=ac.users["rep2"].id))
    return ac


async def _activity(database, ac, starts_in: int = 5, invited=("张伟", "李娜"), **kw) -> int:
    return await put_activity(database, ac, kind="reception", starts_at=_in(starts_in), status="planned",
                              invited=invited, topic="五月接待日", **kw)


async def _token(database, ac, activity_id, name) -> str:
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        return await db.scalar(select(Invitation.token).where(Invitation.activity_id == activity_id,
                                                              Invitation.deputy_id == ac.deputies[name]))


def _fresh(app) -> AsyncTestClient:
    client = AsyncTestClient(app=app, base_url="http://testserver.local")
    client.cookies.set("lang", "en")
    return client


# --- the personal link ---------------------------------------------------------------------------

async def test_personal_link_without_an_account(app, database, ac, owner_sql):
    activity_id = await _activity(database, ac)
    url = f"/signin/{ac.slug}/{await _token(database, ac, activity_id, '张伟')}"
    async with _fresh(app) as phone:
        page = await phone.get(url)
        assert page.status_code == 200
        text = text_of(page.text)
        assert "张伟" in text and "五月接待日" in text and "接待选民" in text and EAST in text
        assert "Sign in now" in text and "<script" not in page.text
        assert page.headers["cache-control"] == "no-store" and "noindex" in page.headers["x-robots-tag"]
        assert "set-cookie" not in page.headers
        done = await phone.post(url, follow_redirects=False)
        assert done.status_code == 303 and "set-cookie" not in done.headers
        shown = await phone.get(done.headers["location"])
        assert "Signed in successfully" in shown.text and "Sign in now" not in shown.text
        again = await phone.post(url, follow_redirects=True)
        assert "Already signed in" in again.text
    rows = await owner_sql("SELECT method, late, recorded_by FROM attendances")
    assert [dict(r) for r in rows] == [{"method": "link", "late": False, "recorded_by": None}]


async def test_withdrawn_and_unknown_links_are_the_same_404(app, database, ac, owner_sql):
    activity_id = await _activity(database, ac)
    token = await _token(database, ac, activity_id, "张伟")
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        await db.execute(update(Invitation).where(Invitation.token == token).values(withdrawn_at=_in(0)))
    async with _fresh(app) as phone:
        answers = []
        for url in (f"/signin/{ac.slug}/{token}", f"/signin/{ac.slug}/no-such-token", f"/signin/nowhere/{token}"):
            for method in ("GET", "POST"):
                r = await phone.request(method, url, follow_redirects=False)
                answers.append((r.status_code, r.text.replace(url, "")))
        assert {status for status, _ in answers} == {404}
        assert len({body for _, body in answers}) == 1
    assert await count(owner_sql, "attendances") == 0


async def test_personal_link_before_and_after_the_window(app, database, ac, owner_sql):
    later = await _activity(database, ac, starts_in=180)
    past = await put_activity(database, ac, kind="reception", starts_at=_in(-300), status="held", invited=("张伟",))
    async with _fresh(app) as phone:
        url = f"/signin/{ac.slug}/{await _token(database, ac, later, '张伟')}"
        assert "Sign-in has not started yet" in (await phone.get(url)).text
        r = await phone.post(url)
        assert r.status_code == 400 and "Sign-in has not started yet" in r.text
        url = f"/signin/{ac.slug}/{await _token(database, ac, past, '张伟')}"
        page = await phone.get(url)
        assert "Sign-in has closed" in page.text and "Sign in now" not in page.text
        assert (await phone.post(url)).status_code == 400
    assert await count(owner_sql, "attendances") == 0


# --- the screen and the code ---------------------------------------------------------------------

def _signin_url(html: str) -> str:
    match = re.search(r'data-signin-url="([^"]+)"', html)
    assert match, "no code on the screen"
    return match.group(1)


async def test_screen_code_signs_in_one_deputy_once(app, database, ac, owner_sql):
    activity_id = await _activity(database, ac)
    async with signed_in(app, ac.county, "station") as staff:
        screen = await staff.get(f"{staff.base}/activities/{activity_id}/screen")
        assert screen.status_code == 200
        assert '<meta http-equiv="refresh" content="10">' in screen.text and "<svg" in screen.text
        assert "Signed in 0 / expected 2" in screen.text
        assert len(gzip.compress(screen.content)) <= 14 * 1024
        url = _signin_url(screen.text)
        code = url.rsplit("/", 1)[1]
        assert url.startswith("http://testserver.local/t/alpha/signin/") and len(code) >= 10
        poll = await staff.get(f"{staff.base}/activities/{activity_id}/screen/code?current={code}&n=0")
        assert poll.status_code == 204
    path = url.removeprefix("http://testserver.local")
    async with signed_in(app, ac.county, "rep") as rep:
        page = await rep.get(path)
        assert page.status_code == 200 and "Sign-in: 五月接待日" in page.text and "张伟" in page.text
        r = await post(rep, path, page=path)
        assert r.status_code == 303
        assert "Signed in successfully" in (await rep.get(r.headers["location"])).text
    async with signed_in(app, ac.county, "rep2") as rep2:
        page = await rep2.get(path)
        assert "already been used" in page.text and "Confirm the sign-in" not in page.text
        r = await post(rep2, path)
        assert r.status_code == 400 and "already been used" in r.text
    async with signed_in(app, ac.county, "station") as staff:
        fresh = await staff.get(f"{staff.base}/activities/{activity_id}/screen/code?current={code}&n=0")
        assert fresh.status_code == 200 and len(fresh.content) <= 5000
        assert _signin_url(fresh.text) != url and "Signed in 1 / expected 2" in fresh.text
    rows = await owner_sql("SELECT deputy_id, method FROM attendances")
    assert [(r["deputy_id"], r["method"]) for r in rows] == [(ac.deputies["张伟"], "code")]
    used = await owner_sql("SELECT used_by_deputy_id FROM signin_codes WHERE code = $1", code)
    assert used[0]["used_by_deputy_id"] == ac.deputies["张伟"]


async def _screen_code(app, ac, activity_id) -> str:
    async with signed_in(app, ac.county, "station") as staff:
        screen = await staff.get(f"{staff.base}/activities/{activity_id}/screen")
        return _signin_url(screen.text).removeprefix("http://testserver.local")


async def test_expired_and_uninvited_codes_are_refused(app, database, ac, owner_sql):
    activity_id = await _activity(database, ac, invited=("张伟",))
    path = await _screen_code(app, ac, activity_id)
    async with signed_in(app, ac.county, "rep2") as rep2:  # 李娜 is not invited
        r = await post(rep2, path)
        assert r.status_code == 403 and "You are not invited to this activity" in r.text
    await owner_sql("UPDATE signin_codes SET expires_at = now() - interval '1 second'")
    async with signed_in(app, ac.county, "rep") as rep:
        assert "has expired" in (await rep.get(path)).text
        r = await post(rep, path)
        assert r.status_code == 400 and "has expired" in r.text
        assert (await rep.get(f"/t/{ac.slug}/signin/unknown-code-1")).status_code == 404
    assert await count(owner_sql, "attendances") == 0
    assert await count(owner_sql, "signin_codes", "used_at IS NOT NULL") == 0


async def test_code_of_one_county_under_another_slug_is_404(app, database, ac, owner_sql):
    activity_id = await _activity(database, ac)
    path = await _screen_code(app, ac, activity_id)
    beta = await build_activity_county(database, "beta")
    other = await _activity(database, beta)
    async with signed_in(app, beta.county, "rep") as beta_rep:
        r = await beta_rep.get(path.replace("/t/alpha/", "/t/beta/"))
        assert r.status_code == 404
        assert (await post(beta_rep, path.replace("/t/alpha/", "/t/beta/"))).status_code == 404
        assert (await beta_rep.get(path)).status_code == 404  # not a member of alpha
        assert (await beta_rep.get(f"/t/beta/activities/{activity_id}/screen")).status_code == 404
    assert other and await count(owner_sql, "attendances") == 0


async def test_signed_out_deputy_comes_back_to_the_code_after_login(app, database, ac):
    activity_id = await _activity(database, ac)
    path = await _screen_code(app, ac, activity_id)
    async with _fresh(app) as phone:
        r = await phone.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}"
        login_page = await phone.get(r.headers["location"])
        back = await phone.post("/login", data={"login": "alpha-rep", "password": "correct-horse-battery",
                                                "next": path, "_csrf_token": csrf_from(login_page.text)},
                                follow_redirects=False)
        assert back.status_code == 303 and back.headers["location"] == path
        assert "Confirm the sign-in" in (await phone.get(path)).text


async def test_screen_is_for_those_who_run_the_activity(app, database, ac):
    activity_id = await _activity(database, ac)
    closed = await put_activity(database, ac, kind="reception", starts_at=_in(-300), status="held", invited=("张伟",))
    for username in ("rep", "viewer", "heba"):
        async with signed_in(app, ac.county, username) as client:
            for what in ("screen", "screen/code", "links"):
                assert (await client.get(f"{client.base}/activities/{activity_id}/{what}")).status_code == 404
    async with signed_in(app, ac.county, "town") as town:
        screen = await town.get(f"{town.base}/activities/{closed}/screen")
        assert "Sign-in has closed" in screen.text and "data-signin-url" not in screen.text


# --- staff ---------------------------------------------------------------------------------------

async def test_on_behalf_requires_a_reason_and_shows_it(app, database, ac, owner_sql):
    activity_id = await _activity(database, ac)
    beta = await build_activity_county(database, "beta")
    base = f"/t/{ac.slug}/activities/{activity_id}"
    async with signed_in(app, ac.county, "station") as staff:
        r = await post(staff, f"{base}/attendance", {"deputy_id": ac.deputies["李娜"], "reason": " "})
        assert r.status_code == 400 and "Please give the reason" in r.text
        for deputy_id in (beta.deputies["李娜"], ac.deputies["王强"]):
            r = await post(staff, f"{base}/attendance", {"deputy_id": deputy_id, "reason": "手机没电"})
            assert r.status_code == 400 and "not invited to this activity or is not a deputy of this county" in r.text
        assert await count(owner_sql, "attendances") == 0
        r = await post(staff, f"{base}/attendance", {"deputy_id": ac.deputies["李娜"], "reason": "手机没电"})
        assert r.status_code == 303
        page = await staff.get(r.headers["location"])
        text = text_of(page.text)
        assert "signed in on their behalf" in text and "Reason given: 手机没电" in text
        assert "Signed in 1 / expected 2" in text
        r = await post(staff, f"{base}/attendance/{ac.deputies['李娜']}/marks", {"late": "1", "note": "迟到十分钟"})
        assert r.status_code == 303 and "Arrived late" in (await staff.get(r.headers["location"])).text
        r = await post(staff, f"{base}/attendance/{ac.deputies['李娜']}/remove", {"reason": ""})
        assert r.status_code == 400 and "reason for removing" in r.text
        detail = await staff.get(base)  # the activity page (helper "activities") includes the partial
        assert detail.status_code == 200 and "手机没电" in detail.text
        assert "Sign-in screen with the QR code" in detail.text and f"{base}/attendance" in detail.text
    async with signed_in(app, ac.county, "rep") as rep:  # the deputy sees the reason, not the forms
        page = await rep.get(f"{base}/signin")
        assert "Reason given: 手机没电" in page.text and "/attendance" not in page.text
        assert "scan the QR code" in page.text
        r = await post(rep, f"{base}/attendance", {"deputy_id": ac.deputies["张伟"], "reason": "x"})
        assert r.status_code == 404
    assert await count(owner_sql, "audit_log", "action = 'signin_on_behalf'") == 1
    assert await count(owner_sql, "audit_log", "action = 'signin_marks'") == 1


async def test_on_behalf_refused_before_sign_in_opens(app, database, ac, owner_sql):
    activity_id = await _activity(database, ac, starts_in=600)
    async with signed_in(app, ac.county, "admin") as admin:
        r = await post(admin, f"/t/{ac.slug}/activities/{activity_id}/attendance",
                       {"deputy_id": ac.deputies["张伟"], "reason": "提前"})
        assert r.status_code == 400 and "Sign-in has not started yet" in r.text
    assert await count(owner_sql, "attendances") == 0


async def test_links_page_masks_mobiles_and_is_audited(app, database, ac, owner_sql):
    activity_id = await _activity(database, ac)
    token = await _token(database, ac, activity_id, "张伟")
    async with signed_in(app, ac.county, "station") as staff:
        page = await staff.get(f"{staff.base}/activities/{activity_id}/links")
        assert page.status_code == 200
        assert f"http://testserver.local/signin/{ac.slug}/{token}" in page.text
        assert "138****0001" in page.text and "13800000001" not in page.text
    assert await count(owner_sql, "audit_log", "action = 'signin_links_viewed'") == 1


async def test_a_deputy_of_this_county_but_another_member_cannot_use_a_code(app, database, ac, owner_sql):
    """A member of the county who is linked to no invited deputy (here a new deputy account) is refused."""
    activity_id = await _activity(database, ac)
    user = await make_user(database, "alpha-rep3")
    await add_member(database, ac.tenant, user, "deputy")
    await add_deputy(database, ac.county, "周杰", station=EAST)
    path = await _screen_code(app, ac, activity_id)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        client.cookies.set("lang", "en")
        assert (await login(client, "alpha-rep3")).status_code == 303
        assert "You are not invited" in (await client.get(path)).text
    assert await count(owner_sql, "attendances") == 0


def test_sign_in_secrets_are_kept_out_of_the_access_log():
    import json
    import logging

    from app.core.logs import JsonFormatter

    for path, shown in (("/signin/alpha/personal-secret-token", "/signin/alpha/…"),
                        ("/t/alpha/signin/Qr3CodeXyz1", "/t/alpha/signin/…")):
        record = logging.LogRecord("lianluo.web", logging.INFO, __file__, 1, "request", None, None)
        record.path = path
        assert json.loads(JsonFormatter().format(record))["path"] == shown
