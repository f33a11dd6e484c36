"""Who may read what on the public pages: nobody signs in, so access is the record's own state.

A tenant that is unknown, pending or suspended, a station that is not in operation (proposed,
approved, filed, closed), a station id of another tenant, and an image that hangs on nothing public
all answer the same ordinary 404. Reads go through a session bound to the tenant (RLS applies) and
never write.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from litestar import Request
from sqlalchemy import String, cast, exists, func, literal_column, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import MAX_ID, first_statement_binds, note_bound
from app.core.errors import NotFound
from app.core.images import StoredImage
from app.deputies.models import Deputy, StationDeputy
from app.stations.models import Station
from app.tenancy.models import Tenant


@asynccontextmanager
async def public_tenant(request: Request, slug: str, *, writes: bool = False
                        ) -> AsyncIterator[tuple[Tenant, AsyncSession]]:
    """The active tenant by its slug and a session bound to it (else the ordinary 404). A page reads
    only: leaving the block closes the session, which rolls back whatever happened and detaches the
    loaded rows (still readable by the template). A form that ``writes`` commits when its block ends
    without an exception (a refused change was rolled back by ``attempt``)."""
    async with request.app.state.db.session() as db:
        tenant = await active_tenant(db, slug)
        yield tenant, db
        if writes:
            await db.commit()


# The tenant and the binding in one statement (tenants is a platform table, outside row-level
# security): a found tenant binds the transaction to itself, a missing one binds nothing (fail closed).
_ACTIVE_TENANT = select(
    Tenant,
    func.set_config("app.tenant_id", cast(Tenant.id, String), true()).label("bound_tenant"),
    func.set_config("app.user_id", literal_column("''"), true()).label("bound_user"),
).where(Tenant.status == "active")


async def active_tenant(db: AsyncSession, slug: str) -> Tenant:
    """The active tenant by its slug (else the ordinary 404), the session bound to it by the same
    statement when it is the transaction's first (else bound after it): the pages' reads follow in it
    (one transaction, one round trip before them). The tenant row stays readable by the template after
    the session closes."""
    if not db.in_transaction():
        first_statement_binds(db)
    row = (await db.execute(_ACTIVE_TENANT.where(Tenant.slug == slug[:40]))).first()
    if row is None:
        raise NotFound()
    tenant = row[0]
    db.expunge(tenant)
    await note_bound(db, tenant.id, None)
    return tenant


def valid_id(record_id: int) -> None:
    if not 0 < record_id <= MAX_ID:
        raise NotFound()


async def public_station(db: AsyncSession, station_id: int) -> Station:
    """A station in operation, or the ordinary 404."""
    valid_id(station_id)
    station = await db.scalar(select(Station).where(Station.id == station_id, Station.status == "active"))
    if station is None:
        raise NotFound()
    return station


def stationed_deputies_filter():
    """Deputies who appear on public pages: serving, with an open assignment at a station in operation."""
    return exists().where(
        StationDeputy.tenant_id == Deputy.tenant_id,
        StationDeputy.deputy_id == Deputy.id,
        StationDeputy.ended_at.is_(None),
        Station.tenant_id == StationDeputy.tenant_id,
        Station.id == StationDeputy.station_id,
        Station.status == "active",
    ) & (Deputy.status == "active")


async def public_image(db: AsyncSession, image_id: int) -> StoredImage:
    """An image that is the photo of a station in operation or of a deputy shown on one, else 404."""
    valid_id(image_id)
    station_photo = exists().where(
        Station.tenant_id == StoredImage.tenant_id, Station.photo_id == StoredImage.id, Station.status == "active",
    )
    deputy_photo = (
        select(Deputy.id)
        .where(Deputy.tenant_id == StoredImage.tenant_id, Deputy.photo_id == StoredImage.id,
               stationed_deputies_filter())
        .exists()
    )
    image = await db.scalar(
        select(StoredImage).where(StoredImage.id == image_id, or_(station_photo, deputy_photo))
    )
    if image is None:
        raise NotFound()
    return image
