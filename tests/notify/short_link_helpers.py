"""Following a message's short link in tests: the code in `…/s/<code>` and the path it stands for."""

from __future__ import annotations

import re

from sqlalchemy import text

from app.notify import links, short_links

SHORT_URL = re.compile(r"/s/([2-9A-Z]{11,14})(?![2-9A-Z])")


def code_in(body: str) -> str:
    """The short code of the one link in a message body (which must be on our own address)."""
    found = SHORT_URL.findall(body)
    assert len(found) == 1, body
    assert links.short_url(found[0]) in body, body
    return found[0]


async def target_of(database, code: str) -> str | None:
    """The path a code leads to (None: none), read as the runtime role bound to the code's tenant."""
    parsed = short_links.parse(code)
    if parsed is None:
        return None
    tenant_id, random_part = parsed
    async with database.transaction(tenant_id=tenant_id) as db:
        return await db.scalar(text("SELECT target FROM short_links WHERE tenant_id = :t AND code = :c"),
                               {"t": tenant_id, "c": random_part})


async def link_of(database, body: str) -> str | None:
    return await target_of(database, code_in(body))
