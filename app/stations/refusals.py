"""The refusal every station verb raises, and the small checks the verbs share."""

from __future__ import annotations

from app.core.errors import Refusal
from app.core.i18n import lazy
from app.stations.access import StationRef


CLOSED_STATION = lazy("The station is closed; it can no longer be changed.")
FIELD_TOO_LONG = lazy("“%(field)s” may have at most %(max)s characters.")


def _whole_number(value) -> int | None:
    text = str(value or "").strip()
    if not text.isdigit() or len(text) > 18:
        return None
    return int(text)


def _open(ref: StationRef) -> None:
    if ref.station.status == "closed":
        raise Refusal(CLOSED_STATION)
