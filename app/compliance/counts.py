"""The aggregate queries behind the board: one per source, whatever the number of subjects and rules.

Each takes the rules' periods as arrays (one row per rule × counted kind) and the subjects' ids, and
answers rows (rule id, subject id, counted, total[, on behalf]): counted are the activities that
qualify, total also those with fewer deputies present than the rule asks. Row-level security keeps
every query within the tenant; the ids passed in keep it within the member's scope.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities.models import Rule
from app.core.db import bound_tenant
from app.core.periods import Period


@dataclass
class Tally:
    counted: int = 0
    total: int = 0
    on_behalf: int = 0  # deputies: counted attendances signed in by staff on their behalf


@dataclass
class Specs:
    """Rules flattened into arrays for unnest(): one row per (rule, kind)."""
    rule_ids: list[int] = field(default_factory=list)
    kind_ids: list[int] = field(default_factory=list)
    kind_codes: list[str] = field(default_factory=list)  # a joint station's kinds match the county's by code
    starts: list[datetime] = field(default_factory=list)
    ends: list[datetime] = field(default_factory=list)
    mins: list[int] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)

    def add(self, rule: Rule, kinds: list[tuple[int, str]], period: Period, tz: ZoneInfo) -> None:
        """`kinds`: (id, code) of the rule's kinds in the tenant."""
        start, end = period.bounds(tz)
        for kind_id, code in kinds:
            self.rule_ids.append(rule.id)
            self.kind_ids.append(kind_id)
            self.kind_codes.append(code)
            self.starts.append(start)
            self.ends.append(end)
            self.mins.append(rule.min_deputies or 0)
            self.subjects.append(rule.subject)

    def params(self) -> dict:
        return dict(rule_ids=self.rule_ids, kind_ids=self.kind_ids, kind_codes=self.kind_codes, starts=self.starts, ends=self.ends,
                    mins=self.mins, subjects=self.subjects, lo=min(self.starts), hi=max(self.ends),
                    all_kinds=sorted(set(self.kind_ids)))


SPEC_CTE = """
spec AS (
  SELECT * FROM unnest(CAST(:rule_ids AS bigint[]), CAST(:kind_ids AS bigint[]), CAST(:kind_codes AS text[]),
                       CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[]),
                       CAST(:mins AS integer[]), CAST(:subjects AS text[]))
    AS s(rule_id, kind_id, kind_code, starts, ends, min_dep, subject)
)"""
# Each table also names the tenant (:tenant_id, the bound one): a value is what routes a statement to
# the county's one shard on Citus (a correlation or the policies do not).
PRESENT = ("(SELECT count(*) FROM attendances p WHERE p.tenant_id = :tenant_id AND p.tenant_id = a.tenant_id "
           "AND p.activity_id = a.id)")

PLACE_SQL = f"""
WITH {SPEC_CTE},
acts AS (
  SELECT a.station_id, a.group_id, a.kind_id, a.starts_at, {PRESENT} AS present
  FROM activities a
  WHERE a.tenant_id = :tenant_id AND a.status = 'held' AND a.starts_at >= :lo AND a.starts_at < :hi
    AND a.kind_id = ANY(CAST(:all_kinds AS bigint[]))
    AND (a.station_id = ANY(CAST(:station_ids AS bigint[])) OR a.group_id = ANY(CAST(:group_ids AS bigint[])))
)
SELECT s.rule_id, CASE WHEN s.subject = 'station' THEN acts.station_id ELSE acts.group_id END AS subject_id,
       count(*) FILTER (WHERE acts.present >= s.min_dep) AS counted, count(*) AS total
FROM acts JOIN spec s ON s.kind_id = acts.kind_id AND acts.starts_at >= s.starts AND acts.starts_at < s.ends
WHERE (s.subject = 'station' AND acts.station_id = ANY(CAST(:station_ids AS bigint[])))
   OR (s.subject = 'group' AND acts.group_id = ANY(CAST(:group_ids AS bigint[])))
GROUP BY 1, 2
"""

