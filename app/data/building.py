"""Building the ZIP of all of a county's records (run by the worker, bound to the tenant).

One spreadsheet per table of the tenant, read from the catalog (a table added later is exported
without anything to register here): every row of the tenant with its columns as they are, personal
data in full; the ids link the sheets (deputies ↔ deputy_mandates ↔ station_deputies ↔ stations …).
Headers are `中文（column）` (app.data.titles). The accounts of the county's members (`users`, a
platform table) get a sheet of their own, without password or second-factor secrets. Photos are files:
the thumbnails (`images`) under `photos/`, the activity photos' originals the county kept under
`photos/originals/`, the documents filed with duty entries (`duty_documents`) under `documents/`;
the county's configuration is `preset.toml` (app.presets: `tenants apply` reproduces it).

Left out: binary columns (photos go as files; the rest are digests of secrets and uploaded files),
secrets that open something (activity sign-in links, sign-in codes, short links, rating codes), the
abuse counters (keyed hashes of addresses), and the exports themselves (and the binders built).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import text

from app.core import spreadsheets
from app.data.titles import header, sheet_title
from app.presets.services import export_preset
from app.tenancy.models import Tenant

MAX_EXPORT_BYTES = 256 * 1024 * 1024  # held in one bytea and in the worker's memory while built
SKIPPED_TABLES = frozenset({
    "data_exports", "signin_codes", "short_links", "short_link_misses", "case_lookup_misses", "case_rating_codes",
    "binder_builds",  # workbooks of what the other sheets hold, kept a week
    "work_notices",  # a queue the worker empties within seconds; the outbox keeps what was sent
    "case_search",  # the search index's copy of cases.content (migration 0041)
    # the compliance board's counts, recomputed by the worker from the other sheets (migration 0040)
    "compliance_snapshots", "compliance_snapshot_subjects", "compliance_stale",
})
SKIPPED_COLUMNS = frozenset({("activity_invitations", "token"), ("cases", "client_hash"),
                             ("duty_report_meetings", "ballot_token"), ("duty_report_ballots", "phone_hash"),
                             ("duty_report_ballots", "client_hash")})
USER_COLUMNS = ("id", "username", "display_name", "mobile", "email", "created_at", "disabled_at")
ORIGINAL_SUFFIXES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}
ORIGINALS_PER_FETCH = 4  # originals are up to 8 MB each: a few at a time in the worker's memory
DOCUMENT_SUFFIXES = {"application/pdf": "pdf",
                     "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx"}
README = """本压缩包是{name}在联络平台上的全部数据，导出于 {at}。

- 每张表一个 Excel 文件（文件名：表名-中文名称.xlsx），每行一条记录。列名是“中文名称（数据库字段名）”，
  例如“姓名（name）”；各表之间以编号相互关联（例如 deputy_mandates 的“代表编号（deputy_id）”
  对应 deputies 的“编号（id）”）。时间是本县时区的时间（Excel 的日期时间，不带时差）。
- photos/ 目录是照片的缩略图（images 表），文件名即照片编号：站点、代表的“照片编号（photo_id）”
  和活动照片的“缩略图编号（image_id）”指向它。
- photos/originals/ 目录是活动照片的原图（本县原图保存上限以内保存了原图的），文件名即
  activity_photos 的“编号（id）”。
- documents/ 目录是代表履职登记所附的文件（PDF、Word），文件名即 duty_documents 的“编号（id）”，
  代表履职登记（duty_entries）的“附件编号（document_id）”指向它；原文件名见 duty_documents 表。
