"""The county board from counts the worker computed (issue 20): at 10,000 deputies the live
evaluation (``engine.evaluate``) takes over a second, so the county level of a whole-tenant member
reads a snapshot instead (migration 0040).

What is stored is **counts**, not verdicts: per rule, a histogram of the subjects' counts (and per
township and rule), and per deputy and deputy group each applicable rule's (counted, excluded, on
behalf). A verdict is a function of the count and today's yardstick (``risk.gauge``), decided when the
page is read, so a snapshot holds for its whole period and agrees with the live evaluation whatever
the day. It answers only while the rules it was computed for (their count-relevant fields and
current periods: ``signature``) are still the tenant's rules; otherwise, and for every view it does
not hold (a past date or period, a township, a station, a deputy, another role, the export), the
board evaluates live.

Freshness: a trigger marks the tenant stale in the same transaction as any change to a record the
counts read (``compliance_stale``); the worker's ``refresh_due`` (every 15 s) recomputes the tenants
marked stale, without a snapshot, or whose snapshot's periods ended. Between a change and the next
tick the board shows the previous counts and says so ("being updated"), with the time they were
computed.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import column, insert, table, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from app.compliance import engine, risk
from app.compliance.mailbox_flags import Flag, MailboxFlags, mailbox_flags
from app.core.periods import zone
from app.tenancy.scope import Scope

_SUBJECTS = table("compliance_snapshot_subjects", column("tenant_id"), column("kind"), column("subject_id"),
                  column("pos"), column("name"), column("counts", JSONB))

SNAPSHOT_ROLES = ("county_admin", "viewer")
COUNTY = Scope(role="county_admin", node_path=None, station_id=None, user_id=0)
NOT_STATIONED = -1  # a deputy stationed nowhere: the board's own row
REFRESH_SECONDS = 15  # the worker's tick (app.jobs.worker): how far behind a change the board may be


@dataclass
class Stamp:
    """When the figures shown were computed, and whether a change since is waiting for the worker."""
    computed_at: datetime
    stale: bool
    label: str = ""  # the time in the county's zone (with the date unless today)


def signature(rules, periods) -> str:
    """What the counts depend on: each rule's subject, what it counts, its kinds, conditions and the
    period in force. A rule's name, minimum or at-risk setting change only verdicts (decided on read)."""
    return json.dumps([[r.id, r.subject, r.counts, sorted(r.kind_codes or []), r.period, r.min_deputies,
                        sorted(r.station_kind_codes or []), sorted(r.deputy_levels or []), periods[r.id].key]
                       for r in rules], ensure_ascii=False)


def _township(path: str) -> int | None:
    parts = [p for p in path.split("/") if p]
    return int(parts[1]) if len(parts) > 1 else None


def _townships_of(subject: engine.Subject) -> set:
    """As the live board groups them (services._townships_of): a station's township; a deputy's,
    through their stations (NOT_STATIONED: none); groups belong to none."""
    if subject.kind == "station":
        return {_township(subject.path)}
    if subject.kind == "deputy":
        return {_township(p) for p in subject.paths if p} or {NOT_STATIONED}
    return set()


# --- the worker's side ----------------------------------------------------------------------------

