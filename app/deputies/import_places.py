"""Importing the administrative tree from a spreadsheet, and finding the places other imports name.

A tree file has one row per place: a township or street (乡镇, 村 empty), or a village, community or
unit under one (乡镇 and 村). The kind (类型) may be left out where the name tells it (…镇, …街道, …村,
…社区). A village's township is one the county has, or one a row of the same file adds, in any order.
A place the county has already, or one named twice in the file, is a problem of its row; so is a place
whose kind may not sit under its parent (the tree pages' own rule, ``CHILD_KINDS``).

The stations and handling units imports name places with ``resolve_place``: 乡镇/村 as a path of
names below the county (with or without the county in front), or one name found once in the tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import partial

import anyio
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Refusal
from app.core.i18n import lazy
from app.deputies.import_checks import MISSING_FIELD, Checked, _problem, _Row, check_file
from app.tenancy.models import AdminNode
from app.tenancy.scope import Scope
from app.tenancy.services import CHILD_KINDS, NAME_MAX, kind_name

UNKNOWN_PLACE = lazy("No place called “%(value)s” in the county's tree: write it as township/village, as "
                     "the tree has it, or import the tree first.")
AMBIGUOUS_PLACE = lazy("Several places are called “%(value)s”: write the township too (township/village).")
UNKNOWN_TOWNSHIP = lazy("No township or street called “%(value)s” in the county or in this file: add a row "
                        "for it (with the village cell empty).")
PLACE_EXISTS = lazy("The county's tree already has this place.")
PLACE_RETIRED = lazy("A retired place under the same township is already called so: choose another name.")
PLACE_TWICE = lazy("The same place is already in row %(row)s.")
PLACE_NAME_LONG = lazy("The name of a place has at most %(n)s characters.")
PLACE_KIND_UNKNOWN = lazy("“%(value)s” is not a kind of place: use 乡, 镇, 街道, 村, 社区, 单位 or 功能区.")
PLACE_KIND_NEEDED = lazy("The kind cannot be told from the name: give it (乡, 镇, 街道, 村, 社区, 单位 or 功能区).")
PLACE_KIND_NOT_HERE = lazy("A place of this kind (%(kind)s) cannot be placed under “%(parent)s”.")
DIVISION_CODE_BAD = lazy("The statistical division code has only digits, at most 12.")

KIND_WORDS = {
    "乡": "township", "镇": "township", "乡镇": "township", "街道": "street", "街道办事处": "street",
    "村": "village", "行政村": "village", "社区": "community", "居委会": "community", "单位": "unit",
    "功能区": "area", "园区": "area", "开发区": "area",
    **{k: k for k in ("township", "street", "village", "community", "unit", "area")},
}
# what a name's ending says about its kind, longest first
NAME_ENDINGS = (("街道办事处", "street"), ("街道", "street"), ("社区", "community"), ("居委会", "community"),
                ("镇", "township"), ("乡", "township"), ("村", "village"))
PATH_SEPARATORS = re.compile(r"\s*[/／>＞›、\\|]\s*|\s+")


@dataclass(frozen=True)
class Node:
    """A node as the checks need it (``canonical_name`` reads name, kind and division_code)."""

    id: int
    parent_id: int | None
    name: str
    kind: str
    path: str
    division_code: str | None = None


@dataclass
class Places:
    root: Node
    by_id: dict[int, Node] = field(default_factory=dict)
    child: dict[tuple[int, str], Node] = field(default_factory=dict)  # (parent id, name) → node in use
    retired: set[tuple[int, str]] = field(default_factory=set)
    by_name: dict[str, list[Node]] = field(default_factory=dict)

    def chain(self, node: Node) -> list[Node]:
        """Root..node (for canonical names)."""
        return [self.by_id[int(i)] for i in node.path.strip("/").split("/") if int(i) in self.by_id]


async def load_places(db: AsyncSession, tenant_id: int) -> Places:
    """The county's whole tree in one query (a county has hundreds of places, not millions)."""
    rows = (await db.execute(
        select(AdminNode.id, AdminNode.parent_id, AdminNode.name, AdminNode.kind, AdminNode.path,
               AdminNode.division_code, AdminNode.retired_at)
        .where(AdminNode.tenant_id == tenant_id).order_by(AdminNode.id)
    )).all()
    root = next((Node(*r[:6]) for r in rows if r.parent_id is None), None)
    if root is None:
        raise Refusal(UNKNOWN_PLACE, value="")
    places = Places(root=root)
    for *values, retired_at in rows:
        node = Node(*values)
        if retired_at is not None:
            places.retired.add((node.parent_id, node.name))
            continue
        places.by_id[node.id] = node
        if node.parent_id is not None:
            places.child[(node.parent_id, node.name)] = node
            places.by_name.setdefault(node.name, []).append(node)
    return places


