"""The naming rule of homes and stations: pure functions, no database.

A name is checked, in this order, against
  1. the tenant's forbidden words (tenant_config.forbidden_words: 人大代表工作室, 人大代表联络点 …),
  2. every deputy's name in the tenant ("no station may be named after a deputy"),
  3. the station kind's pattern rendered for the node (the canonical name, from
     app.tenancy.config.canonical_name), when the kind has one.
The first problem found is returned with its message and variables; the canonical name is offered
as a one-click fill whatever the problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from app.core.i18n import lazy

MAX_NAME = 120

NAME_REQUIRED = lazy("Please enter the station's name.")
NAME_TOO_LONG = lazy("The station name may have at most %(max)s characters.")
FORBIDDEN_WORD = lazy("The name contains the forbidden word “%(word)s”.")
DEPUTY_NAME = lazy("The name may not use the deputy's name “%(deputy)s”.")
NOT_CANONICAL = lazy("The name should be “%(name)s”.")


@dataclass(frozen=True)
class NameProblem:
    message: str  # an English msgid (translated where shown)
    variables: dict = field(default_factory=dict)
    canonical: str = ""  # the name to offer instead ('' when the kind has no pattern)


def normalise(name: str) -> str:
    """Spaces (half- and full-width) are not part of a station name."""
    return "".join(str(name or "").split()).replace("\u3000", "")


def check_name(
    name: str, *, forbidden_words: Iterable[str] = (), deputy_names: Iterable[str] = (), canonical: str = "",
) -> NameProblem | None:
    """What is wrong with ``name`` (already normalised), or None when it may be used."""
    if not name:
        return NameProblem(NAME_REQUIRED, canonical=canonical)
    if len(name) > MAX_NAME:
        return NameProblem(NAME_TOO_LONG, {"max": MAX_NAME}, canonical=canonical)
    for word in forbidden_words:
        word = normalise(word)
        if word and word in name:
            return NameProblem(FORBIDDEN_WORD, {"word": word}, canonical=canonical)
    for deputy in sorted({normalise(d) for d in deputy_names}, key=len, reverse=True):
        # A deputy's name that is also part of the place's own canonical name (a village called like
        # a person) comes from the place, not from the deputy.
        if deputy and deputy in name and deputy not in canonical:
            return NameProblem(DEPUTY_NAME, {"deputy": deputy}, canonical=canonical)
    if canonical and name != canonical:
        return NameProblem(NOT_CANONICAL, {"name": canonical}, canonical=canonical)
    return None
