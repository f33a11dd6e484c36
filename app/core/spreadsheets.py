"""The one spreadsheet writer of every export (CSV and XLSX). The formula-injection guard is applied
here, to every cell and header, so that no export can forget it: a text cell that a spreadsheet
program would read as a formula (it starts with = + - @, a tab or a carriage return, or their
full-width forms that Chinese input methods type) is written with a leading apostrophe, and an XLSX
cell is never a formula. Numbers and dates are left as they are (a negative number stays a number).

Cells are typed so that an office can sort, filter and sum: callers pass dates and datetimes (a
datetime in the tenant's zone: aware ones are converted to the book's ``tz`` and written naive,
as a sheet cell holds no zone), numbers as numbers and a percentage as ``Percent(fraction)``. The
XLSX formats are yyyy-mm-dd and yyyy-mm-dd hh:mm (GB/T 7408, the form Chinese government forms use;
it reads the same in Excel and WPS whatever the machine's locale) and 0.0%.

Every XLSX sheet is ready to print: bold header row, frozen, with an autofilter over the data; column
widths fitted to the content (CJK and full-width characters count double, capped, long text wrapped);
A4, fit to one page wide, landscape when wide, header row repeated on every page. Sheets are written
in openpyxl's write-only mode (rows streamed, not kept), which cannot go back to a column once a row
is written: the first ``MEASURED_ROWS`` rows are buffered and the widths measured on them (a longer
register streams the rest with the widths found).

CSV carries a UTF-8 BOM so that Excel reads the Chinese; GB18030 (no BOM) on request, for the old
Excel and WPS versions that ignore the BOM."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import quote

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# No charset here: the web framework appends the response's own (``web.download``) to text/* types.
MEDIA_TYPES = {"csv": "text/csv", "xlsx": XLSX_TYPE, "zip": "application/zip"}  # zip: a county's data export
CSV_ENCODINGS = ("utf-8", "gb18030")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
PERCENT_FORMAT = "0.0%"
MEASURED_ROWS = 1000  # rows buffered per sheet to fit the column widths
MAX_WIDTH = 60  # a wider column wraps its text instead
MIN_WIDTH = 6
WIDE_COLUMNS = 8  # more columns than this (or more total width than WIDE_WIDTH): landscape
WIDE_WIDTH = 100
SHEET_NAME_FORBIDDEN = re.compile(r"[\\/?*\[\]:]")
FALLBACK_STEMS = {"csv": "lianluo-export", "xlsx": "lianluo-export", "zip": "lianluo-data"}


class Percent:
    """A percentage cell: ``Percent(0.75)`` is written as the number 0.75 formatted 75.0% (and as
    the text "75%" in a CSV)."""

    __slots__ = ("value",)

    def __init__(self, fraction):
        self.value = float(fraction)

    def __str__(self) -> str:
        return f"{round(self.value * 100, 1):g}%"

    def __eq__(self, other) -> bool:
        return isinstance(other, Percent) and other.value == self.value

    def __repr__(self) -> str:
        return f"Percent({self.value!r})"


def safe_cell(value):
    """The cell as written: text that would start a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _safe_row(row: Iterable) -> list:
    return [safe_cell(v) for v in row]


def _local(value: datetime, tz) -> datetime:
    """A datetime as the sheet shows it: in the tenant's zone, without a zone (Excel holds none)."""
    if value.tzinfo is not None and tz is not None:
        value = value.astimezone(tz)
    return value.replace(tzinfo=None)


def _csv_text(value, tz):
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _local(value, tz).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, (date, Percent)):
        return str(value)
    return value


def to_csv(head: list[str], rows: Iterable[Iterable], encoding: str = "utf-8", tz=None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_safe_row(head))
    writer.writerows(_safe_row(_csv_text(v, tz) for v in row) for row in rows)
    if encoding == "gb18030":
        return out.getvalue().encode("gb18030")
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def csv_encoding(requested: str | None) -> str:
    """The CSV encoding a download asked for (``?encoding=gb18030``); anything else is the default."""
    value = (requested or "").strip().lower().replace("_", "-")
    return value if value in CSV_ENCODINGS else "utf-8"


