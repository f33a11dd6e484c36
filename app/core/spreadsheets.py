"""The one spreadsheet writer of every export (CSV and XLSX). The formula-injection guard is applied
here, to every cell and header, so that no export can forget it: a text cell that a spreadsheet
program would read as a formula (it starts with = + - @, a tab or a carriage return, or their
full-width forms that Chinese input methods type) is written with a leading apostrophe, and an XLSX
cell is never a formula. Numbers and dates are left as they are (a negative number stays a number).

CSV carries a UTF-8 BOM so that Excel reads the Chinese; XLSX is written in openpyxl's write-only
mode (rows are streamed, not kept)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from urllib.parse import quote

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
MEDIA_TYPES = {"csv": CSV_TYPE, "xlsx": XLSX_TYPE, "zip": "application/zip"}  # zip: a county's data export
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def safe_cell(value):
    """The cell as written: text that would start a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _safe_row(row: Iterable) -> list:
    return [safe_cell(v) for v in row]


def to_csv(head: list[str], rows: Iterable[Iterable]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_safe_row(head))
    writer.writerows(["" if v is None else v for v in _safe_row(row)] for row in rows)
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


class Book:
    """An XLSX workbook of one or more sheets, rows appended as they come (the case register streams
    its rows from the database)."""

    def __init__(self):
        from openpyxl import Workbook  # only exports need openpyxl loaded

        self._book = Workbook(write_only=True)

    def sheet(self, title: str, head: list[str]) -> Sheet:
        sheet = Sheet(self._book.create_sheet(title=title[:31]))  # Excel's limit on sheet names
        sheet.append(head)
        return sheet

    def save(self) -> bytes:
        out = io.BytesIO()
        self._book.save(out)
        return out.getvalue()


class Sheet:
    def __init__(self, sheet):
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        self._sheet = sheet
        self._illegal = ILLEGAL_CHARACTERS_RE

    def append(self, row: Iterable) -> None:
        # Control characters that XML cannot hold would make openpyxl refuse the whole file: dropped
        # (before the guard, which must see the text as it will be written).
        self._sheet.append(_safe_row(self._illegal.sub("", v) if isinstance(v, str) else v for v in row))


def to_xlsx(head: list[str], rows: Iterable[Iterable], title: str) -> bytes:
    book = Book()
    sheet = book.sheet(title, head)
    for row in rows:
        sheet.append(row)
    return book.save()


def write(fmt: str, head: list[str], rows: Iterable[Iterable], title: str) -> bytes:
    """The body of a ``fmt`` ("csv" or "xlsx") download; ``title`` names the XLSX sheet."""
    return to_csv(head, rows) if fmt == "csv" else to_xlsx(head, rows, title)


def content_disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "ignore").decode() or "export"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def media_type(filename: str) -> str:
    """The media type of a download named ``….csv``, ``….xlsx`` or ``….zip``."""
    return MEDIA_TYPES[filename.rsplit(".", 1)[-1]]
