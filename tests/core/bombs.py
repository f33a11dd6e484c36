"""Files that are small on the wire and huge once decoded, built in a few milliseconds: what the
upload routes must refuse before they decode anything."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares width × height RGB pixels, with a valid compressed stream of a few
    empty rows: reading the header is free, decoding it would cost width × height × 3 bytes."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 + 3 * width) * 4, 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")


SHEET_HEAD = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
              '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
SHEET_TAIL = "</sheetData></worksheet>"


def header_row(headers: list[str]) -> str:
    cells = "".join(f'<c r="{chr(65 + i)}1" t="inlineStr"><is><t>{h}</t></is></c>' for i, h in enumerate(headers))
    return f'<row r="1">{cells}</row>'


def xlsx_with_sheet(sheet_xml: str) -> bytes:
    """A real workbook (openpyxl's own parts) whose first sheet is sheet_xml."""
    from openpyxl import Workbook

    plain = io.BytesIO()
    Workbook().save(plain)
    source = zipfile.ZipFile(plain)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = sheet_xml.encode() if info.filename == "xl/worksheets/sheet1.xml" else source.read(info.filename)
            target.writestr(info.filename, body)
    return out.getvalue()


def xlsx_empty_rows(headers: list[str], empty_rows: int, padding: int = 0) -> bytes:
    """A header row, then empty_rows empty <row/> elements (and padding spaces of whitespace that
    still has to be read): a few KB compressed."""
    rows = "".join(f'<row r="{n}"/>' for n in range(2, empty_rows + 2))
    return xlsx_with_sheet(SHEET_HEAD + header_row(headers) + rows + " " * padding + SHEET_TAIL)