def text_width(text: str) -> int:
    """How many columns the text takes in a spreadsheet: wide (CJK, full-width) characters count two."""
    return max((sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
                for line in text.split("\n")), default=0)


def _cell_width(value) -> int:
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    if isinstance(value, Percent):
        return 6
    if isinstance(value, float):
        return len(f"{value:.2f}".rstrip("0").rstrip("."))
    return text_width(str(value))


def sheet_name(title: str, taken: set[str]) -> str:
    """A sheet name Excel accepts: none of \\ / ? * [ ] :, no apostrophe at either end, at most 31
    characters, unique in the book (Excel compares them ignoring case)."""
    base = SHEET_NAME_FORBIDDEN.sub("-", title).strip().strip("'").strip() or "Sheet"
    name, n = base[:31], 1
    while name.lower() in taken:
        n += 1
        suffix = f"({n})"
        name = base[:31 - len(suffix)] + suffix
    taken.add(name.lower())
    return name


class Book:
    """An XLSX workbook of one or more sheets, rows appended as they come (the case register streams
    its rows from the database). ``tz``: the zone aware datetimes are shown in."""

    def __init__(self, tz=None):
        from openpyxl import Workbook  # only exports need openpyxl loaded

        self._book = Workbook(write_only=True)
        self._sheets: list[Sheet] = []
        self._names: set[str] = set()
        self.tz = tz

    def sheet(self, title: str, head: list[str], filter: bool = True) -> Sheet:
        """A new sheet headed by ``head``; ``filter=False`` for a report laid out in parts (no
        autofilter over rows that are not one table)."""
        sheet = Sheet(self._book.create_sheet(title=sheet_name(title, self._names)), head, self.tz, filter)
        self._sheets.append(sheet)
        return sheet

    def save(self) -> bytes:
        for sheet in self._sheets:
            sheet.finish()
        out = io.BytesIO()
        self._book.save(out)
        return out.getvalue()


