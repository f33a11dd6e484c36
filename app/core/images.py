"""Small images stored in the database: photos become thumbnails on the way in (≤ 40 KB WebP)."""

from __future__ import annotations

import io
from datetime import datetime

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import BigInteger, DateTime, Identity, Integer, LargeBinary, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.core.errors import Refusal
from app.core.i18n import lazy

MAX_UPLOAD_BYTES = 8 * 1024 * 1024
MAX_THUMB_BYTES = 40 * 1024
THUMB_SIDE = 480
NOT_AN_IMAGE = lazy("The file is not a photo we can read (JPEG, PNG or WebP).")
TOO_LARGE = lazy("The photo is too large (at most 8 MB).")

Image.MAX_IMAGE_PIXELS = 40_000_000  # refuse decompression bombs


class StoredImage(Base):
    __tablename__ = "images"

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(30))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


def thumbnail(raw: bytes, side: int = THUMB_SIDE) -> tuple[bytes, int, int]:
    """A WebP no larger than side×side and MAX_THUMB_BYTES, EXIF orientation applied, metadata gone."""
    if len(raw) > MAX_UPLOAD_BYTES:
        raise Refusal(TOO_LARGE)
    try:
        with Image.open(io.BytesIO(raw)) as img:
            if img.format not in {"JPEG", "PNG", "WEBP", "GIF"}:
                raise Refusal(NOT_AN_IMAGE)
            img = ImageOps.exif_transpose(img).convert("RGB")
            img.thumbnail((side, side))
            for quality in (80, 65, 50, 35, 20):
                out = io.BytesIO()
                img.save(out, "WEBP", quality=quality, method=4)
                if out.tell() <= MAX_THUMB_BYTES:
                    return out.getvalue(), img.width, img.height
                img.thumbnail((img.width * 3 // 4, img.height * 3 // 4))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise Refusal(NOT_AN_IMAGE) from exc
    raise Refusal(TOO_LARGE)


async def store_image(db: AsyncSession, tenant_id: int, raw: bytes) -> StoredImage:
    """Thumbnail and store an uploaded photo in the bound tenant. Does not commit."""
    data, width, height = thumbnail(raw)
    image = StoredImage(tenant_id=tenant_id, media_type="image/webp", data=data, width=width, height=height)
    db.add(image)
    await db.flush()
    return image


async def get_image(db: AsyncSession, image_id: int) -> StoredImage | None:
    return await db.scalar(select(StoredImage).where(StoredImage.id == image_id))
