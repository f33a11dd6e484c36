"""The county's kinds of activity, on its settings pages (county admins only):
/settings/activity-kinds (list and add), /settings/activity-kinds/{id} (rename, reorder, retire)."""

from __future__ import annotations

from app.activities.kind_services import ACTIVITY_KINDS, list_kinds, rules_counting
from app.core.i18n import lazy
from app.tenancy.access import TenantContext
from app.tenancy.coded_list_routes import CodedListPages, Done, Texts, coded_list_routes


async def _context(ctx: TenantContext, kind) -> dict:
    # A kind counted by a rule in force cannot be retired: its page names the rules instead.
    return {} if kind is None else {"in_use": await rules_counting(ctx.db, kind.code)}


ACTIVITY_KIND_PAGES = CodedListPages(
    coded_list=ACTIVITY_KINDS,
    path="/settings/activity-kinds",
    id_name="activity_kind_id",
    texts=Texts(
        title=lazy("Kinds of activity"),
        empty=lazy("No kind of activity yet."),
        note=lazy("A retired kind keeps its activities but is no longer offered for new ones."),
        add_heading=lazy("Add a kind of activity"),
        add_button=lazy("Add the kind of activity"),
        name_label=lazy("Name of the kind of activity"),
        code_label=lazy("Code (optional, used by presets and rules)"),
        save_button=lazy("Save the kind of activity"),
        retire_heading=lazy("Retire the kind of activity"),
        retire_help=lazy("Activities of this kind keep it; no new activity can be of it."),
        retire_button=lazy("Retire this kind of activity"),
        retired=lazy("retired kind"),
    ),
    added=Done("added", lazy("The kind of activity has been added.")),
    saved=Done("saved", lazy("The kind of activity has been saved.")),
    retired=Done("retired", lazy("The kind of activity has been retired.")),
    lines="activities/_kind_lines.html",
    load_lines=lambda ctx: list_kinds(ctx.db),
    context=_context,
    intro="activities/_kind_code.html",
    in_use_note="activities/_kind_in_use.html",
)

route_handlers = coded_list_routes(ACTIVITY_KIND_PAGES)
