"""A photo's declared size, read from its first bytes in a bounded number of steps, before PIL sees it.

PIL decodes lazily, but even opening reads the whole header one chunk, marker or block at a time in
Python: 8 MB of empty PNG chunks, JPEG markers or GIF blocks cost seconds. Real photos have a few
dozen before their pixels, so a header of more steps (or bytes of junk) is no photo of ours; within
the bound, the declared width and height are read from it. ``declared_size`` returns None for what
it does not know (WebP: libwebp reads it in C), leaving the verdict to PIL.
"""

from __future__ import annotations

import struct

MAX_STEPS = 256  # chunks, markers or blocks before the pixels
MAX_JUNK = 4096  # bytes between JPEG markers that PIL would skip one at a time


class BadHeader(ValueError):
    """Not a header we will hand to PIL."""


def declared_size(raw: bytes) -> tuple[int, int] | None:
    if raw.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png(raw)
    if raw.startswith(b"\xff\xd8"):
        return _jpeg(raw)
    if raw[:6] in (b"GIF87a", b"GIF89a"):
        return _gif(raw)
    return None


def _png(raw: bytes) -> tuple[int, int]:
    pos, size = 8, None
    for _ in range(MAX_STEPS):
        if pos + 8 > len(raw):
            raise BadHeader("truncated")
        length, kind = struct.unpack_from(">I4s", raw, pos)
        if kind == b"IHDR" and length >= 8:
            size = struct.unpack_from(">II", raw, pos + 8)
        elif kind == b"IDAT":
            if size is None:
                raise BadHeader("no IHDR")
            return size
        pos += 12 + length
    raise BadHeader("too many chunks")


def _jpeg(raw: bytes) -> tuple[int, int]:
    pos, junk, size = 2, 0, None
    for _ in range(MAX_STEPS):
        mark = raw.find(b"\xff", pos)
        if mark < 0 or mark + 4 > len(raw):
            raise BadHeader("truncated")
        junk += mark - pos
        if junk > MAX_JUNK:
            raise BadHeader("junk")
        marker, pos = raw[mark + 1], mark + 1
        if marker == 0xFF:  # a fill byte
            continue
        if marker == 0xDA:  # start of scan: the pixels follow
            if size is None:
                raise BadHeader("no frame header")
            return size
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            pos += 1
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and mark + 9 <= len(raw):
            height, width = struct.unpack_from(">HH", raw, mark + 5)
            size = (width, height)
        pos += 1 + struct.unpack_from(">H", raw, pos + 1)[0]
    raise BadHeader("too many markers")


def _gif(raw: bytes) -> tuple[int, int]:
    if len(raw) < 13:
        raise BadHeader("truncated")
    size = struct.unpack_from("<HH", raw, 6)
    flags = raw[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    in_extension = False
    for _ in range(MAX_STEPS * 4):  # blocks and their sub-blocks
        if pos >= len(raw):
            raise BadHeader("truncated")
        if in_extension:  # a sub-block: its length, then its bytes; 0 ends the extension
            in_extension = raw[pos] != 0
            pos += 1 + raw[pos]
        elif raw[pos] == 0x2C:  # the first image
            return size
        elif raw[pos] == 0x21:  # an extension: introducer, label, then sub-blocks
            in_extension, pos = True, pos + 2
        else:
            raise BadHeader("unknown block")
    raise BadHeader("too many blocks")
