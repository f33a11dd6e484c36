"""Spreadsheet export of deputies and rosters: the import's columns, in the member's scope, with
mobile numbers and addresses masked (an export is a list), written by ``app.core.spreadsheets``
(which guards against formula injection). Templates for the import are the same writers with no rows."""

from __future__ import annotations

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import spreadsheets
from app.core.security import mask_mobile
from app.deputies.access import deputies_in_scope
from app.deputies.import_files import COLUMNS, LEVEL_WORDS
from app.deputies.models import Deputy, DeputyGroup, Mandate, RosterEntry, StationDeputy
from app.deputies.roster import mask_address
from app.stations.models import Station
from app.tenancy.scope import Scope

# Who may download the deputies export (the deputies of their list, masked).
EXPORT_ROLES = ("county_admin", "viewer", "township_staff", "station_staff")
SHEET_TITLES = {"deputies": "人大代表", "roster": "联系选民花名册"}


def headers(kind: str, template: bool = False) -> list[str]:
    return [c.template_header if template else c.header for c in COLUMNS[kind]]


def render(kind: str, fmt: str, rows: list[list], template: bool = False, encoding: str = "utf-8") -> bytes:
    """``encoding``: the CSV's (``spreadsheets.csv_encoding`` of the request's ``?encoding=``)."""
    return spreadsheets.write(fmt, headers(kind, template), rows, SHEET_TITLES[kind], encoding=encoding)


async def deputy_rows(db: AsyncSession, scope: Scope) -> list[list]:
    """One row per mandate (a deputy sitting at two levels has two rows), in one query; the serving
    deputies of the member's list (`access.deputies_in_scope`, the same filter as the list pages)."""
    stations = (
        select(func.string_agg(Station.name, "、").label("names"))
        .select_from(StationDeputy)
        .join(Station, and_(Station.tenant_id == StationDeputy.tenant_id, Station.id == StationDeputy.station_id))
        .where(StationDeputy.tenant_id == Deputy.tenant_id, StationDeputy.deputy_id == Deputy.id,
               StationDeputy.ended_at.is_(None))
        .scalar_subquery()
    )
    query = (
        select(Deputy.name, Mandate.level, Mandate.term, Mandate.direct, Mandate.constituency, DeputyGroup.name,
               Deputy.occupation, Deputy.work_unit, Deputy.mobile, stations)
        .outerjoin(Mandate, and_(Mandate.tenant_id == Deputy.tenant_id, Mandate.deputy_id == Deputy.id))
        .outerjoin(DeputyGroup, and_(DeputyGroup.tenant_id == Deputy.tenant_id, DeputyGroup.id == Deputy.group_id))
        .where(deputies_in_scope(scope), Deputy.status == "active")
        .order_by(Deputy.name, Deputy.id, Mandate.id)
    )
    out = []
    for name, level, term, direct, constituency, group, occupation, work_unit, mobile, station in await db.execute(query):
        out.append([
            name, LEVEL_WORDS.get(level or "", ""), term, "" if direct is None else ("直接" if direct else "间接"),
            constituency or "", group or "", occupation, work_unit, mask_mobile(mobile), station or "",
        ])
    return out


async def roster_rows(db: AsyncSession, deputy: Deputy) -> list[list]:
    entries = (await db.scalars(
        select(RosterEntry).where(RosterEntry.deputy_id == deputy.id, RosterEntry.retired_at.is_(None))
        .order_by(RosterEntry.name, RosterEntry.id)
    )).all()
    return [
        [deputy.name, e.name, e.age, e.education, mask_address(e.address), e.work_unit, mask_mobile(e.mobile), e.note]
        for e in entries
    ]
