"""Spreadsheet import of deputies and contact rosters: parse, preview, confirm, run as a job.

1. ``preview``: the uploaded XLSX (openpyxl, read-only, streamed) or CSV (UTF-8, with or without BOM,
   or GB18030) is checked row by row against the tenant's records; every problem is listed by row
   number and column, and the file is kept in ``import_jobs.data`` with status ``previewed``.
2. ``confirm``: only a file without problems; status ``queued``, then ``enqueue`` hands the job to
   arq (tenant and job id in the payload). Redis being down leaves it queued: the worker's
   ``sweep`` finds queued jobs (and runs that died) and enqueues them again.
3. ``run_import`` (the worker): claims the job (queued → running, atomically), checks the file again,
   and inserts every row in ONE transaction; progress is committed in separate short transactions.
   Any failure rolls the whole insert back: zero rows written, status ``failed`` with a message.
No web imports here.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Iterator

import anyio
from sqlalchemy import and_, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from app.accounts.models import Membership
from app.audit.services import record
from app.core.db import Database
from app.core.i18n import gettext, lazy
from app.deputies import roster as roster_rules
from app.deputies.models import Deputy, DeputyGroup, ImportJob, Mandate, RosterEntry, StationDeputy
from app.deputies.roster import roster_filter
from app.deputies.rules import (
    RuleError, check_direct, check_level, check_mobile, check_name, check_term, check_text,
)
from app.stations.models import Station
from app.tenancy.models import AdminNode
from app.tenancy.scope import Scope, scope_of

log = logging.getLogger("lianluo.imports")

KINDS = ("deputies", "roster")
KIND_NAMES = {"deputies": lazy("Deputies list"), "roster": lazy("Contact rosters")}
IMPORT_ROLES = ("county_admin", "township_staff")
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_ROWS = 20_000
BATCH = 500
STALE_RUN = timedelta(minutes=15)
PREVIEW_KEPT = timedelta(days=2)


@dataclass(frozen=True)
class Column:
    key: str
    header: str  # the canonical Chinese header (import template, export)
    required: bool = False
    aliases: tuple[str, ...] = ()
    hint: str = ""  # shown after the header in the template: 选举方式(直接/间接)

    @property
    def template_header(self) -> str:
        return f"{self.header}({self.hint})" if self.hint else self.header


COLUMNS = {
    "deputies": (
        Column("name", "姓名", True, ("代表姓名",)),
        Column("level", "代表层级", True, ("层级", "代表级别", "级别")),
        Column("term", "届次", True, ("届别", "届")),
        Column("direct", "选举方式", True, ("直接或间接", "是否直选"), hint="直接/间接"),
        Column("constituency", "选区或选举单位", False, ("选区", "选举单位", "原选区", "原选举单位")),
        Column("group", "代表小组", False, ("所在代表小组", "小组")),
        Column("occupation", "职业", False),
        Column("work_unit", "工作单位", False, ("单位",)),
        Column("mobile", "手机号码", False, ("手机", "手机号", "联系电话", "电话")),
        Column("station", "所在站点", False, ("站点", "所在联络站", "联络站", "进站站点")),
    ),
    "roster": (
        Column("deputy", "代表姓名", True, ("联系代表", "代表")),
        Column("name", "选民姓名", True, ("姓名", "群众姓名")),
        Column("age", "年龄", False),
        Column("education", "文化程度", False, ("学历",)),
        Column("address", "住址", False, ("家庭住址", "地址", "居住地址")),
        Column("work_unit", "工作单位", False, ("单位",)),
        Column("mobile", "手机号码", False, ("手机", "手机号", "联系电话", "电话")),
        Column("note", "备注", False),
    ),
}
IGNORED_HEADERS = {"序号", "编号", "no", "no."}
LEVEL_WORDS = {"national": "全国", "provincial": "省", "city": "市", "county": "县", "township": "乡镇"}

# --- messages (English msgids, shown in Chinese) ----------------------------------------------------
NOT_A_SPREADSHEET = lazy("The file is not a spreadsheet we can read: please upload an XLSX or CSV file.")
FILE_TOO_LARGE = lazy("The file is too large (at most 8 MB).")
FILE_EMPTY = lazy("The file holds no rows.")
TOO_MANY_ROWS = lazy("The file has more than %(max)s rows: please split it.")
CSV_ENCODING = lazy("The CSV file is neither UTF-8 nor GB18030 text.")
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
IMPORT_FAILED_ROW = lazy("Row %(row)s could not be saved (%(error)s). Nothing was imported.")
IMPORT_FAILED = lazy("The import failed (%(error)s). Nothing was imported.")
IMPORT_CHANGED = lazy("The records changed since the preview: please upload the file again. Nothing was imported.")
IMPORT_NO_ACCESS = lazy("The person who started the import no longer has access. Nothing was imported.")


class ImportError_(ValueError):
    """A file that cannot be previewed at all (not a spreadsheet, too large, empty)."""

    def __init__(self, message: str, **variables):
        super().__init__(message)
        self.message = message
        self.variables = variables

    def text(self) -> str:
        return gettext(self.message, **self.variables)


def problem_text(problem: dict) -> str:
    msgid = problem["message"]
    return gettext(msgid, **(problem.get("vars") or {}))


# --- reading files -------------------------------------------------------------------------------

def normalise_header(value: object) -> str:
    """Tolerant header matching: full-width → half-width, no spaces, no '*' marks, no trailing
    explanation in brackets (选举方式（直接/间接） → 选举方式)."""
    text = unicodedata.normalize("NFKC", str(value or ""))
    text = re.sub(r"\s+", "", text).replace("*", "")
    text = re.sub(r"\([^()]*\)$", "", text)
    return text.lower()


def _decode_csv(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise ImportError_(CSV_ENCODING) from None


def _cell(value: object) -> object:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, datetime):
        return value.date().isoformat()
    return value


def read_rows(data: bytes, filename: str = "") -> Iterator[tuple[int, list]]:
    """(spreadsheet row number, cells) of every row that is not empty; streams XLSX read-only."""
    if len(data) > MAX_FILE_BYTES:
        raise ImportError_(FILE_TOO_LARGE)
    if data[:4] == b"PK\x03\x04":
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError):
            raise ImportError_(NOT_A_SPREADSHEET) from None
        try:
            sheet = book.worksheets[0]
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                cells = [_cell(v) for v in row]
                if any(c is not None for c in cells):
                    yield number, cells
        finally:
            book.close()
        return
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" or b"\x00" in data[:4096]:
        raise ImportError_(NOT_A_SPREADSHEET)  # old .xls or some other binary
    reader = csv.reader(io.StringIO(_decode_csv(data), newline=""))
    try:
        for number, row in enumerate(reader, start=1):
            cells = [_cell(v) for v in row]
            if any(c is not None for c in cells):
                yield number, cells
    except csv.Error:
        raise ImportError_(NOT_A_SPREADSHEET) from None


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


def check_file(kind: str, data: bytes, filename: str, lookup: Lookup) -> Checked:
    """Every row checked; runs in a worker thread (pure Python, no database)."""
    checked = Checked(kind=kind)
    rows = read_rows(data, filename)
    first = next(rows, None)
    if first is None:
        raise ImportError_(FILE_EMPTY)
    header_row, header_cells = first
    columns = _match_headers(kind, header_row, header_cells, checked)
    check_row = _check_deputy_row if kind == "deputies" else _check_roster_row
    seen: dict[tuple, int] = {}
    for number, cells in rows:
        checked.total += 1
        if checked.total > MAX_ROWS:
            raise ImportError_(TOO_MANY_ROWS, max=MAX_ROWS)
        values = {}
        for key, (index, written) in columns.items():
            values[key] = (cells[index] if index < len(cells) else None, written)
        row = check_row(number, values, lookup, checked, seen)
        if row is not None:
            checked.rows.append((number, row))
    if checked.total == 0:
        raise ImportError_(FILE_EMPTY)
    return checked


class _Row:
    """Collects one row's values and problems."""

    def __init__(self, number: int, values: dict, checked: Checked, kind: str):
        self.number, self.values, self.checked, self.ok = number, values, checked, True
        self.headers = {c.key: c.header for c in COLUMNS[kind]}

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
        except RuleError as error:
            self.fail(key, error.message, **error.variables)
            return None


