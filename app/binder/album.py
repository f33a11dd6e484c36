"""The photo album of the station binder (照片册): the photos of the activities held at the binder's
stations in the year, by month (the activity's day in the tenant's zone), each with its caption (the
activity's topic when the photo has none), the activity's day, kind and station. One query, whatever
the number of photos; the stations are the caller's (``access.reach``), so a station's album holds only
its station's photos and a township's roll-up only its township's.

The images are the activities' thumbnails (≤ 40 KB WebP, at most 480 px a side, the only size kept for
every photo: ``app.core.images``), served by the activity's own photo route
(``/activities/{id}/photos/{photo}``). Its check (``activities.access.activity_filter``) admits exactly
the binder's readers for the stations in their reach — county admins and viewers everywhere, township
staff their subtree, station staff their station — so the album needs no image route of its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import and_
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import Activity, ActivityPhoto
from app.binder import registers
from app.binder.parts import ROWS_TEMPLATE, Binding, Section
from app.core import spreadsheets
from app.core.i18n import gettext, lazy
from app.core.images import StoredImage
from app.core.periods import MONTH_NAMES
from app.tenancy.models import Tenant

ALBUM = "album"  # its key: the page's address, the part's id in the print-out
TITLE = lazy("Photo album")
HEAD = (lazy("Month"), lazy("Date of the activity"), lazy("Station"), lazy("Activity"), lazy("Photo caption"),
        lazy("Address of the photo"))
TEMPLATE = "binder/_album.html"  # the months and their photos, on the page and in the whole binder


@dataclass
class AlbumLine:
    activity_id: int
    photo_id: int
    day: date  # the activity's, in the tenant's zone
    station: str
    kind: str
    topic: str
    caption: str  # the photo's own, else the activity's topic
    width: int  # the thumbnail's, so that the page keeps its place before the image arrives
    height: int
    link: str  # the photo's address: /t/<slug>/activities/<id>/photos/<id>

    @property
    def month(self) -> int:
        return self.day.month

    @property
    def month_name(self) -> str:
        return gettext(MONTH_NAMES[self.day.month - 1])


def cells(line: AlbumLine) -> list:
    return [line.month_name, line.day, line.station, line.topic, line.caption, line.link]


async def photos(db: AsyncSession, station_ids: list[int], year: int, tz: str) -> list[AlbumLine]:
    """The album's photos in the activities' order (then the order they were added): one query. The
    activities are those the registers list (held, at these stations, in the year: ``registers``)."""
    zone = ZoneInfo(tz)
    query = (
        registers.held_activities(station_ids, year, tz, None, ActivityPhoto.id, ActivityPhoto.caption,
                              StoredImage.width, StoredImage.height, Tenant.slug)
        .join(ActivityPhoto, and_(ActivityPhoto.tenant_id == Activity.tenant_id,
                                  ActivityPhoto.activity_id == Activity.id))
        .join(StoredImage, and_(StoredImage.tenant_id == ActivityPhoto.tenant_id,
                                StoredImage.id == ActivityPhoto.image_id))
        .join(Tenant, Tenant.id == Activity.tenant_id)  # the slug, for the photo's address
        .order_by(ActivityPhoto.id)
    )
    out = []
    for aid, at, station, kind, topic, pid, caption, width, height, slug in await db.execute(query):
        out.append(AlbumLine(aid, pid, at.astimezone(zone).date(), station, kind, topic,
                             (caption or "").strip() or topic, width, height,
                             f"/t/{slug}/activities/{aid}/photos/{pid}"))
    return out


async def part(b: Binding) -> list[Section]:
    """The album as a part of the whole binder (``book.PARTS``): printed by its own template (months,
    photos in a grid), a sheet of its lines in the workbook (no image in it: the photo's address)."""
    lines = await photos(b.db, b.station_ids, b.year, b.tz)
    return [Section(ALBUM, TITLE, HEAD, lines, cells, ROWS_TEMPLATE, day_columns=(1,), part_template=TEMPLATE)]


def xlsx(lines: list[AlbumLine], tz) -> bytes:
    """The album's own download: one sheet, as the whole binder's."""
    return spreadsheets.to_xlsx([gettext(h) for h in HEAD], [cells(line) for line in lines], gettext(TITLE), tz=tz)
