"""Duty reports to voters (述职评议): staff hold a meeting where a deputy reports to the voters of a
station, enter the paper ballots, and open and close voting by phone; the result is the counts per
rating and the share satisfied (满意 + 基本满意).

Who: county admins everywhere, township staff at stations in their subtree, station staff at their
station (``MANAGE_ROLES`` through the stations' own scope filter); viewers read; a deputy reads their
own meetings. A meeting that is missing, of another tenant or out of scope is the same ``NotFound``.
The voters' ballots by phone are in ``app.duties.meeting_ballots``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, exists, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.services import parse_when
from app.audit.services import record
from app.core.db import as_id
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.deputies.access import deputies_in_scope
from app.deputies.models import Deputy, StationDeputy
from app.duties.meeting_models import COMMENT_MAX, PLACE_MAX, RATINGS, DutyReportBallot, DutyReportMeeting
from app.stations.access import node_join, station_filter
from app.stations.models import Station
from app.tenancy.models import AdminNode
from app.tenancy.scope import Scope

VIEW_ROLES = ("county_admin", "viewer", "township_staff", "station_staff", "deputy")
MANAGE_ROLES = ("county_admin", "township_staff", "station_staff")
PAPER_MAX = 5000  # ballots in one entry: more voters than a meeting hall holds is a typing mistake
MEETING_HOURS_MAX = 12

STATION_REQUIRED = lazy("Please choose a station in operation within your reach.")
DEPUTY_REQUIRED = lazy("Please choose a serving deputy stationed at this station.")
WHEN_BAD = lazy("Please give the date and the start and end times (end after start, within one day).")
PLACE_TOO_LONG = lazy("The place has at most %(max)s characters.")
VOTERS_BAD = lazy("The number of voters present must be a whole number from 0 to 100000, or empty.")
PAPER_COUNT_BAD = lazy("The number of ballots must be a whole number from 0 to %(max)s.")
PAPER_EMPTY = lazy("Please enter at least one ballot.")
RATING_REQUIRED = lazy("Please choose 满意, 基本满意 or 不满意.")
COMMENT_TOO_LONG = lazy("The comment has at most %(max)s characters.")
ALREADY_CLOSED = lazy("This report meeting is closed; its result can no longer change.")
ALREADY_OPEN = lazy("Phone voting is already open.")


@dataclass
class Result:
    """The ballots of one meeting: counts per rating and the share satisfied (满意 + 基本满意)."""
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RATINGS, 0))
    phone: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def satisfied_percent(self) -> float | None:
        if not self.total:
            return None
        return round(100 * (self.counts["satisfied"] + self.counts["basic"]) / self.total, 1)


@dataclass
class MeetingRef:
    meeting: DutyReportMeeting
    deputy_name: str
    station_name: str
    result: Result = field(default_factory=Result)


# --- scope ----------------------------------------------------------------------------------------

def meeting_filter(scope: Scope):
    """The one filter on DutyReportMeeting joined with its Station and the station's AdminNode."""
    if scope.role == "deputy":
        own = select(Deputy.id).where(Deputy.user_id == scope.user_id).scalar_subquery()
        return DutyReportMeeting.deputy_id.in_(own)
    return station_filter(scope)


def meetings_query():
    return (
        select(DutyReportMeeting, Deputy.name, Station.name)
        .join(Deputy, and_(Deputy.tenant_id == DutyReportMeeting.tenant_id, Deputy.id == DutyReportMeeting.deputy_id))
        .join(Station, and_(Station.tenant_id == DutyReportMeeting.tenant_id,
                            Station.id == DutyReportMeeting.station_id))
        .join(AdminNode, node_join())
    )


def require_view(scope: Scope) -> None:
    if scope.role not in VIEW_ROLES:
        raise NotFound()


def can_manage(scope: Scope) -> bool:
    return scope.role in MANAGE_ROLES


async def access_meeting(db: AsyncSession, scope: Scope, meeting_id: int, *, manage: bool = False) -> MeetingRef:
    """The meeting if the member may see it (and, with ``manage``, run it); else the ordinary 404."""
    require_view(scope)
    if manage and not can_manage(scope):
        raise NotFound()
    row = None
    if as_id(meeting_id) is not None:
        row = (await db.execute(meetings_query().where(DutyReportMeeting.id == meeting_id,
                                                        meeting_filter(scope)))).first()
    if row is None:
        raise NotFound()
    ref = MeetingRef(row[0], row[1], row[2])
    ref.result = (await results(db, [ref.meeting.id]))[ref.meeting.id]
    return ref


async def list_meetings(db: AsyncSession, scope: Scope, year: int) -> list[MeetingRef]:
    require_view(scope)
    rows = (await db.execute(
        meetings_query().where(meeting_filter(scope), func.extract("year", DutyReportMeeting.held_on) == year)
        .order_by(DutyReportMeeting.held_on.desc(), DutyReportMeeting.id.desc())
    )).all()
    return await _with_results(db, rows)


