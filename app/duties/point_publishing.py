"""The quarterly publication of points (亮分) and the deputies' correction requests.

A county admin publishes a quarter once it has ended: the figures as computed then are kept
(points_published: points, rank, how many ranked together, in which group or station), every deputy
gets a message and the publication is audited: a deputy with an account gets ``points_published``
(inbox, SMS where chosen) with a short link to /points/mine, where an error is reported; a deputy
without one cannot open that page, so their SMS is ``points_published_no_account``, which asks them
to tell their station instead (no link). A second publication of the same quarter is refused (also
under a race: the insert is ON CONFLICT DO NOTHING on the quarter). A deputy who finds a published
figure wrong files a correction request (≤ 300 characters); staff accept it with a note or dismiss it
with a reason. The published figures stay as published: an accepted request is the record that the
county put it right (an entry approved late, an item changed), shown with the quarter. Services
audit and do not commit.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.services import record
from app.core.db import as_id
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.core.periods import Period, parse_key
from app.deputies.models import Deputy
from app.duties.point_models import MAX_CORRECTION, PointsCorrection, PointsPublication, PublishedPoints
from app.duties.points import compute
from app.notify import outbox
from app.notify.config import notify_settings
from app.notify.short_links import short_code

KIND = "points_published"
KIND_NO_ACCOUNT = "points_published_no_account"  # the same figures, no link: report errors to the station
QUARTER_BAD = lazy("Please choose a quarter (such as 2026-Q4).")
QUARTER_NOT_OVER = lazy("A quarter can be published once it has ended.")
ALREADY_PUBLISHED = lazy("The points of %(period)s have already been published.")
NOBODY = lazy("No serving deputy has points to publish.")
CORRECTION_TEXT_BAD = lazy("Please say what is wrong, in at most %(max)s characters.")
ANSWER_BAD = lazy("Please give a note or a reason, in at most %(max)s characters.")
ALREADY_RESOLVED = lazy("This correction request has already been resolved.")
RESOLUTIONS = ("accepted", "dismissed")
QUARTER_WORDS = "一二三四"


def quarter(key: str, today: date) -> Period:
    period = parse_key(key)
    if period is None or period.kind != "quarter":
        raise Refusal(QUARTER_BAD)
    if period.last >= today:
        raise Refusal(QUARTER_NOT_OVER)
    return period


def chinese_label(period: Period) -> str:
    """What the SMS names (its template is Chinese): 2026年第四季度."""
    return f"{period.first.year}年第{QUARTER_WORDS[(period.first.month - 1) // 3]}季度"


async def publish(db: AsyncSession, *, tenant_id: int, tenant_name: str, slug: str, actor_id: int, key: str,
                  tz: ZoneInfo, now: datetime, client_addr: str | None = None) -> PointsPublication:
    period = quarter(key, now.astimezone(tz).date())
    figures = await compute(db, tenant_id, period, tz)
    if not figures:
        raise Refusal(NOBODY)
    publication_id = await db.scalar(
        insert(PointsPublication).values(tenant_id=tenant_id, period=period.key, deputies=len(figures),
                                         published_by=actor_id, published_at=now)
        .on_conflict_do_nothing(index_elements=["tenant_id", "period"]).returning(PointsPublication.id))
    if publication_id is None:
        raise Refusal(ALREADY_PUBLISHED, period=period.key)
    # Rows as parameters (SQLAlchemy batches them, 1,000 a statement), not one VALUES list: at seven
    # arguments a row that would pass asyncpg's 32,767 from 4,682 deputies on.
    await db.execute(insert(PublishedPoints), [
        dict(tenant_id=tenant_id, publication_id=publication_id, deputy_id=d.deputy_id, points=d.points, rank=d.rank,
             peers=d.peers, ranked_in=(d.ranked_in or tenant_name)[:100]) for d in figures.values()])
    await _tell(db, tenant_id, tenant_name, slug, period, figures, now)
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="points_published",
                 target=f"points_publication:{publication_id}", client_addr=client_addr,
                 details={"period": period.key, "deputies": len(figures)})
    return await db.get(PointsPublication, (tenant_id, publication_id))


async def _tell(db: AsyncSession, tenant_id: int, tenant_name: str, slug: str, period: Period, figures: dict,
                now: datetime) -> None:
    """One message per deputy, each with their own figures: one notify call (one outbox statement) per
    kind of message, whatever the number of deputies. Only a deputy with an account gets the link
    (see the module)."""
    config = await notify_settings(db, tenant_id)
    link = await short_code(db, tenant_id, f"/t/{slug}/points/mine", now=now)
    recipients = await outbox.deputies(db, tenant_id, list(figures), config=config)
    label = chinese_label(period)

    def params(r) -> dict:
        d = figures[r.deputy_id]
        own = {"period": label, "points": str(d.points), "rank": d.rank, "peers": d.peers,
               "group": d.ranked_in or tenant_name}
        return {**own, "link": link} if r.user_id else own

    for kind, people in ((KIND, [r for r in recipients if r.user_id]),
                         (KIND_NO_ACCOUNT, [r for r in recipients if not r.user_id])):
        await outbox.notify(db, tenant_id=tenant_id, kind=kind, subject=f"points:{period.key}", recipients=people,
                            due_at=now, now=now, config=config, params=params)


async def publications(db: AsyncSession, tenant_id: int) -> list[PointsPublication]:
    return list((await db.scalars(select(PointsPublication).where(PointsPublication.tenant_id == tenant_id)
                                  .order_by(PointsPublication.period.desc()))).all())


async def published_for(db: AsyncSession, tenant_id: int, period_key: str) -> PointsPublication | None:
    return await db.scalar(select(PointsPublication).where(PointsPublication.tenant_id == tenant_id,
                                                           PointsPublication.period == period_key))


async def deputy_figures(db: AsyncSession, tenant_id: int, deputy_id: int) -> list[tuple]:
    """A deputy's published quarters, newest first: (publication, figures)."""
    rows = await db.execute(
        select(PointsPublication, PublishedPoints)
        .join(PublishedPoints, (PublishedPoints.tenant_id == PointsPublication.tenant_id)
              & (PublishedPoints.publication_id == PointsPublication.id))
        .where(PointsPublication.tenant_id == tenant_id, PublishedPoints.deputy_id == deputy_id)
        .order_by(PointsPublication.period.desc()))
    return [tuple(r) for r in rows.all()]


