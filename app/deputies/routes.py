"""Routes: deputies/routes (filled in by its domain)."""

from __future__ import annotations

route_handlers: list = []