def _text(value: object) -> str:
    return roster_rules._text(value)


def check_import_mobile(value: object) -> str | None:
    """rules.check_mobile, but a masked number (138****1234, as every export writes it) gets its own
    message: an export cannot be imported back as it is."""
    raw = _text(value)
    if "*" in raw or "＊" in raw:
        raise RuleError(MOBILE_MASKED, value=raw[:30])
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
        candidates = lookup.nodes.get(constituency, [])
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


# --- jobs ------------------------------------------------------------------------------------------

async def create_preview(db: AsyncSession, *, tenant_id: int, scope: Scope, actor_id: int, kind: str, data: bytes,
                         filename: str, client_addr: str | None = None) -> ImportJob:
    """Check the file and keep it with its problems (status previewed). Raises ImportError_."""
    checked = await check_upload(db, scope, kind, data, filename)
    # files of previews nobody confirmed are personal data without a purpose after a while
    await db.execute(update(ImportJob).where(
        ImportJob.status == "previewed", ImportJob.data.is_not(None),
        ImportJob.created_at < _now() - PREVIEW_KEPT).values(data=None))
    job = ImportJob(tenant_id=tenant_id, kind=kind, status="previewed", filename=filename[:200], data=data,
                    total=checked.total, processed=0, problems=checked.problems, created_by=actor_id)
    db.add(job)
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="import_previewed",
                 target=f"import_job:{job.id}", client_addr=client_addr,
                 details={"name": job.filename, "rows": checked.total, "problems": len(checked.problems)})
    return job


