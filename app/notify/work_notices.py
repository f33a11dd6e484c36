"""Notices of new work, written from the queue (app.notify.work): the first thing the sweep does for a
tenant (app.notify.sweep), in one transaction bound to it, so a new opinion is in the liaison
officer's inbox within one sweep (seconds) of the step that brought it.

For each queued item and each recipient (app.notify.work_recipients):
- in the inbox, always: one row per item (kind `work_*`, delivered at once) naming it and linking to
  its page — the case (a handling unit's row names it `#id`: units never see receipt codes) or the
  station;
- by SMS or e-mail, as the member and the county accept (`outbox.members`), and unless the county
  switched it off (`notify_work`): the item is counted into the recipient's digest of that kind
  (app.notify.digest), one message per half hour however many items come.

Items are taken `FOR UPDATE SKIP LOCKED` and deleted when written (two workers never write one twice;
a failure rolls back and they wait for the next sweep). An item whose case or station is gone, or a
station that has moved on meanwhile, tells nobody.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.codes import group_code
from app.cases.models import Case, CaseCategory
from app.cases.notices import case_number
from app.core.db import Database
from app.core.i18n import DEFAULT_LOCALE, LOCALES, catalogue
from app.notify import digest, outbox
from app.notify.config import NotifySettings, notify_settings
from app.notify.models import WorkNotice
from app.notify.short_links import short_codes
from app.notify.sms_templates import shorten
from app.notify.work_recipients import UNIT_KINDS, next_step, recipients
from app.stations.lifecycle import STEP_NAMES
from app.stations.models import Station
from app.tenancy.config import get_config
from app.tenancy.models import AdminNode, HandlingUnit, Tenant

log = logging.getLogger("lianluo.notify")

BATCH = 500  # items per pass; more wait for the next sweep
SUMMARY_MAX = 60  # characters of an opinion quoted in the inbox
INBOX_KINDS = {"new_case": "work_new_case", "case_assigned": "work_assigned", "case_sent_back": "work_sent_back",
               "case_supervised": "work_supervised", "station_waiting": "work_station"}


@dataclass
class Item:
    """What an inbox row says of one case or station, and where it leads."""

    path: str
    params: dict  # to staff
    unit_params: dict | None = None  # to a handling unit (a case's number, not its receipt code)
    step: str = ""  # a station's next step (a msgid, said in each recipient's language)

    def params_for(self, kind: str) -> dict:
        return self.unit_params if kind in UNIT_KINDS and self.unit_params is not None else self.params


async def expand(database: Database, tenant_id: int, *, now: datetime) -> int:
    """Write the queued notices of one tenant; returns how many items were taken."""
    async with database.transaction(tenant_id=tenant_id) as db:
        items = await _take(db, tenant_id)
        if items:
            await write(db, await notify_settings(db, tenant_id), items, now=now)
    if items:
        log.info("tenant %s: %s notices of new work", tenant_id, len(items))
    return len(items)


async def _take(db: AsyncSession, tenant_id: int) -> list[WorkNotice]:
    oldest = (select(WorkNotice.id).where(WorkNotice.tenant_id == tenant_id).order_by(WorkNotice.id).limit(BATCH)
              .with_for_update(skip_locked=True))
    taken = await db.scalars(delete(WorkNotice).where(WorkNotice.tenant_id == tenant_id, WorkNotice.id.in_(oldest))
                             .returning(WorkNotice).execution_options(synchronize_session=False))
    return sorted(taken.all(), key=lambda i: i.id)


async def write(db: AsyncSession, config: NotifySettings, items: list[WorkNotice], *, now: datetime) -> None:
    slug = await db.scalar(select(Tenant.slug).where(Tenant.id == config.tenant_id)) or ""
    found = {**await _cases(db, config.tenant_id, slug, items), **await _stations(db, config.tenant_id, slug, items)}
    who = await recipients(db, config, items)
    wanted = [i for i in items if i.subject in found and who.get(i.id)]
    codes = await short_codes(db, config.tenant_id, {found[i.subject].path for i in wanted}, now=now) if wanted else {}
    waiting: Counter = Counter()
    for item in wanted:
        what = found[item.subject]
        await _inbox(db, config, item, what, who[item.id], codes[what.path], now)
        for person in who[item.id]:
            waiting[person, item.kind] += 1
    if config.notify_work and waiting:
        await digest.add(db, config, slug, waiting, now)


async def _inbox(db: AsyncSession, config: NotifySettings, item: WorkNotice, what: Item, people: list, link: str,
                 now: datetime) -> None:
    by_locale = defaultdict(list)
    for person in people:
        by_locale[person.locale if person.locale in LOCALES else DEFAULT_LOCALE].append(person)
    for locale, group in by_locale.items():
        params = {**what.params_for(item.kind), "link": link}
        if what.step:
            params["step"] = catalogue(locale).get(what.step, what.step)
        await outbox.notify(db, tenant_id=config.tenant_id, kind=INBOX_KINDS[item.kind], subject=item.subject,
                            recipients=group, due_at=now, params=params, now=now, config=config)


async def _cases(db: AsyncSession, tenant_id: int, slug: str, items: list[WorkNotice]) -> dict[str, Item]:
    wanted = {i.case_id for i in items if i.case_id}
    if not wanted:
        return {}
    rows = await db.execute(
        select(Case, CaseCategory.name, HandlingUnit.name, Station.name, AdminNode.name)
        .outerjoin(CaseCategory, and_(CaseCategory.tenant_id == Case.tenant_id, CaseCategory.id == Case.category_id))
        .outerjoin(HandlingUnit, and_(HandlingUnit.tenant_id == Case.tenant_id,
                                      HandlingUnit.id == Case.handling_unit_id))
        .outerjoin(Station, and_(Station.tenant_id == Case.tenant_id, Station.id == Case.station_id))
        .outerjoin(AdminNode, and_(AdminNode.tenant_id == Case.tenant_id, AdminNode.id == Case.node_id))
        .where(Case.tenant_id == tenant_id, Case.id.in_(wanted)))
    out = {}
    for case, category, unit, station, place in rows:
        staff = {"place": station or place or "", "code": group_code(case.receipt_code),
                 "summary": shorten(" ".join(case.content.split()), SUMMARY_MAX)}
        unit_side = {"code": case_number(case.id), "category": category or "—", "unit": unit or "",
                     "due": case.reply_due.isoformat() if case.reply_due else "—"}
        out[f"case:{case.id}"] = Item(f"/t/{slug}/cases/{case.id}", staff, unit_side)
    return out


async def _stations(db: AsyncSession, tenant_id: int, slug: str, items: list[WorkNotice]) -> dict[str, Item]:
    wanted = {i.station_id: i for i in items if i.kind == "station_waiting"}
    if not wanted:
        return {}
    lifecycle = (await get_config(db, tenant_id)).lifecycle
    out = {}
    for station in await db.scalars(select(Station).where(Station.tenant_id == tenant_id, Station.id.in_(wanted))):
        step = next_step(lifecycle, station.status)
        if station.status == wanted[station.id].state and step:  # still waiting for it
            out[f"station:{station.id}"] = Item(f"/t/{slug}/stations/{station.id}", {"station": station.name},
                                                step=STEP_NAMES[step])
    return out
