"""`/s/<code>`: the short link an SMS carries (app.notify.short_links), answered with a 303 to the
path it stands for. App-level and public: no session, no cookie, no CSRF token. Unknown, expired
and another tenant's codes all get the same 404 page ("无效或已过期"), so the answer never tells
whether a code existed; a client with too many misses in the last hour gets 429 whatever it asks.
The answers are `no-store` (a code leads to a personal sign-in link)."""

from __future__ import annotations

from litestar import Request, Response, get

from app.core.i18n import lazy
from app.core.web import client_addr, page, see_other
from app.notify import short_links

OPT = {"public": True, "exclude_from_csrf": True}
HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}
GONE_TITLE = lazy("This link does not work")
GONE_TEXT = lazy("The link is wrong or has expired. Please use the link in your latest message, "
                 "or ask whoever sent it.")
BLOCKED_TITLE = lazy("Too many attempts")
BLOCKED_TEXT = lazy("Too many links that do not work were opened from here. Please try again in an hour.")


@get("/s/{code:str}", opt=OPT)
async def open_short_link(request: Request, code: str) -> Response:
    parsed = short_links.parse(code[:40])
    followed = short_links.Followed(None)
    if parsed is not None:
        tenant_id, random_part = parsed
        hashed = short_links.client_hash(request.app.state.settings.secret_key, tenant_id, client_addr(request))
        async with request.app.state.db.transaction(tenant_id=tenant_id) as db:
            followed = await short_links.follow(db, tenant_id, random_part, hashed)
    if followed.target is not None and not followed.blocked:
        response = see_other(followed.target)
    elif followed.blocked:
        response = page(request, "error.html", status_code=429, title=BLOCKED_TITLE, text=BLOCKED_TEXT,
                        user=None, tenant=None, membership=None)
    else:
        response = page(request, "error.html", status_code=404, title=GONE_TITLE, text=GONE_TEXT,
                        user=None, tenant=None, membership=None)
    response.headers.update(HEADERS)
    return response


public_route_handlers = [open_short_link]
