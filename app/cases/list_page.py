"""The cases list page, cheap per request (issue 20): its statements built once per shape and reused,
its rows turned into the strings the table shows in one pass of Python.

- The page's rows and the capped count (``queries.COUNT_CAP``) are one statement: the count is an
  uncorrelated scalar subquery, which PostgreSQL evaluates once. A page past the end (rare: an old
  link) costs one or two more.
- The filters' choices (categories, stations in reach, handling units) are one ``UNION ALL``.
- Each statement is built once per (scope, filters without the page, local day) and kept in a small
  per-process cache: SQLAlchemy then neither rebuilds it (coercions) nor recomputes its cache key
  (memoized on the statement), and it runs on the session's connection as Core (no ORM loading).
  Tenant isolation stays with row-level security (the request's transaction is bound to its
  tenant); what differs between members (``case_filter``, ``station_filter``) is in the key.
- Text search goes to ``queries.list_cases`` (its own index path), unchanged.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import date
from typing import NamedTuple
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape
from sqlalchemy import bindparam, func, literal, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases import queries
from app.cases.access import cases_query
from app.cases.models import OPEN_WITH_UNIT, SOURCE_NAMES, STATE_NAMES, Case, CaseCategory
from app.core.i18n import gettext
from app.core.security import mask_mobile
from app.stations.access import node_join as station_node_join
from app.stations.access import station_filter
from app.stations.models import Station
from app.tenancy.models import AdminNode, HandlingUnit
from app.tenancy.scope import Scope

CACHE_SIZE = 256  # statements kept per process and kind (shapes in use: a few per member and filter set)
EXCERPT = 20  # characters of the content the table shows (the query reads 40)


class _Cache(OrderedDict):
    """A small LRU of built statements."""

    def get_or_build(self, key, build):
        stmt = self.get(key)
        if stmt is None:
            stmt = self[key] = build()
            if len(self) > CACHE_SIZE:
                self.popitem(last=False)
        else:
            self.move_to_end(key)
        return stmt


_pages = _Cache()
_choices = _Cache()


def scope_key(scope: Scope) -> tuple:
    """What ``case_filter`` and ``station_filter`` read of a scope: members alike share statements
    (every county admin of every tenant the same ones; row-level security tells tenants apart)."""
    role = scope.role
    return (role, scope.node_path if role == "township_staff" else None,
            scope.station_id if role == "station_staff" else None, scope.user_id if role == "deputy" else None,
            scope.handling_unit_id if role == "handling_unit" else None)


def _page_statement(scope: Scope, f: queries.Filters, tz: ZoneInfo, today: date):
    """``queries.page_query`` plus the local day of registration as text (no per-row time zone work in
    Python) and the capped count."""
    where = queries.conditions(scope, f, tz, today)
    capped = cases_query(Case.id).where(*where).limit(queries.COUNT_CAP + 1).subquery()
    total = select(func.count()).select_from(capped).scalar_subquery()
    zone_name = getattr(tz, "key", None)  # a ZoneInfo's IANA name, as PostgreSQL knows it too
    created = func.to_char(func.timezone(zone_name, Case.created_at), "YYYY-MM-DD") if zone_name else null()
    return (queries.page_query(where, 1).add_columns(created.label("created"), total.label("total"))
            .limit(queries.PER_PAGE).offset(bindparam("offset")))


async def _page(db: AsyncSession, stmt, page: int) -> list:
    # through the session (not its connection): on Citus its hook names the county on every table
    return list(await db.execute(stmt, {"offset": (page - 1) * queries.PER_PAGE}))


async def list_cases(db: AsyncSession, scope: Scope, f: queries.Filters, *, tz: ZoneInfo,
                     today: date) -> queries.CaseList:
    """As ``queries.list_cases``: newest first, 50 a page, the count capped; usually one statement."""
    if f.q:
        return await queries.list_cases(db, scope, f, tz=tz, today=today)
    key = (scope_key(scope), tuple(f.params(page=1).items()), today, str(tz), queries.COUNT_CAP, queries.PER_PAGE)
    stmt = _pages.get_or_build(key, lambda: _page_statement(scope, f, tz, today))
    page = max(1, f.page)
    rows = await _page(db, stmt, page)
    if not rows and page > 1:  # past the end: the count from the first page, then the last page
        page, rows = 1, await _page(db, stmt, 1)
    total = rows[0].total if rows else 0
    pages = max(1, -(-min(total, queries.COUNT_CAP) // queries.PER_PAGE))
    if f.page > 1 and page != min(f.page, pages):
        page = min(f.page, pages)
        rows = await _page(db, stmt, page)
    return queries.CaseList(rows=rows, total=total, page=page, pages=pages, today=today)


def _choices_statement(scope: Scope):
    parts = [
        select(literal("category").label("kind"), CaseCategory.id, CaseCategory.name,
               func.row_number().over(order_by=(CaseCategory.sort, CaseCategory.id)).label("ord")),
        select(literal("station").label("kind"), Station.id, Station.name,
               func.row_number().over(order_by=(AdminNode.path, Station.name)).label("ord"))
        .join(AdminNode, station_node_join()).where(station_filter(scope)),
    ]
    if scope.role != "handling_unit":  # a unit's own users see only their unit's cases
        parts.append(select(literal("unit").label("kind"), HandlingUnit.id, HandlingUnit.name,
                            func.row_number().over(order_by=(HandlingUnit.level, HandlingUnit.sort,
                                                             HandlingUnit.id)).label("ord")))
    united = union_all(*parts).subquery()
    return select(united.c.kind, united.c.id, united.c.name).order_by(united.c.kind, united.c.ord)


async def filter_choices(db: AsyncSession, scope: Scope) -> dict:
    """The filters' choices: categories, the stations in reach, the handling units (not for a unit's
    own users, who see only their unit's cases), in one statement."""
    stmt = _choices.get_or_build(scope_key(scope), lambda: _choices_statement(scope))
    out: dict[str, list] = {"categories": [], "stations": [], "units": []}
    names = {"category": out["categories"], "station": out["stations"], "unit": out["units"]}
    for kind, id_, name in await db.execute(stmt):  # the session's: on Citus it names the county
        names[kind].append((id_, name))
    return out


