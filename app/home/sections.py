"""The sections of a unit's pages and who sees each in the menu (app/templates/tenancy/_nav.html).

A menu link must never lead to "page not found", so each section's roles are the very tuples its
route checks, imported from the domain's access rules; where a route names its roles inline, they
are repeated here and tests/core/test_menus.py (every demo login follows every menu link) holds the
two together. Above the domains, so it may read them all; the app hands ``visible`` to the templates.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.activities.access import VIEW_ROLES as ACTIVITY_ROLES
from app.binder.access import BINDER_ROLES
from app.accounts.models import ROLES
from app.cases.access import VIEW_ROLES as CASE_ROLES
from app.compliance.engine import VIEW_ROLES as COMPLIANCE_ROLES
from app.core.i18n import lazy
from app.deputies.access import VIEW_ROLES as DEPUTY_ROLES
from app.deputies.imports import IMPORT_ROLES
from app.duties.access import DUTY_ROLES
from app.duties.appraisal import STAFF_ROLES as APPRAISAL_STAFF_ROLES
from app.duties.meetings import VIEW_ROLES as MEETING_ROLES
from app.duties.points import RESOLVE_ROLES as POINT_RESOLVE_ROLES
from app.duties.points import VIEW_ROLES as POINT_ROLES
from app.duties.settings import EDIT_ROLES as DUTY_SETTINGS_ROLES
from app.stations.access import VIEW_ROLES as STATION_ROLES
from app.tenancy.services import PLACES_ROLES

APPRAISAL_ROLES = (*APPRAISAL_STAFF_ROLES, "deputy")  # a deputy sees their own notice there
ADMIN_ROLES = ("county_admin",)  # settings, members and audit routes: ctx.require_role("county_admin")
JOINT_LIST_ROLES = ("county_admin", "viewer")  # app/joint/routes.py joint_list


@dataclass(frozen=True)
class Section:
    path: str  # below /t/<slug>
    label: str  # msgid
    roles: tuple[str, ...]
    kinds: tuple[str, ...] = ("county", "joint")  # kinds of tenant that have the section


SECTIONS = (
    Section("/", lazy("Home"), ROLES),
    Section("/places", lazy("Administrative divisions"), PLACES_ROLES),
    Section("/stations", lazy("Homes and stations"), STATION_ROLES),
    Section("/deputies", lazy("Deputies"), DEPUTY_ROLES),
    Section("/duties", lazy("Duty dossiers"), DUTY_ROLES, kinds=("county",)),
    Section("/activities", lazy("Activities"), ACTIVITY_ROLES),
    Section("/compliance", lazy("Compliance board"), COMPLIANCE_ROLES),
    Section("/cases", lazy("Opinions and cases"), CASE_ROLES),
    Section("/suggestions", lazy("Deputies' suggestions"), CASE_ROLES),  # the list checks the cases' roles
    Section("/binder", lazy("Station binder"), BINDER_ROLES, kinds=("county",)),
    Section("/imports", lazy("Import from a spreadsheet"), IMPORT_ROLES),
    Section("/joint", lazy("Joint stations"), JOINT_LIST_ROLES, kinds=("county",)),
    Section("/settings", lazy("County settings"), ADMIN_ROLES),
    Section("/members", lazy("Members and invitations"), ADMIN_ROLES),
    Section("/audit", lazy("Audit log"), ADMIN_ROLES),
)


# The duty pages' own menu (duties/_subnav.html): dossiers, points, duty reports to the voters, the
# appraisal and the county's duty settings.
DUTY_SECTIONS = (
    Section("/duties", lazy("Duty dossiers"), DUTY_ROLES, kinds=("county",)),
    Section("/points/mine", lazy("My points"), ("deputy",), kinds=("county",)),
    Section("/points", lazy("Duty points"), POINT_ROLES, kinds=("county",)),
    Section("/points/corrections", lazy("Corrections to points"), POINT_RESOLVE_ROLES, kinds=("county",)),
    Section("/duty-reports", lazy("Duty reports to the voters"), MEETING_ROLES, kinds=("county",)),
    Section("/appraisals", lazy("Yearly duty appraisal"), APPRAISAL_ROLES, kinds=("county",)),
    Section("/settings/duties", lazy("Duty settings"), DUTY_SETTINGS_ROLES, kinds=("county",)),
)


def _opened(sections, tenant, membership) -> list[Section]:
    if tenant is None or membership is None:
        return []
    return [s for s in sections if membership.role in s.roles and tenant.kind in s.kinds]


def visible(tenant, membership) -> list[Section]:
    """The sections a member opens in this tenant, in menu order."""
    return _opened(SECTIONS, tenant, membership)


def duty_sections(tenant, membership) -> list[Section]:
    """The duty pages' menu entries a member opens, in order."""
    return _opened(DUTY_SECTIONS, tenant, membership)
