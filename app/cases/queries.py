"""Reading cases for lists: the filters as read from the address, the one "overdue" and "due soon"
conditions (the home pages count with the same ones, so a count and the list it links to agree), and the
list itself — one filter (``access.case_filter``), a fixed number of queries per page, a capped count.

At 200,000 cases an exact ``count(*)`` of an unfiltered list reads every row of the tenant; the list
counts at most ``COUNT_CAP + 1`` rows instead (an index scan that stops early) and shows "10,000+".
Pages beyond the cap are not offered: whoever needs them narrows the filters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import ARRAY, BigInteger, ColumnElement, and_, any_, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.access import case_filter, cases_query
from app.cases.models import LEVEL_NAMES, LEVELS, OPEN_WITH_UNIT, SOURCES, STATES, Case, CaseCategory, overdue
from app.cases.steps import FINISHED
from app.tenancy.models import AdminNode, HandlingUnit, TenantConfig
from app.cases.codes import CODE_ALPHABET, CODE_LENGTH, normalise_code
from app.core.periods import Period, parse_key, period_of
from app.core.db import MAX_ID, bound_tenant
from app.core.i18n import lazy
from app.stations.models import Station
from app.tenancy.scope import Scope

PER_PAGE = 50
COUNT_CAP = 10_000
SEARCH_MAX = 100
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def overdue_condition(today: date) -> ColumnElement[bool]:
    """Overdue (SQL): a handling unit owes a reply past ``reply_due``, or a reply waits to be fed back
    past ``feedback_due``. ``today`` is the tenant's local date. (The workflow's ``is_overdue`` is the
    same rule in Python.)"""
    return or_(and_(Case.state.in_(OPEN_WITH_UNIT), Case.reply_due < today),
               and_(Case.state == "replied", Case.feedback_due < today))


is_overdue = overdue  # the same rule as ``overdue_condition``, for a row already read

# Cases still under way: everything not finished (app.cases.steps.FINISHED), named state by state so
# the (tenant_id, state, created_at) index serves it.
OPEN_STATES = tuple(s for s in STATES if s not in FINISHED)
DUE_SOON_DEFAULT = TenantConfig.__table__.c.case_due_soon_days.default.arg


def due_soon_days():
    """The county's ``case_due_soon_days`` (SQL; its default when the county saved no settings): the
    window of the handling unit's due-soon reminder (app.cases.notices.due_soon)."""
    days = select(TenantConfig.case_due_soon_days).where(TenantConfig.tenant_id == Case.tenant_id).scalar_subquery()
    return func.coalesce(days, DUE_SOON_DEFAULT)


def due_soon_condition(today: date) -> ColumnElement[bool]:
    """Due soon (SQL): a handling unit owes a reply due from today to today + the county's due-soon
    days, the cases its reminder speaks of (not yet overdue)."""
    return and_(Case.state.in_(OPEN_WITH_UNIT), Case.reply_due >= today, Case.reply_due <= today + due_soon_days())


def due_date(state: str, reply_due: date | None, feedback_due: date | None) -> date | None:
    """The date the case waits for now: the reply while with a unit, the feedback once replied."""
    if state in OPEN_WITH_UNIT:
        return reply_due
    return feedback_due if state == "replied" else None


def _id(value) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) <= 19 and 0 < int(text) <= MAX_ID else None


def _month(value) -> str | None:
    m = MONTH_RE.match(str(value or "").strip())
    return m.group(0) if m and 2000 <= int(m.group(1)) <= 2100 and 1 <= int(m.group(2)) <= 12 else None


FLAGS = ("overdue", "due_soon", "open", "uncategorised")  # yes/no filters: "1" in the address
CHIP_NAMES = {
    "due_soon": lazy("Reply due soon"),
    "open": lazy("Still open"),
    "uncategorised": lazy("No category yet"),
    "sent_back_1": lazy("Sent back for re-handling"),
    "sent_back_0": lazy("Never sent back"),
}


