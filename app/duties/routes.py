"""The deputy's dossier (代表履职档案) under /t/{tenant_slug}: the dossier page per deputy and year, or
for the term with ``?year=term`` (printable on A4 with ``?print=1``), filing an entry with an optional
photo and document (a deputy on the phone, staff for a deputy in reach), the entry's photo and
document for those who may see the dossier, and the review list where county admins and township
staff approve or reject filed entries, one or a batch at a time. Thin: access → service → render; a
refusal is a 400 page with nothing written.
"""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile

from app.core.db import as_id
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.core.images import MAX_UPLOAD_BYTES, get_image
from app.core.spreadsheets import content_disposition
from app.core.web import bounded, client_addr, page, see_other
from app.deputies.access import access_deputy
from app.deputies.services import Actor
from app.duties import access, documents, dossiers, queries, services
from app.duties.kinds import KINDS, NEEDS_REASON
from app.duties.models import MAX_DOCUMENT_BYTES, MAX_REASON, MAX_TEXT, STATUS_NAMES
from app.tenancy.access import TenantContext

DONE = {
    "filed": lazy("The entry has been filed; it counts once staff approve it."),
    "approved": lazy("The chosen entries have been approved."),
    "rejected": lazy("The chosen entries have been rejected."),
}
FILING_KEYS = ("deputy_id", "kind", "day", "text")


async def _actor(request: Request, ctx: TenantContext) -> Actor:
    return Actor(tenant_id=ctx.tenant.id, user_id=ctx.user.id, scope=await ctx.scope(),
                 client_addr=client_addr(request))


def _common(ctx: TenantContext) -> dict:
    return dict(base=ctx.base, KINDS=KINDS, STATUS_NAMES=STATUS_NAMES, NEEDS_REASON=NEEDS_REASON)


# --- the dossier --------------------------------------------------------------------------------

@get("/deputies/{deputy_id:int}/dossier")
async def dossier_page(request: Request, ctx: TenantContext, deputy_id: int, year: str | None = None,
                       done: str | None = None) -> Response:
    """A year (``?year=2026``, this year by default) or the term (``?year=term``)."""
    scope = await ctx.scope()
    deputy = await access_deputy(ctx.db, scope, deputy_id)
    offered = queries.years_offered(ctx.today())
    if year == queries.TERM:
        years = queries.term_years(ctx.today())
    else:
        chosen = as_id(year)
        years = [chosen if chosen in offered else ctx.today().year]
    one = (await dossiers.pages(ctx.db, scope, ctx.tenant.id, [deputy], years, ctx.tz))[deputy.id]
    d = one.d
    return page(request, "duties/dossier.html", d=d, grades=one.grades, meetings=one.meetings, years=offered,
                TERM=queries.TERM, selected=queries.TERM if d.term else str(d.year),
                printing=request.query_params.get("print") == "1", done=DONE.get(done or ""),
                can_file=access.can_file(scope), own=scope.role == "deputy", **{**dossiers.NAMES, **_common(ctx)})


@get("/duties/{duty_entry_id:int}/photo")
async def entry_photo(ctx: TenantContext, duty_entry_id: int) -> Response:
    entry = await access.access_entry(ctx.db, await ctx.scope(), duty_entry_id)
    image = await get_image(ctx.db, entry.image_id) if entry.image_id else None
    if image is None:
        raise NotFound()
    return Response(image.data, media_type=image.media_type, headers={"Cache-Control": "private, max-age=3600"})


@get("/duties/{duty_entry_id:int}/document")
async def entry_document(request: Request, ctx: TenantContext, duty_entry_id: int) -> Response:
    """The entry's document, to save (never shown inline), for whoever may see the dossier; a download
    of a deputy's papers is audited as a reveal of personal data is."""
    entry = await access.access_entry(ctx.db, await ctx.scope(), duty_entry_id)
    document = await documents.for_download(ctx.db, entry, actor_id=ctx.user.id, client_addr=client_addr(request))
    return Response(document.data, media_type=document.media_type,
                    headers={"Content-Disposition": content_disposition(document.file_name),
                             "Cache-Control": "no-store"})


# --- filing -------------------------------------------------------------------------------------

