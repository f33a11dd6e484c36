"""Queueing notices of new work (issue 17), in the transaction of the step that brings it.

Who must act next is told: a new opinion → the station's staff (else the township's, else the
county's); a case assigned, sent back or supervised → the handling unit's users; a station waiting
for its next step → whoever takes it. Each domain calls here from the one place its steps are
recorded: `case_event` from `app.cases.services.add_event` (every step of a case, whoever adds it),
`station_event` where a station is created or moves on. Both only add a `work_notices` row to the
session — `add_event` is synchronous, and who is told is settled later anyway — and the worker's sweep
turns each row into inbox rows and digests within seconds (app.notify.work_notices).

Case steps are read by what they do, not by a list of names: a step that returns a case to a handling
unit after its answer (staff's 退回重办, the person's 不满意, however the step is called) is "sent back".
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.models import OPEN_WITH_UNIT, Case
from app.notify.models import WorkNotice

WORK_KINDS = ("new_case", "case_assigned", "case_sent_back", "case_supervised", "station_waiting")
ANSWERED = ("replied", "fed_back", "closed")  # a case leaving these for a unit goes back to be handled again
# Station steps after which the station waits for someone else's step (approve, file, put into operation).
STATION_WAITS_AFTER = ("created", "approved", "filed")


def case_kind(action: str, from_state: str | None, to_state: str | None) -> str | None:
    """What a case step means for whoever acts next (None: nobody new has work)."""
    if action == "registered":
        return "new_case"
    if action == "assign":
        return "case_assigned"
    if action == "supervise":
        return "case_supervised"
    if to_state in OPEN_WITH_UNIT and from_state in ANSWERED:
        return "case_sent_back"
    return None


def case_event(db: AsyncSession, case: Case, action: str, actor_id: int | None, *, from_state: str | None,
               to_state: str | None) -> None:
    kind = case_kind(action, from_state, to_state)
    if kind is None:
        return
    db.add(WorkNotice(tenant_id=case.tenant_id, kind=kind, subject=f"case:{case.id}", case_id=case.id,
                      station_id=case.station_id, node_id=case.node_id, unit_id=case.handling_unit_id,
                      state=to_state or case.state, actor_user_id=actor_id))


def station_event(db: AsyncSession, station, action: str, actor_id: int | None) -> None:
    """After `action` (a station_events action) the station may wait for its next step."""
    if action not in STATION_WAITS_AFTER:
        return
    db.add(WorkNotice(tenant_id=station.tenant_id, kind="station_waiting", subject=f"station:{station.id}",
                      station_id=station.id, node_id=station.node_id, state=station.status,
                      actor_user_id=actor_id))
