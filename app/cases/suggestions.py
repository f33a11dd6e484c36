"""Cases that become a deputy's formal suggestion (代表建议、批评和意见) or motion (议案), and the
suggestion's own handling: filed → assigned to a handling unit (county admins) → answered (that
unit's users). Widespread or typical problems take this road; deputies may do it for cases they
received (they transmit and supervise, they do not handle).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

from sqlalchemy import and_, exists, false, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import SUGGESTION_KINDS, Suggestion
from app.audit.services import record
from app.cases.access import CaseRef, case_filter, cases_query
from app.cases.models import Case
from app.tenancy.models import HandlingUnit
from app.cases.steps import begin, finish, text
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.deputies.access import deputies_in_scope
from app.deputies.models import Deputy
from app.tenancy.scope import Scope

TITLE_MAX, ANSWER_MAX = 200, 4000
SUGGESTION_STATES = ("filed", "assigned", "answered")
SUGGESTION_STATE_NAMES = {"filed": lazy("Suggestion filed"), "assigned": lazy("Suggestion assigned to a unit"),
                          "answered": lazy("Suggestion answered")}
KIND_NAMES = {"suggestion": lazy("Deputy suggestion (建议)"), "motion": lazy("Deputy motion (议案)")}

TITLE_REQUIRED = lazy("Please give the title of the suggestion or motion.")
KIND_BAD = lazy("Please choose whether it is a suggestion or a motion.")
SUGGESTION_DEPUTY_BAD = lazy("Please choose the serving deputy who files the suggestion.")
SUGGESTION_ANSWER_REQUIRED = lazy("Please write down the answer to the suggestion.")
SUGGESTION_WRONG_STATE = lazy("This step is not possible now for this suggestion.")
ONLY_COUNTY_ASSIGNS = lazy("Only county administrators may assign a suggestion.")
ONLY_UNIT_ANSWERS = lazy("Only the users of the handling unit it is assigned to may answer a suggestion.")
UNIT_BAD = lazy("Please choose a handling unit of this county.")


async def _deputy_for(db: AsyncSession, scope: Scope, case: Case, deputy_id: int | None) -> int:
    """The case's deputy, or one chosen; a deputy files only their own suggestions."""
    query = select(Deputy.id).where(Deputy.status == "active")
    if scope.role == "deputy":
        query = query.where(Deputy.user_id == scope.user_id)
        query = query.where(Deputy.id == case.deputy_id) if case.deputy_id else query
    else:  # one the member may see (the form offers the case station's deputies)
        query = query.where(Deputy.id == (deputy_id or case.deputy_id or 0), deputies_in_scope(scope))
    found = await db.scalar(query.limit(1))
    if found is None:
        raise Refusal(SUGGESTION_DEPUTY_BAD)
    return found


async def to_suggestion(db: AsyncSession, scope: Scope, ref: CaseRef, *, kind: str, title: str,
                        deputy_id: int | None = None, actor_id: int, client_addr: str | None = None,
                        today: date | None = None, now: datetime | None = None) -> Suggestion:
    """The case becomes a suggestion or motion filed by a deputy, with the case's content."""
    spec, _, today = await begin(db, scope, ref, "to_suggestion", today)
    if kind not in SUGGESTION_KINDS:
        raise Refusal(KIND_BAD)
    title = str(title or "").strip()
    if not title:
        raise Refusal(TITLE_REQUIRED)
    title = text(title, "note", max_len=TITLE_MAX)
    case = ref.case
    deputy = await _deputy_for(db, scope, case, deputy_id)
    suggestion = Suggestion(tenant_id=case.tenant_id, deputy_id=deputy, kind=kind, title=title, filed_on=today,
                            content=case.content, state="filed", recorded_by=actor_id)
    db.add(suggestion)
    await db.flush()
    case.suggestion_id = suggestion.id
    await finish(db, ref, spec, actor_id=actor_id, now=now or datetime.now(timezone.utc), client_addr=client_addr,
                 note=title, data={"suggestion_id": suggestion.id, "kind": kind, "deputy_id": deputy})
    return suggestion