# A deputy's attendances at the county's own held activities, and at joint stations' (the rows
# app.joint.attendance rolled up into the county, matched to the rule's kinds by code).
ATTENDANCE_SQL = f"""
WITH {SPEC_CTE},
acts AS (
  SELECT a.id, a.kind_id, a.starts_at, {PRESENT} AS present
  FROM activities a
  WHERE a.tenant_id = :tenant_id AND a.status = 'held' AND a.starts_at >= :lo AND a.starts_at < :hi
    AND a.kind_id = ANY(CAST(:all_kinds AS bigint[]))
),
attended AS (
  SELECT t.deputy_id, acts.kind_id, NULL::text AS kind_code, acts.starts_at, acts.present, t.method
  FROM attendances t JOIN acts ON acts.id = t.activity_id
  WHERE t.tenant_id = :tenant_id AND t.deputy_id = ANY(CAST(:deputy_ids AS bigint[]))
  UNION ALL
  SELECT j.deputy_id, NULL, j.kind_code, j.starts_at, j.present_count, j.method
  FROM joint_attendance j
  WHERE j.tenant_id = :tenant_id AND j.status = 'held' AND j.present AND j.starts_at >= :lo AND j.starts_at < :hi
    AND j.deputy_id = ANY(CAST(:deputy_ids AS bigint[]))
)
SELECT s.rule_id, x.deputy_id,
       count(*) FILTER (WHERE x.present >= s.min_dep) AS counted, count(*) AS total,
       count(*) FILTER (WHERE x.present >= s.min_dep AND x.method = 'staff') AS on_behalf
FROM attended x
JOIN spec s ON (s.kind_id = x.kind_id OR s.kind_code = x.kind_code) AND x.starts_at >= s.starts AND x.starts_at < s.ends
GROUP BY 1, 2
"""

RECORDS_SQL = """
WITH spec AS (
  SELECT * FROM unnest(CAST(:rule_ids AS bigint[]), CAST(:counts AS text[]),
                       CAST(:firsts AS date[]), CAST(:lasts AS date[])) AS s(rule_id, counts, first, last)
)
SELECT s.rule_id, o.deputy_id, count(*) FROM opinions o
JOIN spec s ON s.counts = 'opinions' AND o.received_on BETWEEN s.first AND s.last
WHERE o.tenant_id = :tenant_id AND o.deputy_id = ANY(CAST(:deputy_ids AS bigint[]))
GROUP BY 1, 2
UNION ALL
SELECT s.rule_id, g.deputy_id, count(*) FROM suggestions g
JOIN spec s ON s.counts = 'suggestions' AND g.filed_on BETWEEN s.first AND s.last
WHERE g.tenant_id = :tenant_id AND g.deputy_id = ANY(CAST(:deputy_ids AS bigint[]))
GROUP BY 1, 2
UNION ALL
SELECT s.rule_id, m.deputy_id, count(*) FROM duty_report_meetings m
JOIN spec s ON s.counts = 'duty_reports' AND m.held_on BETWEEN s.first AND s.last
WHERE m.tenant_id = :tenant_id AND m.status = 'closed' AND m.deputy_id = ANY(CAST(:deputy_ids AS bigint[]))
GROUP BY 1, 2
"""


async def place_tallies(db: AsyncSession, specs: Specs, station_ids: list[int],
                        group_ids: list[int]) -> dict[tuple[int, int], Tally]:
    """Station and group rules counting activities: {(rule id, station or group id): Tally}."""
    if not specs.rule_ids or not (station_ids or group_ids):
        return {}
    rows = await db.execute(text(PLACE_SQL), {**specs.params(), "station_ids": station_ids, "group_ids": group_ids,
                                              "tenant_id": bound_tenant(db)})
    return {(r, s): Tally(counted, total) for r, s, counted, total in rows}


async def attendance_tallies(db: AsyncSession, specs: Specs, deputy_ids: list[int]) -> dict[tuple[int, int], Tally]:
    """Deputy rules counting activities: the held activities each deputy attended (any method)."""
    if not specs.rule_ids or not deputy_ids:
        return {}
    rows = await db.execute(text(ATTENDANCE_SQL), {**specs.params(), "deputy_ids": deputy_ids,
                                                   "tenant_id": bound_tenant(db)})
    return {(r, d): Tally(counted, total, on_behalf) for r, d, counted, total, on_behalf in rows}


async def record_tallies(db: AsyncSession, rules: list[tuple[Rule, Period]],
                         deputy_ids: list[int]) -> dict[tuple[int, int], Tally]:
    """Deputy rules counting opinions received (received_on), suggestions filed (filed_on) or duty
    reports held (closed report meetings, held_on): one query for the three."""
    if not rules or not deputy_ids:
        return {}
    params = dict(rule_ids=[r.id for r, _ in rules], counts=[r.counts for r, _ in rules],
                  firsts=[p.first for _, p in rules], lasts=[p.last for _, p in rules], deputy_ids=deputy_ids,
                  tenant_id=bound_tenant(db))
    rows = await db.execute(text(RECORDS_SQL), params)
    return {(r, d): Tally(n, n) for r, d, n in rows}
