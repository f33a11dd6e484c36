"""Changing a tenant's rules from the settings page: add, change, retire. Every rule passes
``app.compliance.rules.check_rule`` (the same check as the presets); a refusal raises Refusal and
writes nothing. Each change is audited (rule_saved, rule_retired). Services do not commit."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import ActivityKind, Rule
from app.audit.services import record
from app.compliance.rules import check_risk, check_rule
from app.core.db import MAX_ID
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.stations.models import StationKind

CODE_TAKEN = lazy("Another rule already has the code “%(code)s”.")
SORT_BAD = lazy("The order is a whole number.")
ALREADY_RETIRED = lazy("This rule is already retired.")
TEXT_FIELDS = ("code", "name", "subject", "counts", "period", "minimum", "min_deputies", "sort", "at_risk_days",
               "at_risk_pace")
LIST_FIELDS = ("kind_codes", "station_kind_codes", "deputy_levels")


def read_form(form) -> dict:
    """The rule form's fields (lists from checkboxes), cut to sane lengths."""
    values = {k: str(form.get(k) or "")[:200] for k in TEXT_FIELDS}
    for k in LIST_FIELDS:
        items = form.getall(k, []) if hasattr(form, "getall") else []
        values[k] = [str(v)[:40] for v in items][:50]
    return values


def form_of(rule: Rule) -> dict:
    return dict(code=rule.code, name=rule.name, subject=rule.subject, counts=rule.counts, period=rule.period,
                minimum=str(rule.minimum), min_deputies=str(rule.min_deputies or ""), sort=str(rule.sort),
                kind_codes=list(rule.kind_codes), station_kind_codes=list(rule.station_kind_codes),
                deputy_levels=list(rule.deputy_levels),
                at_risk_days="" if rule.at_risk_days is None else str(rule.at_risk_days),
                at_risk_pace="on" if rule.at_risk_pace else "off")


async def list_rules(db: AsyncSession) -> list[Rule]:
    return list((await db.scalars(select(Rule).order_by(Rule.retired_at.is_not(None), Rule.sort, Rule.id))).all())


async def get_rule(db: AsyncSession, rule_id: int) -> Rule:
    rule = await db.scalar(select(Rule).where(Rule.id == rule_id)) if 0 < rule_id <= MAX_ID else None
    if rule is None:
        raise NotFound()
    return rule


async def kind_choices(db: AsyncSession) -> tuple[list[ActivityKind], list[StationKind]]:
    """Activity kinds and station kinds of this tenant (retired ones last)."""
    kinds = (await db.scalars(select(ActivityKind).order_by(ActivityKind.retired_at.is_not(None), ActivityKind.sort,
                                                            ActivityKind.id))).all()
    station_kinds = (await db.scalars(select(StationKind).order_by(StationKind.retired_at.is_not(None),
                                                                   StationKind.sort, StationKind.id))).all()
    return list(kinds), list(station_kinds)


async def save_rule(db: AsyncSession, *, tenant_id: int, actor_id: int, rule: Rule | None, values: dict,
                    client_addr: str | None = None) -> Rule:
    """Add (``rule`` None) or change a rule. Refusal for bad input (nothing written)."""
    kinds, station_kinds = await kind_choices(db)
    clean = check_rule(values, kind_codes={k.code for k in kinds}, station_kind_codes={k.code for k in station_kinds})
    clean.update(check_risk(values, clean["period"]))
    sort = str(values.get("sort") or "0").strip() or "0"
    if not re.fullmatch(r"-?\d{1,6}", sort):
        raise Refusal(SORT_BAD)
    clash = await db.scalar(select(Rule).where(Rule.code == clean["code"]))
    if clash is not None and clash is not rule:
        raise Refusal(CODE_TAKEN, code=clean["code"])
    if rule is None:
        rule = Rule(tenant_id=tenant_id)
        db.add(rule)
    for key, value in clean.items():
        setattr(rule, key, value)
    rule.sort = int(sort)
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="rule_saved", target=f"rule:{rule.id}",
                 client_addr=client_addr, details={**clean, "sort": rule.sort})
    return rule


async def retire_rule(db: AsyncSession, *, tenant_id: int, actor_id: int, rule: Rule,
                      client_addr: str | None = None) -> None:
    """A retired rule is no longer shown on the board; it stays listed (and its code taken)."""
    if rule.retired_at is not None:
        raise Refusal(ALREADY_RETIRED)
    rule.retired_at = func.now()
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="rule_retired", target=f"rule:{rule.id}",
                 client_addr=client_addr, details={"code": rule.code, "name": rule.name})
