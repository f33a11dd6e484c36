"""The county's case settings (county admins only): case categories and handling units (承办单位), two
coded lists (app.tenancy.coded_lists), the units' users, due-date rules, and the tenant's case settings
(tenant_config).

A category's or unit's code is its identity for presets (set when it is added, made up when not given,
never changed). A retired category keeps its cases and is no longer offered for new ones; a unit with
open cases cannot be retired. Due rules have no history: deleting one is allowed (audited).
Services audit and do not commit (the route does); refusals are Refusal, nothing written.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Membership, User
from app.audit.services import record
from app.cases.models import OPEN_WITH_UNIT, UNIT_KINDS, URGENCIES, Case, CaseCategory, DueRule
from app.tenancy.models import AdminNode, HandlingUnit
from app.core.db import MAX_ID, as_id
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.tenancy import coded_lists
from app.tenancy.coded_lists import Audit, CodedList, Messages
from app.stations.profile import BAD_PHONE
from app.tenancy.config import config_row

# The case keys of the county's settings, with the ranges the database enforces (migrations 0005, 0023).
CASE_CONFIG_RANGES = {
    "case_reply_days": (1, 365),
    "case_feedback_days": (1, 365),
    "case_rehandle_limit": (0, 5),
    "public_limit_per_client": (1, 1000),
    "public_limit_per_station": (1, 100000),
    "case_rating_days": (1, 365),  # migration 0023
}
# Which levels each kind of unit may be at (the settings form checks the same).
KIND_LEVELS = {"township_office": ("township",), "village_committee": ("township",),
               "county_department": ("county",), "other": ("township", "county")}
RULE_LEVELS = ("township", "county")
UNIT_KIND_BAD = lazy("Please choose the kind of handling unit.")
UNIT_CONTACT_MAX = 40
UNIT_CONTACT_TOO_LONG = lazy("The contact person's name is at most %(max)s characters.")
UNIT_LEVEL_BAD = lazy("Township offices and village committees handle township matters, county government "
                      "departments county matters: please choose a level that fits the kind.")
UNIT_NODE_REQUIRED = lazy("A township-level handling unit needs its township or village: choose it in the tree.")
UNIT_NODE_COUNTY = lazy("A county-level handling unit has no township or village: leave the place empty.")
UNIT_OPEN_CASES = lazy("%(n)s open cases are assigned to this handling unit: have them reassigned or "
                       "replied to before retiring it.")
MEMBER_NOT_UNIT_USER = lazy("Choose a member with the role “handling unit” from the list.")
RETIRED_UNIT_USERS = lazy("A retired handling unit gets no new users.")
RULE_LEVEL_BAD = lazy("Please choose the level of the rule from the list.")
RULE_CATEGORY_BAD = lazy("Please choose a case category in use, or any category.")
RULE_URGENCY_BAD = lazy("Please choose the urgency of the rule from the list.")
RULE_DAYS_BAD = lazy("Days to reply and days to feed back are whole numbers from 1 to 365.")
RULE_TAKEN = lazy("A rule for this level, category and urgency exists already: delete it first.")
SETTING_ERRORS = {
    "case_reply_days": lazy("The default days to reply are a whole number from 1 to 365."),
    "case_feedback_days": lazy("The default days to feed back are a whole number from 1 to 365."),
    "case_rehandle_limit": lazy("An unsatisfied answer may be sent back for re-handling 0 to 5 times."),
    "public_limit_per_client": lazy("The hourly limit per person is a whole number from 1 to 1000."),
    "public_limit_per_station": lazy("The hourly limit per station is a whole number from 1 to 100000."),
    "case_rating_days": lazy("The period in which the person may rate an answer is a whole number of days from "
                             "1 to 365."),
}


# --- categories ------------------------------------------------------------------------------------

CASE_CATEGORIES = CodedList(
    model=CaseCategory,
    code_prefix="own",
    messages=Messages(
        name_required=lazy("The name of the case category is required (at most 40 characters)."),
        name_taken=lazy("Another case category is already called “%(name)s”."),
        code_taken=lazy("Another case category already has the code “%(code)s”."),
        already_retired=lazy("This case category is already retired."),
    ),
    audit=Audit(target="case_category", added="case_category_saved", changed="case_category_saved",
                retired="case_category_retired", saved_details=("code", "name", "sort", "added"),
                retired_details=("code", "name")),
)


@dataclass
class CategoryLine:
    category: CaseCategory
    cases: int


async def list_categories(db: AsyncSession) -> list[CategoryLine]:
    """In use first, by order, with how many cases each has: two queries."""
    rows = await coded_lists.items(db, CASE_CATEGORIES)
    used = dict((await db.execute(select(Case.category_id, func.count()).group_by(Case.category_id))).all())
    return [CategoryLine(c, used.get(c.id, 0)) for c in rows]


async def save_category(db: AsyncSession, *, tenant_id: int, actor_id: int, category: CaseCategory | None, name: str,
                        sort: str, code: str = "", client_addr: str | None = None) -> CaseCategory:
    """Add (``category`` None) or rename and reorder a category."""
    return await coded_lists.save(db, CASE_CATEGORIES, tenant_id=tenant_id, actor_id=actor_id, item=category,
                                  values={"name": name, "sort": sort, "code": code}, client_addr=client_addr)


# --- handling units --------------------------------------------------------------------------------


async def _unit_fields(db: AsyncSession, values: dict) -> dict:
    """A unit's kind, the level of the matters it handles (one its kind may have), its place and whom
    staff call there (name and phone: what the unit import writes too)."""
    kind, level = values.get("kind"), values.get("level")
    if kind not in UNIT_KINDS:
        raise Refusal(UNIT_KIND_BAD)
    if level not in KIND_LEVELS[kind]:
        raise Refusal(UNIT_LEVEL_BAD)
    contact_name = " ".join(str(values.get("contact_name") or "").split())
    if len(contact_name) > UNIT_CONTACT_MAX:
        raise Refusal(UNIT_CONTACT_TOO_LONG, max=UNIT_CONTACT_MAX)
    contact_phone = str(values.get("contact_phone") or "").strip()
    if len(contact_phone) > 20 or not all(c.isdigit() or c in " -" for c in contact_phone):
        raise Refusal(BAD_PHONE)
    return {"kind": kind, "level": level, "node_id": await _unit_node(db, level, values.get("node", "")),
            "contact_name": contact_name, "contact_phone": contact_phone}


async def _unit_node(db: AsyncSession, level: str, node: str) -> int | None:
    text = str(node or "").strip()
    if level == "county":
        if text:
            raise Refusal(UNIT_NODE_COUNTY)
        return None
    if not text.isdigit() or not 0 < int(text) <= MAX_ID:
        raise Refusal(UNIT_NODE_REQUIRED)
    found = await db.scalar(select(AdminNode.id).where(AdminNode.id == int(text), AdminNode.parent_id.is_not(None),
                                                       AdminNode.retired_at.is_(None)))
    if found is None:
        raise Refusal(UNIT_NODE_REQUIRED)
    return found


async def _open_cases_wait(db: AsyncSession, unit: HandlingUnit) -> None:
    """Refused while cases wait for the unit's reply; its users keep their accounts."""
    waiting = (await open_cases(db, unit.id)).get(unit.id, 0)
    if waiting:
        raise Refusal(UNIT_OPEN_CASES, n=waiting)


