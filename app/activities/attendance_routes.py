"""Attendance pages under /t/{tenant_slug}: a deputy's attendance by month, a station's deputies ×
months, the deputy's yearly attendance report (printable, CSV and XLSX), and the deputy's registers
of opinions and suggestions. Scope: ``access_deputy`` for deputy pages (a deputy sees their own),
``get_station`` for station pages; anything out of reach is the same 404 as a missing record.
"""

from __future__ import annotations

from datetime import datetime, timezone

from litestar import Request, Response, get, post

from app.activities import attendance as att
from app.activities.models import SIGNIN_METHOD_NAMES, STATUS_NAMES, SUGGESTION_KINDS
from app.audit.services import record
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.core import spreadsheets
from app.core.web import client_addr, download, page, see_other
from app.deputies.access import access_deputy
from app.deputies.models import Deputy
from app.stations.access import get_station
from app.tenancy.access import TenantContext

SUGGESTION_KIND_NAMES = {"suggestion": lazy("Deputy suggestion (建议)"), "motion": lazy("Deputy motion (议案)")}
DONE = {"opinion": lazy("The opinion has been registered."), "suggestion": lazy("The suggestion has been recorded.")}
OPINION_KEYS = ("content", "raised_by", "received_on")
SUGGESTION_KEYS = ("kind", "title", "filed_on")


def _year(ctx: TenantContext, value: str | None) -> int:
    """The year asked for; the current one when missing or out of range."""
    text = (value or "").strip()
    if text.isdigit() and att.MIN_YEAR <= int(text) <= att.MAX_YEAR:
        return int(text)
    return ctx.today().year


def _common(ctx: TenantContext, year: int) -> dict:
    return dict(base=ctx.base, year=year, MONTHS=att.MONTHS, STATUS_NAMES=STATUS_NAMES,
                METHOD_NAMES=SIGNIN_METHOD_NAMES, min_year=att.MIN_YEAR, max_year=att.MAX_YEAR)


# --- a deputy's attendance ---------------------------------------------------------------------------

@get("/deputies/{deputy_id:int}/attendance")
async def deputy_attendance(request: Request, ctx: TenantContext, deputy_id: int, year: str | None = None) -> Response:
    deputy = await access_deputy(ctx.db, await ctx.scope(), deputy_id)
    y = _year(ctx, year)
    now = datetime.now(timezone.utc)
    lines = await att.deputy_lines(ctx.db, deputy.id, y, ctx.tenant.timezone, now)
    months, total = att.by_month(lines)
    joint_lines = await att.county_lines(ctx.db, deputy.id, y, ctx.tenant.timezone, now)
    return page(request, "activities/attendance_deputy.html", deputy=deputy, months=months, total=total,
                lines=lines, joint_lines=joint_lines, joint_total=att.county_counts(joint_lines), **_common(ctx, y))


# --- a station's attendance ----------------------------------------------------------------------------

@get("/stations/{station_id:int}/attendance")
async def station_attendance(request: Request, ctx: TenantContext, station_id: int, year: str | None = None,
                             month: str | None = None) -> Response:
    scope = await ctx.scope()
    ref = await get_station(ctx.db, scope, station_id)
    y = _year(ctx, year)
    m = int(month) if (month or "").isdigit() and 1 <= int(month) <= 12 else None
    tz = ctx.tenant.timezone
    rows = await att.station_grid(ctx.db, station_id, y, tz, datetime.now(timezone.utc))
    totals = att.Counts()
    for row in rows:
        totals.add(row.total)
    return page(
        request, "activities/attendance_station.html", station=ref.station, rows=rows, totals=totals,
        held=await att.held_per_month(ctx.db, station_id, y, tz), month=m,
        month_activities=await att.station_month_activities(ctx.db, station_id, y, m, tz) if m else [],
        link_deputies=scope.role != "deputy", **_common(ctx, y),
    )


# --- the yearly report -----------------------------------------------------------------------------------

async def _report(ctx: TenantContext, deputy_id: int, year: int) -> att.YearlyReport:
    if not att.MIN_YEAR <= year <= att.MAX_YEAR:
        raise NotFound()
    deputy = await access_deputy(ctx.db, await ctx.scope(), deputy_id)
    return await att.yearly_report(ctx.db, ctx.tenant.id, deputy.id, year)


