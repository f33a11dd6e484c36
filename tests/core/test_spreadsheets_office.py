"""Spreadsheets an office can use as they are (issue 19): real dates, numbers and percentages with
formats, fitted column widths (CJK counting double), a bold frozen header with an autofilter, A4 page
set-up with print titles, sheet names Excel accepts; CSV with one charset, a BOM, GB18030 on request;
a readable ASCII fallback file name."""

from __future__ import annotations

import io
from datetime import date, datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from app.core import spreadsheets
from app.core.spreadsheets import Percent
from tests.activities.world import build_activity_county
from tests.activities.test_attendance_world import attendance_year
from tests.deputies.deputy_world import signed_in

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _book(body: bytes):
    return load_workbook(io.BytesIO(body))


def test_cells_are_typed_and_formatted():
    at = datetime(2026, 12, 1, 1, 30, tzinfo=timezone.utc)  # 09:30 in Shanghai
    body = spreadsheets.to_xlsx(["日期", "时间", "出勤率", "积分", "件数"],
                                [[date(2026, 12, 1), at, Percent(0.5), Decimal("12.5"), 3]], "登记簿", tz=SHANGHAI)
    ws = _book(body).active
    day, when, rate, points, count = ws[2]
    assert day.is_date and day.value == datetime(2026, 12, 1) and day.number_format == "yyyy-mm-dd"
    assert when.is_date and when.value == datetime(2026, 12, 1, 9, 30) and when.number_format == "yyyy-mm-dd hh:mm"
    assert rate.value == 0.5 and rate.number_format == "0.0%"
    assert points.value == 12.5 and count.value == 3 and count.data_type == "n"
    assert all(c.font.b for c in ws[1]) and not day.font.b


def test_layout_and_page_setup():
    head = ["名称", "name", "备注"]
    ws = _book(spreadsheets.to_xlsx(head, [["北坝村人大代表联络站", "abcdefghij", "x" * 200]] * 3, "登记簿")).active
    widths = {k: v.width for k, v in ws.column_dimensions.items()}
    assert widths["A"] > widths["B"]  # 10 CJK characters are wider than 10 ASCII ones
    assert widths["C"] == spreadsheets.MAX_WIDTH and ws["C2"].alignment.wrap_text  # capped, wrapped
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:C4"
    assert ws.page_setup.paperSize == 9 and ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.print_title_rows == "$1:$1"
    assert ws.page_setup.orientation == "portrait"
    wide = _book(spreadsheets.to_xlsx([f"列{i}" for i in range(12)], [list(range(12))], "宽")).active
    assert wide.page_setup.orientation == "landscape"


def test_widths_from_the_first_rows_then_streamed(monkeypatch):
    monkeypatch.setattr(spreadsheets, "MEASURED_ROWS", 2)
    rows = [["a"], ["b"], ["很长很长很长很长很长很长"], [date(2026, 1, 1)]]
    ws = _book(spreadsheets.to_xlsx(["x"], rows, "s")).active
    assert ws.column_dimensions["A"].width == spreadsheets.MIN_WIDTH  # measured on the first two rows
    assert [c.value for c in ws["A"]][1:] == ["a", "b", "很长很长很长很长很长很长", datetime(2026, 1, 1)]
    assert ws["A5"].number_format == "yyyy-mm-dd" and ws.auto_filter.ref == "A1:A5"


def test_sheet_names_excel_accepts():
    book = spreadsheets.Book()
    for title in ("2026/27:选民[意见]?*", "'引号'", "x" * 40, "X" * 40, ""):
        book.sheet(title, ["a"])
    names = _book(book.save()).sheetnames
    assert names[:2] == ["2026-27-选民-意见---", "引号"]
    assert all(len(n) <= 31 for n in names) and len({n.lower() for n in names}) == 5
    assert names[3].endswith("(2)") and names[4] == "Sheet"


def test_empty_template_keeps_its_header():
    ws = _book(spreadsheets.to_xlsx(["代表姓名", "选民姓名"], [], "联系选民花名册")).active
    assert [c.value for c in ws[1]] == ["代表姓名", "选民姓名"] and ws.auto_filter.ref == "A1:B1"


