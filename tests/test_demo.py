"""The demo: `load_demo` fills both demo counties with places and people through the product's own
services, and what the demo users then see (the public page, the 应进必进 checks, a liaison officer's
single station, the approval waiting for 潼川镇's staff). Loading twice adds nothing."""

from __future__ import annotations

import re

from app.core.images import MAX_THUMB_BYTES
from app.demo import DEMO_PASSWORD, load_demo
from tests.factories import login

COUNTED = ("stations", "station_events", "station_staff", "station_goals", "station_scores", "deputies",
           "deputy_mandates", "deputy_groups", "station_deputies", "deputy_commitments", "images",
           "roster_entries", "roster_contacts", "audit_log", "memberships", "users", "tenants",
           "activity_kinds", "activity_rules", "activity_plans", "activities", "activity_events",
           "activity_invitations", "attendances", "opinions", "suggestions", "case_categories", "handling_units",
           "case_due_rules", "cases", "case_events", "mailbox_openings", "outbox")


async def table_counts(owner_sql) -> dict[str, int]:
    sql = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in COUNTED)
    return {name: n for name, n in await owner_sql(sql)}


BORDER = ("babu", "fengkai", "pumen-fengkai")  # the joint station's demo (tests/test_demo_joint.py)


async def per_tenant(owner_sql, sql: str) -> dict[str, object]:
    """{tenant slug: value} of a query returning (slug, value) rows, for the two demo counties (the
    joint station's counties and tenant are checked in tests/test_demo_joint.py)."""
    return {slug: value for slug, value in await owner_sql(sql) if slug not in BORDER}


async def station_id(owner_sql, slug: str, like: str) -> int:
    rows = await owner_sql(
        "SELECT s.id FROM stations s JOIN tenants t ON t.id = s.tenant_id WHERE t.slug = $1 AND s.name LIKE $2",
        slug, like)
    assert len(rows) == 1, (slug, like, rows)
    return rows[0][0]


async def sign_in(client, username: str) -> None:
    response = await login(client, username, DEMO_PASSWORD)
    assert response.status_code in (302, 303), response.text


