"""The cross-county functions read every county in one statement, as the sweep role (issue 21).

Until now each of these SECURITY DEFINER functions looped over `tenants` and bound each county in
turn with set_config (the tables are under forced row-level security, and their owner is not
exempt). On Citus that is one routed query per county per call (`outbox_due_tenants` every 10 s per
worker), and worse, it finds nothing at all: set_config stays on the coordinator, so on the shards
no county is bound and the owner's reads come back empty — no reminder, import, export or binder
would ever be picked up, and the operator's figures would read 0.

Now they are owned by a role of their own, the sweep role (`lianluo_sweep`, NOLOGIN), which a
SELECT-only policy lets read every county's rows of the few columns each function needs (column
grants: ids, states and times, never a message, a name or a mobile; the export and binder bytes
only as "still held?"). Each function is one statement: one index scan per condition on one
PostgreSQL, one query sent to every shard in parallel on Citus (the caller marks it with
`across_shards`). Nothing else runs as the sweep role, and no role holds its privileges (the
migrating role is its member only while it hands a function over: app.migrations.rls.as_sweep_owner).

What each returns is unchanged (tests/jobs, tests/notify, tests/platform hold them to it). The
`scheduled_due_tenants` conditions are the same as 0042's, each now a query over the rows that
could be due, driven by the table the condition is about (Citus pushes such a query down to the
shards; a correlated sub-query under `tenants` it cannot).

Revision ID: 0044
Revises: 0043
"""

from pathlib import Path

from app.migrations.rls import as_sweep_owner, definer_grants, ensure_sweep_role, script, sweep_function, sweep_reads

revision = "0044"
down_revision = "0043"
branch_labels = None
depends_on = None

NO_SEQSCAN = "SET enable_seqscan = off"  # 0042's PROBING: no statistics yet must not mean a scan of every county

# What the sweep role may read (platform table `tenants`: no policy to add).
READS = {
    "tenants": ("id, status, kind, timezone", False),
    "tenant_config": ("tenant_id, case_due_soon_days, notify_case_overdue, case_rating_days, mailbox_weekday, "
                      "yearly_report_day, notify_at_risk", True),
    "outbox": ("tenant_id, id, status, kind, subject, due_at, next_attempt_at, claimed_at, receipt_check_at, attempts",
               True),
    "deliveries": ("tenant_id, outbox_id, attempt, channel, result, started_at", True),
    "work_notices": ("tenant_id", True),
    "import_jobs": ("tenant_id, id, status, started_at", True),
    "data_exports": ("tenant_id, id, status, started_at, expires_at, data", True),
    "binder_builds": ("tenant_id, id, status, started_at, created_at, expires_at, data", True),
    "signin_codes": ("tenant_id, used_at, expires_at", True),
    "joint_agreements": ("tenant_id, agreement_key, name, proposer_tenant_id, status, parties, joint_tenant_id, "
                         "created_at", True),
    "compliance_stale": ("tenant_id", True),
    "compliance_snapshots": ("tenant_id, expires_at", True),
    "memberships": ("tenant_id, station_id, role, revoked_at", True),
    "stations": ("tenant_id, id, status", True),
    "station_staff": ("tenant_id, station_id, role, user_id", True),
    "mailbox_openings": ("tenant_id, station_id, opened_at", True),
    "deputies": ("tenant_id, status", True),
    "deputy_groups": ("tenant_id", True),
    "cases": ("tenant_id, id, state, reply_due, feedback_due, handling_unit_id, satisfaction, fed_back_at", True),
    "activities": ("tenant_id, id, starts_at", True),
    "activity_invitations": ("tenant_id, activity_id, deputy_id, withdrawn_at", True),
    "activity_rules": ("tenant_id, retired_at", True),
}

OUTBOX_DUE = """
BEGIN
  RETURN QUERY SELECT t.id FROM tenants t WHERE t.status = 'active' AND (
       t.id IN (SELECT DISTINCT o.tenant_id FROM outbox o WHERE o.status = 'pending' AND o.next_attempt_at <= at)
    OR t.id IN (SELECT DISTINCT o.tenant_id FROM outbox o WHERE o.status = 'sending'
                  AND o.claimed_at < at - stale_after)
    OR t.id IN (SELECT DISTINCT o.tenant_id FROM outbox o WHERE o.status = 'checking' AND o.next_attempt_at <= at)
    OR t.id IN (SELECT DISTINCT o.tenant_id FROM outbox o WHERE o.receipt_check_at <= at)
    OR t.id IN (SELECT DISTINCT w.tenant_id FROM work_notices w))
  ORDER BY t.id;
END
"""


