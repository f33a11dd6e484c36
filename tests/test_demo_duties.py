"""The demo's duty records (app/demo/duties.py): a year of dossiers with entries waiting for review (some
filed by 张德明 himself), 三台县's last quarter of points published to every deputy with his correction
request, 榆次区's appraisal of last year published (notices, reports, one missing, a talk) and this
year's in draft with a score adjusted, and the 述职评议 at 北坝村 in the dossier and on the public page.
Loading twice adds nothing."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from app.demo import load_demo
from app.demo import duties_data as data
from app.demo.duties import last_quarter
from tests.test_demo import per_tenant, sign_in, station_id

TZ = ZoneInfo("Asia/Shanghai")
DUTY_TABLES = ("duty_entries", "points_items", "points_publications", "points_published", "points_corrections",
               "appraisals", "appraisal_results", "appraisal_talks", "duty_report_meetings", "duty_report_ballots",
               "outbox", "audit_log", "short_links")


def today():
    return datetime.now(TZ).date()


async def deputy_id(owner_sql, slug: str, name: str) -> int:
    rows = await owner_sql("SELECT d.id FROM deputies d JOIN tenants t ON t.id = d.tenant_id "
                           "WHERE t.slug = $1 AND d.name = $2", slug, name)
    return rows[0][0]


async def test_a_year_of_dossiers_with_entries_waiting(client, database, owner_sql):
    await load_demo(database, border=False)
    statuses = {}
    for slug, status, n in await owner_sql("""
            SELECT t.slug, e.status, count(*) FROM duty_entries e JOIN tenants t ON t.id = e.tenant_id GROUP BY 1, 2"""):
        statuses.setdefault(slug, {})[status] = n
    for slug in ("santai", "yuci"):
        assert statuses[slug]["approved"] >= 150, statuses  # most approved
        assert 3 <= statuses[slug]["filed"] <= 6 and statuses[slug]["rejected"] >= 1, statuses
    # every demo deputy has entries of several kinds, from last January up to today, none in the future
    spread = await owner_sql("""SELECT d.name, count(DISTINCT e.kind) AS kinds, min(e.day) AS first, max(e.day) AS last
                                FROM duty_entries e JOIN deputies d ON d.tenant_id = e.tenant_id AND d.id = e.deputy_id
                                GROUP BY d.name""")
    assert len(spread) == 20 and all(r["kinds"] >= 4 for r in spread)
    assert min(r["first"] for r in spread).year == today().year - 1 and max(r["last"] for r in spread) <= today()
    rejected = await owner_sql("SELECT reject_reason, reviewed_by FROM duty_entries WHERE status = 'rejected'")
    assert all(r["reject_reason"] and r["reviewed_by"] for r in rejected)
    unreviewed = await owner_sql("SELECT count(*) FROM duty_entries WHERE (status = 'filed') <> (reviewed_at IS NULL)")
    assert unreviewed[0][0] == 0

    # 张德明 filed some himself; he sees them waiting in his dossier (where /duties takes him)
    own = await owner_sql("""SELECT e.text, e.day FROM duty_entries e JOIN users u ON u.id = e.filed_by
                             WHERE u.username = 'santai-deputy' AND e.status = 'filed'""")
    assert len(own) >= 2
    await sign_in(client, "santai-deputy")
    dossier = await client.get("/t/santai/duties")  # followed to his own dossier
    assert dossier.status_code == 200 and str(dossier.url).endswith("/dossier") and "张德明" in dossier.text
    for row in own:
        if row["day"].year == today().year:  # the dossier opens on this year
            assert row["text"] in dossier.text
    assert "待审核" in dossier.text

    # the county admin finds the entries waiting for review
    client.cookies.clear()
    await sign_in(client, "santai-admin")
    review = await client.get("/t/santai/duties")
    assert review.status_code == 200
    for name, _, _, text, _ in data.WAITING["santai"]:
        assert text in review.text and name in review.text


async def test_the_last_quarter_is_published_to_every_deputy(client, database, owner_sql):
    await load_demo(database, border=False)
    quarter = last_quarter(today()).key
    [publication] = await owner_sql("""SELECT p.id, p.period, p.deputies, p.published_at FROM points_publications p
                                       JOIN tenants t ON t.id = p.tenant_id WHERE t.slug = 'santai'""")
    assert publication["period"] == quarter and publication["deputies"] == 10
    assert publication["published_at"] < datetime.now(TZ)
    told = await owner_sql("""SELECT DISTINCT o.deputy_id FROM outbox o JOIN tenants t ON t.id = o.tenant_id
                              WHERE t.slug = 'santai' AND o.kind LIKE 'points_published%' AND o.subject = $1""",
                           f"points:{quarter}")
    serving = await owner_sql("""SELECT d.id FROM deputies d JOIN tenants t ON t.id = d.tenant_id
                                 WHERE t.slug = 'santai' AND d.status = 'active'""")
    assert {r[0] for r in told} == {r[0] for r in serving}
    # they went out when published: nothing of that history is left for the worker to send now
    pending = await owner_sql("SELECT count(*) FROM outbox WHERE subject = $1 AND status <> 'sent'", f"points:{quarter}")
    assert pending[0][0] == 0
    inbox = await owner_sql("""SELECT count(*) FROM outbox o JOIN users u ON u.id = o.user_id
                               WHERE u.username = 'santai-deputy' AND o.channel = 'inapp' AND o.kind = 'points_published'""")
    assert inbox[0][0] == 1
    assert (await owner_sql("SELECT count(*) FROM points_items WHERE retired_at IS NULL AND tenant_id = "
                            "(SELECT id FROM tenants WHERE slug = 'santai')"))[0][0] == 8  # the preset's scheme

    # 张德明 sees his quarter and his correction request waiting; the county admin has it to resolve
    await sign_in(client, "santai-deputy")
    mine = await client.get("/t/santai/points/mine")
    assert mine.status_code == 200 and quarter in mine.text and "请审核后更正" in mine.text
    client.cookies.clear()
    await sign_in(client, "santai-admin")
    corrections = await client.get("/t/santai/points/corrections")
    assert corrections.status_code == 200 and "张德明" in corrections.text and "请审核后更正" in corrections.text
    # the entry it is about is still waiting for review: the publication could not count it
    late = await owner_sql("SELECT status, day FROM duty_entries WHERE text = $1", data.LATE_ENTRY[2])
    assert late[0]["status"] == "filed" and late[0]["day"].isoformat()[:4] == quarter[:4]


async def test_yuci_has_last_years_appraisal_published_and_this_years_in_draft(client, database, owner_sql):
    await load_demo(database, border=False)
    year = today().year
    appraisals = {r["year"]: r for r in await owner_sql("""
        SELECT a.id, a.year, a.status, a.excellent, a.pass, a.report_due FROM appraisals a
        JOIN tenants t ON t.id = a.tenant_id WHERE t.slug = 'yuci'""")}
    assert set(appraisals) == {year - 1, year}
    last, current = appraisals[year - 1], appraisals[year]
    assert (last["status"], last["excellent"], last["pass"]) == ("published", 90, 80) and last["report_due"] < today()
    assert current["status"] == "draft" and current["report_due"] > today()
    results = await owner_sql("""SELECT d.name, r.grade, r.notice_at, r.report_at FROM appraisal_results r
                                 JOIN deputies d ON d.tenant_id = r.tenant_id AND d.id = r.deputy_id
                                 WHERE r.appraisal_id = $1""", last["id"])
    assert len(results) == 10 and all(r["notice_at"] for r in results)
    assert {r["grade"] for r in results} == {"excellent", "pass", "fail"}
    missing = sorted(r["name"] for r in results if r["report_at"] is None)
    assert missing == sorted(data.REPORT_MISSING)
    notices = await owner_sql("SELECT count(DISTINCT deputy_id) FROM outbox WHERE kind = 'appraisal_notice' "
                              "AND subject = $1", f"appraisal:{last['id']}")
    assert notices[0][0] == 10
    # the reminders went to those who had not handed theirs in three days before the due day
    reminded = await owner_sql("""SELECT d.name FROM outbox o JOIN deputies d ON d.tenant_id = o.tenant_id
                                  AND d.id = o.deputy_id WHERE o.kind = 'appraisal_report_due' AND o.status = 'sent'""")
    assert sorted(r[0] for r in reminded) == sorted([*data.REPORT_MISSING, data.REPORT_LATE])
    assert (await owner_sql("SELECT count(*) FROM outbox WHERE subject LIKE 'appraisal:%' AND status = 'pending'"))[0][0] == 0
    talks = await owner_sql("""SELECT d.name, r.grade FROM appraisal_talks k JOIN deputies d ON d.tenant_id = k.tenant_id
                               AND d.id = k.deputy_id JOIN appraisal_results r ON r.tenant_id = k.tenant_id
                               AND r.appraisal_id = k.appraisal_id AND r.deputy_id = k.deputy_id""")
    assert [tuple(r) for r in talks] == [(data.TALK[0], "fail")]
    adjusted = await owner_sql("SELECT computed, adjusted, reason FROM appraisal_results WHERE appraisal_id = $1 "
                               "AND adjusted IS NOT NULL", current["id"])
    assert len(adjusted) == 1 and adjusted[0]["reason"] == data.ADJUSTED[1]
    assert adjusted[0]["adjusted"] - adjusted[0]["computed"] == data.ADJUSTED[0]

    await sign_in(client, "yuci-admin")
    page = await client.get(f"/t/yuci/appraisals/{year - 1}")
    assert page.status_code == 200
    section = page.text.split('id="missing"')[1].split("</section>")[0]
    assert all(name in section for name in data.REPORT_MISSING)
    assert data.TALK[2][:20] in page.text
    draft = await client.get(f"/t/yuci/appraisals/{year}")
    assert draft.status_code == 200 and data.ADJUSTED[1] in draft.text
    notice = await client.get(f"/t/yuci/appraisals/{year - 1}/notices/{await deputy_id(owner_sql, 'yuci', '郭建平')}")
    assert notice.status_code == 200 and "郭建平" in notice.text


async def test_the_report_at_beiba_is_in_the_dossier_and_on_the_public_page(client, database, owner_sql):
    if today().timetuple().tm_yday == 1:
        pytest.skip("on 1 January no day of this year has passed: the held report is last year's")
    await load_demo(database, border=False)
    meetings = await owner_sql("""SELECT m.id, m.status, m.held_on, d.name, s.name AS station,
                                  (SELECT count(*) FILTER (WHERE b.source = 'phone') FROM duty_report_ballots b
                                   WHERE b.tenant_id = m.tenant_id AND b.meeting_id = m.id) AS phones,
                                  (SELECT count(*) FROM duty_report_ballots b
                                   WHERE b.tenant_id = m.tenant_id AND b.meeting_id = m.id) AS ballots
                                  FROM duty_report_meetings m JOIN deputies d ON d.tenant_id = m.tenant_id
                                  AND d.id = m.deputy_id JOIN stations s ON s.tenant_id = m.tenant_id AND s.id = m.station_id
                                  ORDER BY m.held_on""")
    assert [(r["status"], r["name"]) for r in meetings] == [("closed", data.HELD_MEETING.deputy),
                                                            ("planned", data.COMING_MEETING.deputy)]
    held, coming = meetings
    assert held["held_on"] < today() and held["held_on"].year == today().year and coming["held_on"] > today()
    assert all("北坝村" in r["station"] for r in meetings)
    assert held["phones"] == len(data.PHONE_BALLOTS) and held["ballots"] > held["phones"]

    beiba = await station_id(owner_sql, "santai", "%北坝村%")
    public = await client.get(f"/p/santai/stations/{beiba}/reports")
    assert public.status_code == 200
    assert data.HELD_MEETING.deputy in public.text and held["held_on"].isoformat() in public.text
    assert data.COMING_MEETING.deputy not in public.text  # not held yet

    await sign_in(client, "santai-admin")
    wang = await deputy_id(owner_sql, "santai", data.HELD_MEETING.deputy)
    dossier = await client.get(f"/t/santai/deputies/{wang}/dossier")
    assert dossier.status_code == 200 and held["held_on"].isoformat() in dossier.text
    # the coming one waits for its day: the liaison officer of 北坝村 runs it, phone voting not open yet
    client.cookies.clear()
    await sign_in(client, "liaison-both")
    page = await client.get(f"/t/santai/duty-reports/{coming['id']}")
    assert page.status_code == 200 and data.COMING_MEETING.deputy in page.text
    assert (await client.get(f"/t/santai/duty-reports/{coming['id']}/screen")).status_code == 200


async def test_loading_twice_changes_no_duty_record(database, owner_sql):
    await load_demo(database, border=False)
    sql = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in DUTY_TABLES)
    before = {name: n for name, n in await owner_sql(sql)}
    states = await owner_sql("SELECT status, count(*) FROM outbox GROUP BY 1 ORDER BY 1")
    await load_demo(database, border=False)
    assert {name: n for name, n in await owner_sql(sql)} == before
    assert await owner_sql("SELECT status, count(*) FROM outbox GROUP BY 1 ORDER BY 1") == states
    # the presets' schemes (三台县 8 items, 榆次区 庄子乡's 100-point scale) are not doubled
    items = await per_tenant(owner_sql, """SELECT t.slug, count(*) FROM points_items i JOIN tenants t
                                           ON t.id = i.tenant_id GROUP BY 1""")
    assert items == {"santai": 8, "yuci": 11}
    assert before["duty_entries"] > 400
