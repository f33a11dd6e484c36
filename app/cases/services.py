"""Registering a case, and what every step of a case shares: the receipt code, the history, the due
dates. The workflow's steps (assign, accept, reply, feed back, rate, …) are in ``app.cases.workflow``.

Services take the acting member's scope (None for the public form) and a session bound to the
tenant, raise ``Refusal`` (nothing written) for bad input, and do not commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import Activity
from app.audit.services import record
from app.cases import notices
from app.cases.access import REGISTER_ROLES
from app.cases.codes import new_code
from app.cases.models import SOURCES, URGENCIES, Case, CaseCategory, CaseEvent, CasePhoto, DueRule
from app.core.calendar import WorkingCalendar
from app.core.errors import Refusal
from app.core.images import store_image
from app.core.i18n import lazy
from app.deputies.access import deputies_in_scope
from app.deputies.models import Deputy, StationDeputy
from app.notify import work
from app.stations.access import station_filter
from app.stations.models import Station
from app.tenancy.config import Config
from app.tenancy.models import AdminNode
from app.tenancy.scope import Scope

CONTENT_MAX = 4000
NAME_MAX = 40
NOTE_MAX = 4000
MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")

CONTENT_REQUIRED = lazy("Please write down the opinion or problem.")
CONTENT_TOO_LONG = lazy("The opinion may have at most %(max)s characters.")
PERSON_NAME_TOO_LONG = lazy("The name may have at most %(max)s characters.")
MOBILE_BAD = lazy("“%(value)s” is not a mobile number: it needs 11 digits starting with 13 to 19.")
SOURCE_BAD = lazy("Please choose where the opinion came from.")
CATEGORY_BAD = lazy("Please choose a category of this county.")
URGENCY_BAD = lazy("Please choose whether the case is urgent.")
PLACE_REQUIRED = lazy("Please choose the station or the place the case concerns.")
DEPUTY_BAD = lazy("The deputy who received it must be a serving deputy of this county.")
DEPUTY_NOT_SELF = lazy("A deputy registers only the opinions they received themselves.")
ACTIVITY_BAD = lazy("The activity must be one of this station's.")
NOT_ALLOWED_TO_REGISTER = lazy("You may not register cases here.")


def new_receipt_code() -> str:
    return new_code()


def add_event(db: AsyncSession, case: Case, action: str, actor_id: int | None, *, to_state: str | None = None,
              from_state: str | None = None, note: str = "", data: dict | None = None, public: bool = False) -> None:
    db.add(CaseEvent(tenant_id=case.tenant_id, case_id=case.id, action=action, from_state=from_state,
                     to_state=to_state, note=note[:NOTE_MAX], data=data or {}, public=public, actor_user_id=actor_id))
    work.case_event(db, case, action, actor_id, from_state=from_state, to_state=to_state)  # who acts next is told


def check_mobile(value: str | None) -> str | None:
    value = re.sub(r"[\s-]", "", value or "")
    if not value:
        return None
    if value.startswith("+86"):
        value = value[3:]
    if not MOBILE_RE.match(value):
        raise Refusal(MOBILE_BAD, value=value[:20])
    return value


@dataclass
class NewCase:
    content: str
    source: str
    person_name: str = ""
    person_mobile: str | None = None  # only if the person wants an answer
    category_id: int | None = None
    station_id: int | None = None
    node_id: int | None = None  # a place of the tree, when no station
    deputy_id: int | None = None
    activity_id: int | None = None
    opinion_id: int | None = None
    urgency: str = "normal"


async def _place(db: AsyncSession, scope: Scope | None, new: NewCase,
                 station: Station | None) -> tuple[Station | None, int]:
    """The station and the node the case belongs to: a station in operation the member may register at
    (a deputy: one they are stationed at), else a place in a staff member's reach. The same choices
    as the form offers (``views.station_choices``), whatever the request body says. ``station``: the
    public form's, found in operation already (``app.public.access.public_station``)."""
    if scope is None and station is not None and station.id == new.station_id:
        return station, station.node_id
    if new.station_id:
        query = select(Station).join(AdminNode, and_(AdminNode.tenant_id == Station.tenant_id,
                                                     AdminNode.id == Station.node_id)).where(
            Station.id == new.station_id, Station.status == "active")
        if scope is not None:
            query = query.where(station_filter(scope))
        station = await db.scalar(query)
        if station is None:
            raise Refusal(PLACE_REQUIRED)
        return station, station.node_id
    if new.node_id and scope is not None and scope.role in ("county_admin", "township_staff"):
        node = await db.scalar(select(AdminNode).where(AdminNode.id == new.node_id, AdminNode.retired_at.is_(None),
                                                       scope.nodes(AdminNode.path)))
        if node is not None:
            return None, node.id
    raise Refusal(PLACE_REQUIRED)