def test_csv_values_and_encodings():
    at = datetime(2026, 12, 1, 1, 30, tzinfo=timezone.utc)
    body = spreadsheets.to_csv(["日期", "时间", "比例", "空"], [[date(2026, 12, 1), at, Percent(1 / 3), None]],
                               tz=SHANGHAI)
    assert body.startswith(b"\xef\xbb\xbf")
    assert body.decode("utf-8-sig").splitlines()[1] == "2026-12-01,2026-12-01 09:30,33.3%,"
    gb = spreadsheets.to_csv(["代表"], [["张伟"]], encoding="gb18030")
    assert not gb.startswith(b"\xef\xbb\xbf") and gb.decode("gb18030") == "代表\r\n张伟\r\n"
    assert spreadsheets.csv_encoding("GB18030") == "gb18030" and spreadsheets.csv_encoding("latin1") == "utf-8"


def test_readable_ascii_fallback_name():
    assert spreadsheets.ascii_filename("案件登记簿-北坝村-2026-12.xlsx") == "lianluo-export-2026-12.xlsx"
    assert spreadsheets.ascii_filename("Compliance-三台县-2026-12-01.csv") == "Compliance-2026-12-01.csv"
    assert spreadsheets.ascii_filename("数据.zip") == "lianluo-data.zip"
    assert spreadsheets.ascii_filename('a"b\\c.xlsx') == "a-b-c.xlsx"
    header = spreadsheets.content_disposition("案件登记簿-2026.xlsx")
    assert header.startswith('attachment; filename="lianluo-export-2026.xlsx"; filename*=UTF-8\'\'%E6%A1%88')


async def test_report_downloads_as_the_office_needs(app, database, owner_sql):
    ac = await attendance_year(database, owner_sql)
    base = f"/deputies/{ac.deputies['李娜']}/attendance/2024/report"
    async with signed_in(app, ac.county, "station") as client:
        r = await client.get(f"{client.base}{base}.csv")
        assert r.headers["content-type"] == "text/csv; charset=utf-8" and r.content.startswith(b"\xef\xbb\xbf")
        assert r.headers["content-disposition"].startswith('attachment; filename="lianluo-export-2024.csv"')
        gb = await client.get(f"{client.base}{base}.csv?encoding=gb18030")
        assert gb.headers["content-type"] == "text/csv; charset=gb18030"
        assert gb.content.decode("gb18030") == r.content.decode("utf-8-sig")
        x = await client.get(f"{client.base}{base}.xlsx")
        assert x.headers["content-type"] == spreadsheets.XLSX_TYPE
    ws = _book(x.content).active
    total = next(row for row in ws.iter_rows() if row[0].value == "全年合计")
    assert abs(total[6].value - 1 / 3) < 1e-9 and total[6].number_format == "0.0%"
    dated = [c for c in ws["A"] if c.is_date]
    assert dated and all(c.number_format == "yyyy-mm-dd hh:mm" for c in dated)
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref is None  # a report in parts: no filter


async def test_every_csv_export_speaks_gb18030_on_request(app, database):
    """Older Excel and WPS ignore the BOM: each CSV export offers GB18030 with the same content."""
    ac = await build_activity_county(database)
    paths = ("/deputies/export.csv", f"/deputies/{ac.deputies['张伟']}/roster/export.csv", "/compliance/export.csv")
    async with signed_in(app, ac.county, "admin") as client:
        for path in paths:
            utf8 = await client.get(f"{client.base}{path}")
            gb = await client.get(f"{client.base}{path}?encoding=gb18030")
            assert utf8.status_code == gb.status_code == 200, path
            assert gb.headers["content-type"] == "text/csv; charset=gb18030", path
            assert gb.content.decode("gb18030") == utf8.content.decode("utf-8-sig"), path
            if path.startswith("/deputies"):  # Chinese heads whatever the page language (import templates)
                assert any("\u4e00" <= ch <= "\u9fff" for ch in gb.content.decode("gb18030")), path
