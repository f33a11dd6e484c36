"""Photos of activities for the binder's photo album tests: a real thumbnail stored as an upload's
would be (``app.core.images.store_image``), with its caption."""

from __future__ import annotations

import io

from PIL import Image

from app.activities.models import ActivityPhoto
from app.core.images import store_image


def png(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 60)).save(out, "PNG")
    return out.getvalue()


async def put_photo(database, ac, activity_id: int, caption: str = "", size=(64, 48)) -> int:
    """A photo of the activity (``ac``: tests/activities/world.py's county); its id."""
    async with database.transaction(tenant_id=ac.tenant.id) as db:
        image = await store_image(db, ac.tenant.id, png(*size))
        photo = ActivityPhoto(tenant_id=ac.tenant.id, activity_id=activity_id, image_id=image.id, caption=caption)
        db.add(photo)
        await db.flush()
        return photo.id