async def request_correction(db: AsyncSession, *, tenant_id: int, actor_id: int, deputy_id: int,
                             publication_id: object, text: str, client_addr: str | None = None) -> PointsCorrection:
    """The deputy's own published figure only (anything else: NotFound)."""
    wanted = as_id(publication_id)
    figure = await db.scalar(select(PublishedPoints).where(
        PublishedPoints.tenant_id == tenant_id, PublishedPoints.publication_id == wanted,
        PublishedPoints.deputy_id == deputy_id)) if wanted else None
    if figure is None:
        raise NotFound()
    text = " ".join(str(text or "").split())
    if not text or len(text) > MAX_CORRECTION:
        raise Refusal(CORRECTION_TEXT_BAD, input_name="text", max=MAX_CORRECTION)
    correction = PointsCorrection(tenant_id=tenant_id, publication_id=figure.publication_id, deputy_id=deputy_id,
                                  text=text, filed_by=actor_id)
    db.add(correction)
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="points_correction_filed",
                 target=f"points_correction:{correction.id}", client_addr=client_addr,
                 details={"publication_id": figure.publication_id, "deputy_id": deputy_id})
    return correction


async def resolve_correction(db: AsyncSession, *, tenant_id: int, actor_id: int, correction: PointsCorrection,
                             resolution: str, answer: str, client_addr: str | None = None) -> None:
    if correction.status != "open":
        raise Refusal(ALREADY_RESOLVED)
    if resolution not in RESOLUTIONS:
        raise NotFound()
    answer = " ".join(str(answer or "").split())
    if not answer or len(answer) > MAX_CORRECTION:
        raise Refusal(ANSWER_BAD, input_name="answer", max=MAX_CORRECTION)
    correction.status, correction.answer = resolution, answer
    correction.resolved_by, correction.resolved_at = actor_id, func.now()
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="points_correction_resolved",
                 target=f"points_correction:{correction.id}", client_addr=client_addr,
                 details={"resolution": resolution, "deputy_id": correction.deputy_id})


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


async def corrections(db: AsyncSession, tenant_id: int, *, status: str | None = None,
                      deputy_id: int | None = None) -> list[PointsCorrection]:
    query = select(PointsCorrection).where(PointsCorrection.tenant_id == tenant_id)
    if status is not None:
        query = query.where(PointsCorrection.status == status)
    if deputy_id is not None:
        query = query.where(PointsCorrection.deputy_id == deputy_id)
    return list((await db.scalars(query.order_by(PointsCorrection.id.desc()))).all())


async def open_corrections(db: AsyncSession, tenant_id: int) -> int:
    return await db.scalar(select(func.count()).select_from(PointsCorrection).where(
        PointsCorrection.tenant_id == tenant_id, PointsCorrection.status == "open")) or 0


async def correction_lines(db: AsyncSession, tenant_id: int) -> list[tuple]:
    """Every request, open ones first: (request, deputy's name, quarter, published points)."""
    rows = await db.execute(
        select(PointsCorrection, Deputy.name, PointsPublication.period, PublishedPoints.points)
        .join(PublishedPoints, (PublishedPoints.tenant_id == PointsCorrection.tenant_id)
              & (PublishedPoints.publication_id == PointsCorrection.publication_id)
              & (PublishedPoints.deputy_id == PointsCorrection.deputy_id))
        .join(PointsPublication, (PointsPublication.tenant_id == PointsCorrection.tenant_id)
              & (PointsPublication.id == PointsCorrection.publication_id))
        .join(Deputy, (Deputy.tenant_id == PointsCorrection.tenant_id) & (Deputy.id == PointsCorrection.deputy_id))
        .where(PointsCorrection.tenant_id == tenant_id)
        .order_by(PointsCorrection.status != "open", PointsCorrection.id.desc()))
    return [tuple(r) for r in rows.all()]


async def get_correction(db: AsyncSession, tenant_id: int, correction_id: object) -> PointsCorrection:
    wanted = as_id(correction_id)
    found = await db.scalar(select(PointsCorrection).where(PointsCorrection.tenant_id == tenant_id,
                                                           PointsCorrection.id == wanted)) if wanted else None
    if found is None:
        raise NotFound()
    return found