# --- the table's cells ---------------------------------------------------------------------------------

# The columns of ``queries._row_query`` in their order: the rows are unpacked by position (an attribute
# of a Row costs ~50 times a tuple unpacking). Checked at import, so a change there fails loudly here.
ROW_KEYS = ("id", "receipt_code", "created_at", "source", "state", "reply_due", "feedback_due", "person_name",
            "person_mobile", "excerpt", "category", "place", "unit")
assert tuple(c.key for c in queries._row_query().selected_columns) == ROW_KEYS, "queries._row_query changed"


class Line(NamedTuple):
    """One row of the table as it is shown (the template only places and escapes these)."""
    id: int
    label: str  # the receipt code, or "#id" where codes are not shown
    created: str
    excerpt: str
    source: str
    category: str
    place: str
    state: str
    overdue: bool
    unit: str
    due: str
    person: str


def lines(rows: list, *, tz: ZoneInfo, today: date | None, show_codes: bool) -> list[Line]:
    """The rows as the table shows them: names translated once per request, not once per row. Rows
    of ``_page_statement`` bring their local registration day as text; others (the search's) are
    converted here."""
    sources = {k: gettext(v) for k, v in SOURCE_NAMES.items()}
    states = {k: gettext(v) for k, v in STATE_NAMES.items()}
    out = []
    for row in rows:
        (id_, code, created_at, source, state, reply_due, feedback_due, name, mobile, excerpt, category, place,
         unit) = row[:13]
        created = row[13] if len(row) > 13 else None
        if created is None:
            created = created_at.astimezone(tz).strftime("%Y-%m-%d") if created_at else ""
        excerpt = excerpt or ""
        if len(excerpt) > EXCERPT:  # as Jinja's truncate(20, true, "…", 0)
            excerpt = excerpt[:EXCERPT - 1] + "…"
        if state in OPEN_WITH_UNIT:  # queries.due_date and models.overdue, inlined
            due, late = reply_due, reply_due is not None and today is not None and reply_due < today
        elif state == "replied":
            due, late = feedback_due, feedback_due is not None and today is not None and feedback_due < today
        else:
            due, late = None, False
        out.append(Line(id_, code if show_codes else f"#{id_}", created, excerpt, sources[source], category or "",
                        place or "", states[state], late, unit or "", str(due) if due else "",
                        f"{name} {mask_mobile(mobile)}"))
    return out


# One row of the table. Jinja spends ~35 µs a row placing and escaping eleven values one by one;
# here every cell of the page is escaped in one call and the rows are joined once.
ROW = ('<tr><td><a href="{base}/cases/{id}">{label}</a></td><td>{created}</td><td>{excerpt}</td><td>{source}</td>'
       '<td>{category}</td><td>{place}</td><td>{state}{badge}</td><td>{unit}</td><td>{due}</td><td>{person}</td></tr>\n')
CELLS = 10  # the escaped text cells of a row, in ROW's order (the id is a number)
SEP = "\x00"  # never in a cell: PostgreSQL text holds no NUL


def table_rows(shown: list[Line], base: str) -> Markup:
    """The table's rows as HTML, every text escaped (what ``{{ }}`` gives in the template)."""
    cells = [c for line in shown for c in (line.label, line.created, line.excerpt, line.source, line.category,
                                           line.place, line.state, line.unit, line.due, line.person)]
    escaped = str(escape(SEP.join(cells))).split(SEP) if cells else []
    badge = f' <span class="badge warn">{escape(gettext("Overdue"))}</span>'
    base = str(escape(base))
    out = []
    for n, line in enumerate(shown):
        label, created, excerpt, source, category, place, state, unit, due, person = escaped[n * CELLS:(n + 1) * CELLS]
        out.append(ROW.format(base=base, id=int(line.id), label=label, created=created, excerpt=excerpt, source=source,
                              category=category, place=place, state=state, badge=badge if line.overdue else "",
                              unit=unit, due=due, person=person))
    return Markup("".join(out))