async def test_demo_fills_both_counties(database, owner_sql):
    await load_demo(database, border=False)  # the joint station's demo: tests/test_demo_joint.py

    stations = await per_tenant(owner_sql, """
        SELECT t.slug, array_agg(s.status || ' ' || s.name ORDER BY s.name) FROM stations s
        JOIN tenants t ON t.id = s.tenant_id GROUP BY t.slug""")
    assert sorted(stations["santai"]) == sorted([
        "active 绵阳市三台县潼川镇人大代表之家",
        "active 绵阳市三台县潼川镇北坝村人大代表联络站",
        "active 绵阳市三台县芦溪镇白鹤村人大代表联络站",
        "proposed 绵阳市三台县潼川镇东街社区人大代表联络站",
    ])
    assert len(stations["yuci"]) == 4 and all(s.startswith("active ") for s in stations["yuci"])
    assert "active 晋中市榆次区庄子乡人大代表之家" in stations["yuci"]
    assert "active 榆次区庄子乡庄子村人大代表联络站" in stations["yuci"]

    # Every station in operation went through the county's lifecycle, 潼川镇's approvals by its staff.
    history = await per_tenant(owner_sql, """
        SELECT t.slug, array_agg(DISTINCT e.action) FROM station_events e JOIN tenants t ON t.id = e.tenant_id
        GROUP BY t.slug""")
    assert set(history["santai"]) == {"created", "approved", "filed", "activated"}
    assert set(history["yuci"]) == {"created", "filed", "activated"}
    approvers = await owner_sql("""
        SELECT DISTINCT u.username FROM station_events e JOIN users u ON u.id = e.actor_user_id
        JOIN stations s ON s.tenant_id = e.tenant_id AND s.id = e.station_id
        WHERE e.action = 'approved' AND s.name LIKE '%潼川镇%'""")
    assert [r[0] for r in approvers] == ["santai-tongchuan"]

    deputies = await per_tenant(owner_sql, """
        SELECT t.slug, count(*) FROM deputies d JOIN tenants t ON t.id = d.tenant_id GROUP BY t.slug""")
    assert deputies == {"santai": 10, "yuci": 10}
    photos = await owner_sql("SELECT count(*) FROM deputies WHERE photo_id IS NULL")
    assert photos[0][0] == 0
    station_photos = await owner_sql("SELECT count(*) FROM stations WHERE photo_id IS NULL")
    assert station_photos[0][0] == 0
    sizes = await owner_sql("SELECT max(length(data)), min(media_type), count(DISTINCT md5(data)) FROM images "
                            "WHERE (tenant_id, id) NOT IN (SELECT tenant_id, image_id FROM activity_photos)")
    # the places' and people's photos are all distinct (the activities' record photos aside)
    assert sizes[0][0] <= MAX_THUMB_BYTES and sizes[0][1] == "image/webp" and sizes[0][2] == 28

    levels = await owner_sql("SELECT DISTINCT level FROM deputy_mandates ORDER BY 1")
    assert [r[0] for r in levels] == ["city", "county", "township"]
    two_mandates = await owner_sql("""
        SELECT t.slug, d.name FROM deputies d JOIN tenants t ON t.id = d.tenant_id
        WHERE (SELECT count(*) FROM deputy_mandates m WHERE m.tenant_id = d.tenant_id AND m.deputy_id = d.id) = 2
        ORDER BY 1""")
    assert [tuple(r) for r in two_mandates] == [("santai", "王秀兰"), ("yuci", "郭建平")]
    indirect = await owner_sql("SELECT count(*) FROM deputy_mandates WHERE NOT direct AND constituency <> ''")
    assert indirect[0][0] == 3
    leaders = await owner_sql("SELECT count(*) FROM deputy_groups WHERE leader_deputy_id IS NOT NULL")
    assert leaders[0][0] == 4
    mobiles = await owner_sql("SELECT count(*) FROM deputies WHERE mobile NOT LIKE '139000%'")
    assert mobiles[0][0] == 0

    counts = await table_counts(owner_sql)
    assert counts["roster_entries"] == 5 and counts["roster_contacts"] == 7
    assert counts["deputy_commitments"] == 11 and counts["station_goals"] == 14
    assert counts["station_scores"] == 3 * 8 + 4 * 5  # the seven stations in operation, scored on 八有 / 五有

    # liaison-both is the liaison officer of one station per county, and scoped to it.
    liaison = await owner_sql("""
        SELECT t.slug, s.name, st.role FROM memberships m JOIN users u ON u.id = m.user_id
        JOIN tenants t ON t.id = m.tenant_id
        JOIN stations s ON s.tenant_id = m.tenant_id AND s.id = m.station_id
        JOIN station_staff st ON st.tenant_id = s.tenant_id AND st.station_id = s.id AND st.user_id = u.id
        WHERE u.username = 'liaison-both' ORDER BY 1""")
    assert [tuple(r) for r in liaison] == [
        ("santai", "绵阳市三台县潼川镇北坝村人大代表联络站", "liaison"),
        ("yuci", "榆次区庄子乡庄子村人大代表联络站", "liaison"),
    ]

    # Changes are audited as the county admin (and 潼川镇's staff for their approvals).
    actors = await owner_sql("""
        SELECT DISTINCT u.username FROM audit_log a JOIN users u ON u.id = a.actor_user_id
        WHERE a.action LIKE 'station_%' OR a.action LIKE 'deputy_%' OR a.action LIKE 'roster_%' ORDER BY 1""")
    assert [r[0] for r in actors] == ["santai-admin", "santai-tongchuan", "yuci-admin"]


async def test_loading_twice_adds_nothing(database, owner_sql):
    await load_demo(database)
    before = await table_counts(owner_sql)
    await load_demo(database)
    assert await table_counts(owner_sql) == before
    # Still nothing after people changed the demo (the home renamed), as at the next `./run start`.
    await owner_sql("UPDATE stations SET name = '潼川镇代表之家' WHERE name = '绵阳市三台县潼川镇人大代表之家'")
    await load_demo(database)
    assert await table_counts(owner_sql) == before


