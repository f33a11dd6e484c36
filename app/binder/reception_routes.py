"""人大接待代表登记簿's forms under /t/{tenant_slug}/binder/receptions-of-deputies: record a reception of
deputies (new) and add or change its reply (reply?reception=<id>). The register itself is a binder
register (``routes.py``, key ``sheets.DEPUTY_RECEPTIONS``). Thin: access → service → render; a refusal
shows the form again with its message and what was typed, status 400, nothing written."""

from __future__ import annotations

from datetime import datetime, timezone

from litestar import Request, Response, get, post

from app.binder import receptions as svc
from app.binder.models import MAX_MATTER, MAX_RECEIVED_BY, MAX_REPLY
from app.binder.sheets import DEPUTY_RECEPTIONS
from app.core.errors import Refusal
from app.core.web import bounded, client_addr, page, see_other
from app.deputies.services import Actor
from app.tenancy.access import TenantContext

HERE = f"/binder/{DEPUTY_RECEPTIONS}"
FIELDS = ("node_id", "received_on", "received_by", "matter", "reply")


async def _actor(request: Request, ctx: TenantContext) -> Actor:
    actor = Actor(tenant_id=ctx.tenant.id, user_id=ctx.user.id, scope=await ctx.scope(),
                  client_addr=client_addr(request))
    svc.require_record(actor.scope)
    return actor


async def _form_page(request: Request, ctx: TenantContext, actor: Actor, form: dict, *, error: str | None = None,
                     status_code: int = 200) -> Response:
    return page(request, "binder/deputy_reception_new.html", status_code=status_code, base=ctx.base, error=error,
                form=form, here=ctx.base + HERE, townships=await svc.townships(ctx.db, actor.scope),
                deputies=await svc.deputy_choices(ctx.db, actor.scope),
                county=actor.scope.role == "county_admin", MAX_RECEIVED_BY=MAX_RECEIVED_BY,
                MAX_MATTER=MAX_MATTER, MAX_REPLY=MAX_REPLY)


@get(f"{HERE}/new")
async def reception_form(request: Request, ctx: TenantContext) -> Response:
    actor = await _actor(request, ctx)
    form = {k: "" for k in FIELDS} | {"received_on": ctx.today().isoformat(), "deputy_ids": []}
    return await _form_page(request, ctx, actor, form)


@post(f"{HERE}/new")
async def record_reception(request: Request, ctx: TenantContext) -> Response:
    actor = await _actor(request, ctx)
    raw = await request.form()
    form = bounded(raw, FIELDS, MAX_MATTER + 100)
    # one more than allowed is enough for the service to refuse too many
    form["deputy_ids"] = [str(v)[:20] for v in raw.getall("deputy_id", [])][:svc.MAX_DEPUTIES + 1]
    try:
        reception = await ctx.attempt(svc.record_reception(
            ctx.db, actor, node_id=form["node_id"], received_on=form["received_on"], received_by=form["received_by"],
            matter=form["matter"], reply=form["reply"], deputy_ids=form["deputy_ids"], today=ctx.today(),
            now=datetime.now(timezone.utc)))
    except Refusal as refusal:
        return await _form_page(request, ctx, actor, form, error=refusal.text(), status_code=refusal.status)
    return see_other(f"{ctx.base}{HERE}?year={reception.received_on.year}&done=recorded")


async def _reply_page(request: Request, ctx: TenantContext, reception, reply: str, *, error: str | None = None,
                      status_code: int = 200) -> Response:
    return page(request, "binder/deputy_reception_reply.html", status_code=status_code, base=ctx.base,
                error=error, here=ctx.base + HERE, reception=reception, reply=reply, MAX_REPLY=MAX_REPLY)


@get(f"{HERE}/reply")
async def reply_form(request: Request, ctx: TenantContext, reception: str | None = None) -> Response:
    actor = await _actor(request, ctx)
    found = await svc.reception_for_reply(ctx.db, actor.scope, reception)
    return await _reply_page(request, ctx, found, found.reply)


@post(f"{HERE}/reply")
async def save_reply(request: Request, ctx: TenantContext) -> Response:
    actor = await _actor(request, ctx)
    form = bounded(await request.form(), ("reception", "reply"), MAX_REPLY + 100)
    found = await svc.reception_for_reply(ctx.db, actor.scope, form["reception"])
    try:
        await ctx.attempt(svc.set_reply(ctx.db, actor, found, reply=form["reply"], now=datetime.now(timezone.utc)))
    except Refusal as refusal:
        # the refusal rolled the transaction back (and expired what it had read): read it again
        found = await svc.reception_for_reply(ctx.db, actor.scope, form["reception"])
        return await _reply_page(request, ctx, found, form["reply"], error=refusal.text(),
                                 status_code=refusal.status)
    return see_other(f"{ctx.base}{HERE}?year={found.received_on.year}&done=replied")


route_handlers: list = [reception_form, record_reception, reply_form, save_reply]
