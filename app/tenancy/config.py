"""The tenant's configuration: naming rule, lifecycle, seats guidance, checklist name, sign-in window,
at-risk days and the photo originals limit (tenant_config); and the canonical name of a station from a
name pattern. (Station kinds and checklist items: app.stations.settings.)

Services change the session and audit; they do not commit (the route does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.services import record
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.tenancy.models import DEFAULT_LIFECYCLE, AdminNode, TenantConfig

PLACEHOLDERS = ("city", "county", "township", "village", "kind")
PLACEHOLDER_RE = re.compile(r"\{(\w*)\}")
TOWNSHIP_KINDS = ("township", "street")
VILLAGE_KINDS = ("village", "community", "unit", "area")
# Seats guidance is asked for these levels on the settings page.
SEAT_FORM_LEVELS = ("city", "county", "township")
SEAT_LEVEL_NAMES = {
    "national": lazy("National deputies"),
    "provincial": lazy("Provincial deputies"),
    "city": lazy("City deputies"),
    "county": lazy("County deputies"),
    "township": lazy("Township deputies"),
}
MAX_WORDS = 50
# The activity settings (ranges as the database enforces them) and what is said when one is out of range.
CODE_RE = re.compile(r"^[a-z0-9_-]{1,30}$")  # a coded list's code: its identity in presets and rules
SEAT_LEVELS = ("national", "provincial", "city", "county", "township")
# The activity keys of the county's settings, with the ranges the database enforces (migration 0004).
ACTIVITY_CONFIG_RANGES = {
    "signin_opens_minutes": (0, 1440),
    "signin_closes_minutes": (0, 10080),
    "at_risk_days": (0, 180),
    "photo_originals_mb": (0, 100000),
}

ACTIVITY_SETTINGS = ("signin_opens_minutes", "signin_closes_minutes", "at_risk_days", "photo_originals_mb")
ACTIVITY_SETTING_ERRORS = {
    "signin_opens_minutes": lazy("Sign-in opens from 0 to 1440 minutes (one day) before an activity starts."),
    "signin_closes_minutes": lazy("Sign-in closes from 0 to 10080 minutes (one week) after an activity ends."),
    "at_risk_days": lazy("A rule is at risk from 0 to 180 days before its period ends."),
    "photo_originals_mb": lazy("The size limit for original photos is a whole number of MB from 0 to 100000."),
}


def canonical_name(pattern: str, chain: list[AdminNode], kind_name: str) -> str:
    """The name a station of a kind should bear at a node: ``pattern``'s placeholders filled from
    ``chain`` (root..node). {county}: the root's name; {township}: the township or street on the
    chain; {village}: the deepest village, community, unit or functional area on the chain; {city}:
    the city of the root's division code (empty where none is known); {kind}: ``kind_name``. A
    placeholder with nothing to fill it becomes empty; unknown ones stay as written."""
    values = {"county": chain[0].name if chain else "", "kind": kind_name, "township": "", "village": "",
              "city": _city(chain[0].division_code if chain else None)}
    for node in chain[1:]:
        if node.kind in TOWNSHIP_KINDS:
            values["township"] = node.name
        elif node.kind in VILLAGE_KINDS:
            values["village"] = node.name

    def fill(m: re.Match) -> str:
        return values.get(m.group(1), m.group(0))

    return PLACEHOLDER_RE.sub(fill, pattern or "")


def _city(division_code: str | None) -> str:
    if not division_code:
        return ""
    from app.tenancy.divisions import NO_CITY, lookup

    division = lookup(division_code[:6])
    if division is None or division.city in NO_CITY:
        return ""
    return division.city


# --- tenant_config ---------------------------------------------------------------------------


@dataclass
class Config:
    forbidden_words: list[str]
    lifecycle: list[str]
    seats: dict
    checklist_name: str
    saved: bool  # a row exists
    signin_opens_minutes: int = 60
    signin_closes_minutes: int = 120
    at_risk_days: int = 10
    photo_originals_mb: int = 500
    case_reply_days: int = 15
    case_feedback_days: int = 5
    case_rehandle_limit: int = 1
    public_limit_per_client: int = 5
    public_limit_per_station: int = 60
    case_rating_days: int = 30

    @property
    def approval(self) -> bool:
        return "approved" in self.lifecycle

    @property
    def filing(self) -> bool:
        return "filed" in self.lifecycle


async def get_config(db: AsyncSession, tenant_id: int) -> Config:
    """The tenant's configuration; defaults where no row was saved yet."""
    row = await db.get(TenantConfig, tenant_id)
    if row is None:
        return Config(forbidden_words=[], lifecycle=list(DEFAULT_LIFECYCLE), seats={}, checklist_name="", saved=False)
    return Config(forbidden_words=list(row.forbidden_words), lifecycle=list(row.lifecycle),
                  seats=dict(row.seats or {}), checklist_name=row.checklist_name, saved=True,
                  signin_opens_minutes=row.signin_opens_minutes, signin_closes_minutes=row.signin_closes_minutes,
                  at_risk_days=row.at_risk_days, photo_originals_mb=row.photo_originals_mb,
                  case_reply_days=row.case_reply_days, case_feedback_days=row.case_feedback_days,
                  case_rehandle_limit=row.case_rehandle_limit, public_limit_per_client=row.public_limit_per_client,
                  public_limit_per_station=row.public_limit_per_station, case_rating_days=row.case_rating_days)


