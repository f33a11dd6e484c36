"""Deputy groups (代表小组): the list, members, creating, renaming and choosing a leader."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.core.errors import Refusal
from app.core.i18n import lazy
from app.deputies.access import deputies_in_scope
from app.deputies.models import Deputy, DeputyGroup
from app.deputies.listing import DeputyRow, fill_levels_and_stations
from app.deputies.services import NOT_ALLOWED, Actor, _audit, _id_or
from app.tenancy.scope import Scope

GROUP_NAME_REQUIRED = lazy("Please enter the group's name.")
GROUP_NAME_TOO_LONG = lazy("The group's name is too long (at most %(max)s characters).")
GROUP_NAME_TAKEN = lazy("There is already a group with this name.")
LEADER_NOT_MEMBER = lazy("The leader must be a member of the group: choose one from the list.")
GROUP_NAME_MAX = 60


# --- groups -----------------------------------------------------------------------------------

@dataclass
class GroupRow:
    group: DeputyGroup
    members: int
    leader_name: str | None


def _group_name(value: object) -> str:
    name = " ".join(str(value or "").split())
    if not name:
        raise Refusal(GROUP_NAME_REQUIRED)
    if len(name) > GROUP_NAME_MAX:
        raise Refusal(GROUP_NAME_TOO_LONG, max=GROUP_NAME_MAX)
    return name


async def list_groups(db: AsyncSession, scope: Scope) -> list[GroupRow]:
    """Every group, with the number of its members the member can see, and its leader."""
    leader = aliased(Deputy)
    counts = (
        select(Deputy.group_id, func.count().label("n")).where(deputies_in_scope(scope), Deputy.status == "active")
        .group_by(Deputy.group_id).subquery()
    )
    rows = (await db.execute(
        select(DeputyGroup, func.coalesce(counts.c.n, 0), leader.name)
        .outerjoin(counts, counts.c.group_id == DeputyGroup.id)
        .outerjoin(leader, and_(leader.tenant_id == DeputyGroup.tenant_id, leader.id == DeputyGroup.leader_deputy_id))
        .order_by(DeputyGroup.name)
    )).all()
    return [GroupRow(g, n, name) for g, n, name in rows]


async def group_members(db: AsyncSession, scope: Scope, group: DeputyGroup) -> list[DeputyRow]:
    rows = (await db.scalars(
        select(Deputy).where(Deputy.group_id == group.id, deputies_in_scope(scope)).order_by(Deputy.name, Deputy.id)
    )).all()
    out = [DeputyRow(deputy=d, group_name=group.name) for d in rows]
    await fill_levels_and_stations(db, out)
    return out


async def _name_free(db: AsyncSession, name: str, except_id: int | None = None) -> None:
    clash = await db.scalar(select(DeputyGroup.id).where(DeputyGroup.name == name,
                                                         DeputyGroup.id != (except_id or 0)))
    if clash is not None:
        raise Refusal(GROUP_NAME_TAKEN)


def _require_admin(actor: Actor) -> None:
    if actor.scope.role != "county_admin":
        raise Refusal(NOT_ALLOWED)


async def create_group(db: AsyncSession, actor: Actor, name: object) -> DeputyGroup:
    _require_admin(actor)
    clean = _group_name(name)
    await _name_free(db, clean)
    group = DeputyGroup(tenant_id=actor.tenant_id, name=clean)
    db.add(group)
    await db.flush()
    await _audit(db, actor, "deputy_group_created", f"group:{group.id} {clean}")
    return group


async def rename_group(db: AsyncSession, actor: Actor, group: DeputyGroup, name: object) -> None:
    _require_admin(actor)
    clean = _group_name(name)
    if clean == group.name:
        return
    await _name_free(db, clean, group.id)
    before = group.name
    group.name = clean
    await db.flush()
    await _audit(db, actor, "deputy_group_renamed", f"group:{group.id} {clean}", {"from": before})


async def set_leader(db: AsyncSession, actor: Actor, group: DeputyGroup, deputy_id: object) -> None:
    """The leader is one of the group's serving deputies (or nobody, with an empty value)."""
    _require_admin(actor)
    did = _id_or(deputy_id, LEADER_NOT_MEMBER)
    name = None
    if did is not None:
        name = await db.scalar(select(Deputy.name).where(Deputy.id == did, Deputy.group_id == group.id,
                                                         Deputy.status == "active"))
        if name is None:
            raise Refusal(LEADER_NOT_MEMBER)
    if did == group.leader_deputy_id:
        return
    group.leader_deputy_id = did
    await db.flush()
    await _audit(db, actor, "deputy_group_leader_set", f"group:{group.id} {group.name}",
                 {"deputy_id": did, "deputy": name})