def _waiting(table: str, alias: str, statuses: str, stale: str) -> str:
    """The queued rows of a job table, and the running ones a stopped worker left (ids only)."""
    return f"""
BEGIN
  RETURN QUERY SELECT {alias}.tenant_id, {alias}.id FROM {table} {alias}
    JOIN tenants t ON t.id = {alias}.tenant_id AND t.status IN ({statuses})
   WHERE {alias}.status = 'queued' OR ({alias}.status = 'running' AND {alias}.started_at < {stale})
   ORDER BY {alias}.tenant_id, {alias}.id;
END
"""


def _tenants_holding(where_tenant: str, condition: str) -> str:
    """The ids of the tenants (`where_tenant` on `tenants t`) for which `condition` holds."""
    return f"""
BEGIN
  RETURN QUERY SELECT t.id FROM tenants t WHERE {where_tenant} AND ({condition}) ORDER BY t.id;
END
"""


USAGE = """
BEGIN
  RETURN QUERY
  SELECT t.id, coalesce(m.n, 0), coalesce(s.n, 0), coalesce(d.n, 0), coalesce(c.n, 0)
    FROM tenants t
    LEFT JOIN (SELECT x.tenant_id, count(*) AS n FROM memberships x WHERE x.revoked_at IS NULL
                GROUP BY x.tenant_id) m ON m.tenant_id = t.id
    LEFT JOIN (SELECT x.tenant_id, count(*) AS n FROM stations x WHERE x.status <> 'closed'
                GROUP BY x.tenant_id) s ON s.tenant_id = t.id
    LEFT JOIN (SELECT x.tenant_id, count(*) AS n FROM deputies x WHERE x.status = 'active'
                GROUP BY x.tenant_id) d ON d.tenant_id = t.id
    LEFT JOIN (SELECT x.tenant_id, count(*) AS n FROM cases x
                WHERE x.state NOT IN ('closed', 'merged', 'forwarded', 'suggestion')
                GROUP BY x.tenant_id) c ON c.tenant_id = t.id
   ORDER BY t.id;
END
"""

SMS_SINCE = """
BEGIN
  RETURN QUERY
  SELECT t.id, coalesce(d.n, 0) FROM tenants t
    LEFT JOIN (SELECT x.tenant_id, count(*) AS n FROM deliveries x
                WHERE x.channel = 'sms' AND x.started_at >= since AND x.result IN ('sending', 'sent')
                GROUP BY x.tenant_id) d ON d.tenant_id = t.id
   ORDER BY t.id;
END
"""

SMS_HEALTH = """
BEGIN
  RETURN QUERY
  SELECT t.id, coalesce(d.sms_month, 0), coalesce(d.sms_hour, 0), coalesce(d.sms_hour_errors, 0),
         coalesce(d.sms_day, 0), coalesce(d.sms_day_errors, 0),
         coalesce(o.msg_unknown, 0), coalesce(o.msg_stuck, 0), coalesce(o.msg_failing, 0)
    FROM tenants t
    LEFT JOIN (
      SELECT x.tenant_id,
             count(*) FILTER (WHERE x.started_at >= month_since AND x.result IN ('sending', 'sent')) AS sms_month,
             count(*) FILTER (WHERE x.started_at >= hour_since AND x.result IN ('sent', 'retry', 'failed', 'unknown'))
               AS sms_hour,
             count(*) FILTER (WHERE x.started_at >= hour_since AND x.result IN ('retry', 'failed', 'unknown'))
               AS sms_hour_errors,
             count(*) FILTER (WHERE x.started_at >= day_since AND x.result IN ('sent', 'retry', 'failed', 'unknown'))
               AS sms_day,
             count(*) FILTER (WHERE x.started_at >= day_since AND x.result IN ('retry', 'failed', 'unknown'))
               AS sms_day_errors
        FROM deliveries x
       WHERE x.channel = 'sms' AND x.started_at >= least(month_since, day_since)
       GROUP BY x.tenant_id) d ON d.tenant_id = t.id
    LEFT JOIN (
      SELECT x.tenant_id,
             count(*) FILTER (WHERE x.status = 'unknown') AS msg_unknown,
             count(*) FILTER (WHERE (x.status = 'sending' AND x.claimed_at < stuck_before)
               OR (x.status = 'checking' AND EXISTS (SELECT 1 FROM deliveries a WHERE a.tenant_id = x.tenant_id
                   AND a.outbox_id = x.id AND a.attempt = x.attempts AND a.started_at < checking_before)))
               AS msg_stuck,
             count(*) FILTER (WHERE (x.status = 'pending' AND x.attempts >= retry_attempts
                   AND EXISTS (SELECT 1 FROM deliveries a WHERE a.tenant_id = x.tenant_id AND a.outbox_id = x.id
                     AND a.attempt = x.attempts AND a.result = 'retry'))
               OR (x.status = 'failed' AND EXISTS (SELECT 1 FROM deliveries a WHERE a.tenant_id = x.tenant_id
                   AND a.outbox_id = x.id AND a.started_at >= failed_since)))
               AS msg_failing
        FROM outbox x
       WHERE x.status IN ('unknown', 'sending', 'checking', 'pending', 'failed')
       GROUP BY x.tenant_id) o ON o.tenant_id = t.id
   ORDER BY t.id;
END
"""

