"""Compliance counts precomputed per tenant by the worker (issue 20): the county board read 10,000
deputies and evaluated every rule in Python on each request (1.3 s).

- ``compliance_snapshots``: one row per tenant: when it was computed, until when its periods hold
  (``expires_at``: the first end of a rule's period, or of the week for the mailbox flags), the
  rules' signature (the count-relevant fields and periods: a snapshot of other rules answers
  nothing), the count histograms the county level shows (per rule, per township and rule) and the
  stations whose mailbox missed a week.
- ``compliance_snapshot_subjects``: one row per deputy and deputy group evaluated, in the board's
  order (``pos``), with each applicable rule's counts. Counts, not verdicts: a verdict is decided
  from the count by today's yardstick when read (app.compliance.risk), so a snapshot holds for its
  whole period.
- ``compliance_stale``: a row per transaction that changed a record the counts read (trigger
  ``compliance_mark_stale`` on those tables; a transaction-local setting keeps it to one row per
  transaction). Insert-only, so writers never wait on each other; the worker deletes the rows it
  has caught up with.
- ``compliance_due_tenants(now)``: ids of the active tenants with stale rows, no snapshot or an
  expired one, for the worker's refresh (SECURITY DEFINER: each tenant read under its own binding,
  as 0039 does; ids only).

Revision ID: 0040
Revises: 0039
"""

from app.migrations.rls import definer_function, script, tenant_table

revision = "0040"
down_revision = "0039"
branch_labels = None
depends_on = None

# The tables whose rows feed the counts, the subjects or their order, and the board's mailbox flags
# (mailbox openings; a station's activation is when its weeks start counting).
WATCHED = ("activities", "attendances", "joint_attendance", "activity_kinds", "activity_rules", "opinions",
           "suggestions", "duty_report_meetings", "stations", "station_kinds", "station_deputies", "deputies",
           "deputy_mandates", "deputy_groups", "admin_nodes", "mailbox_openings", "station_events")

TRIGGER = """
CREATE FUNCTION compliance_mark_stale() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp AS $fn$
DECLARE
  tid bigint;
BEGIN
  IF TG_OP = 'DELETE' THEN
    tid := OLD.tenant_id;
  ELSE
    IF TG_OP = 'UPDATE' AND NEW IS NOT DISTINCT FROM OLD THEN
      RETURN NULL;
    END IF;
    tid := NEW.tenant_id;
  END IF;
  -- once per transaction and tenant; a tenant whose data is being deleted (delete_tenant_data: due)
  -- leaves no marker behind; a suspended one keeps its markers for when it is active again
  IF current_setting('lianluo.compliance_stale', true) IS DISTINCT FROM tid::text THEN
    PERFORM set_config('lianluo.compliance_stale', tid::text, true);
    IF EXISTS (SELECT 1 FROM tenants WHERE id = tid AND status <> 'deleted'
               AND (deletion_due_at IS NULL OR deletion_due_at > now())) THEN
      INSERT INTO compliance_stale (tenant_id) VALUES (tid);
    END IF;
  END IF;
  RETURN NULL;
END
$fn$;
"""

DUE_SIGNATURE = "compliance_due_tenants(p_now timestamptz)"
DUE_BODY = """
DECLARE
  t record;
  saved text := current_setting('app.tenant_id', true);
BEGIN
  FOR t IN SELECT id FROM tenants WHERE status = 'active' ORDER BY id LOOP
    PERFORM set_config('app.tenant_id', t.id::text, true);
    IF EXISTS (SELECT 1 FROM compliance_stale s WHERE s.tenant_id = t.id)
       OR NOT EXISTS (SELECT 1 FROM compliance_snapshots c WHERE c.tenant_id = t.id AND c.expires_at > p_now) THEN
      tenant_id := t.id;
      RETURN NEXT;
    END IF;
  END LOOP;
  PERFORM set_config('app.tenant_id', coalesce(saved, ''), true);
END
"""


def upgrade() -> None:
    script(
        """
        CREATE TABLE compliance_snapshots (
          tenant_id bigint NOT NULL REFERENCES tenants (id),
          computed_at timestamptz NOT NULL,
          expires_at timestamptz NOT NULL,
          signature text NOT NULL,
          summary jsonb NOT NULL,
          PRIMARY KEY (tenant_id)
        );
        CREATE TABLE compliance_snapshot_subjects (
          tenant_id bigint NOT NULL REFERENCES tenants (id),
          kind text NOT NULL,
          subject_id bigint NOT NULL,
          pos integer NOT NULL,
          name text NOT NULL,
          counts jsonb NOT NULL,
          PRIMARY KEY (tenant_id, kind, subject_id)
        );
        CREATE INDEX compliance_snapshot_subjects_pos ON compliance_snapshot_subjects (tenant_id, kind, pos);
        CREATE TABLE compliance_stale (
          tenant_id bigint NOT NULL REFERENCES tenants (id),
          id bigint GENERATED ALWAYS AS IDENTITY,
          at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (tenant_id, id)
        );
        """
    )
    for table in ("compliance_snapshots", "compliance_snapshot_subjects", "compliance_stale"):
        tenant_table(table)
    script(TRIGGER)
    script("\n".join(
        f"CREATE TRIGGER compliance_stale AFTER INSERT OR UPDATE OR DELETE ON {t} "
        f"FOR EACH ROW EXECUTE FUNCTION compliance_mark_stale();" for t in WATCHED))
    definer_function(DUE_SIGNATURE, "TABLE (tenant_id bigint)", DUE_BODY)


def downgrade() -> None:
    script("\n".join(f"DROP TRIGGER compliance_stale ON {t};" for t in WATCHED))
    script(
        """
        DROP FUNCTION compliance_due_tenants(timestamptz);
        DROP FUNCTION compliance_mark_stale();
        DROP TABLE compliance_stale;
        DROP TABLE compliance_snapshot_subjects;
        DROP TABLE compliance_snapshots;
        """
    )
