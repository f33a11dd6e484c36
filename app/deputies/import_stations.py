"""Importing homes and stations, and handling units, from a spreadsheet.

Stations: each row a station of a kind (its name or code) at a place of the tree (``resolve_place``),
named by the county's naming rule (an empty name takes the kind's canonical name), checked as the
new-station form checks it: the kind may be set up at that kind of place, no forbidden word, no
deputy's name, no other open station of the same name. Township staff import within their township; a
station already in operation (状态 运行) is the county's to declare, so only county admins may. Each
station gets its history: created, and put into operation for those already running.

Handling units: name, code (made up when empty), kind (乡镇政府, 县级部门, 村居委会, 其他), the township or
village of a township-level unit, contact person and phone. Names and codes are unique as on the
settings page. County admins only (the roles are in app.deputies.import_kinds).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import partial

import anyio
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.models import UNIT_KIND_NAMES
from app.cases.settings import HANDLING_UNITS, KIND_LEVELS, UNIT_NODE_COUNTY
from app.core.errors import Refusal
from app.core.i18n import gettext, lazy
from app.deputies.import_checks import MISSING_FIELD, Checked, _Row, check_file
from app.deputies.import_places import Node, Places, _clean, load_places, resolve_place
from app.deputies.models import Deputy
from app.stations import naming, schedule
from app.stations.access import can_edit_station
from app.stations.models import Station, StationEvent, StationKind
from app.stations.profile import BAD_PHONE, PROFILE_FIELDS
from app.stations.refusals import FIELD_TOO_LONG
from app.stations.services import KIND_NOT_HERE, NAME_TAKEN, NODE_KIND_NAMES
from app.tenancy.config import CODE_RE, canonical_name
from app.tenancy.models import HandlingUnit, TenantConfig
from app.tenancy.scope import Scope

UNKNOWN_KIND = lazy("No kind of station called “%(value)s”: use one of %(kinds)s.")
STATION_NAME_TWICE = lazy("Row %(row)s has a station of the same name.")
PLACE_OUTSIDE = lazy("“%(value)s” is outside your township.")
STATUS_BAD = lazy("“%(value)s” is not a state for an imported station: use 筹建 or 运行.")
ONLY_COUNTY_ACTIVE = lazy("Only the county's administrators may import stations already in operation.")
UNIT_KIND_UNKNOWN = lazy("“%(value)s” is not a kind of handling unit: use 乡镇政府, 县级部门, 村居委会 or 其他.")
UNIT_NAME_TWICE = lazy("Row %(row)s has a handling unit of the same name.")
UNIT_CODE_TWICE = lazy("Row %(row)s has the same code.")
CODE_BAD = lazy("The code uses lower-case letters, digits, “_” or “-” (at most 30).")
TOO_LONG = lazy("Too long: at most %(max)s characters.")
UNIT_PLACE_NEEDED = lazy("A township office or village committee needs its township or village (所在乡镇).")
ROOT_NOT_A_UNIT_PLACE = lazy("A township-level handling unit belongs to a township or village, not the county.")

STATUS_WORDS = {"": "proposed", "筹建": "proposed", "拟设立": "proposed", "新建": "proposed", "proposed": "proposed",
                "运行": "active", "运行中": "active", "在运行": "active", "已运行": "active", "正常运行": "active",
                "已建成": "active", "active": "active"}
UNIT_KIND_WORDS = {
    "乡镇政府": "township_office", "乡镇人民政府": "township_office", "乡镇": "township_office",
    "街道办事处": "township_office", "街道": "township_office", "乡镇街道": "township_office",
    "县级部门": "county_department", "县直部门": "county_department", "县政府部门": "county_department",
    "部门": "county_department", "区级部门": "county_department",
    "村居委会": "village_committee", "村委会": "village_committee", "居委会": "village_committee",
    "村民委员会": "village_committee", "居民委员会": "village_committee",
    "其他": "other", **{k: k for k in UNIT_KIND_NAMES},
}
PHONE_RE = re.compile(r"^[\d \-]{1,20}$")


# --- stations --------------------------------------------------------------------------------------

@dataclass
class StationLookup:
    scope: Scope
    places: Places
    kinds: dict[str, StationKind] = field(default_factory=dict)  # by name and by code
    forbidden: list[str] = field(default_factory=list)
    deputy_names: list[str] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)  # names of open stations


async def _station_lookup(db: AsyncSession, tenant_id: int, scope: Scope) -> StationLookup:
    lookup = StationLookup(scope=scope, places=await load_places(db, tenant_id))
    for kind in (await db.scalars(select(StationKind).where(
            StationKind.tenant_id == tenant_id, StationKind.retired_at.is_(None)))).all():
        lookup.kinds.setdefault(kind.name, kind)
        lookup.kinds.setdefault(kind.code, kind)
    lookup.forbidden = list(await db.scalar(select(TenantConfig.forbidden_words)
                                            .where(TenantConfig.tenant_id == tenant_id)) or [])
    lookup.deputy_names = list((await db.scalars(select(Deputy.name).distinct()
                                                 .where(Deputy.tenant_id == tenant_id))).all())
    lookup.taken = set((await db.scalars(select(Station.name).where(
        Station.tenant_id == tenant_id, Station.status != "closed"))).all())
    return lookup


def _text_field(r: _Row, key: str, limit: int) -> str:
    value = _clean(r.raw(key))
    if len(value) > limit:
        r.fail(key, TOO_LONG, max=limit)
        return ""
    return value


def _place(r: _Row, key: str, places: Places) -> Node | None:
    if not _clean(r.raw(key)):
        if r.present(key):
            r.fail(key, MISSING_FIELD)
        return None
    try:
        return resolve_place(r.raw(key), places)
    except Refusal as refusal:
        r.fail(key, refusal.message, **refusal.variables)
        return None


def _station_kind(r: _Row, lookup: StationLookup) -> StationKind | None:
    written = _clean(r.raw("kind"))
    if not written:
        if r.present("kind"):
            r.fail("kind", MISSING_FIELD)
        return None
    kind = lookup.kinds.get(written)
    if kind is None:
        names = "、".join(sorted({k.name for k in lookup.kinds.values()}))
        r.fail("kind", UNKNOWN_KIND, value=written[:40], kinds=names or "—")
    return kind


def _profile(r: _Row) -> dict:
    out = {}
    for key, (label, limit) in PROFILE_FIELDS.items():
        value = _clean(r.raw(key)) if key != "intro" else str(r.raw(key) or "").strip()
        if len(value) > limit:
            r.fail(key, FIELD_TOO_LONG, field=gettext(label), max=limit)
            value = ""
        out[key] = value
    if out["contact_phone"] and not PHONE_RE.match(out["contact_phone"]):
        r.fail("contact_phone", BAD_PHONE)
    try:
        out["reception_rule"] = schedule.parse_rule(out["reception_rule"])
    except Refusal as refusal:
        r.fail("reception_rule", refusal.message, **refusal.variables)
    return out


def check_station_row(number: int, values: dict, lookup: StationLookup, checked: Checked,
                      seen: dict) -> dict | None:
    r = _Row(number, values, checked)
    kind = _station_kind(r, lookup)
    node = _place(r, "place", lookup.places)
    if node is not None and not can_edit_station(lookup.scope, node.path):
        r.fail("place", PLACE_OUTSIDE, value=_clean(r.raw("place"))[:60])
        node = None
    if kind is not None and node is not None and kind.node_kinds and node.kind not in kind.node_kinds:
        allowed = "、".join(gettext(NODE_KIND_NAMES.get(k, k)) for k in kind.node_kinds)
        r.fail("place", KIND_NOT_HERE, kind=kind.name,
               node_kind=gettext(NODE_KIND_NAMES.get(node.kind, node.kind)), allowed=allowed)
        node = None
    status = STATUS_WORDS.get(_clean(r.raw("status")).lower())
    if status is None:
        r.fail("status", STATUS_BAD, value=_clean(r.raw("status"))[:20])
    elif status == "active" and lookup.scope.role != "county_admin":
        r.fail("status", ONLY_COUNTY_ACTIVE)
    profile = _profile(r)
    name = naming.normalise(_clean(r.raw("name")))
    if kind is not None and node is not None:
        canonical = canonical_name(kind.name_pattern, lookup.places.chain(node), kind.name) \
            if kind.name_pattern else ""
        name = name or canonical
        problem = naming.check_name(name, forbidden_words=lookup.forbidden, deputy_names=lookup.deputy_names,
                                    canonical=canonical)
        if problem is not None:
            r.fail("name", problem.message, **problem.variables)
        elif name in lookup.taken:
            r.fail("name", NAME_TAKEN, name=name)
        elif name in seen:
            r.fail("name", STATION_NAME_TWICE, row=seen[name])
        else:
            seen[name] = number
    if not r.ok:
        return None
    return {"name": name, "kind_id": kind.id, "node_id": node.id, "status": status, **profile}


async def check_stations(db: AsyncSession, tenant_id: int, scope: Scope, data: bytes, filename: str) -> Checked:
    lookup = await _station_lookup(db, tenant_id, scope)
    return await anyio.to_thread.run_sync(partial(check_file, "stations", data, filename, lookup,
                                                  check_station_row))


async def insert_stations(db: AsyncSession, job, rows: list[tuple[int, dict]]) -> None:
    """The stations, then their history (names are unique among open stations: the checks made sure)."""
    returned = await db.execute(insert(Station).values([
        {"tenant_id": job.tenant_id, "holiday_reception": "moved", **v} for _, v in rows
    ]).returning(Station.id, Station.name))
    ids = {name: sid for sid, name in returned}
    events = []
    for _, v in rows:
        sid = ids[v["name"]]
        events.append({"tenant_id": job.tenant_id, "station_id": sid, "action": "created", "from_status": None,
                       "to_status": "proposed", "note": "", "actor_user_id": job.actor_id})
        if v["status"] == "active":
            events.append({"tenant_id": job.tenant_id, "station_id": sid, "action": "activated",
                           "from_status": "proposed", "to_status": "active", "note": "",
                           "actor_user_id": job.actor_id})
    await db.execute(insert(StationEvent), events)


# --- handling units --------------------------------------------------------------------------------

@dataclass
class UnitLookup:
    places: Places
    names: set[str] = field(default_factory=set)  # units in use
    codes: set[str] = field(default_factory=set)  # every unit's, retired ones too
    sort: int = 0


async def _unit_lookup(db: AsyncSession, tenant_id: int) -> UnitLookup:
    lookup = UnitLookup(places=await load_places(db, tenant_id))
    for name, code, retired_at in await db.execute(
            select(HandlingUnit.name, HandlingUnit.code, HandlingUnit.retired_at)
            .where(HandlingUnit.tenant_id == tenant_id)):
        lookup.codes.add(code)
        if retired_at is None:
            lookup.names.add(name)
    lookup.sort = await db.scalar(select(func.coalesce(func.max(HandlingUnit.sort), 0))
                                  .where(HandlingUnit.tenant_id == tenant_id)) or 0
    return lookup


def check_unit_row(number: int, values: dict, lookup: UnitLookup, checked: Checked, seen: dict) -> dict | None:
    r = _Row(number, values, checked)
    name = _text_field(r, "name", HANDLING_UNITS.name_max)
    if not name:
        if r.present("name") and not _clean(r.raw("name")):
            r.fail("name", MISSING_FIELD)
    elif name in lookup.names:
        r.fail("name", HANDLING_UNITS.messages.name_taken, name=name)
    elif name in seen.setdefault("names", {}):
        r.fail("name", UNIT_NAME_TWICE, row=seen["names"][name])
    else:
        seen["names"][name] = number
    code = _clean(r.raw("code"))
    if code:
        if not CODE_RE.match(code):
            r.fail("code", CODE_BAD)
        elif code in lookup.codes:
            r.fail("code", HANDLING_UNITS.messages.code_taken, code=code)
        elif code in seen.setdefault("codes", {}):
            r.fail("code", UNIT_CODE_TWICE, row=seen["codes"][code])
        else:
            seen["codes"][code] = number
    written = _clean(r.raw("kind"))
    kind = UNIT_KIND_WORDS.get(written) if written else None
    if not written:
        if r.present("kind"):
            r.fail("kind", MISSING_FIELD)
    elif kind is None:
        r.fail("kind", UNIT_KIND_UNKNOWN, value=written[:20])
    node = _place(r, "place", lookup.places) if _clean(r.raw("place")) else None
    level = None
    if kind is not None:
        levels = KIND_LEVELS[kind]
        level = levels[0] if len(levels) == 1 else ("township" if node is not None else "county")
        if level == "county" and node is not None:
            r.fail("place", UNIT_NODE_COUNTY)
        elif level == "township" and node is None and not _clean(r.raw("place")):
            r.fail("place", UNIT_PLACE_NEEDED)
        elif level == "township" and node is not None and node.parent_id is None:
            r.fail("place", ROOT_NOT_A_UNIT_PLACE)
    contact_name = _text_field(r, "contact_name", 40)
    phone = _text_field(r, "contact_phone", 20)
    if phone and not PHONE_RE.match(phone):
        r.fail("contact_phone", BAD_PHONE)
    if not r.ok:
        return None
    return {"name": name, "code": code, "kind": kind, "level": level, "node_id": node.id if node else None,
            "contact_name": contact_name, "contact_phone": phone}


def finish_units(lookup: UnitLookup, checked: Checked, seen: dict) -> None:
    """Codes made up for the rows without one (unit-<n>, as the settings page makes them), and the order."""
    taken = lookup.codes | set(seen.get("codes", {}))
    n = len(lookup.codes)
    for position, (_, values) in enumerate(checked.rows, start=1):
        if not values["code"]:
            n += 1
            while f"unit-{n}" in taken:
                n += 1
            values["code"] = f"unit-{n}"
            taken.add(values["code"])
        values["sort"] = lookup.sort + 10 * position


async def check_units(db: AsyncSession, tenant_id: int, scope: Scope, data: bytes, filename: str) -> Checked:
    lookup = await _unit_lookup(db, tenant_id)
    return await anyio.to_thread.run_sync(partial(check_file, "units", data, filename, lookup, check_unit_row,
                                                  finish_units))


async def insert_units(db: AsyncSession, job, rows: list[tuple[int, dict]]) -> None:
    await db.execute(insert(HandlingUnit), [{"tenant_id": job.tenant_id, **v} for _, v in rows])
