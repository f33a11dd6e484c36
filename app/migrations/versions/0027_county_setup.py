"""A county that starts from zero (issue 17): more kinds of spreadsheet import, their row-by-row
preview, handling units' contacts and the set-up checklist's flag.

- import_jobs.kind: also `tree` (townships and villages), `stations` and `units` (handling units).
- import_jobs.preview: every row of the uploaded file as read (the recognised columns, mobile numbers
  masked), shown with its problems before anything is written; dropped with the file when the job
  ends or the preview is left unconfirmed.
- handling_units.contact_name / contact_phone: whom a township calls about an assigned case.
- tenant_config.setup_done_at: the set-up checklist on the county admin's home is done (every step
  was seen done once) or dismissed; it is not shown again.
- audit_log_notify_saved: the checklist's "reminder settings" step asks whether the county ever
  saved them; a partial index keeps that look-up off the county's whole audit log.

Revision ID: 0027
Revises: 0026
"""

from app.migrations.rls import script

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    script(
        """
        ALTER TABLE import_jobs DROP CONSTRAINT import_jobs_kind_check;
        ALTER TABLE import_jobs ADD CONSTRAINT import_jobs_kind_check
            CHECK (kind IN ('deputies', 'roster', 'tree', 'stations', 'units'));
        ALTER TABLE import_jobs ADD COLUMN preview jsonb;
        ALTER TABLE handling_units ADD COLUMN contact_name varchar(40) NOT NULL DEFAULT '';
        ALTER TABLE handling_units ADD COLUMN contact_phone varchar(20) NOT NULL DEFAULT '';
        ALTER TABLE tenant_config ADD COLUMN setup_done_at timestamptz;
        CREATE INDEX audit_log_notify_saved ON audit_log (tenant_id) WHERE action = 'notify_settings_saved';
        """
    )


def downgrade() -> None:
    script(
        """
        DROP INDEX audit_log_notify_saved;
        ALTER TABLE tenant_config DROP COLUMN setup_done_at;
        ALTER TABLE handling_units DROP COLUMN contact_phone, DROP COLUMN contact_name;
        ALTER TABLE import_jobs DROP COLUMN preview;
        DELETE FROM import_jobs WHERE kind NOT IN ('deputies', 'roster');
        ALTER TABLE import_jobs DROP CONSTRAINT import_jobs_kind_check;
        ALTER TABLE import_jobs ADD CONSTRAINT import_jobs_kind_check CHECK (kind IN ('deputies', 'roster'));
        """
    )
