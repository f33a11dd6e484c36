"""Web infrastructure shared by every domain: rendering, security headers, errors, request context."""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any
from urllib.parse import unquote_to_bytes

from litestar import Request, Response
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.middleware import ASGIMiddleware
from litestar.response import Redirect, Template
from litestar.types import ASGIApp, Message, Receive, Scope, Send

import asyncpg.exceptions
import sqlalchemy.exc

from app.core import i18n, metrics, spreadsheets
from app.core.db import close_request_db, query_counter
from app.core.errors import NotFound
from app.core.logs import log_tenant, log_user, request_id
from app.core.settings import AddressList

log = logging.getLogger("lianluo.web")

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'self'; object-src 'none'"
)
SECURITY_HEADERS = {
    b"content-security-policy": CSP.encode(),
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"same-origin",
    b"x-frame-options": b"DENY",
    b"permissions-policy": b"camera=(), microphone=(), geolocation=()",
    b"cross-origin-opener-policy": b"same-origin",
}


HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
NO_STORE = (b"cache-control", b"no-store")
_SET_BY_US = frozenset([*SECURITY_HEADERS, HSTS[0], b"x-request-id", b"x-query-count"])


def with_security_headers(headers, secure: bool, request_id: str | None, counter: list[int] | None) -> list:
    """A response's headers with the security headers set (replacing any a route set), HSTS when
    served over TLS, `Cache-Control: no-store` unless the response chose its own, the request id and
    (when counting) the query count. Header names arrive lower-case from Litestar; compared so anyway."""
    kept = []
    cache_control = False
    for name, value in headers:
        low = name.lower()
        if low in _SET_BY_US:
            continue
        cache_control = cache_control or low == b"cache-control"
        kept.append((name, value))
    kept += _SECURITY_PAIRS
    if secure:
        kept.append(HSTS)
    if not cache_control:
        kept.append(NO_STORE)
    if request_id:
        kept.append((b"x-request-id", request_id.encode("latin-1")))
    if counter is not None:
        kept.append((b"x-query-count", str(counter[0]).encode()))
    return kept


_SECURITY_PAIRS = list(SECURITY_HEADERS.items())


def request_locale(request: Request) -> str:
    user = request.scope.get("state", {}).get("user")
    return i18n.pick_locale(request.cookies.get("lang"), getattr(user, "locale", None))


def incoming_request_id(scope: Scope) -> str | None:
    """The proxy's `X-Request-Id` (nginx's $request_id), when it is a plain token: 1–128 characters of
    letters, digits and `._:-`. Anything else (too long, spaces, quotes, control characters) is
    replaced by our own id, so a header cannot forge log lines or carry data into them."""
    for name, value in scope.get("headers") or ():
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if REQUEST_ID.fullmatch(text) else None
    return None


class RequestContextMiddleware(ASGIMiddleware):
    """Request id, locale, query counting, the security headers of every response (errors included),
    metrics and one access log line per request: the one layer every request passes outside Litestar's
    own, so the headers cost no second wrapper of ``send``."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, count_queries: bool = False, secure: bool = False):
        self.count_queries = count_queries
        self.secure = secure

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        state = scope.setdefault("state", {})
        rid = incoming_request_id(scope) or secrets.token_hex(8)
        state["request_id"] = rid
        request_id.set(rid)
        log_tenant.set(None)
        log_user.set(None)
        cookies = Request(scope).cookies
        i18n.current_locale.set(i18n.pick_locale(cookies.get("lang")))
        counter = None
        if self.count_queries:
            counter = [0]
            state["query_counter"] = counter
            query_counter.set(counter)
        status = {"code": 500}
        secure = self.secure

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = with_security_headers(message.get("headers") or (), secure, rid, counter)
            await send(message)

        started = time.perf_counter()
        try:
            if has_nul(scope):
                await _refuse_nul(scope, receive, capture)
            else:
                await next_app(scope, receive, capture)
        finally:
            await close_request_db(state)
            elapsed = time.perf_counter() - started
            metrics.observe_request(scope, status["code"], elapsed)
            if log.isEnabledFor(logging.INFO):  # nothing built for a line that is not written
                log.info("request", extra={
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "status": status["code"],
                    "ms": round(elapsed * 1000, 1),
                    "client": (scope.get("client") or ("", 0))[0],
                })


# --- NUL characters ---------------------------------------------------------------------------
# PostgreSQL text cannot hold U+0000: a NUL that reached a query would be a 500 (and an error log line
# any stranger can cause). Refused in two places that every request passes: the path and query string
# here (before routing, so guards never look up a slug with a NUL in it), text fields and their names
# in ``AppRequest.form``. File contents are bytes and may hold NULs.

NUL_DETAIL = "NUL character"


def has_nul(scope: Scope) -> bool:
    """A NUL in the request's path or (percent-decoded) query string."""
    raw_path = scope.get("raw_path") or b""
    return ("\x00" in scope.get("path", "") or b"\x00" in unquote_to_bytes(raw_path)
            or b"\x00" in unquote_to_bytes(scope.get("query_string") or b""))


