"""The county's kinds of activity (活动类型): list, add, rename and reorder, retire.

A kind's code is its identity for presets and rules (``Rule.kind_codes``): it is set when the kind is
added (generated when not given) and never changed. A retired kind keeps its activities and is no
longer offered for new ones; a kind that a rule in force counts cannot be retired. Services audit and
do not commit (the route does); refusals are Refusal (app.tenancy.config), nothing written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import Activity, ActivityKind
from app.audit.services import record
from app.compliance.models import Rule
from app.core.db import MAX_ID
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.tenancy.config import CODE_RE

NAME_MAX = 40

NAME_REQUIRED = lazy("The name of the kind of activity is required (at most 40 characters).")
NAME_TAKEN = lazy("Another kind of activity is already called “%(name)s”.")
CODE_BAD = lazy("The code uses lower-case letters, digits, “_” or “-” (at most 30).")
CODE_TAKEN = lazy("Another kind of activity already has the code “%(code)s”.")
SORT_BAD = lazy("The order is a whole number.")
ALREADY_RETIRED = lazy("This kind of activity is already retired.")
USED_BY_RULE = lazy("The rule “%(rule)s” counts this kind of activity: change or retire that rule first.")


@dataclass
class KindLine:
    kind: ActivityKind
    activities: int  # activities of this kind, of any status
    rules: list[str]  # names of the rules in force that count it


async def list_kinds(db: AsyncSession) -> list[KindLine]:
    """Every kind (in use first, by order), with how many activities it has and which rules count it:
    three queries whatever the number of kinds."""
    kinds = (await db.scalars(select(ActivityKind).order_by(ActivityKind.retired_at.is_not(None), ActivityKind.sort,
                                                            ActivityKind.id))).all()
    used = dict((await db.execute(select(Activity.kind_id, func.count()).group_by(Activity.kind_id))).all())
    rules = (await db.execute(select(Rule.name, Rule.kind_codes).where(Rule.retired_at.is_(None))
                              .order_by(Rule.sort, Rule.id))).all()
    return [KindLine(k, used.get(k.id, 0), [name for name, codes in rules if k.code in codes]) for k in kinds]


async def get_kind(db: AsyncSession, kind_id: int) -> ActivityKind:
    kind = await db.scalar(select(ActivityKind).where(ActivityKind.id == kind_id)) if 0 < kind_id <= MAX_ID else None
    if kind is None:
        raise NotFound()
    return kind


def _sort(value: str) -> int:
    text = str(value or "").strip() or "0"
    if not re.fullmatch(r"-?\d{1,6}", text):
        raise Refusal(SORT_BAD)
    return int(text)


async def _free_code(db: AsyncSession) -> str:
    codes = set((await db.scalars(select(ActivityKind.code))).all())
    n = len(codes) + 1
    while f"own-{n}" in codes:
        n += 1
    return f"own-{n}"


async def save_kind(db: AsyncSession, *, tenant_id: int, actor_id: int, kind: ActivityKind | None, name: str,
                    sort: str, code: str = "", client_addr: str | None = None) -> ActivityKind:
    """Add (``kind`` None; ``code`` generated when empty) or rename and reorder a kind."""
    name = " ".join((name or "").split())
    if not name or len(name) > NAME_MAX:
        raise Refusal(NAME_REQUIRED)
    order = _sort(sort)
    clash = await db.scalar(select(ActivityKind).where(ActivityKind.name == name, ActivityKind.retired_at.is_(None)))
    if clash is not None and clash is not kind:
        raise Refusal(NAME_TAKEN, name=name)
    added = kind is None
    if added:
        code = (code or "").strip()
        if code and not CODE_RE.match(code):
            raise Refusal(CODE_BAD)
        code = code or await _free_code(db)
        if await db.scalar(select(ActivityKind.id).where(ActivityKind.code == code)) is not None:
            raise Refusal(CODE_TAKEN, code=code)
        kind = ActivityKind(tenant_id=tenant_id, code=code, name=name, sort=order)
        db.add(kind)
    else:
        kind.name, kind.sort = name, order
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="activity_kind_saved",
                 target=f"activity_kind:{kind.id}", client_addr=client_addr,
                 details={"code": kind.code, "name": name, "sort": order, "added": added})
    return kind


async def rules_counting(db: AsyncSession, code: str) -> list[str]:
    """Names of the rules in force that count activities of this kind."""
    return list((await db.scalars(select(Rule.name).where(Rule.retired_at.is_(None), Rule.kind_codes.any(code))
                                  .order_by(Rule.sort, Rule.id))).all())


async def retire_kind(db: AsyncSession, *, tenant_id: int, actor_id: int, kind: ActivityKind,
                      client_addr: str | None = None) -> None:
    """A retired kind keeps its activities; no new activity can be of it."""
    if kind.retired_at is not None:
        raise Refusal(ALREADY_RETIRED)
    rules = await rules_counting(db, kind.code)
    if rules:
        raise Refusal(USED_BY_RULE, rule=rules[0])
    kind.retired_at = func.now()
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action="activity_kind_retired",
                 target=f"activity_kind:{kind.id}", client_addr=client_addr,
                 details={"code": kind.code, "name": kind.name})
