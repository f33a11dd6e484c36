"""Contact roster pages (联系选民花名册) under /t/{tenant_slug}/deputies/{deputy_id}/roster.

Visible to the deputy themself, the staff of a station they are stationed at, township staff of
that subtree and county admins (app.deputies.roster.roster_filter); anyone else: the 404 of a
missing deputy. Lists and exports are masked; "show" is a POST that writes an audit entry.
"""

from __future__ import annotations


from litestar import Request, Response, get, post

from app.audit.services import record
from app.core import spreadsheets
from app.core.errors import Refusal
from app.core.i18n import gettext, lazy
from app.core.web import client_addr, download, htmx_target, page, see_other
from app.deputies import exports, roster
from app.deputies.models import Deputy
from app.tenancy.access import TenantContext

DONE = {
    "added": lazy("The constituent has been added to the roster."),
    "saved": lazy("The changes have been saved."),
    "retired": lazy("The constituent has been taken off the roster."),
    "contact": lazy("The contact has been recorded."),
}
FORM_FIELDS = ("name", "age", "education", "address", "work_unit", "mobile", "note")


def _roster_base(ctx: TenantContext, deputy: Deputy) -> str:
    return f"/t/{ctx.tenant.slug}/deputies/{deputy.id}/roster"


async def _values(request: Request, names) -> dict:
    form = await request.form()
    return {key: str(form.get(key, ""))[:1000] for key in names}


async def _list_page(request: Request, ctx: TenantContext, deputy: Deputy, *, status_code: int = 200,
                     form: dict | None = None, error: str | None = None, done: str | None = None,
                     retired: bool = False, revealed: roster.MaskedEntry | None = None) -> Response:
    entries = await roster.list_entries(ctx.db, deputy, retired=retired)
    if revealed is not None:
        entries = [revealed if e.id == revealed.id else e for e in entries]
    return page(
        request, "deputies/roster_list.html", status_code=status_code, deputy=deputy, entries=entries,
        retired=retired, retired_count=0 if retired else await roster.count_retired(ctx.db, deputy),
        form=form or {}, error=error, done=DONE.get(done or ""), base=_roster_base(ctx, deputy),
        tenant_base=f"/t/{ctx.tenant.slug}",
    )


async def _entry_page(request: Request, ctx: TenantContext, deputy: Deputy, entry, *, status_code: int = 200,
                      shown: roster.MaskedEntry | None = None, form: dict | None = None, error: str | None = None,
                      contact_form: dict | None = None, contact_error: str | None = None,
                      done: str | None = None) -> Response:
    return page(
        request, "deputies/roster_entry.html", status_code=status_code, deputy=deputy, entry=entry,
        shown=shown or roster.masked_entry(entry), contacts=await roster.list_contacts(ctx.db, entry),
        form=form or {k: ("" if getattr(entry, k) is None else getattr(entry, k))
                      for k in ("name", "age", "education", "work_unit", "note")},
        error=error, contact_form=contact_form or {"contacted_on": ctx.today().isoformat()},
        contact_error=contact_error, done=DONE.get(done or ""), base=_roster_base(ctx, deputy),
        today=ctx.today().isoformat(),
    )


async def _deputy(ctx: TenantContext, deputy_id: int) -> Deputy:
    return await roster.roster_deputy(ctx.db, await ctx.scope(), deputy_id)


@get("/deputies/{deputy_id:int}/roster")
async def roster_list(request: Request, ctx: TenantContext, deputy_id: int, done: str | None = None,
                      retired: str | None = None) -> Response:
    deputy = await _deputy(ctx, deputy_id)
    return await _list_page(request, ctx, deputy, done=done, retired=retired == "1")


@post("/deputies/{deputy_id:int}/roster")
async def roster_add(request: Request, ctx: TenantContext, deputy_id: int) -> Response:
    deputy = await _deputy(ctx, deputy_id)
    values = await _values(request, FORM_FIELDS)
    try:
        await roster.add_entry(ctx.db, tenant_id=ctx.tenant.id, deputy=deputy, actor_id=ctx.user.id, values=values,
                               client_addr=client_addr(request))
    except Refusal as refusal:  # checked before anything is written
        return await _list_page(request, ctx, deputy, status_code=400, form=values,
                                error=_field_error(refusal))
    return see_other(f"{_roster_base(ctx, deputy)}?done=added")


FIELD_LABELS = {
    "name": lazy("Constituent's name"), "age": lazy("Age"), "education": lazy("Education"),
    "address": lazy("Home address"), "work_unit": lazy("Work unit"), "mobile": lazy("Mobile"), "note": lazy("Note"),
}


def _field_error(refusal: Refusal) -> str:
    label = FIELD_LABELS.get(getattr(refusal, "field", ""), "")
    return f"{gettext(label)}：{refusal.text()}" if label else refusal.text()


