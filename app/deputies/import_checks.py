"""Checking an import file's rows against the tenant's records: every problem by row and column."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import partial

import anyio
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Refusal
from app.core.i18n import lazy
from app.core.security import mask_mobile
from app.deputies import roster as roster_rules
from app.deputies.import_files import COLUMNS, IGNORED_HEADERS, normalise_header, read_rows
from app.deputies.models import Deputy, DeputyGroup, RosterEntry
from app.deputies.roster import roster_filter
from app.deputies.rules import check_direct, check_level, check_mobile, check_name, check_term, check_text
from app.stations.models import Station
from app.tenancy.models import AdminNode
from app.tenancy.scope import Scope

MAX_ROWS = 20_000

# --- messages (English msgids, shown in Chinese) ----------------------------------------------------
FILE_EMPTY = lazy("The file holds no rows.")
TOO_MANY_ROWS = lazy("The file has more than %(max)s rows: please split it.")
UNKNOWN_COLUMN = lazy("Unknown column “%(name)s”: use the headers of the template.")
DUPLICATE_COLUMN = lazy("The column appears twice.")
MISSING_COLUMN = lazy("The required column is missing.")
MISSING_FIELD = lazy("Required, but empty.")
UNKNOWN_STATION = lazy("No station called “%(value)s” in this county.")
STATION_OUT_OF_SCOPE = lazy("The station “%(value)s” is outside your township.")
STATION_REQUIRED_FOR_SCOPE = lazy("Please give the station in your township the deputy belongs to.")
UNKNOWN_GROUP = lazy("No deputy group called “%(value)s”: create it first.")
UNKNOWN_DEPUTY = lazy("No deputy called “%(value)s” whose roster you keep.")
AMBIGUOUS_DEPUTY = lazy("Several deputies are called “%(value)s”: import their rosters separately.")
DUPLICATE_IN_FILE = lazy("The same person (name and mobile number) is already in row %(row)s.")
SAME_PERSON_CONFLICT = lazy(
    "Row %(row)s has the same name and mobile number but a different %(fields)s: the rows of one deputy "
    "(one row per mandate) must agree; if this is another person, give their own mobile number.")
SAME_NAME_NO_MOBILE = lazy(
    "Row %(row)s has the same name and no mobile number either: add a mobile number to tell the two "
    "people apart, or, if this is one deputy with several mandates, give the same mobile number in both rows.")
SAME_MANDATE_TWICE = lazy("This deputy's mandate at this level for this term is already in row %(row)s.")
MOBILE_MASKED = lazy(
    "“%(value)s” is a masked mobile number (exports hide the middle digits): enter the full number, "
    "or leave the cell empty.")
DUPLICATE_DEPUTY = lazy("This person (same name and mobile number) is already among the deputies.")
DUPLICATE_ENTRY = lazy("This person (same name and mobile number) is already on the deputy's roster.")


# --- what the rows are checked against ------------------------------------------------------------

@dataclass
class Lookup:
    """Everything a file is checked against, loaded in a few queries (never one per row)."""

    scope: Scope
    stations: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # name -> [(id, node path)]
    groups: dict[str, int] = field(default_factory=dict)
    nodes: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # name -> [(id, path)]
    people: set[tuple[str, str]] = field(default_factory=set)  # deputies' (name, mobile or '')
    deputies: dict[str, list[int]] = field(default_factory=dict)  # roster: name -> visible ids
    entries: set[tuple[int, str, str]] = field(default_factory=set)  # roster: (deputy, name, mobile)


async def load_lookup(db: AsyncSession, scope: Scope, kind: str) -> Lookup:
    lookup = Lookup(scope=scope)
    if kind == "deputies":
        rows = await db.execute(
            select(Station.name, Station.id, AdminNode.path)
            .join(AdminNode, and_(AdminNode.tenant_id == Station.tenant_id, AdminNode.id == Station.node_id))
            .where(Station.status != "closed")
        )
        for name, sid, path in rows:
            lookup.stations.setdefault(name, []).append((sid, path))
        lookup.groups = {name: gid for name, gid in await db.execute(select(DeputyGroup.name, DeputyGroup.id))}
        for name, nid, path in await db.execute(
            select(AdminNode.name, AdminNode.id, AdminNode.path).where(AdminNode.retired_at.is_(None))
        ):
            lookup.nodes.setdefault(name, []).append((nid, path))
        lookup.people = {(n, m or "") for n, m in await db.execute(select(Deputy.name, Deputy.mobile))}
    else:
        for name, did in await db.execute(select(Deputy.name, Deputy.id).where(roster_filter(scope))):
            lookup.deputies.setdefault(name, []).append(did)
        lookup.entries = {
            (d, n, m or "") for d, n, m in await db.execute(
                select(RosterEntry.deputy_id, RosterEntry.name, RosterEntry.mobile)
                .where(RosterEntry.retired_at.is_(None), RosterEntry.deputy_id.in_(
                    select(Deputy.id).where(roster_filter(scope)).scalar_subquery()))
            )
        }
    return lookup


# --- checking a file -------------------------------------------------------------------------------

@dataclass
class Checked:
    kind: str
    total: int = 0
    problems: list[dict] = field(default_factory=list)
    # (row number, values ready to insert): a roster entry, or a deputy with the mandates of all its rows
    rows: list[tuple[int, dict]] = field(default_factory=list)
    # every row as read, for the row-by-row preview: the recognised columns as headed in the file, each
    # row's cells ([row number, [text …]]), and the positions of the rows that have problems
    preview: dict = field(default_factory=lambda: {"columns": [], "header": 1, "rows": [], "bad": []})


def _problem(at_row: int | None, column: str, message: str, /, **variables) -> dict:
    return {"row": at_row, "column": column, "message": message, "vars": variables}


def _match_headers(kind: str, header_row: int, cells: list, checked: Checked) -> dict[str, tuple[int, str]]:
    """column key -> (cell index, the header as written)."""
    by_name = {}
    for col in COLUMNS[kind]:
        for name in (col.header, *col.aliases):
            by_name[normalise_header(name)] = col
    found: dict[str, tuple[int, str]] = {}
    for index, cell in enumerate(cells):
        if cell is None:
            continue
        written = str(cell).strip()
        key = normalise_header(written)
        if key in IGNORED_HEADERS:
            continue
        col = by_name.get(key)
        if col is None:
            checked.problems.append(_problem(header_row, written, UNKNOWN_COLUMN, name=written[:40]))
        elif col.key in found:
            checked.problems.append(_problem(header_row, written, DUPLICATE_COLUMN))
        else:
            found[col.key] = (index, written)
    for col in COLUMNS[kind]:
        if col.required and col.key not in found:
            checked.problems.append(_problem(header_row, col.header, MISSING_COLUMN))
    return found


def check_file(kind: str, data: bytes, filename: str, lookup, check_row=None, finish=None) -> Checked:
    """Every row checked by ``check_row(number, values, lookup, checked, seen)`` (the deputies' and the
    rosters' by default); ``finish(lookup, checked, seen)`` then checks what needs the whole file (a
    village whose township comes later). Runs in a worker thread (pure Python, no database)."""
    checked = Checked(kind=kind)
    rows = read_rows(data, filename, max_rows=MAX_ROWS)
    first = next(rows, None)
    if first is None:
        raise Refusal(FILE_EMPTY)
    header_row, header_cells = first
    columns = _match_headers(kind, header_row, header_cells, checked)
    if check_row is None:
        check_row = _check_deputy_row if kind == "deputies" else _check_roster_row
    shown = sorted(columns.items(), key=lambda item: item[1][0])
    checked.preview.update(columns=[written for _, (_, written) in shown], header=header_row)
    seen: dict = {}
    for number, cells in rows:
        checked.total += 1
        if checked.total > MAX_ROWS:
            raise Refusal(TOO_MANY_ROWS, max=MAX_ROWS)
        values = {}
        for key, (index, written) in columns.items():
            values[key] = (cells[index] if index < len(cells) else None, written)
        checked.preview["rows"].append([number, [_shown(key, values[key][0]) for key, _ in shown]])
        row = check_row(number, values, lookup, checked, seen)
        if row is not None:
            checked.rows.append((number, row))
    if checked.total == 0:
        raise Refusal(FILE_EMPTY)
    if finish is not None:
        finish(lookup, checked, seen)
    checked.problems.sort(key=lambda p: p["row"] or 0)  # stable: a row's problems keep their order
    bad = {p["row"] for p in checked.problems}
    checked.preview["bad"] = [i for i, (number, _) in enumerate(checked.preview["rows"]) if number in bad]
    return checked


PREVIEW_CELL = 60  # characters of a cell shown in the preview


def _shown(key: str, value: object) -> str:
    """A cell as the preview shows it: text, cut short; mobile numbers masked (the preview is a list)."""
    if value is None:
        return ""
    text = str(value)
    if key == "mobile" and text.isdigit() and len(text) == 11:
        return mask_mobile(text)
    return text if len(text) <= PREVIEW_CELL else text[:PREVIEW_CELL - 1] + "…"


class _Row:
    """Collects one row's values and problems."""

    def __init__(self, number: int, values: dict, checked: Checked, kind: str | None = None):
        self.number, self.values, self.checked, self.ok = number, values, checked, True
        self.headers = {c.key: c.header for c in COLUMNS[kind or checked.kind]}

    def column(self, key: str) -> str:
        return self.values[key][1] if key in self.values else self.headers[key]

    def raw(self, key: str) -> object:
        return self.values.get(key, (None, ""))[0]

    def present(self, key: str) -> bool:
        return key in self.values

    def fail(self, key: str, message: str, **variables) -> None:
        self.ok = False
        self.checked.problems.append(_problem(self.number, self.column(key), message, **variables))

    def rule(self, key: str, check, *args, required: bool = False):
        """Run a rules.py check on the cell; a missing required cell is 'missing field'."""
        if not self.present(key):
            return None  # a missing column is reported once, at the header
        raw = self.raw(key)
        if required and (raw is None or str(raw).strip() == ""):
            self.fail(key, MISSING_FIELD)
            return None
        try:
            return check(raw, *args)
        except Refusal as error:
            self.fail(key, error.message, **error.variables)
            return None


