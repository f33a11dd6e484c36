"""The registers' columns and cells, shared by the printed page and the XLSX sheet (so that both say
the same), and the workbook written through the one shared writer (``app.core.spreadsheets``: it
guards every text cell against formulas). Dates go in as dates, counts and shares as numbers."""

from __future__ import annotations

from app.binder import registers as reg
from app.cases.models import STATE_NAMES
from app.core import spreadsheets
from app.core.i18n import gettext, lazy
from app.duties.meeting_models import MEETING_STATUS_NAMES, RATING_NAMES

ATTENDANCE_TITLE = lazy("Register of deputies' attendance at activities")
RECEPTION_TITLE = lazy("Register of deputies receiving voters")
REPORT_TITLE = lazy("Register of deputies' duty reports")
DEPUTY_RECEPTION_TITLE = lazy("Register of the congress receiving deputies")

ATTENDANCE_HEAD = (lazy("Date of the activity"), lazy("Station"), lazy("Kind of activity"), lazy("Topic"),
                   lazy("Deputies invited"), lazy("Deputies present"), lazy("Deputies absent"))
RECEPTION_HEAD = (lazy("Date of the reception"), lazy("Station"), lazy("Topic"), lazy("Deputies on duty"),
                  lazy("People received"), lazy("Matters raised"), lazy("What happened to them"))
DEPUTY_RECEPTION_HEAD = (lazy("Date of the reception"), lazy("Receiving body"), lazy("Who received the deputies"),
                        lazy("Deputies received"), lazy("Matter raised"), lazy("Reply"))
REPORT_HEAD = (lazy("Date of the report meeting"), lazy("Station"), lazy("Deputy"), lazy("Voters present"),
               RATING_NAMES["satisfied"], RATING_NAMES["basic"], RATING_NAMES["unsatisfied"],
               lazy("Ballots in all"), lazy("Share satisfied"), lazy("Status of the meeting"))
STAFF_SIGNED = lazy("signed in by staff (代签)")
STAFF_SIGNED_BECAUSE = lazy("signed in by staff (代签): %(reason)s")
ON_LEAVE_BECAUSE = lazy("leave (请假): %(reason)s")

DEPUTY_RECEPTIONS = "receptions-of-deputies"  # 人大接待代表登记簿's key (its page, sheet and form)
SEPARATOR = "、"  # names in one cell, as the paper registers list them


def present_name(name: str, reason: str | None) -> str:
    """A present deputy, with the 代签 mark and its reason when staff signed them in."""
    if reason is None:
        return name
    mark = gettext(STAFF_SIGNED_BECAUSE, reason=reason) if reason else gettext(STAFF_SIGNED)
    return f"{name}（{mark}）"


def absent_name(name: str, reason: str | None) -> str:
    """An absent deputy, with the reason of their leave when one was given (an excused absence is
    still an absence)."""
    return f"{name}（{gettext(ON_LEAVE_BECAUSE, reason=reason)}）" if reason else name


def attendance_cells(line: reg.AttendanceLine) -> list:
    d = line.deputies
    return [line.day, line.station, line.kind, line.topic, SEPARATOR.join(d.invited),
            SEPARATOR.join(present_name(n, r) for n, r in d.present),
            SEPARATOR.join(absent_name(n, r) for n, r in d.absent)]


def reception_cells(line: reg.ReceptionLine) -> list:
    """One reception; its matters and their states one per line in two cells that line up."""
    return [line.day, line.station, line.topic, SEPARATOR.join(line.on_duty), line.people,
            "\n".join(m.text for m in line.matters),
            "\n".join(gettext(STATE_NAMES.get(m.state, m.state)) for m in line.matters)]


def deputy_reception_cells(line) -> list:
    """One reception of deputies (``receptions.ReceptionLine``); the reply empty until given."""
    return [line.day, line.body, line.received_by, SEPARATOR.join(line.deputies), line.matter, line.reply]


def _share(percent: float | None):
    return None if percent is None else spreadsheets.Percent(percent / 100)


def report_cells(line: reg.ReportLine) -> list:
    r = line.result
    return [line.day, line.station, line.deputy, line.voters_present, r.counts["satisfied"], r.counts["basic"],
            r.counts["unsatisfied"], r.total, _share(r.satisfied_percent),
            gettext(MEETING_STATUS_NAMES.get(line.status, line.status))]


REGISTERS = {  # key in the address -> (title, head, cells)
    "attendance": (ATTENDANCE_TITLE, ATTENDANCE_HEAD, attendance_cells),
    "reception": (RECEPTION_TITLE, RECEPTION_HEAD, reception_cells),
    DEPUTY_RECEPTIONS: (DEPUTY_RECEPTION_TITLE, DEPUTY_RECEPTION_HEAD, deputy_reception_cells),
    "reports": (REPORT_TITLE, REPORT_HEAD, report_cells),
}


def xlsx(key: str, lines: list, tz) -> bytes:
    """One register as a workbook of one sheet named after it."""
    title, head, cells = REGISTERS[key]
    book = spreadsheets.Book(tz=tz)
    sheet = book.sheet(gettext(title), [gettext(h) for h in head])
    for line in lines:
        sheet.append(cells(line))
    return book.save()
