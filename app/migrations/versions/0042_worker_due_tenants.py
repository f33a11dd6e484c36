"""Worker sweeps that visit only the tenants with work due (issue 20: `produce_reminders` opened a
transaction for every active county every hour, 33 s at 1,000 counties; the hourly purges of
exports and binder workbooks one per tenant too).

``scheduled_due_tenants(at)``: the ids of the active tenants for which one of the hourly producers of
app.jobs.scheduled may have something to write or close at ``at``, for `run_scheduled`. Each
producer's condition, in the tenant's own zone and settings (tenant_config, its defaults where the
county saved none: the same as app.notify.config.NotifySettings and app.tenancy.config.Config):
- case_due_soon: an open case with a unit whose reply is due within `case_due_soon_days` and no
  row of the kind for it and that due time (09:00 local the day the window opens);
- case_overdue: an open case past its reply date, or a replied one past its feedback date, with no
  row of the kind for the day after the missed date (when `notify_case_overdue`);
- case_rating_lapsed: a fed-back, unrated case older than `case_rating_days` (by the clock);
- mailbox_weekly: from the county's weekday on, an active station with someone to remind (a
  liaison officer with an account, or station staff) whose box was not opened this week and which
  has no row of the kind for this week;
- yearly_report: in January from the report day on, an invitation to an activity of the year
  before whose deputy has no row of the kind for this year;
- rule_at_risk: from 09:00 local, a rule in force and anything it judges (a station, a deputy, a
  group) — whether a subject is at risk is the board's engine's to say (app.compliance.nudges).
It is a superset of what the producers write (they check recipients, dedupe keys and the board
themselves), so a tenant with work is never left out. A tenant without an open case, a station, a
deputy or a group (a new or idle county) costs one statement of four index probes inside this one
call instead of a transaction and a dozen queries (~0.08 ms; 1,000 such: ~90 ms); the partial
indexes below make each further check an index probe.

``data_exports_expired_tenants(at)``: tenants (any status) holding export bytes past their expiry,
for app.data.exports.purge_expired. ``binder_builds_purge_tenants(at, forgotten_before)``: tenants
holding binder workbooks past their expiry or finished builds older than ``forgotten_before``, for
app.binder.builds.purge_expired.

``outbox_due_tenants`` (every 10 seconds) keeps its conditions, each now its own EXISTS on the
partial index that serves it (the new `outbox_sending` for claims a stopped worker left).

Every function reads each tenant under its own binding (the tables are under forced row-level
security), as 0039's do, inside the one call; ids only. These and the older per-tenant loops
(0021, 0026, 0037, 0039, import_jobs_waiting) run with `enable_seqscan = off` (see PROBING).

Revision ID: 0042
Revises: 0041
"""

from app.migrations.rls import DEFINER_SEARCH_PATH, definer_function, definer_grants, script

revision = "0042"
down_revision = "0041"
branch_labels = None
depends_on = None

OPEN_WITH_UNIT = "('assigned', 'accepted', 'clarifying')"  # app.cases.models.OPEN_WITH_UNIT

