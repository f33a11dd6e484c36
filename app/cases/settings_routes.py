"""The county's case settings pages (county admins only; anyone else gets the same 404):
/settings/case-categories, /settings/handling-units (with each unit's users and invitations) and
/settings/case-rules (the tenant's case settings and the due-date rules)."""

from __future__ import annotations

from litestar import Request, Response, get, post

from app.accounts import invitations
from app.cases import settings as svc
from app.cases.models import LEVEL_NAMES, UNIT_KIND_NAMES, UNIT_KINDS, URGENCIES
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.core.web import absolute_url, bounded, client_addr, page, see_other
from app.tenancy.access import TenantContext, settings_change
from app.tenancy.coded_list_routes import CodedListPages, Done, Texts, coded_list_routes, item_page
from app.tenancy.config import get_config

DONE = {
    "settings": lazy("The case settings have been saved."),
    "rule_added": lazy("The due-date rule has been added."),
    "rule_deleted": lazy("The due-date rule has been deleted."),
}
URGENCY_NAMES = {"normal": lazy("Normal case"), "urgent": lazy("Urgent case")}
CATEGORIES = "/settings/case-categories"
UNITS = "/settings/handling-units"
RULES = "/settings/case-rules"


# --- categories ------------------------------------------------------------------------------------

CATEGORY_PAGES = CodedListPages(
    coded_list=svc.CASE_CATEGORIES,
    path=CATEGORIES,
    id_name="category_id",
    texts=Texts(
        title=lazy("Case categories"),
        empty=lazy("No case category yet."),
        note=lazy("A retired category keeps its cases but is no longer offered for new ones."),
        add_heading=lazy("Add a case category"),
        add_button=lazy("Add the case category"),
        name_label=lazy("Name of the case category"),
        code_label=lazy("Code (optional, used by presets)"),
        save_button=lazy("Save the case category"),
        retire_heading=lazy("Retire the case category"),
        retire_help=lazy("Cases of this category keep it; no new case can be of it."),
        retire_button=lazy("Retire this case category"),
        retired=lazy("retired category"),
    ),
    added=Done("added", lazy("The case category has been added.")),
    saved=Done("saved", lazy("The case category has been saved.")),
    retired=Done("retired", lazy("The case category has been retired.")),
    lines="cases/_category_lines.html",
    load_lines=lambda ctx: svc.list_categories(ctx.db),
    intro="cases/_category_code.html",
)


# --- handling units --------------------------------------------------------------------------------


async def _unit_context(ctx: TenantContext, unit) -> dict:
    context = {"nodes": await svc.unit_nodes(ctx.db), "unit_kinds": UNIT_KINDS, "unit_kind_names": UNIT_KIND_NAMES,
               "level_names": LEVEL_NAMES}
    if unit is not None:
        context.update(users=await svc.unit_users(ctx.db, ctx.tenant.id, unit.id),
                       others=await svc.other_unit_users(ctx.db, ctx.tenant.id, unit.id),
                       open_cases=(await svc.open_cases(ctx.db, unit.id)).get(unit.id, 0), invite={}, tz=ctx.tz)
    return context


UNIT_PAGES = CodedListPages(
    coded_list=svc.HANDLING_UNITS,
    path=UNITS,
    id_name="unit_id",
    texts=Texts(
        title=lazy("Handling units"),
        empty=lazy("No handling unit yet."),
        note=lazy("A handling unit's users see only the cases assigned to their unit. Invite them from the unit's "
                  "page."),
        add_heading=lazy("Add a handling unit"),
        add_button=lazy("Add the handling unit"),
        name_label=lazy("Name of the handling unit"),
        code_label=lazy("Code (optional, used by presets)"),
        save_button=lazy("Save the handling unit"),
        retire_heading=lazy("Retire the handling unit"),
        retire_help=lazy("Its cases keep it; no new case can be assigned to it. A unit with open cases cannot be "
                         "retired."),
        retire_button=lazy("Retire this handling unit"),
        retired=lazy("retired unit"),
    ),
    added=Done("unit_added", lazy("The handling unit has been added.")),
    saved=Done("unit_saved", lazy("The handling unit has been saved.")),
    retired=Done("unit_retired", lazy("The handling unit has been retired.")),
    more_done=(Done("user_set", lazy("The member is now a user of this handling unit.")),),
    lines="cases/_unit_lines.html",
    fields="cases/_unit_fields.html",
    form_fields=("kind", "level", "node", "contact_name", "contact_phone"),
    new_form={"sort": "0", "level": "county", "kind": "county_department"},
    item_form=lambda unit: {"kind": unit.kind, "level": unit.level, "node": str(unit.node_id or ""),
                            "contact_name": unit.contact_name, "contact_phone": unit.contact_phone},
    load_lines=lambda ctx: svc.list_units(ctx.db, ctx.tenant.id),
    context=_unit_context,
    intro="cases/_unit_code.html",
    import_kind="units",
    section="cases/_unit_users.html",
)


async def _unit_page(request: Request, ctx: TenantContext, unit_id: int, **values) -> Response:
    return await item_page(request, ctx, UNIT_PAGES, await svc.get_unit(ctx.db, unit_id), **values)


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
    *coded_list_routes(CATEGORY_PAGES), *coded_list_routes(UNIT_PAGES), set_handling_unit_user,
    invite_handling_unit_user,
    case_rules, save_case_settings, add_due_rule, delete_due_rule,
]