@dataclass
class Filters:
    """The list's filters, read from the address; anything malformed is ignored."""
    state: str | None = None
    category: int | None = None
    station: int | None = None
    unit: int | None = None
    overdue: bool = False
    due_soon: bool = False
    open: bool = False  # not finished (OPEN_STATES)
    sent_back: str | None = None  # "1": sent back for re-handling at least once; "0": never
    uncategorised: bool = False
    level: str | None = None
    source: str | None = None
    period: str | None = None  # a period key: 2026, 2026-Q3, 2026-05
    start: str | None = None  # from month (YYYY-MM); the address says "from"
    end: str | None = None  # to month; the address says "to"
    q: str = ""
    page: int = 1

    @classmethod
    def read(cls, params) -> "Filters":
        get = params.get
        page = _id(get("page")) or 1
        return cls(
            state=get("state") if get("state") in STATES else None, category=_id(get("category")),
            station=_id(get("station")), unit=_id(get("unit")), overdue=get("overdue") == "1",
            due_soon=get("due_soon") == "1", open=get("open") == "1",
            sent_back=get("sent_back") if get("sent_back") in ("0", "1") else None,
            uncategorised=get("uncategorised") == "1", level=get("level") if get("level") in LEVELS else None,
            source=get("source") if get("source") in SOURCES else None,
            period=str(get("period")).strip() if parse_key(str(get("period") or "")) else None,
            start=_month(get("from")), end=_month(get("to")),
            q=" ".join(str(get("q") or "").split())[:SEARCH_MAX], page=min(page, COUNT_CAP),
        )

    def params(self, **change) -> dict:
        """The non-empty filters as address parameters (some changed, e.g. page=2)."""
        names = {"start": "from", "end": "to"}
        values = {names.get(f.name, f.name): getattr(self, f.name) for f in fields(self)}
        values.update(change)
        for flag in FLAGS:
            values[flag] = "1" if values.get(flag) else None
        if values.get("page") == 1:
            values["page"] = None
        return {k: v for k, v in values.items() if v not in (None, "", False)}

    def url(self, base: str, **change) -> str:
        query = urlencode(self.params(**change))
        return f"{base}?{query}" if query else base

    @property
    def active(self) -> bool:
        return bool(self.params(page=1))

    def chips(self) -> list[tuple[str, str, str]]:
        """The filters the form has no field for (set by a link, e.g. from the home page), each as
        (address parameter, value, msgid), so the list shows them and each can be removed."""
        out = [(flag, "1", CHIP_NAMES[flag]) for flag in FLAGS if flag != "overdue" and getattr(self, flag)]
        if self.sent_back is not None:
            out.append(("sent_back", self.sent_back, CHIP_NAMES[f"sent_back_{self.sent_back}"]))
        if self.level is not None:
            out.append(("level", self.level, LEVEL_NAMES[self.level]))
        return out


def span(f: Filters, tz: ZoneInfo) -> tuple[datetime, datetime] | None:
    """[start, end) of the chosen period (a key, or from/to months) in the tenant's zone."""
    if f.period:
        return parse_key(f.period).bounds(tz)
    if not (f.start or f.end):
        return None
    first = period_of("month", date.fromisoformat((f.start or "2000-01") + "-01"))
    last = period_of("month", date.fromisoformat((f.end or "2100-12") + "-01"))
    if last.first < first.first:
        first, last = last, first
    return Period("month", first.first, last.last).bounds(tz)


def conditions(scope: Scope, f: Filters, tz: ZoneInfo, today: date) -> list:
    """The WHERE clauses of the list, its count and its export (text search aside)."""
    where = [case_filter(scope)]
    for value, column in ((f.state, Case.state), (f.category, Case.category_id), (f.station, Case.station_id),
                          (f.unit, Case.handling_unit_id), (f.source, Case.source)):
        if value is not None:
            where.append(column == value)
    if f.overdue:
        where.append(overdue_condition(today))
    if f.due_soon:
        where.append(due_soon_condition(today))
    if f.open:
        where.append(Case.state.in_(OPEN_STATES))
    if f.sent_back is not None:
        where.append(Case.rehandled > 0 if f.sent_back == "1" else Case.rehandled == 0)
    if f.uncategorised:
        where.append(Case.category_id.is_(None))
    if f.level is not None:
        where.append(Case.level == f.level)
    bounds = span(f, tz)
    if bounds:
        where += [Case.created_at >= bounds[0], Case.created_at < bounds[1]]
    return where


def as_code(text: str) -> str | None:
    code = normalise_code(text)
    return code if len(code) == CODE_LENGTH and all(c in CODE_ALPHABET for c in code) else None


