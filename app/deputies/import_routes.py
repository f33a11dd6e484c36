"""Routes: deputies/import_routes (filled in by its domain)."""

from __future__ import annotations

route_handlers: list = []
