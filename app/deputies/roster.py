"""Contact rosters (联系选民花名册): each deputy's constituents and the notes of each contact.

Personal data throughout: mobile numbers and addresses are masked in every list and export
(`masked_entry`), a reveal is a separate verb that writes an audit entry. Who sees a deputy's roster:
the deputy themself, staff of a station the deputy is actively stationed at, township staff whose
subtree holds such a station or the deputy's constituency node, and county admins
(`roster_filter`); everyone else gets the same not-found as for a missing deputy.
No web imports: the import job and the CLI reuse these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone

from sqlalchemy import ColumnElement, false, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.services import record
from app.core.db import MAX_ID
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.core.security import mask_mobile
from app.deputies.access import deputies_in_scope
from app.deputies.models import Deputy, RosterContact, RosterEntry
from app.deputies.rules import check_mobile
from app.tenancy.scope import Scope

ROSTER_ROLES = ("county_admin", "township_staff", "station_staff", "deputy")

ENTRY_NAME_REQUIRED = lazy("Please enter the constituent's name.")
ENTRY_NAME_TOO_LONG = lazy("The constituent's name is too long (at most %(max)s characters).")
AGE_BAD = lazy("“%(value)s” is not an age: use a whole number from 0 to 130.")
FIELD_TOO_LONG = lazy("Too long: at most %(max)s characters.")
CONTACT_DATE_BAD = lazy("Please give the date of the contact as YYYY-MM-DD, not in the future.")
CONTACT_NOTE_REQUIRED = lazy("Please write what the contact was about.")

LIMITS = {"name": 40, "education": 20, "address": 200, "work_unit": 120, "note": 500, "contact_note": 1000}
ADDRESS_VISIBLE = 6


def mask_address(address: str | None) -> str:
    """The first six characters and an ellipsis: enough to tell entries apart, not to find the door."""
    if not address:
        return ""
    return address if len(address) <= ADDRESS_VISIBLE else address[:ADDRESS_VISIBLE] + "…"


# --- who may see a roster ------------------------------------------------------------------------

def roster_filter(scope: Scope) -> ColumnElement[bool]:
    """A filter on Deputy: the deputies whose roster this member may see (and keep) — the deputies
    of their list (`access.deputies_in_scope`), for the roles that keep rosters (not viewers)."""
    if scope.role not in ROSTER_ROLES:
        return false()
    return deputies_in_scope(scope)


async def roster_deputy(db: AsyncSession, scope: Scope, deputy_id: int) -> Deputy:
    """The deputy whose roster is asked for, or the same 404 for missing, other tenant's and not yours."""
    if scope.role not in ROSTER_ROLES or not 0 < deputy_id <= MAX_ID:
        raise NotFound()
    deputy = await db.scalar(select(Deputy).where(Deputy.id == deputy_id, roster_filter(scope)))
    if deputy is None:
        raise NotFound()
    return deputy


async def roster_entry(db: AsyncSession, deputy: Deputy, entry_id: int) -> RosterEntry:
    if not 0 < entry_id <= MAX_ID:
        raise NotFound()
    entry = await db.scalar(
        select(RosterEntry).where(RosterEntry.deputy_id == deputy.id, RosterEntry.id == entry_id)
    )
    if entry is None:
        raise NotFound()
    return entry


# --- reading -------------------------------------------------------------------------------------

@dataclass
class MaskedEntry:
    id: int
    name: str
    age: int | None
    education: str
    address: str
    work_unit: str
    mobile: str
    note: str
    retired: bool
    revealed: bool = False


def masked_entry(entry: RosterEntry) -> MaskedEntry:
    return MaskedEntry(
        id=entry.id, name=entry.name, age=entry.age, education=entry.education,
        address=mask_address(entry.address), work_unit=entry.work_unit, mobile=mask_mobile(entry.mobile),
        note=entry.note, retired=entry.retired_at is not None,
    )


def revealed_entry(entry: RosterEntry) -> MaskedEntry:
    shown = masked_entry(entry)
    shown.address, shown.mobile, shown.revealed = entry.address, entry.mobile or "", True
    return shown


async def list_entries(db: AsyncSession, deputy: Deputy, *, retired: bool = False) -> list[MaskedEntry]:
    query = select(RosterEntry).where(RosterEntry.deputy_id == deputy.id)
    query = query.where(RosterEntry.retired_at.is_not(None) if retired else RosterEntry.retired_at.is_(None))
    rows = (await db.scalars(query.order_by(RosterEntry.name, RosterEntry.id))).all()
    return [masked_entry(e) for e in rows]


async def count_retired(db: AsyncSession, deputy: Deputy) -> int:
    from sqlalchemy import func

    return await db.scalar(
        select(func.count()).select_from(RosterEntry)
        .where(RosterEntry.deputy_id == deputy.id, RosterEntry.retired_at.is_not(None))
    ) or 0


async def list_contacts(db: AsyncSession, entry: RosterEntry) -> list[RosterContact]:
    return list((await db.scalars(
        select(RosterContact).where(RosterContact.entry_id == entry.id)
        .order_by(RosterContact.contacted_on.desc(), RosterContact.id.desc())
    )).all())


# --- checking what people typed ------------------------------------------------------------------

