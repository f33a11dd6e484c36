"""The county's case settings pages (county admins only; anyone else gets the same 404):
/settings/case-categories, /settings/handling-units (with each unit's users and invitations) and
/settings/case-rules (the tenant's case settings and the due-date rules)."""

from __future__ import annotations


from litestar import Request, Response, get, post

from app.accounts import invitations
from app.cases import settings as svc
from app.cases.models import (
    LEVEL_NAMES, UNIT_KIND_NAMES, UNIT_KINDS, URGENCIES, CaseCategory,
)
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.core.web import absolute_url, bounded, client_addr, page, see_other
from app.tenancy.access import TenantContext, settings_change
from app.tenancy.config import get_config

DONE = {
    "added": lazy("The case category has been added."),
    "saved": lazy("The case category has been saved."),
    "retired": lazy("The case category has been retired."),
    "unit_added": lazy("The handling unit has been added."),
    "unit_saved": lazy("The handling unit has been saved."),
    "unit_retired": lazy("The handling unit has been retired."),
    "user_set": lazy("The member is now a user of this handling unit."),
    "settings": lazy("The case settings have been saved."),
    "rule_added": lazy("The due-date rule has been added."),
    "rule_deleted": lazy("The due-date rule has been deleted."),
}
URGENCY_NAMES = {"normal": lazy("Normal case"), "urgent": lazy("Urgent case")}
CATEGORIES = "/settings/case-categories"
UNITS = "/settings/handling-units"
RULES = "/settings/case-rules"


# --- categories ------------------------------------------------------------------------------------


async def _categories_page(request: Request, ctx: TenantContext, *, status_code: int = 200, error: str | None = None,
                           form: dict | None = None, done: str | None = None) -> Response:
    return page(request, "cases/settings_categories.html", status_code=status_code,
                lines=await svc.list_categories(ctx.db), form=form or {"sort": "0"}, error=error,
                done=DONE.get(done or ""), base=ctx.base)


@get(CATEGORIES)
async def case_categories(request: Request, ctx: TenantContext, done: str | None = None) -> Response:
    ctx.require_role("county_admin")
    return await _categories_page(request, ctx, done=done)


@post(CATEGORIES)
async def add_case_category(request: Request, ctx: TenantContext) -> Response:
    ctx.require_role("county_admin")
    values = bounded(await request.form(), ("name", "code", "sort"))
    return await settings_change(
        ctx, lambda: svc.save_category(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, category=None,
                                       client_addr=client_addr(request), **values),
        lambda error: _categories_page(request, ctx, status_code=400, error=error, form=values),
        f"{CATEGORIES}?done=added")


async def _category_page(request: Request, ctx: TenantContext, category: CaseCategory, *, status_code: int = 200,
                         error: str | None = None, form: dict | None = None, done: str | None = None) -> Response:
    return page(request, "cases/settings_category.html", status_code=status_code, category=category, error=error,
                done=DONE.get(done or ""), base=ctx.base,
                form=form or {"name": category.name, "sort": str(category.sort)})


@get(CATEGORIES + "/{category_id:int}")
async def case_category(request: Request, ctx: TenantContext, category_id: int, done: str | None = None) -> Response:
    ctx.require_role("county_admin")
    return await _category_page(request, ctx, await svc.get_category(ctx.db, category_id), done=done)


@post(CATEGORIES + "/{category_id:int}")
async def save_case_category(request: Request, ctx: TenantContext, category_id: int) -> Response:
    ctx.require_role("county_admin")
    category = await svc.get_category(ctx.db, category_id)
    values = bounded(await request.form(), ("name", "sort"))

    async def refused(error: str) -> Response:
        return await _category_page(request, ctx, await svc.get_category(ctx.db, category_id), status_code=400,
                                    error=error, form=values)

    return await settings_change(
        ctx, lambda: svc.save_category(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, category=category,
                                       client_addr=client_addr(request), **values),
        refused, f"{CATEGORIES}/{category_id}?done=saved")


@post(CATEGORIES + "/{category_id:int}/retire")
async def retire_case_category(request: Request, ctx: TenantContext, category_id: int) -> Response:
    ctx.require_role("county_admin")
    category = await svc.get_category(ctx.db, category_id)

    async def refused(error: str) -> Response:
        return await _category_page(request, ctx, await svc.get_category(ctx.db, category_id), status_code=400,
                                    error=error)

    return await settings_change(
        ctx, lambda: svc.retire_category(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, category=category,
                                         client_addr=client_addr(request)),
        refused, f"{CATEGORIES}?done=retired")


