"""What a spreadsheet import can hold: each kind's name, who may import it, how its rows are checked
and how the checked rows are written. The job machinery (app.deputies.imports) is the same for all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.i18n import lazy
from app.deputies import import_places, import_stations
from app.deputies.import_checks import Checked, check_upload
from app.deputies.models import Deputy, Mandate, RosterEntry, StationDeputy
from app.tenancy.scope import Scope

# Who may import deputies and rosters (and the stations of their township): also the roles that see
# the import pages at all.
IMPORT_ROLES = ("county_admin", "township_staff")


@dataclass(frozen=True)
class JobContext:
    tenant_id: int
    actor_id: int | None


@dataclass(frozen=True)
class ImportKind:
    code: str
    name: str  # msgid
    roles: tuple[str, ...]
    # (db, tenant id, scope, file, file name) → every row checked; Refusal for a file that cannot be read
    check: Callable[[AsyncSession, int, Scope, bytes, str], Awaitable[Checked]]
    # writes a batch of checked rows, inside the job's one transaction
    insert: Callable[[AsyncSession, JobContext, list[tuple[int, dict]]], Awaitable[None]]
    # how many file rows a batch stands for (a deputy is one row per mandate)
    rows_of: Callable[[list[tuple[int, dict]]], int] = len
    # the sheet's title in the template (and the template's file name, with 导入模板)
    sheet: str = ""


async def _insert_deputies(db: AsyncSession, job: JobContext, rows: list[tuple[int, dict]]) -> None:
    # One multi-row INSERT per batch of deputies (each with all its mandates); the new ids are matched
    # back by (name, mobile), which the checks made unique in the file and in the tenant (so
    # RETURNING's order does not matter).
    tenant_id = job.tenant_id
    returned = await db.execute(
        insert(Deputy).values([
            {"tenant_id": tenant_id, "name": v["name"], "group_id": v["group_id"], "occupation": v["occupation"],
             "work_unit": v["work_unit"], "mobile": v["mobile"], "status": "active"} for _, v in rows
        ]).returning(Deputy.id, Deputy.name, Deputy.mobile)
    )
    ids = {(name, mobile or ""): did for did, name, mobile in returned}
    pairs = [(ids[(v["name"], v["mobile"] or "")], v) for _, v in rows]
    await db.execute(insert(Mandate), [
        {"tenant_id": tenant_id, "deputy_id": did, "level": m["level"], "term": m["term"], "direct": m["direct"],
         "constituency_node_id": m["constituency_node_id"], "constituency": m["constituency"]}
        for did, v in pairs for m in v["mandates"]
    ])
    stationed = [{"tenant_id": tenant_id, "station_id": sid, "deputy_id": did}
                 for did, v in pairs for sid in v["station_ids"]]
    if stationed:
        await db.execute(insert(StationDeputy), stationed)


async def _insert_roster(db: AsyncSession, job: JobContext, rows: list[tuple[int, dict]]) -> None:
    await db.execute(insert(RosterEntry), [{"tenant_id": job.tenant_id, **v} for _, v in rows])


def _mandate_rows(items: list[tuple[int, dict]]) -> int:
    return sum(len(v["mandates"]) for _, v in items)


def _checker(kind: str):
    async def check(db: AsyncSession, tenant_id: int, scope: Scope, data: bytes, filename: str) -> Checked:
        return await check_upload(db, scope, kind, data, filename)
    return check


KINDS: dict[str, ImportKind] = {kind.code: kind for kind in (
    ImportKind("tree", lazy("Townships and villages"), ("county_admin",), import_places.check_tree,
               import_places.insert_tree, sheet="行政区划"),
    ImportKind("stations", lazy("Homes and stations"), IMPORT_ROLES, import_stations.check_stations,
               import_stations.insert_stations, sheet="代表之家和联络站"),
    ImportKind("units", lazy("Handling units"), ("county_admin",), import_stations.check_units,
               import_stations.insert_units, sheet="承办单位"),
    ImportKind("deputies", lazy("Deputies list"), IMPORT_ROLES, _checker("deputies"), _insert_deputies,
               _mandate_rows, sheet="人大代表"),
    ImportKind("roster", lazy("Contact rosters"), IMPORT_ROLES, _checker("roster"), _insert_roster,
               sheet="联系选民花名册"),
)}
TEMPLATE_NAMES = {"deputies": "人大代表导入模板", "roster": "联系选民花名册导入模板", "tree": "行政区划导入模板",
                  "stations": "代表之家和联络站导入模板", "units": "承办单位导入模板"}


def kinds_for(role: str) -> list[ImportKind]:
    return [kind for kind in KINDS.values() if role in kind.roles]