async def _refuse_nul(scope: Scope, receive: Receive, send: Send) -> None:
    """The 400 page, answered before routing (so outside Litestar's exception handlers)."""
    request = Request(scope, receive)
    response = http_exception_handler(request, HTTPException(status_code=400, detail=NUL_DETAIL))
    try:
        asgi = response.to_asgi_response(app=None, request=request, is_head_response=scope.get("method") == "HEAD")
    except Exception:  # a broken template must not turn a 400 into a 500
        log.exception("error page failed")
        asgi = Response(i18n.gettext(NUL_TEXT), status_code=400, media_type="text/plain; charset=utf-8"
                        ).to_asgi_response(app=None, request=request)
    await asgi(scope, receive, send)


# --- form bodies ------------------------------------------------------------------------------


def bounded(form, keys, limit: int = 200) -> dict[str, str]:
    """The form's text fields ``keys`` as strings of at most ``limit`` characters ("" when absent): what
    a page shows back after a refusal and what services check."""
    return {k: str(form.get(k, ""))[:limit] for k in keys}


def checked(value: object) -> bool:
    """A checkbox's (or a ``?retired=1`` argument's) value: on or off."""
    return str(value or "") in ("1", "on", "true")


def htmx_target(request: Request) -> str | None:
    """The element an htmx request (not a boosted navigation) will swap, else None: the route then
    answers with that partial instead of the full page."""
    headers = request.headers
    if headers.get("hx-request") and not headers.get("hx-boosted"):
        return headers.get("hx-target") or ""
    return None


MAX_FIELD_CHARS = 20_000  # one text field; whole bodies are capped by settings.max_body_bytes


def _bad_form() -> HTTPException:
    return HTTPException(status_code=400, detail="malformed form")


class AppRequest(Request):
    """The app's request class: a form that is not what a browser would send from our pages
    (bytes that are not UTF-8, a text field longer than MAX_FIELD_CHARS, a file where the route takes
    none) is refused with the 400 page before the route sees it, so nothing is half-written.
    Routes that take uploads say so with ``opt={"uploads": True}``."""

    async def form(self):
        form = await super().form()
        content_type, _ = self.content_type
        if content_type == "application/x-www-form-urlencoded":
            body = await self.body()
            try:
                body.decode("utf-8")
                for part in body.split(b"&"):
                    unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                raise _bad_form() from None
        handler = self.scope.get("route_handler")
        uploads = bool(handler and (handler.opt or {}).get("uploads"))
        for key, value in form.multi_items():
            if "\x00" in key or "\x00" in (value if isinstance(value, str) else str(value.filename or "")):
                raise HTTPException(status_code=400, detail=NUL_DETAIL)
            if isinstance(value, str):
                if len(value) > MAX_FIELD_CHARS or "\ufffd" in value:
                    raise _bad_form()
            elif not uploads:
                raise _bad_form()
        return form