class Sheet:
    def __init__(self, sheet, head: list[str], tz=None, filter: bool = True):
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        self._sheet = sheet
        self._illegal = ILLEGAL_CHARACTERS_RE
        self._tz = tz
        self._filter = filter
        self._head = self._clean(head)
        self._buffer: list[list] | None = []
        self._rows = 1
        self._columns = len(self._head)
        self._wrapped: set[int] = set()
        self._wrap = None  # the wrapping alignment, and the orientation: chosen when the rows are measured
        self._landscape = False

    def _clean(self, row: Iterable) -> list:
        # Control characters that XML cannot hold would make openpyxl refuse the whole file: dropped
        # (before the guard, which must see the text as it will be written).
        out = []
        for v in row:
            if isinstance(v, str):
                v = safe_cell(self._illegal.sub("", v))
            elif isinstance(v, datetime):
                v = _local(v, self._tz)
            elif not isinstance(v, (date, int, float, Decimal, Percent)) and v is not None:
                v = safe_cell(self._illegal.sub("", str(v)))  # an id, an enum: shown as its text
            out.append(v)
        return out

    def append(self, row: Iterable) -> None:
        cells = self._clean(row)
        self._rows += 1
        self._columns = max(self._columns, len(cells))
        if self._buffer is None:
            self._sheet.append(self._styled(cells))
            return
        self._buffer.append(cells)
        if len(self._buffer) >= MEASURED_ROWS:
            self._flush()

    def _styled(self, cells: list) -> list:
        from openpyxl.cell import WriteOnlyCell

        out = []
        for i, v in enumerate(cells):
            fmt = (DATETIME_FORMAT if isinstance(v, datetime) else DATE_FORMAT if isinstance(v, date)
                   else PERCENT_FORMAT if isinstance(v, Percent) else None)
            if fmt is None and not (i in self._wrapped and isinstance(v, str)):
                out.append(v)
                continue
            cell = WriteOnlyCell(self._sheet, v.value if isinstance(v, Percent) else v)
            if fmt:
                cell.number_format = fmt
            else:
                cell.alignment = self._wrap
            out.append(cell)
        return out

    def _widths(self) -> list[int]:
        widths = [0] * self._columns
        for i, v in enumerate(self._head):
            widths[i] = _cell_width(v) + (4 if self._filter else 2)  # bold, and the filter's button
        for row in self._buffer:
            for i, v in enumerate(row):
                widths[i] = max(widths[i], _cell_width(v) + 2)
        return [min(MAX_WIDTH, max(MIN_WIDTH, w)) for w in widths]

    def _flush(self) -> None:
        """Lay the sheet out from the buffered rows, then write them (after this, rows stream)."""
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Alignment, Font
        from openpyxl.utils import get_column_letter

        widths = self._widths()
        self._wrapped = {i for i, w in enumerate(widths) if w >= MAX_WIDTH}
        self._wrap = Alignment(wrap_text=True, vertical="top")
        for i, w in enumerate(widths):
            self._sheet.column_dimensions[get_column_letter(i + 1)].width = w
        self._sheet.freeze_panes = "A2"
        self._sheet.sheet_properties.pageSetUpPr.fitToPage = True
        self._landscape = len(widths) > WIDE_COLUMNS or sum(widths) > WIDE_WIDTH
        bold = Font(bold=True)
        head = []
        for v in self._head:
            cell = WriteOnlyCell(self._sheet, v)
            cell.font = bold
            head.append(cell)
        self._sheet.append(head)
        for cells in self._buffer:
            self._sheet.append(self._styled(cells))
        self._buffer = None

    def finish(self) -> None:
        """The parts written after the rows: the filter's range and the page set-up."""
        from openpyxl.utils import get_column_letter

        if self._buffer is not None:
            self._flush()
        ws = self._sheet
        if self._filter and self._head:
            ws.auto_filter.ref = f"A1:{get_column_letter(len(self._head))}{self._rows}"
        ws.page_setup.paperSize = 9  # A4 (PAPERSIZE_A4 of a normal worksheet)
        ws.page_setup.orientation = "landscape" if self._landscape else "portrait"
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0  # as many pages down as the rows need
        ws.print_title_rows = "1:1"


def to_xlsx(head: list[str], rows: Iterable[Iterable], title: str, tz=None, filter: bool = True) -> bytes:
    book = Book(tz)
    sheet = book.sheet(title, head, filter=filter)
    for row in rows:
        sheet.append(row)
    return book.save()


def write(fmt: str, head: list[str], rows: Iterable[Iterable], title: str, tz=None, filter: bool = True,
          encoding: str = "utf-8") -> bytes:
    """The body of a ``fmt`` ("csv" or "xlsx") download; ``title`` names the XLSX sheet, ``encoding``
    the CSV's."""
    if fmt == "csv":
        return to_csv(head, rows, encoding=encoding, tz=tz)
    return to_xlsx(head, rows, title, tz=tz, filter=filter)


def ascii_filename(filename: str) -> str:
    """The file name for programs that cannot read the UTF-8 one: its ASCII letters, digits, - and
    _ kept; if no letter is left, a fixed English name by the extension with the name's numbers
    (案件登记簿-北坝村-2026-12.xlsx -> lianluo-export-2026-12.xlsx)."""
    stem, dot, ext = filename.rpartition(".")
    if not dot:
        stem, ext = filename, ""
    ext = re.sub(r"[^A-Za-z0-9]", "", ext)
    kept = re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9_-]+", "-", stem)).strip("-_")
    if not re.search(r"[A-Za-z]", kept):
        numbers = re.findall(r"\d+", stem)
        kept = "-".join([FALLBACK_STEMS.get(ext.lower(), "lianluo-file"), *numbers])
    return f"{kept}.{ext}" if ext else kept


def content_disposition(filename: str) -> str:
    return f"attachment; filename=\"{ascii_filename(filename)}\"; filename*=UTF-8''{quote(filename)}"


def media_type(filename: str) -> str:
    """The media type of a download named ``….csv``, ``….xlsx`` or ``….zip``."""
    return MEDIA_TYPES[filename.rsplit(".", 1)[-1]]
