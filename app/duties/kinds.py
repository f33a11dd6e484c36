"""The kinds of duty a deputy (or staff for them) files in the dossier: what happens outside the
product (a session of the congress, a speech, an inspection, …). A fixed list, so a county's points
scheme can map items to these codes; the order is the dossier's."""

from __future__ import annotations

from app.core.i18n import lazy

KINDS = {
    "session": lazy("Attended a session of the congress"),
    "leave": lazy("Leave from a session of the congress"),
    "speech": lazy("Speech or review at a session"),
    "motion": lazy("Motion (议案)"),
    "inspection": lazy("Inspection, survey or law-enforcement check"),
    "training": lazy("Training of deputies"),
    "award": lazy("Award or commendation"),
    "talk": lazy("Talk with the deputy"),
    "other": lazy("Other duty"),
}
CODES = tuple(KINDS)
# A leave says why: the reason is the entry's text, which the form asks for as such.
NEEDS_REASON = ("leave",)
