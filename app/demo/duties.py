"""Demo duty records of the two demo counties (issue 18), after their presets: dossiers of filed duty
entries from 1 January last year to today (sessions of the congresses, speeches, motions, inspections,
training, a commendation — most approved by the county admin, a handful waiting for review, some filed
by 张德明 himself through `santai-deputy`, one rejected with its reason); in 三台县 the last finished
quarter's points published (every deputy told, by inbox or SMS) with 张德明's correction request
waiting, and the 述职评议 at 北坝村 — 王秀兰's held earlier this year with paper and phone ballots,
shown on the public page, and 杨桂芳's on a coming day; in 榆次区 (its preset's 100-point points scheme)
last year's appraisal published (notices sent, most rectification reports handed in, one
late, two missing after the due day, a talk with an unsatisfactory deputy) and this year's as a draft
with one score adjusted.

The entries are written in bulk (one flush per county); the publication, the appraisals and the
meetings go through the product's services with the county's staff as actors, dated where history
needs it (the publication twelve days after its quarter, last year's appraisal in January and
February — shifted back when today is earlier in the year). Messages of that history are marked sent
(they went out then); rectification reports are written straight into their rows, as the demo's
deputies in 榆次区 have no account to hand them in with. Texts and dates come from a generator seeded
per county, so the same day gives the same demo. Idempotent per county: a county holding any duty
entry is left alone (as app/demo/activities.py leaves a county holding activities).
"""

from __future__ import annotations

import hashlib
import random
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database
from app.core.errors import Refusal
from app.core.periods import Period, parse_key
from app.demo import duties_data as data
from app.demo.activities import _stations
from app.demo.people import COUNTIES, LIAISON_USER, DeputyDemo, _scope, _user_ids
from app.deputies.models import Deputy
from app.deputies.services import Actor
from app.duties import appraisal, meeting_ballots, meetings
from app.duties import point_publishing as pub
from app.duties.appraisal_models import AppraisalResult
from app.duties.models import DutyEntry
from app.notify import outbox
from app.notify.models import Outbox
from app.tenancy.models import Tenant

DEPUTY_LOGIN = "santai-deputy"  # 张德明's own account (app.demo.DEMO_DEPUTY_LOGINS)
NUMERALS = "一二三四五六七八九"


@dataclass
class World:
    """One county being loaded: who acts, its deputies by name, today in its zone."""
    slug: str
    tenant: Tenant
    tz: ZoneInfo
    today: date
    now: datetime
    users: dict[str, int]
    deputies: dict[str, int]
    admin: Actor
    rng: random.Random
    session_days: dict[tuple[str, int], date] = field(default_factory=dict)

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=self.tz)

    def past(self, moment: datetime, margin: timedelta = timedelta(hours=1)) -> datetime:
        """A moment of the history, never later than a little before now."""
        return min(moment, self.now - margin)


def _chinese(n: int) -> str:
    """1..99 as written in a congress's name (第十八届, 第五次)."""
    tens, ones = divmod(n, 10)
    return (("" if tens == 1 else NUMERALS[tens - 1]) + "十" if tens else "") + (NUMERALS[ones - 1] if ones else "")


