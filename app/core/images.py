"""Small images stored in the database: photos become thumbnails on the way in (≤ 40 KB WebP).

Decoding is the costly part (memory and CPU grow with the pixels, not with the bytes: a 62 KB PNG can
declare 8000 × 8000), so every upload goes through ``make_thumbnail``: the declared size is checked
from the header alone (``image_headers``, in a bounded number of steps), on the event loop, and only
then are the pixels decoded, in a small pool of threads of their own, so the event loop keeps serving
other requests meanwhile.
"""

from __future__ import annotations

import asyncio
import io
import struct
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from typing import Iterator

from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError
from sqlalchemy import BigInteger, DateTime, Identity, Integer, LargeBinary, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.core import image_headers
from app.core.db import Base
from app.core.errors import Refusal
from app.core.i18n import lazy

MAX_UPLOAD_BYTES = 8 * 1024 * 1024
MAX_THUMB_BYTES = 40 * 1024
THUMB_SIDE = 480
# 25 Mpx: above any phone's default photo (12–24 Mpx); decoding it costs up to ~100 MB (RGBA) and well
# under a second here, and at most POOL_THREADS decodes run at once.
MAX_PIXELS = 25_000_000
POOL_THREADS = 2
FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
NOT_AN_IMAGE = lazy("The file is not a photo we can read (JPEG, PNG or WebP).")
TOO_LARGE = lazy("The photo is too large (at most 8 MB).")
TOO_MANY_PIXELS = lazy("The photo has too many pixels (at most 25 million): please send a smaller photo.")  # MAX_PIXELS

# PIL warns above this and raises above twice this, while opening; _opened refuses first anyway, this
# is the backstop for code that opens an image some other way.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# PNG text chunks are inflated while the header is read (on the event loop): we drop them anyway.
PngImagePlugin.MAX_TEXT_CHUNK = 256 * 1024
PngImagePlugin.MAX_TEXT_MEMORY = 1024 * 1024

_pool = ThreadPoolExecutor(max_workers=POOL_THREADS, thread_name_prefix="thumbnail")
Thumbnail = tuple[bytes, int, int]  # WebP bytes, width, height


class StoredImage(Base):
    __tablename__ = "images"

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(30))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


@contextmanager
def _opened(raw: bytes) -> Iterator[Image.Image]:
    """The image with only its header read (PIL decodes lazily), refused unless it is a photo of a
    format we take and of at most MAX_PIXELS declared pixels. Decoding errors in the block refuse too."""
    if len(raw) > MAX_UPLOAD_BYTES:
        raise Refusal(TOO_LARGE)
    try:
        declared = image_headers.declared_size(raw)  # bounded steps: PIL's own reading is not
    except (image_headers.BadHeader, struct.error, IndexError) as exc:
        raise Refusal(NOT_AN_IMAGE) from exc
    if declared and declared[0] * declared[1] > MAX_PIXELS:
        raise Refusal(TOO_MANY_PIXELS)
    try:
        # only these formats' readers run at all (image_headers has bounded what they read)
        with Image.open(io.BytesIO(raw), formats=FORMATS) as img:
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise Refusal(TOO_MANY_PIXELS)
            yield img
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # PIL's own check while opening (the warning is an exception where warnings are errors)
        raise Refusal(TOO_MANY_PIXELS) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise Refusal(NOT_AN_IMAGE) from exc


def check_header(raw: bytes) -> None:
    """Refuse what thumbnail() would refuse before decoding: size, format, declared pixels."""
    with _opened(raw):
        pass


def thumbnail(raw: bytes, side: int = THUMB_SIDE) -> Thumbnail:
    """A WebP no larger than side×side and MAX_THUMB_BYTES, EXIF orientation applied, metadata gone.
    CPU work: call it through make_thumbnail (off the event loop)."""
    with _opened(raw) as img:
        img.draft("RGB", (side, side))  # JPEG: decode at 1/2…1/8 scale straight away
        img = ImageOps.exif_transpose(img).convert("RGB")
        img.thumbnail((side, side))
        for quality in (80, 65, 50, 35, 20):
            out = io.BytesIO()
            img.save(out, "WEBP", quality=quality, method=4)
            if out.tell() <= MAX_THUMB_BYTES:
                return out.getvalue(), img.width, img.height
            img.thumbnail((img.width * 3 // 4, img.height * 3 // 4))
    raise Refusal(TOO_LARGE)


async def make_thumbnail(raw: bytes) -> Thumbnail:
    """thumbnail() in the pool: a refused header answers at once, without waiting for a thread."""
    check_header(raw)
    return await asyncio.get_running_loop().run_in_executor(_pool, thumbnail, raw)


async def store_thumbnail(db: AsyncSession, tenant_id: int, thumb: Thumbnail) -> StoredImage:
    """Store a thumbnail made by make_thumbnail in the bound tenant. Does not commit."""
    data, width, height = thumb
    image = StoredImage(tenant_id=tenant_id, media_type="image/webp", data=data, width=width, height=height)
    db.add(image)
    await db.flush()
    return image


async def store_image(db: AsyncSession, tenant_id: int, raw: bytes) -> StoredImage:
    """Thumbnail and store an uploaded photo in the bound tenant. Does not commit."""
    return await store_thumbnail(db, tenant_id, await make_thumbnail(raw))


async def get_image(db: AsyncSession, image_id: int) -> StoredImage | None:
    return await db.scalar(select(StoredImage).where(StoredImage.id == image_id))
