"""The county's station kinds and standards checklist, two coded lists (app.tenancy.coded_lists).

A station kind says where a station of that kind may be set up and how its canonical name is made
(a name pattern, app.tenancy.config.canonical_name); unlike the other lists, its code stays on its form
and may be changed. A retired kind keeps its stations; no new station can be of it. A retired checklist
item keeps the scores already given; stations are no longer scored on it.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Refusal
from app.core.i18n import lazy
from app.stations.models import ChecklistItem, StationKind
from app.tenancy.coded_lists import Audit, CodedList, Messages
from app.tenancy.config import PLACEHOLDER_RE, PLACEHOLDERS, canonical_name
from app.tenancy.models import NODE_KINDS, AdminNode


def check_pattern(pattern: str) -> str:
    pattern = (pattern or "").strip()
    if len(pattern) > 200:
        raise Refusal(lazy("The name pattern has at most 200 characters."))
    unknown = [p for p in PLACEHOLDER_RE.findall(pattern) if p not in PLACEHOLDERS]
    if unknown:
        raise Refusal(lazy("Unknown placeholder {%(name)s}: use {city}, {county}, {township}, {village} or {kind}."),
                      name=unknown[0])
    if pattern.count("{") != pattern.count("}"):
        raise Refusal(lazy("The name pattern has an unmatched brace."))
    return pattern


async def _kind_fields(db: AsyncSession, values: dict) -> dict:
    node_kinds = values.get("node_kinds") or []
    if not node_kinds:
        raise Refusal(lazy("Tick at least one kind of place where it may be set up."))
    if any(k not in NODE_KINDS for k in node_kinds):
        raise Refusal(lazy("Choose the kinds of place from the list."))
    return {"node_kinds": [k for k in NODE_KINDS if k in node_kinds],
            "name_pattern": check_pattern(values.get("name_pattern", ""))}


STATION_KINDS = CodedList(
    model=StationKind,
    messages=Messages(
        name_required=lazy("The name of the kind is required (at most 40 characters)."),
        name_taken=lazy("Another station kind is already called “%(name)s”."),
        code_taken=lazy("Another station kind already has the code “%(code)s”."),
        already_retired=lazy("This station kind is already retired."),
    ),
    audit=Audit(target="station_kind", added="station_kind_added", changed="station_kind_changed",
                retired="station_kind_retired", saved_details=("code", "name", "node_kinds", "name_pattern"),
                retired_details=("name",)),
    code_editable=True,
    check=_kind_fields,
)

CHECKLIST = CodedList(
    model=ChecklistItem,
    name_column="label",
    name_max=200,
    code_prefix="item",
    messages=Messages(
        name_required=lazy("The checklist item's text is required (at most 200 characters)."),
        name_taken=lazy("The checklist already has “%(label)s”."),
        code_taken=lazy("Another checklist item already has the code “%(code)s”."),
        already_retired=lazy("This checklist item is already retired."),
    ),
    audit=Audit(target="checklist_item", added="checklist_item_added", changed="checklist_item_changed",
                retired="checklist_item_retired", saved_details=("code", "label", "sort"),
                retired_details=("label",)),
)


async def example_name(db: AsyncSession, kind: StationKind) -> str | None:
    """The canonical name a station of this kind would bear at a real, live place of one of its kinds
    of place (the deepest one), for the kind's page; None without a pattern or such a place."""
    if not kind.name_pattern:
        return None
    node = await db.scalar(
        select(AdminNode).where(AdminNode.kind.in_(list(kind.node_kinds) or ["-"]), AdminNode.retired_at.is_(None))
        .order_by(func.length(AdminNode.path).desc(), AdminNode.id).limit(1)
    )
    if node is None:
        return None
    ids = [int(p) for p in node.path.strip("/").split("/") if p]
    nodes = {n.id: n for n in (await db.scalars(select(AdminNode).where(AdminNode.id.in_(ids)))).all()}
    chain = [nodes[i] for i in ids if i in nodes]
    return canonical_name(kind.name_pattern, chain, kind.name) if chain else None
