"""The county's settings pages of station kinds (/settings/kinds) and of the standards checklist
(/settings/checklist), county admins only."""

from __future__ import annotations

from app.core.i18n import lazy
from app.stations.settings import CHECKLIST, STATION_KINDS, example_name
from app.tenancy.access import TenantContext
from app.tenancy.coded_list_routes import CodedListPages, Done, Texts, coded_list_routes
from app.tenancy.config import get_config
from app.tenancy.models import NODE_KINDS
from app.tenancy.services import NODE_KIND_NAMES


async def _kind_context(ctx: TenantContext, kind) -> dict:
    context = {"node_kinds": NODE_KINDS, "kind_names": NODE_KIND_NAMES}
    if kind is not None:
        context["example"] = await example_name(ctx.db, kind)
    return context


STATION_KIND_PAGES = CodedListPages(
    coded_list=STATION_KINDS,
    path="/settings/kinds",
    id_name="kind_id",
    texts=Texts(
        title=lazy("Station kinds"),
        empty=lazy("No station kind yet."),
        add_heading=lazy("Add a station kind"),
        add_button=lazy("Add the kind"),
        name_label=lazy("Name of the kind"),
        code_label=lazy("Code (letters and digits, used by presets)"),
        save_button=lazy("Save the kind"),
        retire_heading=lazy("Retire the kind"),
        retire_help=lazy("Existing stations keep this kind; no new station can be of it."),
        retire_button=lazy("Retire this kind"),
        retired=lazy("retired kind"),
    ),
    added=Done("kind_added", lazy("The station kind has been added.")),
    saved=Done("kind_saved", lazy("The station kind has been saved.")),
    retired=Done("kind_retired", lazy("The station kind has been retired.")),
    lines="stations/_kind_lines.html",
    fields="stations/_kind_fields.html",
    form_fields=("name_pattern",),
    choices={"node_kinds": len(NODE_KINDS) + 1},
    form_limit=400,
    new_form={"node_kinds": [], "sort": "0"},
    item_form=lambda kind: {"node_kinds": list(kind.node_kinds), "name_pattern": kind.name_pattern},
    context=_kind_context,
    intro="stations/_kind_example.html",
)


async def _checklist_context(ctx: TenantContext, item) -> dict:
    if item is not None:
        return {}
    return {"title_note": (await get_config(ctx.db, ctx.tenant.id)).checklist_name}


CHECKLIST_PAGES = CodedListPages(
    coded_list=CHECKLIST,
    path="/settings/checklist",
    id_name="item_id",
    texts=Texts(
        title=lazy("Standards checklist"),
        empty=lazy("The checklist is empty."),
        add_heading=lazy("Add a checklist item"),
        add_button=lazy("Add the item"),
        name_label=lazy("Checklist item"),
        code_label=lazy("Code (optional, used by presets)"),
        save_button=lazy("Save the item"),
        retire_heading=lazy("Retire the item"),
        retire_help=lazy("Scores already given are kept; stations are no longer scored on this item."),
        retire_button=lazy("Retire this item"),
        retired=lazy("retired item"),
    ),
    added=Done("item_added", lazy("The checklist item has been added.")),
    saved=Done("item_saved", lazy("The checklist item has been saved.")),
    retired=Done("item_retired", lazy("The checklist item has been retired.")),
    lines="stations/_checklist_lines.html",
    form_limit=400,
    saved_to_list=True,
    context=_checklist_context,
)

route_handlers = [*coded_list_routes(STATION_KIND_PAGES), *coded_list_routes(CHECKLIST_PAGES)]
