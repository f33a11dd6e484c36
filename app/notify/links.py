"""Absolute links in messages (an SMS is read outside the product): the address people reach the
product at (`LIANLUO_PUBLIC_URL`, the same variable as `settings.public_url`), else the local
development address. Producers run without a web request (the worker), so there is no request
host to fall back on."""

from __future__ import annotations

import os

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


def signin(slug: str, token: str) -> str:
    """A deputy's personal sign-in link for one activity (the invitation's secret)."""
    return absolute(f"/signin/{slug}/{token}")


def case_lookup(slug: str) -> str:
    """The public receipt lookup (the code is typed in: it never travels in a URL)."""
    return absolute(f"/p/{slug}/lookup")


def case_page(slug: str, case_id: int) -> str:
    return absolute(f"/t/{slug}/cases/{case_id}")


def yearly_report(slug: str, deputy_id: int, year: int) -> str:
    return absolute(f"/t/{slug}/deputies/{deputy_id}/attendance/{year}/report")


def mailbox(slug: str, station_id: int) -> str:
    return absolute(f"/t/{slug}/stations/{station_id}/mailbox")


def compliance(slug: str) -> str:
    return absolute(f"/t/{slug}/compliance")
