"""The county's case settings (county admins only): case categories, handling units (承办单位) and
their users, due-date rules, and the tenant's case settings (tenant_config).

A category's or unit's code is its identity for presets (set when it is added, generated when not
given, never changed). A retired category keeps its cases and is no longer offered for new ones; a
unit with open cases cannot be retired. Due rules have no history: deleting one is allowed (audited).
Services audit and do not commit (the route does); refusals are Refusal, nothing written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Membership, User
from app.audit.services import record
from app.cases.models import OPEN_WITH_UNIT, UNIT_KINDS, URGENCIES, Case, CaseCategory, DueRule, HandlingUnit
from app.core.db import MAX_ID
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.tenancy.config import config_row
from app.tenancy.models import AdminNode
from app.tenancy.config import CODE_RE

# The case keys of the county's settings, with the ranges the database enforces (migration 0005).
CASE_CONFIG_RANGES = {
    "case_reply_days": (1, 365),
    "case_feedback_days": (1, 365),
    "case_rehandle_limit": (0, 5),
    "public_limit_per_client": (1, 1000),
    "public_limit_per_station": (1, 100000),
}
# Which levels each kind of unit may be at (the settings form checks the same).
KIND_LEVELS = {"township_office": ("township",), "village_committee": ("township",),
               "county_department": ("county",), "other": ("township", "county")}
RULE_LEVELS = ("township", "county")
CODE_BAD = lazy("The code uses lower-case letters, digits, “_” or “-” (at most 30).")
SORT_BAD = lazy("The order is a whole number.")
CATEGORY_NAME_REQUIRED = lazy("The name of the case category is required (at most 40 characters).")
CATEGORY_NAME_TAKEN = lazy("Another case category is already called “%(name)s”.")
CATEGORY_CODE_TAKEN = lazy("Another case category already has the code “%(code)s”.")
CATEGORY_RETIRED = lazy("This case category is already retired.")
UNIT_NAME_REQUIRED = lazy("The name of the handling unit is required (at most 80 characters).")
UNIT_NAME_TAKEN = lazy("Another handling unit is already called “%(name)s”.")
UNIT_CODE_TAKEN = lazy("Another handling unit already has the code “%(code)s”.")
UNIT_KIND_BAD = lazy("Please choose the kind of handling unit.")
UNIT_LEVEL_BAD = lazy("Township offices and village committees handle township matters, county government "
                      "departments county matters: please choose a level that fits the kind.")
UNIT_NODE_REQUIRED = lazy("A township-level handling unit needs its township or village: choose it in the tree.")
UNIT_NODE_COUNTY = lazy("A county-level handling unit has no township or village: leave the place empty.")
UNIT_RETIRED = lazy("This handling unit is already retired.")
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
}


def _name(value: str, limit: int, message) -> str:
    name = " ".join((value or "").split())
    if not name or len(name) > limit:
        raise Refusal(message)
    return name


def _sort(value: str) -> int:
    text = str(value or "").strip() or "0"
    if not re.fullmatch(r"-?\d{1,6}", text):
        raise Refusal(SORT_BAD)
    return int(text)


async def _new_code(db: AsyncSession, model, code: str, prefix: str, taken) -> str:
    code = (code or "").strip()
    if code and not CODE_RE.match(code):
        raise Refusal(CODE_BAD)
    codes = set((await db.scalars(select(model.code))).all())
    if not code:
        n = len(codes) + 1
        while f"{prefix}-{n}" in codes:
            n += 1
        code = f"{prefix}-{n}"
    if code in codes:
        raise Refusal(taken, code=code)
    return code


async def _get(db: AsyncSession, model, record_id: int):
    row = await db.scalar(select(model).where(model.id == record_id)) if 0 < record_id <= MAX_ID else None
    if row is None:
        raise NotFound()
    return row


# --- categories ------------------------------------------------------------------------------------


@dataclass
class CategoryLine:
    category: CaseCategory
    cases: int


async def list_categories(db: AsyncSession) -> list[CategoryLine]:
    """In use first, by order, with how many cases each has: two queries."""
    rows = (await db.scalars(select(CaseCategory).order_by(CaseCategory.retired_at.is_not(None), CaseCategory.sort,
                                                           CaseCategory.id))).all()
    used = dict((await db.execute(select(Case.category_id, func.count()).group_by(Case.category_id))).all())
    return [CategoryLine(c, used.get(c.id, 0)) for c in rows]


async def get_category(db: AsyncSession, category_id: int) -> CaseCategory:
    return await _get(db, CaseCategory, category_id)


async def save_category(db: AsyncSession, *, tenant_id: int, actor_id: int, category: CaseCategory | None, name: str,
                        sort: str, code: str = "", client_addr: str | None = None) -> CaseCategory:
    """Add (``category`` None) or rename and reorder a category."""
    name = _name(name, 40, CATEGORY_NAME_REQUIRED)
    order = _sort(sort)
    clash = await db.scalar(select(CaseCategory).where(CaseCategory.name == name, CaseCategory.retired_at.is_(None)))
    if clash is not None and clash is not category:
        raise Refusal(CATEGORY_NAME_TAKEN, name=name)
    added = category is None
    if added:
        code = await _new_code(db, CaseCategory, code, "own", CATEGORY_CODE_TAKEN)
        category = CaseCategory(tenant_id=tenant_id, code=code, name=name, sort=order)
        db.add(category)
    else:
        category.name, category.sort = name, order
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="case_category_saved",
                 target=f"case_category:{category.id}", client_addr=client_addr,
                 details={"code": category.code, "name": name, "sort": order, "added": added})
    return category


async def retire_category(db: AsyncSession, *, tenant_id: int, actor_id: int, category: CaseCategory,
                          client_addr: str | None = None) -> None:
    if category.retired_at is not None:
        raise Refusal(CATEGORY_RETIRED)
    category.retired_at = func.now()
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="case_category_retired",
                 target=f"case_category:{category.id}", client_addr=client_addr,
                 details={"code": category.code, "name": category.name})


# --- handling units --------------------------------------------------------------------------------


@dataclass
class UnitLine:
    unit: HandlingUnit
    node_name: str | None
    users: int
    open_cases: int


async def list_units(db: AsyncSession, tenant_id: int) -> list[UnitLine]:
    """In use first, by order, with their place, users and open cases: three queries."""
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
    return await _get(db, HandlingUnit, unit_id)


async def unit_nodes(db: AsyncSession) -> list[AdminNode]:
    """The places a township-level unit may be at: every live node below the county, in tree order."""
    return list((await db.scalars(select(AdminNode).where(AdminNode.parent_id.is_not(None),
                                                          AdminNode.retired_at.is_(None))
                                  .order_by(AdminNode.path))).all())


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


async def save_unit(db: AsyncSession, *, tenant_id: int, actor_id: int, unit: HandlingUnit | None, name: str,
                    kind: str, level: str, node: str, sort: str, code: str = "",
                    client_addr: str | None = None) -> HandlingUnit:
    """Add (``unit`` None) or change a handling unit: name, kind, level, place, order."""
    name = _name(name, 80, UNIT_NAME_REQUIRED)
    if kind not in UNIT_KINDS:
        raise Refusal(UNIT_KIND_BAD)
    if level not in KIND_LEVELS[kind]:
        raise Refusal(UNIT_LEVEL_BAD)
    node_id = await _unit_node(db, level, node)
    order = _sort(sort)
    clash = await db.scalar(select(HandlingUnit).where(HandlingUnit.name == name, HandlingUnit.retired_at.is_(None)))
    if clash is not None and clash is not unit:
        raise Refusal(UNIT_NAME_TAKEN, name=name)
    added = unit is None
    values = {"name": name, "kind": kind, "level": level, "node_id": node_id, "sort": order}
    if added:
        code = await _new_code(db, HandlingUnit, code, "unit", UNIT_CODE_TAKEN)
        unit = HandlingUnit(tenant_id=tenant_id, code=code, **values)
        db.add(unit)
    else:
        for key, value in values.items():
            setattr(unit, key, value)
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="handling_unit_saved",
                 target=f"handling_unit:{unit.id}", client_addr=client_addr,
                 details={"code": unit.code, **values, "added": added})
    return unit


async def retire_unit(db: AsyncSession, *, tenant_id: int, actor_id: int, unit: HandlingUnit,
                      client_addr: str | None = None) -> None:
    """Refused while cases wait for the unit's reply; its users keep their accounts."""
    if unit.retired_at is not None:
        raise Refusal(UNIT_RETIRED)
    waiting = (await open_cases(db, unit.id)).get(unit.id, 0)
    if waiting:
        raise Refusal(UNIT_OPEN_CASES, n=waiting)
    unit.retired_at = func.now()
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="handling_unit_retired",
                 target=f"handling_unit:{unit.id}", client_addr=client_addr,
                 details={"code": unit.code, "name": unit.name})


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
    return await _get(db, DueRule, rule_id)


async def delete_rule(db: AsyncSession, *, tenant_id: int, actor_id: int, rule: DueRule,
                      client_addr: str | None = None) -> None:
    """Cases keep the due dates they were given; new ones follow the remaining rules."""
    details = _rule_details(rule)
    await db.delete(rule)
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="due_rule_deleted",
                 target=f"due_rule:{rule.id}", client_addr=client_addr, details=details)


def parse_settings(values: dict) -> dict[str, int]:
    """The five case settings from the form; Refusal naming the first one out of range."""
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
