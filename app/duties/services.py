"""Filing entries in a deputy's dossier and reviewing them (approve, or reject with a reason).

A deputy files for themself (their own Deputy row, ``deputies.user_id``); county admins, township and
station staff file for deputies in their reach. County admins and township staff review, one entry or
a batch at a time; a batch is checked whole against the reviewer's reach before anything changes, so
one entry out of reach (or already reviewed) refuses the batch and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.services import record
from app.core.db import as_id
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.core.images import MAX_UPLOAD_BYTES, TOO_LARGE, make_thumbnail, store_thumbnail
from app.deputies.access import deputies_in_scope
from app.deputies.models import Deputy
from app.deputies.services import Actor
from app.duties import access, documents
from app.duties.kinds import CODES, NEEDS_REASON
from app.duties.models import MAX_REASON, MAX_TEXT, DutyEntry
from app.duties.queries import own_deputy

NOT_ALLOWED = lazy("You may not file duty entries.")
NOT_A_REVIEWER = lazy("You may not review duty entries.")
NO_DEPUTY = lazy("Choose a deputy within your reach.")
NO_OWN_DEPUTY = lazy("Your account is not linked to a deputy: ask the county's staff to link it.")
BAD_KIND = lazy("Choose a kind of duty from the list.")
BAD_DAY = lazy("Give the day of the duty (year-month-day).")
FUTURE_DAY = lazy("The day of the duty cannot be in the future.")
NO_TEXT = lazy("Describe the duty in a few words.")
NO_REASON_FOR_LEAVE = lazy("Give the reason for the leave.")
TEXT_TOO_LONG = lazy("The description is too long (at most %(max)s characters).")
NOTHING_CHOSEN = lazy("Choose at least one entry to review.")
TOO_MANY = lazy("Review at most %(max)s entries at a time.")
BATCH_REFUSED = lazy("Some of the chosen entries are not waiting for your review: nothing was changed.")
BAD_DECISION = lazy("Choose to approve or to reject.")
NO_REJECT_REASON = lazy("Give the reason for the rejection.")
REASON_TOO_LONG = lazy("The reason is too long (at most %(max)s characters).")

MAX_BATCH = 200
EARLIEST = date(2000, 1, 1)


@dataclass
class Filing:
    deputy_id: str = ""
    kind: str = ""
    day: str = ""
    text: str = ""


def _day(value: str, today: date) -> date:
    try:
        day = date.fromisoformat((value or "").strip())
    except ValueError as exc:
        raise Refusal(BAD_DAY, input_name="day") from exc
    if day > today:
        raise Refusal(FUTURE_DAY, input_name="day")
    if day < EARLIEST:
        raise Refusal(BAD_DAY, input_name="day")
    return day


def _text(value: str, kind: str) -> str:
    text = (value or "").strip()
    if not text:
        raise Refusal(NO_REASON_FOR_LEAVE if kind in NEEDS_REASON else NO_TEXT, input_name="text")
    if len(text) > MAX_TEXT:
        raise Refusal(TEXT_TOO_LONG, input_name="text", max=MAX_TEXT)
    return text


async def filing_deputy(db: AsyncSession, actor: Actor, deputy_id: str) -> Deputy:
    """The deputy an entry is filed for: a deputy's own row, else a deputy in the filer's reach."""
    scope = actor.scope
    if not access.can_file(scope):
        raise Refusal(NOT_ALLOWED, status=403)
    if scope.role == "deputy":
        deputy = await own_deputy(db, scope)
        if deputy is None:
            raise Refusal(NO_OWN_DEPUTY)
        return deputy
    wanted = as_id(deputy_id)
    deputy = None
    if wanted is not None:
        deputy = await db.scalar(select(Deputy).where(Deputy.id == wanted, deputies_in_scope(scope)))
    if deputy is None:
        raise Refusal(NO_DEPUTY, input_name="deputy_id")
    return deputy


async def file_entry(db: AsyncSession, actor: Actor, filing: Filing, photo: bytes | None, *,
                     today: date, document: bytes | None = None, document_name: str | None = None) -> DutyEntry:
    """Check everything, the photo (bounded before decoding) and the document (bounded, then its
    magic bytes) included, then write the entry."""
    deputy = await filing_deputy(db, actor, filing.deputy_id)
    if filing.kind not in CODES:
        raise Refusal(BAD_KIND, input_name="kind")
    day = _day(filing.day, today)
    text = _text(filing.text, filing.kind)
    thumb = None
    if photo:
        if len(photo) > MAX_UPLOAD_BYTES:
            raise Refusal(TOO_LARGE, input_name="photo")
        thumb = await make_thumbnail(photo)  # refuses what is not a photo before anything is written
    checked = await documents.check(document, document_name) if document else None
    image = await store_thumbnail(db, actor.tenant_id, thumb) if thumb else None
    stored = await documents.store(db, actor.tenant_id, checked) if checked else None
    entry = DutyEntry(tenant_id=actor.tenant_id, deputy_id=deputy.id, day=day, kind=filing.kind, text=text,
                      image_id=image.id if image else None, document_id=stored.id if stored else None,
                      status="filed", filed_by=actor.user_id)
    db.add(entry)
    await db.flush()
    details = {"entry_id": entry.id, "kind": entry.kind, "day": day.isoformat()}
    if stored:
        details["document"] = {"id": stored.id, "name": stored.file_name, "bytes": stored.size}
    await record(db, tenant_id=actor.tenant_id, actor_user_id=actor.user_id, action="duty_entry_filed",
                 target=f"deputy:{deputy.id} {deputy.name}", client_addr=actor.client_addr, details=details)
    return entry


async def review(db: AsyncSession, actor: Actor, ids: list[str], decision: str, reason: str = "", *,
                 now: datetime | None = None) -> int:
    """Approve or reject the chosen filed entries; all of them or none. Returns how many."""
    if not access.can_review(actor.scope):
        raise Refusal(NOT_A_REVIEWER, status=403)
    if decision not in ("approve", "reject"):
        raise Refusal(BAD_DECISION)
    if not ids:
        raise Refusal(NOTHING_CHOSEN)
    if len(ids) > MAX_BATCH:
        raise Refusal(TOO_MANY, max=MAX_BATCH)
    wanted = {as_id(i) for i in ids}
    if None in wanted:
        raise Refusal(BATCH_REFUSED)
    reason = (reason or "").strip()
    if decision == "reject":
        if not reason:
            raise Refusal(NO_REJECT_REASON, input_name="reason")
        if len(reason) > MAX_REASON:
            raise Refusal(REASON_TOO_LONG, input_name="reason", max=MAX_REASON)
    rows = (await db.execute(
        access.entries_in_scope(actor.scope)
        .where(DutyEntry.id.in_(wanted), DutyEntry.status == "filed")
        .with_for_update(of=DutyEntry)
    )).all()
    if len(rows) != len(wanted):
        raise Refusal(BATCH_REFUSED)
    now = now or datetime.now(timezone.utc)
    status = "approved" if decision == "approve" else "rejected"
    await db.execute(
        update(DutyEntry).where(DutyEntry.id.in_(wanted))
        .values(status=status, reject_reason=reason if status == "rejected" else "", reviewed_by=actor.user_id,
                reviewed_at=now)
        .execution_options(synchronize_session=False)
    )
    await record(db, tenant_id=actor.tenant_id, actor_user_id=actor.user_id, action=f"duty_entries_{status}",
                 target=f"duty_entries:{len(rows)}", client_addr=actor.client_addr,
                 details={"entries": sorted(wanted), "deputies": sorted({d.id for _, d in rows}),
                          "reason": reason if status == "rejected" else None})
    return len(rows)
