"""A rule in plain words, e.g. 每个站点 · 每月 · 接待选民 ≥ 1 次 · 每次至少2名代表到场."""

from __future__ import annotations

from app.compliance.models import PERIOD_NAMES, SUBJECT_NAMES
from app.activities.models import Rule
from app.core.i18n import gettext, lazy
from app.deputies.models import LEVEL_NAMES

AT_LEAST = lazy("%(what)s ≥ %(n)s times")
OPINIONS = lazy("opinions registered")
SUGGESTIONS = lazy("suggestions filed")
DUTY_REPORTS = lazy("duty reports to voters held")
DEPUTIES_PRESENT = lazy("at least %(n)s deputies present each time")
ONLY_STATION_KINDS = lazy("only %(kinds)s")
ONLY_LEVELS = lazy("only %(levels)s")
OWN_DAYS = lazy("at risk %(n)s days before the end")
NO_PACE = lazy("no warning by pace")
LIST_SEP = "、"


def describe(rule: Rule, kind_names: dict[str, str], station_kind_names: dict[str, str]) -> str:
    """``kind_names``: activity kind code → name; ``station_kind_names``: station kind code → name."""
    if rule.counts == "opinions":
        what = gettext(OPINIONS)
    elif rule.counts == "suggestions":
        what = gettext(SUGGESTIONS)
    elif rule.counts == "duty_reports":
        what = gettext(DUTY_REPORTS)
    else:
        what = "/".join(kind_names.get(c, c) for c in rule.kind_codes)
    parts = [gettext(SUBJECT_NAMES[rule.subject]), gettext(PERIOD_NAMES[rule.period]),
             gettext(AT_LEAST, what=what, n=rule.minimum)]
    if rule.min_deputies:
        parts.append(gettext(DEPUTIES_PRESENT, n=rule.min_deputies))
    if rule.station_kind_codes:
        kinds = LIST_SEP.join(station_kind_names.get(c, c) for c in rule.station_kind_codes)
        parts.append(gettext(ONLY_STATION_KINDS, kinds=kinds))
    if rule.deputy_levels:
        levels = LIST_SEP.join(gettext(LEVEL_NAMES[lv]) if lv in LEVEL_NAMES else lv for lv in rule.deputy_levels)
        parts.append(gettext(ONLY_LEVELS, levels=levels))
    if rule.at_risk_days is not None:
        parts.append(gettext(OWN_DAYS, n=rule.at_risk_days))
    if not rule.at_risk_pace:
        parts.append(gettext(NO_PACE))
    return " · ".join(parts)
