"""The set-up checklist a new county's admin sees on the home page until the county is ready: the tree,
station kinds and naming, a first station in operation, deputies, rules, case categories and handling
units, reminder settings. Each step's state is read from the data, all in one statement; each links
to the page that does it. Once every step has been seen done, or the admin dismisses the list,
``tenant_config.setup_done_at`` is set and the list is not shown again (a county that later retires
its last rule is not sent back to its first day).

Above the domains it reads from (stations, deputies, rules, cases, the audit log)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from sqlalchemy import BigInteger, Select, bindparam, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import Rule
from app.audit.models import AuditEntry
from app.cases.models import CaseCategory
from app.core.i18n import lazy
from app.deputies.models import Deputy
from app.stations.models import Station, StationKind
from app.tenancy.config import config_row
from app.tenancy.models import AdminNode, HandlingUnit, TenantConfig

IMPORT = lazy("Import from a spreadsheet")
# (key, title, what to do, the page that does it (below /t/<slug>), another page and its link text)
STEPS = (
    ("tree", lazy("Townships and villages"),
     lazy("Build the administrative tree, or import it from a spreadsheet."), "/places",
     ("/imports?kind=tree", IMPORT)),
    ("kinds", lazy("Station kinds and naming rule"),
     lazy("Check the kinds of home and station, their naming rule and the forbidden words."), "/settings/kinds",
     ("/settings", lazy("Naming rule and forbidden words"))),
    ("stations", lazy("A first station in operation"),
     lazy("Set up homes and stations (or import them), and take one through to operation."), "/stations",
     ("/imports?kind=stations", IMPORT)),
    ("deputies", lazy("Deputies"), lazy("Enter the deputies, or import them from a spreadsheet."), "/deputies",
     ("/imports?kind=deputies", IMPORT)),
    ("rules", lazy("Activity rules"), lazy("Check the rules each station and deputy must meet."),
     "/settings/rules", None),
    ("cases", lazy("Case categories and handling units"),
     lazy("Check the categories of opinions and the units that handle them (units can be imported)."),
     "/settings/case-categories", ("/settings/handling-units", lazy("Handling units"))),
    ("reminders", lazy("Reminder settings"),
     lazy("Choose quiet hours, channels and when reminders go out, and save them."), "/settings/notifications",
     None),
)


@dataclass(frozen=True)
class Step:
    key: str
    title: str  # msgid
    hint: str  # msgid
    link: str
    second: tuple[str, str] | None  # (page, link text)
    done: bool


@dataclass(frozen=True)
class Setup:
    steps: list[Step]

    @property
    def done(self) -> int:
        return sum(step.done for step in self.steps)


def _any(model, tenant_id, *where):
    return exists().where(model.tenant_id == tenant_id, *where)


@cache
def _steps_statement() -> Select:
    """Built once (issue 20): the county's ``:tenant_id`` is its one value."""
    tenant_id = bindparam("tenant_id", type_=BigInteger)
    flag = (select(TenantConfig.setup_done_at).where(TenantConfig.tenant_id == tenant_id)
            .scalar_subquery())
    return select(
        flag,
        _any(AdminNode, tenant_id, AdminNode.parent_id.is_not(None), AdminNode.retired_at.is_(None)),
        _any(StationKind, tenant_id, StationKind.retired_at.is_(None)),
        _any(Station, tenant_id, Station.status == "active"),
        _any(Deputy, tenant_id, Deputy.status == "active"),
        _any(Rule, tenant_id, Rule.retired_at.is_(None)),
        _any(CaseCategory, tenant_id, CaseCategory.retired_at.is_(None))
        & _any(HandlingUnit, tenant_id, HandlingUnit.retired_at.is_(None)),
        # (audit_log_notify_saved, a partial index, answers this without reading the county's log)
        _any(AuditEntry, tenant_id, AuditEntry.action == "notify_settings_saved"),
    )


async def setup_steps(db: AsyncSession, tenant_id: int) -> Setup | None:
    """The checklist, or None once it is done or dismissed. One statement; when it finds every step
    done for the first time, one UPDATE marks the county as set up."""
    row = (await db.execute(_steps_statement(), {"tenant_id": tenant_id})).one()
    if row[0] is not None:
        return None
    setup = Setup(steps=[Step(key, title, hint, link, second, bool(done))
                         for (key, title, hint, link, second), done in zip(STEPS, row[1:])])
    if setup.done == len(STEPS):
        await mark_done(db, tenant_id)
        return None
    return setup


async def mark_done(db: AsyncSession, tenant_id: int) -> None:
    """The list is not shown again (every step done, or the admin dismissed it)."""
    await config_row(db, tenant_id)
    await db.flush()
    await db.execute(update(TenantConfig).where(TenantConfig.tenant_id == tenant_id,
                                                TenantConfig.setup_done_at.is_(None))
                     .values(setup_done_at=func.now()))
