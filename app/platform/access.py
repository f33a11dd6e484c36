"""Guards for the operator console. ``requires_operator`` (app.accounts.access) guards every console
page; the two TOTP pages only need a signed-in operator whose second factor is still to come."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from app.accounts.access import LoginRequired, _login_redirect_target, load_auth, requires_operator
from app.core.errors import NotFound

__all__ = ["requires_operator", "requires_operator_login"]


async def requires_operator_login(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """A signed-in operator, TOTP verified or not; anyone else gets the ordinary not-found page."""
    auth = await load_auth(connection)
    if auth is None:
        raise LoginRequired(_login_redirect_target(connection))
    if not auth.user.is_operator:
        raise NotFound()
