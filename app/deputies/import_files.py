"""Reading spreadsheet files: the columns (shared by import, export and templates) and tolerant XLSX/CSV."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import datetime
from typing import Iterator

from app.core.errors import Refusal
from app.core.i18n import lazy

MAX_FILE_BYTES = 8 * 1024 * 1024
# The XML a workbook unpacks to, all parts together: a full file of 20,000 deputies written by openpyxl
# (inline strings) unpacks to 11 MB and takes 2–4 s to read; 20 MB leaves room for Excel's and WPS's
# styles while refusing, from the zip's directory alone, a few KB that would unpack to gigabytes.
MAX_UNPACKED_BYTES = 20 * 1024 * 1024
# Tags ("<") of all parts together: what parsing costs. A full file of 20,000 deputies has 1.1 M.
MAX_TAGS = 2_000_000
# Cells cost the most to read: 20,000 rows of 30 cells (formatted empty cells are cells too) take ~2 s.
MAX_CELLS = 600_000
MAX_COLUMNS = 64  # cells beyond are not read (a row may declare 16,384 columns)


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
    # one row per place: a township or street (村 empty), or a village or community under one
    "tree": (
        Column("township", "乡镇", True, ("乡镇街道", "乡镇名称", "街道", "乡镇或街道"), hint="或街道"),
        Column("village", "村", False, ("村社区", "社区", "村居", "村名称", "村或社区"), hint="或社区"),
        Column("kind", "类型", False, ("区划类型", "类别"), hint="乡/镇/街道/村/社区/单位/功能区"),
        Column("division_code", "区划代码", False, ("统计用区划代码", "代码")),
    ),
    "stations": (
        Column("name", "名称", False, ("站点名称", "站名"), hint="可留空，按命名规则"),
        Column("kind", "类型", True, ("站点类型", "类别")),
        Column("place", "所在地", True, ("所在乡镇村", "所在区划", "所在村", "地点"), hint="乡镇/村"),
        Column("status", "状态", False, ("运行状态",), hint="筹建/运行"),
        Column("address", "地址", False, ("详细地址", "站点地址")),
        Column("opening_hours", "开放时间", False, ("开放时段",)),
        Column("reception_rule", "接待日", False, ("固定接待日", "接待时间")),
        Column("contact_name", "联系人", False),
        Column("contact_phone", "联系电话", False, ("电话",)),
        Column("intro", "简介", False, ("站点简介",)),
    ),
    "units": (
        Column("name", "名称", True, ("单位名称", "承办单位")),
        Column("code", "代码", False, ("简称", "简称/代码", "单位代码"), hint="英文小写字母或数字，可留空"),
        Column("kind", "类型", True, ("单位类型",), hint="乡镇政府/县级部门/村居委会/其他"),
        Column("place", "所在乡镇", False, ("所在地", "乡镇", "所在乡镇村"), hint="乡镇单位填写"),
        Column("contact_name", "联系人", False),
        Column("contact_phone", "电话", False, ("联系电话",)),
    ),
}
IGNORED_HEADERS = {"序号", "编号", "no", "no."}
LEVEL_WORDS = {"national": "全国", "provincial": "省", "city": "市", "county": "县", "township": "乡镇"}

# --- messages (English msgids, shown in Chinese) ----------------------------------------------------
NOT_A_SPREADSHEET = lazy("The file is not a spreadsheet we can read: please upload an XLSX or CSV file.")
FILE_TOO_LARGE = lazy("The file is too large (at most 8 MB).")
CSV_ENCODING = lazy("The CSV file is neither UTF-8 nor GB18030 text.")
UNPACKS_TOO_LARGE = lazy("The file is too large once unpacked (at most 20 MB and 600,000 cells): please remove "
                         "unused sheets, pictures and formatting, or split the file.")
TOO_MANY_SHEET_ROWS = lazy("The file has more than %(max)s rows (empty rows count too): please delete the "
                           "empty rows at the end of the sheet, or split the file.")


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
        raise Refusal(CSV_ENCODING) from None


def _cell(value: object) -> object:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, datetime):
        return value.date().isoformat()
    return value


def _check_parts(data: bytes, max_rows: int | None) -> None:
    """Refuse a workbook that would be slow to read, before openpyxl reads any of it (it reads a whole
    sheet without a <dimension> as soon as the workbook is opened): parts declaring more than
    MAX_UNPACKED_BYTES (zipfile never inflates a part beyond its declared size), more than MAX_TAGS tags
    or MAX_CELLS cells, a sheet of more than a header and max_rows rows, or of far more tags than its
    cells need. Counted at C speed, stopping at the first block past a bound."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = [info for info in archive.infolist() if not info.is_dir()]
            if sum(info.file_size for info in parts) > MAX_UNPACKED_BYTES:
                raise Refusal(UNPACKS_TOO_LARGE)
            tags = cells = 0
            for info in parts:
                part_tags = rows = part_cells = 0
                for block_tags, block_rows, block_cells in _count_part(archive, info):
                    part_tags, rows, part_cells = part_tags + block_tags, rows + block_rows, part_cells + block_cells
                    if max_rows is not None and rows > max_rows + 1:
                        raise Refusal(TOO_MANY_SHEET_ROWS, max=max_rows)
                    if tags + part_tags > MAX_TAGS or cells + part_cells > MAX_CELLS:
                        raise Refusal(UNPACKS_TOO_LARGE)
                # a cell takes at most ~8 tags (<c><is><t>…</t></is></c>); thousands more are no table
                if part_cells and part_tags > 12 * part_cells + 4 * rows + 10_000:
                    raise Refusal(UNPACKS_TOO_LARGE)
                tags, cells = tags + part_tags, cells + part_cells
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, ValueError, OSError, EOFError):
        raise Refusal(NOT_A_SPREADSHEET) from None