def lifecycle_for(approval: bool, filing: bool) -> list[str]:
    return [s for s in DEFAULT_LIFECYCLE if (s != "approved" or approval) and (s != "filed" or filing)]


def parse_seats(form: dict) -> dict:
    """seats_<level>_min / seats_<level>_max fields → {"city": {"min": 2, "max": 3}}."""
    seats = {}
    for level in SEAT_FORM_LEVELS:
        bounds = {}
        for bound in ("min", "max"):
            text = str(form.get(f"seats_{level}_{bound}", "")).strip()
            if not text:
                continue
            if not text.isdigit() or int(text) > 99:
                raise Refusal(lazy("Seats are whole numbers from 0 to 99."))
            bounds[bound] = int(text)
        if "min" in bounds and "max" in bounds and bounds["min"] > bounds["max"]:
            raise Refusal(lazy("For %(level)s the minimum is above the maximum."), level=SEAT_LEVEL_NAMES[level])
        if bounds:
            seats[level] = bounds
    return normalise_seats(seats)


def parse_words(text: str) -> list[str]:
    words, seen = [], set()
    for line in (text or "").splitlines():
        word = line.strip()
        if word and word not in seen:
            if len(word) > 40:
                raise Refusal(lazy("A forbidden word has at most 40 characters: “%(word)s”."), word=word[:40])
            seen.add(word)
            words.append(word)
    if len(words) > MAX_WORDS:
        raise Refusal(lazy("At most %(n)s forbidden words."), n=MAX_WORDS)
    return words


def parse_activity_settings(values: dict, current: Config) -> dict[str, int]:
    """The four activity settings from the form (a field not sent keeps its current value); Refusal
    naming the first one out of range."""
    out = {}
    for key in ACTIVITY_SETTINGS:
        text = values.get(key)
        if text is None:
            out[key] = getattr(current, key)
            continue
        text = str(text).strip()
        low, high = ACTIVITY_CONFIG_RANGES[key]
        if not text.isdigit() or not low <= int(text) <= high:
            raise Refusal(ACTIVITY_SETTING_ERRORS[key])
        out[key] = int(text)
    return out


async def config_row(db: AsyncSession, tenant_id: int) -> TenantConfig:
    """The tenant's settings row for a settings page to change (added when the county has saved none)."""
    row = await db.get(TenantConfig, tenant_id)
    if row is None:
        row = TenantConfig(tenant_id=tenant_id)
        db.add(row)
    return row


async def save_config(db: AsyncSession, *, tenant_id: int, actor_id: int, forbidden_words: list[str],
                      approval: bool, filing: bool, seats: dict, checklist_name: str,
                      activity: dict[str, int] | None = None, client_addr: str | None = None) -> None:
    """Save the settings page. ``activity``: the four activity settings (parse_activity_settings);
    None leaves them as they are."""
    checklist_name = checklist_name.strip()
    if len(checklist_name) > 40:
        raise Refusal(lazy("The checklist name has at most 40 characters."))
    row = await config_row(db, tenant_id)
    row.forbidden_words = forbidden_words
    row.lifecycle = lifecycle_for(approval, filing)
    row.seats = normalise_seats(seats)
    row.checklist_name = checklist_name
    for key, value in (activity or {}).items():
        if key in ACTIVITY_SETTINGS:
            setattr(row, key, int(value))
    row.updated_at = func.now()
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="config_saved", target="tenant_config",
                 client_addr=client_addr,
                 details={"forbidden_words": forbidden_words, "lifecycle": row.lifecycle, "seats": row.seats,
                          "checklist_name": checklist_name,
                          **{k: getattr(row, k) for k in ACTIVITY_SETTINGS if k in (activity or {})}})


def normalise_seats(seats: dict) -> dict:
    """Levels in their usual order, min before max, integers: one spelling for one meaning."""
    out = {}
    for level in SEAT_LEVELS:
        bounds = (seats or {}).get(level) or {}
        cleaned = {k: int(bounds[k]) for k in ("min", "max") if bounds.get(k) is not None}
        if cleaned:
            out[level] = cleaned
    return out