async def _deputy(db: AsyncSession, scope: Scope | None, new: NewCase, station: Station | None) -> int | None:
    """The deputy who received it: a deputy registers as themselves; staff choose a serving deputy
    stationed at the case's station (or, without a station, one in their reach)."""
    if scope is not None and scope.role == "deputy":
        own = await db.scalar(select(Deputy.id).where(Deputy.user_id == scope.user_id).order_by(Deputy.id).limit(1))
        if new.deputy_id is not None and new.deputy_id != own:
            raise Refusal(DEPUTY_NOT_SELF)
        return own
    if new.deputy_id is None:
        return None
    query = select(Deputy.id).where(Deputy.id == new.deputy_id, Deputy.status == "active")
    if station is not None:
        query = query.where(select(StationDeputy.id).where(
            StationDeputy.deputy_id == Deputy.id, StationDeputy.station_id == station.id,
            StationDeputy.ended_at.is_(None)).exists())
    elif scope is not None:
        query = query.where(deputies_in_scope(scope))
    if await db.scalar(query) is None:
        raise Refusal(DEPUTY_BAD)
    return new.deputy_id


async def check_new(db: AsyncSession, scope: Scope | None, new: NewCase, station: Station | None = None
                    ) -> tuple[Station | None, int, str | None, int | None]:
    content = (new.content or "").strip()
    if not content:
        raise Refusal(CONTENT_REQUIRED)
    if len(content) > CONTENT_MAX:
        raise Refusal(CONTENT_TOO_LONG, max=CONTENT_MAX)
    if len((new.person_name or "").strip()) > NAME_MAX:
        raise Refusal(PERSON_NAME_TOO_LONG, max=NAME_MAX)
    mobile = check_mobile(new.person_mobile)
    if new.source not in SOURCES:
        raise Refusal(SOURCE_BAD)
    if new.urgency not in URGENCIES:
        raise Refusal(URGENCY_BAD)
    if new.category_id is not None and await db.scalar(
            select(CaseCategory.id).where(CaseCategory.id == new.category_id, CaseCategory.retired_at.is_(None))) is None:
        raise Refusal(CATEGORY_BAD)
    station, node_id = await _place(db, scope, new, station)
    deputy_id = await _deputy(db, scope, new, station)
    if new.activity_id is not None and await db.scalar(select(Activity.id).where(
            Activity.id == new.activity_id, Activity.station_id == (station.id if station else None))) is None:
        raise Refusal(ACTIVITY_BAD)
    return station, node_id, mobile, deputy_id


async def register_case(db: AsyncSession, scope: Scope | None, *, tenant_id: int, actor_id: int | None, new: NewCase,
                        client_hash: str | None = None, client_addr: str | None = None,
                        station: Station | None = None) -> Case:
    """A new case in state "registered", with its receipt code and the first (public) step of its
    history. ``scope`` None: the public form (the station must be given, ``station`` its row when the
    form found it in operation already; nobody is the actor)."""
    if scope is not None and scope.role not in REGISTER_ROLES:
        raise Refusal(NOT_ALLOWED_TO_REGISTER, status=404)
    station, node_id, mobile, deputy_id = await check_new(db, scope, new, station)
    case = Case(
        tenant_id=tenant_id, receipt_code=new_receipt_code(), source=new.source,
        person_name=(new.person_name or "").strip(), person_mobile=mobile, content=new.content.strip(),
        category_id=new.category_id, node_id=node_id, station_id=station.id if station else None,
        deputy_id=deputy_id, activity_id=new.activity_id, opinion_id=new.opinion_id, urgency=new.urgency,
        state="registered", client_hash=client_hash, created_by=actor_id,
    )
    db.add(case)
    await db.flush()
    add_event(db, case, "registered", actor_id, to_state="registered", public=True, data={"source": new.source})
    await notices.registered(db, case)
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="case_registered", target=f"case:{case.id}",
                 client_addr=client_addr)
    return case


