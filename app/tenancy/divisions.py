"""China's county-level administrative divisions (6-digit codes), from data/county_divisions.csv.

The list is built by scripts/build_county_divisions.py (its docstring says from what) and loaded
once per process.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "county_divisions.csv"
CODE_RE = re.compile(r"^\d{6}$")
# "City" names the data gives where there is no prefecture-level city in between.
NO_CITY = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})


@dataclass(frozen=True)
class Division:
    code: str
    province: str
    city: str
    county: str

    @property
    def label(self) -> str:
        """E.g. 四川省 绵阳市 三台县; 北京市 东城区 (no placeholder city)."""
        parts = [self.province] + ([] if self.city in NO_CITY else [self.city]) + [self.county]
        return " ".join(parts)


@lru_cache(maxsize=1)
def _all() -> tuple[tuple[Division, ...], dict[str, Division]]:
    with DATA.open(encoding="utf-8") as f:
        rows = tuple(Division(r["code"], r["province"], r["city"], r["county"]) for r in csv.DictReader(f))
    return rows, {d.code: d for d in rows}


def all_divisions() -> tuple[Division, ...]:
    return _all()[0]


def lookup(code: str) -> Division | None:
    return _all()[1].get((code or "").strip())


def _words(text: str) -> list[str]:
    return (text or "").replace("\u3000", " ").split()


def _hit(d: Division, words: list[str]) -> bool:
    haystack = f"{d.province} {d.city} {d.county}"
    return all(w in haystack or d.code.startswith(w) for w in words)


def matches(d: Division, text: str) -> bool:
    """Whether ``d`` is among what ``text`` finds (a chosen suggestion must fit what was typed)."""
    words = _words(text)
    return bool(words) and _hit(d, words)


def search(text: str, limit: int = 10) -> list[Division]:
    """Divisions whose code starts with ``text`` (digits) or whose names contain it. Counties named
    exactly so come first, then counties whose name starts with or contains it, then divisions
    found by their province or city. Several words narrow down ("绵阳 三台")."""
    words = _words(text)
    if not words or limit <= 0:
        return []
    if len(words) == 1 and words[0].isdigit():
        return [d for d in all_divisions() if d.code.startswith(words[0])][:limit]

    def rank(d: Division) -> int:
        if d.county in words:
            return 0
        if any(d.county.startswith(w) for w in words):
            return 1
        if any(w in d.county for w in words):
            return 2
        return 3

    return sorted((d for d in all_divisions() if _hit(d, words)), key=rank)[:limit]