async def _with_results(db: AsyncSession, rows) -> list[MeetingRef]:
    refs = [MeetingRef(m, d, s) for m, d, s in rows]
    found = await results(db, [r.meeting.id for r in refs])
    for ref in refs:
        ref.result = found[ref.meeting.id]
    return refs


async def results(db: AsyncSession, meeting_ids: list[int]) -> dict[int, Result]:
    """Every meeting's result from one aggregate query."""
    out = {mid: Result() for mid in meeting_ids}
    if not meeting_ids:
        return out
    rows = await db.execute(
        select(DutyReportBallot.meeting_id, DutyReportBallot.rating, func.count(),
               func.count().filter(DutyReportBallot.source == "phone"))
        .where(DutyReportBallot.meeting_id.in_(meeting_ids))
        .group_by(DutyReportBallot.meeting_id, DutyReportBallot.rating)
    )
    for mid, rating, n, phone in rows:
        out[mid].counts[rating] = n
        out[mid].phone += phone
    return out


async def meetings_of(db: AsyncSession, deputy_id: int, year: int, last_year: int | None = None) -> list[MeetingRef]:
    """A deputy's report meetings of a year (or of the years up to ``last_year``: the term) with their
    results (two queries), for the dossier. The caller has already decided the member may see this deputy."""
    return (await meetings_by_deputy(db, [deputy_id], year, last_year))[deputy_id]


async def meetings_by_deputy(db: AsyncSession, deputy_ids: list[int], year: int,
                             last_year: int | None = None) -> dict[int, list[MeetingRef]]:
    """``meetings_of`` for several deputies at once (the station binder's archive): two queries."""
    rows = (await db.execute(
        meetings_query().where(DutyReportMeeting.deputy_id.in_(deputy_ids),
                               DutyReportMeeting.held_on.between(date(year, 1, 1), date(last_year or year, 12, 31)))
        .order_by(DutyReportMeeting.held_on, DutyReportMeeting.id)
    )).all()
    out: dict[int, list[MeetingRef]] = {i: [] for i in deputy_ids}
    for ref in await _with_results(db, rows):
        out[ref.meeting.deputy_id].append(ref)
    return out


# --- the form's choices ---------------------------------------------------------------------------

async def choices(db: AsyncSession, scope: Scope) -> list[tuple[int, str, list[tuple[int, str]]]]:
    """Stations in operation within reach, each with the serving deputies stationed there."""
    rows = await db.execute(
        select(Station.id, Station.name, Deputy.id, Deputy.name)
        .join(AdminNode, node_join())
        .join(StationDeputy, and_(StationDeputy.tenant_id == Station.tenant_id, StationDeputy.station_id == Station.id,
                                  StationDeputy.ended_at.is_(None)))
        .join(Deputy, and_(Deputy.tenant_id == StationDeputy.tenant_id, Deputy.id == StationDeputy.deputy_id))
        .where(station_filter(scope), Station.status == "active", Deputy.status == "active",
               deputies_in_scope(scope))
        .order_by(AdminNode.path, Station.name, Station.id, Deputy.name, Deputy.id)
    )
    out: dict[int, tuple[int, str, list]] = {}
    for sid, sname, did, dname in rows:
        out.setdefault(sid, (sid, sname, []))[2].append((did, dname))
    return list(out.values())


# --- the verbs ------------------------------------------------------------------------------------

def _whole(value: str, low: int, high: int, message, **kw) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    if not value.isdigit() or not low <= int(value) <= high:
        raise Refusal(message, **kw)
    return int(value)


async def _station_and_deputy(db: AsyncSession, scope: Scope, station_id, deputy_id) -> tuple[int, int]:
    """The form's ids as offered: a station in operation within reach, and a serving deputy within
    reach with an open assignment there. Anything else is refused with nothing written."""
    sid, did = as_id(station_id), as_id(deputy_id)
    station = None if sid is None else await db.scalar(
        select(Station.id).join(AdminNode, node_join())
        .where(Station.id == sid, Station.status == "active", station_filter(scope)))
    if station is None:
        raise Refusal(STATION_REQUIRED, input_name="station_id")
    stationed = exists().where(StationDeputy.tenant_id == Deputy.tenant_id, StationDeputy.deputy_id == Deputy.id,
                               StationDeputy.station_id == sid, StationDeputy.ended_at.is_(None))
    deputy = None if did is None else await db.scalar(
        select(Deputy.id).where(Deputy.id == did, Deputy.status == "active", stationed, deputies_in_scope(scope)))
    if deputy is None:
        raise Refusal(DEPUTY_REQUIRED, input_name="deputy_id")
    return sid, did