def visible_jobs_filter(scope: Scope):
    """County admins see every import of the tenant; township staff their own."""
    if scope.role == "county_admin":
        return ImportJob.tenant_id.is_not(None)
    return ImportJob.created_by == scope.user_id


async def confirm(db: AsyncSession, *, tenant_id: int, job: ImportJob, actor_id: int,
                  client_addr: str | None = None) -> bool:
    """previewed, without problems → queued. False when there is nothing to confirm."""
    if job.status != "previewed" or job.problems:
        return False
    done = await db.execute(
        update(ImportJob).where(ImportJob.id == job.id, ImportJob.status == "previewed").values(status="queued")
    )
    if done.rowcount != 1:
        return False
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="import_confirmed",
                 target=f"import_job:{job.id}", client_addr=client_addr,
                 details={"name": job.filename, "rows": job.total})
    return True


def _arq_settings(redis_url: str):
    from app.core.redis import arq_settings

    settings = arq_settings(redis_url)
    settings.conn_retries = 0
    settings.conn_timeout = 2
    return settings


async def enqueue(redis_url: str, tenant_id: int, job_id: int, *, suffix: str = "") -> bool:
    """Hand the job to arq; False (and the job stays queued for the sweep) when Redis is away."""
    from arq import create_pool

    try:
        pool = await asyncio.wait_for(create_pool(_arq_settings(redis_url)), timeout=3)
        try:
            await asyncio.wait_for(
                pool.enqueue_job("run_import", tenant_id, job_id, _job_id=f"import:{tenant_id}:{job_id}{suffix}"),
                timeout=3,
            )
        finally:
            await pool.aclose()
        return True
    except Exception:  # Redis down or slow: Postgres holds the job, the sweep catches up
        log.warning("import job %s/%s not enqueued; the sweep will pick it up", tenant_id, job_id)
        return False


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def _set_progress(database: Database, tenant_id: int, job_id: int, processed: int) -> None:
    async with database.transaction(tenant_id=tenant_id) as db:
        await db.execute(update(ImportJob).where(ImportJob.id == job_id).values(processed=processed))


