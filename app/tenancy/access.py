"""Fetch-with-authorisation for tenants: a tenant a user is not a member of does not exist for them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import AsyncGenerator, Awaitable, Callable, Mapping, TypeVar
from zoneinfo import ZoneInfo

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from sqlalchemy import (Boolean, ColumnElement, Row, String, bindparam, case, cast, func, literal_column, select, true,
                        update)
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.access import AUTH_WIDTH, Auth, LoginRequired, _login_redirect_target, auth_select, load_auth
from app.accounts.models import Membership, User, UserSession
from app.audit.services import record
from app.core.clock import now
from app.core.db import REQUEST_DB, attempt, bind_now, note_bound, record_type
from app.core.errors import NotFound, Refusal
from app.core.logs import log_tenant
from app.core.web import TenantSuspended, htmx_target, see_other
from app.tenancy.models import Tenant
from app.tenancy.scope import Scope, scope_of

T = TypeVar("T")


@dataclass
class TenantContext:
    """What every tenant-scoped route works with: who, in which tenant, in which role, and a session
    whose transactions are bound to that tenant.

    Where the request's transaction ends is decided here, not in routes: when the route has answered,
    its work is committed — unless a service refused inside ``attempt`` (that rolled back already) or
    the route raised (the session closes and rolls back)."""

    tenant: Tenant
    user: User
    membership: Membership
    db: AsyncSession
    figures: Mapping = field(default_factory=dict, repr=False)  # the route's ``membership_figures`` read
    _scope: "Scope | None" = field(default=None, repr=False)
    refused: bool = field(default=False, repr=False)
    _after_commit: list = field(default_factory=list, repr=False)

    async def attempt(self, change: Awaitable[T]) -> T:
        """Await a service's change. A Refusal rolls back what it wrote before it goes on to the route,
        so the page that shows the refusal reads the records as they were; nothing is committed."""
        try:
            return await attempt(self.db, change)
        except Refusal:
            self.refused = True
            raise

    def after_commit(self, step: Callable[[], Awaitable[object]]) -> None:
        """Run ``step`` once the request's work is committed (e.g. hand a job to the worker, which
        must find the committed rows)."""
        self._after_commit.append(step)

    @property
    def role(self) -> str:
        return self.membership.role

    @property
    def base(self) -> str:
        """Where this tenant's pages start: ``/t/<slug>``."""
        return f"/t/{self.tenant.slug}"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.tenant.timezone)

    def today(self) -> date:
        """Today in the tenant's time zone."""
        return datetime.now(self.tz).date()

    async def scope(self) -> "Scope":
        """The member's scope (loaded once per request)."""
        if self._scope is None:
            self._scope = await scope_of(self.db, self.membership)
        return self._scope

    def require_role(self, *roles: str) -> None:
        """Same not-found as a missing page: a role without access learns nothing."""
        if self.membership.role not in roles:
            raise NotFound()


# The tenant and the membership as plain records (app.core.db.record_type), like the session and user.
TenantRow = record_type(Tenant)
MembershipRow = record_type(Membership)
_TENANTS, _MEMBERSHIPS, _SESSIONS = Tenant.__table__, Membership.__table__, UserSession.__table__
_TENANT_END = AUTH_WIDTH + len(TenantRow.columns)
# A tenant page's sign-in statement also reads the tenant its path names (tenants have no row-level
# security): the session, the user and the tenant in one round trip.
_AUTH_AND_TENANT = auth_select(*TenantRow.columns, outerjoin=(_TENANTS, _TENANTS.c.slug == bindparam("slug")))
_TENANT_BY_SLUG = select(*TenantRow.columns).where(_TENANTS.c.slug == bindparam("slug"))
# The user's active membership (readable by its own user, bound by the sign-in statement), binding the
# transaction to the tenant in the same statement when ``:bind`` (the tenant may be worked in) and the
# membership is found: nothing is bound to a tenant before the membership is seen.
_MEMBERSHIP_COLUMNS = (
    *MembershipRow.columns,
    func.set_config("app.tenant_id", case((bindparam("bind", type_=Boolean), cast(_MEMBERSHIPS.c.tenant_id, String)),
                                          else_=literal_column("''")), true()).label("bound_tenant"),
)
_MEMBERSHIP_WHERE = (_MEMBERSHIPS.c.tenant_id == bindparam("tenant_id"), _MEMBERSHIPS.c.user_id == bindparam("user_id"),
                     _MEMBERSHIPS.c.revoked_at.is_(None))
_MEMBERSHIP = select(*_MEMBERSHIP_COLUMNS).where(*_MEMBERSHIP_WHERE)
_MEMBERSHIP_END = len(MembershipRow.columns)
_ENTERED = update(_SESSIONS).where(_SESSIONS.c.id == bindparam("session_id")).values(
    current_tenant_id=bindparam("tenant_id"))


HeaderCount = Callable[[], ColumnElement[int]]


