"""The set-up checklist on a new county admin's home: each step's state read from the data in one
statement, each linking to its page; gone once every step was seen done (and not back when a step
later undoes itself), or when the admin hides it. The home of a county without deputies does not say
every deputy is stationed."""

from __future__ import annotations

import re

from sqlalchemy import select, text

from app.activities.models import Rule
from app.cases.models import CaseCategory
from app.core.db import query_counter
from app.deputies.models import Deputy
from app.home.setup import STEPS, setup_steps
from app.presets.services import Preset, apply_preset
from app.stations.models import Station, StationKind
from app.tenancy.models import AdminNode, HandlingUnit
from tests.deputies.test_roster import as_user
from tests.factories import add_member, csrf_from, make_user


async def empty_county(database):
    """A county as approval leaves it with a preset that brings nothing: the root node only."""
    tenant = await apply_preset(database, Preset(name="empty", tenant={}), slug="pingyao", name="平遥县人大常委会",
                                division_code="140728", county="平遥县")
    for username, role in (("pingyao-admin", "county_admin"), ("pingyao-viewer", "viewer")):
        await add_member(database, tenant, await make_user(database, username), role)
    return tenant


class W:
    def __init__(self, tenant):
        self.tenant, self.slug = tenant, tenant.slug


def states(html: str) -> dict[str, str]:
    return dict(re.findall(r'<li id="setup-([a-z]+)" data-done="(yes|no)">', html))


async def test_the_steps_follow_the_data_until_done(app, database, owner_sql):
    tenant = await empty_county(database)
    w = W(tenant)
    t = tenant.id
    async with as_user(app, w, "admin") as c:
        page = await c.get(f"/t/{w.slug}/")
        assert states(page.text) == {key: "no" for key, *_ in STEPS}
        assert "开通设置" in page.text and "已完成 0/7 步" in page.text
        for key, _, _, link, second in STEPS:  # each step links to the page that does it
            assert f'href="/t/{w.slug}{link}"' in page.text, key
            if second:
                assert f'href="/t/{w.slug}{second[0]}"' in page.text, key
        # zero deputies: not "every serving deputy is stationed"
        assert "在任代表均已进站" not in page.text and "还没有在任代表" in page.text
        assert f'href="/t/{w.slug}/imports?kind=deputies"' in page.text

        async with database.transaction(tenant_id=t) as db:
            root = await db.scalar(select(AdminNode).where(AdminNode.parent_id.is_(None)))
            town = AdminNode(tenant_id=t, parent_id=root.id, name="古陶镇", kind="township", path="")
            db.add(town)
            await db.flush()
            town.path = f"{root.path}{town.id}/"
            kind = StationKind(tenant_id=t, code="station", name="代表联络站", node_kinds=["township"])
            db.add(kind)
            db.add(CaseCategory(tenant_id=t, code="roads", name="道路交通"))
            await db.flush()
            station = Station(tenant_id=t, kind_id=kind.id, node_id=town.id, name="古陶镇联络站", status="filed")
            db.add(station)
        page = await c.get(f"/t/{w.slug}/")
        assert states(page.text) == {"tree": "yes", "kinds": "yes", "stations": "no", "deputies": "no",
                                     "rules": "no", "cases": "no", "reminders": "no"}  # no unit yet
        async with database.transaction(tenant_id=t) as db:
            await db.execute(text("UPDATE stations SET status = 'active'"))
            db.add_all([Deputy(tenant_id=t, name="王红"), HandlingUnit(
                tenant_id=t, code="jt", name="平遥县交通运输局", kind="county_department", level="county"),
                Rule(tenant_id=t, code="r", name="每年两次", subject="deputy", kind_codes=["visit"], period="year",
                     minimum=2)])
        page = await c.get(f"/t/{w.slug}/")
        assert states(page.text) == {**{key: "yes" for key, *_ in STEPS}, "reminders": "no"}
        assert "还没有在任代表" not in page.text
        # the reminder settings are done when the county has saved them
        settings_page = await c.get(f"/t/{w.slug}/settings/notifications")
        form = form_values(settings_page.text, "/settings/notifications")
        r = await c.post(f"/t/{w.slug}/settings/notifications", data=form, follow_redirects=False)
        assert r.status_code == 303, r.text
        page = await c.get(f"/t/{w.slug}/")
        assert 'id="setup"' not in page.text
    flag = await owner_sql("SELECT setup_done_at FROM tenant_config WHERE tenant_id = $1", t)
    assert flag[0]["setup_done_at"] is not None
    # a step that undoes itself later does not bring the list back
    await owner_sql("UPDATE activity_rules SET retired_at = now()")
    async with as_user(app, w, "admin") as c:
        assert 'id="setup"' not in (await c.get(f"/t/{w.slug}/")).text


async def test_one_statement_and_county_admins_only(app, database):
    tenant = await empty_county(database)
    async with database.transaction(tenant_id=tenant.id) as db:
        await db.execute(text("SELECT 1"))  # the tenant binding is made
        counter = [0]
        token = query_counter.set(counter)
        try:
            setup = await setup_steps(db, tenant.id)
        finally:
            query_counter.reset(token)
    assert setup is not None and setup.done == 0 and counter[0] == 1
    async with as_user(app, W(tenant), "viewer") as c:
        page = await c.get(f"/t/{tenant.slug}/")
        assert page.status_code == 200 and 'id="setup"' not in page.text
        r = await c.post(f"/t/{tenant.slug}/setup/dismiss", data={"_csrf_token": csrf_from(page.text)})
        assert r.status_code == 404


async def test_the_admin_may_hide_the_steps(app, database, owner_sql):
    tenant = await empty_county(database)
    async with as_user(app, W(tenant), "admin") as c:
        page = await c.get(f"/t/{tenant.slug}/")
        assert 'id="setup"' in page.text
        r = await c.post(f"/t/{tenant.slug}/setup/dismiss", data={"_csrf_token": csrf_from(page.text)},
                         follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/t/{tenant.slug}/"
        assert 'id="setup"' not in (await c.get(f"/t/{tenant.slug}/")).text
    assert (await owner_sql("SELECT setup_done_at FROM tenant_config"))[0]["setup_done_at"] is not None


def form_values(html: str, action: str) -> dict:
    """What a browser would send for the form posting to ``action`` as the page fills it."""
    from html.parser import HTMLParser

    class Reader(HTMLParser):
        def __init__(self):
            super().__init__()
            self.inside, self.values, self.select, self.textarea = False, {}, None, None

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "form":
                self.inside = (a.get("action") or "").endswith(action)
            elif not self.inside:
                return
            elif tag == "input" and a.get("name"):
                if a.get("type") in ("checkbox", "radio"):
                    if "checked" in a:
                        self.values.setdefault(a["name"], []).append(a.get("value", "on"))
                else:
                    self.values[a["name"]] = a.get("value") or ""
            elif tag == "select":
                self.select = a.get("name")
            elif tag == "option" and self.select and ("selected" in a or self.select not in self.values):
                self.values[self.select] = a.get("value", "")
            elif tag == "textarea":
                self.textarea = a.get("name")
                self.values[self.textarea] = ""

        def handle_endtag(self, tag):
            if tag == "form":
                self.inside = False
            elif tag == "select":
                self.select = None
            elif tag == "textarea":
                self.textarea = None

        def handle_data(self, data):
            if self.inside and self.textarea:
                self.values[self.textarea] += data

    reader = Reader()
    reader.feed(html)
    return reader.values