# --- due dates ------------------------------------------------------------------------------------

def add_days(start: date, days: int, working_days: bool, calendar: WorkingCalendar) -> date:
    """``days`` after ``start``; working days follow China's working calendar (weekends, statutory
    holidays and make-up working days: ``app.core.calendar``)."""
    if not working_days:
        return start + timedelta(days=days)
    return calendar.add_working_days(start, days)


async def due_rule(db: AsyncSession, config: Config, *, level: str, category_id: int | None,
                   urgency: str) -> tuple[int, int, bool]:
    """(reply days, feedback days, working days?) from the most specific matching rule, else the
    tenant's defaults (working days)."""
    rules = list(await db.scalars(select(DueRule)))
    best, best_score = None, -1
    for rule in rules:
        if (rule.level not in (None, level) or rule.category_id not in (None, category_id)
                or rule.urgency not in (None, urgency)):
            continue
        score = (rule.category_id is not None) * 4 + (rule.urgency is not None) * 2 + (rule.level is not None)
        if score > best_score:
            best, best_score = rule, score
    if best is None:
        return config.case_reply_days, config.case_feedback_days, True
    return best.reply_days, best.feedback_days, best.working_days


def today_in(tz) -> date:
    return datetime.now(timezone.utc).astimezone(tz).date()


# --- opinions of the activities, photos, personal data ---------------------------------------------

async def register_opinion_case(db: AsyncSession, *, tenant_id: int, actor_id: int | None, opinion, source: str,
                                client_addr: str | None = None) -> Case:
    """The case of an opinion registered at an activity or in a deputy's register (already checked
    there): same station, deputy and activity. Without a station (a group activity, a deputy at
    several stations) the case belongs to the deputy's first station, else to the county's root."""
    station_id, node_id = opinion.station_id, None
    if station_id is None and opinion.deputy_id is not None:
        station_id = await db.scalar(select(StationDeputy.station_id).where(
            StationDeputy.deputy_id == opinion.deputy_id, StationDeputy.ended_at.is_(None))
            .order_by(StationDeputy.station_id).limit(1))
    if station_id is not None:
        node_id = await db.scalar(select(Station.node_id).where(Station.id == station_id))
    if node_id is None:
        node_id = await db.scalar(select(AdminNode.id).where(AdminNode.parent_id.is_(None)).order_by(AdminNode.id)
                                  .limit(1))
    case = Case(tenant_id=tenant_id, receipt_code=new_receipt_code(), source=source if source in SOURCES else "other",
                person_name=(opinion.raised_by or "")[:NAME_MAX], content=opinion.content[:CONTENT_MAX],
                node_id=node_id, station_id=station_id, deputy_id=opinion.deputy_id, activity_id=opinion.activity_id,
                opinion_id=opinion.id, state="registered", created_by=actor_id)
    db.add(case)
    await db.flush()
    add_event(db, case, "registered", actor_id, to_state="registered", public=True,
              data={"source": case.source, "opinion_id": opinion.id})
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="case_registered", target=f"case:{case.id}",
                 client_addr=client_addr)
    return case


async def add_photo(db: AsyncSession, case: Case, raw: bytes, *, actor_id: int | None,
                    client_addr: str | None = None):
    """A thumbnail of an uploaded photo (≤ 40 KB WebP) attached to the case. Refusal → Refusal."""
    image = await store_image(db, case.tenant_id, raw)
    photo = CasePhoto(tenant_id=case.tenant_id, case_id=case.id, image_id=image.id)
    db.add(photo)
    await db.flush()
    await record(db, tenant_id=case.tenant_id, actor_user_id=actor_id, action="case_photo_added",
                 target=f"case:{case.id}", client_addr=client_addr)
    return photo


async def reveal_mobile(db: AsyncSession, case: Case, *, actor_id: int, client_addr: str | None = None) -> str | None:
    """The person's full number, with an audit entry (anyone who may see the case may ask)."""
    if case.person_mobile:
        await record(db, tenant_id=case.tenant_id, actor_user_id=actor_id, action="case_mobile_revealed",
                     target=f"case:{case.id}", client_addr=client_addr)
    return case.person_mobile