async def refresh(db: AsyncSession, tenant, *, now: datetime) -> int:
    """Recompute the tenant's snapshot (``db`` bound to it) and clear the stale markers it caught up
    with: only those visible before the evaluation started, so a change committed meanwhile leaves its
    marker for the next tick. Returns the number of subject rows written."""
    tz = zone(tenant.timezone)
    today = now.astimezone(tz).date()
    seen = list((await db.scalars(text("SELECT id FROM compliance_stale WHERE tenant_id = :t"),
                                  {"t": tenant.id})).all())
    board = await engine.evaluate(db, COUNTY, tz=tz, today=today, at_risk_days=0)
    rules_hist: dict[int, Counter] = {r.id: Counter() for r in board.rules}
    towns: Counter = Counter()
    memo: dict[str, set] = {}
    per_subject: dict[str, dict] = {}
    for (rid, key), c in board.cells.items():
        rules_hist[rid][c.count] += 1
        groups = memo.get(key)
        if groups is None:
            groups = memo[key] = _townships_of(c.subject)
        for g in groups:
            towns[(g, rid, c.count)] += 1
        if c.subject.kind != "station":
            per_subject.setdefault(key, {})[str(rid)] = [c.count, c.excluded, c.on_behalf]
    # the mailbox flags (weeks of the last 12 without an opening) hold for the week: it ends the snapshot too
    flags = await mailbox_flags(db, COUNTY, engine.Where(), board, today, tz)
    monday = today - timedelta(days=today.weekday())
    summary = {"rules": {str(rid): {str(n): k for n, k in h.items()} for rid, h in rules_hist.items()},
               "townships": [[g, rid, n, k] for (g, rid, n), k in towns.items()],
               "mailbox": {"week": monday.isoformat(),
                           "flags": [[f.station_id, f.name, f.path, f.missed] for f in flags.flags.values()]}}
    ends = [board.periods[r.id].bounds(tz)[1] for r in board.rules]
    ends.append(datetime.combine(monday + timedelta(days=7), time.min, tzinfo=tz))
    expires = min(ends)
    rows = [(s, per_subject.get(s.key, {})) for s in board.groups.values()]
    rows += [(s, per_subject[s.key]) for s in board.deputies.values() if s.key in per_subject]
    await db.execute(text("DELETE FROM compliance_snapshot_subjects WHERE tenant_id = :t"), {"t": tenant.id})
    if rows:  # rows of VALUES: Citus runs INSERT … SELECT through COPY, which row-level security refuses
        await db.execute(insert(_SUBJECTS).values([
            {"tenant_id": tenant.id, "kind": s.kind, "subject_id": s.id, "pos": n, "name": s.name, "counts": c}
            for n, (s, c) in enumerate(rows)]))
    await db.execute(text(
        "INSERT INTO compliance_snapshots (tenant_id, computed_at, expires_at, signature, summary) "
        "VALUES (:t, :now, :expires, :sig, CAST(:summary AS jsonb)) ON CONFLICT (tenant_id) DO UPDATE SET "
        "computed_at = excluded.computed_at, expires_at = excluded.expires_at, signature = excluded.signature, "
        "summary = excluded.summary"),
        {"t": tenant.id, "now": now, "expires": expires, "sig": signature(board.rules, board.periods),
         "summary": json.dumps(summary)})
    if seen:
        await db.execute(text("DELETE FROM compliance_stale WHERE tenant_id = :t AND id = ANY(CAST(:ids AS bigint[]))"),
                         {"t": tenant.id, "ids": seen})
    return len(rows)


# --- the board's side -----------------------------------------------------------------------------

def answers(scope: Scope, q, today: date) -> bool:
    """Whether the snapshot can show this board: the county level of a whole-tenant member, today's
    periods, any rule, verdict and page."""
    return (scope.role in SNAPSHOT_ROLES and q.key is None and (q.day is None or q.day == today)
            and q.node_id is None and q.station_id is None and q.deputy_id is None)


@dataclass
class Snapshot:
    stamp: Stamp
    summary: dict
    rules: list  # the rules shown (the query's rule only, if it names one)
    periods: dict
    gauges: dict


async def read(db: AsyncSession, scope: Scope, tenant_id: int, rule_id: int | None, today: date,
               at_risk_days: int) -> Snapshot | None:
    """The tenant's snapshot if it holds for today's rules, else None (the board then evaluates live)."""
    rules = await engine.active_rules(db, scope, engine.Where())
    periods = engine.periods_of(rules, engine.Where(), today)
    head = (await db.execute(text(
        "SELECT computed_at, signature, summary, EXISTS (SELECT 1 FROM compliance_stale s WHERE s.tenant_id = :t) "
        "FROM compliance_snapshots WHERE tenant_id = :t"), {"t": tenant_id})).first()
    if head is None or head[1] != signature(rules, periods):
        return None
    if rule_id is not None:
        rules = [r for r in rules if r.id == rule_id]
    gauges = {r.id: risk.gauge(r, periods[r.id], today, at_risk_days) for r in rules}
    return Snapshot(Stamp(head[0], bool(head[3])), head[2], rules, {r.id: periods[r.id] for r in rules}, gauges)


def rule_counts(snap: Snapshot) -> dict[int, Counter]:
    """Verdict counts per rule: each count's subjects judged by today's yardstick."""
    out = {r.id: Counter() for r in snap.rules}
    for rid, hist in snap.summary["rules"].items():
        rid = int(rid)
        if rid in out:
            g = snap.gauges[rid]
            for n, k in hist.items():
                out[rid][g.verdict(int(n))] += k
    return out


def township_counts(snap: Snapshot) -> dict:
    """Verdict counts per township (None: the county's own stations; NOT_STATIONED) over the rules shown."""
    out: dict = {}
    for g, rid, n, k in snap.summary["townships"]:
        gauge = snap.gauges.get(rid)
        if gauge is not None:
            out.setdefault(g, Counter())[gauge.verdict(n)] += k
    return out


