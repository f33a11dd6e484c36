"""The refusal every station verb raises, and the small checks the verbs share."""

from __future__ import annotations

from app.core.i18n import lazy
from app.stations.access import StationRef


class Refusal(Exception):
    """A change that is not made: a message (English msgid) and its variables, the HTTP status to
    answer with, and for names the canonical name to offer."""

    def __init__(self, message: str, status: int = 400, canonical: str = "", **variables):
        super().__init__(message)
        self.message = message
        self.status = status
        self.canonical = canonical
        self.variables = variables


CLOSED_STATION = lazy("The station is closed; it can no longer be changed.")
FIELD_TOO_LONG = lazy("“%(field)s” may have at most %(max)s characters.")


def _int(value) -> int | None:
    text = str(value or "").strip()
    if not text.isdigit() or len(text) > 18:
        return None
    return int(text)


def _open(ref: StationRef) -> None:
    if ref.station.status == "closed":
        raise Refusal(CLOSED_STATION)
