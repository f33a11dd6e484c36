"""The public side of cases: the opinion form of a station's public page, the receipt, the lookup by
receipt code with the case's public history, and the public rating of a fed-back answer.

Nobody signs in. A submission is tied to its client only by a keyed hash of the address (never the
address itself), which is what the abuse limits count, in Postgres, so they hold while Redis is
down. Services take a session bound to the tenant, raise ``Refusal`` (nothing written) and do not
commit.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.models import STATE_NAMES, Case, CaseCategory, CaseEvent, CasePhoto
from app.cases.services import CONTENT_REQUIRED, CONTENT_TOO_LONG, NewCase, register_case
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.core.images import store_image, thumbnail
from app.stations.models import Station
from app.tenancy.config import Config

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

# Generic descriptions of public steps, by the event's action (the names of app.cases.workflow's steps),
# else by the state it led to: the public never sees who took a step or what was noted.
PUBLIC_STEPS = {
    "answer_on_spot": lazy("Answered on the spot"),
    "clarify": lazy("Clarification given"),
    "forward_outside": lazy("Forwarded to the city or province"),
    "send_back": lazy("Sent back for re-handling"),
    "rate": lazy("Satisfaction rated"),
    "rated_by_public": lazy("Satisfaction rated"),
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


def group_code(code: str) -> str:
    """ABCDEFGHJK → ABCD-EFGH-JK: easier to read out and copy."""
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


@dataclass
class PublicOpinion:
    content: str
    person_name: str = ""
    person_mobile: str = ""
    honeypot: str = ""
    photo: bytes = b""


async def check_limits(db: AsyncSession, config: Config, station: Station, hashed: str) -> None:
    """Refuse (429) past the tenant's per-client and per-station limits of the last hour. The
    transaction-scoped lock makes concurrent submissions to a station count one after the other."""
    await db.execute(text("SELECT pg_advisory_xact_lock(hashtext('public-case'), hashtext(:key))"),
                     {"key": f"{station.tenant_id}:{station.id}"})
    since = func.now() - LIMIT_WINDOW
    by_client, by_station = (await db.execute(select(
        func.count().filter(Case.client_hash == hashed),
        func.count().filter(Case.station_id == station.id),
    ).where(Case.source == "online", Case.created_at > since,
            (Case.client_hash == hashed) | (Case.station_id == station.id)))).one()
    if by_client >= config.public_limit_per_client:
        raise Refusal(CLIENT_LIMIT, status=429)
    if by_station >= config.public_limit_per_station:
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
                         opinion: PublicOpinion, hashed: str) -> Case:
    """A case from the public form: checked in full (limits, text, mobile, photo) before anything is
    written, then registered with source "online" and its photo's thumbnail."""
    check_opinion(opinion)
    thumb = None
    if opinion.photo:
        thumbnail(opinion.photo)  # refuse a bad photo before the case exists
        thumb = opinion.photo
    await check_limits(db, config, station, hashed)
    case = await register_case(db, None, tenant_id=tenant_id, actor_id=None, client_hash=hashed, new=NewCase(
        content=opinion.content, source="online", person_name=opinion.person_name,
        person_mobile=opinion.person_mobile, station_id=station.id))
    if thumb is not None:
        image = await store_image(db, tenant_id, thumb)
        db.add(CasePhoto(tenant_id=tenant_id, case_id=case.id, image_id=image.id))
        await db.flush()
    return case


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

    @property
    def state_name(self) -> str:
        return STATE_NAMES.get(self.case.state, OTHER_STEP)

    @property
    def answer(self) -> str:
        """The answer, once it has been fed back to the person (never before: staff may still edit it)."""
        c = self.case
        if c.state == "fed_back" or (c.state == "closed" and c.reply_text):
            return c.reply_text
        return ""

    @property
    def rateable(self) -> bool:
        return self.case.state == "fed_back" and self.case.satisfaction is None


async def find_case(db: AsyncSession, code: str) -> Case | None:
    """The case with this (normalised) receipt code in the bound tenant, else None."""
    if not code:
        return None
    return await db.scalar(select(Case).where(Case.receipt_code == code))


async def public_view(db: AsyncSession, case: Case) -> PublicView:
    """What the public may see of a case: state, category, station and the dated public steps."""
    category, station = (await db.execute(
        select(CaseCategory.name, Station.name)
        .select_from(Case)
        .outerjoin(CaseCategory, and_(CaseCategory.tenant_id == Case.tenant_id, CaseCategory.id == Case.category_id))
        .outerjoin(Station, and_(Station.tenant_id == Case.tenant_id, Station.id == Case.station_id))
        .where(Case.id == case.id)
    )).one()
    events = (await db.execute(
        select(CaseEvent.action, CaseEvent.to_state, CaseEvent.at)
        .where(CaseEvent.case_id == case.id, CaseEvent.public.is_(True))
        .order_by(CaseEvent.at, CaseEvent.id)
    )).all()
    steps = [PublicStep(at=at, label=PUBLIC_STEPS.get(action) or STATE_NAMES.get(to_state or action, OTHER_STEP))
             for action, to_state, at in events]
    return PublicView(case=case, category=category, station=station, steps=steps)


class MissCounter:
    """Receipt codes that matched nothing, per client and rolling hour, in this process's memory.

    Codes carry about 50 bits, so guessing is hopeless anyway; this bounds it further without Redis,
    and cannot fail open when Redis is down (each web process counts on its own, so the bound is the
    limit times the number of processes). At most ``max_clients`` clients are remembered."""

    def __init__(self, limit: int = LOOKUP_MISSES_PER_HOUR, window: float = 3600.0, max_clients: int = 50_000):
        self.limit, self.window, self.max_clients = limit, window, max_clients
        self._misses: OrderedDict[str, list[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> list[float]:
        times = [t for t in self._misses.get(key, ()) if t > now - self.window]
        if times:
            self._misses[key] = times
        else:
            self._misses.pop(key, None)
        return times

    def blocked(self, key: str) -> bool:
        return len(self._recent(key, time.monotonic())) >= self.limit

    def miss(self, key: str) -> None:
        now = time.monotonic()
        times = self._recent(key, now)
        times.append(now)
        self._misses[key] = times
        self._misses.move_to_end(key)
        while len(self._misses) > self.max_clients:
            self._misses.popitem(last=False)

    def clear(self) -> None:
        self._misses.clear()


lookup_misses = MissCounter()