async def _export(ctx: TenantContext, request: Request, deputy_id: int, fmt: str) -> Response:
    deputy = await _deputy(ctx, deputy_id)
    rows = await exports.roster_rows(ctx.db, deputy)
    await record(ctx.db, tenant_id=ctx.tenant.id, actor_user_id=ctx.user.id, action="roster_exported",
                 target=f"deputy:{deputy.id}", client_addr=client_addr(request),
                 details={"name": deputy.name, "rows": len(rows), "format": fmt})
    encoding = spreadsheets.csv_encoding(request.query_params.get("encoding"))
    return download(exports.render("roster", fmt, rows, encoding=encoding), f"联系选民花名册-{deputy.name}.{fmt}",
                    encoding=encoding)


@get("/deputies/{deputy_id:int}/roster/export.xlsx")
async def roster_export_xlsx(request: Request, ctx: TenantContext, deputy_id: int) -> Response:
    return await _export(ctx, request, deputy_id, "xlsx")


@get("/deputies/{deputy_id:int}/roster/export.csv")
async def roster_export_csv(request: Request, ctx: TenantContext, deputy_id: int) -> Response:
    return await _export(ctx, request, deputy_id, "csv")


@get("/deputies/{deputy_id:int}/roster/{entry_id:int}")
async def roster_entry(request: Request, ctx: TenantContext, deputy_id: int, entry_id: int,
                       done: str | None = None) -> Response:
    deputy = await _deputy(ctx, deputy_id)
    entry = await roster.roster_entry(ctx.db, deputy, entry_id)
    return await _entry_page(request, ctx, deputy, entry, done=done)


@post("/deputies/{deputy_id:int}/roster/{entry_id:int}")
async def roster_edit(request: Request, ctx: TenantContext, deputy_id: int, entry_id: int) -> Response:
    deputy = await _deputy(ctx, deputy_id)
    entry = await roster.roster_entry(ctx.db, deputy, entry_id)
    values = await _values(request, (*FORM_FIELDS, "clear_mobile", "clear_address"))
    try:
        await roster.edit_entry(ctx.db, tenant_id=ctx.tenant.id, deputy=deputy, entry=entry, actor_id=ctx.user.id,
                                values=values, client_addr=client_addr(request))
    except Refusal as refusal:  # checked before anything is changed
        return await _entry_page(request, ctx, deputy, entry, status_code=400, form=values,
                                 error=_field_error(refusal))
    return see_other(f"{_roster_base(ctx, deputy)}/{entry.id}?done=saved")


@post("/deputies/{deputy_id:int}/roster/{entry_id:int}/reveal")
async def roster_reveal(request: Request, ctx: TenantContext, deputy_id: int, entry_id: int) -> Response:
    """Answered in place (200, no-store), never redirected: the values travel only in this answer."""
    deputy = await _deputy(ctx, deputy_id)
    entry = await roster.roster_entry(ctx.db, deputy, entry_id)
    shown = await roster.reveal_entry(ctx.db, tenant_id=ctx.tenant.id, deputy=deputy, entry=entry,
                                      actor_id=ctx.user.id, client_addr=client_addr(request))
    if (htmx_target(request) or "").startswith("entry-"):
        return page(request, "deputies/_roster_row.html", e=shown, base=_roster_base(ctx, deputy))
    form = await request.form()
    if form.get("from") == "list":
        return await _list_page(request, ctx, deputy, revealed=shown, retired=shown.retired)
    return await _entry_page(request, ctx, deputy, entry, shown=shown)


@post("/deputies/{deputy_id:int}/roster/{entry_id:int}/retire")
async def roster_retire(request: Request, ctx: TenantContext, deputy_id: int, entry_id: int) -> Response:
    deputy = await _deputy(ctx, deputy_id)
    entry = await roster.roster_entry(ctx.db, deputy, entry_id)
    await roster.retire_entry(ctx.db, tenant_id=ctx.tenant.id, deputy=deputy, entry=entry, actor_id=ctx.user.id,
                              client_addr=client_addr(request))
    return see_other(f"{_roster_base(ctx, deputy)}?done=retired")


@post("/deputies/{deputy_id:int}/roster/{entry_id:int}/contacts")
async def roster_contact_add(request: Request, ctx: TenantContext, deputy_id: int, entry_id: int) -> Response:
    deputy = await _deputy(ctx, deputy_id)
    entry = await roster.roster_entry(ctx.db, deputy, entry_id)
    values = await _values(request, ("contacted_on", "note"))
    try:
        await roster.add_contact(ctx.db, tenant_id=ctx.tenant.id, deputy=deputy, entry=entry, actor_id=ctx.user.id,
                                 contacted_on=values["contacted_on"], note=values["note"], today=ctx.today(),
                                 client_addr=client_addr(request))
    except Refusal as refusal:  # checked before anything is written
        return await _entry_page(request, ctx, deputy, entry, status_code=400, contact_form=values,
                                 contact_error=refusal.text())
    return see_other(f"{_roster_base(ctx, deputy)}/{entry.id}?done=contact")


route_handlers = [
    roster_list, roster_add, roster_export_xlsx, roster_export_csv, roster_entry, roster_edit, roster_reveal,
    roster_retire, roster_contact_add,
]
