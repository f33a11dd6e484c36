"""Reading an import's preview page in tests: every row of the file with its cells and its problems."""

from __future__ import annotations

import html
import re

ROW = re.compile(r'<tr id="row-(\d+)">(.*?)</tr>', re.S)
CELL = re.compile(r"<td(?: class=\"error\")?>([^<]*)</td>")
PROBLEM = re.compile(r'<p class="error" data-column="([^"]*)">(.*?)</p>', re.S)


def preview_rows(text: str) -> dict[int, list[str]]:
    """Row number → the file's cells as shown (the problems column is left out)."""
    return {int(n): [html.unescape(c) for c in CELL.findall(body)] for n, body in ROW.findall(text)}


def preview_problems(text: str) -> list[tuple[str, str, str]]:
    """(row, column, message) of every problem shown beside its row; the problems of the header row and
    of the file come before the table, as (row, column, message) read from "第 1 行 · 列: …"."""
    found = []
    for number, body in ROW.findall(text):
        for column, message in PROBLEM.findall(body):
            column, message = html.unescape(column), html.unescape(message)
            found.append((number, column, message.split(": ", 1)[1] if column and ": " in message else message))
    head = text.split('id="preview"')[0]
    for number, column, message in re.findall(r'<p class="error">第 (\d+) 行 · ([^:<]*): ([^<]*)</p>', head):
        found.append((number, html.unescape(column), html.unescape(message)))
    return found
