"""QR codes drawn on the server as inline SVG (the sign-in screen, the duty report's ballot screen)."""

from __future__ import annotations

import segno


def qr_svg(link: str) -> str:
    """The link as an inline SVG QR code that fills its box (viewBox only, no size, no style)."""
    return segno.make(link, error="m").svg_inline(scale=1, omitsize=True, dark="#000", light="#fff")