def _trusted(settings) -> AddressList:
    proxies = settings.trusted_proxies
    return proxies if isinstance(proxies, AddressList) else AddressList(proxies)


def client_addr(request: Request) -> str | None:
    """The client's address. Behind trusted reverse proxies (LIANLUO_TRUSTED_PROXIES: addresses or
    networks), `X-Forwarded-For` read from the right: each proxy appends the address it saw, so the
    first address that is not a trusted proxy is the client (a cloud load balancer in front of nginx
    adds one hop). What lies further left came from the client and is never believed."""
    peer = request.client.host if request.client else None
    proxies = _trusted(request.app.state.settings)
    if not peer or peer not in proxies:
        return peer
    forwarded = [a.strip() for a in request.headers.get("x-forwarded-for", "").split(",") if a.strip()]
    for address in reversed(forwarded):
        if address not in proxies:
            return address[:64]
    return forwarded[0][:64] if forwarded else peer


def absolute_url(request: Request, path: str) -> str:
    """A link for outside the product (an invitation sent by SMS or read aloud)."""
    settings = request.app.state.settings
    if settings.public_url:
        return settings.public_url + path
    scheme = request.url.scheme
    peer = request.client.host if request.client else None
    if peer in _trusted(settings):
        scheme = request.headers.get("x-forwarded-proto", scheme).split(",")[0].strip()
    return f"{scheme}://{request.url.netloc}{path}"


def page_context(request: Request, context: dict[str, Any]) -> dict[str, Any]:
    """What every page's templates have besides the route's own (the member, the language, the path)."""
    state = request.scope.get("state", {})
    context.setdefault("user", state.get("user"))
    context.setdefault("tenant", state.get("tenant"))
    context.setdefault("membership", state.get("membership"))
    context.setdefault("unread", state.get("unread"))  # the header's inbox count (tenant pages)
    context["locale"] = i18n.current_locale.get()
    context["html_lang"] = i18n.HTML_LANG[context["locale"]]
    context["current_path"] = request.url.path
    return context


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> Template:
    """Render a full page (or, for htmx, the same template; partials are included by full pages)."""
    page_context(request, context)
    headers = {"Vary": "HX-Request, Cookie"}
    if request.method != "GET":
        # A form answered in place (an error, a one-time link) has no address of its own to go back to.
        headers["HX-Push-Url"] = "false"
    return Template(template_name=template, context=context, status_code=status_code, headers=headers)


def download(body: bytes, filename: str, headers: dict[str, str] | None = None, encoding: str = "utf-8") -> Response:
    """A file to save (a spreadsheet written by ``app.core.spreadsheets``, a ZIP), its type from the file name.
    Litestar appends ``; charset=<encoding>`` to a text/* type itself: a CSV's is the one it was written in."""
    return Response(body, media_type=spreadsheets.media_type(filename), encoding=encoding,
                    headers={"Content-Disposition": spreadsheets.content_disposition(filename), **(headers or {})})


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site absolute paths may be redirected to after login or a language switch."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def see_other(path: str) -> Redirect:
    return Redirect(path=path, status_code=303)


# --- errors -----------------------------------------------------------------------------------

ERROR_TITLES = {
    400: i18n.lazy("The request could not be understood"),
    403: i18n.lazy("You may not do this"),
    404: i18n.lazy("Page not found"),
    405: i18n.lazy("This action is not allowed here"),
    413: i18n.lazy("What you sent is too large"),
    429: i18n.lazy("Too many attempts"),
    500: i18n.lazy("Something went wrong on our side"),
    503: i18n.lazy("Temporarily unavailable"),
}
ERROR_TEXTS = {
    400: i18n.lazy("Please check what you entered and try again."),
    403: i18n.lazy("Your account does not have permission for this page."),
    404: i18n.lazy("The page does not exist, or you do not have access to it."),
    405: i18n.lazy("Please go back and use the buttons on the page."),
    413: i18n.lazy("Please send a smaller file or shorter text."),
    429: i18n.lazy("Please wait a while before trying again."),
    500: i18n.lazy("The error has been recorded. Please try again later."),
    503: i18n.lazy("The service is unavailable for a moment. Please try again in a minute."),
}
CSRF_TEXT = i18n.lazy("The form has expired. Please reload the page and submit it again.")
NUL_TEXT = i18n.lazy("What you sent contains a null character (NUL), which cannot be saved. Please remove it and try again.")


