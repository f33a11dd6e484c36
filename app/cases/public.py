"""The public side of cases: the opinion form of a station's public page, the receipt, the lookup by
receipt code with the case's public history, and the public rating of a fed-back answer.

Nobody signs in. A submission is tied to its client only by a keyed hash of the address (never the
address itself), which is what the abuse limits count, in Postgres, so they hold while Redis is
down and every web process shares them. The receipt code shows the progress; rating needs the
rating code too, which only the person received (app.cases.codes). Services take a session bound to the tenant, raise ``Refusal`` (nothing written) and do not
commit.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import and_, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases import joint_port, rating
from app.cases.codes import issue_rating_code, rating_code_matches
from app.cases.models import (
    OPEN_WITH_UNIT, RATING_ACTIONS, STATE_NAMES, Case, CaseCategory, CaseEvent, CasePhoto, LookupMiss,
)
from app.cases.services import CONTENT_REQUIRED, CONTENT_TOO_LONG, NewCase, register_case
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.core.images import make_thumbnail, store_thumbnail
from app.stations.models import Station
from app.tenancy.config import Config
from app.tenancy.models import TenantConfig

PUBLIC_CONTENT_MAX = 2000  # the staff form takes 4000; a villager's message needs less
HONEYPOT = "website"  # a field people never see and form-filling bots like
LIMIT_WINDOW = timedelta(hours=1)
LOOKUP_MISSES_PER_HOUR = 30

HONEYPOT_FILLED = lazy("The form could not be accepted. Please open the station's page and send it again.")
CLIENT_LIMIT = lazy("Too many opinions were sent from your network in the last hour. "
                    "Please try again later, or visit or call the station.")
STATION_LIMIT = lazy("This station has received too many online opinions in the last hour. "
                     "Please try again later, or visit or call the station.")
CODE_NOT_FOUND = lazy("No opinion matches this receipt code. Please check the code and try again.")
LOOKUP_LIMIT = lazy("Too many receipt codes that match nothing were tried from your network in the last hour. "
                    "Please try again later.")
RATING_CODE_REQUIRED = lazy("To rate the answer, please type the rating code you received with your receipt "
                            "or in the SMS with the answer.")
RATING_CODE_WRONG = lazy("This rating code does not belong to this opinion. Please check the code you received "
                         "with your receipt or in the SMS with the answer.")
OPINIONS_CLOSED = lazy("This joint station has closed and takes no more opinions. Please turn to the stations "
                       "of your own county.")
REHANDLING = lazy("Being handled again (you were not satisfied with the answer)")
CLOSED_UNRATED = lazy("Closed without a rating")

# Generic descriptions of public steps, by the event's action (the names of app.cases.workflow's steps),
# else by the state it led to: the public never sees who took a step or what was noted.
PUBLIC_STEPS = {
    "answer_on_spot": lazy("Answered on the spot"),
    "clarify": lazy("Clarification given"),
    "forward_outside": lazy("Forwarded to the city or province"),
    "send_back": lazy("Sent back for re-handling"),
    "rate": lazy("Satisfaction recorded by staff"),
    "rated_by_public": lazy("Satisfaction rated"),
    "sent_back_by_person": lazy("Not satisfied: sent back for re-handling"),
    "rating_lapsed": lazy("Closed without a rating: the period for rating ended"),
    # a joint station's case (app.joint.referrals)
    "refer": lazy("Referred to the county whose matter it is"),
    "referral_answered": lazy("Answer received from the county handling it"),
    "referral_reopened": lazy("Being handled again by the county"),
    # a county's case referred from a joint station
    "joint_fed_back": lazy("Answer fed back through the joint station"),
    "joint_rated": lazy("Satisfaction rated"),
}
OTHER_STEP = lazy("Handling progress recorded")


def client_hash(secret_key: str, tenant_id: int, addr: str | None) -> str:
    """A keyed hash of the client's address: counts submissions without keeping the address, and
    differs between tenants so one county's records say nothing about another's visitors."""
    message = f"public-case:{tenant_id}:{addr or ''}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()




@dataclass
class PublicOpinion:
    content: str
    person_name: str = ""
    person_mobile: str = ""
    honeypot: str = ""
    photo: bytes = b""


async def check_limits(db: AsyncSession, config: Config, station: Station, hashed: str, *,
                       registered: bool) -> None:
    """Refuse (429) past the tenant's per-client and per-station limits of the last hour.

    ``registered``: the opinion's own case is written already (uncommitted) and counts among them. The
    transaction-scoped lock, taken just before this count and held to the commit, makes concurrent
    submissions to a station count one after the other (each count sees the cases committed before
    it took the lock, and its own) while they wait for each other only for this count and the commit.
    Without it: an early refusal before anything costly (the photo's decoding), no lock."""
    if registered:
        await db.execute(text("SELECT pg_advisory_xact_lock(hashtext('public-case'), hashtext(:key))"),
                         {"key": f"{station.tenant_id}:{station.id}"})
    since = func.now() - LIMIT_WINDOW
    by_client, by_station = (await db.execute(select(
        func.count().filter(Case.client_hash == hashed),
        func.count().filter(Case.station_id == station.id),
    ).where(Case.source == "online", Case.created_at > since,
            (Case.client_hash == hashed) | (Case.station_id == station.id)))).one()
    before = 1 if registered else 0  # the opinion's own case is not one of those before it
    if by_client - before >= config.public_limit_per_client:
        raise Refusal(CLIENT_LIMIT, status=429)
    if by_station - before >= config.public_limit_per_station:
        raise Refusal(STATION_LIMIT, status=429)


def check_opinion(opinion: PublicOpinion) -> None:
    if opinion.honeypot.strip():
        raise Refusal(HONEYPOT_FILLED)
    content = opinion.content.strip()
    if not content:
        raise Refusal(CONTENT_REQUIRED)
    if len(content) > PUBLIC_CONTENT_MAX:
        raise Refusal(CONTENT_TOO_LONG, max=PUBLIC_CONTENT_MAX)


async def submit_opinion(db: AsyncSession, config: Config, *, tenant_id: int, station: Station,
                         opinion: PublicOpinion, hashed: str) -> tuple[Case, str]:
    """A case from the public form: checked (text, mobile, photo), registered with source "online" and
    its photo's thumbnail, then counted against the limits with the case among them. A refusal may come
    after the case was written: the caller rolls back (``app.core.db.attempt``). Returns the case and
    its rating code, which only the receipt page shows (the one copy the person gets there)."""
    check_opinion(opinion)
    if opinion.photo:  # the limits before the photo: past them nobody's photo is even opened (decoding costs)
        await check_limits(db, config, station, hashed, registered=False)
    # made (or refused) before the case exists, off the event loop
    thumb = await make_thumbnail(opinion.photo) if opinion.photo else None
    case = await register_case(db, None, tenant_id=tenant_id, actor_id=None, client_hash=hashed, station=station,
                               new=NewCase(content=opinion.content, source="online", person_name=opinion.person_name,
                                           person_mobile=opinion.person_mobile, station_id=station.id))
    if thumb is not None:
        image = await store_thumbnail(db, tenant_id, thumb)
        db.add(CasePhoto(tenant_id=tenant_id, case_id=case.id, image_id=image.id))
        await db.flush()
    rating_code = await issue_rating_code(db, case, "receipt")
    await check_limits(db, config, station, hashed, registered=True)  # last: the lock is held to the commit
    return case, rating_code


# --- the lookup -----------------------------------------------------------------------------------

@dataclass
class PublicStep:
    at: datetime
    label: str


@dataclass
class PublicView:
    case: Case
    category: str | None
    station: str | None
    steps: list[PublicStep] = field(default_factory=list)
    rated_by_staff: bool = False  # the satisfaction shown was recorded by staff, not by the person
    lapsed: bool = False  # closed without a rating: the period for rating ended (app.cases.rating)
    rating_until: date | None = None  # the last day the person may rate the answer fed back
    today: date | None = None
    rehandle_limit: int = 0  # how often the county lets an answer go back for re-handling

    @property
    def state_name(self) -> str:
        c = self.case
        if c.rehandled and c.state in (*OPEN_WITH_UNIT, "replied"):
            return REHANDLING
        if self.lapsed and c.state == "closed":
            return CLOSED_UNRATED
        return STATE_NAMES.get(c.state, OTHER_STEP)

    @property
    def answer(self) -> str:
        """The answer, once it has been fed back to the person (never before: staff may still edit it)."""
        c = self.case
        if c.state == "fed_back" or (c.state == "closed" and c.reply_text):
            return c.reply_text
        return ""

    @property
    def rating_closed(self) -> bool:
        """Fed back, not rated, and the period for rating is over."""
        c = self.case
        return (c.state == "fed_back" and c.satisfaction is None and self.rating_until is not None
                and self.today is not None and self.today > self.rating_until)

    @property
    def rateable(self) -> bool:
        return self.case.state == "fed_back" and self.case.satisfaction is None and not self.rating_closed

    @property
    def sends_back(self) -> bool:
        """Would "not satisfied" send the answer back for re-handling (as far as the person can tell)?"""
        c = self.case
        return c.handling_unit_id is not None and c.rehandled < self.rehandle_limit


async def find_case(db: AsyncSession, code: str) -> Case | None:
    """The case with this (normalised) receipt code in the bound tenant, else None."""
    if not code:
        return None
    return await db.scalar(select(Case).where(Case.receipt_code == code))


def _with_names(*columns):
    """select(columns) from Case with the category's and the station's names and the county's settings
    at hand."""
    return (select(*columns).select_from(Case)
            .outerjoin(CaseCategory, and_(CaseCategory.tenant_id == Case.tenant_id, CaseCategory.id == Case.category_id))
            .outerjoin(Station, and_(Station.tenant_id == Case.tenant_id, Station.id == Case.station_id))
            .outerjoin(TenantConfig, TenantConfig.tenant_id == Case.tenant_id))


# What the page says about rating: the county's rating period and limit of re-handlings (defaults
# where it saved no settings), read with the case.
NAMES = (CaseCategory.name, Station.name, func.coalesce(TenantConfig.case_rating_days, Config.case_rating_days),
         func.coalesce(TenantConfig.case_rehandle_limit, Config.case_rehandle_limit))


async def public_view(db: AsyncSession, case: Case, names: tuple | None = None, *, tz=None) -> PublicView:
    """What the public may see of a case: state, category, station, the dated public steps, and whether
    the answer may still be rated. ``names``: the columns of NAMES when already read; ``tz``: the
    tenant's zone, when known."""
    if names is None:
        names = tuple((await db.execute(_with_names(*NAMES).where(Case.id == case.id))).one())
    category, station, rating_days, rehandle_limit = names
    events = (await db.execute(
        select(CaseEvent.action, CaseEvent.to_state, CaseEvent.at)
        .where(CaseEvent.case_id == case.id, CaseEvent.public.is_(True))
        .order_by(CaseEvent.at, CaseEvent.id)
    )).all()
    steps = [PublicStep(at=at, label=PUBLIC_STEPS.get(action) or STATE_NAMES.get(to_state or action, OTHER_STEP))
             for action, to_state, at in events]
    ratings = [action for action, _, _ in events if action in RATING_ACTIONS]
    tz = tz or await rating.zone_of(db, case.tenant_id)
    return PublicView(case=case, category=category, station=station, steps=steps,
                      rated_by_staff=bool(ratings) and ratings[-1] == "rate",
                      lapsed=bool(events) and events[-1][0] == rating.LAPSED,
                      rating_until=rating.rating_until(case, rating_days, tz),
                      today=datetime.now(tz).date(), rehandle_limit=rehandle_limit)


async def where_to_go(db: AsyncSession, tenant_id: int, tenant_kind: str) -> list | None:
    """None while the tenant's stations take opinions; an archived joint station's: the counties to turn
    to instead (app.joint.archive)."""
    return await joint_port.where_to_go(db, tenant_id, tenant_kind)


# --- the lookup and the limit on misses ---------------------------------------------------------------

@dataclass
class Lookup:
    case: Case | None
    names: tuple | None = None  # the columns of NAMES, for public_view
    blocked: bool = False  # the client has used up the misses of the last hour: refuse whatever the code


async def look_up(db: AsyncSession, code: str, hashed: str) -> Lookup:
    """The case of this (normalised) receipt code, and whether the client is past its misses of the last
    hour, counted in PostgreSQL so every web process shares them. The client's lock comes first, in a
    statement of its own: the count then reads after any concurrent lookup of the client has committed
    its miss, so misses are counted one after the other."""
    await db.execute(text("SELECT pg_advisory_xact_lock(hashtext('case-lookup'), hashtext(:key))"), {"key": hashed})
    misses = select(func.count()).select_from(LookupMiss).where(
        LookupMiss.client_hash == hashed, LookupMiss.at > func.now() - LIMIT_WINDOW)
    row = (await db.execute(_with_names(Case, *NAMES, misses.scalar_subquery())
                            .where(Case.receipt_code == code))).first() if code else None
    if row is None:
        return Lookup(None, blocked=await db.scalar(misses) >= LOOKUP_MISSES_PER_HOUR)
    case, *names, count = row
    return Lookup(case, tuple(names), blocked=count >= LOOKUP_MISSES_PER_HOUR)


async def record_miss(db: AsyncSession, tenant_id: int, hashed: str) -> None:
    """One more miss for this client; the tenant's misses older than the window go (nothing reads them)."""
    await db.execute(delete(LookupMiss).where(LookupMiss.at <= func.now() - LIMIT_WINDOW))
    db.add(LookupMiss(tenant_id=tenant_id, client_hash=hashed))
    await db.flush()


async def check_rating_code(db: AsyncSession, case: Case, typed: str, *, hashed: str) -> None:
    """Refuse a rating without a rating code given to this case's person. A wrong code counts as a miss
    (written, and kept: the caller commits it with the refusal's page), so codes cannot be guessed
    faster than receipt codes."""
    if not typed.strip():
        raise Refusal(RATING_CODE_REQUIRED)
    if not await rating_code_matches(db, case, typed):
        await record_miss(db, case.tenant_id, hashed)
        raise Refusal(RATING_CODE_WRONG)