async def _fail(database: Database, tenant_id: int, job_id: int, problems: list[dict]) -> None:
    async with database.transaction(tenant_id=tenant_id) as db:
        await db.execute(update(ImportJob).where(ImportJob.id == job_id).values(
            status="failed", processed=0, problems=problems, finished_at=_now(), data=None))


class _RowFailed(Exception):
    def __init__(self, row: int, error: str):
        super().__init__(error)
        self.row, self.error = row, error


def _db_error(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text_ = str(orig).splitlines()[0] if str(orig) else type(orig).__name__
    text_ = re.sub(r"^<class '[^']+'>:\s*", "", text_)
    return text_[:200]


async def _insert_deputies(db: AsyncSession, tenant_id: int, rows: list[tuple[int, dict]]) -> None:
    # One multi-row INSERT per batch of deputies (each with all its mandates); the new ids are matched
    # back by (name, mobile), which the checks made unique in the file and in the tenant (so
    # RETURNING's order does not matter).
    returned = await db.execute(
        insert(Deputy).values([
            {"tenant_id": tenant_id, "name": v["name"], "group_id": v["group_id"], "occupation": v["occupation"],
             "work_unit": v["work_unit"], "mobile": v["mobile"], "status": "active"} for _, v in rows
        ]).returning(Deputy.id, Deputy.name, Deputy.mobile)
    )
    ids = {(name, mobile or ""): did for did, name, mobile in returned}
    pairs = [(ids[(v["name"], v["mobile"] or "")], v) for _, v in rows]
    await db.execute(insert(Mandate), [
        {"tenant_id": tenant_id, "deputy_id": did, "level": m["level"], "term": m["term"], "direct": m["direct"],
         "constituency_node_id": m["constituency_node_id"], "constituency": m["constituency"]}
        for did, v in pairs for m in v["mandates"]
    ])
    stationed = [{"tenant_id": tenant_id, "station_id": sid, "deputy_id": did}
                 for did, v in pairs for sid in v["station_ids"]]
    if stationed:
        await db.execute(insert(StationDeputy), stationed)


def _rows_of(kind: str, items: list[tuple[int, dict]]) -> int:
    """How many file rows the items stand for (a deputy: one row per mandate)."""
    return sum(len(v["mandates"]) for _, v in items) if kind == "deputies" else len(items)


async def _insert_roster(db: AsyncSession, tenant_id: int, rows: list[tuple[int, dict]]) -> None:
    await db.execute(insert(RosterEntry), [{"tenant_id": tenant_id, **v} for _, v in rows])


async def _insert_batch(db: AsyncSession, kind: str, tenant_id: int, rows: list[tuple[int, dict]]) -> None:
    """Insert a batch; when the database refuses it, find the row (savepoints) and raise _RowFailed."""
    insert_rows = _insert_deputies if kind == "deputies" else _insert_roster
    try:
        async with db.begin_nested():
            await insert_rows(db, tenant_id, rows)
        return
    except DBAPIError as exc:
        batch_error = _db_error(exc)
    for row in rows:
        try:
            async with db.begin_nested():
                await insert_rows(db, tenant_id, [row])
        except DBAPIError as exc:
            raise _RowFailed(row[0], _db_error(exc)) from None
    raise _RowFailed(rows[0][0], batch_error)


async def run_import(database: Database, tenant_id: int, job_id: int) -> str:
    """The worker's job: safe to run twice (only a queued job is claimed, and the insert is one
    transaction). Returns the job's final status (or 'skipped')."""
    async with database.transaction(tenant_id=tenant_id) as db:
        claimed = (await db.execute(
            update(ImportJob).where(ImportJob.id == job_id, ImportJob.status == "queued")
            .values(status="running", started_at=_now(), processed=0)
            .returning(ImportJob.kind, ImportJob.filename, ImportJob.created_by, ImportJob.data)
        )).first()
    if claimed is None:
        return "skipped"
    kind, filename, created_by, data = claimed
    try:
        async with database.transaction(tenant_id=tenant_id, user_id=created_by) as db:
            membership = await db.scalar(select(Membership).where(
                Membership.tenant_id == tenant_id, Membership.user_id == created_by,
                Membership.revoked_at.is_(None), Membership.role.in_(IMPORT_ROLES)))
            if membership is None or data is None:
                raise _Abort([_problem(None, "", IMPORT_NO_ACCESS)])
            scope = await scope_of(db, membership)
            try:
                checked = await check_upload(db, scope, kind, data, filename)
            except ImportError_ as error:
                raise _Abort([_problem(None, "", error.message, **error.variables)]) from None
            if checked.problems:
                raise _Abort([_problem(None, "", IMPORT_CHANGED), *checked.problems])
            done = 0
            for start in range(0, len(checked.rows), BATCH):
                batch = checked.rows[start:start + BATCH]
                await _insert_batch(db, kind, tenant_id, batch)
                done += _rows_of(kind, batch)
                await _set_progress(database, tenant_id, job_id, done)  # its own short transaction
            await db.execute(update(ImportJob).where(ImportJob.id == job_id).values(
                status="done", processed=done, finished_at=_now(), data=None))
            await record(db, tenant_id=tenant_id, actor_user_id=created_by, action="import_completed",
                         target=f"import_job:{job_id}", details={"name": filename, "rows": done})
        return "done"
    except _Abort as abort:
        await _fail(database, tenant_id, job_id, abort.problems)
    except _RowFailed as failed:
        await _fail(database, tenant_id, job_id,
                    [_problem(failed.row, "", IMPORT_FAILED_ROW, row=failed.row, error=failed.error)])
    except Exception as exc:
        log.exception("import job %s/%s failed", tenant_id, job_id)
        await _fail(database, tenant_id, job_id, [_problem(None, "", IMPORT_FAILED, error=_db_error(exc))])
    return "failed"


class _Abort(Exception):
    def __init__(self, problems: list[dict]):
        super().__init__("import aborted")
        self.problems = problems


async def sweep(database: Database, redis_url: str) -> int:
    """Queued jobs (Redis lost them or was down) and runs that died are enqueued again; files of
    previews nobody confirmed are dropped (at the next preview) after two days. Returns how many jobs were enqueued."""
    async with database.transaction() as db:
        waiting = (await db.execute(text("SELECT tenant_id, job_id FROM import_jobs_waiting(:stale)"),
                                    {"stale": STALE_RUN})).all()
    count = 0
    window = int(_now().timestamp() // 600)
    for tenant_id, job_id in waiting:
        async with database.transaction(tenant_id=tenant_id) as db:
            await db.execute(update(ImportJob).where(
                ImportJob.id == job_id, ImportJob.status == "running", ImportJob.started_at < _now() - STALE_RUN,
            ).values(status="queued"))
        if await enqueue(redis_url, tenant_id, job_id, suffix=f":{window}"):
            count += 1
    return count


async def job_progress(db: AsyncSession, scope: Scope, job_id: int) -> ImportJob | None:
    if not 0 < job_id <= 2**63 - 1:
        return None
    return await db.scalar(select(ImportJob).options(defer(ImportJob.data))
                           .where(ImportJob.id == job_id, visible_jobs_filter(scope)))


async def recent_jobs(db: AsyncSession, scope: Scope, limit: int = 20) -> list[ImportJob]:
    return list((await db.scalars(
        select(ImportJob).options(defer(ImportJob.data), defer(ImportJob.problems))
        .where(visible_jobs_filter(scope)).order_by(ImportJob.id.desc()).limit(limit)
    )).all())


async def count_rows(db: AsyncSession, kind: str) -> int:
    model = Deputy if kind == "deputies" else RosterEntry
    return await db.scalar(select(func.count()).select_from(model)) or 0
