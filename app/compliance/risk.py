"""The one judgement of a rule's cell: met, missed, not started, at risk or under way — the board, the
drill-down, the export, the nudges (app.compliance.nudges) and the homes' counts all get it from
here, through ``engine.evaluate``.

A subject short of the rule's minimum R in a period under way is **at risk** when either
- **the last days**: the period ends within the rule's at-risk days (``Rule.at_risk_days``; None: the
  county's ``at_risk_days``) — ``(last day − today) ≤ N``, as before; or
- **the pace** (unless the rule switched it off, ``Rule.at_risk_pace``): the count is behind a steady
  pace. Of a period of L days, E have passed before today; a steady pace would have done
  ``floor(R × E / L)`` by now, and the subject has done fewer. That is the same as "what remains,
  R − done, exceeds what the rest of the period would normally allow, ceil(R × (L − E) / L)".
  On 6 December (E = 339 of 365) a yearly rule of 2 expects 1: with none done it is at risk; on
  1 March (E = 59) it expects 0. A minimum of 1 never falls behind pace before the period's end:
  such a rule warns by its last days only (a rule may set its own, e.g. 60).
Whichever comes first. Met is reached whenever; missed is a period ended short.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property

from app.activities.models import Rule
from app.core.i18n import gettext, lazy
from app.core.periods import Period

# When a cell is at risk: by the rule's last days, or by pace.
WINDOW, PACE = "window", "pace"
WHOLE = {"month": lazy("This month"), "quarter": lazy("This quarter"), "half": lazy("This half-year"),
         "year": lazy("The whole year")}
BEHIND_PACE = lazy("%(whole)s needs %(minimum)s, %(count)s done; at a steady pace %(expected)s would be done by now")
DAYS_LEFT = lazy("%(days)s days until the period ends, %(missing)s still to do")
LAST_DAY = lazy("Today is the period's last day, %(missing)s still to do")


@dataclass(frozen=True)
class Gauge:
    """What one rule asks by ``today`` in one period: computed once per rule, then applied to each
    subject's count (thousands per rule on a county's board)."""
    minimum: int
    period: Period
    today: date
    days: int  # the at-risk days in force: the rule's own, else the county's
    pace: bool

    @property
    def under_way(self) -> bool:
        return self.period.first <= self.today <= self.period.last

    @property
    def days_left(self) -> int:
        """Days after today until the period ends (0: today is its last day)."""
        return (self.period.last - self.today).days

    @cached_property
    def in_window(self) -> bool:
        return self.under_way and self.days_left <= self.days

    @cached_property
    def expected(self) -> int:
        """How many a steady pace would have done by today (days before today count as passed)."""
        if not self.pace or not self.under_way:
            return 0
        length = (self.period.last - self.period.first).days + 1
        elapsed = (self.today - self.period.first).days
        return self.minimum * elapsed // length

    def why(self, count: int) -> str:
        """WINDOW, PACE, or "" when a cell with this count is not at risk."""
        if count >= self.minimum or not self.under_way:
            return ""
        if self.in_window:
            return WINDOW
        if count < self.expected:
            return PACE
        return ""

    def verdict(self, count: int) -> str:
        if count >= self.minimum:
            return "met"
        if self.today > self.period.last:
            return "missed"
        if self.today < self.period.first:
            return "not_started"
        return "at_risk" if self.why(count) else "open"

    def could_warn(self) -> bool:
        """Could any subject be at risk today (a count of 0 is the worst case)?"""
        return bool(self.why(0))


def days_of(rule: Rule, county_days: int) -> int:
    return county_days if rule.at_risk_days is None else rule.at_risk_days


def gauge(rule: Rule, period: Period, today: date, county_days: int) -> Gauge:
    return Gauge(rule.minimum, period, today, days_of(rule, county_days), rule.at_risk_pace is not False)


def explain(g: Gauge, count: int) -> str:
    """Why a cell is at risk, in the user's language (empty when it is not)."""
    why = g.why(count)
    missing = g.minimum - count
    if why == WINDOW:
        if g.days_left == 0:
            return gettext(LAST_DAY, missing=missing)
        return gettext(DAYS_LEFT, days=g.days_left, missing=missing)
    if why == PACE:
        return gettext(BEHIND_PACE, whole=gettext(WHOLE[g.period.kind]), minimum=g.minimum, count=count,
                       expected=g.expected)
    return ""
