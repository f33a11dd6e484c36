"""County presets (app/presets/files/*.toml): read, check, apply and export a county's configuration — its
administrative tree, station kinds, checklist, activity kinds and rules, case categories, handling units
and due-date rules. Above the domains it configures (it imports them; they never import it)."""

from __future__ import annotations

from app.core.errors import Refusal


class PresetError(Refusal):
    """A preset file or its values that cannot be applied (the CLI prints it; sign-up shows it)."""


class TenantExists(PresetError):
    """apply_preset(create_only=True) found the slug taken (perhaps a moment ago, by someone else)."""
