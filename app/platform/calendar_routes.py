"""The operator's page of China's working calendar (/ops/calendar): which years the library and the
table cover, the days entered for the others, a form to add one and a button to remove one."""

from __future__ import annotations

from datetime import datetime

from litestar import Request, Response, get, post

from app.accounts.access import current_auth
from app.core.calendar import HOLIDAY
from app.core.errors import Refusal
from app.core.web import bounded, client_addr, page, see_other
from app.platform import calendar as service
from app.platform.access import requires_operator
from app.platform.routes import CHINA

OPS = [requires_operator]
DONE = {"added", "removed"}
FIELDS = ("day", "kind", "name")


def _today():
    return datetime.now(CHINA).date()


async def _calendar_page(request: Request, status_code: int = 200, **context) -> Response:
    today = _today()
    async with request.app.state.db.session() as db:
        state = await service.calendar_state(db, today)
        days = await service.table_days(db, today)
    first, last = service.year_range(today)
    context.setdefault("form", {"kind": HOLIDAY})
    return page(request, "platform/calendar.html", status_code=status_code, state=state, days=days,
                KIND_NAMES=service.KIND_NAMES, first_year=first, last_year=last, name_max=service.NAME_MAX,
                **context)


@get("/ops/calendar", guards=OPS)
async def calendar_page(request: Request, done: str = "") -> Response:
    return await _calendar_page(request, done=done if done in DONE else "")


@post("/ops/calendar", guards=OPS)
async def add_calendar_day(request: Request) -> Response:
    auth = current_auth(request)
    values = bounded(await request.form(), FIELDS, 40)
    try:
        async with request.app.state.db.transaction() as db:  # a refusal leaves the block: nothing written
            await service.add_day(db, **values, today=_today(), actor=auth.user, client_addr=client_addr(request))
    except Refusal as refusal:
        return await _calendar_page(request, status_code=400, error=refusal.text(), form=values)
    return see_other("/ops/calendar?done=added")


@post("/ops/calendar/remove", guards=OPS)
async def remove_calendar_day(request: Request) -> Response:
    auth = current_auth(request)
    values = bounded(await request.form(), ("day",), 20)
    try:
        async with request.app.state.db.transaction() as db:
            await service.remove_day(db, day=values["day"], actor=auth.user, client_addr=client_addr(request))
    except Refusal as refusal:
        return await _calendar_page(request, status_code=400, error=refusal.text())
    return see_other("/ops/calendar?done=removed")


route_handlers = [calendar_page, add_calendar_day, remove_calendar_day]
