"""The tenant's home page, /t/{tenant_slug}/: the member's workbench (app.home.workbench: what waits
for them, each item a count linking to its list), the coming activities, deputies not yet stationed,
the inbox, messages that need attention (for those who see the delivery log), and a joint station's
members. Above the domains it reads from."""

from __future__ import annotations

from datetime import datetime, timezone

from litestar import Request, Response, get

from app.accounts.models import Membership
from app.activities import queries as activity_queries
from app.core.kept_pages import kept_page
from app.deputies.checks import unassigned_count
from app.home import setup_routes, workbench
from app.home.items import When
from app.home.setup import setup_steps
from app.joint import queries as joint_queries
from app.notify import queries as notify_queries
from app.notify.access import LOG_ROLES
from app.tenancy.access import TenantContext


def _figures() -> tuple:
    """For those who see the delivery log, the messages that need attention (unknown, stuck, checked
    for long, failing again and again, failed lately), read with the membership and the header's unread
    count on every visit (the worker changes messages every few seconds; the read cache does not watch
    them)."""
    return (notify_queries.trouble_counts(Membership.role.in_(LOG_ROLES)).label("trouble"),)


@get("/", opt={"membership_figures": _figures})
async def tenant_home(request: Request, ctx: TenantContext) -> Response:
    now = datetime.now(timezone.utc)
    today = now.astimezone(ctx.tz).date()
    unread = request.scope["state"]["unread"]
    trouble = notify_queries.trouble_of(ctx.figures["trouble"])  # None: not a log role
    trouble = trouble.shown() if trouble else []
    # the rest is read and rendered once per change of the county's data (or per minute: counts of what
    # fell due meanwhile); the flags above are rendered on every view (home.html's "live" block), and
    # the unread count is the header's
    return await kept_page(
        request, "home/home.html", tenant_id=ctx.tenant.id,
        name=f"home:{ctx.membership.id}:{ctx.user.id}:{ctx.role}:{today}",
        reads=lambda: _reads(ctx, now), tz=ctx.tz, work_base=ctx.base, unread=unread, trouble=trouble,
        failed_days=notify_queries.FAILED_WARNING_DAYS, stuck_minutes=_minutes(notify_queries.STUCK_AFTER),
        checking_minutes=_minutes(notify_queries.CHECKING_LONG))


async def _reads(ctx: TenantContext, now: datetime) -> dict:
    tz = ctx.tz
    # serving deputies in the member's scope not stationed anywhere (deputies/_home_summary.html)
    deputy_unassigned = upcoming = None
    if ctx.membership.role != "handling_unit":
        scope = await ctx.scope()
        deputy_unassigned = await unassigned_count(ctx.db, scope)
        upcoming = await activity_queries.upcoming(ctx.db, scope, now=now)
    joint = await joint_queries.home_card(ctx.db, ctx.tenant)  # a joint tenant: its members and what is shared
    # a new county's set-up steps (home/_setup.html), until done or dismissed
    setup = await setup_steps(ctx.db, ctx.tenant.id) \
        if ctx.role == "county_admin" and ctx.tenant.kind == "county" else None
    work = await workbench.for_member(ctx.db, await ctx.scope(), ctx.tenant.id,
                                      When(now=now, today=now.astimezone(tz).date(), tz=tz))
    return dict(deputy_unassigned=deputy_unassigned, upcoming=upcoming, work=work, joint=joint, setup=setup)


def _minutes(span) -> int:
    return int(span.total_seconds() // 60)


route_handlers = [tenant_home, *setup_routes.route_handlers]
