"""Translations: English msgids in code and templates, Simplified Chinese by default.

Catalogues are Babel .po files, one per domain, under app/locales/<locale>/LC_MESSAGES/<domain>.po;
all domains of a locale are merged at start-up. `scripts/i18n.py` extracts and updates them.
"""

from __future__ import annotations

from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po

LOCALES = ("zh_Hans", "en")
DEFAULT_LOCALE = "zh_Hans"
LOCALE_DIR = Path(__file__).resolve().parents[1] / "locales"
HTML_LANG = {"zh_Hans": "zh-Hans", "en": "en"}

current_locale: ContextVar[str] = ContextVar("current_locale", default=DEFAULT_LOCALE)


@lru_cache(maxsize=None)
def catalogue(locale: str) -> dict[str, str]:
    messages: dict[str, str] = {}
    folder = LOCALE_DIR / locale / "LC_MESSAGES"
    for path in sorted(folder.glob("*.po")):
        with path.open("rb") as f:
            for message in read_po(f, locale=locale.replace("_Hans", "")):
                if message.id and message.string and not message.fuzzy:
                    key = message.id if isinstance(message.id, str) else message.id[0]
                    value = message.string if isinstance(message.string, str) else message.string[0]
                    messages[key] = value
    return messages


def gettext(message: str, **variables) -> str:
    text = catalogue(current_locale.get()).get(message, message)
    return text % variables if variables else text


_ = gettext


def ngettext(singular: str, plural: str, n: int, **variables) -> str:
    # Chinese has no plural forms; English picks by n. Both catalogues key on the singular.
    source = singular if n == 1 else plural
    text = catalogue(current_locale.get()).get(source, source)
    variables.setdefault("num", n)
    return text % variables


def lazy(message: str) -> str:
    """Mark a module-level string for extraction; translate it where it is shown."""
    return message


def pick_locale(cookie_value: str | None, user_locale: str | None = None) -> str:
    for candidate in (cookie_value, user_locale):
        if candidate in LOCALES:
            return candidate
    return DEFAULT_LOCALE
