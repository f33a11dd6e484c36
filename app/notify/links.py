"""Links in messages (an SMS is read outside the product). A message carries a short code
(app.notify.short_links): its text reads `{site}/s/{link}`, where `{site}` is the address people
reach the product at (`LIANLUO_PUBLIC_URL`, the same variable as `settings.public_url`; else the
local development address) and is fixed in the SMS template registered with the provider.
Producers run without a web request (the worker), so there is no request host to fall back on.

Each helper takes the producer's session, bound to `tenant_id`, and returns the code of the path.
"""

from __future__ import annotations

import os
import re
from datetime import datetime

from markupsafe import Markup, escape

from sqlalchemy.ext.asyncio import AsyncSession

from app.notify.short_links import short_code, short_codes

FALLBACK = "http://127.0.0.1:8000"
_configured: str | None = None


def configure(public_url: str | None) -> None:
    """Let a process that holds its Settings fix the base (e.g. `configure(settings.public_url)`);
    an empty value keeps reading the environment."""
    global _configured
    _configured = (public_url or "").rstrip("/") or None


def base_url() -> str:
    return _configured or os.environ.get("LIANLUO_PUBLIC_URL", "").strip().rstrip("/") or FALLBACK


def absolute(path: str) -> str:
    return base_url() + (path if path.startswith("/") else "/" + path)


def short_url(code: str) -> str:
    """The whole address of a short code, as a message shows it."""
    return absolute(f"/s/{code}")


async def signins(db: AsyncSession, tenant_id: int, slug: str, tokens, *, now: datetime | None = None) -> dict[str, str]:
    """{token: code}: the deputies' personal sign-in links for one activity (each invitation's secret)."""
    paths = {token: f"/signin/{slug}/{token}" for token in tokens}
    codes = await short_codes(db, tenant_id, paths.values(), now=now)
    return {token: codes[path] for token, path in paths.items()}


async def case_lookup(db: AsyncSession, tenant_id: int, slug: str, *, now: datetime | None = None) -> str:
    """The public receipt lookup (the code is typed in: it never travels in a URL)."""
    return await short_code(db, tenant_id, f"/p/{slug}/lookup", now=now)


async def case_page(db: AsyncSession, tenant_id: int, slug: str, case_id: int, *, now: datetime | None = None) -> str:
    return await short_code(db, tenant_id, f"/t/{slug}/cases/{case_id}", now=now)


async def yearly_report(db: AsyncSession, tenant_id: int, slug: str, deputy_id: int, year: int, *,
                        now: datetime | None = None) -> str:
    return await short_code(db, tenant_id, f"/t/{slug}/deputies/{deputy_id}/attendance/{year}/report", now=now)


async def mailbox(db: AsyncSession, tenant_id: int, slug: str, station_id: int, *, now: datetime | None = None) -> str:
    return await short_code(db, tenant_id, f"/t/{slug}/stations/{station_id}/mailbox", now=now)



_SHORT = re.compile(r"(?:https?://[^\s/]+)?/s/([2-9A-HJKMNP-Z]{11,14})\b")


def linked(body: str) -> Markup:
    """A message body for the inbox page: escaped, with each short link of ours made a link to click
    (relative, so it works on whichever host the member reached us)."""
    return Markup(_SHORT.sub(lambda m: Markup('<a href="/s/{0}">/s/{0}</a>').format(m.group(1)), str(escape(body))))
