"""Who is asking: the server-side session behind the cookie, and guards for pages that need one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from litestar import Request
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import BaseRouteHandler
from litestar.connection import ASGIConnection
from sqlalchemy import Select, String, bindparam, cast, func, literal_column, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import User, UserSession
from app.core.clock import now
from app.core.db import first_statement_binds, note_bound, record_type
from app.core.errors import NotFound
from app.core.logs import log_user
from app.core.security import token_digest

SESSION_COOKIE = "lianluo_session"
TOUCH_EVERY = timedelta(minutes=1)


# The session and its user as plain records (app.core.db.record_type): copies that outlive a rollback
# of the request's session (a refused form) and cost no identity map.
UserRow = record_type(User)
SessionRow = record_type(UserSession)
_USERS, _SESSIONS = User.__table__, UserSession.__table__
_SPLIT = len(SessionRow.columns)
AUTH_WIDTH = _SPLIT + len(UserRow.columns)  # where a caller's extra columns start in the row


def auth_select(*extra_columns, outerjoin: tuple | None = None) -> Select:
    """The live session behind ``:token_hash`` and its user, in one statement that also binds the
    transaction (``app.user_id`` to the user, no tenant) when it finds them: the first statement of a
    session marked ``first_statement_binds``. A tenant page's guard adds its tenant's columns (and
    ``outerjoin``: (table, on), so that a missing extra row leaves the session found). Built once at
    import, so a request pays only the execution."""
    joined = _SESSIONS.join(_USERS, _USERS.c.id == _SESSIONS.c.user_id)
    if outerjoin is not None:
        joined = joined.outerjoin(*outerjoin)
    return select(
        *SessionRow.columns, *UserRow.columns, *extra_columns,
        func.set_config("app.tenant_id", literal_column("''"), true()).label("bound_tenant"),
        func.set_config("app.user_id", cast(_USERS.c.id, String), true()).label("bound_user"),
    ).select_from(joined).where(_SESSIONS.c.token_hash == bindparam("token_hash"), _SESSIONS.c.revoked_at.is_(None))


_AUTH = auth_select()
_TOUCH = (update(_SESSIONS).where(_SESSIONS.c.id == bindparam("session_id"))
          .values(last_seen_at=bindparam("moment")))


@dataclass
class Auth:
    user: User  # a UserRow
    session: UserSession  # a SessionRow
    row: tuple = ()  # the whole row read: a caller's extra columns follow AUTH_WIDTH


class LoginRequired(NotAuthorizedException):
    """Answered with a redirect to the login page (see the app's exception handlers)."""

    def __init__(self, next_path: str):
        super().__init__(detail="login required")
        self.next_path = next_path


class TotpRequired(NotAuthorizedException):
    def __init__(self, enrolled: bool):
        super().__init__(detail="totp required")
        self.enrolled = enrolled


async def load_auth(connection: ASGIConnection, db: AsyncSession | None = None, statement: Select | None = None,
                    params: dict | None = None) -> Auth | None:
    """Read the session cookie once per request; expired, idle or revoked sessions count as none.
    ``db``: the request's own session (a tenant page's guard passes it, so that the sign-in, the
    membership and the page are one transaction on one connection), whose transaction has not begun:
    the sign-in statement is its first and binds it; else a short one of its own. ``statement``: an
    ``auth_select`` with a caller's extra columns, ``params`` theirs."""
    state = connection.scope.setdefault("state", {})
    if "auth" in state:
        return state["auth"]
    state["auth"] = None
    token = connection.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    if db is None:
        async with connection.app.state.db.session() as own:
            first_statement_binds(own)
            auth = await _read_auth(connection, own, token, _AUTH, None)
            await own.commit()
    else:
        first_statement_binds(db)
        auth = await _read_auth(connection, db, token, statement if statement is not None else _AUTH, params)
    if auth is not None:
        state["auth"] = auth
        state["user"] = auth.user
        log_user.set(auth.user.id)
    return auth


async def _read_auth(connection: ASGIConnection, db: AsyncSession, token: str, statement: Select,
                     params: dict | None) -> Auth | None:
    """The live session behind ``token`` and its user, with its last-seen time moved on at most once a
    minute (written with the caller's transaction)."""
    row = (await db.execute(statement, {"token_hash": token_digest(token), **(params or {})})).first()
    if row is None:
        return None
    session, user = SessionRow(*row[:_SPLIT]), UserRow(*row[_SPLIT:AUTH_WIDTH])
    await note_bound(db, None, user.id)  # the statement bound the user: later transactions bind the same
    moment = now()
    idle_limit = timedelta(minutes=connection.app.state.settings.session_idle_minutes)
    if session.expires_at <= moment or session.last_seen_at + idle_limit <= moment or user.disabled_at:
        return None
    if moment - session.last_seen_at >= TOUCH_EVERY:
        await db.execute(_TOUCH, {"session_id": session.id, "moment": moment})
    return Auth(user=user, session=session, row=row)


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
