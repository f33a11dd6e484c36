"""The county's duty settings (履职设置, tenant_config since 0029/0032): the thresholds a new appraisal
starts from, whether the county asks for a rectification report (整改报告) and how many days after
publishing it is due, what the stations' public pages show on the public appraisal board
(履职考评公开栏: nothing, the grades of the latest published appraisal, or this year's points), and
whether closed duty report meetings (述职评议) are shown there too.

``check`` is the one check of these values: the settings page and the presets' ``[appraisal]`` table
(app/presets/appraisal.py) both go through it. The columns are read and written with SQL Core on
``tenant_config`` (its model belongs to the tenancy package, which knows nothing of duties). Services
take the session and the acting member and do not commit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import column, func, select, table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.services import record
from app.core.clock import now
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.deputies.services import Actor

EDIT_ROLES = ("county_admin",)
BOARDS = ("off", "grades", "points")
BOARD_NAMES = {
    "off": lazy("Not shown"),
    "grades": lazy("Each deputy's grade in the latest published appraisal"),
    "points": lazy("Each deputy's points this year so far"),
}
DAYS_MIN, DAYS_MAX = 1, 365
FORM_KEYS = ("excellent", "pass", "rectification", "report_days", "public_board", "public_duty_reports")

NOT_ALLOWED = lazy("Only the county's administrators change the duty settings.")
BAD_THRESHOLDS = lazy("The thresholds are whole numbers: satisfactory from 1, below excellent, excellent at most 100.")
BAD_DAYS = lazy("The rectification report is due a whole number of days after publishing, from 1 to 365.")
BAD_BOARD = lazy("Choose from the list what the public appraisal board shows.")

# tenant_config's duty columns (migrations 0029 and 0032)
CONFIG = table("tenant_config", column("tenant_id"), column("appraisal_excellent"), column("appraisal_pass"),
               column("rectification_report"), column("rectification_days"), column("public_board"),
               column("public_duty_reports"), column("updated_at"))
COLUMNS = {"excellent": "appraisal_excellent", "pass_": "appraisal_pass", "rectification": "rectification_report",
           "report_days": "rectification_days", "public_board": "public_board",
           "public_duty_reports": "public_duty_reports"}


@dataclass(frozen=True)
class DutySettings:
    excellent: int = 90
    pass_: int = 80
    rectification: bool = True  # the county asks every deputy for a rectification report
    report_days: int = 30  # a new appraisal's report is due so many days after publishing
    public_board: str = "off"  # off | grades | points
    public_duty_reports: bool = False  # closed 述职评议 results on the public station pages

    def form(self) -> dict[str, str]:
        """The values as the settings form shows them (checkboxes "on" or "")."""
        return {"excellent": str(self.excellent), "pass": str(self.pass_),
                "rectification": "on" if self.rectification else "", "report_days": str(self.report_days),
                "public_board": self.public_board, "public_duty_reports": "on" if self.public_duty_reports else ""}

    def audit(self) -> dict:
        return asdict(self)


def _whole(value: object) -> int | None:
    text = str(value if value is not None else "").strip()
    return int(text) if text.isdigit() and len(text) <= 4 else None


def check_thresholds(excellent: object, pass_: object) -> tuple[int, int]:
    """(excellent, pass) as whole numbers with 1 <= pass < excellent <= 100, or Refusal."""
    e, p = _whole(excellent), _whole(pass_)
    if e is None or p is None:
        raise Refusal(BAD_THRESHOLDS, input_name="excellent" if e is None else "pass")
    if not 1 <= p < e <= 100:
        raise Refusal(BAD_THRESHOLDS, input_name="pass")
    return e, p


def check(values: dict) -> DutySettings:
    """The settings from the form's values (text; a checkbox is on when "on"), or Refusal."""
    e, p = check_thresholds(values.get("excellent"), values.get("pass"))
    days = _whole(values.get("report_days"))
    if days is None or not DAYS_MIN <= days <= DAYS_MAX:
        raise Refusal(BAD_DAYS, input_name="report_days")
    board = str(values.get("public_board") or "")
    if board not in BOARDS:
        raise Refusal(BAD_BOARD, input_name="public_board")
    return DutySettings(excellent=e, pass_=p, rectification=values.get("rectification") == "on", report_days=days,
                        public_board=board, public_duty_reports=values.get("public_duty_reports") == "on")


def public_choices(tenant_id: int):
    """(public_board, public_duty_reports) as two columns of another statement (the station page's first
    query, so the public page pays no query for them); a county without a config row has the defaults.
    `tenant_id` a value, not a column: on Citus a sub-query correlated by a column goes to every shard."""
    where = CONFIG.c.tenant_id == tenant_id
    return (func.coalesce(select(CONFIG.c.public_board).where(where).scalar_subquery(), DutySettings.public_board),
            func.coalesce(select(CONFIG.c.public_duty_reports).where(where).scalar_subquery(),
                          DutySettings.public_duty_reports))


async def duty_settings(db: AsyncSession, tenant_id: int) -> DutySettings:
    """The county's duty settings (the defaults where it saved none): one query."""
    row = (await db.execute(select(*(CONFIG.c[name] for name in COLUMNS.values()))
                            .where(CONFIG.c.tenant_id == tenant_id))).first()
    return DutySettings(**dict(zip(COLUMNS, row))) if row is not None else DutySettings()


async def write(db: AsyncSession, tenant_id: int, chosen: DutySettings) -> None:
    """Store the settings on the tenant's config row (added when the county has none yet)."""
    values = {name: getattr(chosen, field) for field, name in COLUMNS.items()}
    await db.execute(insert(CONFIG).values(tenant_id=tenant_id, **values)
                     # the time as a value: Citus refuses a non-immutable function in DO UPDATE SET
                     .on_conflict_do_update(index_elements=["tenant_id"], set_={**values, "updated_at": now()}))


async def save(db: AsyncSession, actor: Actor, values: dict) -> DutySettings:
    """Save the settings page: every value checked before anything is written; audited (before → after)."""
    if actor.scope.role not in EDIT_ROLES:
        raise Refusal(NOT_ALLOWED, status=403)
    chosen = check(values)
    before = await duty_settings(db, actor.tenant_id)
    await write(db, actor.tenant_id, chosen)
    await record(db, tenant_id=actor.tenant_id, actor_user_id=actor.user_id, action="duty_settings_saved",
                 target="tenant_config", client_addr=actor.client_addr,
                 details={"before": before.audit(), "after": chosen.audit()})
    return chosen
