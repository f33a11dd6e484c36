"""Extract translatable strings and keep the catalogues in step.

  python scripts/i18n.py update   add new msgids (English: copied; Chinese: left empty), drop old ones
  python scripts/i18n.py check    list msgids without a translation (exit 1 if any)
  python scripts/i18n.py translate zh_Hans < pairs.tsv
                                  fill empty translations from "msgid<TAB>msgstr" lines, in every
                                  domain (--force also replaces existing ones)

One catalogue per domain: app/<domain>/ and app/templates/<domain>/ make the domain's .po file;
app/core, app/*.py, app/templates/*.html and app/templates/settings/ (the settings pages every domain
uses) make "core".
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "app" / "templates"
# Folders of app/ that are package data or infrastructure, not domains with a catalogue of their own.
NOT_DOMAINS = {"core", "locales", "templates", "static", "migrations", "__pycache__"}
LOCALES = ("zh_Hans", "en")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy": None}
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def domains() -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {"core": []}
    found["core"] += sorted((ROOT / "app").glob("*.py")) + sorted((ROOT / "app" / "core").rglob("*.py"))
    found["core"] += sorted(TEMPLATES.glob("*.html"))
    found["core"] += sorted((TEMPLATES / "settings").rglob("*.html"))
    for folder in sorted(p for p in (ROOT / "app").iterdir() if p.is_dir()):
        if folder.name in NOT_DOMAINS:
            continue
        files = sorted(folder.rglob("*.py")) + sorted((TEMPLATES / folder.name).rglob("*.html"))
        found[folder.name] = files
    return found


def extract(files: list[Path]) -> dict[str, str]:
    """msgid -> first location."""
    out: dict[str, str] = {}
    for path in files:
        method = "jinja2.ext:babel_extract" if path.suffix == ".html" else "python"
        options = {"trim_blocks": "True", "lstrip_blocks": "True"} if path.suffix == ".html" else {}
        for lineno, message, _comments, _context in extract_from_file(method, str(path), KEYWORDS, options=options):
            messages = message if isinstance(message, tuple) else (message,)
            for m in messages:
                if m:
                    out.setdefault(m, f"{path.relative_to(ROOT)}:{lineno}")
    return out


def po_path(locale: str, domain: str) -> Path:
    return ROOT / "app" / "locales" / locale / "LC_MESSAGES" / f"{domain}.po"


def read(locale: str, domain: str) -> dict[str, str]:
    path = po_path(locale, domain)
    if not path.exists():
        return {}
    with path.open("rb") as f:
        return {m.id: m.string for m in read_po(f) if m.id}


def update() -> None:
    for domain, files in domains().items():
        messages = extract(files)
        for locale in LOCALES:
            old = read(locale, domain)
            catalog = Catalog(locale=locale.replace("_Hans", ""), domain=domain, project="lianluo",
                              charset="utf-8")
            for msgid, where in messages.items():
                string = old.get(msgid) or (msgid if locale == "en" else "")
                catalog.add(msgid, string, locations=[(where.rsplit(":", 1)[0], int(where.rsplit(":", 1)[1]))])
            path = po_path(locale, domain)
            if not messages and not path.exists():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as f:
                write_po(f, catalog, width=120, omit_header=True, sort_output=True)


def problems() -> list[str]:
    found = []
    seen: dict[tuple[str, str], tuple[str, str]] = {}  # (locale, msgid) -> (domain, translation)
    for domain, files in domains().items():
        messages = extract(files)
        for locale in LOCALES:
            translated = read(locale, domain)
            for msgid in messages:
                # Catalogues are merged at run time: one msgid must mean one thing everywhere.
                string = translated.get(msgid)
                other = seen.setdefault((locale, msgid), (domain, string))
                if string and other[1] and other[1] != string:
                    found.append(f"{locale}: {msgid!r} is {other[1]!r} in {other[0]}.po but {string!r} in "
                                 f"{domain}.po; use a more specific msgid")
            for msgid, where in messages.items():
                string = translated.get(msgid)
                if not string:
                    found.append(f"{locale}/{domain}.po: no translation for {msgid!r} ({where})")
                elif sorted(PLACEHOLDER.findall(string)) != sorted(PLACEHOLDER.findall(msgid)):
                    found.append(f"{locale}/{domain}.po: placeholders differ for {msgid!r}")
    return found


def full_width(text: str) -> str:
    """Chinese text takes full-width punctuation; placeholders like %(n)s keep their brackets."""
    parts = re.split(r"(%\(\w+\)s)", text)
    table = str.maketrans({",": "，", ":": "：", "(": "（", ")": "）", ";": "；", "?": "？", "!": "！"})
    return "".join(p if PLACEHOLDER.fullmatch(p) else p.translate(table) for p in parts)


def translate(locale: str, lines: list[str], force: bool = False) -> None:
    pairs = dict(line.rstrip("\n").split("\t", 1) for line in lines if "\t" in line)
    if locale == "zh_Hans":
        pairs = {k: full_width(v) for k, v in pairs.items()}
    for domain in domains():
        path = po_path(locale, domain)
        if not path.exists():
            continue
        with path.open("rb") as f:
            catalog = read_po(f)
        changed = False
        for message in catalog:
            # Only fills gaps: a msgid shared with another domain keeps the translation it has there.
            if message.id in pairs and (force or not message.string):
                message.string = pairs[message.id]
                changed = True
        if changed:
            with path.open("wb") as f:
                write_po(f, catalog, width=120, omit_header=True, sort_output=True)


if __name__ == "__main__":
    action = sys.argv[1] if len(sys.argv) > 1 else "check"
    if action == "update":
        update()
    if action == "translate":
        translate(sys.argv[2], sys.stdin.readlines(), force="--force" in sys.argv)
    issues = problems()
    for line in issues:
        print(line)
    sys.exit(1 if issues and action == "check" else 0)
