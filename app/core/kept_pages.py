"""Signed-in pages whose rendered content is kept in the read cache until their data changes (issue 20).

``kept_page`` is ``page()`` for a read-only page view: the first view of a member reads the database
(``reads()``) and renders the template's ``title`` and ``content`` blocks; until the county's data
changes (app.core.read_cache) a repeat view renders only the frame around them (the header with its
own unread count, the menu). Only the two rendered blocks are kept, not the reads: a repeat view
unpickles two strings, not the rows (so a kept page's template uses its reads inside those blocks
only; base.html's frame uses what every page has, ``app.core.web.page_context``). The content's forms
carry the browser's CSRF token, so the token is part of the name
(a hash of it: the value is kept only under a name the same browser asks for). The caller puts
everything else the content shows into ``name`` — the member, the page's parameters, the county's date,
a one-time message — and passes what is not kept in ``context`` (constants, the time zone's filter).
Errors answered in place, and every POST, render with ``page()`` as before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request
from litestar.response import Template
from litestar.utils.scope.state import ScopeState
from markupsafe import Markup

from app.core.read_cache import read_cache
from app.core.web import page, page_context


def _blocks(request: Request, template: str, context: dict[str, Any]) -> tuple[str, str]:
    """The template's title and content blocks as page() would render them."""
    engine = request.app.template_engine.engine
    compiled = engine.get_template(template)
    full = Template(template_name=template, context=page_context(request, dict(context)))
    rendered = compiled.new_context(full.create_template_context(request))
    return "".join(compiled.blocks["title"](rendered)), "".join(compiled.blocks["content"](rendered))


async def kept_page(request: Request, template: str, *, tenant_id: int, name: str,
                    reads: Callable[[], Awaitable[dict[str, Any]]], **context: Any) -> Template:
    token = ScopeState.from_scope(request.scope).csrf_token or ""
    browser = hashlib.blake2b(token.encode(), digest_size=8).hexdigest()

    async def compute() -> tuple[str, str]:
        return _blocks(request, template, {**await reads(), **context})

    title, content = await read_cache(request.app).remember(tenant_id, f"{name}:{browser}", compute)
    return page(request, template, **context, kept_title=Markup(title), kept_content=Markup(content))
