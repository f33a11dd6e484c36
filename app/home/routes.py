"""The tenant's home page, /t/{tenant_slug}/: the coming activities, deputies not yet stationed, the
inbox and failed messages, and a joint station's members. Above the domains it reads from."""

from __future__ import annotations

from datetime import datetime, timezone

from litestar import Request, Response, get

from app.activities import queries as activity_queries
from app.core.web import page
from app.deputies.checks import unassigned_count
from app.joint import queries as joint_queries
from app.notify import queries as notify_queries
from app.tenancy.access import TenantContext


@get("/", opt={"own_header_count": True})
async def tenant_home(request: Request, ctx: TenantContext) -> Response:
    # serving deputies in the member's scope not stationed anywhere (deputies/_home_summary.html)
    deputy_unassigned = upcoming = None
    tz = ctx.tz
    now = datetime.now(timezone.utc)
    # the header's unread count and, for county admins, the messages that failed lately: one statement
    unread, failed = await notify_queries.home_counts(
        ctx.db, ctx.user.id,
        failed_since=notify_queries.failed_warning_since(now) if ctx.role == "county_admin" else None)
    if ctx.membership.role != "handling_unit":
        scope = await ctx.scope()
        deputy_unassigned = await unassigned_count(ctx.db, scope)
        upcoming = await activity_queries.upcoming(ctx.db, scope, now=now)
    joint = await joint_queries.home_card(ctx.db, ctx.tenant)  # a joint tenant: its members and what is shared
    return page(request, "home/home.html", deputy_unassigned=deputy_unassigned, upcoming=upcoming, tz=tz,
                joint=joint, unread=unread, failed_messages=failed, failed_days=notify_queries.FAILED_WARNING_DAYS)


route_handlers = [tenant_home]