def _workday(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


async def already_loaded(db: AsyncSession) -> bool:
    return await db.scalar(select(DutyEntry.id).limit(1)) is not None


async def load_county(database: Database, tenant_id: int, slug: str, today: date | None = None) -> bool:
    """One county's duty records in one transaction; False when it holds duty entries already (or a
    record of the demo is refused in a county changed by hand, which is said on stderr)."""
    try:
        async with database.transaction(tenant_id=tenant_id) as db:
            if await already_loaded(db):
                return False
            w = await _world(db, tenant_id, slug, today)
            await db.execute(insert(DutyEntry), _entries(w))  # one statement: a year of history at once
            if slug == "santai":
                await _publish_quarter(db, w)
                await _report_meetings(db, w)
            else:
                await _appraisals(db, w)
    except (Refusal, KeyError) as exc:
        print(f"demo duty records of {slug} not loaded: {exc!r}", file=sys.stderr)
        return False
    return True


async def load_duties(database: Database, tenant_ids: dict[str, int], today: date | None = None) -> None:
    for slug in data.TIERS:
        if slug in tenant_ids:
            await load_county(database, tenant_ids[slug], slug, today)


async def _world(db: AsyncSession, tenant_id: int, slug: str, today: date | None) -> World:
    demo = COUNTIES[slug]
    tenant = await db.get(Tenant, tenant_id)
    tz = ZoneInfo(tenant.timezone)
    now = datetime.now(timezone.utc)
    users = await _user_ids(db, {demo.admin, LIAISON_USER, DEPUTY_LOGIN})
    names = [d.name for d in demo.deputies]
    deputies = {n: i for n, i in (await db.execute(select(Deputy.name, Deputy.id).where(Deputy.name.in_(names))))}
    admin = Actor(tenant_id=tenant_id, user_id=users[demo.admin], scope=await _scope(db, tenant_id, users[demo.admin]))
    return World(slug, tenant, tz, today or now.astimezone(tz).date(), now, users, deputies, admin,
                 random.Random(f"duties:{slug}"))


# --- the dossiers' entries ------------------------------------------------------------------------

def _words(w: World, spec: DeputyDemo) -> dict[str, str]:
    city, county = data.PLACES[w.slug]
    paths = [m[3] for m in spec.mandates if m[3]]
    paths += [s.node for s in COUNTIES[w.slug].stations if s.key in spec.stations]
    return {"city": city, "county": county, "town": (paths or [COUNTIES[w.slug].stations[0].node])[0].split("/")[0]}


def _session(w: World, spec: DeputyDemo, mandate: tuple, year: int) -> tuple[date, str]:
    """The day and name of the congress's yearly session for one of the deputy's mandates; the days are
    the county's (every deputy of a congress sits on the same day)."""
    level, term = mandate[0], mandate[1]
    words = _words(w, spec)
    body = {"city": words["city"], "county": words["county"]}.get(level, words["town"])
    key = (f"{level}:{body}", year)
    if key not in w.session_days:
        start = {"city": (1, 5), "county": (1, 12)}.get(level, (2, 20))
        w.session_days[key] = _workday(date(year, *start) + timedelta(days=w.rng.randint(0, 6)))
    name = f"{body}第{_chinese(term)}届人民代表大会第{_chinese(max(1, year - data.FIRST_TERM_YEAR))}次会议"
    return w.session_days[key], name


def _spread(w: World, year: int, months: range, texts: tuple, n: int, kind: str, words: dict) -> list[tuple]:
    chosen = sorted(w.rng.sample(list(months), n))
    picked = w.rng.sample(texts, min(n, len(texts)))
    return [(_workday(date(year, m, w.rng.randint(3, 25))), kind, picked[i % len(picked)].format(**words))
            for i, m in enumerate(chosen)]


def _year_of(w: World, spec: DeputyDemo, tier: str, year: int) -> list[tuple[date, str, str]]:
    """One deputy's duties of a year as (day, kind, text)."""
    counts, words = data.TIER_COUNTS[tier], _words(w, spec)
    out = []
    for mandate in spec.mandates:
        day, name = _session(w, spec, mandate, year)
        out.append((day, "session", f"出席{name}，参加大会各项议程。"))
    day, name = _session(w, spec, spec.mandates[0], year)
    words = {**words, "session": name, "year": str(year - 1)}
    for n, text in enumerate(w.rng.sample(data.SPEECHES, counts["speech"])):
        out.append((_workday(day + timedelta(days=n % 2)), "speech", text.format(**words)))
    out += [(day, "motion", w.rng.choice(data.MOTIONS).format(**words)) for _ in range(counts["motion"])]
    out += [(day + timedelta(days=1), "leave", w.rng.choice(data.LEAVES).format(**words))
            for _ in range(counts["leave"])]
    out += _spread(w, year, range(3, 12), data.INSPECTIONS, counts["inspection"], "inspection", words)
    out += _spread(w, year, range(4, 12), data.TRAININGS, counts["training"], "training", words)
    out += _spread(w, year, range(1, 13), data.OTHERS, counts["other"], "other", words)
    if data.AWARDED[w.slug][year % 2] == spec.name:
        out.append((_workday(date(year, 3, 8)), "award", data.AWARD.format(**words)))
    return out


def _filer(w: World, spec: DeputyDemo, who: str | None = None) -> int:
    """Who filed an entry: 张德明 often himself, the liaison officer for their station's deputies, else
    the county admin."""
    if who is None:
        own = spec.name == data.LATE_ENTRY[0] and w.rng.random() < 0.5
        liaison = COUNTIES[w.slug].liaison_station in spec.stations
        who = "self" if own else "liaison" if liaison else "admin"
    return {"self": w.users[DEPUTY_LOGIN], "liaison": w.users[LIAISON_USER]}.get(who, w.admin.user_id)


def _entry(w: World, spec: DeputyDemo, day: date, kind: str, text: str, *, status: str = "approved",
           who: str | None = None, reason: str = "", filed: datetime | None = None) -> dict:
    """An entry's row, as filing and reviewing it would have left it."""
    created = w.past(filed or w.at(day + timedelta(days=w.rng.randint(1, 4)), w.rng.randint(9, 17)),
                     timedelta(hours=2))
    reviewed = None if status == "filed" else w.past(created + timedelta(days=w.rng.randint(1, 5)))
    return dict(tenant_id=w.tenant.id, deputy_id=w.deputies[spec.name], day=day, kind=kind, text=text,
                status=status, reject_reason=reason, filed_by=_filer(w, spec, who), created_at=created,
                reviewed_by=None if status == "filed" else w.admin.user_id, reviewed_at=reviewed)


def _entries(w: World) -> list[dict]:
    specs = {d.name: d for d in COUNTIES[w.slug].deputies if d.name in w.deputies}
    out = []
    for name, tier in data.TIERS[w.slug].items():
        if name not in specs:
            continue
        for year in (w.today.year - 1, w.today.year):
            out += [_entry(w, specs[name], day, kind, text) for day, kind, text in _year_of(w, specs[name], tier, year)
                    if day <= w.today - timedelta(days=3)]
    return out + _specials(w, specs)


def _specials(w: World, specs: dict[str, DeputyDemo]) -> list[dict]:
    """The entries waiting for review, the rejected ones, 张德明's entry filed late (三台县) and the
    talk of last year's appraisal (榆次区)."""
    out = []
    for name, kind, ago, text, who in data.WAITING[w.slug]:
        if name in specs:
            out.append(_entry(w, specs[name], w.today - timedelta(days=ago), kind, text, status="filed", who=who))
    for name, kind, ago, text, reason in data.REJECTED[w.slug]:
        if name in specs:
            out.append(_entry(w, specs[name], w.today - timedelta(days=ago), kind, text, status="rejected",
                              reason=reason))
    name, kind, text = data.LATE_ENTRY
    if w.slug == "santai" and name in specs:
        out.append(_entry(w, specs[name], _late_day(w), kind, text, status="filed", who="self",
                          filed=w.now - timedelta(days=3)))
    name, talk = data.TALK[0], _timeline(w.today)["talk"]
    if w.slug == "yuci" and name in specs:
        text = data.TALK_ENTRY.format(year=w.today.year - 1, **_words(w, specs[name]))
        out.append(_entry(w, specs[name], talk, "talk", text, who="admin"))
    return out


# --- 三台县: the quarter's points and the 述职评议 at 北坝村 ------------------------------------------

def last_quarter(today: date) -> Period:
    """The last quarter that has ended (2026-Q3 in the fourth quarter)."""
    q = (today.month - 1) // 3
    return parse_key(f"{today.year - 1}-Q4" if q == 0 else f"{today.year}-Q{q}")


def _late_day(w: World) -> date:
    """The day of 张德明's entry filed late: mid-quarter of the published quarter."""
    first = last_quarter(w.today).first
    return _workday(date(first.year, first.month + 1, 18))


async def _mark_sent(db: AsyncSession, subject: str, until: datetime) -> None:
    """The history's messages went out when they were due (the worker must not send them now)."""
    await db.execute(update(Outbox).where(Outbox.subject == subject, Outbox.status == "pending",
                                          Outbox.due_at <= until)
                     .values(status="sent", sent_at=Outbox.due_at, attempts=1)
                     .execution_options(synchronize_session=False))


async def _publish_quarter(db: AsyncSession, w: World) -> None:
    period = last_quarter(w.today)
    published = w.past(w.at(period.last + timedelta(days=12), 10), timedelta(0))
    publication = await pub.publish(db, tenant_id=w.tenant.id, tenant_name=w.tenant.name, slug=w.tenant.slug,
                                    actor_id=w.admin.user_id, key=period.key, tz=w.tz, now=published)
    await _mark_sent(db, f"points:{period.key}", published)
    name = data.LATE_ENTRY[0]
    if name in w.deputies:
        day = _late_day(w)
        text = data.CORRECTION.format(day=f"{day.month}月{day.day}日", quarter=pub.chinese_label(period))
        await pub.request_correction(db, tenant_id=w.tenant.id, actor_id=w.users[DEPUTY_LOGIN],
                                     deputy_id=w.deputies[name], publication_id=publication.id, text=text)


async def _report_meetings(db: AsyncSession, w: World) -> None:
    """王秀兰's report held earlier this year (paper ballots, then phones by the QR code), run by the
    liaison officer of 北坝村; 杨桂芳's on the coming Friday; the results shown on the public page."""
    station = (await _stations(db, w.slug))["beiba"]
    actor = w.users[LIAISON_USER]
    scope = await _scope(db, w.tenant.id, actor)
    held_on = _workday(max(w.today - timedelta(days=45), date(w.today.year, 1, 5)))
    if held_on >= w.today:
        held_on = w.today - timedelta(days=1)
    ref = await _meeting(db, w, scope, actor, station, data.HELD_MEETING, held_on)
    await meetings.enter_paper(db, ref, actor_id=actor, form=dict(data.PAPER_COUNTS))
    for rating, comment in data.PAPER_COMMENTS:
        await meetings.enter_paper(db, ref, actor_id=actor, form={"rating": rating, "comment": comment})
    await meetings.record_step(db, ref.meeting, actor_id=actor, step="paper")
    await meetings.open_voting(db, ref)
    await meetings.record_step(db, ref.meeting, actor_id=actor, step="opened")
    view = meeting_ballots.BallotView(ref.meeting, ref.deputy_name, ref.station_name)
    # the voters share the hall's Wi-Fi (one client address); each phone has its own ballot cookie
    hall = hashlib.sha256(f"demo-hall:{ref.meeting.id}".encode()).hexdigest()
    for n, (rating, comment) in enumerate(data.PHONE_BALLOTS):
        phone = hashlib.sha256(f"demo-phone:{ref.meeting.id}:{n}".encode()).hexdigest()
        await meeting_ballots.cast(db, view, rating=rating, comment=comment, phone=phone, client=hall,
                                   now=ref.meeting.starts_at + timedelta(minutes=70 + 3 * n), tz=w.tz)
    await meetings.close_meeting(db, ref, ref.meeting.ends_at + timedelta(minutes=20))
    await meetings.record_step(db, ref.meeting, actor_id=actor, step="closed")
    coming = w.today + timedelta(days=(4 - w.today.weekday()) % 7 or 7)
    await _meeting(db, w, scope, actor, station, data.COMING_MEETING, coming)


async def _meeting(db: AsyncSession, w: World, scope, actor: int, station: int, spec: data.ReportMeeting,
                   day: date) -> meetings.MeetingRef:
    form = {"station_id": str(station), "deputy_id": str(w.deputies[spec.deputy]), "held_on": day.isoformat(),
            "start": spec.start, "end": spec.end, "place": spec.place, "voters_present": str(spec.voters)}
    meeting = await meetings.create_meeting(db, scope, tenant_id=w.tenant.id, actor_id=actor,
                                            tz_name=w.tenant.timezone, form=form)
    meeting.created_at = w.past(w.at(min(day, w.today) - timedelta(days=10), 16))
    return await meetings.access_meeting(db, scope, meeting.id, manage=True)


# --- 榆次区: the appraisals (scored by its preset's points scheme) ----------------------------------------------------

def _timeline(today: date) -> dict[str, date]:
    """Last year's appraisal: drafted and published in January, the talk in February, reports due at
    the end of February, the late one in March — all moved back when today is before April."""
    y = today.year
    days = {"drafted": date(y, 1, 12), "published": date(y, 1, 16), "talk": date(y, 2, 10),
            "due": date(y, 3, 1) - timedelta(days=1), "late": date(y, 3, 10)}
    shift = timedelta(days=max(0, (date(y, 4, 1) - today).days))
    return {k: v - shift for k, v in days.items()}


async def _appraisals(db: AsyncSession, w: World) -> None:
    t = _timeline(w.today)
    year = str(w.today.year - 1)
    last = await appraisal.create_draft(db, w.admin, year=year, excellent="90", pass_="80",
                                        report_due=t["due"].isoformat(), today=t["drafted"], tz=w.tz)
    last.created_at = w.at(t["drafted"], 10)
    published = w.at(t["published"], 10)
    await appraisal.publish(db, w.admin, last, slug=w.tenant.slug, now=published, tz=w.tz)
    await _reports(db, w, last, t)
    name, talked_by, agreed = data.TALK
    if name in w.deputies:
        deputy = await db.get(Deputy, (w.tenant.id, w.deputies[name]))
        await appraisal.record_talk(db, w.admin, last, deputy, day=t["talk"].isoformat(), talked_by=talked_by,
                                    agreed=agreed, today=w.today)
    due = max(t["due"].replace(year=t["due"].year + 1), w.today + timedelta(days=30))
    current = await appraisal.create_draft(db, w.admin, year=str(w.today.year), excellent="90", pass_="80",
                                           report_due=due.isoformat(), today=w.today, tz=w.tz)
    await _adjust(db, w, current)


async def _adjust(db: AsyncSession, w: World, draft) -> None:
    """The best score below excellent in this year's draft goes up a little, with the reason."""
    change, reason = data.ADJUSTED
    result = await db.scalar(select(AppraisalResult).where(AppraisalResult.appraisal_id == draft.id,
                                                           AppraisalResult.computed < draft.excellent)
                             .order_by(AppraisalResult.computed.desc(), AppraisalResult.deputy_id).limit(1))
    if result is not None:
        await appraisal.adjust(db, w.admin, draft, deputy_id=result.deputy_id, score=str(result.computed + change),
                               reason=reason)


async def _reports(db: AsyncSession, w: World, a, t: dict[str, date]) -> None:
    """Most deputies hand in their rectification report before the due day (their reminders withdrawn,
    as filing does), one after it; the missing ones' reminders went out."""
    names = {i: n for n, i in w.deputies.items()}
    remind_at = w.at(t["due"] - timedelta(days=appraisal.REMIND_DAYS), appraisal.REMIND_AT.hour)
    results = (await db.scalars(select(AppraisalResult).where(AppraisalResult.appraisal_id == a.id)
                                .order_by(AppraisalResult.deputy_id))).all()
    for r in results:
        name = names.get(r.deputy_id)
        if name is None or name in data.REPORT_MISSING:
            continue
        if name == data.REPORT_LATE:
            at = w.at(t["late"], 15, 20)
        else:
            at = w.at(t["published"] + timedelta(days=w.rng.randint(3, 36)), w.rng.randint(9, 17), 10)
            at = min(at, w.at(t["due"], 16))
        r.report_text, r.report_at = data.REPORTS[r.grade].format(year=a.year), at
        if at < remind_at:
            await outbox.withdraw(db, subject=appraisal.subject_of(a), kinds=["appraisal_report_due"],
                                  deputy_id=r.deputy_id)
    await db.flush()
    await _mark_sent(db, appraisal.subject_of(a), w.now)
