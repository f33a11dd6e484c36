"""人大接待代表登记簿: the township presidium or the county congress receiving deputies — recording one,
adding or changing its reply later, and reading the register.

Who records: county admins, for the county congress or any township; township staff, for their own
township only (a township out of reach is refused, as is the county for them). The deputies received
are serving deputies in the member's reach (``app.deputies.access.deputies_in_scope``): every id from
the form is checked, and one missing, out of reach, retired or another tenant's refuses the whole.

The register of a station (or of the stations in reach, rolled up) holds the county congress's
receptions and those of the presidium of each township the stations lie in (a township is the
ancestor of the station's node, or the node itself, whose kind is a township's or a street's).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.audit.services import record
from app.binder.models import MAX_MATTER, MAX_RECEIVED_BY, MAX_REPLY, DeputyReception, DeputyReceptionDeputy
from app.core.db import as_id
from app.core.errors import NotFound, Refusal
from app.core.i18n import gettext, lazy
from app.deputies.access import deputies_in_scope
from app.deputies.models import Deputy, StationDeputy
from app.deputies.services import Actor
from app.stations.models import Station
from app.tenancy.config import TOWNSHIP_KINDS
from app.tenancy.models import AdminNode
from app.tenancy.scope import Scope

RECORD_ROLES = ("county_admin", "township_staff")
MAX_DEPUTIES = 200  # deputies received at once: a county's whole congress fits

COUNTY_BODY = lazy("The county people's congress")
PRESIDIUM_OF = lazy("Presidium of %(township)s")
BAD_BODY = lazy("Please choose the township whose presidium received the deputies (or the county congress, "
                "for county staff).")
BAD_DAY = lazy("Please give the day of the reception as a date, not after today.")
BAD_RECEIVED_BY = lazy("Please say who received the deputies, in at most %(max)s characters.")
BAD_MATTER = lazy("Please write the matter the deputies raised, in at most %(max)s characters.")
BAD_REPLY = lazy("The reply can be at most %(max)s characters.")
NO_DEPUTIES = lazy("Please choose the deputies received.")
BAD_DEPUTIES = lazy("A deputy chosen is not a serving deputy in your reach. Please choose again.")


@dataclass
class ReceptionLine:
    reception_id: int
    node_id: int | None
    day: date
    body: str  # the receiving body: the county congress, or the presidium of a township
    received_by: str
    matter: str
    reply: str
    deputies: list[str] = field(default_factory=list)


def require_record(scope: Scope) -> None:
    """Recording and replying are the county's and the townships' work: anyone else sees no form."""
    if scope.role not in RECORD_ROLES:
        raise NotFound()


async def townships(db: AsyncSession, scope: Scope) -> list[tuple[int, str]]:
    """The townships (and streets) whose presidium the member records for, in place order."""
    rows = await db.execute(
        select(AdminNode.id, AdminNode.name)
        .where(AdminNode.kind.in_(TOWNSHIP_KINDS), AdminNode.retired_at.is_(None), scope.nodes(AdminNode.path))
        .order_by(AdminNode.path))
    return [(nid, name) for nid, name in rows]


@dataclass
class DeputyGroup:
    """The form's deputies of one township (by their stations there); ``township`` None: deputies in
    reach stationed nowhere in a township (county-level stations, or none)."""

    township: str | None
    deputies: list[tuple[int, str]] = field(default_factory=list)


async def deputy_choices(db: AsyncSession, scope: Scope) -> list[DeputyGroup]:
    """The serving deputies in the member's reach, grouped by the township of their stations (a county
    holds hundreds: the form folds each township), by name within a group: one query. A deputy stationed
    in two townships is offered in both; the form sends the id once or twice, and the check takes it once."""
    township = aliased(AdminNode)
    node = aliased(AdminNode)
    rows = await db.execute(
        select(Deputy.id, Deputy.name, township.name, township.path)
        .outerjoin(StationDeputy, and_(StationDeputy.tenant_id == Deputy.tenant_id,
                                       StationDeputy.deputy_id == Deputy.id, StationDeputy.ended_at.is_(None)))
        .outerjoin(Station, and_(Station.tenant_id == StationDeputy.tenant_id, Station.id == StationDeputy.station_id))
        .outerjoin(node, and_(node.tenant_id == Station.tenant_id, node.id == Station.node_id))
        .outerjoin(township, and_(township.tenant_id == node.tenant_id, township.kind.in_(TOWNSHIP_KINDS),
                                  node.path.startswith(township.path)))
        .where(Deputy.status == "active", deputies_in_scope(scope))
        .order_by(township.path.nulls_last(), Deputy.name, Deputy.id))
    groups: dict[str | None, DeputyGroup] = {}
    seen: set[tuple[str | None, int]] = set()
    for did, name, place, _path in rows:
        if (place, did) in seen:
            continue
        seen.add((place, did))
        groups.setdefault(place, DeputyGroup(place)).deputies.append((did, name))
    if None in groups:  # a deputy also stationed in a township needs no "elsewhere" line
        placed = {did for (place, did) in seen if place is not None}
        groups[None].deputies = [d for d in groups[None].deputies if d[0] not in placed]
        if not groups[None].deputies:
            del groups[None]
    return list(groups.values())


async def _body(db: AsyncSession, scope: Scope, value: str) -> int | None:
    """The receiving body chosen: None for the county congress (county admins only), else a township
    in reach; anything else is refused."""
    text = str(value or "").strip()
    if text == "county" and scope.role == "county_admin":
        return None
    wanted = as_id(text)
    if wanted is None or wanted not in {nid for nid, _ in await townships(db, scope)}:
        raise Refusal(BAD_BODY, input_name="node_id")
    return wanted


def _day(value: str, today: date) -> date:
    try:
        day = date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise Refusal(BAD_DAY, input_name="received_on") from None
    if day > today:
        raise Refusal(BAD_DAY, input_name="received_on")
    return day


def _text(value: str, limit: int, message: str, name: str, *, required: bool = True) -> str:
    text = str(value or "").strip()
    if (required and not text) or len(text) > limit:
        raise Refusal(message, input_name=name, max=limit)
    return text


async def _deputies(db: AsyncSession, scope: Scope, values: list[str]) -> list[int]:
    """The deputies chosen, each a serving deputy in reach (one query); one bad id refuses them all."""
    if not values:
        raise Refusal(NO_DEPUTIES, input_name="deputy_id")
    ids = [as_id(v) for v in values]
    if None in ids or len(set(ids)) > MAX_DEPUTIES:
        raise Refusal(BAD_DEPUTIES, input_name="deputy_id")
    wanted = sorted(set(ids))
    found = set(await db.scalars(select(Deputy.id).where(Deputy.id.in_(wanted), Deputy.status == "active",
                                                         deputies_in_scope(scope))))
    if found != set(wanted):
        raise Refusal(BAD_DEPUTIES, input_name="deputy_id")
    return wanted


async def record_reception(db: AsyncSession, actor: Actor, *, node_id: str, received_on: str, received_by: str,
                           matter: str, reply: str, deputy_ids: list[str], today: date,
                           now: datetime) -> DeputyReception:
    """Record one reception (checked whole before anything is written); audited."""
    require_record(actor.scope)
    node = await _body(db, actor.scope, node_id)
    day = _day(received_on, today)
    who = " ".join(str(received_by or "").split())
    if not who or len(who) > MAX_RECEIVED_BY:
        raise Refusal(BAD_RECEIVED_BY, input_name="received_by", max=MAX_RECEIVED_BY)
    what = _text(matter, MAX_MATTER, BAD_MATTER, "matter")
    answer = _text(reply, MAX_REPLY, BAD_REPLY, "reply", required=False)
    deputies = await _deputies(db, actor.scope, deputy_ids)
    reception = DeputyReception(tenant_id=actor.tenant_id, node_id=node, received_on=day, received_by=who,
                                matter=what, reply=answer, replied_at=now if answer else None,
                                replied_by=actor.user_id if answer else None, created_by=actor.user_id)
    db.add(reception)
    await db.flush()
    db.add_all([DeputyReceptionDeputy(tenant_id=actor.tenant_id, reception_id=reception.id, deputy_id=d)
                for d in deputies])
    await db.flush()
    await record(db, tenant_id=actor.tenant_id, actor_user_id=actor.user_id, action="deputy_reception_recorded",
                 target=f"deputy_reception:{reception.id}", client_addr=actor.client_addr,
                 details={"node_id": node, "received_on": day.isoformat(), "deputies": deputies})
    return reception


async def reception_for_reply(db: AsyncSession, scope: Scope, value: str | None) -> DeputyReception:
    """A reception the member may answer: county admins any, township staff their townships' (not the
    county congress's). Missing, another tenant's or out of reach: the same 404."""
    require_record(scope)
    wanted = as_id(value)
    reception = None
    if wanted is not None:
        reception = await db.scalar(select(DeputyReception).where(DeputyReception.id == wanted).with_for_update())
    if reception is None:
        raise NotFound()
    if scope.role != "county_admin":
        if reception.node_id is None or reception.node_id not in {nid for nid, _ in await townships(db, scope)}:
            raise NotFound()
    return reception


async def set_reply(db: AsyncSession, actor: Actor, reception: DeputyReception, *, reply: str,
                    now: datetime) -> DeputyReception:
    """Add or change the reply (empty takes it back: not yet answered); audited."""
    require_record(actor.scope)
    answer = _text(reply, MAX_REPLY, BAD_REPLY, "reply", required=False)
    reception.reply = answer
    reception.replied_at = now if answer else None
    reception.replied_by = actor.user_id if answer else None
    await db.flush()
    await record(db, tenant_id=actor.tenant_id, actor_user_id=actor.user_id, action="deputy_reception_replied",
                 target=f"deputy_reception:{reception.id}", client_addr=actor.client_addr,
                 details={"answered": bool(answer)})
    return reception


def covers(station_ids: list[int], node):
    """The reception's township holds one of these stations (its node, or an ancestor of it)."""
    station_node = aliased(AdminNode)
    return exists(
        select(1).select_from(Station)
        .join(station_node, and_(station_node.tenant_id == Station.tenant_id, station_node.id == Station.node_id))
        .where(Station.id.in_(station_ids), station_node.path.startswith(node.path))
        .correlate(node))