@get("/deputies/{deputy_id:int}/attendance/report")
async def yearly_report_current(ctx: TenantContext, deputy_id: int) -> Response:
    """The report of the current year (a stable link for the deputy's page)."""
    deputy = await access_deputy(ctx.db, await ctx.scope(), deputy_id)
    return see_other(f"{ctx.base}/deputies/{deputy.id}/attendance/{ctx.today().year}/report")


@get("/deputies/{deputy_id:int}/attendance/{year:int}/report")
async def yearly_report_page(request: Request, ctx: TenantContext, deputy_id: int, year: int) -> Response:
    report = await _report(ctx, deputy_id, year)
    return page(request, "activities/report_yearly.html", r=report, **_common(ctx, year))


STATUS_WORDS = {"planned": "计划", "held": "已举行", "cancelled": "已取消"}
METHOD_WORDS = {"link": "个人链接签到", "code": "现场扫码签到", "login": "登录签到", "staff": "工作人员代签"}


def _rate(c: att.Counts):
    """The rate as a percentage cell (a number the sheet formats 0.0%), blank when nothing was due."""
    return spreadsheets.Percent(c.present / c.invited) if c.invited else ""


def attendance_word(line: att.Line) -> str:
    """How the export says whether the deputy was there (the same facts as the page)."""
    if not line.counted:
        return "—"
    if not line.present:
        return "缺席"
    parts = [METHOD_WORDS.get(line.method or "", line.method or "")]
    if line.method == "staff":
        parts.append(f"代签：{line.reason}")
    if line.late:
        parts.append("迟到")
    if line.left_early:
        parts.append("早退")
    return "；".join(parts)


def report_rows(r: att.YearlyReport) -> tuple[list, list[list]]:
    """The report as one sheet: header facts, months, activities, the same station's deputies.
    No mobile numbers: the report names deputies only."""
    head = ["年度出勤情况报告", f"{r.year}年"]
    rows: list[list] = [["县（区）", r.county], ["代表", r.deputy], ["联络站", "、".join(s.name for s in r.stations)],
                        ["年度", r.year], []]
    rows.append(["月份", "应出席", "出席", "其中代签", "迟到", "早退", "出勤率"])
    for m in att.MONTHS:
        c = r.months[m]
        rows.append([f"{m}月", c.invited, c.present, c.staff, c.late, c.left_early, _rate(c)])
    t = r.total
    rows += [["全年合计", t.invited, t.present, t.staff, t.late, t.left_early, _rate(t)], []]
    rows.append(["日期", "活动", "活动类型", "联络站或代表小组", "活动状态", "出勤情况"])
    for line in r.lines:
        rows.append([line.starts_at, line.topic, line.kind, line.place,  # local time: a date in the sheet
                     STATUS_WORDS.get(line.status, line.status), attendance_word(line)])
    if r.joint_lines:  # at joint stations (联合联络站): a part and a line of their own
        j = r.joint_total
        rows += [[], ["在联合联络站的活动"], ["应出席", "出席", "其中代签", "出勤率"], [j.invited, j.present, j.staff, _rate(j)]]
        rows.append(["日期", "活动", "活动类型", "联合联络站", "活动状态", "出勤情况"])
        for line in r.joint_lines:
            rows.append([line.starts_at, line.topic, line.kind, line.place,
                         STATUS_WORDS.get(line.status, line.status), attendance_word(line)])
    rows += [[], ["同站代表出勤情况"], ["联络站", "代表", "应出席", "出席", "出勤率"]]
    for s in r.stations:
        for p in s.peers:
            rows.append([s.name, p.name, p.counts.invited, p.counts.present, _rate(p.counts)])
    return head, rows


