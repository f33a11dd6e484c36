"""The record of an activity (留痕): that it was held, with notes and the number of people received;
its photos (thumbnails, originals only within the tenant's size limit); and the opinions (社情民意)
collected at it. Services take the member's scope, raise ``Refusal`` with nothing written, do not commit.
"""

from __future__ import annotations

import io
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.access import ActivityRef
from app.activities.models import ActivityPhoto, Invitation, Opinion
from app.activities.services import _audit, add_event, check_text, ensure_running, roll_up
from app.activities.cases_port import register_opinion_case
from app.core.errors import NotFound, Refusal
from app.core.images import MAX_UPLOAD_BYTES, TOO_LARGE, StoredImage, store_image
from app.core.i18n import lazy
from app.tenancy.config import get_config
from app.tenancy.scope import Scope

MAX_NOTES = 5000
MAX_PEOPLE = 1_000_000
MAX_OPINION = 2000
MAX_RAISED_BY = 40
MAX_CAPTION = 100
ORIGINAL_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}

NOT_STARTED = lazy("The activity has not started yet; it can be recorded once it has begun.")
PEOPLE_NOT_A_NUMBER = lazy("The number of people received must be a whole number, 0 or more.")
NOTES_LABEL = lazy("Notes of the activity")
OPINION_REQUIRED = lazy("Please write down the opinion.")
OPINION_LABEL = lazy("Opinion raised")
RAISED_BY_LABEL = lazy("Raised by (name)")
CAPTION_LABEL = lazy("Photo caption")
RECEIVER_NOT_INVITED = lazy("The deputy who received the opinion must be one of the invited deputies.")
NO_PHOTO = lazy("Please choose a photo to upload.")


def _started(ref: ActivityRef, now: datetime) -> None:
    if ref.activity.starts_at > now:
        raise Refusal(NOT_STARTED)


