"""Who is asking: the server-side session behind the cookie, and guards for pages that need one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from litestar import Request
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import BaseRouteHandler
from litestar.connection import ASGIConnection
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User, UserSession
from app.core.clock import now
from app.core.errors import NotFound
from app.core.logs import log_user
from app.core.security import token_digest

SESSION_COOKIE = "lianluo_session"
TOUCH_EVERY = timedelta(minutes=1)


@dataclass
class Auth:
    user: User
    session: UserSession


class LoginRequired(NotAuthorizedException):
    """Answered with a redirect to the login page (see the app's exception handlers)."""

    def __init__(self, next_path: str):
        super().__init__(detail="login required")
        self.next_path = next_path


class TotpRequired(NotAuthorizedException):
    def __init__(self, enrolled: bool):
        super().__init__(detail="totp required")
        self.enrolled = enrolled


async def load_auth(connection: ASGIConnection, db: AsyncSession | None = None) -> Auth | None:
    """Read the session cookie once per request; expired, idle or revoked sessions count as none.
    ``db``: the request's own session (a tenant page's guard passes it, so that the sign-in, the
    membership and the page are one transaction on one connection); else a short one of its own."""
    state = connection.scope.setdefault("state", {})
    if "auth" in state:
        return state["auth"]
    state["auth"] = None
    token = connection.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    if db is None:
        async with connection.app.state.db.session() as own:
            auth = await _read_auth(connection, own, token)
            await own.commit()
    else:
        auth = await _read_auth(connection, db, token)
    if auth is not None:
        state["auth"] = auth
        state["user"] = auth.user
        log_user.set(auth.user.id)
    return auth


async def _read_auth(connection: ASGIConnection, db: AsyncSession, token: str) -> Auth | None:
    """The live session behind ``token`` and its user, with its last-seen time moved on at most once a
    minute (written with the caller's transaction)."""
    row = (
        await db.execute(
            select(UserSession, User)
            .join(User, User.id == UserSession.user_id)
            .where(UserSession.token_hash == token_digest(token), UserSession.revoked_at.is_(None))
        )
    ).first()
    if row is None:
        return None
    session, user = row
    # the request's session may roll back (a refused form): these must outlive that, as they are
    db.expunge(session)
    db.expunge(user)
    moment = now()
    idle_limit = timedelta(minutes=connection.app.state.settings.session_idle_minutes)
    if session.expires_at <= moment or session.last_seen_at + idle_limit <= moment or user.disabled_at:
        return None
    if moment - session.last_seen_at >= TOUCH_EVERY:
        await db.execute(update(UserSession).where(UserSession.id == session.id).values(last_seen_at=moment))
    return Auth(user=user, session=session)


def _login_redirect_target(connection: ASGIConnection) -> str:
    path = connection.url.path
    if connection.url.query:
        path += "?" + connection.url.query
    return quote(path, safe="/?=&")


async def requires_login(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    if await load_auth(connection) is None:
        raise LoginRequired(_login_redirect_target(connection))


async def requires_operator(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Operator pages: an operator's session that has passed the TOTP check.

    Anyone else gets the ordinary not-found page, so the console does not advertise itself.
    """
    auth = await load_auth(connection)
    if auth is None:
        raise LoginRequired(_login_redirect_target(connection))
    if not auth.user.is_operator:
        raise NotFound()
    if not auth.session.totp_verified:
        raise TotpRequired(enrolled=auth.user.totp_enabled_at is not None)


def current_auth(request: Request) -> Auth:
    auth = request.scope.get("state", {}).get("auth")
    if auth is None:  # a route forgot its guard: fail closed
        raise NotFound()
    return auth