JOINT_AGREEMENTS = """
BEGIN
  RETURN QUERY SELECT a.agreement_key, a.name, a.proposer_tenant_id, a.status,
      ARRAY(SELECT (p->>'tenant_id')::bigint FROM jsonb_array_elements(a.parties) p),
      a.joint_tenant_id, a.created_at
    FROM joint_agreements a JOIN tenants t ON t.id = a.tenant_id AND t.kind = 'county'
   WHERE a.proposer_tenant_id = a.tenant_id
   ORDER BY a.tenant_id, a.created_at;
END
"""

OPEN_WITH_UNIT = "('assigned', 'accepted', 'clarifying')"  # app.cases.models.OPEN_WITH_UNIT
# 0042's conditions, each driven by the rows it is about; `k` is every active county's clock and
# settings (the defaults where it saved none: app.notify.config.NotifySettings, app.tenancy.config.Config)
SCHEDULED = f"""
BEGIN
  RETURN QUERY
  WITH k AS MATERIALIZED (
    SELECT z.tenant_id, z.tz, z.here, z.here::date AS today, extract(isodow FROM z.here)::int AS dow,
           coalesce(c.case_due_soon_days, 2) AS soon, coalesce(c.notify_case_overdue, true) AS overdue,
           coalesce(c.case_rating_days, 30) AS rating_days, coalesce(c.mailbox_weekday, 1) AS weekday,
           coalesce(c.yearly_report_day, 10) AS report_day, coalesce(c.notify_at_risk, true) AS at_risk
      FROM (SELECT t.id AS tenant_id, coalesce(nullif(t.timezone, ''), 'Asia/Shanghai') AS tz,
                   at AT TIME ZONE coalesce(nullif(t.timezone, ''), 'Asia/Shanghai') AS here
              FROM tenants t WHERE t.status = 'active') z
      LEFT JOIN (SELECT x.tenant_id, x.case_due_soon_days, x.notify_case_overdue, x.case_rating_days,
                        x.mailbox_weekday, x.yearly_report_day, x.notify_at_risk FROM tenant_config x) c
        ON c.tenant_id = z.tenant_id
  ), due AS (
    -- cases whose reply falls due within the window (app.cases.notices.due_soon)
    SELECT c.tenant_id FROM cases c JOIN k ON k.tenant_id = c.tenant_id
     WHERE k.soon > 0 AND c.state IN {OPEN_WITH_UNIT} AND c.handling_unit_id IS NOT NULL
       AND c.reply_due >= k.today AND c.reply_due <= k.today + k.soon
       AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.tenant_id = c.tenant_id AND o.kind = 'case_due_soon'
                         AND o.subject = 'case:' || c.id
                         AND o.due_at = ((c.reply_due - k.soon) + time '09:00') AT TIME ZONE k.tz)
    UNION
    -- overdue cases (app.cases.notices.overdue)
    SELECT c.tenant_id FROM cases c JOIN k ON k.tenant_id = c.tenant_id
     WHERE k.overdue AND c.state IN {OPEN_WITH_UNIT} AND c.reply_due < k.today
       AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.tenant_id = c.tenant_id AND o.kind = 'case_overdue'
                         AND o.subject = 'case:' || c.id
                         AND o.due_at = ((c.reply_due + 1) + time '09:00') AT TIME ZONE k.tz)
    UNION
    SELECT c.tenant_id FROM cases c JOIN k ON k.tenant_id = c.tenant_id
     WHERE k.overdue AND c.state = 'replied' AND c.feedback_due < k.today
       AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.tenant_id = c.tenant_id AND o.kind = 'case_overdue'
                         AND o.subject = 'case:' || c.id
                         AND o.due_at = ((c.feedback_due + 1) + time '09:00') AT TIME ZONE k.tz)
    UNION
    -- answers whose rating period ended (app.cases.rating.close_lapsed)
    SELECT c.tenant_id FROM cases c JOIN k ON k.tenant_id = c.tenant_id
     WHERE c.state = 'fed_back' AND c.satisfaction IS NULL
       AND c.fed_back_at < at - make_interval(days => k.rating_days)
    UNION
    -- the weekly mailbox reminder (app.cases.mailbox_reminders), from the county's weekday on
    SELECT s.tenant_id FROM stations s JOIN k ON k.tenant_id = s.tenant_id
     WHERE k.weekday > 0 AND k.dow >= k.weekday AND s.status = 'active'
       AND NOT EXISTS (SELECT 1 FROM mailbox_openings m WHERE m.tenant_id = s.tenant_id AND m.station_id = s.id
                         AND m.opened_at >= ((k.today - (k.dow - 1)) + time '00:00') AT TIME ZONE k.tz)
       AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.tenant_id = s.tenant_id AND o.kind = 'mailbox_weekly'
                         AND o.subject = 'station:' || s.id
                         AND o.due_at = ((k.today - k.dow + k.weekday) + time '09:00') AT TIME ZONE k.tz)
       AND (EXISTS (SELECT 1 FROM station_staff f WHERE f.tenant_id = s.tenant_id AND f.station_id = s.id
                      AND f.role = 'liaison' AND f.user_id IS NOT NULL)
            OR EXISTS (SELECT 1 FROM memberships mb WHERE mb.tenant_id = s.tenant_id AND mb.station_id = s.id
                         AND mb.role = 'station_staff' AND mb.revoked_at IS NULL))
    UNION
    -- the yearly attendance report (app.activities.yearly_delivery), in January from its day on
    SELECT a.tenant_id FROM activities a
      JOIN activity_invitations i ON i.tenant_id = a.tenant_id AND i.activity_id = a.id
      JOIN k ON k.tenant_id = a.tenant_id
     WHERE k.report_day > 0 AND extract(month FROM k.today) = 1 AND extract(day FROM k.today) >= k.report_day
       AND i.withdrawn_at IS NULL
       AND a.starts_at >= make_date(extract(year FROM k.today)::int - 1, 1, 1)::timestamp AT TIME ZONE k.tz
       AND a.starts_at < make_date(extract(year FROM k.today)::int, 1, 1)::timestamp AT TIME ZONE k.tz
       AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.tenant_id = a.tenant_id AND o.kind = 'yearly_report'
                         AND o.subject = 'deputy:' || i.deputy_id
                         AND o.due_at = (make_date(extract(year FROM k.today)::int, 1, k.report_day)
                                         + time '09:00') AT TIME ZONE k.tz)
    UNION
    -- rules in force, from 09:00 local, in a county with something for them to judge (app.compliance.nudges)
    SELECT r.tenant_id FROM activity_rules r JOIN k ON k.tenant_id = r.tenant_id
     WHERE k.at_risk AND extract(hour FROM k.here) >= 9 AND r.retired_at IS NULL
       AND (EXISTS (SELECT 1 FROM stations s WHERE s.tenant_id = r.tenant_id)
            OR EXISTS (SELECT 1 FROM deputies d WHERE d.tenant_id = r.tenant_id)
            OR EXISTS (SELECT 1 FROM deputy_groups g WHERE g.tenant_id = r.tenant_id)
            OR EXISTS (SELECT 1 FROM cases c WHERE c.tenant_id = r.tenant_id
                         AND c.state IN ('assigned', 'accepted', 'clarifying', 'replied', 'fed_back')))
  )
  SELECT DISTINCT due.tenant_id FROM due ORDER BY 1;
END
"""

