"""The pieces of a home's workbench: items (a count or a figure with the list it links to), groups of
them, and the moment the home is drawn for. Shared by app.home.workbench and app.home.deputy_home."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Item:
    key: str  # the element's id is "work-<key>"
    label: str  # msgid
    value: int | str | None  # a count, or a figure already written out ("3.5", "85%"); None: nothing yet
    link: str | None = None  # below /t/<slug>
    warn: bool = False  # draws the eye when not zero (overdue, at risk, waiting for this member)
    detail: str = ""  # plain text under the label (an activity's time and topic)


@dataclass
class Group:
    title: str  # msgid
    items: list[Item] = field(default_factory=list)


@dataclass
class Workbench:
    groups: list[Group] = field(default_factory=list)
    deputy: object | None = None  # a deputy's home (app.home.deputy_home.DeputyHome)


@dataclass(frozen=True)
class When:
    """The moment a home is drawn for, in the tenant's zone."""
    now: datetime
    today: date
    tz: ZoneInfo