def _clean(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value or "").split())


def resolve_place(value: object, places: Places) -> Node:
    """The node a cell names, or Refusal: 乡镇/村 (any of / ／ > › 、 or spaces between), the county's
    name in front or not, 乡镇村 written together, or a name the tree holds once."""
    written = _clean(value)
    parts = [p for p in PATH_SEPARATORS.split(written) if p]
    root = places.root
    if parts and parts[0] == root.name:
        parts = parts[1:]
        if not parts:
            return root
    node: Node | None = root
    for part in parts:
        node = places.child.get((node.id, part)) if node else None
    if node is not None and parts:
        return node
    if len(parts) == 1:
        name = parts[0]
        found = places.by_name.get(name, [])
        if len(found) > 1:
            raise Refusal(AMBIGUOUS_PLACE, value=name[:60])
        if found:
            return found[0]
        for (parent_id, township), top in places.child.items():  # 潼川镇北坝村, written together
            if parent_id == root.id and name.startswith(township):
                below = places.child.get((top.id, name[len(township):]))
                if below is not None:
                    return below
    raise Refusal(UNKNOWN_PLACE, value=written[:60])


# --- the tree import -------------------------------------------------------------------------------

@dataclass
class TreeLookup:
    places: Places


def _kind_of(r: _Row, name: str) -> str | None:
    written = _clean(r.raw("kind"))
    if written:
        kind = KIND_WORDS.get(written) or KIND_WORDS.get(written.lower())
        if kind is None:
            r.fail("kind", PLACE_KIND_UNKNOWN, value=written[:20])
        return kind
    kind = next((k for ending, k in NAME_ENDINGS if name.endswith(ending)), None)
    if kind is None and name:
        r.fail("kind", PLACE_KIND_NEEDED)
    return kind


def _name(r: _Row, key: str, required: bool) -> str:
    name = _clean(r.raw(key))
    if not name and required and r.present(key):
        r.fail(key, MISSING_FIELD)
    elif len(name) > NAME_MAX:
        r.fail(key, PLACE_NAME_LONG, n=NAME_MAX)
        return ""
    return name


def check_tree_row(number: int, values: dict, lookup: TreeLookup, checked: Checked, seen: dict) -> dict | None:
    r = _Row(number, values, checked)
    places = lookup.places
    township = _name(r, "township", required=True)
    village = _name(r, "village", required=False)
    kind = _kind_of(r, village or township) if township else None
    code = _clean(r.raw("division_code")) or None
    if code is not None and not re.fullmatch(r"\d{1,12}", code):
        r.fail("division_code", DIVISION_CODE_BAD)
    out = {"name": village or township, "kind": kind, "division_code": code, "root_id": places.root.id}
    if township and village:
        parent = places.child.get((places.root.id, township))
        if parent is None:  # a township of this file (finish() checks it is there)
            seen.setdefault("pending", []).append((number, township, kind, r.column("township"), r.column("kind")))
            out.update(level=2, parent_name=township, parent_id=None)
        else:
            out.update(level=2, parent_name=township, parent_id=parent.id)
            if kind and kind not in CHILD_KINDS.get(parent.kind, ()):
                r.fail("kind", PLACE_KIND_NOT_HERE, kind=kind_name(kind), parent=township)
            elif (parent.id, village) in places.child:
                r.fail("village", PLACE_EXISTS)
            elif (parent.id, village) in places.retired:
                r.fail("village", PLACE_RETIRED)
        key = (township, village)
    elif township:
        out.update(level=1, parent_name=None, parent_id=places.root.id)
        if kind and kind not in CHILD_KINDS["county"]:
            r.fail("kind", PLACE_KIND_NOT_HERE, kind=kind_name(kind), parent=places.root.name)
        elif (places.root.id, township) in places.child:
            r.fail("township", PLACE_EXISTS)
        elif (places.root.id, township) in places.retired:
            r.fail("township", PLACE_RETIRED)
        seen.setdefault("townships", {}).setdefault(township, (number, kind))
        key = (township,)
    else:
        return None
    first = seen.setdefault("keys", {}).get(key)
    if first is not None:
        r.fail("village" if village else "township", PLACE_TWICE, row=first)
    else:
        seen["keys"][key] = number
    return out if r.ok else None


