"""The standards checklist: scoring a station and its star rating. Every scoring also writes the
station's rating for the year (``StarRating``, the year in the tenant's zone): the checklist rows are
a snapshot, the yearly rows are the history the station page shows."""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.services import record
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.core.periods import zone
from app.stations.access import StationRef
from app.stations.models import ChecklistItem, StarRating, StationScore
from app.tenancy.models import Tenant
from app.stations.refusals import FIELD_TOO_LONG, _open

CHOOSE_MET = lazy("Please mark each item as met or not met.")


# --- stars ----------------------------------------------------------------------------------------

def stars(met: int, active: int) -> int:
    """met / active × 5, rounded half up (0 when the tenant has no checklist)."""
    if active <= 0:
        return 0
    return min(5, (met * 10 + active) // (2 * active))


async def active_item_count(db: AsyncSession) -> int:
    return await db.scalar(select(func.count()).select_from(ChecklistItem).where(ChecklistItem.retired_at.is_(None))) or 0


# --- checklist ------------------------------------------------------------------------------------

async def score_checklist(db: AsyncSession, ref: StationRef, values: dict, *, actor_id: int,
                          client_addr: str | None = None, now: datetime | None = None) -> int:
    """Score every active item from form values met_<item id> ('1' or '0') and evidence_<item id>;
    returns the new star rating, also kept as the rating of the current year."""
    _open(ref)
    station = ref.station
    items = (await db.scalars(select(ChecklistItem).where(ChecklistItem.retired_at.is_(None)))).all()
    current = {s.item_id: s for s in (await db.scalars(
        select(StationScore).where(StationScore.station_id == station.id))).all()}
    plan = []
    for item in items:
        met = str(values.get(f"met_{item.id}", "")).strip()
        evidence = str(values.get(f"evidence_{item.id}", "") or "").strip()
        if met not in ("1", "0"):
            raise Refusal(CHOOSE_MET)
        if len(evidence) > 500:
            raise Refusal(FIELD_TOO_LONG, field=item.label, max=500)
        plan.append((item, met == "1", evidence))
    changes = {}
    now = now or datetime.now(timezone.utc)
    for item, met, evidence in plan:
        score = current.get(item.id)
        if score is None:
            db.add(StationScore(tenant_id=station.tenant_id, station_id=station.id, item_id=item.id, met=met,
                                evidence=evidence, scored_by=actor_id, scored_at=now))
        elif score.met == met and score.evidence == evidence:
            continue
        else:
            score.met, score.evidence, score.scored_by, score.scored_at = met, evidence, actor_id, now
        changes[item.code] = met
    met_count = sum(1 for _, met, _ in plan if met)
    result = stars(met_count, len(plan))
    await _keep_year(db, ref, await _local_day(db, station.tenant_id, now), result, met_count, len(plan), actor_id, now)
    if changes:
        await db.flush()
        await record(db, tenant_id=station.tenant_id, actor_user_id=actor_id, action="station_scored",
                     target=f"station:{station.id}", client_addr=client_addr,
                     details={"items": changes, "stars": result})
    return result


async def _local_day(db: AsyncSession, tenant_id: int, now: datetime) -> date:
    tz_name = await db.scalar(select(Tenant.timezone).where(Tenant.id == tenant_id))
    return now.astimezone(zone(tz_name)).date()


async def _keep_year(db: AsyncSession, ref: StationRef, today: date, result: int, met: int, items: int,
                     actor_id: int, now: datetime) -> None:
    """The year's rating is the latest scoring in that year (scoring again the same year replaces it)."""
    values = dict(stars=result, met=met, items=items, scored_by=actor_id, scored_at=now)
    await db.execute(insert(StarRating).values(tenant_id=ref.station.tenant_id, station_id=ref.station.id,
                                               year=today.year, **values)
                     .on_conflict_do_update(index_elements=["tenant_id", "station_id", "year"], set_=values))
