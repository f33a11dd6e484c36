"""The row-by-row preview of an import: every row of the file as read, a page at a time, each with its
problems (by column), before anything is written. The rows are kept in ``import_jobs.preview`` by
the check (app.deputies.import_checks.check_file); a page is cut out of it in PostgreSQL, so a file of
20,000 rows is never sent whole to the web process."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.deputies.models import ImportJob

PER_PAGE = 50  # rows a page: a page of a wide file stays within the 14 KB first-response budget


@dataclass
class PreviewRow:
    number: int  # the spreadsheet's row number
    cells: list[str]
    bad: set[int] = field(default_factory=set)  # positions of the cells with a problem
    problems: list[dict] = field(default_factory=list)


@dataclass
class Preview:
    columns: list[str]  # the recognised columns, headed as in the file
    rows: list[PreviewRow]
    total: int  # rows in the file
    with_problems: int  # rows with at least one problem
    page: int
    pages: int
    only_problems: bool
    general: list[dict]  # problems of the file or of its header row


async def preview_page(db: AsyncSession, job: ImportJob, *, page: int = 1,
                       only_problems: bool = False) -> Preview | None:
    """One page of the preview (``only_problems``: of the rows that have problems); None when the job
    keeps no preview (it has run, or was checked before previews were kept)."""
    head = (await db.execute(text(
        "SELECT preview->'columns', jsonb_array_length(preview->'rows'), preview->'bad', "
        "coalesce((preview->>'header')::int, 1) FROM import_jobs "
        "WHERE tenant_id = :tenant AND id = :job AND preview IS NOT NULL"
    ), {"tenant": job.tenant_id, "job": job.id})).first()
    if head is None:
        return None
    columns, total, bad, header = head
    bad = bad or []
    only_problems = only_problems and bool(bad)
    count = len(bad) if only_problems else total
    pages = max(1, -(-count // PER_PAGE))
    page = min(max(1, page), pages)
    first = (page - 1) * PER_PAGE
    positions = bad[first:first + PER_PAGE] if only_problems else range(first, min(first + PER_PAGE, total))
    rows = (await db.execute(text(
        "SELECT e.value FROM import_jobs j, jsonb_array_elements(j.preview->'rows') WITH ORDINALITY AS e(value, ord) "
        "WHERE j.tenant_id = :tenant AND j.id = :job AND e.ord = ANY(:ords) ORDER BY e.ord"
    ), {"tenant": job.tenant_id, "job": job.id, "ords": [p + 1 for p in positions]})).scalars().all()
    shown = [PreviewRow(number=number, cells=cells) for number, cells in rows]
    by_number = {row.number: row for row in shown}
    position = {name: i for i, name in enumerate(columns)}
    general = []
    for problem in job.problems or []:
        number = problem.get("row")
        if number is None or number <= header:
            general.append(problem)
        elif number in by_number:
            row = by_number[number]
            row.problems.append(problem)
            if problem.get("column") in position:
                row.bad.add(position[problem["column"]])
    return Preview(columns=columns, rows=shown, total=total, with_problems=len(bad), page=page, pages=pages,
                   only_problems=only_problems, general=general)