async def create_meeting(db: AsyncSession, scope: Scope, *, tenant_id: int, actor_id: int, tz_name: str,
                         form: dict) -> DutyReportMeeting:
    if not can_manage(scope):
        raise NotFound()
    station_id, deputy_id = await _station_and_deputy(db, scope, form.get("station_id"), form.get("deputy_id"))
    starts_at, ends_at = parse_when(tz_name, form.get("held_on", ""), form.get("start", ""), form.get("end", ""))
    if starts_at is None or ends_at <= starts_at or (ends_at - starts_at).total_seconds() > MEETING_HOURS_MAX * 3600:
        raise Refusal(WHEN_BAD, input_name="held_on")
    place = (form.get("place") or "").strip()
    if len(place) > PLACE_MAX:
        raise Refusal(PLACE_TOO_LONG, input_name="place", max=PLACE_MAX)
    voters = _whole(form.get("voters_present", ""), 0, 100000, VOTERS_BAD)
    meeting = DutyReportMeeting(
        tenant_id=tenant_id, deputy_id=deputy_id, station_id=station_id, held_on=starts_at.date(),
        starts_at=starts_at, ends_at=ends_at, place=place, voters_present=voters, status="planned",
        ballot_token=secrets.token_urlsafe(18), created_by=actor_id,
    )
    db.add(meeting)
    await db.flush()
    await record_step(db, meeting, actor_id=actor_id, step="created")
    return meeting


async def record_step(db: AsyncSession, meeting: DutyReportMeeting, *, actor_id: int, step: str,
                      client_addr: str | None = None) -> None:
    """The audit entry of a step on a meeting (created, paper, voters, opened, closed)."""
    await record(db, tenant_id=meeting.tenant_id, actor_user_id=actor_id, action=f"duty_report_{step}",
                 target=f"duty_report_meeting:{meeting.id}", client_addr=client_addr)


def _not_closed(ref: MeetingRef) -> None:
    if ref.meeting.status == "closed":
        raise Refusal(ALREADY_CLOSED, status=409)


async def set_voters_present(db: AsyncSession, ref: MeetingRef, value: str) -> None:
    _not_closed(ref)
    ref.meeting.voters_present = _whole(value, 0, 100000, VOTERS_BAD)
    await db.flush()


def check_ballot(rating: str, comment: str) -> tuple[str, str]:
    """A ballot's rating and comment, bounded (shared by paper and phone)."""
    rating = (rating or "").strip()
    if rating not in RATINGS:
        raise Refusal(RATING_REQUIRED, input_name="rating")
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise Refusal(COMMENT_TOO_LONG, input_name="comment", max=COMMENT_MAX)
    return rating, comment


async def enter_paper(db: AsyncSession, ref: MeetingRef, *, actor_id: int, form: dict) -> int:
    """Paper ballots: counts per rating (``n_satisfied`` …), or one ballot with its comment
    (``rating``, ``comment``). Returns how many were entered."""
    _not_closed(ref)
    m = ref.meeting
    if form.get("rating"):
        rating, comment = check_ballot(form.get("rating", ""), form.get("comment", ""))
        db.add(DutyReportBallot(tenant_id=m.tenant_id, meeting_id=m.id, rating=rating, comment=comment,
                                source="paper", entered_by=actor_id))
        await db.flush()
        return 1
    counts = {r: _whole(form.get(f"n_{r}", ""), 0, PAPER_MAX, PAPER_COUNT_BAD, max=PAPER_MAX) or 0 for r in RATINGS}
    if not sum(counts.values()):
        raise Refusal(PAPER_EMPTY)
    if sum(counts.values()) > PAPER_MAX:
        raise Refusal(PAPER_COUNT_BAD, max=PAPER_MAX)
    # rows of VALUES (batched by SQLAlchemy), not INSERT … SELECT from generate_series: Citus runs the
    # latter through the coordinator with COPY, which row-level security refuses
    rows = [{"tenant_id": m.tenant_id, "meeting_id": m.id, "rating": rating, "source": "paper", "entered_by": actor_id}
            for rating, n in counts.items() for _ in range(n)]
    await db.execute(insert(DutyReportBallot), rows)
    return sum(counts.values())


async def open_voting(db: AsyncSession, ref: MeetingRef) -> None:
    _not_closed(ref)
    if ref.meeting.status == "open":
        raise Refusal(ALREADY_OPEN, status=409)
    ref.meeting.status = "open"
    await db.flush()


async def close_meeting(db: AsyncSession, ref: MeetingRef, now: datetime) -> None:
    """Close the meeting: phone voting ends and the report counts as held (app.compliance)."""
    _not_closed(ref)
    ref.meeting.status = "closed"
    ref.meeting.closed_at = now
    await db.flush()


# --- the public station page (where the county chooses: app.duties.settings) -----------------------

async def station_results(db: AsyncSession, station_id: int, year: int) -> list[MeetingRef]:
    """A station's closed report meetings of a year with their results (the public page's list)."""
    rows = (await db.execute(
        meetings_query().where(DutyReportMeeting.station_id == station_id, DutyReportMeeting.status == "closed",
                               func.extract("year", DutyReportMeeting.held_on) == year)
        .order_by(DutyReportMeeting.held_on.desc(), DutyReportMeeting.id.desc())
    )).all()
    return await _with_results(db, rows)