HANDLING_UNITS = CodedList(
    model=HandlingUnit,
    name_max=80,
    code_prefix="unit",
    messages=Messages(
        name_required=lazy("The name of the handling unit is required (at most 80 characters)."),
        name_taken=lazy("Another handling unit is already called “%(name)s”."),
        code_taken=lazy("Another handling unit already has the code “%(code)s”."),
        already_retired=lazy("This handling unit is already retired."),
    ),
    audit=Audit(target="handling_unit", added="handling_unit_saved", changed="handling_unit_saved",
                retired="handling_unit_retired",
                saved_details=("code", "name", "kind", "level", "node_id", "contact_name", "contact_phone", "sort",
                               "added"),
                retired_details=("code", "name")),
    check=_unit_fields,
    in_use=_open_cases_wait,
)


@dataclass
class UnitLine:
    unit: HandlingUnit
    node_name: str | None
    users: int
    open_cases: int


async def list_units(db: AsyncSession, tenant_id: int) -> list[UnitLine]:
    """In use first, county level first, by order, with their place, users and open cases: three queries."""
    rows = (await db.execute(
        select(HandlingUnit, AdminNode.name)
        .outerjoin(AdminNode, and_(AdminNode.tenant_id == HandlingUnit.tenant_id, AdminNode.id == HandlingUnit.node_id))
        .order_by(HandlingUnit.retired_at.is_not(None), HandlingUnit.level.desc(), HandlingUnit.sort, HandlingUnit.id)
    )).all()
    users = dict((await db.execute(
        select(Membership.handling_unit_id, func.count()).where(
            Membership.tenant_id == tenant_id, Membership.role == "handling_unit", Membership.revoked_at.is_(None))
        .group_by(Membership.handling_unit_id))).all())
    waiting = await open_cases(db)
    return [UnitLine(u, name, users.get(u.id, 0), waiting.get(u.id, 0)) for u, name in rows]