def _text(value: object) -> str:
    return roster_rules._text(value)


def check_import_mobile(value: object) -> str | None:
    """rules.check_mobile, but a masked number (138****1234, as every export writes it) gets its own
    message: an export cannot be imported back as it is."""
    raw = _text(value)
    if "*" in raw or "＊" in raw:
        raise Refusal(MOBILE_MASKED, value=raw[:30])
    return check_mobile(value)


STATION_SEPARATORS = re.compile(r"[、,，;；]")
# what must agree between the rows (mandates) of one deputy: column key -> value key
PERSON_FIELDS = (("group", "group_id"), ("occupation", "occupation"), ("work_unit", "work_unit"))


def _check_deputy_row(number: int, values: dict, lookup: Lookup, checked: Checked, seen: dict) -> dict | None:
    """One row is one mandate. Rows with the same name and the same mobile number (not empty) whose
    group, occupation and work unit agree are one deputy with several mandates (as the export writes
    them); the deputy's stations are those of all their rows. Returns the new deputy's values for its
    first row, None for a later row of the same deputy (added to the first) or a row with problems."""
    r = _Row(number, values, checked, "deputies")
    name = r.rule("name", check_name, required=True)
    level = r.rule("level", check_level, required=True)
    term = r.rule("term", check_term, required=True)
    direct = r.rule("direct", check_direct, required=True)
    constituency = r.rule("constituency", check_text, "constituency") or ""
    occupation = r.rule("occupation", check_text, "occupation") or ""
    work_unit = r.rule("work_unit", check_text, "work_unit") or ""
    mobile = r.rule("mobile", check_import_mobile)
    group_id = None
    group = _text(r.raw("group"))
    if group:
        group_id = lookup.groups.get(group)
        if group_id is None:
            r.fail("group", UNKNOWN_GROUP, value=group[:40])
    scope = lookup.scope
    station_ids: list[int] = []
    stations = [part.strip() for part in STATION_SEPARATORS.split(_text(r.raw("station"))) if part.strip()]
    for station in stations:  # the export lists every station of a deputy: 东街站、西街站
        found = lookup.stations.get(station, [])
        inside = [sid for sid, path in found if scope.covers_path(path)]
        if not found:
            r.fail("station", UNKNOWN_STATION, value=station[:60])
        elif not inside:
            r.fail("station", STATION_OUT_OF_SCOPE, value=station[:60])
        elif inside[0] not in station_ids:
            station_ids.append(inside[0])
    if not stations and not scope.whole_tenant:
        r.fail("station", STATION_REQUIRED_FOR_SCOPE)
    node_id = None
    if constituency:
        # only a node the member may choose in the form (their subtree) is linked
        candidates = [c for c in lookup.nodes.get(constituency, []) if scope.covers_path(c[1])]
        if len(candidates) == 1:
            node_id = candidates[0][0]
    mandate = {"row": number, "level": level, "term": term, "direct": direct, "constituency": constituency,
               "constituency_node_id": node_id}
    person = {"group_id": group_id, "occupation": occupation, "work_unit": work_unit}
    first = None
    if name:
        key = (name, mobile or "")
        first = seen.get(key)
        if first is None:
            seen[key] = {"row": number, "person": person, "deputy": None, "mandates": {}}
            if key in lookup.people:
                r.fail("name", DUPLICATE_DEPUTY)
        elif not mobile:
            r.fail("name", SAME_NAME_NO_MOBILE, row=first["row"])
        else:
            differ = [r.column(col) for col, field_ in PERSON_FIELDS if first["person"][field_] != person[field_]]
            if differ:
                r.fail("name", SAME_PERSON_CONFLICT, row=first["row"], fields="、".join(differ))
            elif level and term is not None and (level, term) in first["mandates"]:
                r.fail("level", SAME_MANDATE_TWICE, row=first["mandates"][(level, term)])
    if not r.ok:
        return None
    if first is not None:  # another mandate of a deputy already in the file
        first["mandates"][(level, term)] = number
        if first["deputy"] is not None:  # (None: the first row had problems; the file is refused anyway)
            first["deputy"]["mandates"].append(mandate)
            first["deputy"]["station_ids"] += [sid for sid in station_ids if sid not in first["deputy"]["station_ids"]]
        return None
    deputy = {"name": name, "mobile": mobile, **person, "mandates": [mandate], "station_ids": station_ids}
    seen[(name, mobile or "")].update(deputy=deputy, mandates={(level, term): number})
    return deputy