@dataclass
class CaseList:
    rows: list
    total: int  # at most COUNT_CAP + 1
    page: int
    pages: int
    code_match: bool = False
    today: date | None = None
    capped: bool = field(init=False)

    def __post_init__(self):
        self.capped = self.total > COUNT_CAP


def _row_query():
    place = func.coalesce(Station.name, AdminNode.name)
    return (
        cases_query(Case.id, Case.receipt_code, Case.created_at, Case.source, Case.state, Case.reply_due,
                    Case.feedback_due, Case.person_name, Case.person_mobile, func.substr(Case.content, 1, 40)
                    .label("excerpt"), CaseCategory.name.label("category"), place.label("place"),
                    HandlingUnit.name.label("unit"))
        .outerjoin(CaseCategory, and_(CaseCategory.tenant_id == Case.tenant_id, CaseCategory.id == Case.category_id))
        .outerjoin(Station, and_(Station.tenant_id == Case.tenant_id, Station.id == Case.station_id))
        .outerjoin(HandlingUnit, and_(HandlingUnit.tenant_id == Case.tenant_id,
                                      HandlingUnit.id == Case.handling_unit_id))
    )


async def list_cases(db: AsyncSession, scope: Scope, f: Filters, *, tz: ZoneInfo, today: date) -> CaseList:
    """Newest first, 50 a page: a receipt code typed into the search finds that case (in scope) alone;
    other text is looked for in the content through the search index (``search_ids``), else (one
    character, or a term in more than ``COUNT_CAP`` cases) by ILIKE, bounded by the other filters and
    the page."""
    code = as_code(f.q) if f.q else None
    if code:
        rows = (await db.execute(_row_query().where(case_filter(scope), Case.receipt_code == code))).all()
        if rows:
            return CaseList(rows=list(rows), total=1, page=1, pages=1, code_match=True, today=today)
    found = await search_ids(db, f.q) if f.q else None
    if found == []:
        return CaseList(rows=[], total=0, page=1, pages=1, today=today)
    where = list_conditions(scope, f, tz, today, found=found)
    total = await db.scalar(count_query(where)) or 0
    pages = max(1, -(-min(total, COUNT_CAP) // PER_PAGE))
    page = min(max(1, f.page), pages)
    rows = (await db.execute(page_query(where, page))).all()
    return CaseList(rows=list(rows), total=total, page=page, pages=pages, today=today)


async def search_ids(db: AsyncSession, term: str) -> list[int] | None:
    """The ids of the bound tenant's cases whose content contains ``term`` (case-insensitively), from
    the SECURITY DEFINER ``case_search`` over its index (migration 0041: under forced row-level
    security no index can serve ``ILIKE``). None when the index cannot help: a term of one character
    (no pair of characters to look up), or one in more than ``COUNT_CAP`` cases, where the scan
    newest-first fills a page after a few rows. The caller still reads the cases under its own
    policy and scope (``Case.id = ANY(found)``)."""
    tenant_id = bound_tenant(db)
    if tenant_id is None or len(term) < 2:
        return None
    ids = await db.scalar(select(func.case_search(tenant_id, term, COUNT_CAP)))
    return None if ids is None or len(ids) > COUNT_CAP else list(ids)


def list_conditions(scope: Scope, f: Filters, tz: ZoneInfo, today: date, *, found: list[int] | None = None) -> list:
    """The list's conditions; ``found``: the ids ``search_ids`` gave for ``f.q`` (None: none given),
    exact already (``case_search`` checks the text itself), so the ILIKE is left out then: kept, it
    made the planner expect a row or two and join every found case before sorting (0.85 s for
    1,540 found at 200,000 cases)."""
    where = conditions(scope, f, tz, today)
    if f.q and found is not None:
        where.append(Case.id == any_(bindparam("found", found, type_=ARRAY(BigInteger))))
    elif f.q:
        where.append(Case.content.icontains(f.q, autoescape=True))
    return where


def count_query(where: list):
    """count(*) of at most COUNT_CAP + 1 matching rows: the scan stops there."""
    capped = cases_query(Case.id).where(*where).limit(COUNT_CAP + 1).subquery()
    return select(func.count()).select_from(capped)


def page_query(where: list, page: int):
    return (_row_query().where(*where).order_by(Case.created_at.desc(), Case.id.desc())
            .limit(PER_PAGE).offset((page - 1) * PER_PAGE))