async def open_cases(db: AsyncSession, unit_id: int | None = None) -> dict[int, int]:
    query = select(Case.handling_unit_id, func.count()).where(Case.state.in_(OPEN_WITH_UNIT))
    if unit_id is not None:
        query = query.where(Case.handling_unit_id == unit_id)
    return dict((await db.execute(query.group_by(Case.handling_unit_id))).all())


async def get_unit(db: AsyncSession, unit_id: int) -> HandlingUnit:
    return await coded_lists.get(db, HANDLING_UNITS, unit_id)


async def unit_nodes(db: AsyncSession) -> list[AdminNode]:
    """The places a township-level unit may be at: every live node below the county, in tree order."""
    return list((await db.scalars(select(AdminNode).where(AdminNode.parent_id.is_not(None),
                                                          AdminNode.retired_at.is_(None))
                                  .order_by(AdminNode.path))).all())


async def save_unit(db: AsyncSession, *, tenant_id: int, actor_id: int, unit: HandlingUnit | None, name: str,
                    kind: str, level: str, node: str, sort: str, code: str = "",
                    client_addr: str | None = None) -> HandlingUnit:
    """Add (``unit`` None) or change a handling unit: name, kind, level, place, order."""
    values = {"name": name, "kind": kind, "level": level, "node": node, "sort": sort, "code": code}
    return await coded_lists.save(db, HANDLING_UNITS, tenant_id=tenant_id, actor_id=actor_id, item=unit,
                                  values=values, client_addr=client_addr)


async def unit_users(db: AsyncSession, tenant_id: int, unit_id: int) -> list[tuple[Membership, User]]:
    rows = await db.execute(
        select(Membership, User).join(User, User.id == Membership.user_id)
        .where(Membership.tenant_id == tenant_id, Membership.role == "handling_unit",
               Membership.handling_unit_id == unit_id, Membership.revoked_at.is_(None))
        .order_by(User.display_name, Membership.id))
    return [(m, u) for m, u in rows.all()]


async def other_unit_users(db: AsyncSession, tenant_id: int, unit_id: int) -> list[tuple[Membership, User]]:
    """Members with the role "handling unit" not (yet) of this unit: who may be moved to it."""
    rows = await db.execute(
        select(Membership, User).join(User, User.id == Membership.user_id)
        .where(Membership.tenant_id == tenant_id, Membership.role == "handling_unit",
               Membership.revoked_at.is_(None),
               (Membership.handling_unit_id != unit_id) | Membership.handling_unit_id.is_(None))
        .order_by(User.display_name, Membership.id))
    return [(m, u) for m, u in rows.all()]


async def set_member_unit(db: AsyncSession, *, tenant_id: int, actor_id: int, unit: HandlingUnit, membership_id: str,
                          client_addr: str | None = None) -> Membership:
    """Make an existing member with the role "handling unit" a user of this unit."""
    if unit.retired_at is not None:
        raise Refusal(RETIRED_UNIT_USERS)
    text = str(membership_id or "").strip()
    member = None
    if text.isdigit() and 0 < int(text) <= MAX_ID:
        member = await db.scalar(select(Membership).where(
            Membership.tenant_id == tenant_id, Membership.id == int(text), Membership.role == "handling_unit",
            Membership.revoked_at.is_(None)))
    if member is None:
        raise Refusal(MEMBER_NOT_UNIT_USER)
    before = member.handling_unit_id
    member.handling_unit_id = unit.id
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="member_unit_set",
                 target=f"membership:{member.id}", client_addr=client_addr,
                 details={"handling_unit_id": unit.id, "before": before})
    return member