SCHEDULED_SIGNATURE = "scheduled_due_tenants(at timestamptz)"
SCHEDULED_BODY = f"""
DECLARE
  t record;
  cfg record;
  saved text := current_setting('app.tenant_id', true);
  tz text;
  here timestamp;
  today date;
  dow int;
  due timestamptz;
  busy boolean;
BEGIN
  FOR t IN SELECT id, coalesce(nullif(timezone, ''), 'Asia/Shanghai') AS zone FROM tenants
           WHERE status = 'active' ORDER BY id LOOP
    PERFORM set_config('app.tenant_id', t.id::text, true);
    -- Every producer needs cases in these states, or stations, deputies or groups (invitations and
    -- rules' subjects): a county without any, a new or idle one, costs this one statement. Each
    -- statement costs an executor start, more than its probes, so the gate is a single expression.
    CONTINUE WHEN NOT (
      EXISTS (SELECT 1 FROM cases c WHERE c.tenant_id = t.id
                AND c.state IN ('assigned', 'accepted', 'clarifying', 'replied', 'fed_back'))
      OR EXISTS (SELECT 1 FROM stations s WHERE s.tenant_id = t.id)
      OR EXISTS (SELECT 1 FROM deputies d WHERE d.tenant_id = t.id)
      OR EXISTS (SELECT 1 FROM deputy_groups g WHERE g.tenant_id = t.id));
    tz := t.zone;
    here := at AT TIME ZONE tz;
    today := here::date;
    dow := extract(isodow FROM today)::int;
    SELECT coalesce(c.case_due_soon_days, 2) AS soon, coalesce(c.notify_case_overdue, true) AS overdue,
           coalesce(c.case_rating_days, 30) AS rating_days, coalesce(c.mailbox_weekday, 1) AS weekday,
           coalesce(c.yearly_report_day, 10) AS report_day, coalesce(c.notify_at_risk, true) AS at_risk
      INTO cfg FROM (SELECT 1) AS one LEFT JOIN tenant_config c ON c.tenant_id = t.id;

    -- cases whose reply falls due within the window (app.cases.notices.due_soon)
    busy := cfg.soon > 0 AND EXISTS (
      SELECT 1 FROM cases c WHERE c.tenant_id = t.id AND c.state IN {OPEN_WITH_UNIT}
        AND c.reply_due >= today AND c.reply_due <= today + cfg.soon AND c.handling_unit_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.tenant_id = t.id AND o.kind = 'case_due_soon'
                          AND o.subject = 'case:' || c.id
                          AND o.due_at = ((c.reply_due - cfg.soon) + time '09:00') AT TIME ZONE tz));
    -- overdue cases (app.cases.notices.overdue)
    IF NOT busy AND cfg.overdue THEN
      busy := EXISTS (
        SELECT 1 FROM cases c WHERE c.tenant_id = t.id AND c.state IN {OPEN_WITH_UNIT} AND c.reply_due < today
          AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.tenant_id = t.id AND o.kind = 'case_overdue'
                            AND o.subject = 'case:' || c.id
                            AND o.due_at = ((c.reply_due + 1) + time '09:00') AT TIME ZONE tz))
        OR EXISTS (
        SELECT 1 FROM cases c WHERE c.tenant_id = t.id AND c.state = 'replied' AND c.feedback_due < today
          AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.tenant_id = t.id AND o.kind = 'case_overdue'
                            AND o.subject = 'case:' || c.id
                            AND o.due_at = ((c.feedback_due + 1) + time '09:00') AT TIME ZONE tz));
    END IF;
    -- answers whose rating period ended (app.cases.rating.close_lapsed)
    IF NOT busy THEN
      busy := EXISTS (SELECT 1 FROM cases c WHERE c.tenant_id = t.id AND c.state = 'fed_back'
                        AND c.satisfaction IS NULL AND c.fed_back_at < at - make_interval(days => cfg.rating_days));
    END IF;
    -- the weekly mailbox reminder (app.cases.mailbox_reminders), from the county's weekday on
    IF NOT busy AND cfg.weekday > 0 AND dow >= cfg.weekday THEN
      due := ((today - dow + cfg.weekday) + time '09:00') AT TIME ZONE tz;
      busy := EXISTS (
        SELECT 1 FROM stations s WHERE s.tenant_id = t.id AND s.status = 'active'
          AND NOT EXISTS (SELECT 1 FROM mailbox_openings m WHERE m.tenant_id = t.id AND m.station_id = s.id
                            AND m.opened_at >= ((today - (dow - 1)) + time '00:00') AT TIME ZONE tz)
          AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.tenant_id = t.id AND o.kind = 'mailbox_weekly'
                            AND o.subject = 'station:' || s.id AND o.due_at = due)
          AND (EXISTS (SELECT 1 FROM station_staff f WHERE f.tenant_id = t.id AND f.station_id = s.id
                         AND f.role = 'liaison' AND f.user_id IS NOT NULL)
               OR EXISTS (SELECT 1 FROM memberships mb WHERE mb.tenant_id = t.id AND mb.station_id = s.id
                            AND mb.role = 'station_staff' AND mb.revoked_at IS NULL)));
    END IF;
    -- the yearly attendance report (app.activities.yearly_delivery), in January from its day on
    IF NOT busy AND cfg.report_day > 0 AND extract(month FROM today) = 1
       AND extract(day FROM today) >= cfg.report_day THEN
      due := (make_date(extract(year FROM today)::int, 1, cfg.report_day) + time '09:00') AT TIME ZONE tz;
      busy := EXISTS (
        SELECT 1 FROM activities a JOIN activity_invitations i ON i.tenant_id = a.tenant_id AND i.activity_id = a.id
        WHERE a.tenant_id = t.id AND i.withdrawn_at IS NULL
          AND a.starts_at >= make_date(extract(year FROM today)::int - 1, 1, 1)::timestamp AT TIME ZONE tz
          AND a.starts_at < make_date(extract(year FROM today)::int, 1, 1)::timestamp AT TIME ZONE tz
          AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.tenant_id = t.id AND o.kind = 'yearly_report'
                            AND o.subject = 'deputy:' || i.deputy_id AND o.due_at = due));
    END IF;
    -- rules at risk, from 09:00 local (app.compliance.nudges; the board decides which; the gate
    -- above found something for them to judge)
    IF NOT busy AND cfg.at_risk AND extract(hour FROM here) >= 9 THEN
      busy := EXISTS (SELECT 1 FROM activity_rules r WHERE r.tenant_id = t.id AND r.retired_at IS NULL);
    END IF;
    IF busy THEN
      tenant_id := t.id;
      RETURN NEXT;
    END IF;
  END LOOP;
  PERFORM set_config('app.tenant_id', coalesce(saved, ''), true);
END
"""