async def register(db: AsyncSession, station_ids: list[int], year: int) -> list[ReceptionLine]:
    """The register for these stations and year: the county congress's receptions and those of the
    stations' townships' presidiums, by day. Two queries (the receptions, then their deputies)."""
    node = aliased(AdminNode)
    rows = await db.execute(
        select(DeputyReception, node.name)
        .outerjoin(node, and_(node.tenant_id == DeputyReception.tenant_id, node.id == DeputyReception.node_id))
        .where(DeputyReception.received_on.between(date(year, 1, 1), date(year, 12, 31)),
               or_(DeputyReception.node_id.is_(None), covers(station_ids, node)))
        .order_by(DeputyReception.received_on, DeputyReception.id))
    lines = [ReceptionLine(r.id, r.node_id, r.received_on,
                           gettext(PRESIDIUM_OF, township=name) if r.node_id else gettext(COUNTY_BODY),
                           r.received_by, r.matter, r.reply) for r, name in rows]
    names: dict[int, list[str]] = defaultdict(list)
    for reception_id, name in await db.execute(
            select(DeputyReceptionDeputy.reception_id, Deputy.name)
            .join(Deputy, and_(Deputy.tenant_id == DeputyReceptionDeputy.tenant_id,
                               Deputy.id == DeputyReceptionDeputy.deputy_id))
            .where(DeputyReceptionDeputy.reception_id.in_([line.reception_id for line in lines]))
            .order_by(Deputy.name, Deputy.id)):
        names[reception_id].append(name)
    for line in lines:
        line.deputies = names[line.reception_id]
    return lines
