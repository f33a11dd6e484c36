"""The county's coded lists: station kinds, checklist items, kinds of activity, case categories and
handling units. Each is a tenant table whose rows have a ``code`` (their identity for presets and
rules), a display name, an order (``sort``), ``retired_at`` and fields of their own. A domain declares
its list once (``CodedList``); these verbs serve every list: the items, one item, add or change, retire.

A code is set when the item is added (made up as "<prefix>-<n>" when left empty) and not changed
afterwards, except where a list says so (station kinds). A retired item keeps what refers to it and is
no longer offered for new records; retiring is refused while the list's ``in_use`` check says the item
is still needed. Services audit and do not commit; refusals are Refusal, nothing written. This sits in
tenancy, not core, because it audits (core imports no domain) and the settings pages are the county's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.services import record
from app.core.db import as_id
from app.core.errors import NotFound, Refusal
from app.core.i18n import lazy
from app.tenancy.config import CODE_RE

CODE_BAD = lazy("The code uses lower-case letters, digits, “_” or “-” (at most 30).")
SORT_BAD = lazy("The order is a whole number.")


@dataclass(frozen=True)
class Messages:
    """What a list says when it refuses (msgids)."""

    name_required: str  # the name is empty or too long
    name_taken: str  # another item in use has the name; its variable is named after the name column
    code_taken: str  # %(code)s
    already_retired: str


@dataclass(frozen=True)
class Audit:
    """The audit entries of a list: target "<target>:<id>"; the details are the item's attributes
    named here, where "added" stands for whether the save added the item."""

    target: str
    added: str
    changed: str
    retired: str
    saved_details: tuple[str, ...]
    retired_details: tuple[str, ...]


@dataclass(frozen=True)
class CodedList:
    model: Any
    messages: Messages
    audit: Audit
    name_column: str = "name"
    name_max: int = 40
    code_prefix: str = ""  # an empty code is made up as "<prefix>-<n>"; "" when the code must be typed
    code_editable: bool = False  # the code can be changed on the item's page too
    # The list's own fields: (db, form values) -> column values; raises Refusal for bad input.
    check: Callable[[AsyncSession, dict], Awaitable[dict]] | None = None
    # Raises Refusal while the item is still needed (a rule counts it, cases wait for it).
    in_use: Callable[[AsyncSession, Any], Awaitable[None]] | None = None


async def items(db: AsyncSession, spec: CodedList) -> list:
    """Every item of the list: those in use first, then by order."""
    model = spec.model
    return list((await db.scalars(select(model).order_by(model.retired_at.is_not(None), model.sort,
                                                         model.id))).all())


async def get(db: AsyncSession, spec: CodedList, item_id: object):
    """One item; NotFound for a missing id (and another tenant's: RLS hides it)."""
    wanted = as_id(item_id)
    item = await db.scalar(select(spec.model).where(spec.model.id == wanted)) if wanted else None
    if item is None:
        raise NotFound()
    return item


async def save(db: AsyncSession, spec: CodedList, *, tenant_id: int, actor_id: int, item: Any | None,
               values: dict, client_addr: str | None = None):
    """Add (``item`` None) or change an item from the form's ``values``: the name, the list's own
    fields, the order, and the code when it is added (or where the list lets it change)."""
    model = spec.model
    name = " ".join(str(values.get(spec.name_column) or "").split())
    if not name or len(name) > spec.name_max:
        raise Refusal(spec.messages.name_required)
    columns = await spec.check(db, values) if spec.check else {}
    columns.update({spec.name_column: name, "sort": _sort(values.get("sort"))})
    clash = await db.scalar(select(model.id).where(getattr(model, spec.name_column) == name,
                                                   model.retired_at.is_(None)))
    if clash is not None and (item is None or clash != item.id):
        raise Refusal(spec.messages.name_taken, **{spec.name_column: name})
    added = item is None
    if added or spec.code_editable:
        columns["code"] = await _code(db, spec, values.get("code"), item)
    if added:
        item = model(tenant_id=tenant_id, **columns)
        db.add(item)
    else:
        for key, value in columns.items():
            setattr(item, key, value)
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id,
                 action=spec.audit.added if added else spec.audit.changed,
                 target=f"{spec.audit.target}:{item.id}", client_addr=client_addr,
                 details={key: added if key == "added" else getattr(item, key) for key in spec.audit.saved_details})
    return item


async def retire(db: AsyncSession, spec: CodedList, *, tenant_id: int, actor_id: int, item: Any,
                 client_addr: str | None = None) -> None:
    if item.retired_at is not None:
        raise Refusal(spec.messages.already_retired)
    if spec.in_use:
        await spec.in_use(db, item)
    item.retired_at = func.now()
    await db.flush()
    await record(db, tenant_id=tenant_id, actor_user_id=actor_id, action=spec.audit.retired,
                 target=f"{spec.audit.target}:{item.id}", client_addr=client_addr,
                 details={key: getattr(item, key) for key in spec.audit.retired_details})


def _sort(value: object) -> int:
    text = str(value or "").strip() or "0"
    if not re.fullmatch(r"-?\d{1,6}", text):
        raise Refusal(SORT_BAD)
    return int(text)


async def _code(db: AsyncSession, spec: CodedList, value: object, item: Any | None) -> str:
    model = spec.model
    code = str(value or "").strip()
    if not code and spec.code_prefix:
        return await _free_code(db, spec)
    if not CODE_RE.match(code):
        raise Refusal(CODE_BAD)
    holder = await db.scalar(select(model.id).where(model.code == code))
    if holder is not None and (item is None or holder != item.id):
        raise Refusal(spec.messages.code_taken, code=code)
    return code


async def _free_code(db: AsyncSession, spec: CodedList) -> str:
    codes = set((await db.scalars(select(spec.model.code))).all())
    n = len(codes) + 1
    while f"{spec.code_prefix}-{n}" in codes:
        n += 1
    return f"{spec.code_prefix}-{n}"
