"""Sign-in, sign-out, the tenant switcher, password change, the language switch, and the public
page where an invitation link is accepted."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie

from app.accounts import invitations, services
from app.accounts.access import SESSION_COOKIE, current_auth, load_auth, requires_login
from app.core.db import attempt
from app.core.errors import NotFound, Refusal
from app.core.i18n import LOCALES, gettext, lazy
from app.core.security import token_digest
from app.core.web import client_addr, page, safe_next, see_other


def _session_cookie(request: Request, token: str | None) -> Cookie:
    settings = request.app.state.settings
    return Cookie(
        key=SESSION_COOKIE,
        value=token or "",
        max_age=settings.session_absolute_hours * 3600 if token else 0,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
        path="/",
    )


async def landing_target(request: Request) -> str:
    """Where a signed-in person starts: the console, their only working tenant, or the switcher
    (which also shows suspended ones, marked as such)."""
    auth_state = await load_auth(request)
    if auth_state is None:
        return "/login"
    if auth_state.user.is_operator:
        return "/ops/"
    async with request.app.state.db.session(user_id=auth_state.user.id) as db:
        tenants = await services.my_tenants(db, auth_state.user.id)
    working = [t for t, _ in tenants if t.status == "active"]
    if len(tenants) == 1 and working:
        return f"/t/{working[0].slug}/"
    return "/tenants"


@get("/", opt={"public": True})
async def home(request: Request) -> Response:
    if await load_auth(request) is None:
        return page(request, "accounts/welcome.html")
    return see_other(await landing_target(request))


@get("/login", opt={"public": True})
async def login_form(request: Request, next: str | None = None) -> Response:
    return page(request, "accounts/login.html", next=safe_next(next, ""), login="")


@post("/login", opt={"public": True})
async def login(request: Request) -> Response:
    form = await request.form()
    login_name = str(form.get("login", ""))[:60]
    password = str(form.get("password", ""))[:200]
    next_path = safe_next(str(form.get("next", "")), "")
    if not login_name.strip() or not password:
        return page(
            request, "accounts/login.html", status_code=400, next=next_path, login=login_name,
            error=gettext("Please enter your username or mobile number and your password."),
        )
    old = request.cookies.get(SESSION_COOKIE)
    async with request.app.state.db.session() as db:
        try:
            opened = await services.sign_in(
                db, request.app.state.settings, login_name, password,
                client_addr=client_addr(request), user_agent=request.headers.get("user-agent"),
                old_token_hash=token_digest(old) if old else None,
            )
        except Refusal as refusal:
            response = page(
                request, "accounts/login.html", status_code=refusal.status, next=next_path, login=login_name,
                error=refusal.text(),
            )
            if "minutes" in refusal.variables:  # the address limit: when to come back
                response.headers["Retry-After"] = str(refusal.variables["minutes"] * 60)
            return response
    request.scope["state"].pop("auth", None)
    target = "/ops/totp" if opened.user.is_operator else (next_path or "/")
    response = see_other(target)
    response.set_cookie(_session_cookie(request, opened.token))
    return response


@post("/logout", guards=[requires_login])
async def logout(request: Request) -> Response:
    auth = current_auth(request)
    async with request.app.state.db.session() as db:
        await services.sign_out(db, auth.session.id, auth.user.id, client_addr(request))
    response = see_other("/login")
    response.set_cookie(_session_cookie(request, None))
    return response


@get("/tenants", guards=[requires_login])
async def tenant_switcher(request: Request) -> Response:
    auth = current_auth(request)
    async with request.app.state.db.session(user_id=auth.user.id) as db:
        tenants = await services.my_tenants(db, auth.user.id)
    return page(request, "accounts/tenants.html", tenants=tenants)


@get("/account/password", guards=[requires_login])
async def password_form(request: Request) -> Response:
    return page(request, "accounts/password.html")


@post("/account/password", guards=[requires_login])
async def change_password(request: Request) -> Response:
    auth = current_auth(request)
    form = await request.form()
    async with request.app.state.db.session() as db:
        try:
            await services.change_password(
                db, auth.user, str(form.get("current", "")), str(form.get("new", "")), str(form.get("confirm", "")),
                keep_session_id=auth.session.id, client_addr=client_addr(request),
            )
        except Refusal as refusal:
            return page(
                request, "accounts/password.html", status_code=400, error=refusal.text()
            )
    return page(request, "accounts/password.html", done=True)


@get("/lang/{locale:str}", opt={"public": True})
async def switch_language(request: Request, locale: str, next: str | None = None) -> Response:
    response = see_other(safe_next(next, "/"))
    if locale in LOCALES:
        response.set_cookie(
            Cookie(key="lang", value=locale, max_age=365 * 86400, httponly=True, samesite="lax",
                   secure=request.app.state.settings.secure_cookies, path="/")
        )
    return response


# --- joining a tenant with an invitation link ----------------------------------------------

NOT_SIGNED_IN = lazy(
    "You are not signed in any more. Choose a username and password below, or sign in and open the link again."
)


async def _join_tenant(request: Request, tenant_slug: str):
    async with request.app.state.db.session() as db:
        tenant = await services.active_tenant(db, tenant_slug)
    if tenant is None:
        raise NotFound()
    return tenant


async def _join_page(request: Request, db, tenant, invitation, *, status_code: int = 200, **context) -> Response:
    inviter, scope_name = await invitations.describe(db, invitation)
    return page(
        request, "accounts/join.html", status_code=status_code, unit=tenant, invitation=invitation,
        inviter=inviter, scope_name=scope_name, auth=await load_auth(request), **context,
    )


def _invalid_link(request: Request) -> Response:
    return page(request, "accounts/join_invalid.html", status_code=404)


@get("/join/{tenant_slug:str}/{token:str}", opt={"public": True})
async def join_form(request: Request, tenant_slug: str, token: str) -> Response:
    tenant = await _join_tenant(request, tenant_slug)
    async with request.app.state.db.session(tenant_id=tenant.id) as db:
        invitation = await invitations.open_invitation(db, tenant.id, token)
        if invitation is None:
            return _invalid_link(request)
        return await _join_page(request, db, tenant, invitation, token=token, username="")


@post("/join/{tenant_slug:str}/{token:str}", opt={"public": True})
async def join(request: Request, tenant_slug: str, token: str) -> Response:
    """Accept as the signed-in user (``existing_user``), or create an account and sign it in."""
    tenant = await _join_tenant(request, tenant_slug)
    form = await request.form()
    auth = await load_auth(request)
    username = str(form.get("username", ""))[:60]
    async with request.app.state.db.session(tenant_id=tenant.id) as db:
        invitation = await invitations.open_invitation(db, tenant.id, token)
        if invitation is None:
            return _invalid_link(request)
        new_session = None
        try:
            if form.get("existing_user"):
                if auth is None:
                    raise Refusal(NOT_SIGNED_IN)
                await attempt(db, invitations.accept(db, invitation, existing_user=auth.user,
                                                     client_addr=client_addr(request)))
            else:
                user = await attempt(db, invitations.accept(
                    db, invitation, username=username, password=str(form.get("password", ""))[:200],
                    confirm=str(form.get("confirm", ""))[:200], client_addr=client_addr(request),
                ))
                old = request.cookies.get(SESSION_COOKIE)
                new_session = await services.open_session(
                    db, request.app.state.settings, user, client_addr=client_addr(request),
                    user_agent=request.headers.get("user-agent"), old_token_hash=token_digest(old) if old else None,
                )
        except Refusal as refusal:
            invitation = await invitations.open_invitation(db, tenant.id, token)
            if invitation is None:
                return _invalid_link(request)
            return await _join_page(
                request, db, tenant, invitation, status_code=400, token=token, username=username,
                error=refusal.text(),
            )
    response = see_other(f"/t/{tenant.slug}/")
    if new_session is not None:
        request.scope["state"].pop("auth", None)
        response.set_cookie(_session_cookie(request, new_session.token))
    return response


route_handlers = [
    home, login_form, login, logout, tenant_switcher, password_form, change_password, switch_language, join_form, join,
]