def finish_tree(lookup: TreeLookup, checked: Checked, seen: dict) -> None:
    """A village whose township is not in the county must have its township in the file."""
    townships = seen.get("townships", {})
    failed = set()
    for number, township, kind, township_column, kind_column in seen.get("pending", []):
        found = townships.get(township)
        if found is None:
            checked.problems.append(_problem(number, township_column, UNKNOWN_TOWNSHIP, value=township[:60]))
            failed.add(number)
        elif kind and found[1] and kind not in CHILD_KINDS.get(found[1], ()):
            checked.problems.append(_problem(number, kind_column, PLACE_KIND_NOT_HERE, kind=kind_name(kind),
                                             parent=township))
            failed.add(number)
    if failed:
        checked.rows = [(n, v) for n, v in checked.rows if n not in failed]
    # townships before their villages, whatever the order of the file
    checked.rows.sort(key=lambda item: item[1]["level"])


async def check_tree(db: AsyncSession, tenant_id: int, scope: Scope, data: bytes, filename: str) -> Checked:
    lookup = TreeLookup(places=await load_places(db, tenant_id))
    return await anyio.to_thread.run_sync(partial(check_file, "tree", data, filename, lookup, check_tree_row,
                                                  finish_tree))


async def _add_nodes(db: AsyncSession, tenant_id: int, values: list[dict]) -> None:
    """One INSERT for the nodes, one UPDATE for their paths (which need their ids)."""
    ids = (await db.scalars(insert(AdminNode).values([
        {"tenant_id": tenant_id, "parent_id": v["parent_id"], "name": v["name"], "kind": v["kind"],
         "division_code": v["division_code"], "path": ""} for v in values
    ]).returning(AdminNode.id))).all()
    await db.execute(text(
        "UPDATE admin_nodes c SET path = p.path || c.id::text || '/' FROM admin_nodes p "
        "WHERE c.tenant_id = :tenant AND p.tenant_id = :tenant AND p.id = c.parent_id AND c.id = ANY(:ids)"
    ), {"tenant": tenant_id, "ids": list(ids)})


async def insert_tree(db: AsyncSession, job, rows: list[tuple[int, dict]]) -> None:
    """Townships first (the rows are sorted so), then the villages under them: a township added by an
    earlier batch of the same import is found by its name."""
    top = [v for _, v in rows if v["level"] == 1]
    if top:
        await _add_nodes(db, job.tenant_id, top)
    below = [dict(v) for _, v in rows if v["level"] == 2]
    wanted = {v["parent_name"] for v in below if v["parent_id"] is None}
    if wanted:
        found = dict((await db.execute(
            select(AdminNode.name, AdminNode.id).where(
                AdminNode.tenant_id == job.tenant_id, AdminNode.parent_id == below[0]["root_id"],
                AdminNode.name.in_(wanted), AdminNode.retired_at.is_(None))
        )).all())
        for v in below:
            if v["parent_id"] is None:
                v["parent_id"] = found[v["parent_name"]]
    if below:
        await _add_nodes(db, job.tenant_id, below)
