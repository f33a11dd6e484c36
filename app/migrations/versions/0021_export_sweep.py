"""Exports Redis lost are found again (issue 16).

``data_exports_waiting(started_before)``: (tenant_id, export_id) of every county's exports that are
queued (Redis was down when they were asked for, or lost the job) or running since before
`started_before` (the worker died), for the worker's sweep (app.data.exports.sweep) to enqueue
again. `data_exports` is a tenant table with forced row-level security, so each tenant is read under
its own binding, as import_jobs_waiting() does; ids only. Suspended counties are included: their
last exports are what they leave with. The operator's exports are a platform table the worker reads
directly.

Revision ID: 0021
Revises: 0020
"""

from app.migrations.rls import definer_function, script

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

SIGNATURE = "data_exports_waiting(started_before timestamptz)"
BODY = """
DECLARE
  t record;
  saved text := current_setting('app.tenant_id', true);
BEGIN
  FOR t IN SELECT id FROM tenants WHERE status IN ('active', 'suspended') ORDER BY id LOOP
    PERFORM set_config('app.tenant_id', t.id::text, true);
    RETURN QUERY SELECT e.tenant_id, e.id FROM data_exports e
      WHERE e.tenant_id = t.id
        AND (e.status = 'queued' OR (e.status = 'running' AND e.started_at < started_before))
      ORDER BY e.id;
  END LOOP;
  PERFORM set_config('app.tenant_id', coalesce(saved, ''), true);
END
"""


def upgrade() -> None:
    definer_function(SIGNATURE, "TABLE (tenant_id bigint, export_id bigint)", BODY)


def downgrade() -> None:
    script("DROP FUNCTION data_exports_waiting(timestamptz)")