def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return re.sub(r"\s+", " ", str(value)).strip()


def check_entry_name(value: object) -> str:
    name = _text(value)
    if not name:
        raise Refusal(ENTRY_NAME_REQUIRED)
    if len(name) > LIMITS["name"]:
        raise Refusal(ENTRY_NAME_TOO_LONG, max=LIMITS["name"])
    return name


def check_age(value: object) -> int | None:
    raw = _text(value)
    if not raw:
        return None
    text = raw.removesuffix("岁")
    if not (text.isascii() and text.isdigit()) or not 0 <= int(text) <= 130:
        raise Refusal(AGE_BAD, value=raw[:20])
    return int(text)


def check_field(value: object, field: str) -> str:
    text = _text(value)
    if len(text) > LIMITS[field]:
        raise Refusal(FIELD_TOO_LONG, max=LIMITS[field])
    return text


ENTRY_FIELDS = ("name", "age", "education", "address", "work_unit", "mobile", "note")


def check_entry(values: dict) -> dict:
    """Every field of an entry, checked; raises Refusal (with .field set) at the first problem."""
    out = {}
    for field in ENTRY_FIELDS:
        try:
            if field == "name":
                out[field] = check_entry_name(values.get(field))
            elif field == "age":
                out[field] = check_age(values.get(field))
            elif field == "mobile":
                out[field] = check_mobile(values.get(field))
            else:
                out[field] = check_field(values.get(field), field)
        except Refusal as error:
            error.field = field
            raise
    return out


# --- changing ------------------------------------------------------------------------------------

def _now() -> datetime:
    return datetime.now(timezone.utc)


async def add_entry(db: AsyncSession, *, tenant_id: int, deputy: Deputy, actor_id: int, values: dict,
                    client_addr: str | None = None) -> RosterEntry:
    checked = check_entry(values)
    entry = RosterEntry(tenant_id=tenant_id, deputy_id=deputy.id, **checked)
    db.add(entry)
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="roster_entry_added",
                 target=f"roster_entry:{entry.id}", client_addr=client_addr,
                 details={"name": f"{deputy.name} · {entry.name}"})
    return entry


async def edit_entry(db: AsyncSession, *, tenant_id: int, deputy: Deputy, entry: RosterEntry, actor_id: int,
                     values: dict, client_addr: str | None = None) -> None:
    """Mobile and address are never sent to the edit form (they are personal data): an empty field
    keeps the stored value unless ``clear_mobile`` / ``clear_address`` asks to remove it."""
    values = dict(values)
    for field in ("mobile", "address"):
        if values.get(f"clear_{field}"):
            values[field] = ""
        elif not _text(values.get(field)):
            values[field] = getattr(entry, field) or ""
    checked = check_entry(values)
    changed = [f for f, v in checked.items() if getattr(entry, f) != v]
    for field in changed:
        setattr(entry, field, checked[field])
    await db.flush()
    if changed:
        await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="roster_entry_changed",
                     target=f"roster_entry:{entry.id}", client_addr=client_addr,
                     details={"name": f"{deputy.name} · {entry.name}", "fields": changed})


async def retire_entry(db: AsyncSession, *, tenant_id: int, deputy: Deputy, entry: RosterEntry, actor_id: int,
                       client_addr: str | None = None) -> None:
    if entry.retired_at is not None:
        return
    await db.execute(update(RosterEntry).where(RosterEntry.id == entry.id).values(retired_at=_now()))
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="roster_entry_retired",
                 target=f"roster_entry:{entry.id}", client_addr=client_addr,
                 details={"name": f"{deputy.name} · {entry.name}"})


async def reveal_entry(db: AsyncSession, *, tenant_id: int, deputy: Deputy, entry: RosterEntry, actor_id: int,
                       client_addr: str | None = None) -> MaskedEntry:
    """The entry with its mobile number and address, and an audit entry saying who saw them."""
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="roster_entry_revealed",
                 target=f"roster_entry:{entry.id}", client_addr=client_addr,
                 details={"name": f"{deputy.name} · {entry.name}"})
    return revealed_entry(entry)


def check_contact(contacted_on: object, note: object, today: date) -> tuple[date, str]:
    raw = _text(contacted_on)
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise Refusal(CONTACT_DATE_BAD) from None
    if day > today or day.year < 2000:
        raise Refusal(CONTACT_DATE_BAD)
    text = _text(note)
    if not text:
        raise Refusal(CONTACT_NOTE_REQUIRED)
    if len(text) > LIMITS["contact_note"]:
        raise Refusal(FIELD_TOO_LONG, max=LIMITS["contact_note"])
    return day, text


async def add_contact(db: AsyncSession, *, tenant_id: int, deputy: Deputy, entry: RosterEntry, actor_id: int,
                      contacted_on: object, note: object, today: date, client_addr: str | None = None
                      ) -> RosterContact:
    day, text = check_contact(contacted_on, note, today)
    contact = RosterContact(tenant_id=tenant_id, entry_id=entry.id, contacted_on=day, note=text,
                            recorded_by=actor_id)
    db.add(contact)
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="roster_contact_added",
                 target=f"roster_entry:{entry.id}", client_addr=client_addr,
                 details={"name": f"{deputy.name} · {entry.name}"})
    return contact
