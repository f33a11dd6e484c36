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
CSV_ENCODING = lazy("The CSV file is neither UTF-8 nor GB18030 text.")


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


def read_rows(data: bytes, filename: str = "") -> Iterator[tuple[int, list]]:
    """(spreadsheet row number, cells) of every row that is not empty; streams XLSX read-only."""
    if len(data) > MAX_FILE_BYTES:
        raise Refusal(FILE_TOO_LARGE)
    if data[:4] == b"PK\x03\x04":
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError):
            raise Refusal(NOT_A_SPREADSHEET) from None
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
        raise Refusal(NOT_A_SPREADSHEET)  # old .xls or some other binary
    reader = csv.reader(io.StringIO(_decode_csv(data), newline=""))
    try:
        for number, row in enumerate(reader, start=1):
            cells = [_cell(v) for v in row]
            if any(c is not None for c in cells):
                yield number, cells
    except csv.Error:
        raise Refusal(NOT_A_SPREADSHEET) from None
