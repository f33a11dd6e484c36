"""The tenant's audit log for its county admins (under /t/{tenant_slug}/)."""

from __future__ import annotations


from litestar import Request, Response, get
from litestar.params import Parameter

from app.accounts.models import ROLE_NAMES
from app.accounts.services import display_names
from app.audit.models import ACTION_NAMES, AuditEntry
from app.audit.services import tenant_entries
from app.core.i18n import gettext
from app.core.web import page
from app.tenancy.access import TenantContext

PAGE_SIZE = 50


def _role(code: object) -> str:
    name = ROLE_NAMES.get(str(code))
    return gettext(name) if name else str(code)


def describe_details(entry: AuditEntry) -> str:
    """The details of an entry in a few readable words: who it concerned and the roles involved."""
    details = entry.details or {}
    parts = []
    for key in ("member", "name"):
        if details.get(key):
            parts.append(str(details[key]))
    if "old_role" in details and "new_role" in details:
        if details["old_role"] != details["new_role"]:
            parts.append(f"{_role(details['old_role'])} → {_role(details['new_role'])}")
        elif details.get("old_scope_node_id") != details.get("new_scope_node_id"):
            parts.append(gettext("township or street changed"))
    elif "old_role" in details:
        parts.append(_role(details["old_role"]))
    elif "role" in details:
        parts.append(_role(details["role"]))
    return " · ".join(parts)


@get("/audit")
async def tenant_audit(
    request: Request, ctx: TenantContext,
    before: int | None = Parameter(query="before", default=None, ge=1, le=2**63 - 1),
) -> Response:
    ctx.require_role("county_admin")
    entries = await tenant_entries(ctx.db, limit=PAGE_SIZE + 1, before_id=before)
    older = entries[PAGE_SIZE - 1].id if len(entries) > PAGE_SIZE else None
    entries = entries[:PAGE_SIZE]
    names = await display_names(ctx.db, {e.actor_user_id for e in entries if e.actor_user_id is not None})
    return page(
        request, "audit/tenant_log.html", entries=entries, names=names, older=older, newest=before is not None,
        tz=ctx.tz, actions=ACTION_NAMES, describe=describe_details,
        base=f"/t/{ctx.tenant.slug}",
    )


route_handlers = [tenant_audit]