class TenantSuspended(NotFound):
    """Raised for a suspended tenant's own users: a 404 with a clear notice."""


def _error_response(
    request: Request, status: int, text: str | None = None, title: str | None = None, **context
) -> Response:
    i18n.current_locale.set(request_locale(request))
    title = title or ERROR_TITLES.get(status, ERROR_TITLES[500])
    body_text = text or ERROR_TEXTS.get(status, ERROR_TEXTS[500])
    # Error pages never show who is signed in or which tenant they are in: a 404 from a guard (the
    # operator console, another tenant) must look exactly like the 404 of a path that does not exist.
    context = {"user": None, "tenant": None, "membership": None, **context}
    try:
        return page(request, "error.html", status_code=status, title=title, text=body_text, **context)
    except Exception:  # a broken template must not hide the original error
        log.exception("error page failed")
        return Response(i18n.gettext(title), status_code=status, media_type="text/plain; charset=utf-8")


def not_found_handler(request: Request, exc: NotFound) -> Response:
    """A service's or a guard's NotFound: the same 404 page as a path that does not exist."""
    if isinstance(exc, TenantSuspended):
        # Only the tenant's own members get here, so the page may say who they are: they need the
        # header's sign-out and unit switcher to get on with their other work.
        return _error_response(
            request, 404, i18n.lazy("This county's account is suspended. Please contact the platform operator."),
            title=i18n.lazy("Account suspended"), suspended=True,
            user=request.scope.get("state", {}).get("user"),
        )
    return _error_response(request, 404)


def http_exception_handler(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    text = CSRF_TEXT if status == 403 and "CSRF" in str(exc.detail) else None
    if status == 400 and exc.detail == NUL_DETAIL:
        text = NUL_TEXT
    if status == 400 and "Invalid host" in str(exc.detail):
        return Response("Invalid host", status_code=400, media_type="text/plain")
    response = _error_response(request, status if status in ERROR_TITLES else 400, text)
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


# --- the database is away ------------------------------------------------------------------------
# While PostgreSQL cannot be reached (down, restarting, failing over, out of connections) every page
# that needs it answers 503 with Retry-After, which proxies and browsers understand as "come back
# later", instead of a 500 that says we have a bug.

RETRY_AFTER_SECONDS = 30
_DATABASE_AWAY = (
    asyncpg.exceptions.PostgresConnectionError,  # the connection failed or is gone
    asyncpg.exceptions.CannotConnectNowError,    # starting up, shutting down, in recovery
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    sqlalchemy.exc.TimeoutError,                 # no pooled connection came free in time
)


def _raised_by_driver(exc: BaseException) -> bool:
    """An OSError or timeout from inside asyncpg or SQLAlchemy (connecting, reading), not from a file."""
    tb = exc.__traceback__
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if module.startswith(("asyncpg", "sqlalchemy")):
            return True
        tb = tb.tb_next
    return False


def database_unavailable(exc: BaseException) -> bool:
    """The error means the database cannot be reached now (as opposed to a bug or a bad query)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, _DATABASE_AWAY):
            return True
        if isinstance(e, sqlalchemy.exc.DBAPIError) and e.connection_invalidated:
            return True
        if isinstance(e, (OSError, TimeoutError)) and _raised_by_driver(e):
            return True
        todo += [e.__cause__, e.__context__, getattr(e, "orig", None)]
    return False


def server_error_handler(request: Request, exc: Exception) -> Response:
    if database_unavailable(exc):
        # one short line per request: the outage is one event, not thousands of tracebacks
        log.warning("database unavailable: %s", type(exc).__name__)
        response = _error_response(request, 503)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    log.exception("unhandled error", exc_info=exc)
    return _error_response(request, 500)
