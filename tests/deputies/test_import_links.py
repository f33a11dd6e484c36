"""The lists a file can fill link to their import, for the roles that may use it: stations (county
admins and township staff), places (county admins), handling units (county admins); the link opens
the upload form with that kind chosen."""

from __future__ import annotations

import re

from tests.cases.world import build_case_county
from tests.deputies.deputy_world import signed_in

LINKS = {  # list page -> the import it links to
    "/stations": "/imports?kind=stations",
    "/places": "/imports?kind=tree",
    "/settings/handling-units": "/imports?kind=units",
}


async def test_lists_link_to_their_import_for_the_roles_that_may_use_it(app, database):
    cc = await build_case_county(database)
    seen = {}
    for who in ("admin", "town", "viewer"):
        async with signed_in(app, cc.county, who) as client:
            for page, target in LINKS.items():
                r = await client.get(client.base + page)
                seen[who, page] = r.status_code == 200 and f'href="{client.base}{target}"' in r.text
                if seen[who, page]:
                    form = await client.get(client.base + target)
                    kind = target.rsplit("=", 1)[1]
                    assert form.status_code == 200
                    assert re.search(rf'value="{kind}"[^>]*(checked|selected)', form.text), (who, target)
    assert seen == {
        ("admin", "/stations"): True, ("admin", "/places"): True, ("admin", "/settings/handling-units"): True,
        ("town", "/stations"): True, ("town", "/places"): False, ("town", "/settings/handling-units"): False,
        ("viewer", "/stations"): False, ("viewer", "/places"): False, ("viewer", "/settings/handling-units"): False,
    }
