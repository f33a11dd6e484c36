"""The two ledgers, each a printable page and a spreadsheet, in the member's scope
(``access.case_filter``; the suggestions through ``deputies_in_scope``):

- the register of opinions and suggestions (选民反映情况和代表建议、批评和意见登记簿): one line per case
  registered in a period (no mobile numbers: a ledger is a list), then the deputies' suggestions
  filed in that period;
- the quarterly list of issues and their resolution (季度问题清单及办理情况): per category the number
  raised, resolved (closed), in progress (the rest), overdue (today), the main issues (urgent first,
  then the newest: three content excerpts) and the satisfaction rate. Merged cases are left out.

Spreadsheets are written by ``app.core.spreadsheets`` (which guards against formula injection).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import Suggestion
from app.cases.access import case_filter, cases_query
from app.cases.models import SATISFACTION_NAMES, SOURCE_NAMES, STATE_NAMES, Case, CaseCategory, JointReferral
from app.tenancy.models import AdminNode, HandlingUnit, Tenant
from app.cases.queries import overdue_condition
from app.cases.stats import SATISFIED
from app.core.periods import Period
from app.core import spreadsheets
from app.core.i18n import gettext, lazy
from app.deputies.access import deputies_in_scope
from app.deputies.models import Deputy
from app.stations.models import Station
from app.tenancy.scope import Scope

LEDGER_ROLES = ("county_admin", "viewer", "township_staff", "station_staff")
PER_PAGE = 50
MAIN_ISSUES = 3
EXCERPT = 60
SUGGESTION_STATE_NAMES = {"filed": lazy("Suggestion filed"), "assigned": lazy("Suggestion assigned"),
                          "answered": lazy("Suggestion answered")}
REGISTER_HEAD = (lazy("Date registered"), lazy("Case source"), lazy("Person who raised it"), lazy("Case content"),
                 lazy("Case category"), lazy("Station or place"), lazy("Deputy who received it"), lazy("Handling unit"),
                 lazy("Case state"), lazy("Reply summary"), lazy("Date fed back"), lazy("Satisfaction"))
SUGGESTION_HEAD = (lazy("Suggestion title"), lazy("Deputy"), lazy("Date filed"), lazy("Suggestion state"),
                   lazy("Handling unit"))
QUARTERLY_HEAD = (lazy("Case category"), lazy("Issues raised"), lazy("Issues resolved"), lazy("Issues in progress"),
                  lazy("Issues overdue"), lazy("Satisfaction rate"), lazy("Main issues"))
NO_CATEGORY = lazy("No category")
SUGGESTIONS_SHEET = lazy("Deputies' suggestions")
QUARTER_TOTAL = lazy("Total of the quarter")
FULL_STOPS = "。！？；…!?;"  # an excerpt ending in one of these needs no "；" after it
SOFT_STOPS = "，、,:：　 "  # dropped before the "；"


def _referred_to():
    """A joint station's case has no handling unit: the member counties it was referred to stand there."""
    return (select(func.string_agg(Tenant.name, "、"))
            .select_from(JointReferral).join(Tenant, Tenant.id == JointReferral.county_tenant_id)
            .where(JointReferral.tenant_id == Case.tenant_id, JointReferral.case_id == Case.id)
            .correlate(Case).scalar_subquery())


def _register_query(scope: Scope, start, end, station_ids: list[int] | None = None):
    """``station_ids``: only the cases of these stations (the station binder's copy of the register)."""
    query = (
        cases_query(Case.created_at, Case.source, Case.person_name, Case.content, CaseCategory.name,
                    func.coalesce(Station.name, AdminNode.name), Deputy.name,
                    func.coalesce(HandlingUnit.name, _referred_to()), Case.state,
                    func.substr(Case.reply_text, 1, 200), Case.fed_back_at, Case.satisfaction)
        .outerjoin(CaseCategory, and_(CaseCategory.tenant_id == Case.tenant_id, CaseCategory.id == Case.category_id))
        .outerjoin(Station, and_(Station.tenant_id == Case.tenant_id, Station.id == Case.station_id))
        .outerjoin(Deputy, and_(Deputy.tenant_id == Case.tenant_id, Deputy.id == Case.deputy_id))
        .outerjoin(HandlingUnit, and_(HandlingUnit.tenant_id == Case.tenant_id,
                                      HandlingUnit.id == Case.handling_unit_id))
        .where(case_filter(scope), Case.created_at >= start, Case.created_at < end)
        .order_by(Case.created_at, Case.id)
    )
    return query if station_ids is None else query.where(Case.station_id.in_(station_ids))


