"""The county's kinds of activity (活动类型), a coded list (app.tenancy.coded_lists).

A kind's code is its identity for presets and rules (``Rule.kind_codes``): it is set when the kind is
added (made up as "own-<n>" when not given) and never changed. A retired kind keeps its activities and
is no longer offered for new ones; a kind that a rule in force counts cannot be retired.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import Activity, ActivityKind, Rule
from app.core.errors import Refusal
from app.core.i18n import lazy
from app.tenancy import coded_lists
from app.tenancy.coded_lists import Audit, CodedList, Messages

USED_BY_RULE = lazy("The rule “%(rule)s” counts this kind of activity: change or retire that rule first.")


async def rules_counting(db: AsyncSession, code: str) -> list[str]:
    """Names of the rules in force that count activities of this kind."""
    return list((await db.scalars(select(Rule.name).where(Rule.retired_at.is_(None), Rule.kind_codes.any(code))
                                  .order_by(Rule.sort, Rule.id))).all())


async def _counted_by_a_rule(db: AsyncSession, kind: ActivityKind) -> None:
    rules = await rules_counting(db, kind.code)
    if rules:
        raise Refusal(USED_BY_RULE, rule=rules[0])


ACTIVITY_KINDS = CodedList(
    model=ActivityKind,
    code_prefix="own",
    messages=Messages(
        name_required=lazy("The name of the kind of activity is required (at most 40 characters)."),
        name_taken=lazy("Another kind of activity is already called “%(name)s”."),
        code_taken=lazy("Another kind of activity already has the code “%(code)s”."),
        already_retired=lazy("This kind of activity is already retired."),
    ),
    audit=Audit(target="activity_kind", added="activity_kind_saved", changed="activity_kind_saved",
                retired="activity_kind_retired", saved_details=("code", "name", "sort", "added"),
                retired_details=("code", "name")),
    in_use=_counted_by_a_rule,
)


@dataclass
class KindLine:
    kind: ActivityKind
    activities: int  # activities of this kind, of any status
    rules: list[str]  # names of the rules in force that count it


async def list_kinds(db: AsyncSession) -> list[KindLine]:
    """Every kind (in use first, by order), with how many activities it has and which rules count it:
    three queries whatever the number of kinds."""
    kinds = await coded_lists.items(db, ACTIVITY_KINDS)
    used = dict((await db.execute(select(Activity.kind_id, func.count()).group_by(Activity.kind_id))).all())
    rules = (await db.execute(select(Rule.name, Rule.kind_codes).where(Rule.retired_at.is_(None))
                              .order_by(Rule.sort, Rule.id))).all()
    return [KindLine(k, used.get(k.id, 0), [name for name, codes in rules if k.code in codes]) for k in kinds]


# The verbs under the names callers outside the settings pages know.

async def get_kind(db: AsyncSession, kind_id: int) -> ActivityKind:
    return await coded_lists.get(db, ACTIVITY_KINDS, kind_id)


async def save_kind(db: AsyncSession, *, tenant_id: int, actor_id: int, kind: ActivityKind | None, name: str,
                    sort: str, code: str = "", client_addr: str | None = None) -> ActivityKind:
    """Add (``kind`` None; ``code`` made up when empty) or rename and reorder a kind."""
    return await coded_lists.save(db, ACTIVITY_KINDS, tenant_id=tenant_id, actor_id=actor_id, item=kind,
                                  values={"name": name, "sort": sort, "code": code}, client_addr=client_addr)


async def retire_kind(db: AsyncSession, *, tenant_id: int, actor_id: int, kind: ActivityKind,
                      client_addr: str | None = None) -> None:
    await coded_lists.retire(db, ACTIVITY_KINDS, tenant_id=tenant_id, actor_id=actor_id, item=kind,
                             client_addr=client_addr)
