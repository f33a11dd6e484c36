"""Print layouts that fit (issue 19): the case register on landscape A4 (its twelve columns squeezed
onto portrait made 问题类别 wrap one character a line), table heads repeated on every printed page, no
heading left alone at the foot of a page (the yearly attendance report's did), and the quarterly
list's main issues joined once each, without "。；". The PDF itself is checked in
tests/e2e/test_register_print.py; here the pages and the print rules of the stylesheet they link."""

from __future__ import annotations

import re

import pytest

from app.cases.ledgers import Line
from tests.activities.test_attendance_world import attendance_year
from tests.activities.world import local
from tests.cases.world import build_case_county, put_case
from tests.deputies.deputy_world import signed_in, text_of

STYLESHEET = re.compile(r'<link rel="stylesheet" href="(/static/[^"]+)"')


def print_rules(css: str) -> dict[str, str]:
    """{selector: declarations} of the rules that apply in print: those in `@media print{…}` and the
    @page rules, with each selector of a group listed on its own."""
    rules: dict[str, str] = {}

    def add(block: str) -> None:
        for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", block):
            for selector in selectors.split(","):
                rules[selector.strip()] = rules.get(selector.strip(), "") + body + ";"

    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    for start in [m.end() for m in re.finditer(r"@media print\s*\{", css)]:
        depth, end = 1, start
        while depth:
            depth += {"{": 1, "}": -1}.get(css[end], 0)
            end += 1
        add(css[start:end - 1])
    add("\n".join(re.findall(r"@page[^{]*\{[^{}]*\}", css)))
    return rules


def declares(rules: dict[str, str], selector: str, declaration: str) -> bool:
    body = re.sub(r"\s+", " ", rules.get(selector, "")).replace(": ", ":")
    return declaration in body.split(";")


async def print_css(client, html: str) -> dict[str, str]:
    return print_rules((await client.get(STYLESHEET.search(html).group(1))).text)


def test_main_issues_joined_once_without_double_punctuation():
    line = Line(1, "道路交通", issues=["希望恢复早班车。", "村道坑洼需要修补", "希望恢复早班车", "路灯不亮，",
                                        "桥面开裂？", "  ", "路灯不亮"])
    assert line.main_issues == ["希望恢复早班车。", "村道坑洼需要修补；", "路灯不亮；", "桥面开裂？"]
    assert Line(2, "x", issues=["一件事；", "最后一件。"]).main_issues == ["一件事；", "最后一件。"]
    assert Line(3, "x", issues=["只有一件"]).main_issues == ["只有一件"]  # the last one gets no "；"
    assert Line(None, "").main_issues == []


@pytest.fixture
async def cc(database):
    cc = await build_case_county(database)
    for n, content in enumerate(["希望恢复早班车。", "希望恢复早班车。", "村道坑洼需要修补", "希望恢复早班车"]):
        await put_case(database, cc, content=content, category="roads", created_at=local(2026, 5, 2 + n))
    return cc


async def test_register_prints_on_landscape_a4_with_heads_repeated(app, cc):
    async with signed_in(app, cc.ac.county, "admin") as client:
        r = await client.get(f"{client.base}/cases/register?period=2026-Q2")
        assert r.status_code == 200
        rules = await print_css(client, r.text)
    article = re.search(r'<article class="([^"]*)">(.*?)</article>', r.text, re.S)
    assert "landscape" in article.group(1).split() and "<thead>" in article.group(2)  # the table is inside
    assert declares(rules, "@page wide", "size:A4 landscape") and declares(rules, ".landscape", "page:wide")
    assert declares(rules, "thead", "display:table-header-group")
    assert declares(rules, "tr", "break-inside:avoid")
    # a CJK header breaks only where a word would (never 问/题/类/别); the browser test measures it
    assert declares(rules, "th", "word-break:keep-all")
    for heading in ("h1", "h2", "h3"):
        assert declares(rules, heading, "break-after:avoid"), heading
    # the case count between the heading and its table stays with them
    assert re.search(r"</h2>\s*<p class=\"[^\"]*\bkeep\b", r.text) and declares(rules, ".keep", "break-after:avoid")


async def test_quarterly_list_prints_each_issue_once(app, cc):
    async with signed_in(app, cc.ac.county, "admin") as client:
        r = await client.get(f"{client.base}/cases/quarterly?quarter=2026-Q2")
        assert r.status_code == 200
        rules = await print_css(client, r.text)
    row = next(cells for cells in (re.findall(r"<td>(.*?)</td>", tr, re.S)
                                   for tr in re.findall(r"<tr>(.*?)</tr>", r.text, re.S)) if cells)
    assert row[0] == "道路交通" and row[1] == "4"  # every case counted, the repeats too
    issues = text_of(row[6]).split()
    assert issues == ["希望恢复早班车；", "村道坑洼需要修补"]  # the newest first; the two older repeats left out
    assert "。；" not in text_of(r.text) and len(set(issues)) == len(issues)
    assert declares(rules, "h1", "break-after:avoid") and declares(rules, "thead", "display:table-header-group")


async def test_quarterly_xlsx_joins_the_same_way(app, cc):
    from io import BytesIO

    from openpyxl import load_workbook

    async with signed_in(app, cc.ac.county, "admin") as client:
        r = await client.get(f"{client.base}/cases/quarterly.xlsx?quarter=2026-Q2")
    rows = list(load_workbook(BytesIO(r.content), read_only=True).worksheets[0].iter_rows(values_only=True))
    issues = next(row for row in rows if row[0] == "道路交通")[6]
    assert issues == "希望恢复早班车；村道坑洼需要修补"


async def test_yearly_report_headings_stay_with_what_follows(app, database, owner_sql):
    ac = await attendance_year(database, owner_sql)
    async with signed_in(app, ac.county, "admin") as client:
        r = await client.get(f"{client.base}/deputies/{ac.deputies['李娜']}/attendance/2024/report")
        assert r.status_code == 200
        rules = await print_css(client, r.text)
    assert re.search(r"<h2>.*?</h2>", r.text) and re.search(r"<h3>.*?</h3>", r.text)
    for heading in ("h1", "h2", "h3"):
        assert declares(rules, heading, "break-after:avoid"), heading
    assert declares(rules, "thead", "display:table-header-group") and declares(rules, "tr", "break-inside:avoid")
    assert "landscape" not in r.text  # four columns: portrait A4
