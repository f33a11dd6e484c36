"""The operator console (/ops/…) and the public sign-up page (/signup)."""

from __future__ import annotations

route_handlers: list = []
