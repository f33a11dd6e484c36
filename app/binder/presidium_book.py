"""The presidium's two rosters in the binder: 人大主席团花名册 (the members of the presidium of each
township the binder's stations lie in, with their posts, the levels they sit at if deputies, mobiles
masked) and 人大代表主席团成员联系人大代表花名册 (which deputies stationed at the binder's stations each
member contacts, a line per member and station). One query each, whatever the rows. The stations are
the caller's (``access.reach``), so a station's binder holds its own township's presidium and only the
contacts with its own deputies; a roll-up every township of the stations."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.binder.models import PresidiumContact, PresidiumMember
from app.binder.receptions import covers
from app.binder.sheets import SEPARATOR
from app.core.i18n import gettext, lazy
from app.core.security import mask_mobile
from app.deputies.models import LEVEL_NAMES, LEVELS, Deputy, Mandate, StationDeputy
from app.stations.models import Station
from app.tenancy.models import AdminNode

MEMBERS_TITLE = lazy("Roster of the township presidium")
MEMBERS_HEAD = (lazy("Township"), lazy("Full name"), lazy("Post"), lazy("Deputy (levels)"), lazy("Mobile"))
CONTACTS_TITLE = lazy("Roster of presidium members' contacts with deputies")
CONTACTS_HEAD = (lazy("Township"), lazy("Presidium member"), lazy("Post"), lazy("Deputies contacted"),
                 lazy("Station"))


@dataclass
class MemberRow:
    township: str
    name: str
    post: str
    mobile: str  # masked
    deputy: bool
    levels: list[str] = field(default_factory=list)


def member_cells(row: MemberRow) -> list:
    return [row.township, row.name, row.post, SEPARATOR.join(gettext(LEVEL_NAMES[lv]) for lv in row.levels),
            row.mobile]


@dataclass
class ContactRow:
    township: str
    member: str
    post: str
    station: str
    deputies: list[str] = field(default_factory=list)


def contact_cells(row: ContactRow) -> list:
    return [row.township, row.member, row.post, SEPARATOR.join(row.deputies), row.station]


async def members(db: AsyncSession, station_ids: list[int]) -> list[MemberRow]:
    """The presidium of every township holding one of the stations, by township and place in the
    list, with the levels of those who are serving deputies: one query."""
    node = aliased(AdminNode)
    rows = await db.execute(
        select(PresidiumMember.id, node.name, PresidiumMember.name, PresidiumMember.post, PresidiumMember.mobile,
               Deputy.id, Mandate.level)
        .join(node, and_(node.tenant_id == PresidiumMember.tenant_id, node.id == PresidiumMember.node_id))
        .outerjoin(Deputy, and_(Deputy.tenant_id == PresidiumMember.tenant_id, Deputy.id == PresidiumMember.deputy_id,
                                Deputy.status == "active"))
        .outerjoin(Mandate, and_(Mandate.tenant_id == Deputy.tenant_id, Mandate.deputy_id == Deputy.id))
        .where(covers(station_ids, node))
        .order_by(node.path, PresidiumMember.sort, PresidiumMember.name, PresidiumMember.id, Mandate.id))
    found: dict[int, MemberRow] = {}
    for member_id, township, name, post, mobile, deputy_id, level in rows:
        row = found.setdefault(member_id, MemberRow(township, name, post, mask_mobile(mobile), deputy_id is not None))
        if level in LEVEL_NAMES and level not in row.levels:
            row.levels.append(level)
    for row in found.values():
        row.levels.sort(key=LEVELS.index)
    return list(found.values())


async def contacts(db: AsyncSession, station_ids: list[int]) -> list[ContactRow]:
    """Each member's contacts with serving deputies stationed at these stations, a line per member
    and station (the stations in the binder's order): one query."""
    node = aliased(AdminNode)
    rows = await db.execute(
        select(PresidiumMember.id, node.name, PresidiumMember.name, PresidiumMember.post, Station.id, Station.name,
               Deputy.name)
        .select_from(PresidiumContact)
        .join(PresidiumMember, and_(PresidiumMember.tenant_id == PresidiumContact.tenant_id,
                                    PresidiumMember.id == PresidiumContact.member_id))
        .join(node, and_(node.tenant_id == PresidiumMember.tenant_id, node.id == PresidiumMember.node_id))
        .join(Deputy, and_(Deputy.tenant_id == PresidiumContact.tenant_id, Deputy.id == PresidiumContact.deputy_id))
        .join(StationDeputy, and_(StationDeputy.tenant_id == Deputy.tenant_id, StationDeputy.deputy_id == Deputy.id))
        .join(Station, and_(Station.tenant_id == StationDeputy.tenant_id, Station.id == StationDeputy.station_id))
        .where(Deputy.status == "active", StationDeputy.ended_at.is_(None), Station.id.in_(station_ids),
               covers(station_ids, node))
        .order_by(node.path, PresidiumMember.sort, PresidiumMember.name, PresidiumMember.id, Deputy.name, Deputy.id))
    order = {sid: n for n, sid in enumerate(station_ids)}
    found: dict[tuple[int, int], ContactRow] = {}
    members_seen: list[int] = []
    for member_id, township, member, post, station_id, station, deputy in rows:
        if member_id not in members_seen:
            members_seen.append(member_id)
        found.setdefault((member_id, station_id), ContactRow(township, member, post, station)).deputies.append(deputy)
    rank = {m: n for n, m in enumerate(members_seen)}
    return [found[k] for k in sorted(found, key=lambda k: (rank[k[0]], order.get(k[1], 0)))]