async def test_public_page_shows_the_deputies_with_photos(client, database, owner_sql):
    await load_demo(database)
    sid = await station_id(owner_sql, "santai", "%北坝村%")
    page = await client.get(f"/p/santai/stations/{sid}")
    assert page.status_code == 200
    for name in ("王秀兰", "杨桂芳", "刘志强"):
        assert name in page.text
    assert "13900001001" not in page.text  # a private mobile never shows
    assert "每月第一个星期五在北坝村联络站接待" in page.text  # a public contact does
    images = re.findall(r'src="(/p/santai/images/\d+)"', page.text)
    assert len(images) == 4  # the station's photo and its three deputies'
    for src in images:
        image = await client.get(src)
        assert image.status_code == 200 and image.headers["content-type"] == "image/webp"
        assert len(image.content) <= MAX_THUMB_BYTES

    proposed = await station_id(owner_sql, "santai", "%东街社区%")
    assert (await client.get(f"/p/santai/stations/{proposed}")).status_code == 404
    index = await client.get("/p/yuci/")
    assert index.text.count('href="/p/yuci/stations/') >= 4


async def test_checks_list_the_unstationed_and_the_one_outside(client, database):
    await load_demo(database)
    for username, slug, unassigned, outside in (
        ("santai-admin", "santai", ("周丽娟", "吴永康"), "刘志强"),
        ("yuci-admin", "yuci", ("田晓红", "阎志远"), "温向东"),
    ):
        client.cookies.clear()
        await sign_in(client, username)
        page = await client.get(f"/t/{slug}/deputies/checks")
        assert page.status_code == 200
        section = page.text.split('id="unassigned"')[1].split("</section>")[0]
        assert ">2<" in section
        for name in unassigned:
            assert name in section
        outside_section = page.text.split('id="outside"')[1].split("</section>")[0]
        assert outside in outside_section and ">1<" in outside_section


async def test_liaison_officer_sees_only_their_station(client, database, owner_sql):
    await load_demo(database)
    await sign_in(client, "liaison-both")
    for slug, mine, other in (("santai", "北坝村", "潼川镇人大代表之家"), ("yuci", "庄子村", "北合流村")):
        listing = await client.get(f"/t/{slug}/stations")
        assert listing.status_code == 200
        assert mine in listing.text and other not in listing.text
        own = await station_id(owner_sql, slug, f"%{mine}%")
        assert (await client.get(f"/t/{slug}/stations/{own}")).status_code == 200
        elsewhere = await station_id(owner_sql, slug, f"%{other}%")
        assert (await client.get(f"/t/{slug}/stations/{elsewhere}")).status_code == 404
    # The deputies of their station, and their contact rosters, are within reach; others are not.
    deputies = await client.get("/t/santai/deputies")
    assert "王秀兰" in deputies.text and "陈晓燕" not in deputies.text


async def test_township_staff_find_the_station_to_approve(client, database, owner_sql):
    await load_demo(database)
    await sign_in(client, "santai-tongchuan")
    sid = await station_id(owner_sql, "santai", "%东街社区%")
    page = await client.get(f"/t/santai/stations/{sid}")
    assert page.status_code == 200
    assert 'name="step" value="approve"' in page.text



async def test_every_demo_page_opens(client, database, owner_sql):
    """As the county admin, every station, deputy and roster page of the demo renders; the ratings
    show stations under different numbers of stars."""
    await load_demo(database)
    await sign_in(client, "santai-admin")
    ratings = await client.get("/t/santai/stations/ratings")
    assert ratings.status_code == 200
    filled = [n for n in range(6)
              if "人大代表" in ratings.text.split(f'id="stars-{n}"')[1].split("</section>")[0]]
    assert filled == [0, 3, 4, 5]  # 东街社区 (proposed, not scored), 白鹤村, 北坝村, the home
    pages = ["/t/santai/", "/t/santai/stations", "/t/santai/deputies", "/t/santai/deputies/groups",
             "/t/santai/deputies/checks"]
    rows = await owner_sql("SELECT s.id FROM stations s JOIN tenants t ON t.id = s.tenant_id WHERE t.slug = 'santai'")
    pages += [f"/t/santai/stations/{r[0]}" for r in rows]
    rows = await owner_sql("SELECT d.id FROM deputies d JOIN tenants t ON t.id = d.tenant_id WHERE t.slug = 'santai'")
    pages += [f"/t/santai/deputies/{r[0]}" for r in rows]
    for path in pages:
        assert (await client.get(path)).status_code == 200, path
    rows = await owner_sql("""SELECT DISTINCT r.deputy_id FROM roster_entries r JOIN tenants t ON t.id = r.tenant_id
                              WHERE t.slug = 'santai'""")
    roster = await client.get(f"/t/santai/deputies/{rows[0][0]}/roster")
    assert roster.status_code == 200
    assert "孙大勇" in roster.text and "13900001101" not in roster.text  # masked in the list


