"""The vocabulary of the rules (活动规范) a tenant's stations, deputies and deputy groups must meet per period
(the rules themselves are activities' records: app.activities.models.Rule)."""

from __future__ import annotations

from app.core.i18n import lazy

SUBJECTS = ("station", "deputy", "group")
SUBJECT_NAMES = {
    "station": lazy("Each station"),
    "deputy": lazy("Each deputy"),
    "group": lazy("Each deputy group"),
}
COUNTS = ("activities", "opinions", "suggestions", "duty_reports")
COUNT_NAMES = {
    "activities": lazy("Activities held"),
    "opinions": lazy("Opinions registered"),
    "suggestions": lazy("Suggestions filed"),
    # Closed report meetings (app.duties.meetings). Periods end at a year, so "each deputy reports once
    # per term" (five years) is written as a yearly rule of minimum 1 that the county keeps for the
    # years it plans the reports in; the board shows which deputies have reported in that year.
    "duty_reports": lazy("Duty reports to voters held"),
}
PERIODS = ("month", "quarter", "half", "year")
PERIOD_NAMES = {
    "month": lazy("Per month"),
    "quarter": lazy("Per quarter"),
    "half": lazy("Per half year"),
    "year": lazy("Per year"),
}
# The most a minimum may ask for per period: one a day.
MAX_MINIMUM = {"month": 31, "quarter": 92, "half": 184, "year": 366}
VERDICTS = ("met", "at_risk", "missed", "open", "not_started")
VERDICT_NAMES = {
    "met": lazy("Met"),
    "at_risk": lazy("At risk"),
    "missed": lazy("Missed"),
    "open": lazy("Under way"),
    "not_started": lazy("Not started"),
}