# --- handling units --------------------------------------------------------------------------------

UNIT_FIELDS = ("name", "kind", "level", "node", "sort")


def _unit_context(ctx: TenantContext) -> dict:
    return {"base": ctx.base, "unit_kinds": UNIT_KINDS, "unit_kind_names": UNIT_KIND_NAMES,
            "level_names": LEVEL_NAMES}


async def _units_page(request: Request, ctx: TenantContext, *, status_code: int = 200, error: str | None = None,
                      form: dict | None = None, done: str | None = None) -> Response:
    return page(request, "cases/settings_units.html", status_code=status_code,
                lines=await svc.list_units(ctx.db, ctx.tenant.id), nodes=await svc.unit_nodes(ctx.db),
                form=form or {"sort": "0", "level": "county", "kind": "county_department"}, error=error,
                done=DONE.get(done or ""), **_unit_context(ctx))


@get(UNITS)
async def handling_units(request: Request, ctx: TenantContext, done: str | None = None) -> Response:
    ctx.require_role("county_admin")
    return await _units_page(request, ctx, done=done)


@post(UNITS)
async def add_handling_unit(request: Request, ctx: TenantContext) -> Response:
    ctx.require_role("county_admin")
    values = bounded(await request.form(), ("code", *UNIT_FIELDS))
    return await settings_change(
        ctx, lambda: svc.save_unit(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, unit=None,
                                   client_addr=client_addr(request), **values),
        lambda error: _units_page(request, ctx, status_code=400, error=error, form=values),
        f"{UNITS}?done=unit_added")


async def _unit_page(request: Request, ctx: TenantContext, unit_id: int, *, status_code: int = 200,
                     error: str | None = None, form: dict | None = None, invite: dict | None = None,
                     done: str | None = None) -> Response:
    unit = await svc.get_unit(ctx.db, unit_id)
    return page(request, "cases/settings_unit.html", status_code=status_code, unit=unit, error=error,
                done=DONE.get(done or ""), nodes=await svc.unit_nodes(ctx.db),
                users=await svc.unit_users(ctx.db, ctx.tenant.id, unit.id),
                others=await svc.other_unit_users(ctx.db, ctx.tenant.id, unit.id),
                open_cases=(await svc.open_cases(ctx.db, unit.id)).get(unit.id, 0), invite=invite or {},
                form=form or {"name": unit.name, "kind": unit.kind, "level": unit.level, "node": str(unit.node_id or ""),
                              "sort": str(unit.sort)},
                tz=ctx.tz, **_unit_context(ctx))


@get(UNITS + "/{unit_id:int}")
async def handling_unit(request: Request, ctx: TenantContext, unit_id: int, done: str | None = None) -> Response:
    ctx.require_role("county_admin")
    return await _unit_page(request, ctx, unit_id, done=done)


@post(UNITS + "/{unit_id:int}")
async def save_handling_unit(request: Request, ctx: TenantContext, unit_id: int) -> Response:
    ctx.require_role("county_admin")
    unit = await svc.get_unit(ctx.db, unit_id)
    values = bounded(await request.form(), UNIT_FIELDS)
    return await settings_change(
        ctx, lambda: svc.save_unit(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, unit=unit,
                                   client_addr=client_addr(request), **values),
        lambda error: _unit_page(request, ctx, unit_id, status_code=400, error=error, form=values),
        f"{UNITS}/{unit_id}?done=unit_saved")


@post(UNITS + "/{unit_id:int}/retire")
async def retire_handling_unit(request: Request, ctx: TenantContext, unit_id: int) -> Response:
    ctx.require_role("county_admin")
    unit = await svc.get_unit(ctx.db, unit_id)
    return await settings_change(
        ctx, lambda: svc.retire_unit(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, unit=unit,
                                     client_addr=client_addr(request)),
        lambda error: _unit_page(request, ctx, unit_id, status_code=400, error=error),
        f"{UNITS}?done=unit_retired")


@post(UNITS + "/{unit_id:int}/users")
async def set_handling_unit_user(request: Request, ctx: TenantContext, unit_id: int) -> Response:
    """An existing member with the role "handling unit" becomes a user of this unit."""
    ctx.require_role("county_admin")
    unit = await svc.get_unit(ctx.db, unit_id)
    member = str((await request.form()).get("membership", ""))[:30]
    return await settings_change(
        ctx, lambda: svc.set_member_unit(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, unit=unit,
                                         membership_id=member, client_addr=client_addr(request)),
        lambda error: _unit_page(request, ctx, unit_id, status_code=400, error=error),
        f"{UNITS}/{unit_id}?done=user_set#users")


