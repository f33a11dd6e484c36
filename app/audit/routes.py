"""The tenant's audit log for its county admins (under /t/{tenant_slug}/)."""

from __future__ import annotations

route_handlers: list = []
