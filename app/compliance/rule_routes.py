"""The county admin's rules settings under /t/{tenant_slug}/settings/rules: the list in plain words,
a new rule, a rule's page (change, retire). Bad input re-renders the form with 400, nothing written."""

from __future__ import annotations

from litestar import Request, Response, get, post

from app.compliance import rule_services as rs
from app.compliance.describe import describe
from app.compliance.models import COUNT_NAMES, COUNTS, PERIOD_NAMES, PERIODS, SUBJECT_NAMES, SUBJECTS
from app.activities.models import Rule
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.core.web import client_addr, page, see_other
from app.deputies.models import LEVEL_NAMES, LEVELS
from app.tenancy.access import TenantContext
from app.tenancy.config import get_config

DONE = {
    "added": lazy("The rule has been added."),
    "saved": lazy("The rule has been saved."),
    "retired": lazy("The rule has been retired: the board no longer shows it."),
}
NEW_RULE = {"subject": "station", "counts": "activities", "period": "month", "minimum": "1", "sort": "0",
            "kind_codes": [], "station_kind_codes": [], "deputy_levels": [], "at_risk_days": "", "at_risk_pace": "on"}


async def _common(ctx: TenantContext) -> dict:
    kinds, station_kinds = await rs.kind_choices(ctx.db)
    county_days = (await get_config(ctx.db, ctx.tenant.id)).at_risk_days
    return dict(base=ctx.base, kinds=kinds, station_kinds=station_kinds, county_days=county_days, SUBJECTS=SUBJECTS,
                SUBJECT_NAMES=SUBJECT_NAMES, COUNTS=COUNTS, COUNT_NAMES=COUNT_NAMES, PERIODS=PERIODS,
                PERIOD_NAMES=PERIOD_NAMES, LEVELS=LEVELS, LEVEL_NAMES=LEVEL_NAMES)


@get("/settings/rules")
async def rules_page(request: Request, ctx: TenantContext, done: str | None = None) -> Response:
    ctx.require_role("county_admin")
    common = await _common(ctx)
    kind_names = {k.code: k.name for k in common["kinds"]}
    station_kind_names = {k.code: k.name for k in common["station_kinds"]}
    rules = await rs.list_rules(ctx.db)
    return page(request, "compliance/rules.html", rules=rules, done=DONE.get(done or ""),
                summaries={r.id: describe(r, kind_names, station_kind_names) for r in rules}, **common)


async def _form_page(request: Request, ctx: TenantContext, rule: Rule | None, form: dict, *, status_code: int = 200,
                     error: str | None = None, done: str | None = None) -> Response:
    return page(request, "compliance/rule.html", status_code=status_code, rule=rule, form=form, error=error,
                done=DONE.get(done or ""), **await _common(ctx))


@get("/settings/rules/new")
async def rule_new(request: Request, ctx: TenantContext) -> Response:
    ctx.require_role("county_admin")
    return await _form_page(request, ctx, None, dict(NEW_RULE))


@post("/settings/rules/new")
async def rule_create(request: Request, ctx: TenantContext) -> Response:
    ctx.require_role("county_admin")
    values = rs.read_form(await request.form())
    try:
        rule = await ctx.attempt(rs.save_rule(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, rule=None,
                                              values=values, client_addr=client_addr(request)))
    except Refusal as refusal:
        return await _form_page(request, ctx, None, values, status_code=400, error=refusal.text())
    return see_other(f"{ctx.base}/settings/rules?done=added#rule-{rule.id}")


@get("/settings/rules/{rule_id:int}")
async def rule_page(request: Request, ctx: TenantContext, rule_id: int, done: str | None = None) -> Response:
    ctx.require_role("county_admin")
    rule = await rs.get_rule(ctx.db, rule_id)
    return await _form_page(request, ctx, rule, rs.form_of(rule), done=done)


@post("/settings/rules/{rule_id:int}")
async def rule_save(request: Request, ctx: TenantContext, rule_id: int) -> Response:
    ctx.require_role("county_admin")
    rule = await rs.get_rule(ctx.db, rule_id)
    values = rs.read_form(await request.form())
    try:
        await ctx.attempt(rs.save_rule(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, rule=rule, values=values,
                                       client_addr=client_addr(request)))
    except Refusal as refusal:
        rule = await rs.get_rule(ctx.db, rule_id)
        return await _form_page(request, ctx, rule, values, status_code=400, error=refusal.text())
    return see_other(f"{ctx.base}/settings/rules/{rule_id}?done=saved")


@post("/settings/rules/{rule_id:int}/retire")
async def rule_retire(request: Request, ctx: TenantContext, rule_id: int) -> Response:
    ctx.require_role("county_admin")
    rule = await rs.get_rule(ctx.db, rule_id)
    try:
        await ctx.attempt(rs.retire_rule(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, rule=rule,
                                         client_addr=client_addr(request)))
    except Refusal as refusal:
        rule = await rs.get_rule(ctx.db, rule_id)
        return await _form_page(request, ctx, rule, rs.form_of(rule), status_code=400, error=refusal.text())
    return see_other(f"{ctx.base}/settings/rules?done=retired")


route_handlers = [rules_page, rule_new, rule_create, rule_page, rule_save, rule_retire]
