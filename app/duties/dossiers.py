"""The deputy's dossier (代表履职档案) as its page shows it — the year's (or term's) records, the 述职评议
meetings with their ratings and the published appraisal grades — for one deputy or for many at once
(the station binder's 一档案 prints every deputy stationed there). One reading for both, in a fixed
number of queries whatever the number of deputies, so that the binder and the page say the same.

``NAMES`` are the names the dossier's templates (``duties/_dossier.html``) print with; whoever renders a
dossier passes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.models import STATE_NAMES as CASE_STATE_NAMES
from app.cases.suggestions import KIND_NAMES as SUGGESTION_KIND_NAMES
from app.cases.suggestions import SUGGESTION_STATE_NAMES
from app.core.security import mask_mobile
from app.deputies.models import LEVEL_NAMES, Deputy
from app.duties import appraisal, meetings, queries
from app.duties.kinds import KINDS, NEEDS_REASON
from app.duties.meeting_models import RATING_NAMES, RATINGS
from app.duties.meetings import MeetingRef
from app.duties.models import STATUS_NAMES
from app.tenancy.scope import Scope

NAMES = dict(KINDS=KINDS, STATUS_NAMES=STATUS_NAMES, NEEDS_REASON=NEEDS_REASON, RATINGS=RATINGS,
             RATING_NAMES=RATING_NAMES, mask_mobile=mask_mobile, LEVEL_NAMES=LEVEL_NAMES,
             CASE_STATE_NAMES=CASE_STATE_NAMES, SUGGESTION_KIND_NAMES=SUGGESTION_KIND_NAMES,
             SUGGESTION_STATE_NAMES=SUGGESTION_STATE_NAMES)


@dataclass
class DossierPage:
    d: queries.Dossier
    meetings: list[MeetingRef] = field(default_factory=list)  # the span's 述职评议 meetings, with results
    grades: list[tuple] = field(default_factory=list)  # (year, grade, score) of published appraisals


async def pages(db: AsyncSession, scope: Scope, tenant_id: int, deputies: list[Deputy], years: list[int],
                tz: ZoneInfo) -> dict[int, DossierPage]:
    """Deputy id → their dossier over ``years``, for deputies the caller may see (``access_deputy``, or
    ``deputies_in_scope`` in the query that found them): the dossier's statements, two for the meetings
    and one for the grades. A term's dossier lists the grades of its years; a year's every grade (the
    history across the term)."""
    if not deputies:
        return {}
    ids = [d.id for d in deputies]
    found = await queries.span_dossiers(db, scope, deputies, years, tz)
    held = await meetings.meetings_by_deputy(db, ids, min(years), max(years))
    grades = await appraisal.grades_by_deputy(db, tenant_id, ids)
    term = len(years) > 1
    return {i: DossierPage(found[i], held[i], [g for g in grades[i] if not term or g[0] in years]) for i in ids}