async def test_demo_has_a_year_of_activities(database, owner_sql):
    """Each demo county: its preset's kinds and rules, a year of held activities at a few stations with
    their deputies' attendance, activities arranged for the coming weeks with invitations, opinions
    registered at receptions, suggestions, and this year's published plan of one station."""
    await load_demo(database)
    rules = await per_tenant(owner_sql, """
        SELECT t.slug, count(*) FROM activity_rules r JOIN tenants t ON t.id = r.tenant_id GROUP BY t.slug""")
    assert rules == {"yuci": 10, "santai": 2}
    kinds = await per_tenant(owner_sql, """
        SELECT t.slug, count(*) FROM activity_kinds k JOIN tenants t ON t.id = k.tenant_id GROUP BY t.slug""")
    assert kinds == {"yuci": 11, "santai": 11}

    held = await per_tenant(owner_sql, """
        SELECT t.slug, count(*) FROM activities a JOIN tenants t ON t.id = a.tenant_id
        WHERE a.status = 'held' AND a.starts_at < now() GROUP BY t.slug""")
    assert held["santai"] >= 40 and held["yuci"] >= 60
    span = await owner_sql("SELECT max(starts_at) - min(starts_at) AS span FROM activities WHERE status = 'held'")
    assert span[0]["span"].days >= 300  # a year of history
    stations = await owner_sql("SELECT count(DISTINCT station_id) FROM activities a JOIN tenants t "
                               "ON t.id = a.tenant_id WHERE t.slug IN ('santai', 'yuci')")
    assert stations[0][0] == 6  # three stations in each county
    photos = await per_tenant(owner_sql, """
        SELECT t.slug, count(*) FROM activity_photos p JOIN tenants t ON t.id = p.tenant_id GROUP BY t.slug""")
    assert photos == {"santai": 3, "yuci": 3}
    coming = await owner_sql("""
        SELECT count(*) FROM activities a WHERE a.status = 'planned' AND a.starts_at > now()
        AND a.starts_at < now() + interval '6 weeks'
        AND EXISTS (SELECT 1 FROM activity_invitations i WHERE i.tenant_id = a.tenant_id AND i.activity_id = a.id)""")
    assert coming[0][0] >= 4
    assert (await owner_sql("SELECT count(*) FROM activities WHERE status = 'held' AND recorded_at IS NULL"))[0][0] == 0

    methods = {r["method"]: r["n"] for r in await owner_sql(
        "SELECT method, count(*) AS n FROM attendances GROUP BY method")}
    assert methods["link"] > methods["staff"] > 0 and methods.get("code", 0) > 0
    reasons = await owner_sql("SELECT DISTINCT on_behalf_reason FROM attendances WHERE method = 'staff'")
    assert "代表在外地，电话确认到场" in [r[0] for r in reasons]
    assert (await owner_sql("SELECT count(*) FROM attendances WHERE late"))[0][0] > 0
    # some deputies who stayed away gave a reason (请假), at 北坝村 too; nobody present has one
    excused = await owner_sql("""
        SELECT DISTINCT s.name FROM activity_invitations i
        JOIN activities a ON a.tenant_id = i.tenant_id AND a.id = i.activity_id
        JOIN stations s ON s.tenant_id = a.tenant_id AND s.id = a.station_id
        WHERE i.absence_reason IS NOT NULL AND a.status = 'held'""")
    assert "绵阳市三台县潼川镇北坝村人大代表联络站" in [r[0] for r in excused]
    assert (await owner_sql("""SELECT count(*) FROM activity_invitations i JOIN attendances x
                               USING (tenant_id, activity_id, deputy_id) WHERE i.absence_reason IS NOT NULL"""))[0][0] == 0
    # only held activities have attendance, and every deputy present was invited (the key says so)
    not_held = await owner_sql("""SELECT count(*) FROM attendances x JOIN activities a
                                  ON a.tenant_id = x.tenant_id AND a.id = x.activity_id WHERE a.status <> 'held'""")
    assert not_held[0][0] == 0

    plans = await owner_sql("""
        SELECT t.slug, s.name, p.year, p.status, p.published_at IS NOT NULL AS published,
               (SELECT count(*) FROM activities a WHERE a.tenant_id = p.tenant_id AND a.plan_id = p.id) AS entries,
               (SELECT count(DISTINCT a.station_id) FROM activities a WHERE a.tenant_id = p.tenant_id
                AND a.plan_id = p.id) AS stations
        FROM activity_plans p JOIN tenants t ON t.id = p.tenant_id
        JOIN stations s ON s.tenant_id = p.tenant_id AND s.id = p.station_id ORDER BY 1""")
    this_year = (await owner_sql("SELECT extract(year FROM now() AT TIME ZONE 'Asia/Shanghai')::int"))[0][0]
    assert [(r["slug"], r["name"], r["year"], r["status"], r["published"], r["stations"]) for r in plans] == [
        ("santai", "绵阳市三台县潼川镇北坝村人大代表联络站", this_year, "published", True, 1),
        ("yuci", "榆次区庄子乡庄子村人大代表联络站", this_year, "published", True, 1),
    ]
    assert all(r["entries"] >= 12 for r in plans)

    opinions = await owner_sql("""
        SELECT count(*) FROM opinions o JOIN activities a ON a.tenant_id = o.tenant_id AND a.id = o.activity_id
        JOIN activity_kinds k ON k.tenant_id = a.tenant_id AND k.id = a.kind_id WHERE k.code = 'reception'""")
    assert opinions[0][0] >= 4 and opinions[0][0] == (await owner_sql("SELECT count(*) FROM opinions"))[0][0]
    assert (await owner_sql("SELECT count(*) FROM suggestions"))[0][0] >= 4

    # the demo deputy login is 张德明's own account, in 三台县, and he is invited to activities
    linked = await owner_sql("""
        SELECT d.name, m.role, t.slug FROM deputies d JOIN users u ON u.id = d.user_id
        JOIN memberships m ON m.user_id = u.id AND m.tenant_id = d.tenant_id JOIN tenants t ON t.id = d.tenant_id
        WHERE u.username = 'santai-deputy'""")
    assert [tuple(r) for r in linked] == [("张德明", "deputy", "santai")]
    invited = await owner_sql("""
        SELECT count(*) FROM activity_invitations i JOIN deputies d ON d.tenant_id = i.tenant_id AND d.id = i.deputy_id
        WHERE d.name = '张德明'""")
    assert invited[0][0] >= 10