# --- due rules and settings ------------------------------------------------------------------------


@dataclass
class RuleLine:
    rule: DueRule
    category_name: str | None


async def list_rules(db: AsyncSession) -> list[RuleLine]:
    rows = (await db.execute(
        select(DueRule, CaseCategory.name)
        .outerjoin(CaseCategory, and_(CaseCategory.tenant_id == DueRule.tenant_id, CaseCategory.id == DueRule.category_id))
        .order_by(DueRule.level.nulls_first(), CaseCategory.sort.nulls_first(), DueRule.urgency.nulls_first(),
                  DueRule.id))).all()
    return [RuleLine(r, name) for r, name in rows]


def _days(text: str) -> int:
    text = str(text or "").strip()
    if not text.isdigit() or not 1 <= int(text) <= 365:
        raise Refusal(RULE_DAYS_BAD)
    return int(text)


async def add_rule(db: AsyncSession, *, tenant_id: int, actor_id: int, level: str, category: str, urgency: str,
                   reply_days: str, feedback_days: str, working_days: bool,
                   client_addr: str | None = None) -> DueRule:
    """A rule; "" for level, category or urgency means any. One rule per (level, category, urgency)."""
    if level not in ("", *RULE_LEVELS):
        raise Refusal(RULE_LEVEL_BAD)
    if urgency not in ("", *URGENCIES):
        raise Refusal(RULE_URGENCY_BAD)
    category_id = None
    if category:
        ok = category.isdigit() and 0 < int(category) <= MAX_ID
        category_id = await db.scalar(select(CaseCategory.id).where(
            CaseCategory.id == int(category), CaseCategory.retired_at.is_(None))) if ok else None
        if category_id is None:
            raise Refusal(RULE_CATEGORY_BAD)
    reply, feedback = _days(reply_days), _days(feedback_days)
    identity = (DueRule.level.is_(None) if not level else DueRule.level == level,
                DueRule.category_id.is_(None) if category_id is None else DueRule.category_id == category_id,
                DueRule.urgency.is_(None) if not urgency else DueRule.urgency == urgency)
    if await db.scalar(select(DueRule.id).where(*identity).limit(1)) is not None:
        raise Refusal(RULE_TAKEN)
    rule = DueRule(tenant_id=tenant_id, level=level or None, category_id=category_id, urgency=urgency or None,
                   reply_days=reply, feedback_days=feedback, working_days=bool(working_days))
    db.add(rule)
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="due_rule_added",
                 target=f"due_rule:{rule.id}", client_addr=client_addr, details=_rule_details(rule))
    return rule


def _rule_details(rule: DueRule) -> dict:
    return {"level": rule.level, "category_id": rule.category_id, "urgency": rule.urgency,
            "reply_days": rule.reply_days, "feedback_days": rule.feedback_days, "working_days": rule.working_days}


async def get_rule(db: AsyncSession, rule_id: int) -> DueRule:
    wanted = as_id(rule_id)
    rule = await db.scalar(select(DueRule).where(DueRule.id == wanted)) if wanted else None
    if rule is None:
        raise NotFound()
    return rule


async def delete_rule(db: AsyncSession, *, tenant_id: int, actor_id: int, rule: DueRule,
                      client_addr: str | None = None) -> None:
    """Cases keep the due dates they were given; new ones follow the remaining rules."""
    details = _rule_details(rule)
    await db.delete(rule)
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="due_rule_deleted",
                 target=f"due_rule:{rule.id}", client_addr=client_addr, details=details)


def parse_settings(values: dict) -> dict[str, int]:
    """The case settings from the form; Refusal naming the first one out of range."""
    out = {}
    for key, (low, high) in CASE_CONFIG_RANGES.items():
        text = str(values.get(key, "")).strip()
        if not text.isdigit() or not low <= int(text) <= high:
            raise Refusal(SETTING_ERRORS[key])
        out[key] = int(text)
    return out


async def save_settings(db: AsyncSession, *, tenant_id: int, actor_id: int, values: dict,
                        client_addr: str | None = None) -> None:
    settings = parse_settings(values)
    row = await config_row(db, tenant_id)
    for key, value in settings.items():
        setattr(row, key, value)
    row.updated_at = func.now()
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="case_settings_saved",
                 target="tenant_config", client_addr=client_addr, details=settings)
