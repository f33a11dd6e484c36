"""How attendance is counted (shared by a county's own activities and its deputies' rows from joint
stations): the counts of one deputy or station, and a year's bounds in the tenant's zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

@dataclass
class Counts:
    invited: int = 0
    present: int = 0
    staff: int = 0
    late: int = 0
    left_early: int = 0

    @property
    def rate(self) -> int | None:
        """Attendance rate in whole percent; None when the deputy was due at nothing."""
        return round(100 * self.present / self.invited) if self.invited else None

    def add(self, other: Counts) -> None:
        for name in ("invited", "present", "staff", "late", "left_early"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def year_bounds(year: int, tz: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz)
    return datetime(year, 1, 1, tzinfo=zone), datetime(year + 1, 1, 1, tzinfo=zone)
