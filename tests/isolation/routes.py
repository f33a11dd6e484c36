"""Route discovery for the isolation tests: every HTTP route the app has, read from the app itself,
so routes added later are attacked without anyone editing these tests."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from urllib.parse import quote

from litestar.routes import HTTPRoute

PARAM = re.compile(r"\{([^}:]+)(?::([^}]+))?\}")
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# path parameter name -> the tenant table whose ids it names
ID_TABLES = {
    "member_id": "memberships", "membership_id": "memberships",
    "invitation_id": "invitations", "invite_id": "invitations",
    "node_id": "admin_nodes", "scope_node_id": "admin_nodes", "parent_id": "admin_nodes", "place_id": "admin_nodes",
    "audit_id": "audit_log", "audit_entry_id": "audit_log",
    "station_id": "stations", "kind_id": "station_kinds", "goal_id": "station_goals", "item_id": "checklist_items",
    "staff_id": "station_staff", "event_id": "station_events", "image_id": "images",
    "deputy_id": "deputies", "group_id": "deputy_groups", "mandate_id": "deputy_mandates",
    "assignment_id": "station_deputies", "commitment_id": "deputy_commitments",
    "entry_id": "roster_entries", "contact_id": "roster_contacts", "job_id": "import_jobs",
    "activity_id": "activities", "activity_kind_id": "activity_kinds", "plan_id": "activity_plans",
    "photo_id": "activity_photos", "opinion_id": "opinions", "suggestion_id": "suggestions",
    "rule_id": "activity_rules", "code_id": "signin_codes", "activity_event_id": "activity_events",
    "case_id": "cases", "category_id": "case_categories", "unit_id": "handling_units",
    "handling_unit_id": "handling_units", "due_rule_id": "case_due_rules", "case_photo_id": "case_photos",
    "opening_id": "mailbox_openings", "case_event_id": "case_events",
    "outbox_id": "outbox",
    "export_id": "data_exports",
    "build_id": "binder_builds",
    "selection_id": "model_stations",
    "duty_entry_id": "duty_entries",
    "points_item_id": "points_items", "points_correction_id": "points_corrections",
}


@dataclass
class Endpoint:
    path: str  # Litestar's template, e.g. /t/{tenant_slug:str}/members/{member_id:int}
    method: str
    opt: dict

    @property
    def params(self) -> list[tuple[str, str]]:
        return [(m.group(1), m.group(2) or "str") for m in PARAM.finditer(self.path)]

    @property
    def unsafe(self) -> bool:
        return self.method not in SAFE_METHODS

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def url(self, values: dict[str, object]) -> str:
        def fill(m: re.Match) -> str:
            return quote(str(values[m.group(1)]), safe="/")

        return PARAM.sub(fill, self.path) or "/"


def endpoints(app) -> list[Endpoint]:
    out = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods):
                out.append(Endpoint(path=route.path, method=method, opt=dict(handler.opt or {})))
    return _unique(out)


def _unique(items: list[Endpoint]) -> list[Endpoint]:
    seen, out = set(), []
    for e in sorted(items, key=lambda e: (e.path, e.method)):
        if (e.path, e.method) not in seen:
            seen.add((e.path, e.method))
            out.append(e)
    return out


def is_record_param(name: str, kind: str) -> bool:
    """A parameter that names a record (ids, tokens), as opposed to a page number or a year."""
    if kind == "int":
        return name == "id" or name.endswith("_id")
    if kind in ("str", "uuid"):
        return name != "tenant_slug" and ("token" in name or name.endswith("_id") or kind == "uuid")
    return False


def neutral(name: str, kind: str) -> object:
    return {"int": 1, "uuid": uuid.UUID(int=1), "path": "x"}.get(kind, "x")


def normalise(text: str, *paths: str) -> str:
    """Remove what legitimately differs between two requests: the requested path echoed back (the
    language switch links to it), CSRF tokens and request ids."""
    for path in sorted({v for p in paths for v in (p, p.rstrip("/") or "/")}, key=len, reverse=True):
        for variant in sorted({path, quote(path, safe=""), quote(path, safe="/"), quote(path)}, key=len, reverse=True):
            text = text.replace(variant, "<PATH>")
    text = re.sub(r'(name="_csrf_token" value=")[^"]*"', r'\1…"', text)
    text = re.sub(r'("x-csrftoken": ")[^"]*"', r'\1…"', text)
    text = re.sub(r"\b[0-9a-f]{16}\b", "…", text)  # request ids
    return text
