"""The county's duty settings (履职设置, /settings/duties): county admins only, saved with an audit entry,
bad input refused with nothing changed; the appraisal's start form filled from them; a county that
asks for no rectification report publishes without one (no due day, no report in the notice, no
reminders, no missing list); and the `[appraisal]` table of the presets (榆次区, 三台县, export)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from app.duties.settings import DutySettings, duty_settings
from app.presets.services import PresetError, apply_preset, export_preset, load_preset, parse_preset
from tests.activities.world import TZ, build_activity_county
from tests.deputies.deputy_world import count, post, signed_in, text_of
from tests.duties.points_world import put_entry, put_scheme

GOOD = {"excellent": "85", "pass": "70", "rectification": "on", "report_days": "20", "public_board": "grades",
        "public_duty_reports": "on"}


@pytest.fixture
async def ac(database, owner_sql):
    ac = await build_activity_county(database)
    await owner_sql("UPDATE deputies SET mobile = '1380000000' || id % 10 WHERE mobile IS NULL")
    await put_scheme(database, ac)
    return ac


async def save(client, **form):
    page = f"{client.base}/settings/duties"
    return await post(client, page, {**GOOD, **form}, page=page)


async def settings_of(database, ac) -> DutySettings:
    async with database.session(tenant_id=ac.tenant.id) as db:
        return await duty_settings(db, ac.tenant.id)


def this_year() -> int:
    return datetime.now(TZ).year


async def test_the_county_admin_saves_the_settings_and_it_is_audited(app, database, ac, owner_sql):
    async with signed_in(app, ac.county, "admin") as admin:
        page = await admin.get(f"{admin.base}/settings/duties")
        assert page.status_code == 200
        assert 'name="excellent" value="90"' in page.text and 'name="report_days" value="30"' in page.text
        assert f'href="{admin.base}/settings/duties"' in (await admin.get(f"{admin.base}/appraisals")).text  # menus
        r = await save(admin)
        assert r.status_code == 303 and r.headers["location"] == f"{admin.base}/settings/duties?done=saved"
        assert "The duty settings have been saved." in (await admin.get(r.headers["location"])).text
    assert await settings_of(database, ac) == DutySettings(excellent=85, pass_=70, rectification=True, report_days=20,
                                                          public_board="grades", public_duty_reports=True)
    [entry] = await owner_sql("SELECT details FROM audit_log WHERE action = 'duty_settings_saved'")
    details = json.loads(entry["details"])
    assert details["before"]["excellent"] == 90 and details["after"]["excellent"] == 85
    assert details["before"]["public_board"] == "off" and details["after"]["public_board"] == "grades"
    # switches left unticked are off
    async with signed_in(app, ac.county, "admin") as admin:
        assert (await save(admin, rectification="", public_duty_reports="")).status_code == 303
    saved = await settings_of(database, ac)
    assert not saved.rectification and not saved.public_duty_reports


async def test_bad_input_is_refused_and_changes_nothing(app, database, ac, owner_sql):
    async with signed_in(app, ac.county, "admin") as admin:
        for form, message in (({"excellent": "80", "pass": "80"}, "below excellent"),
                              ({"excellent": "101"}, "at most 100"),
                              ({"pass": "0"}, "satisfactory from 1"),
                              ({"pass": "七十"}, "whole numbers"),
                              ({"excellent": ""}, "whole numbers"),
                              ({"report_days": "0"}, "from 1 to 365"),
                              ({"report_days": "366"}, "from 1 to 365"),
                              ({"report_days": "3.5"}, "from 1 to 365"),
                              ({"public_board": "wall"}, "public appraisal board shows")):
            r = await save(admin, **form)
            assert r.status_code == 400 and message in text_of(r.text), (form, text_of(r.text)[-300:])
            assert 'role="alert"' in r.text
            for key in ("excellent", "pass", "report_days"):  # what was typed is shown again
                assert f'name="{key}" value="{form.get(key, GOOD[key])}"' in r.text, key
    assert await settings_of(database, ac) == DutySettings()
    assert await count(owner_sql, "audit_log", "action = 'duty_settings_saved'") == 0


@pytest.mark.parametrize("who", ["town", "viewer", "station", "rep", "handler"])
async def test_only_county_admins_open_or_save_it(app, database, ac, who):
    async with signed_in(app, ac.county, who) as client:
        assert (await client.get(f"{client.base}/settings/duties")).status_code == 404
        r = await post(client, f"{client.base}/settings/duties", GOOD)
        assert r.status_code == 404
        assert f"{client.base}/settings/duties" not in (await client.get(f"{client.base}/duties")).text
    assert await settings_of(database, ac) == DutySettings()


async def test_the_public_switch_has_moved_off_the_meetings_page(app, ac):
    async with signed_in(app, ac.county, "admin") as admin:
        html = (await admin.get(f"{admin.base}/duty-reports")).text
        assert "/duty-reports/public" not in html and f'href="{admin.base}/settings/duties"' in html
        r = await post(admin, f"{admin.base}/duty-reports/public", {"public": "on"}, page=f"{admin.base}/duty-reports")
        assert r.status_code in (404, 405)


# --- the appraisal follows the settings ---------------------------------------------------------------

async def test_the_start_form_is_filled_from_the_settings(app, database, ac):
    today = datetime.now(TZ).date()
    async with signed_in(app, ac.county, "admin") as admin:
        assert (await save(admin)).status_code == 303
        html = (await admin.get(f"{admin.base}/appraisals")).text
        assert 'name="excellent" inputmode="numeric" value="85"' in html
        assert 'name="pass" inputmode="numeric" value="70"' in html
        assert f'name="report_due" value="{(today + timedelta(days=20)).isoformat()}"' in html


async def test_without_a_rectification_report_nothing_about_one(app, database, ac, owner_sql):
    year = this_year()
    await put_entry(database, ac, "张伟", "speech", datetime(year, 1, 2).date())
    async with signed_in(app, ac.county, "admin") as admin:
        assert (await save(admin, rectification="")).status_code == 303
        html = (await admin.get(f"{admin.base}/appraisals")).text
        assert 'name="report_due"' not in html and "asks for no rectification report" in text_of(html)
        # a due day sent anyway is not kept
        due = (datetime.now(TZ).date() + timedelta(days=9)).isoformat()
        r = await post(admin, f"{admin.base}/appraisals", {"year": str(year), "excellent": "85", "pass": "70",
                                                           "report_due": due}, page=f"{admin.base}/appraisals")
        assert r.status_code == 303
        page = f"{admin.base}/appraisals/{year}"
        assert 'name="report_due"' not in (await admin.get(page)).text
        r = await post(admin, f"{page}/publish", {"report_due": due}, page=page)
        assert r.status_code == 303, text_of(r.text)
        html = text_of((await admin.get(page)).text)
        assert "not handed in" not in html and "Rectification report" not in html
    [row] = await owner_sql("SELECT report_due, excellent, pass FROM appraisals")
    assert row["report_due"] is None and (row["excellent"], row["pass"]) == (85, 70)
    assert await count(owner_sql, "outbox", "kind = 'appraisal_report_due'") == 0
    assert await count(owner_sql, "outbox", "kind = 'appraisal_notice'") == 0
    assert await count(owner_sql, "outbox", "kind = 'appraisal_result' AND channel = 'sms'") == 4
    bodies = [r["body"] for r in await owner_sql("SELECT body FROM outbox WHERE kind = 'appraisal_result'")]
    assert bodies and not any("整改" in b or "rectification" in b for b in bodies), bodies
    [audit] = await owner_sql("SELECT details FROM audit_log WHERE action = 'appraisal_published'")
    assert json.loads(audit["details"])["report_due"] is None
    # the deputy's notice gives the result only, and a report is refused
    async with signed_in(app, ac.county, "rep") as rep:
        notice = f"{rep.base}/appraisals/{year}/notices/{ac.deputies['张伟']}"
        html = (await rep.get(notice)).text
        assert 'name="report"' not in html and "rectification" not in text_of(html).lower()
        r = await post(rep, f"{notice}/report", {"report": "多走访选民"}, page=notice)
        assert r.status_code == 400 and "No rectification report is asked" in text_of(r.text)
    assert await count(owner_sql, "appraisal_results", "report_at IS NOT NULL") == 0


async def test_with_a_report_the_due_day_is_offered_when_publishing(app, database, ac, owner_sql):
    year = this_year()
    today = datetime.now(TZ).date()
    async with signed_in(app, ac.county, "admin") as admin:
        assert (await save(admin, report_days="45")).status_code == 303
        r = await post(admin, f"{admin.base}/appraisals", {"year": str(year), "excellent": "85", "pass": "70",
                                                           "report_due": ""}, page=f"{admin.base}/appraisals")
        assert r.status_code == 303
        page = f"{admin.base}/appraisals/{year}"
        due = (today + timedelta(days=45)).isoformat()
        assert f'name="report_due" value="{due}"' in (await admin.get(page)).text
        assert (await post(admin, f"{page}/publish", {"report_due": due}, page=page)).status_code == 303
    assert await count(owner_sql, "outbox", "kind = 'appraisal_notice' AND channel = 'sms'") == 4
    assert await count(owner_sql, "outbox", "kind = 'appraisal_report_due'") > 0


# --- presets -----------------------------------------------------------------------------------------

async def test_yuci_and_santai_get_their_settings_and_they_round_trip(database):
    yuci = await apply_preset(database, load_preset("jinzhong-yuci"))
    santai = await apply_preset(database, load_preset("mianyang-santai"))
    async with database.session(tenant_id=yuci.id) as db:
        assert await duty_settings(db, yuci.id) == DutySettings(
            excellent=90, pass_=80, rectification=True, report_days=30, public_board="grades", public_duty_reports=True)
    async with database.session(tenant_id=santai.id) as db:
        assert await duty_settings(db, santai.id) == DutySettings(public_board="points", public_duty_reports=True)
    text = await export_preset(database, "yuci")
    assert '[appraisal]\nexcellent = 90\npass = 80\nrectification = true\nreport_days = 30\npublic_board = "grades"\n' \
           'public_duty_reports = true\n' in text
    copy = text.replace('slug = "yuci"', 'slug = "yuci-copy"')
    await apply_preset(database, parse_preset(copy, name="copy"))
    assert await export_preset(database, "yuci-copy") == copy


async def test_a_table_leaves_what_it_does_not_give_and_applies_nothing_twice(database, owner_sql):
    base = load_preset("standard").name
    text = _standard() + '\n[appraisal]\nexcellent = 95\npass = 85\n'
    identity = dict(slug="c510999", name="测试县人大常委会", division_code="510722", county="测试县")
    tenant = await apply_preset(database, parse_preset(text, name=base), **identity)
    async with database.session(tenant_id=tenant.id) as db:
        assert await duty_settings(db, tenant.id) == DutySettings(excellent=95, pass_=85)
    [before] = await owner_sql("SELECT updated_at FROM tenant_config WHERE tenant_id = $1", tenant.id)
    await apply_preset(database, parse_preset(text, name=base), **identity)
    [after] = await owner_sql("SELECT updated_at FROM tenant_config WHERE tenant_id = $1", tenant.id)
    assert before == after
    await apply_preset(database, parse_preset(_standard() + '\n[appraisal]\nreport_days = 15\n', name=base), **identity)
    async with database.session(tenant_id=tenant.id) as db:
        assert await duty_settings(db, tenant.id) == DutySettings(excellent=95, pass_=85, report_days=15)


@pytest.mark.parametrize("table, words", [
    ("excellent = 80\npass = 80", "below excellent"),
    ("excellent = 90", "excellent and pass together"),
    ("report_days = 0", "from 1 to 365"),
    ('public_board = "wall"', "public appraisal board"),
    ('rectification = "yes"', "true or false"),
    ("excellent = 90.0\npass = 80", "whole number"),
    ("excellent = true\npass = 80", "whole number"),
    ("colour = 1", "unknown keys"),
])
def test_bad_tables_are_refused_when_read(table, words):
    with pytest.raises(PresetError) as refused:
        parse_preset(_standard() + f"\n[appraisal]\n{table}\n", name="bad")
    assert "[appraisal]" in str(refused.value) and words in str(refused.value), str(refused.value)


def _standard() -> str:
    from app.presets.services import PRESET_DIR

    return (PRESET_DIR / "standard.toml").read_text(encoding="utf-8")
