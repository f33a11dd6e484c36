"""Pages in Chinese carry no English left over: a label that a template prints without translating it
(a name table's msgid, a step label) shows as English words in the Chinese page. This crawls the main
pages of every domain as the county admin, a handling unit's user and the public, in zh_Hans, and
lists any run of English words in their visible text."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from tests.activities.world import EAST, put_activity
from tests.cases.world import build_case_county, put_case
from tests.deputies.deputy_world import signed_in

# words that are fine in a Chinese page: names of formats, brands, the language switch
ALLOWED = {"English", "Excel", "CSV", "XLSX", "QR", "JPEG", "PNG", "WebP", "MB", "KB", "Ctrl", "Lianluo", "TOTP",
           "SMS", "Chrome", "Alpha", "Station", "Admin", "Transport"}
ENGLISH = re.compile(r"[A-Za-z][A-Za-z'’-]+(?:[ ,.:;]+[A-Za-z][A-Za-z'’-]+)*")


def visible_text(html: str) -> str:
    html = re.sub(r"(?s)<(script|style|svg|code)\b.*?</\1>", " ", html)  # code: identifiers, not text
    html = re.sub(r"(?s)<!--.*?-->", " ", html)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def english_runs(html: str) -> list[str]:
    found = []
    for run in ENGLISH.findall(visible_text(html)):
        words = [w for w in re.split(r"[ ,.:;]+", run) if w]
        # test data: the members' display names (Alpha-Admin …) and receipt codes (upper case)
        if any(w not in ALLOWED and not w.lower().startswith("alpha") and not re.fullmatch(r"[A-Z0-9-]+", w)
               and len(w) > 1 for w in words):
            found.append(run)
    return found


async def test_main_pages_have_no_english_left(app, client, database):
    cc = await build_case_county(database)
    soon = datetime.now(timezone.utc) + timedelta(days=3)
    held = await put_activity(database, cc.ac, kind="reception", starts_at=datetime.now(timezone.utc) - timedelta(days=3),
                              invited=("张伟", "李娜"), present=("张伟",), topic="接待日")
    planned = await put_activity(database, cc.ac, kind="visit", starts_at=soon, status="planned", invited=("张伟",), topic="走访")
    cases = [await put_case(database, cc, state=state, unit=unit, level="county", **extra) for state, unit, extra in (
        ("registered", None, {}), ("assigned", "transport", {}), ("replied", "transport", {"reply_text": "已修复"}),
        ("closed", "transport", {"reply_text": "已修复", "satisfaction": "satisfied"}))]
    station, deputy = cc.stations[EAST], cc.deputies["张伟"]
    await put_notifications(database, cc, cases[1])
    pages = [
        "/", "/activities", f"/activities/{held}", f"/activities/{planned}", "/activities/new",
        f"/stations/{station}", f"/stations/{station}/plans", f"/stations/{station}/attendance",
        f"/stations/{station}/mailbox", f"/deputies/{deputy}", f"/deputies/{deputy}/attendance",
        f"/deputies/{deputy}/attendance/report", f"/deputies/{deputy}/records", "/compliance",
        "/cases", "/cases/new", "/cases/stats", "/cases/register", "/cases/quarterly",
        *[f"/cases/{c.id}" for c in cases], "/settings", "/settings/activity-kinds", "/settings/rules",
        "/settings/rules/new", "/settings/case-categories", "/settings/handling-units", "/settings/case-rules",
        f"/settings/handling-units/{cc.units['transport']}", f"/settings/case-categories/{cc.categories['roads']}",
        f"/compliance?station={station}", f"/activities/{held}/signin", f"/activities/{planned}/links",
        f"/activities/{planned}/screen", "/members",  # the audit log shows raw targets and addresses: data
        "/inbox", "/me/notifications", "/settings/notifications", "/notifications/log",
    ]
    problems = []
    deputy_pages = ["/", "/activities", f"/activities/{planned}", "/compliance", f"/deputies/{deputy}/attendance/report",
                    "/cases", "/cases/new", "/inbox", "/me/notifications"]
    for who, paths in (("admin", pages), ("transport", ["/cases", f"/cases/{cases[1].id}"]), ("rep", deputy_pages)):
        async with signed_in(app, cc.county, who) as member:
            member.cookies.set("lang", "zh_Hans")
            for path in paths:
                r = await member.get(member.base + path)
                assert r.status_code == 200, (who, path, r.status_code)
                problems += [f"{who} {path}: {run}" for run in english_runs(r.text)]
    for path in (f"/p/alpha/stations/{station}", f"/p/alpha/stations/{station}/opinion", "/p/alpha/lookup"):
        r = await client.get(path)
        assert r.status_code == 200, path
        problems += [f"public {path}: {run}" for run in english_runs(r.text)]
    lookup = await client.post("/p/alpha/lookup", data={"code": cases[2].receipt_code})
    problems += [f"public lookup: {run}" for run in english_runs(lookup.text)]
    assert problems == [], "\n".join(problems)


async def put_notifications(database, cc, case) -> None:
    """A message in the county admin's inbox (and in the delivery log), and an SMS that failed."""
    from app.notify import outbox
    from app.notify.models import Outbox

    t, now = cc.tenant.id, datetime.now(timezone.utc)
    async with database.transaction(tenant_id=t) as db:
        who = await outbox.members(db, t, [cc.users["admin"].id])
        await outbox.notify(db, tenant_id=t, kind="case_due_soon", subject=f"case:{case.id}", recipients=who,
                            due_at=now, params={"code": case.receipt_code, "category": "道路交通", "due": "3月1日",
                                                   "link": "ABCDEFGHJK2"})
        db.add(Outbox(tenant_id=t, dedupe_key="failed-sms", kind="activity_sms", channel="sms", subject="activity:1",
                      deputy_id=cc.deputies["李娜"], address="13800000002", body="李娜代表：活动提醒", due_at=now,
                      next_attempt_at=now, status="failed", attempts=5, last_error="网关超时"))