def _count_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[tuple[int, int, int]]:
    """(tags, <row> elements, <c> elements) of one part, block by block, each block cut before a '<'
    (a tag never holds one, so none is split)."""
    sheet = info.filename.startswith("xl/worksheets/")
    carry = b""
    with archive.open(info) as part:
        while True:
            chunk = part.read(1 << 20)
            block = carry + chunk
            cut = block.rfind(b"<") if chunk else len(block)
            # what follows the last '<' waits for the next block; its name is all that counts
            whole, carry = (block[:cut], block[cut:cut + 64]) if cut >= 0 else (b"", b"")
            yield (whole.count(b"<"), _elements(whole, b"row") if sheet else 0,
                   _elements(whole, b"c") if sheet else 0)
            if not chunk:
                return


def _elements(block: bytes, name: bytes) -> int:
    """Start tags <name …>, <name/>, and the prefixed <x:name …> some writers use (a <rowBreaks>
    counted as a row changes nothing)."""
    ends = (b"",) if name == b"row" else (b" ", b">", b"/")
    found = sum(block.count(b"<" + name + end) for end in ends)
    if b":" + name in block:
        found += len(re.findall(rb"<[A-Za-z_][\w.-]*:" + name + rb"[\s/>]", block))
    return found


def _xlsx_rows(data: bytes, max_rows: int | None) -> Iterator[tuple | list]:
    """The first sheet's rows as read, empty ones included (openpyxl read-only, streamed)."""
    from openpyxl import load_workbook

    _check_parts(data, max_rows)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError):
        raise Refusal(NOT_A_SPREADSHEET) from None
    try:
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # the declared A1:XFD1048576 would pad every row and add empty ones
        yield from sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True)
    finally:
        book.close()


def _csv_rows(data: bytes) -> Iterator[list]:
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" or b"\x00" in data[:4096]:
        raise Refusal(NOT_A_SPREADSHEET)  # old .xls or some other binary
    reader = csv.reader(io.StringIO(_decode_csv(data), newline=""))
    try:
        yield from reader
    except csv.Error:
        raise Refusal(NOT_A_SPREADSHEET) from None


def read_rows(data: bytes, filename: str = "", max_rows: int | None = None) -> Iterator[tuple[int, list]]:
    """(spreadsheet row number, cells) of every row that is not empty; streams XLSX read-only. A file
    of more than a header and max_rows rows is refused as soon as it is seen: empty rows count too
    (they cost as much to read, and a few KB of a workbook can hold millions)."""
    if len(data) > MAX_FILE_BYTES:
        raise Refusal(FILE_TOO_LARGE)
    rows = _xlsx_rows(data, max_rows) if data[:4] == b"PK\x03\x04" else _csv_rows(data)
    for number, row in enumerate(rows, start=1):
        if max_rows is not None and number > max_rows + 1:
            raise Refusal(TOO_MANY_SHEET_ROWS, max=max_rows)
        if row.count(None) == len(row):
            continue  # an empty row (checked at C speed: a sheet may hold 20,000 of 64 cells)
        cells = [_cell(v) for v in row]
        if any(c is not None for c in cells):
            yield number, cells