EXPORTS_SIGNATURE = "data_exports_expired_tenants(at timestamptz)"
EXPORTS_BODY = """
DECLARE
  t record;
  saved text := current_setting('app.tenant_id', true);
BEGIN
  FOR t IN SELECT id FROM tenants ORDER BY id LOOP
    PERFORM set_config('app.tenant_id', t.id::text, true);
    IF EXISTS (SELECT 1 FROM data_exports e WHERE e.tenant_id = t.id AND e.data IS NOT NULL
               AND e.expires_at <= at) THEN
      tenant_id := t.id;
      RETURN NEXT;
    END IF;
  END LOOP;
  PERFORM set_config('app.tenant_id', coalesce(saved, ''), true);
END
"""

BINDER_SIGNATURE = "binder_builds_purge_tenants(at timestamptz, forgotten_before timestamptz)"
BINDER_BODY = """
DECLARE
  t record;
  saved text := current_setting('app.tenant_id', true);
BEGIN
  FOR t IN SELECT id FROM tenants ORDER BY id LOOP
    PERFORM set_config('app.tenant_id', t.id::text, true);
    IF EXISTS (SELECT 1 FROM binder_builds b WHERE b.tenant_id = t.id AND b.data IS NOT NULL
               AND b.expires_at <= at)
       OR EXISTS (SELECT 1 FROM binder_builds b WHERE b.tenant_id = t.id
                  AND b.status NOT IN ('queued', 'running') AND b.created_at < forgotten_before) THEN
      tenant_id := t.id;
      RETURN NEXT;
    END IF;
  END LOOP;
  PERFORM set_config('app.tenant_id', coalesce(saved, ''), true);
END
"""

# outbox_due_tenants (0006, 0014, 0026), the deliver_notifications sweep's every 10 seconds: the same
# conditions, each its own EXISTS on the partial index that serves it (one OR'd condition was a scan of
# the tenant's every row, the future reminders included: the planner cannot split it into indexes).
OUTBOX_SIGNATURE = "outbox_due_tenants(timestamptz, interval)"
OUTBOX_BODY = """
DECLARE
  t record;
  saved text := current_setting('app.tenant_id', true);
BEGIN
  FOR t IN SELECT id FROM tenants WHERE status = 'active' ORDER BY id LOOP
    PERFORM set_config('app.tenant_id', t.id::text, true);
    IF EXISTS (SELECT 1 FROM outbox o WHERE o.tenant_id = t.id AND o.status = 'pending' AND o.next_attempt_at <= at)
       OR EXISTS (SELECT 1 FROM outbox o WHERE o.tenant_id = t.id AND o.status = 'sending'
                  AND o.claimed_at < at - stale_after)
       OR EXISTS (SELECT 1 FROM outbox o WHERE o.tenant_id = t.id AND o.status = 'checking' AND o.next_attempt_at <= at)
       OR EXISTS (SELECT 1 FROM outbox o WHERE o.tenant_id = t.id AND o.receipt_check_at <= at)
       OR EXISTS (SELECT 1 FROM work_notices w WHERE w.tenant_id = t.id) THEN
      tenant_id := t.id;
      RETURN NEXT;
    END IF;
  END LOOP;
  PERFORM set_config('app.tenant_id', coalesce(saved, ''), true);
END
"""
# as 0026 left it, for the downgrade
OUTBOX_DUE_0026 = ("(o.status = 'pending' AND o.next_attempt_at <= at)"
                   " OR (o.status = 'sending' AND o.claimed_at < at - stale_after)"
                   " OR (o.status = 'checking' AND o.next_attempt_at <= at)"
                   " OR (o.receipt_check_at <= at)")