async def _filing_page(request: Request, ctx: TenantContext, form: dict, *, error: str | None = None,
                       error_for: str | None = None, status_code: int = 200) -> Response:
    scope = await ctx.scope()
    if not access.can_file(scope):
        raise NotFound()
    own = await queries.own_deputy(ctx.db, scope)
    choices = [] if scope.role == "deputy" else await queries.deputy_choices(ctx.db, scope)
    return page(request, "duties/new.html", status_code=status_code, form=form, error=error, error_for=error_for,
                own=own, choices=choices, today=ctx.today(), MAX_TEXT=MAX_TEXT, **_common(ctx))


@get("/duties/new")
async def filing_form(request: Request, ctx: TenantContext, deputy_id: str | None = None) -> Response:
    chosen = as_id(deputy_id)
    return await _filing_page(request, ctx, {"deputy_id": str(chosen or ""), "day": ctx.today().isoformat()})


@post("/duties", opt={"uploads": True}, request_max_body_size=MAX_UPLOAD_BYTES + MAX_DOCUMENT_BYTES + 65_536)
async def file_entry(request: Request, ctx: TenantContext) -> Response:
    raw_form = await request.form()
    form = bounded(raw_form, FILING_KEYS, MAX_TEXT + 100)
    upload = raw_form.get("photo")
    photo = await upload.read(MAX_UPLOAD_BYTES + 1) if isinstance(upload, UploadFile) else None
    upload = raw_form.get("document")
    # one byte more than allowed tells "too large" without reading the rest
    document = await upload.read(MAX_DOCUMENT_BYTES + 1) if isinstance(upload, UploadFile) else None
    document_name = upload.filename if isinstance(upload, UploadFile) else None
    try:
        entry = await ctx.attempt(services.file_entry(ctx.db, await _actor(request, ctx), services.Filing(**form),
                                                      photo, today=ctx.today(), document=document,
                                                      document_name=document_name))
    except Refusal as refusal:
        if refusal.status == 403:
            raise NotFound() from refusal
        return await _filing_page(request, ctx, form, error=refusal.text(), error_for=refusal.input_name,
                                  status_code=400)
    return see_other(f"{ctx.base}/deputies/{entry.deputy_id}/dossier?year={entry.day.year}&done=filed")


# --- review -------------------------------------------------------------------------------------

async def _review_page(request: Request, ctx: TenantContext, *, error: str | None = None, reason: str = "",
                       status_code: int = 200, done: str | None = None) -> Response:
    scope = await ctx.scope()
    rows, total = await queries.waiting(ctx.db, scope)
    return page(request, "duties/review.html", status_code=status_code, rows=rows, total=total, error=error,
                reason=reason, done=DONE.get(done or ""), can_review=access.can_review(scope),
                can_file=access.can_file(scope), MAX_REASON=MAX_REASON, **_common(ctx))


@get("/duties")
async def duties_home(request: Request, ctx: TenantContext, done: str | None = None) -> Response:
    """A deputy goes to their own dossier; staff see the entries waiting for review."""
    scope = await ctx.scope()
    access.require_view(scope.role)
    if scope.role == "deputy":
        own = await queries.own_deputy(ctx.db, scope)
        if own is not None:
            return see_other(f"{ctx.base}/deputies/{own.id}/dossier")
        return page(request, "duties/unlinked.html", base=ctx.base)
    return await _review_page(request, ctx, done=done)


@post("/duties/review")
async def review_entries(request: Request, ctx: TenantContext) -> Response:
    scope = await ctx.scope()
    if not access.can_review(scope):
        raise NotFound()
    form = await request.form()
    # a row's own button reviews that entry alone; the buttons below the list review the ticked ones
    ids = [str(v)[:20] for v in form.getall("entry_id", [])][:services.MAX_BATCH + 1]
    decision = str(form.get("decision", ""))[:10]
    for one in ("approve", "reject"):
        if form.get(f"{one}_one"):
            ids, decision = [str(form.get(f"{one}_one"))[:20]], one
    reason = str(form.get("reason", ""))[:MAX_REASON + 100]
    try:
        await ctx.attempt(services.review(ctx.db, await _actor(request, ctx), ids, decision, reason))
    except Refusal as refusal:
        return await _review_page(request, ctx, error=refusal.text(), reason=reason, status_code=400)
    return see_other(f"{ctx.base}/duties?done={'approved' if decision == 'approve' else 'rejected'}")


route_handlers = [dossier_page, entry_photo, entry_document, filing_form, file_entry, duties_home, review_entries]
