"""The station lifecycle: the statuses a station passes through and the steps that move it."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.services import record
from app.core.errors import Refusal
from app.core.i18n import gettext, lazy
from app.notify import work
from app.stations.access import StationRef, can_edit_station
from app.stations.models import STATUS_NAMES, STATUSES, StationEvent
from app.stations.services import MAX_NOTE, tenant_config
from app.tenancy.models import DEFAULT_LIFECYCLE
from app.tenancy.scope import Scope

REASON_REQUIRED = lazy("Please give a reason.")
NOTE_TOO_LONG = lazy("The note may have at most 500 characters.")
STEP_NOT_NOW = lazy("This step is not possible now: the station is “%(current)s”.")
ONLY_COUNTY = lazy("Only the county's administrators may take this step.")
ONLY_TOWNSHIP = lazy("Only the township's staff or the county's administrators may take this step.")

STEP_TARGETS = {"approve": "approved", "file": "filed", "activate": "active", "close": "closed",
                "send_back": "proposed"}
STEP_NAMES = {
    "approve": lazy("Approve (township)"),
    "file": lazy("File with the county"),
    "activate": lazy("Put into operation"),
    "send_back": lazy("Send back to proposed"),
    "close": lazy("Close down"),
}
EVENT_ACTIONS = {"approved": "approved", "filed": "filed", "active": "activated", "closed": "closed",
                 "proposed": "sent_back"}
EVENT_NAMES = {
    "created": lazy("Proposed"),
    "renamed": lazy("Renamed"),
    "approved": lazy("Approved by the township"),
    "filed": lazy("Filed with the county"),
    "activated": lazy("Put into operation"),
    "closed": lazy("Closed down"),
    "sent_back": lazy("Sent back to proposed"),
}


# --- lifecycle ------------------------------------------------------------------------------------

def forward_path(lifecycle) -> list[str]:
    """The statuses a station passes through, in order: proposed and active always, approved and
    filed when the tenant's lifecycle has them."""
    steps = set(lifecycle or DEFAULT_LIFECYCLE)
    return [s for s in ("proposed", "approved", "filed", "active") if s in ("proposed", "active") or s in steps]


def next_status(lifecycle, status: str) -> str | None:
    if status in ("active", "closed"):
        return None
    path = forward_path(lifecycle)
    order = list(STATUSES)
    for candidate in path:
        if order.index(candidate) > order.index(status):
            return candidate
    return None


FORWARD_STEPS = {"approved": "approve", "filed": "file", "active": "activate"}


def available_steps(lifecycle, status: str) -> list[str]:
    """The steps the lifecycle allows from ``status`` (whoever may take them)."""
    out = []
    target = next_status(lifecycle, status)
    if target:
        out.append(FORWARD_STEPS[target])
    if status in ("approved", "filed"):
        out.append("send_back")
    if status != "closed":
        out.append("close")
    return out


def may_take(scope: Scope, step: str, status: str, node_path: str) -> bool:
    """Township staff (of the node's subtree) approve and send back an approval; everything else is
    the county's."""
    if scope.role == "county_admin":
        return True
    township = step == "approve" or (step == "send_back" and status == "approved")
    return township and can_edit_station(scope, node_path)


def steps_for(scope: Scope, lifecycle, ref: StationRef) -> list[str]:
    return [s for s in available_steps(lifecycle, ref.station.status)
            if may_take(scope, s, ref.station.status, ref.node.path)]


async def take_step(db: AsyncSession, scope: Scope, ref: StationRef, *, step: str, note: str, actor_id: int,
                    client_addr: str | None = None) -> str:
    """Move the station one step; returns the new status. Refusal changes nothing."""
    station = ref.station
    config = await tenant_config(db, station.tenant_id)
    note = str(note or "").strip()
    if step not in available_steps(config.lifecycle, station.status):
        raise Refusal(STEP_NOT_NOW, current=gettext(STATUS_NAMES[station.status]))
    if not may_take(scope, step, station.status, ref.node.path):
        township = step == "approve" or (step == "send_back" and station.status == "approved")
        raise Refusal(ONLY_TOWNSHIP if township else ONLY_COUNTY, status=403)
    if len(note) > MAX_NOTE:
        raise Refusal(NOTE_TOO_LONG)
    if step in ("close", "send_back") and not note:
        raise Refusal(REASON_REQUIRED)
    target = next_status(config.lifecycle, station.status) if step in FORWARD_STEPS.values() else STEP_TARGETS[step]
    previous = station.status
    station.status = target
    if target == "closed":
        station.closed_at = datetime.now(timezone.utc)
    action = EVENT_ACTIONS[target]
    db.add(StationEvent(tenant_id=station.tenant_id, station_id=station.id, action=action, from_status=previous,
                        to_status=target, note=note, actor_user_id=actor_id))
    work.station_event(db, station, action, actor_id)  # whoever takes the next step is told
    await db.flush()
    await record(db, tenant_id=station.tenant_id, actor_user_id=actor_id, action=f"station_{action}",
                 target=f"station:{station.id}", client_addr=client_addr,
                 details={"from": previous, "to": target, "note": note})
    return target