# --- the suggestion's own handling ---------------------------------------------------------------------

def suggestion_filter(scope: Scope):
    """Who sees a suggestion: county admins and viewers all; a unit's users those assigned to their
    unit; a deputy their own; other staff those that came from a case they can see."""
    if scope.role in ("county_admin", "viewer"):
        return true()
    if scope.role == "handling_unit":
        return Suggestion.handling_unit_id == (scope.handling_unit_id or 0)
    from_case = exists(cases_query(Case.id).where(Case.suggestion_id == Suggestion.id, case_filter(scope)))
    if scope.role == "deputy":
        mine = select(Deputy.id).where(Deputy.user_id == scope.user_id)
        return Suggestion.deputy_id.in_(mine) | from_case
    if scope.role in ("township_staff", "station_staff"):
        return from_case
    return false()


@dataclass
class SuggestionRef:
    suggestion: Suggestion
    deputy: str
    unit: HandlingUnit | None
    cases: list


async def get_suggestion(db: AsyncSession, scope: Scope, suggestion_id: int, *, for_update: bool = False
                         ) -> SuggestionRef:
    if not 0 < suggestion_id < 2**63:
        raise NotFound()
    query = (select(Suggestion, Deputy.name, HandlingUnit)
             .join(Deputy, and_(Deputy.tenant_id == Suggestion.tenant_id, Deputy.id == Suggestion.deputy_id))
             .outerjoin(HandlingUnit, and_(HandlingUnit.tenant_id == Suggestion.tenant_id,
                                           HandlingUnit.id == Suggestion.handling_unit_id))
             .where(Suggestion.id == suggestion_id, suggestion_filter(scope)))
    if for_update:
        query = query.with_for_update(of=Suggestion)
    row = (await db.execute(query)).first()
    if row is None:
        raise NotFound()
    cases = list(await db.scalars(cases_query(Case).where(Case.suggestion_id == suggestion_id, case_filter(scope))
                                  .order_by(Case.id).limit(50)))
    return SuggestionRef(row[0], row[1], row[2], cases)


async def assign_suggestion(db: AsyncSession, scope: Scope, ref: SuggestionRef, *, unit_id: int | None,
                            actor_id: int, client_addr: str | None = None) -> None:
    if scope.role != "county_admin":
        raise Refusal(ONLY_COUNTY_ASSIGNS, status=403)
    if ref.suggestion.state not in ("filed", "assigned"):
        raise Refusal(SUGGESTION_WRONG_STATE)
    unit = await db.scalar(select(HandlingUnit).where(HandlingUnit.id == (unit_id or 0),
                                                      HandlingUnit.retired_at.is_(None))) if unit_id else None
    if unit is None:
        raise Refusal(UNIT_BAD)
    s = ref.suggestion
    s.state, s.handling_unit_id = "assigned", unit.id
    ref.unit = unit
    await db.flush()
    await record(db, tenant_id=s.tenant_id, actor_user_id=actor_id, action="suggestion_assigned",
                 target=f"suggestion:{s.id}", client_addr=client_addr, details={"unit_id": unit.id, "unit": unit.name})


async def answer_suggestion(db: AsyncSession, scope: Scope, ref: SuggestionRef, *, answer: str, actor_id: int,
                            client_addr: str | None = None, now: datetime | None = None) -> None:
    s = ref.suggestion
    if scope.role != "handling_unit" or scope.handling_unit_id is None or scope.handling_unit_id != s.handling_unit_id:
        raise Refusal(ONLY_UNIT_ANSWERS, status=403)
    if s.state != "assigned":
        raise Refusal(SUGGESTION_WRONG_STATE)
    answer = str(answer or "").strip()
    if not answer:
        raise Refusal(SUGGESTION_ANSWER_REQUIRED)
    answer = text(answer, "result", max_len=ANSWER_MAX)
    s.state, s.answer, s.answered_at = "answered", answer, now or datetime.now(timezone.utc)
    await db.flush()
    await record(db, tenant_id=s.tenant_id, actor_user_id=actor_id, action="suggestion_answered",
                 target=f"suggestion:{s.id}", client_addr=client_addr)