async def _export(request: Request, ctx: TenantContext, deputy_id: int, year: int, fmt: str) -> Response:
    report = await _report(ctx, deputy_id, year)
    head, rows = report_rows(report)
    await record(ctx.db, tenant_id=ctx.tenant.id, actor_user_id=ctx.user.id, action="attendance_report_exported",
                 target=f"deputy:{report.deputy_id}", client_addr=client_addr(request),
                 details={"name": report.deputy, "year": year, "format": fmt})
    # Topics and reasons: formulas guarded there. A report in parts, not one table: no autofilter.
    encoding = spreadsheets.csv_encoding(request.query_params.get("encoding"))
    body = spreadsheets.write(fmt, head, rows, f"{year}年出勤情况", filter=False, encoding=encoding)
    return download(body, f"年度出勤情况报告-{report.deputy}-{year}.{fmt}", encoding=encoding)


@get("/deputies/{deputy_id:int}/attendance/{year:int}/report.csv")
async def yearly_report_csv(request: Request, ctx: TenantContext, deputy_id: int, year: int) -> Response:
    return await _export(request, ctx, deputy_id, year, "csv")


@get("/deputies/{deputy_id:int}/attendance/{year:int}/report.xlsx")
async def yearly_report_xlsx(request: Request, ctx: TenantContext, deputy_id: int, year: int) -> Response:
    return await _export(request, ctx, deputy_id, year, "xlsx")


# --- the deputy's registers of opinions and suggestions ----------------------------------------------------

async def _records_page(request: Request, ctx: TenantContext, deputy: Deputy, year: int, *, status_code: int = 200,
                        error: str | None = None, error_for: str | None = None, form: dict | None = None,
                        done: str | None = None) -> Response:
    scope = await ctx.scope()
    opinions, suggestions = await att.register_lists(ctx.db, deputy.id, year)
    today = ctx.today().isoformat()
    form = form or {}
    return page(
        request, "activities/attendance_records.html", status_code=status_code, deputy=deputy,
        opinions=opinions, suggestions=suggestions, can_add=att.can_register(scope), error=error,
        error_for=error_for, done=DONE.get(done or ""), today=today,
        opinion_form=form if error_for == "opinion" else {"received_on": today},
        suggestion_form=form if error_for == "suggestion" else {"filed_on": today, "kind": "suggestion"},
        SUGGESTION_KINDS=SUGGESTION_KINDS, SUGGESTION_KIND_NAMES=SUGGESTION_KIND_NAMES, **_common(ctx, year),
    )


@get("/deputies/{deputy_id:int}/records")
async def deputy_records(request: Request, ctx: TenantContext, deputy_id: int, year: str | None = None,
                         done: str | None = None) -> Response:
    deputy = await access_deputy(ctx.db, await ctx.scope(), deputy_id)
    return await _records_page(request, ctx, deputy, _year(ctx, year), done=done)


async def _register(request: Request, ctx: TenantContext, deputy_id: int, which: str, keys, verb) -> Response:
    scope = await ctx.scope()
    deputy = await access_deputy(ctx.db, scope, deputy_id)
    form = await request.form()
    values = {k: str(form.get(k) or "")[:4000] for k in keys}
    try:
        item = await ctx.attempt(verb(ctx.db, scope, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, deputy=deputy,
                                      values=values, today=ctx.today(), client_addr=client_addr(request)))
    except Refusal as refusal:
        deputy = await access_deputy(ctx.db, scope, deputy_id)
        return await _records_page(request, ctx, deputy, ctx.today().year, status_code=refusal.status,
                                   error=refusal.text(), error_for=which, form=values)
    day = item.received_on if which == "opinion" else item.filed_on
    return see_other(f"{ctx.base}/deputies/{deputy.id}/records?year={day.year}&done={which}#{which}s")


@post("/deputies/{deputy_id:int}/opinions")
async def opinion_add(request: Request, ctx: TenantContext, deputy_id: int) -> Response:
    return await _register(request, ctx, deputy_id, "opinion", OPINION_KEYS, att.add_opinion)


@post("/deputies/{deputy_id:int}/suggestions")
async def suggestion_add(request: Request, ctx: TenantContext, deputy_id: int) -> Response:
    return await _register(request, ctx, deputy_id, "suggestion", SUGGESTION_KEYS, att.add_suggestion)


route_handlers: list = [
    deputy_attendance, station_attendance, yearly_report_current, yearly_report_page, yearly_report_csv, yearly_report_xlsx,
    deputy_records, opinion_add, suggestion_add,
]
