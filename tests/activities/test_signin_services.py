"""Sign-in services at chosen times (``now=``): the window, the personal link, the rotating code,
staff on behalf, marks and removal."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text, update

from app.accounts.models import Membership
from app.activities import signin
from app.activities.access import get_activity
from app.activities.models import Invitation
from app.core.errors import NotFound, Refusal
from app.deputies.models import Deputy
from app.tenancy.config import get_config
from app.tenancy.scope import scope_of
from tests.activities.world import build_activity_county, local, put_activity
from tests.deputies.deputy_world import add_deputy, build, count

TZ = ZoneInfo("Asia/Shanghai")
START = local(2026, 5, 15, 9)  # 09:00-11:00; sign-in 08:00-13:00 by default


@pytest.fixture
async def ac(database):
    ac = await build_activity_county(database)
    async with database.transaction(tenant_id=ac.tenant.id) as db:  # 李娜 is the member "rep2"
        await db.execute(update(Deputy).where(Deputy.id == ac.deputies["李娜"]).values(user_id=ac.users["rep2"].id))
    return ac


async def _planned(database, ac, invited=("张伟", "李娜"), **kw) -> int:
    return await put_activity(database, ac, kind="reception", starts_at=START, status="planned", invited=invited, **kw)


async def _token(database, ac, activity_id, name) -> str:
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        return await db.scalar(select(Invitation.token).where(Invitation.activity_id == activity_id,
                                                              Invitation.deputy_id == ac.deputies[name]))


async def _scope(db, ac, username):
    membership = await db.scalar(select(Membership).where(Membership.tenant_id == ac.tenant.id,
                                                          Membership.user_id == ac.users[username].id))
    return await scope_of(db, membership)


async def test_window_follows_the_tenant_settings(database, ac):
    activity_id = await _planned(database, ac)
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        ref = await get_activity(db, await _scope(db, ac, "admin"), activity_id)
        config = await get_config(db, ac.tenant.id)
        opens, closes = signin.signin_window(ref.activity, config)
        assert (opens, closes) == (START - timedelta(minutes=60), START + timedelta(hours=2, minutes=120))
        early = signin.window_refusal(ref.activity, config, TZ, opens - timedelta(seconds=1))
        assert early.message == signin.NOT_STARTED and early.variables["time"] == "2026-05-15 08:00"
        late = signin.window_refusal(ref.activity, config, TZ, closes + timedelta(seconds=1))
        assert late.message == signin.CLOSED and late.variables["time"] == "2026-05-15 13:00"
        assert signin.window_refusal(ref.activity, config, TZ, opens) is None


async def test_personal_link_signs_in_once_and_marks_late(database, ac, owner_sql):
    activity_id = await _planned(database, ac)
    token = await _token(database, ac, activity_id, "张伟")
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        view = await signin.link_view(db, token)
        assert view.deputy.name == "张伟" and view.kind.name == "接待选民" and view.where == "东街社区人大代表联络站"
        config = await get_config(db, ac.tenant.id)
        signed = await signin.sign_in_by_link(db, view, config, TZ, now=START + timedelta(minutes=20))
        assert signed == START + timedelta(minutes=20)
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        again = await signin.link_view(db, token)
        assert again.attendance is not None and again.attendance.late and again.attendance.method == "link"
        assert await signin.sign_in_by_link(db, again, config, TZ, now=START + timedelta(minutes=30)) is None
    assert await count(owner_sql, "attendances") == 1
    assert await count(owner_sql, "audit_log", "action = 'signin_link'") == 1
    # on time: not late
    token2 = await _token(database, ac, activity_id, "李娜")
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        view = await signin.link_view(db, token2)
        await signin.sign_in_by_link(db, view, config, TZ, now=START + timedelta(minutes=10))
    assert await count(owner_sql, "attendances", "late = false") == 1


async def test_personal_link_outside_the_window_or_withdrawn(database, ac, owner_sql):
    activity_id = await _planned(database, ac)
    token = await _token(database, ac, activity_id, "张伟")
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        view = await signin.link_view(db, token)
        config = await get_config(db, ac.tenant.id)
        for now, message in ((START - timedelta(hours=2), signin.NOT_STARTED),
                             (START + timedelta(hours=5), signin.CLOSED)):
            with pytest.raises(Refusal) as refused:
                await signin.sign_in_by_link(db, view, config, TZ, now=now)
            assert refused.value.message == message
        await db.execute(update(Invitation).where(Invitation.token == token).values(withdrawn_at=START))
        assert await signin.link_view(db, token) is None
        assert await signin.link_view(db, "no-such-token") is None
    assert await count(owner_sql, "attendances") == 0


async def test_cancelled_activity_refuses_sign_in(database, ac, owner_sql):
    activity_id = await put_activity(database, ac, kind="reception", starts_at=START, status="cancelled",
                                     invited=("张伟",))
    token = await _token(database, ac, activity_id, "张伟")
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        view = await signin.link_view(db, token)
        with pytest.raises(Refusal) as refused:
            await signin.sign_in_by_link(db, view, await get_config(db, ac.tenant.id), TZ, now=START)
        assert refused.value.message == signin.CANCELLED
    assert await count(owner_sql, "attendances") == 0


async def test_screen_code_rotates_and_is_single_use(database, ac, owner_sql):
    activity_id = await _planned(database, ac)
    now = START - timedelta(minutes=5)
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        ref = await get_activity(db, await _scope(db, ac, "station"), activity_id)
        config = await get_config(db, ac.tenant.id)
        first = await signin.screen_code(db, ref.activity, now=now)
        assert len(first.code) >= 10 and first.expires_at == now + timedelta(seconds=60)
        assert (await signin.screen_code(db, ref.activity, now=now + timedelta(seconds=19))).code == first.code
        second = await signin.screen_code(db, ref.activity, now=now + timedelta(seconds=21))
        assert second.code != first.code
        # 张伟 (rep) signs in with the second code; it is used, so the screen shows a new one
        view = await signin.scan_view(db, second.code, ac.users["rep"].id)
        assert view.deputy.name == "张伟"
        await signin.sign_in_by_code(db, view, config, TZ, user_id=ac.users["rep"].id, now=now + timedelta(seconds=25))
        third = await signin.screen_code(db, ref.activity, now=now + timedelta(seconds=26))
        assert third.code not in (first.code, second.code)
        # 李娜 (rep2) with the used code: refused; with the first one, 70 s after its issue: expired
        for code, at, message in ((second.code, 27, signin.CODE_USED), (first.code, 70, signin.CODE_EXPIRED)):
            view = await signin.scan_view(db, code, ac.users["rep2"].id)
            with pytest.raises(Refusal) as refused:
                await signin.sign_in_by_code(db, view, config, TZ, user_id=ac.users["rep2"].id,
                                             now=now + timedelta(seconds=at))
            assert refused.value.message == message
        assert await signin.presence_counts(db, activity_id) == (1, 2)
    rows = await owner_sql("SELECT deputy_id, method FROM attendances")
    assert [(r["deputy_id"], r["method"]) for r in rows] == [(ac.deputies["张伟"], "code")]


async def test_unused_codes_are_purged_a_day_after_they_expire(database, ac, owner_sql):
    """The screen issues a code every 20 s while open; the housekeeping deletes the unused ones a day
    after they expired, in every tenant, and keeps the used ones (who signed in with them)."""
    activity_id = await _planned(database, ac)
    now = START - timedelta(minutes=5)
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        ref = await get_activity(db, await _scope(db, ac, "station"), activity_id)
        config = await get_config(db, ac.tenant.id)
        codes = [await signin.screen_code(db, ref.activity, now=now + timedelta(seconds=21 * n)) for n in range(3)]
        view = await signin.scan_view(db, codes[1].code, ac.users["rep"].id)
        await signin.sign_in_by_code(db, view, config, TZ, user_id=ac.users["rep"].id, now=now + timedelta(seconds=25))
    assert await signin.purge_codes(database, now=now + timedelta(hours=23)) == 0  # not yet a day
    async with database.transaction() as db:  # the hourly run visits the tenants holding such codes only
        holding = (await db.scalars(text("SELECT tenant_id FROM signin_codes_expired_tenants(:at)"),
                                    {"at": now + timedelta(minutes=5)})).all()
    assert holding == [ac.tenant.id]
    assert await signin.purge_codes(database, now=now + timedelta(days=1, minutes=5)) == 2
    rows = await owner_sql("SELECT code, used_at IS NOT NULL AS used FROM signin_codes")
    assert [(r["code"], r["used"]) for r in rows] == [(codes[1].code, True)]


async def test_code_refused_to_a_member_not_invited(database, ac, owner_sql):
    activity_id = await _planned(database, ac, invited=("张伟",))
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        ref = await get_activity(db, await _scope(db, ac, "station"), activity_id)
        code = await signin.screen_code(db, ref.activity, now=START)
        for username in ("rep2", "station"):  # 李娜 not invited; a staff member is no deputy
            view = await signin.scan_view(db, code.code, ac.users[username].id)
            with pytest.raises(Refusal) as refused:
                await signin.sign_in_by_code(db, view, await get_config(db, ac.tenant.id), TZ,
                                             user_id=ac.users[username].id, now=START)
            assert refused.value.message == signin.NOT_INVITED
        assert await signin.scan_view(db, "unknown-code", ac.users["rep"].id) is None
    assert await count(owner_sql, "attendances") == 0
    assert await count(owner_sql, "signin_codes", "used_at IS NOT NULL") == 0


async def test_staff_on_behalf_needs_a_reason_and_an_invited_deputy(database, ac, owner_sql):
    activity_id = await _planned(database, ac)
    beta = await build(database, "beta")
    stranger = await add_deputy(database, beta, "外县代表")
    outsider = ac.deputies["王强"]  # of this county, not invited
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        scope = await _scope(db, ac, "station")
        ref = await get_activity(db, scope, activity_id)
        config = await get_config(db, ac.tenant.id)
        kw = dict(actor_id=ac.users["station"].id, config=config, tz=TZ)
        cases = [
            (dict(deputy_id=ac.deputies["张伟"], reason="  ", now=START), signin.REASON_REQUIRED),
            (dict(deputy_id=ac.deputies["张伟"], reason="x" * 201, now=START), signin.TOO_LONG),
            (dict(deputy_id=stranger, reason="手机没电", now=START), signin.DEPUTY_NOT_INVITED),
            (dict(deputy_id=outsider, reason="手机没电", now=START), signin.DEPUTY_NOT_INVITED),
            (dict(deputy_id="abc", reason="手机没电", now=START), signin.DEPUTY_NOT_INVITED),
            (dict(deputy_id=ac.deputies["张伟"], reason="手机没电", now=START - timedelta(hours=3)),
             signin.NOT_STARTED),
        ]
        for args, message in cases:
            with pytest.raises(Refusal) as refused:
                await signin.sign_in_on_behalf(db, scope, ref, **args, **kw)
            assert refused.value.message == message, args
        # after sign-in closed, staff may still catch up the record
        await signin.sign_in_on_behalf(db, scope, ref, deputy_id=str(ac.deputies["张伟"]), reason="手机没电",
                                       now=START + timedelta(days=2), **kw)
        with pytest.raises(Refusal) as refused:
            await signin.sign_in_on_behalf(db, scope, ref, deputy_id=ac.deputies["张伟"], reason="again",
                                           now=START + timedelta(days=2), **kw)
        assert refused.value.message == signin.ALREADY_PRESENT
    rows = await owner_sql("SELECT method, on_behalf_reason, recorded_by, late FROM attendances")
    assert [dict(r) for r in rows] == [{"method": "staff", "on_behalf_reason": "手机没电",
                                        "recorded_by": ac.users["station"].id, "late": False}]
    assert await count(owner_sql, "audit_log", "action = 'signin_on_behalf'") == 1


async def test_only_runners_sign_in_on_behalf(database, ac, owner_sql):
    activity_id = await _planned(database, ac)
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        config = await get_config(db, ac.tenant.id)
        for username in ("viewer", "heba"):
            scope = await _scope(db, ac, username)
            with pytest.raises(NotFound):
                ref = await get_activity(db, scope, activity_id)
                await signin.sign_in_on_behalf(db, scope, ref, deputy_id=ac.deputies["张伟"], reason="r",
                                               actor_id=ac.users[username].id, config=config, tz=TZ, now=START)
    assert await count(owner_sql, "attendances") == 0


async def test_marks_and_removal(database, ac, owner_sql):
    activity_id = await _planned(database, ac)
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        scope = await _scope(db, ac, "town")
        ref = await get_activity(db, scope, activity_id)
        config = await get_config(db, ac.tenant.id)
        who = ac.deputies["李娜"]
        with pytest.raises(Refusal) as refused:
            await signin.set_marks(db, scope, ref, who, late=True, left_early=False, note="", actor_id=1)
        assert refused.value.message == signin.NOT_PRESENT
        await signin.sign_in_on_behalf(db, scope, ref, deputy_id=who, reason="扫码失败", actor_id=ac.users["town"].id,
                                       config=config, tz=TZ, now=START)
        await signin.set_marks(db, scope, ref, who, late=True, left_early=True, note="10:30 离开",
                               actor_id=ac.users["town"].id)
    row = (await owner_sql("SELECT late, left_early, note FROM attendances"))[0]
    assert dict(row) == {"late": True, "left_early": True, "note": "10:30 离开"}
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        scope = await _scope(db, ac, "town")
        ref = await get_activity(db, scope, activity_id)
        with pytest.raises(Refusal) as refused:
            await signin.remove_attendance(db, scope, ref, who, reason="", actor_id=ac.users["town"].id)
        assert refused.value.message == signin.REMOVE_REASON_REQUIRED
        await signin.remove_attendance(db, scope, ref, who, reason="签错了人", actor_id=ac.users["town"].id)
    assert await count(owner_sql, "attendances") == 0
    entry = (await owner_sql("SELECT details FROM audit_log WHERE action = 'signin_removed'"))[0]
    assert "签错了人" in entry["details"] and "扫码失败" in entry["details"]
    assert await count(owner_sql, "audit_log", "action = 'signin_marks'") == 1