ACTIVE = "t.status = 'active'"
FUNCTIONS = [  # (signature, returns, body, options)
    ("outbox_due_tenants(at timestamptz, stale_after interval)", "TABLE (tenant_id bigint)", OUTBOX_DUE, NO_SEQSCAN),
    ("import_jobs_waiting(stale_after interval)", "TABLE (tenant_id bigint, job_id bigint)",
     _waiting("import_jobs", "j", "'active'", "now() - stale_after"), NO_SEQSCAN),
    ("data_exports_waiting(started_before timestamptz)", "TABLE (tenant_id bigint, export_id bigint)",
     _waiting("data_exports", "e", "'active', 'suspended'", "started_before"), NO_SEQSCAN),
    ("binder_builds_waiting(started_before timestamptz)", "TABLE (tenant_id bigint, build_id bigint)",
     _waiting("binder_builds", "b", "'active'", "started_before"), NO_SEQSCAN),
    ("scheduled_due_tenants(at timestamptz)", "TABLE (tenant_id bigint)", SCHEDULED, NO_SEQSCAN),
    ("compliance_due_tenants(p_now timestamptz)", "TABLE (tenant_id bigint)", _tenants_holding(
        ACTIVE, "t.id IN (SELECT DISTINCT s.tenant_id FROM compliance_stale s) OR NOT t.id IN "
                "(SELECT DISTINCT c.tenant_id FROM compliance_snapshots c WHERE c.expires_at > p_now)"), ""),
    ("data_exports_expired_tenants(at timestamptz)", "TABLE (tenant_id bigint)", _tenants_holding(
        "true", "t.id IN (SELECT DISTINCT e.tenant_id FROM data_exports e WHERE e.data IS NOT NULL "
                "AND e.expires_at <= at)"), NO_SEQSCAN),
    ("binder_builds_purge_tenants(at timestamptz, forgotten_before timestamptz)", "TABLE (tenant_id bigint)",
     _tenants_holding("true", "t.id IN (SELECT DISTINCT b.tenant_id FROM binder_builds b WHERE b.data IS NOT NULL "
                              "AND b.expires_at <= at) OR t.id IN (SELECT DISTINCT b.tenant_id FROM binder_builds b "
                              "WHERE b.status NOT IN ('queued', 'running') AND b.created_at < forgotten_before)"),
     NO_SEQSCAN),
    ("signin_codes_expired_tenants(cutoff timestamptz)", "TABLE (tenant_id bigint)", _tenants_holding(
        "true", "t.id IN (SELECT DISTINCT c.tenant_id FROM signin_codes c WHERE c.used_at IS NULL "
                "AND c.expires_at < cutoff)"), NO_SEQSCAN),
    ("joint_syncing_counties()", "TABLE (county_id bigint)", _tenants_holding(
        "t.kind = 'county' AND t.status = 'active'",
        "t.id IN (SELECT DISTINCT a.tenant_id FROM joint_agreements a WHERE a.status = 'active' "
        "AND a.joint_tenant_id IS NOT NULL)"), NO_SEQSCAN),
    ("platform_tenant_usage()", "TABLE (tenant_id bigint, members bigint, stations bigint, deputies bigint, "
     "open_cases bigint)", USAGE, ""),
    ("platform_sms_since(since timestamptz)", "TABLE (tenant_id bigint, sms bigint)", SMS_SINCE, ""),
    ("platform_sms_health(month_since timestamptz, hour_since timestamptz, day_since timestamptz, "
     "stuck_before timestamptz, checking_before timestamptz, failed_since timestamptz, retry_attempts integer)",
     "TABLE (tenant_id bigint, sms_month bigint, sms_hour bigint, sms_hour_errors bigint, sms_day bigint, "
     "sms_day_errors bigint, msg_unknown bigint, msg_stuck bigint, msg_failing bigint)", SMS_HEALTH, ""),
    ("platform_joint_agreements()", "TABLE (agreement_key uuid, name varchar, proposer_tenant_id bigint, "
     "status varchar, parties bigint[], joint_tenant_id bigint, created_at timestamptz)", JOINT_AGREEMENTS, ""),
]


def upgrade() -> None:
    ensure_sweep_role()
    for table, (columns, tenant) in READS.items():
        sweep_reads(table, columns, tenant=tenant)
    for signature, returns, body, options in FUNCTIONS:
        sweep_function(signature, returns, body, options=options)


def downgrade() -> None:
    """The per-county loops back, owned by the migrating role (their definitions as 0043 left them)."""
    from app.migrations.rls import sweep_role

    role = sweep_role()
    before = Path(__file__).with_name("0044_loops_before.sql").read_text(encoding="utf-8")
    as_sweep_owner(*(f"DROP FUNCTION {signature}" for signature, *_ in FUNCTIONS))
    script(before)
    for signature, *_ in FUNCTIONS:
        definer_grants(signature)
    for table, (_, tenant) in READS.items():
        if tenant:
            script(f"DROP POLICY sweep_reads ON {table}")
        script(f"REVOKE ALL ON {table} FROM {role}")