def _check_roster_row(number: int, values: dict, lookup: Lookup, checked: Checked, seen: dict) -> dict | None:
    r = _Row(number, values, checked, "roster")
    deputy_id = None
    deputy = _text(r.raw("deputy"))
    if r.present("deputy"):
        if not deputy:
            r.fail("deputy", MISSING_FIELD)
        else:
            ids = lookup.deputies.get(deputy, [])
            if not ids:
                r.fail("deputy", UNKNOWN_DEPUTY, value=deputy[:40])
            elif len(ids) > 1:
                r.fail("deputy", AMBIGUOUS_DEPUTY, value=deputy[:40])
            else:
                deputy_id = ids[0]
    name = r.rule("name", roster_rules.check_entry_name, required=True)
    age = r.rule("age", roster_rules.check_age)
    out = {"deputy_id": deputy_id, "name": name, "age": age}
    for key in ("education", "address", "work_unit", "note"):
        out[key] = r.rule(key, roster_rules.check_field, key) or ""
    mobile = r.rule("mobile", check_import_mobile)
    out["mobile"] = mobile
    if name and deputy_id is not None:
        key = (deputy_id, name, mobile or "")
        if key in seen:
            r.fail("name", DUPLICATE_IN_FILE, row=seen[key])
        else:
            seen[key] = number
            if key in lookup.entries:
                r.fail("name", DUPLICATE_ENTRY)
    return out if r.ok else None


async def check_upload(db: AsyncSession, scope: Scope, kind: str, data: bytes, filename: str) -> Checked:
    lookup = await load_lookup(db, scope, kind)
    # openpyxl and the row checks are CPU work: off the event loop, so other requests keep flowing
    return await anyio.to_thread.run_sync(partial(check_file, kind, data, filename, lookup))
