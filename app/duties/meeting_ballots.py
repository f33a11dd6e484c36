"""Voters' ballots by phone: the QR link of a report meeting (no account).

The link's token finds the meeting. A ballot is taken while the meeting is open (status ``open`` and
within its time window), with a bounded comment, within a per-client limit (a keyed hash of the
address, as the public opinion form counts, in PostgreSQL) and once per phone: the phone carries a
random id in a signed cookie of this meeting's path, and only a keyed hash of it is stored (a unique
index makes a second ballot impossible even when two arrive at once). Every check runs before the
insert, so a refused ballot writes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.public import LIMIT_WINDOW
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.deputies.models import Deputy
from app.duties.meeting_models import DutyReportBallot, DutyReportMeeting
from app.duties.meetings import check_ballot
from app.stations.models import Station

TOKEN_MAX = 40
# The voters of one meeting often share the hall's Wi-Fi (one address), so the public opinion form's
# five an hour would stop the sixth voter; this still stops a script filling a meeting's box.
BALLOTS_PER_CLIENT = 60
OPENS_BEFORE = timedelta(minutes=30)  # voters arrive early; the QR code is on the screen already
CLOSES_AFTER = timedelta(minutes=60)  # and the last ones vote after the report

NOT_OPEN_YET = lazy("Voting on this report has not opened yet. Please scan the code again when the staff open it.")
CLOSED = lazy("Voting on this report has closed. Thank you for coming.")
OUT_OF_TIME = lazy("Voting on this report is open only during the meeting (%(start)s – %(end)s).")
ALREADY_VOTED = lazy("This phone has already voted on this report. Each phone votes once.")
CLIENT_LIMIT = lazy("Too many ballots were sent from your network in the last hour. Please hand in a paper ballot.")


@dataclass
class BallotView:
    meeting: DutyReportMeeting
    deputy_name: str
    station_name: str


async def by_token(db: AsyncSession, token: str) -> BallotView | None:
    token = (token or "")[:TOKEN_MAX]
    if not token:
        return None
    row = (await db.execute(
        select(DutyReportMeeting, Deputy.name, Station.name)
        .join(Deputy, and_(Deputy.tenant_id == DutyReportMeeting.tenant_id, Deputy.id == DutyReportMeeting.deputy_id))
        .join(Station, and_(Station.tenant_id == DutyReportMeeting.tenant_id,
                            Station.id == DutyReportMeeting.station_id))
        .where(DutyReportMeeting.ballot_token == token)
    )).first()
    return BallotView(*row) if row else None


def window_refusal(meeting: DutyReportMeeting, now: datetime, tz) -> Refusal | None:
    """Why a phone cannot vote now, or None."""
    if meeting.status == "planned":
        return Refusal(NOT_OPEN_YET, status=403)
    if meeting.status == "closed":
        return Refusal(CLOSED, status=403)
    if not meeting.starts_at - OPENS_BEFORE <= now <= meeting.ends_at + CLOSES_AFTER:
        return Refusal(OUT_OF_TIME, status=403, start=(meeting.starts_at - OPENS_BEFORE).astimezone(tz).strftime("%H:%M"),
                       end=(meeting.ends_at + CLOSES_AFTER).astimezone(tz).strftime("%H:%M"))
    return None


# --- the phone's cookie ---------------------------------------------------------------------------

def _mac(secret_key: str, message: str) -> str:
    return hmac.new(secret_key.encode(), message.encode(), hashlib.sha256).hexdigest()


def new_phone_cookie(secret_key: str, meeting_id: int) -> tuple[str, str]:
    """A fresh random phone id: (cookie value, its id)."""
    phone_id = secrets.token_urlsafe(18)
    return f"{phone_id}.{_mac(secret_key, f'ballot-cookie:{meeting_id}:{phone_id}')[:32]}", phone_id


def phone_id_of(secret_key: str, meeting_id: int, cookie: str | None) -> str | None:
    """The phone id a cookie carries if we signed it for this meeting, else None."""
    phone_id, _, mac = (cookie or "")[:100].partition(".")
    expected = _mac(secret_key, f"ballot-cookie:{meeting_id}:{phone_id}")[:32]
    return phone_id if phone_id and hmac.compare_digest(mac, expected) else None


def phone_hash(secret_key: str, tenant_id: int, meeting_id: int, phone_id: str) -> str:
    """What is stored: a keyed hash, so the table alone cannot be used to forge a phone's cookie."""
    return _mac(secret_key, f"ballot-phone:{tenant_id}:{meeting_id}:{phone_id}")


# --- the ballot -----------------------------------------------------------------------------------

async def cast(db: AsyncSession, view: BallotView, *, rating: str, comment: str, phone: str | None,
               client: str, now: datetime, tz) -> None:
    """Record a phone's ballot or refuse with nothing written. ``phone`` is the stored hash of the
    phone's id (None: this phone has no valid cookie yet, and the caller made one)."""
    m = view.meeting
    refusal = window_refusal(m, now, tz)
    if refusal is not None:
        raise refusal
    rating, comment = check_ballot(rating, comment)
    if await db.scalar(select(DutyReportBallot.id).where(DutyReportBallot.meeting_id == m.id,
                                                        DutyReportBallot.phone_hash == phone)):
        raise Refusal(ALREADY_VOTED, status=409)
    await db.execute(text("SELECT pg_advisory_xact_lock(hashtext('duty-ballot'), hashtext(:key))"),
                     {"key": f"{m.tenant_id}:{client}"})
    recent = await db.scalar(select(func.count()).where(
        DutyReportBallot.client_hash == client, DutyReportBallot.created_at > func.now() - LIMIT_WINDOW))
    if recent >= BALLOTS_PER_CLIENT:
        raise Refusal(CLIENT_LIMIT, status=429)
    inserted = await db.scalar(
        insert(DutyReportBallot).values(tenant_id=m.tenant_id, meeting_id=m.id, rating=rating, comment=comment,
                                        source="phone", phone_hash=phone, client_hash=client)
        .on_conflict_do_nothing(index_elements=["tenant_id", "meeting_id", "phone_hash"],
                                index_where=DutyReportBallot.phone_hash.isnot(None))
        .returning(DutyReportBallot.id))
    if inserted is None:  # the same phone's other ballot arrived first
        raise Refusal(ALREADY_VOTED, status=409)
