"""Spreadsheet import (/t/{tenant_slug}/imports) and the deputies export (/t/{tenant_slug}/deputies/export.*).

County admins import for the whole county (the tree, stations, handling units, deputies, rosters),
township staff stations, deputies and rosters of their township. Upload → preview (every row as read,
with its problems by column, a page at a time; nothing written) → confirm → a background job inserts
everything or nothing, with a progress page that polls with htmx and reloads by hand without it.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Request, Response, get, post
from litestar.params import QueryParameter

from app.audit.services import record
from app.core.errors import NotFound, Refusal
from app.core.i18n import gettext, lazy
from app.core import spreadsheets
from app.core.web import client_addr, download, page, see_other
from app.deputies import exports, import_files, import_kinds, import_preview, imports
from app.deputies.models import ImportJob
from app.tenancy.access import TenantContext

PROBLEMS_SHOWN = 200
TEMPLATES = {f"{kind}.{fmt}": (kind, fmt) for kind in imports.KINDS for fmt in ("xlsx", "csv")}
CHOOSE_KIND = lazy("Please choose what the file holds.")
CHOOSE_FILE = lazy("Please choose a file to upload.")
STATUS_NAMES = {
    "previewed": lazy("Checked, not imported"),
    "queued": lazy("Waiting to be imported"),
    "running": lazy("Importing now"),
    "done": lazy("Imported completely"),
    "failed": lazy("Failed, nothing imported"),
}


def _kinds(ctx: TenantContext) -> list[str]:
    """The kinds the member may import (what the upload form offers, and all it accepts)."""
    return [kind.code for kind in import_kinds.kinds_for(ctx.role)]


async def _upload_page(request: Request, ctx: TenantContext, *, status_code: int = 200, error: str | None = None,
                       kind: str = "") -> Response:
    return page(
        request, "deputies/import_upload.html", status_code=status_code, error=error, kind=kind,
        kinds=_kinds(ctx), kind_names=imports.KIND_NAMES, status_names=STATUS_NAMES,
        jobs=await imports.recent_jobs(ctx.db, await ctx.scope()), columns=import_files.COLUMNS, base=ctx.base,
    )


@get("/imports")
async def import_home(request: Request, ctx: TenantContext, kind: str | None = None) -> Response:
    """``?kind=tree`` chooses what the file holds (the set-up checklist links so)."""
    ctx.require_role(*imports.IMPORT_ROLES)
    return await _upload_page(request, ctx, kind=kind if kind in _kinds(ctx) else "")


@post("/imports", opt={"uploads": True}, request_max_body_size=import_files.MAX_FILE_BYTES + 64 * 1024)
async def import_upload(request: Request, ctx: TenantContext) -> Response:
    ctx.require_role(*imports.IMPORT_ROLES)
    form = await request.form()
    kind = str(form.get("kind", ""))
    upload = form.get("file")
    if kind not in _kinds(ctx):
        return await _upload_page(request, ctx, status_code=400, error=gettext(CHOOSE_KIND))
    if upload is None or isinstance(upload, str) or not getattr(upload, "filename", ""):
        return await _upload_page(request, ctx, status_code=400, error=gettext(CHOOSE_FILE), kind=kind)
    data = await upload.read()
    try:
        job = await ctx.attempt(imports.create_preview(
            ctx.db, tenant_id=ctx.tenant.id, scope=await ctx.scope(), actor_id=ctx.user.id, kind=kind, data=data,
            filename=str(upload.filename), client_addr=client_addr(request),
        ))
    except Refusal as refusal:
        return await _upload_page(request, ctx, status_code=400, error=refusal.text(), kind=kind)
    return see_other(f"{ctx.base}/imports/{job.id}")


@get("/imports/template/{filename:str}")
async def import_template(ctx: TenantContext, filename: str) -> Response:
    ctx.require_role(*imports.IMPORT_ROLES)
    if filename not in TEMPLATES or TEMPLATES[filename][0] not in _kinds(ctx):
        raise NotFound()
    kind, fmt = TEMPLATES[filename]
    body = spreadsheets.write(fmt, exports.headers(kind, template=True), [], import_kinds.KINDS[kind].sheet)
    return download(body, f"{import_kinds.TEMPLATE_NAMES[kind]}.{fmt}",
                    headers={"Cache-Control": "private, max-age=3600"})


async def _job(ctx: TenantContext, job_id: int) -> ImportJob:
    ctx.require_role(*imports.IMPORT_ROLES)
    job = await imports.job_progress(ctx.db, await ctx.scope(), job_id)
    if job is None:
        raise NotFound()
    return job


def _job_context(ctx: TenantContext, job: ImportJob) -> dict:
    return {
        "job": job, "base": ctx.base, "status_names": STATUS_NAMES, "kind_names": imports.KIND_NAMES,
        "problem_text": imports.problem_text, "percent": int(100 * job.processed / job.total) if job.total else 0,
    }


@get("/imports/{job_id:int}")
async def import_job(request: Request, ctx: TenantContext, job_id: int,
                     page_no: Annotated[int, QueryParameter(name="page")] = 1, only: str | None = None) -> Response:
    """While previewed: every row of the file with its problems, a page at a time (``?only=problems``:
    the rows with problems)."""
    job = await _job(ctx, job_id)
    problems = job.problems or []
    preview = None
    if job.status == "previewed":
        preview = await import_preview.preview_page(ctx.db, job, page=page_no, only_problems=only == "problems")
    return page(request, "deputies/import_job.html", problems=problems[:PROBLEMS_SHOWN],
                more=max(0, len(problems) - PROBLEMS_SHOWN), preview=preview, **_job_context(ctx, job))


@get("/imports/{job_id:int}/progress")
async def import_progress(request: Request, ctx: TenantContext, job_id: int) -> Response:
    """The htmx partial polled every 2 s while the job waits or runs (and a plain page without JS)."""
    job = await _job(ctx, job_id)
    return page(request, "deputies/_import_progress.html", **_job_context(ctx, job))


@get("/imports/{job_id:int}/problems.csv")
async def import_problems(ctx: TenantContext, job_id: int) -> Response:
    job = await _job(ctx, job_id)
    rows = [[p.get("row") or "", p.get("column") or "", imports.problem_text(p)] for p in job.problems or []]
    # the column is the uploaded file's own header: the writer guards it like every other cell
    return download(spreadsheets.to_csv(["行", "列", "问题"], rows), f"导入问题-{job.id}.csv")


@post("/imports/{job_id:int}/confirm")
async def import_confirm(request: Request, ctx: TenantContext, job_id: int) -> Response:
    job = await _job(ctx, job_id)
    confirmed = await imports.confirm(ctx.db, tenant_id=ctx.tenant.id, job=job, actor_id=ctx.user.id,
                                      client_addr=client_addr(request))
    if confirmed:  # Postgres holds the job; if Redis is away the worker's sweep enqueues it later
        ctx.after_commit(lambda: imports.enqueue(request.app.state.settings.redis_url, ctx.tenant.id, job.id))
    return see_other(f"{ctx.base}/imports/{job.id}")


async def _deputies_export(request: Request, ctx: TenantContext, fmt: str) -> Response:
    ctx.require_role(*exports.EXPORT_ROLES)
    rows = await exports.deputy_rows(ctx.db, await ctx.scope())
    await record(ctx.db, tenant_id=ctx.tenant.id, actor_user_id=ctx.user.id, action="deputies_exported",
                 client_addr=client_addr(request), details={"rows": len(rows), "format": fmt})
    encoding = spreadsheets.csv_encoding(request.query_params.get("encoding"))
    return download(exports.render("deputies", fmt, rows, encoding=encoding), f"人大代表-{ctx.tenant.name}.{fmt}",
                    encoding=encoding)


@get("/deputies/export.xlsx")
async def deputies_export_xlsx(request: Request, ctx: TenantContext) -> Response:
    return await _deputies_export(request, ctx, "xlsx")


@get("/deputies/export.csv")
async def deputies_export_csv(request: Request, ctx: TenantContext) -> Response:
    return await _deputies_export(request, ctx, "csv")


route_handlers = [
    import_home, import_upload, import_template, import_job, import_progress, import_problems, import_confirm,
    deputies_export_xlsx, deputies_export_csv,
]