def mailbox(snap: Snapshot, today: date) -> MailboxFlags | None:
    """The stored mailbox flags if they are this week's (else None: the board reads them live)."""
    stored = snap.summary.get("mailbox") or {}
    if stored.get("week") != (today - timedelta(days=today.weekday())).isoformat():
        return None
    return MailboxFlags({sid: Flag(sid, name, path, missed) for sid, name, path, missed in stored["flags"]})


def _cells(snap: Snapshot, rules, subject: engine.Subject, counts: dict) -> list:
    cells = []
    for r in rules:
        v = counts.get(str(r.id))
        g = snap.gauges[r.id]
        cells.append(None if v is None else
                     engine.Cell(r, subject, snap.periods[r.id], v[0], v[1], g.verdict(v[0]), v[2], g))
    return cells


async def group_rows(db: AsyncSession, snap: Snapshot, tenant_id: int, verdict: str | None) -> list[tuple]:
    """(subject, cells) of every deputy group, in the board's order (a few rows)."""
    rules = [r for r in snap.rules if r.subject == "group"]
    if not rules:
        return []
    rows = await db.execute(text(
        "SELECT subject_id, name, counts FROM compliance_snapshot_subjects WHERE tenant_id = :t AND kind = 'group' "
        "ORDER BY pos"), {"t": tenant_id})
    out = []
    for sid, name, counts in rows:
        subject = engine.Subject("group", sid, name)
        cells = _cells(snap, rules, subject, counts)
        if verdict and not any(c is not None and c.verdict == verdict for c in cells):
            continue
        out.append((subject, cells))
    return out


def _deputy_filter(snap: Snapshot, rules, verdict: str | None) -> tuple[str, dict]:
    """SQL over the stored counts: a deputy some shown rule applies to, and (if asked) whose count
    under some rule gives the verdict. Verdicts are ranges of counts: each rule's range is read off
    its yardstick (so the SQL and ``Gauge.verdict`` cannot disagree)."""
    params: dict = {}
    applies = []
    for i, r in enumerate(rules):
        params[f"k{i}"] = str(r.id)
        applies.append(f"counts -> :k{i} IS NOT NULL")
    where = "(" + " OR ".join(applies) + ")"
    if verdict:
        ranges = []
        for i, r in enumerate(rules):
            g = snap.gauges[r.id]
            hits = [n for n in range(r.minimum + 1) if g.verdict(n) == verdict]
            if not hits:
                continue
            lo, hi = hits[0], hits[-1]
            params[f"lo{i}"] = lo
            bound = f"(counts -> :k{i} ->> 0)::int >= :lo{i}"
            if hi < r.minimum:  # the minimum reached is "met" whatever more is done
                params[f"hi{i}"] = hi
                bound += f" AND (counts -> :k{i} ->> 0)::int <= :hi{i}"
            ranges.append(f"({bound})")
        where += " AND (" + (" OR ".join(ranges) or "false") + ")"
    return where, params


async def deputy_page(db: AsyncSession, snap: Snapshot, tenant_id: int, verdict: str | None, page: int,
                      per_page: int) -> tuple[int, int, list[tuple]]:
    """(total, pages, [(subject, cells)] of the page): two indexed queries over plain rows."""
    rules = [r for r in snap.rules if r.subject == "deputy"]
    if not rules:
        return 0, 1, []
    where, params = _deputy_filter(snap, rules, verdict)
    params["t"] = tenant_id
    base = f"FROM compliance_snapshot_subjects WHERE tenant_id = :t AND kind = 'deputy' AND {where}"
    total = await db.scalar(text(f"SELECT count(*) {base}"), params)
    pages = max(1, -(-total // per_page))
    page = min(page, pages)
    rows = await db.execute(text(f"SELECT subject_id, name, counts {base} ORDER BY pos LIMIT :lim OFFSET :off"),
                            {**params, "lim": per_page, "off": (page - 1) * per_page})
    out = []
    for sid, name, counts in rows:
        subject = engine.Subject("deputy", sid, name)
        out.append((subject, _cells(snap, rules, subject, counts)))
    return total, pages, out


async def verdict_counts(db: AsyncSession, scope: Scope, tenant_id: int, today: date,
                         at_risk_days: int) -> Counter | None:
    """The whole board's verdict counts (the county home's figures), or None when no snapshot holds."""
    if scope.role not in SNAPSHOT_ROLES:
        return None
    snap = await read(db, scope, tenant_id, None, today, at_risk_days)
    if snap is None:
        return None
    total: Counter = Counter()
    for c in rule_counts(snap).values():
        total.update(c)
    return total
