"""The station page and what staff edit on it: profile, photo, staff, goals and commitments."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Membership, User
from app.audit.services import record
from app.core.calendar import WorkingCalendar, load_calendar
from app.core.db import as_id
from app.core.errors import Refusal
from app.core.i18n import gettext, lazy
from app.core.images import StoredImage, store_image
from app.deputies.models import Commitment, Deputy, StationDeputy
from app.stations import schedule
from app.stations.access import StationRef
from app.stations.checklist import stars
from app.stations.models import STAFF_ROLES, ChecklistItem, StationEvent, StationGoal, StationScore, StationStaff
from app.stations.refusals import FIELD_TOO_LONG, _open, _whole_number
from app.stations.services import names_for_paths, place_label

BAD_HOLIDAY_RECEPTION = lazy("Please choose what happens to a reception day that falls on a public holiday.")
BAD_PHONE = lazy("The contact phone may contain only digits, spaces and “-” (at most 20).")
CHOOSE_ROLE = lazy("Please choose a staff role from the list.")
CHOOSE_PERSON = lazy("Please choose a person from the list.")
ONE_HEAD = lazy("The station already has a head; remove the present one first.")
TWO_DEPUTY_HEADS = lazy("The station already has two deputy heads.")
ALREADY_STAFF = lazy("This person already has this role at the station.")
BAD_YEAR = lazy("Please enter a year between 2000 and 2100.")
GOAL_REQUIRED = lazy("Please describe the goal (at most 500 characters).")
COMMITMENT_REQUIRED = lazy("Please write the commitment (at most 500 characters).")
DEPUTY_NOT_STATIONED = lazy("Please choose a deputy stationed at this station.")
GOAL_PROGRESS = lazy("Goal progress")

PROFILE_FIELDS = {  # field -> (label msgid, max length)
    "address": (lazy("Station address"), 200),
    "contact_name": (lazy("Contact person"), 40),
    "contact_phone": (lazy("Contact phone"), 20),
    "opening_hours": (lazy("Opening hours"), 200),
    "reception_rule": (lazy("Reception days"), 100),
    "intro": (lazy("Introduction"), 2000),
}
PROFILE_KEYS = (*PROFILE_FIELDS, "holiday_reception")  # what the profile form sends


# --- the station page -----------------------------------------------------------------------------

@dataclass
class HistoryRow:
    event: StationEvent
    actor: str


@dataclass
class StaffRow:
    staff: StationStaff
    person: str


@dataclass
class ScoreRow:
    item: ChecklistItem
    score: StationScore | None


@dataclass
class StationDetail:
    ref: StationRef
    place: str
    staff: list[StaffRow]
    deputies: list[Deputy]
    goals: list[StationGoal]
    commitments: list[tuple[Commitment, str]]
    checklist: list[ScoreRow]
    stars: int
    history: list[HistoryRow]
    reception: str = ""
    reception_days: list[str] = field(default_factory=list)
    reception_input: str = ""  # the rule as staff type it (Chinese), for the edit form
    reception_cancelled: list[str] = field(default_factory=list)  # holidays that cancel one of them


def reception_preview(rule: str, today: date, locale: str, calendar: WorkingCalendar,
                      on_holiday: str = "moved") -> tuple[str, list[str], list[str]]:
    """The reception days for people, the next three dates on the working calendar (a moved one says
    from which holiday) and the holidays among them that cancel a reception."""
    if not rule:
        return "", [], []
    try:
        text = schedule.describe_rule(rule, locale)
        coming = schedule.receptions(rule, today, 3, calendar, on_holiday)
    except Refusal:  # free text stored before it was checked: show it as written
        return rule, [], []
    days = [schedule.format_day(r.day, locale) + (
        gettext("(moved from %(day)s, %(holiday)s)", day=schedule.format_day(r.moved_from, locale),
                holiday=r.holiday) if r.moved_from else "") for r in coming.days]
    cancelled = [gettext("%(day)s, %(holiday)s: no reception", day=schedule.format_day(r.day, locale),
                         holiday=r.holiday) for r in coming.cancelled]
    return text, days, cancelled


async def station_detail(db: AsyncSession, ref: StationRef, today: date, locale: str) -> StationDetail:
    sid = ref.station.id
    nodes = await names_for_paths(db, [ref.node.path])
    staff_rows = (await db.execute(
        select(StationStaff, User.display_name, Deputy.name)
        .outerjoin(User, User.id == StationStaff.user_id)
        .outerjoin(Deputy, and_(Deputy.tenant_id == StationStaff.tenant_id, Deputy.id == StationStaff.deputy_id))
        .where(StationStaff.station_id == sid)
        .order_by(StationStaff.id)
    )).all()
    order = {r: i for i, r in enumerate(STAFF_ROLES)}
    staff = sorted((StaffRow(s, u or d or "") for s, u, d in staff_rows), key=lambda r: (order.get(r.staff.role, 9), r.staff.id))
    deputies = list((await db.scalars(
        select(Deputy).join(StationDeputy, and_(StationDeputy.tenant_id == Deputy.tenant_id,
                                                StationDeputy.deputy_id == Deputy.id))
        .where(StationDeputy.station_id == sid, StationDeputy.ended_at.is_(None)).order_by(Deputy.name, Deputy.id)
    )).all())
    goals = list((await db.scalars(
        select(StationGoal).where(StationGoal.station_id == sid).order_by(StationGoal.year.desc(), StationGoal.id)
    )).all())
    commitments = [(c, n) for c, n in (await db.execute(
        select(Commitment, Deputy.name)
        .join(Deputy, and_(Deputy.tenant_id == Commitment.tenant_id, Deputy.id == Commitment.deputy_id))
        .where(Commitment.station_id == sid).order_by(Commitment.year.desc(), Deputy.name, Commitment.id)
    )).all()]
    checklist = [ScoreRow(i, s) for i, s in (await db.execute(
        select(ChecklistItem, StationScore)
        .outerjoin(StationScore, and_(StationScore.tenant_id == ChecklistItem.tenant_id,
                                      StationScore.item_id == ChecklistItem.id, StationScore.station_id == sid))
        .where(ChecklistItem.retired_at.is_(None)).order_by(ChecklistItem.sort, ChecklistItem.id)
    )).all()]
    met = sum(1 for r in checklist if r.score and r.score.met)
    history = [HistoryRow(e, n or "") for e, n in (await db.execute(
        select(StationEvent, User.display_name).outerjoin(User, User.id == StationEvent.actor_user_id)
        .where(StationEvent.station_id == sid).order_by(StationEvent.at, StationEvent.id)
    )).all()]
    calendar = await load_calendar(db, since=today - schedule.LOOKBACK)
    reception, days, cancelled = reception_preview(ref.station.reception_rule, today, locale, calendar,
                                                   ref.station.holiday_reception)
    return StationDetail(
        ref=ref, place=place_label(ref.node.path, nodes), staff=staff, deputies=deputies, goals=goals,
        commitments=commitments, checklist=checklist, stars=stars(met, len(checklist)), history=history,
        reception=reception, reception_days=days, reception_cancelled=cancelled,
        reception_input=reception_preview(ref.station.reception_rule, today, "zh_Hans", calendar)[0],
    )


# --- profile and photo ----------------------------------------------------------------------------


async def update_profile(db: AsyncSession, ref: StationRef, values: dict, *, actor_id: int,
                         client_addr: str | None = None) -> None:
    _open(ref)
    station = ref.station
    clean = {}
    for key, (label, limit) in PROFILE_FIELDS.items():
        value = str(values.get(key, "") or "").strip()
        if len(value) > limit:
            raise Refusal(FIELD_TOO_LONG, field=gettext(label), max=limit)
        clean[key] = value
    phone = clean["contact_phone"]
    if phone and not all(c.isdigit() or c in " -" for c in phone):
        raise Refusal(BAD_PHONE)
    clean["reception_rule"] = schedule.parse_rule(clean["reception_rule"])
    # a form without the choice (an older page) leaves it as it is
    choice = str(values.get("holiday_reception", "") or "").strip() or station.holiday_reception
    if choice not in schedule.HOLIDAY_RECEPTION:
        raise Refusal(BAD_HOLIDAY_RECEPTION)
    clean["holiday_reception"] = choice
    changed = sorted(k for k, v in clean.items() if getattr(station, k) != v)
    if not changed:
        return
    for key in changed:
        setattr(station, key, clean[key])
    await db.flush()
    await record(db, tenant_id=station.tenant_id, actor_user_id=actor_id, action="station_profile_changed",
                 target=f"station:{station.id}", client_addr=client_addr, details={"fields": changed})


async def set_photo(db: AsyncSession, ref: StationRef, raw: bytes, *, actor_id: int,
                    client_addr: str | None = None) -> None:
    _open(ref)
    station = ref.station
    image = await store_image(db, station.tenant_id, raw)
    old = station.photo_id
    station.photo_id = image.id
    await db.flush()
    if old is not None:
        still_used = await db.scalar(select(func.count()).select_from(Deputy).where(Deputy.photo_id == old))
        if not still_used:
            await db.execute(delete(StoredImage).where(StoredImage.id == old))
    await record(db, tenant_id=station.tenant_id, actor_user_id=actor_id, action="station_photo_changed",
                 target=f"station:{station.id}", client_addr=client_addr,
                 details={"image_id": image.id, "bytes": len(image.data)})


# --- staff ----------------------------------------------------------------------------------------

async def staff_choices(db: AsyncSession, tenant_id: int, ref: StationRef) -> tuple[list[User], list[Deputy]]:
    """Tenant members (users) and the deputies stationed here, for the staff form."""
    users = list((await db.scalars(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == tenant_id, Membership.revoked_at.is_(None))
        .order_by(User.display_name, User.id).distinct()
    )).all())
    deputies = list((await db.scalars(
        select(Deputy).join(StationDeputy, and_(StationDeputy.tenant_id == Deputy.tenant_id,
                                                StationDeputy.deputy_id == Deputy.id))
        .where(StationDeputy.station_id == ref.station.id, StationDeputy.ended_at.is_(None))
        .order_by(Deputy.name, Deputy.id)
    )).all())
    return users, deputies


async def add_staff(db: AsyncSession, ref: StationRef, *, role: str, person: str, actor_id: int,
                    client_addr: str | None = None) -> StationStaff:
    _open(ref)
    station = ref.station
    if role not in STAFF_ROLES:
        raise Refusal(CHOOSE_ROLE)
    kind, _, raw_id = str(person or "").partition(":")
    pid = as_id(raw_id)
    user_id = deputy_id = None
    if kind == "u" and pid:
        user_id = await db.scalar(
            select(Membership.user_id).where(Membership.tenant_id == station.tenant_id, Membership.user_id == pid,
                                             Membership.revoked_at.is_(None)).limit(1)
        )
        if user_id is None:
            raise Refusal(CHOOSE_PERSON)
    elif kind == "d" and pid:
        # one of the deputies stationed here (the form's list): not any deputy id of the tenant
        deputy_id = await db.scalar(
            select(StationDeputy.deputy_id).where(StationDeputy.station_id == station.id,
                                                  StationDeputy.deputy_id == pid, StationDeputy.ended_at.is_(None))
            .limit(1)
        )
        if deputy_id is None:
            raise Refusal(CHOOSE_PERSON)
    else:
        raise Refusal(CHOOSE_PERSON)
    existing = (await db.scalars(select(StationStaff).where(StationStaff.station_id == station.id))).all()
    if any(s.role == role and s.user_id == user_id and s.deputy_id == deputy_id for s in existing):
        raise Refusal(ALREADY_STAFF)
    if role == "head" and any(s.role == "head" for s in existing):
        raise Refusal(ONE_HEAD)
    if role == "deputy_head" and sum(1 for s in existing if s.role == "deputy_head") >= 2:
        raise Refusal(TWO_DEPUTY_HEADS)
    staff = StationStaff(tenant_id=station.tenant_id, station_id=station.id, role=role, user_id=user_id,
                         deputy_id=deputy_id)
    db.add(staff)
    await db.flush()
    await record(db, tenant_id=station.tenant_id, actor_user_id=actor_id, action="station_staff_added",
                 target=f"station:{station.id}", client_addr=client_addr,
                 details={"role": role, "user_id": user_id, "deputy_id": deputy_id})
    return staff


async def remove_staff(db: AsyncSession, ref: StationRef, staff: StationStaff, *, actor_id: int,
                       client_addr: str | None = None) -> None:
    _open(ref)
    await db.delete(staff)
    await db.flush()
    await record(db, tenant_id=ref.station.tenant_id, actor_user_id=actor_id, action="station_staff_removed",
                 target=f"station:{ref.station.id}", client_addr=client_addr,
                 details={"role": staff.role, "user_id": staff.user_id, "deputy_id": staff.deputy_id})


# --- goals and commitments ------------------------------------------------------------------------

def _year(value) -> int:
    year = _whole_number(value)
    if year is None or not 2000 <= year <= 2100:
        raise Refusal(BAD_YEAR)
    return year


def _text(value, message: str, limit: int = 500) -> str:
    text = str(value or "").strip()
    if not text or len(text) > limit:
        raise Refusal(message)
    return text


async def add_goal(db: AsyncSession, ref: StationRef, *, year, goal: str, actor_id: int,
                   client_addr: str | None = None) -> StationGoal:
    _open(ref)
    row = StationGoal(tenant_id=ref.station.tenant_id, station_id=ref.station.id, year=_year(year),
                      goal=_text(goal, GOAL_REQUIRED), progress="", done=False)
    db.add(row)
    await db.flush()
    await record(db, tenant_id=ref.station.tenant_id, actor_user_id=actor_id, action="station_goal_added",
                 target=f"station:{ref.station.id}", client_addr=client_addr, details={"goal_id": row.id})
    return row


async def update_goal(db: AsyncSession, ref: StationRef, goal: StationGoal, *, progress: str, done: bool,
                      actor_id: int, client_addr: str | None = None) -> None:
    _open(ref)
    progress = str(progress or "").strip()
    if len(progress) > 500:
        raise Refusal(FIELD_TOO_LONG, field=gettext(GOAL_PROGRESS), max=500)
    if goal.progress == progress and goal.done == done:
        return
    goal.progress, goal.done = progress, done
    await db.flush()
    await record(db, tenant_id=ref.station.tenant_id, actor_user_id=actor_id, action="station_goal_changed",
                 target=f"station:{ref.station.id}", client_addr=client_addr,
                 details={"goal_id": goal.id, "done": done})


async def add_commitment(db: AsyncSession, ref: StationRef, *, deputy_id, year, commitment: str, actor_id: int,
                         client_addr: str | None = None) -> Commitment:
    _open(ref)
    did = as_id(deputy_id)
    stationed = await db.scalar(
        select(StationDeputy.deputy_id).where(StationDeputy.station_id == ref.station.id,
                                              StationDeputy.deputy_id == did, StationDeputy.ended_at.is_(None))
        .limit(1)
    ) if did else None
    if stationed is None:
        raise Refusal(DEPUTY_NOT_STATIONED)
    row = Commitment(tenant_id=ref.station.tenant_id, station_id=ref.station.id, deputy_id=did, year=_year(year),
                     commitment=_text(commitment, COMMITMENT_REQUIRED))
    db.add(row)
    await db.flush()
    await record(db, tenant_id=ref.station.tenant_id, actor_user_id=actor_id, action="station_commitment_added",
                 target=f"station:{ref.station.id}", client_addr=client_addr,
                 details={"commitment_id": row.id, "deputy_id": did})
    return row


async def remove_commitment(db: AsyncSession, ref: StationRef, row: Commitment, *, actor_id: int,
                            client_addr: str | None = None) -> None:
    _open(ref)
    await db.delete(row)
    await db.flush()
    await record(db, tenant_id=ref.station.tenant_id, actor_user_id=actor_id, action="station_commitment_removed",
                 target=f"station:{ref.station.id}", client_addr=client_addr,
                 details={"deputy_id": row.deputy_id, "year": row.year})