- preset.toml 是本县的配置（行政区划、站点类型、活动类型与规则、意见类别等）。
- 文件含完整的个人信息（手机号码、住址等），请按个人信息保护法妥善保管，用毕删除。
"""

# (tables written so far, of how many): committed by the caller in a short transaction of its own.
Progress = Callable[[int, int], Awaitable[None]]


class ExportTooLarge(Exception):
    """The ZIP outgrew MAX_EXPORT_BYTES (the job fails with the error code "too_large")."""


@dataclass
class Built:
    body: bytes
    rows: dict[str, int] = field(default_factory=dict)
    photos: int = 0
    originals: int = 0
    documents: int = 0


async def tenant_tables(db) -> dict[str, list[tuple[str, str]]]:
    """{table: [(column, type), …]} of every table with a tenant_id column, from the catalog."""
    rows = await db.execute(text(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid WHERE c.relnamespace = 'public'::regnamespace "
        "AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND EXISTS ("
        "SELECT 1 FROM pg_attribute t WHERE t.attrelid = c.oid AND t.attname = 'tenant_id' AND NOT t.attisdropped) "
        "ORDER BY c.relname, a.attnum"))
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, type_ in rows:
        if table not in SKIPPED_TABLES:
            tables.setdefault(table, []).append((column, type_))
    return tables


def sheet_columns(table: str, columns: list[tuple[str, str]]) -> list[str]:
    return [c for c, type_ in columns if type_ != "bytea" and (table, c) not in SKIPPED_COLUMNS]


def cell(value, tz: ZoneInfo):
    """A database value as a spreadsheet cell: times as real date-times in the county's zone (written
    without the zone, which a sheet cell cannot hold: the README says which), numbers as numbers,
    JSON and arrays as JSON text."""
    if isinstance(value, datetime):
        return value.astimezone(tz).replace(tzinfo=None)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, (date, int, float, Decimal, str, bool)) or value is None:
        return value
    return str(value)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Zip:
    """The ZIP under construction, refused as soon as it outgrows the bound."""

    def __init__(self):
        self.buffer = io.BytesIO()
        self.zip = zipfile.ZipFile(self.buffer, "w")

    def add(self, name: str, body: bytes, compress: bool = False) -> None:
        self.zip.writestr(name, body, zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED)
        if self.buffer.tell() > MAX_EXPORT_BYTES:
            raise ExportTooLarge()

    def close(self) -> bytes:
        self.zip.close()
        return self.buffer.getvalue()


async def _table_sheet(db, tenant_id: int, table: str, columns: list[str], tz: ZoneInfo) -> tuple[bytes, int]:
    book = spreadsheets.Book()
    sheet = book.sheet(sheet_title(table), [header(table, c) for c in columns])
    order = " ORDER BY id" if "id" in columns else ""
    sql = f"SELECT {', '.join(map(_quoted, columns))} FROM {_quoted(table)} WHERE tenant_id = :t{order}"
    count = 0
    result = await db.stream(text(sql).execution_options(yield_per=500), {"t": tenant_id})
    async for row in result:
        sheet.append([cell(v, tz) for v in row])
        count += 1
    return book.save(), count


async def _users_sheet(db, tenant_id: int, tz: ZoneInfo) -> tuple[bytes, int]:
    rows = (await db.execute(text(
        f"SELECT {', '.join(USER_COLUMNS)} FROM users WHERE id IN "
        "(SELECT user_id FROM memberships WHERE tenant_id = :t) ORDER BY id"), {"t": tenant_id})).all()
    head = [header("users", c) for c in USER_COLUMNS]
    body = spreadsheets.to_xlsx(head, ([cell(v, tz) for v in row] for row in rows), sheet_title("users"))
    return body, len(rows)


async def _photos(db, tenant_id: int, out: _Zip) -> int:
    count = 0
    result = await db.stream(text("SELECT id, media_type, data FROM images WHERE tenant_id = :t ORDER BY id")
                             .execution_options(yield_per=100), {"t": tenant_id})
    async for image_id, media_type, data in result:
        suffix = (media_type or "image/webp").rsplit("/", 1)[-1]
        out.add(f"photos/{image_id}.{suffix}", bytes(data))
        count += 1
    return count


async def _originals(db, tenant_id: int, out: _Zip) -> int:
    """The full-size activity photos the county kept (within its originals limit), byte for byte."""
    count = 0
    result = await db.stream(text(
        "SELECT id, original_type, original FROM activity_photos WHERE tenant_id = :t AND original IS NOT NULL "
        "ORDER BY id").execution_options(yield_per=ORIGINALS_PER_FETCH), {"t": tenant_id})
    async for photo_id, media_type, data in result:
        suffix = ORIGINAL_SUFFIXES.get(media_type or "", (media_type or "bin").rsplit("/", 1)[-1])
        out.add(f"photos/originals/{photo_id}.{suffix}", bytes(data))
        count += 1
    return count


async def _documents(db, tenant_id: int, out: _Zip) -> int:
    """The documents filed with duty entries (PDF, .docx; up to 5 MB each), byte for byte."""
    count = 0
    result = await db.stream(text(
        "SELECT id, media_type, data FROM duty_documents WHERE tenant_id = :t ORDER BY id")
        .execution_options(yield_per=ORIGINALS_PER_FETCH), {"t": tenant_id})
    async for document_id, media_type, data in result:
        out.add(f"documents/{document_id}.{DOCUMENT_SUFFIXES.get(media_type, 'bin')}", bytes(data))
        count += 1
    return count


def steps(tables: dict) -> int:
    """Progress steps: each table, the accounts, the thumbnails, the originals and the preset."""
    return len(tables) + 4


async def build_zip(database, tenant_id: int, progress: Progress, at: datetime) -> Built:
    """The ZIP of every record of the tenant. `database` hands out sessions bound to the tenant (the
    worker's TenantDatabase); everything is read in one REPEATABLE READ transaction, one snapshot."""
    async with database.session(tenant_id=tenant_id) as db:
        await db.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        tenant = await db.get(Tenant, tenant_id)
        tz = ZoneInfo(tenant.timezone or "Asia/Shanghai")
        tables = await tenant_tables(db)
        total, out, built = steps(tables), _Zip(), Built(body=b"")
        out.add("说明.txt", README.format(name=tenant.name, at=at.astimezone(tz).isoformat(timespec="seconds")).encode(), compress=True)
        for done, (table, columns) in enumerate(tables.items(), start=1):
            body, built.rows[table] = await _table_sheet(db, tenant_id, table, sheet_columns(table, columns), tz)
            out.add(f"{table}-{sheet_title(table)}.xlsx", body)
            await progress(done, total)
        body, built.rows["users"] = await _users_sheet(db, tenant_id, tz)
        out.add(f"users-{sheet_title('users')}.xlsx", body)
        await progress(len(tables) + 1, total)
        built.photos = await _photos(db, tenant_id, out)
        await progress(len(tables) + 2, total)
        built.originals = await _originals(db, tenant_id, out)
        built.documents = await _documents(db, tenant_id, out)  # counted in the originals' step
        await progress(len(tables) + 3, total)
        slug = tenant.slug
    out.add("preset.toml", (await export_preset(database, slug)).encode(), compress=True)
    built.body = out.close()
    return built