@post(UNITS + "/{unit_id:int}/invitations")
async def invite_handling_unit_user(request: Request, ctx: TenantContext, unit_id: int) -> Response:
    """Answered with the link itself (200, no-store), as the members page does: shown once."""
    ctx.require_role("county_admin")
    unit = await svc.get_unit(ctx.db, unit_id)
    values = bounded(await request.form(), ("name", "mobile"))
    try:
        if unit.retired_at is not None:
            raise Refusal(svc.RETIRED_UNIT_USERS)
        issued = await ctx.attempt(invitations.invite(
            ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, display_name=values["name"], role="handling_unit",
            mobile=values["mobile"], handling_unit_id=unit.id, client_addr=client_addr(request)))
    except Refusal as refusal:
        return await _unit_page(request, ctx, unit_id, status_code=400, invite=values,
                                error=refusal.text())
    return page(request, "accounts/invited.html", invitation=issued.invitation,
                link=absolute_url(request, issued.path(ctx.tenant.slug)), tz=ctx.tz,
                base=ctx.base, days=invitations.INVITATION_DAYS)


# --- due-date rules and settings -------------------------------------------------------------------

RULE_FIELDS = ("level", "category", "urgency", "reply_days", "feedback_days", "working_days")


async def _rules_page(request: Request, ctx: TenantContext, *, status_code: int = 200, error: str | None = None,
                      settings: dict | None = None, rule: dict | None = None, done: str | None = None) -> Response:
    config = await get_config(ctx.db, ctx.tenant.id)
    categories = [line.category for line in await svc.list_categories(ctx.db) if line.category.retired_at is None]
    return page(request, "cases/settings_rules.html", status_code=status_code, error=error, done=DONE.get(done or ""),
                rules=await svc.list_rules(ctx.db), categories=categories, level_names=LEVEL_NAMES,
                urgencies=URGENCIES, urgency_names=URGENCY_NAMES, base=ctx.base,
                settings=settings or {k: str(getattr(config, k)) for k in svc.CASE_CONFIG_RANGES},
                rule=rule or {"reply_days": str(config.case_reply_days), "feedback_days": str(config.case_feedback_days),
                              "working_days": "1"})


@get(RULES)
async def case_rules(request: Request, ctx: TenantContext, done: str | None = None) -> Response:
    ctx.require_role("county_admin")
    return await _rules_page(request, ctx, done=done)


@post(RULES)
async def save_case_settings(request: Request, ctx: TenantContext) -> Response:
    ctx.require_role("county_admin")
    values = bounded(await request.form(), tuple(svc.CASE_CONFIG_RANGES))
    return await settings_change(
        ctx, lambda: svc.save_settings(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, values=values,
                                       client_addr=client_addr(request)),
        lambda error: _rules_page(request, ctx, status_code=400, error=error, settings=values),
        f"{RULES}?done=settings")


@post(RULES + "/add")
async def add_due_rule(request: Request, ctx: TenantContext) -> Response:
    ctx.require_role("county_admin")
    values = bounded(await request.form(), RULE_FIELDS)
    args = {**values, "working_days": values["working_days"] == "1"}
    return await settings_change(
        ctx, lambda: svc.add_rule(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id,
                                  client_addr=client_addr(request), **args),
        lambda error: _rules_page(request, ctx, status_code=400, error=error, rule=values),
        f"{RULES}?done=rule_added#rules")


@post(RULES + "/{due_rule_id:int}/delete")
async def delete_due_rule(request: Request, ctx: TenantContext, due_rule_id: int) -> Response:
    ctx.require_role("county_admin")
    rule = await svc.get_rule(ctx.db, due_rule_id)
    await svc.delete_rule(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, rule=rule,
                          client_addr=client_addr(request))
    return see_other(f"{ctx.base}{RULES}?done=rule_deleted#rules")


route_handlers = [
    case_categories, add_case_category, case_category, save_case_category, retire_case_category,
    handling_units, add_handling_unit, handling_unit, save_handling_unit, retire_handling_unit,
    set_handling_unit_user, invite_handling_unit_user,
    case_rules, save_case_settings, add_due_rule, delete_due_rule,
]