OUTBOX_BODY_0026 = f"""
DECLARE
  t record;
  saved text := current_setting('app.tenant_id', true);
BEGIN
  FOR t IN SELECT id FROM tenants WHERE status = 'active' ORDER BY id LOOP
    PERFORM set_config('app.tenant_id', t.id::text, true);
    IF EXISTS (SELECT 1 FROM outbox o WHERE o.tenant_id = t.id AND ({OUTBOX_DUE_0026}))
       OR EXISTS (SELECT 1 FROM work_notices w WHERE w.tenant_id = t.id) THEN
      tenant_id := t.id;
      RETURN NEXT;
    END IF;
  END LOOP;
  PERFORM set_config('app.tenant_id', coalesce(saved, ''), true);
END
"""

# Every function that loops over the tenants probing a tenant table. Their plans are generic (the
# tenant is a parameter): with one county holding most of a table's rows the planner expects a
# sequential scan to find a row at once, and scans the whole table for each idle county (seen: 42 s
# for outbox_due_tenants at 1,000 counties and 40,000 rows in one). A tenant-first index always
# exists (the primary keys), so these functions plan without sequential scans.
PROBING = (
    "scheduled_due_tenants(timestamptz)", "data_exports_expired_tenants(timestamptz)",
    "binder_builds_purge_tenants(timestamptz, timestamptz)", OUTBOX_SIGNATURE,
    "signin_codes_expired_tenants(timestamptz)", "joint_syncing_counties()", "import_jobs_waiting(interval)",
    "data_exports_waiting(timestamptz)", "binder_builds_waiting(timestamptz)",
)

INDEXES = """
-- the producers' own "already written?" look-ups and the due check above (kind + subject + due time)
CREATE INDEX outbox_scheduled ON outbox (tenant_id, subject, due_at)
  WHERE kind IN ('case_due_soon', 'case_overdue', 'mailbox_weekly', 'yearly_report');
CREATE INDEX cases_replied_due ON cases (tenant_id, feedback_due) WHERE state = 'replied';
CREATE INDEX cases_fed_back_unrated ON cases (tenant_id, fed_back_at) WHERE state = 'fed_back' AND satisfaction IS NULL;
CREATE INDEX data_exports_expiring ON data_exports (tenant_id, expires_at) WHERE data IS NOT NULL;
CREATE INDEX binder_builds_expiring ON binder_builds (tenant_id, expires_at) WHERE data IS NOT NULL;
CREATE INDEX binder_builds_finished ON binder_builds (tenant_id, created_at) WHERE status NOT IN ('queued', 'running');
-- outbox_due_tenants' rows claimed by a worker that stopped (outbox_due also holds every future reminder)
CREATE INDEX outbox_sending ON outbox (tenant_id, claimed_at) WHERE status = 'sending';
"""


def upgrade() -> None:
    script(INDEXES)
    definer_function(SCHEDULED_SIGNATURE, "TABLE (tenant_id bigint)", SCHEDULED_BODY)
    definer_function(EXPORTS_SIGNATURE, "TABLE (tenant_id bigint)", EXPORTS_BODY)
    definer_function(BINDER_SIGNATURE, "TABLE (tenant_id bigint)", BINDER_BODY)
    _outbox_due(OUTBOX_BODY)
    for signature in PROBING:
        script(f"ALTER FUNCTION {signature} SET enable_seqscan = off")


def _outbox_due(body: str) -> None:
    script(f"CREATE OR REPLACE FUNCTION outbox_due_tenants(at timestamptz, stale_after interval) "
           f"RETURNS TABLE (tenant_id bigint) LANGUAGE plpgsql SECURITY DEFINER "
           f"SET search_path = {DEFINER_SEARCH_PATH} AS $fn${body}$fn$")
    definer_grants(OUTBOX_SIGNATURE)


def downgrade() -> None:
    for signature in PROBING[3:]:
        script(f"ALTER FUNCTION {signature} RESET enable_seqscan")
    _outbox_due(OUTBOX_BODY_0026)
    script(
        "DROP FUNCTION scheduled_due_tenants(timestamptz); DROP FUNCTION data_exports_expired_tenants(timestamptz); "
        "DROP FUNCTION binder_builds_purge_tenants(timestamptz, timestamptz); "
        "DROP INDEX outbox_scheduled, cases_replied_due, cases_fed_back_unrated, data_exports_expiring, "
        "binder_builds_expiring, binder_builds_finished, outbox_sending;"
    )
