"""A tenant admin's pages about people: members, roles, invitations (under /t/{tenant_slug}/)."""

from __future__ import annotations

route_handlers: list = []