async def test_the_demo_deputy_signs_in(client, database):
    await load_demo(database)
    await sign_in(client, "santai-deputy")
    assert (await client.get("/t/santai/")).status_code == 200


async def test_demo_has_cases_in_every_state(client, database, owner_sql):
    """Each demo county: its preset's categories and units, about forty cases across the states with
    their history (one overdue and supervised, one forwarded, one merged, several online), weekly
    mailbox openings with one missed week per station, and a handling unit's login that sees its cases."""
    await load_demo(database)
    states = {}
    for slug, state, n in await owner_sql("""
            SELECT t.slug, c.state, count(*) FROM cases c JOIN tenants t ON t.id = c.tenant_id GROUP BY 1, 2"""):
        states.setdefault(slug, {})[state] = n
    for slug in ("santai", "yuci"):
        assert sum(states[slug].values()) >= 40
        for state in ("registered", "assigned", "accepted", "replied", "fed_back", "closed", "forwarded", "merged"):
            assert states[slug].get(state, 0) >= 1, (slug, state)
    rated = await owner_sql("SELECT DISTINCT satisfaction FROM cases WHERE state = 'closed' AND satisfaction IS NOT NULL")
    assert {r[0] for r in rated} >= {"satisfied", "basically"}
    assert (await owner_sql("""SELECT count(*) FROM cases WHERE supervised_at IS NOT NULL
                               AND reply_due < (now() AT TIME ZONE 'Asia/Shanghai')::date
                               AND state IN ('assigned', 'accepted', 'clarifying')"""))[0][0] == 2
    assert (await owner_sql("SELECT count(*) FROM cases WHERE source = 'online'"))[0][0] >= 8
    assert (await owner_sql("SELECT count(*) FROM cases WHERE merged_into_id IS NOT NULL"))[0][0] == 2
    # every case has its history, in order, none in the future
    assert (await owner_sql("""SELECT count(*) FROM cases c WHERE NOT EXISTS (SELECT 1 FROM case_events e
                               WHERE e.tenant_id = c.tenant_id AND e.case_id = c.id AND e.action = 'registered')"""))[0][0] == 0
    assert (await owner_sql("SELECT count(*) FROM case_events WHERE at > now()"))[0][0] == 0
    steps = {r[0] for r in await owner_sql("SELECT DISTINCT action FROM case_events")}
    assert steps >= {"registered", "assign", "accept", "reply", "feed_back", "rate", "answer_on_spot", "supervise",
                     "forward_outside", "merge", "merged_here"}
    units = await per_tenant(owner_sql, """SELECT t.slug, count(*) FROM handling_units u
                                           JOIN tenants t ON t.id = u.tenant_id GROUP BY 1""")
    assert units == {"santai": 9, "yuci": 9}
    # mailbox: each station in operation opened most weeks, one week missed
    openings = await owner_sql("""SELECT station_id, count(DISTINCT date_trunc('week', opened_at AT TIME ZONE 'Asia/Shanghai'))
                                  FROM mailbox_openings GROUP BY 1""")
    assert len(openings) == 7 and all(10 <= r[1] <= 11 for r in openings)

    # the demo unit logins are users of their unit, which has cases in several states
    logins = await owner_sql("""SELECT u.username, h.name FROM memberships m JOIN users u ON u.id = m.user_id
                                JOIN handling_units h ON h.tenant_id = m.tenant_id AND h.id = m.handling_unit_id
                                WHERE m.role = 'handling_unit' ORDER BY 1""")
    assert [tuple(r) for r in logins] == [("fengkai-huanbao", "肇庆市生态环境局封开分局"),
                                          ("santai-jiaotong", "三台县交通运输局"), ("yuci-huanbao", "榆次区生态环境局")]
    unit_states = await owner_sql("""SELECT count(DISTINCT c.state) FROM cases c JOIN handling_units h
                                     ON h.tenant_id = c.tenant_id AND h.id = c.handling_unit_id WHERE h.code = 'jiaotong'""")
    assert unit_states[0][0] >= 3
    await sign_in(client, "santai-jiaotong")
    assert (await client.get("/t/santai/")).status_code == 200


async def test_demo_coming_activities_have_their_reminders(database, owner_sql):
    await load_demo(database)
    rows = await owner_sql("""
        SELECT t.slug, o.kind, count(*) FROM outbox o JOIN tenants t ON t.id = o.tenant_id
        JOIN activities a ON a.tenant_id = o.tenant_id AND o.subject = 'activity:' || a.id
        WHERE a.status = 'planned' AND a.starts_at > now() GROUP BY 1, 2""")
    kinds = {(slug, kind) for slug, kind, _ in rows}
    # every coming activity's invited deputies get their SMS (and the gentle reminder when the day is far
    # enough ahead); nothing for the year of history
    assert {("santai", "activity_sms"), ("yuci", "activity_sms")} <= kinds
    assert ("santai", "activity_eve") in kinds
    stray = await owner_sql("""
        SELECT count(*) FROM outbox o JOIN activities a ON a.tenant_id = o.tenant_id AND o.subject = 'activity:' || a.id
        WHERE a.status <> 'planned' OR a.starts_at <= now()""")
    assert stray[0][0] == 0
