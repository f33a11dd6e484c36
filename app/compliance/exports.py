"""The board as a spreadsheet: one row per subject and rule, for the board's filters and the member's
scope (the same evaluation as the page). Written by ``app.core.spreadsheets`` (formula injection
guarded there); no personal data beyond deputies' names."""

from __future__ import annotations

from app.compliance.models import VERDICT_NAMES
from app.compliance.services import View
from app.core import spreadsheets
from app.core.i18n import gettext, lazy

HEADERS = (lazy("Activity rule"), lazy("Compliance period"), lazy("Applies to"), lazy("Station, deputy or group"),
           lazy("Count reached"), lazy("Minimum required"), lazy("Still missing"), lazy("Not counted: too few deputies present"),
           lazy("Compliance verdict"))
SUBJECT_WORDS = {"station": lazy("Station"), "deputy": lazy("Deputy"), "group": lazy("Deputy group")}
SHEET_TITLE = lazy("Compliance")


def rows(view: View) -> list[list]:
    order = {"station": 0, "group": 1, "deputy": 2}
    cells = sorted(view.board.cells.values(),
                   key=lambda c: (order[c.subject.kind], c.subject.name, c.subject.id, c.rule.sort, c.rule.id))
    out = []
    for c in cells:
        if view.query.verdict and c.verdict != view.query.verdict:
            continue
        out.append([c.rule.name, c.period.label, gettext(SUBJECT_WORDS[c.subject.kind]), c.subject.name, c.count,
                    c.minimum, c.missing, c.excluded, gettext(VERDICT_NAMES[c.verdict])])
    return out


def render(view: View, fmt: str, encoding: str = "utf-8") -> bytes:
    """``encoding``: the CSV's (``spreadsheets.csv_encoding`` of the request's ``?encoding=``)."""
    return spreadsheets.write(fmt, [gettext(h) for h in HEADERS], rows(view), gettext(SHEET_TITLE), encoding=encoding)


def filename(view: View, tenant_name: str, fmt: str) -> str:
    return f"{gettext(SHEET_TITLE)}-{tenant_name}-{view.today.isoformat()}.{fmt}"