async def test_joint_station_pages_have_no_english_left(app, database):
    """The joint-station pages (a county's list and agreement page, the answer form, the joint tenant's
    home). The test counties' slugs start with "alpha" (test data the check lets through)."""
    from app.joint import agreements
    from app.joint.agreements import Side
    from tests.factories import csrf_from, login
    from tests.joint.world import act, county
    from litestar.testing import AsyncTestClient

    a, b = await county(database, "alpha-gx", ("龙圩镇",)), await county(database, "alpha-gd", ("江川镇",))
    active = await act(database, a, agreements.propose, name="两广省际人大代表联络站", slug="alpha-joint",
                       partners=["alpha-gd"], side=Side(towns=["龙圩镇"], co_heads=["龙圩镇人大主席"]),
                       shares=["deputies", "cases"])
    await act(database, b, agreements.answer, key=active.agreement_key, accept=True,
              side=Side(towns=["江川镇"], co_heads=["江川镇人大主席"]))
    await act(database, a, agreements.grant, key=active.agreement_key, user_id=a.users["viewer"].id, role="viewer")
    waiting = await act(database, b, agreements.propose, name="另一个省际联络站", slug="alpha-other",
                        partners=["alpha-gx"], side=Side(towns=["江川镇"], co_heads=["主席"]), shares=["activities"])
    problems = []
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as member:
        member.cookies.set("lang", "zh_Hans")
        assert (await login(member, "alpha-gx-county")).status_code == 303
        for path in ("/t/alpha-gx/joint", f"/t/alpha-gx/joint/{active.agreement_key}",
                     f"/t/alpha-gx/joint/{waiting.agreement_key}", "/t/alpha-joint/"):
            r = await member.get(path)
            assert r.status_code == 200, path
            problems += [f"{path}: {run}" for run in english_runs(r.text)]
        # a refusal, in Chinese too
        r = await member.post(f"/t/alpha-gx/joint/{active.agreement_key}/withdraw",
                              data={"_csrf_token": csrf_from(r.text)}, follow_redirects=False)
        assert r.status_code == 400
        problems += [f"withdraw: {run}" for run in english_runs(r.text)]
    assert problems == [], "\n".join(problems)
