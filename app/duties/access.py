"""Who sees and changes a deputy's dossier and its filed entries.

The dossier follows the deputy page: whoever may open a deputy (``app.deputies.access``) may open
their dossier — a deputy only their own, township and station staff the deputies in their reach,
county admins and viewers all; handling units nothing. A filed entry is reached through its deputy,
so the deputies' one scope filter decides for entries too (lists, counts, batches, fetches).
"""

from __future__ import annotations

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import MAX_ID
from app.core.errors import NotFound
from app.deputies.access import VIEW_ROLES, deputies_in_scope, require_view
from app.deputies.models import Deputy
from app.duties.models import DutyEntry
from app.tenancy.scope import Scope

# The /duties page (the review list for staff, a deputy's own dossier) opens for the deputies' roles.
DUTY_ROLES = VIEW_ROLES
# File an entry for a deputy in reach (a deputy for themself).
FILE_ROLES = ("county_admin", "township_staff", "station_staff", "deputy")
# Approve or reject filed entries of deputies in reach.
REVIEW_ROLES = ("county_admin", "township_staff")

__all__ = ["DUTY_ROLES", "FILE_ROLES", "REVIEW_ROLES", "require_view", "can_file", "can_review",
           "entries_in_scope", "access_entry"]


def can_file(scope: Scope) -> bool:
    return scope.role in FILE_ROLES


def can_review(scope: Scope) -> bool:
    return scope.role in REVIEW_ROLES


def entries_in_scope(scope: Scope):
    """Select DutyEntry joined with its Deputy, narrowed to the member's reach."""
    return (select(DutyEntry, Deputy)
            .join(Deputy, and_(Deputy.tenant_id == DutyEntry.tenant_id, Deputy.id == DutyEntry.deputy_id))
            .where(deputies_in_scope(scope)))


async def access_entry(db: AsyncSession, scope: Scope, entry_id: int) -> DutyEntry:
    """One filed entry of a deputy the member may see; missing, other tenant and out of reach alike 404."""
    require_view(scope.role)
    row = None
    if 0 < entry_id <= MAX_ID:
        row = (await db.execute(entries_in_scope(scope).where(DutyEntry.id == entry_id))).first()
    if row is None:
        raise NotFound()
    return row[0]