def _suggestion_query(scope: Scope, period: Period):
    return (
        select(Suggestion.title, Deputy.name, Suggestion.filed_on, Suggestion.state, HandlingUnit.name)
        .join(Deputy, and_(Deputy.tenant_id == Suggestion.tenant_id, Deputy.id == Suggestion.deputy_id))
        .outerjoin(HandlingUnit, and_(HandlingUnit.tenant_id == Suggestion.tenant_id,
                                      HandlingUnit.id == Suggestion.handling_unit_id))
        .where(deputies_in_scope(scope), Suggestion.filed_on >= period.first, Suggestion.filed_on <= period.last)
        .order_by(Suggestion.filed_on, Suggestion.id)
    )


@dataclass
class Register:
    period: Period
    cases: list
    total: int
    page: int
    pages: int
    suggestions: list = field(default_factory=list)
    suggestions_total: int = 0


async def register(db: AsyncSession, scope: Scope, period: Period, tz, page: int = 1) -> Register:
    """A page of the register (50 cases); the first page also has the period's suggestions (50)."""
    start, end = period.bounds(tz)
    total = await db.scalar(cases_query(func.count(Case.id)).where(case_filter(scope), Case.created_at >= start,
                                                            Case.created_at < end)) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, page), pages)
    rows = (await db.execute(_register_query(scope, start, end).limit(PER_PAGE)
                             .offset((page - 1) * PER_PAGE))).all()
    out = Register(period=period, cases=list(rows), total=total, page=page, pages=pages)
    if page == 1:
        out.suggestions = list((await db.execute(_suggestion_query(scope, period).limit(PER_PAGE))).all())
        out.suggestions_total = len(out.suggestions)
        if out.suggestions_total == PER_PAGE:
            out.suggestions_total = await db.scalar(
                select(func.count()).select_from(_suggestion_query(scope, period).order_by(None).subquery()))
    return out


async def station_register(db: AsyncSession, scope: Scope, station_ids: list[int], period: Period, tz) -> list:
    """Every case of the period registered at these stations (the binder's register): one query."""
    start, end = period.bounds(tz)
    return list((await db.execute(_register_query(scope, start, end, station_ids))).all())


def register_cells(row, tz) -> list:
    at, source, person, content, category, place, deputy, unit, state, reply, fed_back, satisfaction = row
    # Dates as dates (the page prints them as 2026-12-01, the sheet filters them as dates).
    return [at.astimezone(tz).date(), gettext(SOURCE_NAMES[source]), person or "", content,
            category or "", place or "", deputy or "", unit or "", gettext(STATE_NAMES[state]), reply or "",
            fed_back.astimezone(tz).date() if fed_back else "",
            gettext(SATISFACTION_NAMES[satisfaction]) if satisfaction else ""]


def suggestion_cells(row) -> list:
    title, deputy, filed_on, state, unit = row
    return [title, deputy, filed_on, gettext(SUGGESTION_STATE_NAMES.get(state, state)), unit or ""]


async def register_xlsx(db: AsyncSession, scope: Scope, period: Period, tz, title: str) -> bytes:
    """Every case of the period, then a second sheet of the suggestions (rows streamed into the book)."""
    start, end = period.bounds(tz)
    book = spreadsheets.Book()
    sheet = book.sheet(title, [gettext(h) for h in REGISTER_HEAD])
    async for row in await db.stream(_register_query(scope, start, end).execution_options(yield_per=2000)):
        sheet.append(register_cells(row, tz))
    second = book.sheet(gettext(SUGGESTIONS_SHEET), [gettext(h) for h in SUGGESTION_HEAD])
    for row in await db.execute(_suggestion_query(scope, period)):
        second.append(suggestion_cells(row))
    return book.save()


