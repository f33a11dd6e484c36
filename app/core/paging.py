"""Pages of a list already in memory (a county's points or appraisal results, computed whole because
ranks and grade counts need every deputy): a name filter and one page of rows, so a county of
thousands of deputies still gets a page within the byte budget. Lists read from the database page in
SQL instead (app.cases.queries)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
MAX_QUERY = 40  # a name search: longer input is cut


@dataclass
class Slice(Generic[T]):
    rows: list[T]
    total: int  # rows matching the filter, on every page
    page: int
    pages: int
    q: str


def page_number(value: object) -> int:
    text = str(value or "").strip()
    return max(1, int(text)) if text.isdigit() and len(text) < 7 else 1


def slice_of(items: Sequence[T], *, page: object, per_page: int, q: object = "",
             name: Callable[[T], str] | None = None) -> Slice[T]:
    """Rows whose ``name`` contains ``q`` (when given), page ``page`` of them (kept within range)."""
    wanted = " ".join(str(q or "").split())[:MAX_QUERY]
    matching = [i for i in items if wanted in name(i)] if wanted and name else list(items)
    pages = max(1, -(-len(matching) // per_page))
    number = min(page_number(page), pages)
    start = (number - 1) * per_page
    return Slice(rows=matching[start:start + per_page], total=len(matching), page=number, pages=pages, q=wanted)
