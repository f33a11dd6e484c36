"""Uploaded photos: refused by their declared size before any decoding, decoded off the event loop."""

from __future__ import annotations

import asyncio
import io
import struct
import zlib

import pytest
from PIL import Image

from app.core import i18n, images
from app.core.errors import Refusal
from tests.core.bombs import png_declaring


def test_a_photo_declaring_too_many_pixels_is_refused_from_its_header():
    bomb = png_declaring(8000, 8000)
    assert len(bomb) < 1000
    for step in (images.check_header, images.thumbnail):
        with pytest.raises(Refusal) as refused:
            step(bomb)
        assert refused.value.message == images.TOO_MANY_PIXELS and refused.value.status == 400
    token = i18n.current_locale.set("zh_Hans")
    try:
        assert refused.value.text() == "照片像素过多（最多 2500 万像素），请缩小后再上传。"
    finally:
        i18n.current_locale.reset(token)


def test_the_bound_is_25_million_declared_pixels():
    images.check_header(png_declaring(5000, 5000))  # exactly 25 Mpx: the header passes
    with pytest.raises(Refusal) as refused:
        images.check_header(png_declaring(5001, 5000))
    assert refused.value.message == images.TOO_MANY_PIXELS


def test_pil_itself_refuses_what_slips_past():
    """Anything opening an image some other way still meets PIL's check at our bound, not at 89 Mpx."""
    assert Image.MAX_IMAGE_PIXELS == images.MAX_PIXELS


async def test_decoding_leaves_the_event_loop_free():
    out = io.BytesIO()
    Image.effect_noise((1000, 1000), 60).convert("RGB").save(out, "PNG")
    raw = out.getvalue()
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    data, width, height = await images.make_thumbnail(raw)
    during = ticks - before
    task.cancel()
    assert data[:4] == b"RIFF" and max(width, height) <= images.THUMB_SIDE
    # the loop went on serving other tasks while the pixels were decoded and resized
    assert during > 1


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@pytest.mark.parametrize("name", ["png_chunks", "jpeg_markers", "gif_blocks"])
def test_headers_of_endless_steps_are_refused_before_pil_reads_them(name):
    """8 MB of empty PNG chunks, JPEG markers or GIF blocks: PIL would read them one by one, in Python,
    for seconds; the header is refused after a bounded number of steps instead."""
    small = io.BytesIO()
    fmt = {"png_chunks": "PNG", "jpeg_markers": "JPEG", "gif_blocks": "GIF"}[name]
    Image.new("RGB", (8, 8)).save(small, fmt)
    real = small.getvalue()
    if name == "png_chunks":
        raw = real[:33] + _chunk(b"teSt", b"") * 600_000 + real[33:]
    elif name == "jpeg_markers":
        raw = real[:2] + b"\xff\xfe\x00\x02" * 2_000_000 + real[2:]
    else:
        start = 13 + (3 << ((real[10] & 7) + 1) if real[10] & 0x80 else 0)  # after the global palette
        raw = real[:start] + b"\x21\xfe" + b"\x01x" * 3_000_000 + b"\x00" + real[start:]
    assert len(raw) > 5_000_000
    with pytest.raises(Refusal) as refused:
        images.check_header(raw)
    assert refused.value.message == images.NOT_AN_IMAGE


@pytest.mark.parametrize("fmt, options", [("PNG", {}), ("JPEG", {"progressive": True}), ("GIF", {}), ("WEBP", {})])
def test_ordinary_photos_pass_the_header_check(fmt, options):
    out = io.BytesIO()
    Image.linear_gradient("L").resize((640, 480)).convert("RGB").save(out, fmt, **options)
    data, width, height = images.thumbnail(out.getvalue())
    assert (width, height) == (480, 360) and data[:4] == b"RIFF"
