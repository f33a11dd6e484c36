"""The list of deputies' suggestions and motions at /t/{tenant_slug}/suggestions (filters as plain GET
links and a form; with htmx the form swaps only #suggestion-list) and its spreadsheet (audited, like
every export of records). Whoever sees a suggestion's page sees it here (``suggestion_filter``)."""

from __future__ import annotations

from litestar import Request, Response, get

from app.audit.services import record
from app.cases import suggestion_list
from app.cases.access import require_view
from app.cases.suggestions import KIND_NAMES, SUGGESTION_STATE_NAMES, SUGGESTION_STATES
from app.core import spreadsheets
from app.core.i18n import gettext, lazy
from app.core.web import client_addr, download, htmx_target, page
from app.tenancy.access import TenantContext

SHEET_TITLE = lazy("Deputies' suggestions and motions")
EXPORT_HEAD = (lazy("Suggestion number"), lazy("Kind of suggestion"), lazy("Suggestion title"), lazy("Deputy"),
               lazy("Station"), lazy("Date filed"), lazy("Suggestion state"), lazy("Handling unit"),
               lazy("Date answered"), lazy("Content of the suggestion"), lazy("Answer to the suggestion"))


@get("/suggestions")
async def suggestion_index(request: Request, ctx: TenantContext) -> Response:
    scope = await ctx.scope()
    require_view(scope)
    f = suggestion_list.Filters.read(request.query_params)
    result = await suggestion_list.list_suggestions(ctx.db, scope, f)
    list_url = f"{ctx.base}/suggestions"
    context = dict(result=result, f=f, base=ctx.base, list_url=list_url, KIND_NAMES=KIND_NAMES,
                   SUGGESTION_STATE_NAMES=SUGGESTION_STATE_NAMES,
                   export_url=f.url(f"{list_url}/export.xlsx", page=1))
    if htmx_target(request) == "suggestion-list":
        return page(request, "cases/_suggestion_list.html", **context)
    choices = await suggestion_list.filter_choices(ctx.db, scope, ctx.today().year)
    return page(request, "cases/suggestions.html", STATES=SUGGESTION_STATES, **choices, **context)


@get("/suggestions/export.xlsx")
async def suggestion_export(request: Request, ctx: TenantContext) -> Response:
    scope = await ctx.scope()
    require_view(scope)
    f = suggestion_list.Filters.read(request.query_params)
    rows = await suggestion_list.export_rows(ctx.db, scope, f)
    body = spreadsheets.to_xlsx([gettext(h) for h in EXPORT_HEAD], (
        [r.id, gettext(KIND_NAMES.get(r.kind, r.kind)), r.title, r.deputy, r.station or "", r.filed_on,
         gettext(SUGGESTION_STATE_NAMES.get(r.state, r.state)), r.unit or "",
         r.answered_at.astimezone(ctx.tz).date() if r.answered_at else None, r.content, r.answer] for r in rows),
        gettext(SHEET_TITLE))
    await record(ctx.db, tenant_id=ctx.tenant.id, actor_user_id=ctx.user.id, action="suggestions_exported",
                 client_addr=client_addr(request), details={"filters": f.params(page=1), "rows": len(rows)})
    return download(body, f"{gettext(SHEET_TITLE)}-{ctx.tenant.name}.xlsx")


route_handlers = [suggestion_index, suggestion_export]