def membership_guard(header_count: HeaderCount):
    """The guard of every `/t/{tenant_slug}/…` route (``requires_membership``). ``header_count`` builds
    the figure every whole page's header shows (the inbox's unread messages: a scalar subquery on the
    bound tenant's rows, with the ``:tenant_id`` and ``:user_id`` of the membership statement), passed
    in by the app so that tenancy imports no domain. A page that shows the header reads it in the
    membership statement itself, after that statement's ``set_config`` has bound the tenant: the
    target list is evaluated left to right and an uncorrelated subquery (an InitPlan) runs when its
    value is first needed. Were that ever not so, the count would read no row (nothing bound: the
    policies match nothing) and show 0, never another tenant's figure; tests/home check the figure.

    A route may add figures of its own the same way (``opt={"membership_figures": columns}``:
    ``columns()`` gives labelled columns that may also use ``:now``, the request's time): the page
    reads them from ``TenantContext.figures`` without a statement of its own."""
    counting = select(*_MEMBERSHIP_COLUMNS, header_count().label("header_count")).where(*_MEMBERSHIP_WHERE)
    with_figures: dict[Callable, object] = {}  # built once per route that asks

    def statement_for(connection: ASGIConnection):
        figures = _route_opt(connection, "membership_figures")
        if figures is not None and connection.scope.get("method") in ("GET", "HEAD"):  # a partial too
            if figures not in with_figures:
                with_figures[figures] = counting.add_columns(*figures())
            return with_figures[figures]
        return counting if _shows_header(connection) else _MEMBERSHIP

    async def requires_membership(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        await _enter_tenant(connection, statement_for(connection))

    return requires_membership


async def _enter_tenant(connection: ASGIConnection, membership_statement) -> None:
    """It opens the request's one session: the sign-in, the membership and (through ``ctx``) the page
    are one transaction on one connection, the tenant and the user bound as soon as they are known. Two
    statements: the session, user and tenant (which binds the user), then the membership (which binds
    the tenant, and reads the header's count on a whole page)."""
    state = connection.scope.setdefault("state", {})
    slug = connection.path_params.get("tenant_slug", "")
    db = connection.app.state.db.session()
    try:
        if "auth" in state:  # read earlier in the request without the tenant: bind, then read it
            auth = state["auth"]
            if auth is None:
                raise LoginRequired(_login_redirect_target(connection))
            await bind_now(db, None, auth.user.id)
            found = (await db.execute(_TENANT_BY_SLUG, {"slug": slug})).first()
            tenant = TenantRow(*found) if found is not None else None
        else:
            auth = await load_auth(connection, db, _AUTH_AND_TENANT, {"slug": slug})
            if auth is None:
                raise LoginRequired(_login_redirect_target(connection))
            tenant = TenantRow(*auth.row[AUTH_WIDTH:_TENANT_END])
            if tenant.id is None:  # no tenant has this slug (the outer join found none)
                tenant = None
        membership, row = await member_of(db, auth, tenant, membership_statement)
        await note_bound(db, tenant.id, auth.user.id)
        if "header_count" in row._fields:
            state["unread"] = row.header_count
            state["figures"] = row._mapping
        if auth.session.current_tenant_id != tenant.id:
            await db.execute(_ENTERED, {"session_id": auth.session.id, "tenant_id": tenant.id})
            # The county admin sees who came into the tenant (sign-ins are in the platform log).
            await record(db, tenant_id=tenant.id, actor_user_id=auth.user.id, action="tenant_entered",
                         client_addr=connection.client.host if connection.client else None)
            auth.session.current_tenant_id = tenant.id
    except BaseException:
        await db.close()
        raise
    state[REQUEST_DB] = db
    state["tenant"] = tenant
    state["membership"] = membership
    log_tenant.set(tenant.slug)


async def member_of(db: AsyncSession, auth: Auth, tenant, statement=_MEMBERSHIP) -> tuple[Membership, Row]:
    """The user's active membership in ``tenant`` (a TenantRow or None), or the same 404 for unknown,
    pending and not-a-member; the transaction is bound to the tenant with it. Suspended tenants answer
    their own members with a notice (and bind nothing). Memberships are readable by their own user:
    the user is bound first. With the whole row read (the header's count and a route's figures when
    ``statement`` reads them)."""
    if tenant is None or tenant.status == "pending":
        raise NotFound()
    row = (await db.execute(statement, {"tenant_id": tenant.id, "user_id": auth.user.id,
                                        "bind": tenant.status != "suspended", "now": now()})).first()
    if row is None:
        raise NotFound()
    if tenant.status == "suspended":
        raise TenantSuspended()
    return MembershipRow(*row[:_MEMBERSHIP_END]), row


def _route_opt(connection: ASGIConnection, name: str):
    handler = connection.scope.get("route_handler")
    return (handler.opt or {}).get(name) if handler else None


def _shows_header(connection: ASGIConnection) -> bool:
    """A GET that renders a whole page (not an htmx partial, not a route that counts for itself)."""
    if connection.scope.get("method") != "GET":
        return False
    if htmx_target(connection) is not None:
        return False
    return not _route_opt(connection, "own_header_count")


def tenant_context_provider():
    """The ``ctx`` dependency of tenant routes (after the guard, ``membership_guard``)."""

    async def provide_tenant_context(request: Request) -> AsyncGenerator[TenantContext, None]:
        state = request.scope["state"]
        tenant, membership, auth = state["tenant"], state["membership"], state["auth"]
        db = state.pop(REQUEST_DB, None) or request.app.state.db.session(tenant_id=tenant.id, user_id=auth.user.id)
        async with db:
            ctx = TenantContext(tenant=tenant, user=auth.user, membership=membership, db=db,
                                figures=state.get("figures") or {})
            yield ctx  # a route that raises: the exception comes back here and the session rolls back
            if not ctx.refused:
                await db.commit()
                for step in ctx._after_commit:
                    await step()

    return provide_tenant_context


async def settings_change(ctx: TenantContext, change, on_refusal, done_path: str) -> Response:
    """Run a county-settings change and redirect to ``done_path`` (below /t/<slug>), or show the page
    again through ``on_refusal(message)`` with nothing written."""
    try:
        await ctx.attempt(change())
    except Refusal as refusal:
        return await on_refusal(refusal.text())
    return see_other(f"/t/{ctx.tenant.slug}{done_path}")
