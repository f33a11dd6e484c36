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


async def load_auth(connection: ASGIConnection) -> Auth | None:
    """Read the session cookie once per request; expired, idle or revoked sessions count as none."""
    state = connection.scope.setdefault("state", {})
    if "auth" in state:
        return state["auth"]
    state["auth"] = None
    token = connection.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    settings = connection.app.state.settings
    async with connection.app.state.db.session() as db:
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
        moment = now()
        idle_limit = timedelta(minutes=settings.session_idle_minutes)
        if session.expires_at <= moment or session.last_seen_at + idle_limit <= moment or user.disabled_at:
            return None
        if moment - session.last_seen_at >= TOUCH_EVERY:
            await db.execute(update(UserSession).where(UserSession.id == session.id).values(last_seen_at=moment))
            await db.commit()
    auth = Auth(user=user, session=session)
    state["auth"] = auth
    state["user"] = user
    log_user.set(user.id)
    return auth


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
