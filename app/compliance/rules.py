"""What makes a rule valid: one check shared by the settings form and the tenant presets.

``check_rule`` takes what was typed (form fields or a preset's table) and returns the normalised
values, or raises ``Refusal`` with a message in the user's language (``error.text()``). ``check_risk`` checks
the form's setting of when a rule warns (presets leave it at its default: the county's days, pace on).
"""

from __future__ import annotations

import re

from app.compliance.models import COUNTS, MAX_MINIMUM, PERIODS, SUBJECTS
from app.core.errors import Refusal
from app.core.i18n import gettext, lazy
from app.deputies.models import LEVELS

CODE_RE = re.compile(r"^[a-z0-9_-]{1,30}$")
NAME_MAX = 100


CODE_BAD = lazy("The rule's code uses lower-case letters, digits, _ or - (at most 30).")
NAME_REQUIRED = lazy("Please give the rule a name.")
NAME_TOO_LONG = lazy("The rule's name has at most %(max)s characters.")
SUBJECT_BAD = lazy("Please choose whom the rule applies to: each station, each deputy or each deputy group.")
COUNTS_BAD = lazy("Please choose what the rule counts.")
PERIOD_BAD = lazy("Please choose the period: month, quarter, half year or year.")
MINIMUM_BAD = lazy("The minimum must be a whole number from 1 upwards.")
MINIMUM_TOO_HIGH = lazy("At most %(max)s per %(period)s: a higher minimum cannot be met (one a day at most).")
MIN_DEPUTIES_BAD = lazy("The number of deputies present must be a whole number from 1 to 500, or empty.")
MIN_DEPUTIES_NOT_HERE = lazy("“Deputies present” applies only to rules that count activities.")
KINDS_REQUIRED = lazy("A rule that counts activities needs at least one kind of activity.")
KIND_UNKNOWN = lazy("“%(code)s” is not a kind of activity of this county.")
KINDS_NOT_HERE = lazy("Kinds of activity apply only to rules that count activities.")
STATION_KIND_UNKNOWN = lazy("“%(code)s” is not a kind of station of this county.")
STATION_KINDS_NOT_HERE = lazy("Kinds of station apply only to rules for each station.")
LEVEL_UNKNOWN = lazy("“%(code)s” is not a deputy level.")
LEVELS_NOT_HERE = lazy("Deputy levels apply only to rules for each deputy.")
DEPUTY_COUNTS_ONLY = lazy("Opinions and suggestions are counted for each deputy only.")

AT_RISK_DAYS_BAD = lazy("The rule's own at-risk days are a whole number from 0 to %(max)s for a rule per %(period)s, "
                        "or empty to follow the county's setting.")
AT_RISK_PACE_BAD = lazy("Please choose whether the rule also warns when behind a steady pace.")
# A rule's own at-risk days: the county's bound (180), and less than its period (else always at risk).
AT_RISK_MAX = {"month": 30, "quarter": 90, "half": 180, "year": 180}
PACE_CHOICES = {"": True, "on": True, "off": False}  # not given: on, as for a new rule

PERIOD_WORDS = {"month": lazy("month"), "quarter": lazy("quarter"), "half": lazy("half year"), "year": lazy("year")}


def _whole(value, message) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise Refusal(message)
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not re.fullmatch(r"-?\d{1,6}", text):
        raise Refusal(message)
    return int(text)


def _codes(values) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [v for v in re.split(r"[\s,，、]+", values) if v]
    return list(dict.fromkeys(str(v).strip() for v in values if str(v).strip()))


def check_rule(values: dict, *, kind_codes: set[str], station_kind_codes: set[str]) -> dict:
    """Normalised rule fields (code, name, subject, counts, kind_codes, period, minimum, min_deputies,
    station_kind_codes, deputy_levels) or Refusal."""
    code = str(values.get("code") or "").strip()
    if not CODE_RE.match(code):
        raise Refusal(CODE_BAD)
    name = str(values.get("name") or "").strip()
    if not name:
        raise Refusal(NAME_REQUIRED)
    if len(name) > NAME_MAX:
        raise Refusal(NAME_TOO_LONG, max=NAME_MAX)
    subject = values.get("subject")
    if subject not in SUBJECTS:
        raise Refusal(SUBJECT_BAD)
    counts = values.get("counts") or "activities"
    if counts not in COUNTS:
        raise Refusal(COUNTS_BAD)
    if counts != "activities" and subject != "deputy":
        raise Refusal(DEPUTY_COUNTS_ONLY)
    period = values.get("period")
    if period not in PERIODS:
        raise Refusal(PERIOD_BAD)
    minimum = _whole(values.get("minimum"), MINIMUM_BAD)
    if minimum is None or minimum < 1:
        raise Refusal(MINIMUM_BAD)
    if minimum > MAX_MINIMUM[period]:
        raise Refusal(MINIMUM_TOO_HIGH, max=MAX_MINIMUM[period], period=gettext(PERIOD_WORDS[period]))
    min_deputies = _whole(values.get("min_deputies"), MIN_DEPUTIES_BAD)
    if min_deputies is not None and not 1 <= min_deputies <= 500:
        raise Refusal(MIN_DEPUTIES_BAD)
    kinds = _codes(values.get("kind_codes"))
    if counts == "activities":
        if not kinds:
            raise Refusal(KINDS_REQUIRED)
        for c in kinds:
            if c not in kind_codes:
                raise Refusal(KIND_UNKNOWN, code=c)
    else:
        if kinds:
            raise Refusal(KINDS_NOT_HERE)
        if min_deputies is not None:
            raise Refusal(MIN_DEPUTIES_NOT_HERE)
    station_kinds = _codes(values.get("station_kind_codes"))
    if station_kinds and subject != "station":
        raise Refusal(STATION_KINDS_NOT_HERE)
    for c in station_kinds:
        if c not in station_kind_codes:
            raise Refusal(STATION_KIND_UNKNOWN, code=c)
    levels = _codes(values.get("deputy_levels"))
    if levels and subject != "deputy":
        raise Refusal(LEVELS_NOT_HERE)
    for c in levels:
        if c not in LEVELS:
            raise Refusal(LEVEL_UNKNOWN, code=c)
    return dict(code=code, name=name, subject=subject, counts=counts, kind_codes=kinds, period=period,
                minimum=minimum, min_deputies=min_deputies, station_kind_codes=station_kinds, deputy_levels=levels)


def check_risk(values: dict, period: str) -> dict:
    """When the rule warns (app.compliance.risk): its own at-risk days (None: the county's) and whether
    it also warns when behind a steady pace. ``period`` is the rule's, already checked."""
    top = AT_RISK_MAX[period]
    bad = Refusal(AT_RISK_DAYS_BAD, max=top, period=gettext(PERIOD_WORDS[period]))
    try:
        days = _whole(values.get("at_risk_days"), AT_RISK_DAYS_BAD)
    except Refusal:
        raise bad from None
    if days is not None and not 0 <= days <= top:
        raise bad
    pace = values.get("at_risk_pace")
    if isinstance(pace, bool):
        return dict(at_risk_days=days, at_risk_pace=pace)
    pace = str(pace or "").strip()
    if pace not in PACE_CHOICES:
        raise Refusal(AT_RISK_PACE_BAD)
    return dict(at_risk_days=days, at_risk_pace=PACE_CHOICES[pace])
