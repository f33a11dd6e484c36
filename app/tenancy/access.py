"""Fetch-with-authorisation for tenants: a tenant a user is not a member of does not exist for them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import AsyncGenerator

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.access import Auth, LoginRequired, _login_redirect_target, load_auth
from app.accounts.models import Membership, User, UserSession
from app.audit.services import record
from app.core.errors import NotFound, Refusal
from app.core.logs import log_tenant
from app.core.web import TenantSuspended, see_other
from app.tenancy.models import Tenant
from app.tenancy.scope import Scope, scope_of


@dataclass
class TenantContext:
    """What every tenant-scoped route works with: who, in which tenant, in which role, and a session
    whose transactions are bound to that tenant."""

    tenant: Tenant
    user: User
    membership: Membership
    db: AsyncSession
    _scope: "Scope | None" = field(default=None, repr=False)

    @property
    def role(self) -> str:
        return self.membership.role

    async def scope(self) -> "Scope":
        """The member's scope (loaded once per request)."""
        if self._scope is None:
            self._scope = await scope_of(self.db, self.membership)
        return self._scope

    def require_role(self, *roles: str) -> None:
        """Same not-found as a missing page: a role without access learns nothing."""
        if self.membership.role not in roles:
            raise NotFound()


async def requires_membership(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Guard of every `/t/{tenant_slug}/…` route."""
    auth = await load_auth(connection)
    if auth is None:
        raise LoginRequired(_login_redirect_target(connection))
    slug = connection.path_params.get("tenant_slug", "")
    tenant, membership = await member_tenant(connection.app.state.db, auth, slug)
    state = connection.scope["state"]
    state["tenant"] = tenant
    state["membership"] = membership
    log_tenant.set(tenant.slug)
    if auth.session.current_tenant_id != tenant.id:
        async with connection.app.state.db.session(tenant_id=tenant.id, user_id=auth.user.id) as db:
            await db.execute(
                update(UserSession).where(UserSession.id == auth.session.id).values(current_tenant_id=tenant.id)
            )
            # The county admin sees who came into the tenant (sign-ins are in the platform log).
            await record(db, tenant_id=tenant.id, actor_user_id=auth.user.id, action="tenant_entered",
                         client_addr=connection.client.host if connection.client else None)
            await db.commit()
        auth.session.current_tenant_id = tenant.id


async def member_tenant(database, auth: Auth, slug: str) -> tuple[Tenant, Membership]:
    """The tenant by slug and the user's active membership in it, or the same 404 for
    unknown, pending and not-a-member. Suspended tenants answer their own members with a notice."""
    async with database.session(user_id=auth.user.id) as db:
        row = (
            await db.execute(
                select(Tenant, Membership)
                .outerjoin(
                    Membership,
                    (Membership.tenant_id == Tenant.id)
                    & (Membership.user_id == auth.user.id)
                    & Membership.revoked_at.is_(None),
                )
                .where(Tenant.slug == slug)
            )
        ).first()
    if row is None or row[1] is None or row[0].status == "pending":
        raise NotFound()
    tenant, membership = row
    if tenant.status == "suspended":
        raise TenantSuspended()
    return tenant, membership


def _shows_header(request: Request) -> bool:
    """A GET that renders a whole page (not an htmx partial, not a route that counts for itself)."""
    if request.method != "GET":
        return False
    if request.headers.get("hx-request") and not request.headers.get("hx-boosted"):
        return False
    handler = request.scope.get("route_handler")
    return not (handler and (handler.opt or {}).get("own_header_count"))


async def provide_tenant_context(request: Request) -> AsyncGenerator[TenantContext, None]:
    from app.notify.queries import unread_count

    state = request.scope["state"]
    tenant, membership, auth = state["tenant"], state["membership"], state["auth"]
    async with request.app.state.db.session(tenant_id=tenant.id, user_id=auth.user.id) as db:
        if _shows_header(request):
            # The header's unread count (base.html): one indexed count in the page's own transaction.
            state["unread"] = await unread_count(db, auth.user.id)
        yield TenantContext(tenant=tenant, user=auth.user, membership=membership, db=db)


async def settings_change(ctx: TenantContext, change, on_refusal, done_path: str) -> Response:
    """Run a county-settings change: commit and redirect to ``done_path`` (below /t/<slug>), or roll
    back and show the page again through ``on_refusal(message)`` (nothing written)."""
    try:
        await change()
    except Refusal as refusal:
        await ctx.db.rollback()
        return await on_refusal(refusal.text())
    await ctx.db.commit()
    return see_other(f"/t/{ctx.tenant.slug}{done_path}")