def parse_people(text: str) -> int | None:
    """'' → None (not counted); otherwise a whole number 0 … 1,000,000."""
    text = (text or "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) > MAX_PEOPLE:
        raise Refusal(PEOPLE_NOT_A_NUMBER)
    return int(text)


async def record_held(db: AsyncSession, scope: Scope, ref: ActivityRef, *, notes: str, people: str,
                      actor_id: int, now: datetime | None = None, client_addr: str | None = None) -> None:
    """Mark the activity held with its notes; recording it again edits the record (both in the history)."""
    now = now or datetime.now(timezone.utc)
    await ensure_running(scope, ref)
    _started(ref, now)
    activity = ref.activity
    notes = check_text(NOTES_LABEL, notes, MAX_NOTES)
    people_received = parse_people(people)
    again = activity.status == "held" and (bool(activity.notes) or activity.people_received is not None)
    activity.status, activity.notes, activity.people_received = "held", notes, people_received
    activity.recorded_at, activity.recorded_by, activity.updated_at = now, actor_id, now
    await add_event(db, activity, "record_edited" if again else "recorded", actor_id,
                    data={"people_received": people_received})
    await roll_up(db, activity, actor_id=actor_id, client_addr=client_addr)  # held: into the home counties
    await _audit(db, activity, actor_id, "activity_recorded", client_addr)


# --- photos -------------------------------------------------------------------------------------

async def originals_bytes(db: AsyncSession) -> int:
    """Bytes of the originals the tenant keeps (the session is bound to it)."""
    return int(await db.scalar(select(func.coalesce(func.sum(ActivityPhoto.original_bytes), 0))) or 0)


def original_type(raw: bytes) -> str | None:
    try:
        with Image.open(io.BytesIO(raw)) as img:
            return ORIGINAL_TYPES.get(img.format or "")
    except Exception:  # noqa: BLE001 — thumbnail() already refused anything unreadable
        return None


async def add_photo(db: AsyncSession, scope: Scope, ref: ActivityRef, raw: bytes, *, caption: str, actor_id: int,
                    client_addr: str | None = None) -> ActivityPhoto:
    """Store a thumbnail; keep the original too while the tenant's originals stay within its limit
    (``photo_originals_mb``). ``photo.original_bytes == 0`` tells the page only the thumbnail was kept."""
    await ensure_running(scope, ref)
    if not raw:
        raise Refusal(NO_PHOTO)
    if len(raw) > MAX_UPLOAD_BYTES:
        raise Refusal(TOO_LARGE)
    caption = check_text(CAPTION_LABEL, caption, MAX_CAPTION)
    image = await store_image(db, ref.activity.tenant_id, raw)
    limit = (await get_config(db, ref.activity.tenant_id)).photo_originals_mb * 1024 * 1024
    media_type = original_type(raw)
    keep = media_type is not None and await originals_bytes(db) + len(raw) <= limit
    photo = ActivityPhoto(tenant_id=ref.activity.tenant_id, activity_id=ref.activity.id, image_id=image.id,
                          caption=caption, original=raw if keep else None, original_type=media_type if keep else None,
                          original_bytes=len(raw) if keep else 0, uploaded_by=actor_id)
    db.add(photo)
    await db.flush()
    await _audit(db, ref.activity, actor_id, "activity_photo_added", client_addr)
    return photo


async def photo_of(db: AsyncSession, ref: ActivityRef, photo_id: int, *, original: bool = False):
    """(ActivityPhoto, its thumbnail) of this activity, or 404; ``original``: only if it was kept."""
    if not 0 < photo_id < 2**63:
        raise NotFound()
    query = (select(ActivityPhoto, StoredImage)
             .join(StoredImage, (StoredImage.tenant_id == ActivityPhoto.tenant_id)
                   & (StoredImage.id == ActivityPhoto.image_id))
             .where(ActivityPhoto.activity_id == ref.activity.id, ActivityPhoto.id == photo_id))
    if original:
        query = query.where(ActivityPhoto.original.is_not(None))
    row = (await db.execute(query)).first()
    if row is None:
        raise NotFound()
    return row


async def original_data(db: AsyncSession, photo: ActivityPhoto) -> bytes:
    return await db.scalar(select(ActivityPhoto.original).where(ActivityPhoto.id == photo.id))


# --- opinions -----------------------------------------------------------------------------------

async def register_opinion(db: AsyncSession, scope: Scope, ref: ActivityRef, *, content: str, raised_by: str,
                           deputy_id: int | None, actor_id: int, tz_name: str, now: datetime | None = None,
                           client_addr: str | None = None) -> Opinion:
    """An opinion raised at the activity, and its case; no phone numbers are collected here (the
    case page can take the rest)."""
    now = now or datetime.now(timezone.utc)
    await ensure_running(scope, ref)
    _started(ref, now)
    content = check_text(OPINION_LABEL, content, MAX_OPINION)
    if not content:
        raise Refusal(OPINION_REQUIRED)
    raised_by = check_text(RAISED_BY_LABEL, raised_by, MAX_RAISED_BY)
    if deputy_id is not None:
        invited = await db.scalar(select(Invitation.deputy_id).where(
            Invitation.activity_id == ref.activity.id, Invitation.deputy_id == deputy_id,
            Invitation.withdrawn_at.is_(None)))
        if invited is None:
            raise Refusal(RECEIVER_NOT_INVITED)
    activity = ref.activity
    opinion = Opinion(tenant_id=activity.tenant_id, activity_id=activity.id, station_id=activity.station_id,
                      deputy_id=deputy_id, received_on=activity.starts_at.astimezone(ZoneInfo(tz_name)).date(),
                      raised_by=raised_by, content=content, registered_by=actor_id)
    db.add(opinion)
    await db.flush()
    await _audit(db, activity, actor_id, "opinion_registered", client_addr)
    # each opinion becomes a case to be handled (来访有登记 … 反馈有记录)
    source = ref.kind.code if ref.kind.code in ("reception", "visit") else "other"
    await register_opinion_case(db, tenant_id=activity.tenant_id, actor_id=actor_id, opinion=opinion, source=source,
                                client_addr=client_addr)
    return opinion