@dataclass
class Line:
    category_id: int | None
    name: str
    raised: int = 0
    resolved: int = 0
    overdue: int = 0
    satisfied: int = 0
    rated: int = 0
    issues: list = field(default_factory=list)  # content excerpts

    @property
    def in_progress(self) -> int:
        return self.raised - self.resolved

    @property
    def satisfaction_rate(self) -> int | None:
        return round(self.satisfied * 100 / self.rated) if self.rated else None

    @property
    def main_issues(self) -> list[str]:
        """The excerpts as printed: each text once (several voters often raise the same thing), each but
        the last closed by "；" unless it already ends a sentence (no "。；"); a trailing comma gives way."""
        kept: dict[str, str] = {}  # compared without the closing punctuation: "修路。" repeats "修路"
        for item in self.issues:
            item = (item or "").strip().rstrip(SOFT_STOPS)
            if item.rstrip(FULL_STOPS):
                kept.setdefault(item.rstrip(FULL_STOPS), item)
        items = list(kept.values())
        return [item if n == len(items) - 1 or item[-1] in FULL_STOPS else item + "；" for n, item in enumerate(items)]


async def quarterly(db: AsyncSession, scope: Scope, period: Period, tz, today: date) -> tuple[list[Line], Line]:
    """(one line per category with cases in the quarter, the total line): two queries."""
    start, end = period.bounds(tz)
    where = [case_filter(scope), Case.state != "merged", Case.created_at >= start, Case.created_at < end]
    rows = await db.execute(
        cases_query(Case.category_id, CaseCategory.name, func.count(), func.count().filter(Case.state == "closed"),
                    func.count().filter(overdue_condition(today)), func.count().filter(Case.satisfaction.in_(SATISFIED)),
                    func.count(Case.satisfaction))
        .outerjoin(CaseCategory, and_(CaseCategory.tenant_id == Case.tenant_id, CaseCategory.id == Case.category_id))
        .where(*where).group_by(Case.category_id, CaseCategory.name, CaseCategory.sort)
        .order_by(func.count().desc(), CaseCategory.sort, CaseCategory.name)
    )
    lines = {cid: Line(cid, name or gettext(NO_CATEGORY), *numbers) for cid, name, *numbers in rows}
    rank = func.row_number().over(partition_by=Case.category_id,
                                  order_by=((Case.urgency == "urgent").desc(), Case.created_at.desc(), Case.id.desc()))
    ranked = cases_query(Case.category_id.label("cid"), func.substr(Case.content, 1, EXCERPT).label("excerpt"),
                         rank.label("rank")).where(*where).subquery()
    for cid, excerpt in await db.execute(select(ranked.c.cid, ranked.c.excerpt).where(ranked.c.rank <= MAIN_ISSUES)
                                         .order_by(ranked.c.cid, ranked.c.rank)):
        if cid in lines:
            lines[cid].issues.append(excerpt)
    total = Line(None, "")
    for line in lines.values():
        for name in ("raised", "resolved", "overdue", "satisfied", "rated"):
            setattr(total, name, getattr(total, name) + getattr(line, name))
    return list(lines.values()), total


def quarterly_cells(line: Line) -> list:
    rate = spreadsheets.Percent(line.satisfied / line.rated) if line.rated else ""
    return [line.name, line.raised, line.resolved, line.in_progress, line.overdue, rate, "".join(line.main_issues)]


def quarterly_xlsx(lines: list[Line], total: Line, title: str) -> bytes:
    rows = [quarterly_cells(line) for line in lines]
    rows.append([gettext(QUARTER_TOTAL), *quarterly_cells(total)[1:6], ""])
    return spreadsheets.to_xlsx([gettext(h) for h in QUARTERLY_HEAD], rows, title)
