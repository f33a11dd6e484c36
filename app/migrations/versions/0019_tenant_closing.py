"""The operator closes a tenant: deletion after a grace period (issue 16).

``tenants.deletion_due_at`` / ``deletion_scheduled_by``: the operator scheduled the deletion of a
suspended tenant (app.data.closing); the worker deletes it when due. ``deleted`` is the status of the
tombstone left behind: the `tenants` row only (other tenants' rows may name it), nothing else.

``delete_tenant_data(tenant)``: the runtime role may not delete audit entries (append-only), yet a
closed county's entries go with the rest of its data (PIPL). This SECURITY DEFINER function does the
deletion and checks for itself that the tenant is suspended and due, so the runtime role cannot use it
to delete any other tenant. The tenant tables are read from the catalog when it runs (a table added
later is covered) and deleted in one statement under the tenant's binding, so NO ACTION foreign keys
between them are checked only at its end, whatever the order.

Revision ID: 0019
Revises: 0018
"""

from app.migrations.rls import definer_function, script

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

DELETE_BODY = """
DECLARE
  ctes text;
  counts text;
  result jsonb;
  n_exports bigint;
  n_signups bigint;
  saved text := current_setting('app.tenant_id', true);
BEGIN
  PERFORM 1 FROM tenants WHERE id = p_tenant AND status = 'suspended' AND deletion_due_at <= now() FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'tenant % is not suspended with its deletion due', p_tenant
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  SELECT string_agg(format('d%s AS (DELETE FROM %I WHERE tenant_id = $1 RETURNING 1)', i, relname), ', '),
         string_agg(format('jsonb_build_object(%L, (SELECT count(*) FROM d%s))', relname, i), ' || ')
    INTO ctes, counts
    FROM (SELECT c.relname, row_number() OVER (ORDER BY c.relname) AS i
            FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
           WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
             AND c.relrowsecurity) tables;
  PERFORM set_config('app.tenant_id', p_tenant::text, true);
  EXECUTE format('WITH %s SELECT %s', ctes, counts) INTO result USING p_tenant;
  PERFORM set_config('app.tenant_id', coalesce(saved, ''), true);
  WITH d AS (DELETE FROM operator_exports WHERE subject_tenant_id = p_tenant RETURNING 1)
    SELECT count(*) INTO n_exports FROM d;
  WITH d AS (DELETE FROM signup_applications WHERE created_tenant_id = p_tenant RETURNING 1)
    SELECT count(*) INTO n_signups FROM d;
  UPDATE user_sessions SET current_tenant_id = NULL, revoked_at = coalesce(revoked_at, now())
   WHERE current_tenant_id = p_tenant;
  UPDATE tenants SET status = 'deleted', status_changed_at = now(), preset = NULL, sms_quota = 0
   WHERE id = p_tenant;
  RETURN result || jsonb_build_object('operator_exports', n_exports, 'signup_applications', n_signups);
END
"""


def upgrade() -> None:
    script(
        """
        ALTER TABLE tenants ADD COLUMN deletion_due_at timestamptz,
                            ADD COLUMN deletion_scheduled_by bigint REFERENCES users(id);
        ALTER TABLE tenants DROP CONSTRAINT tenants_status_check;
        ALTER TABLE tenants ADD CONSTRAINT tenants_status_check
            CHECK (status IN ('pending', 'active', 'suspended', 'deleted'));
        """
    )
    definer_function("delete_tenant_data(p_tenant bigint)", "jsonb", DELETE_BODY)


def downgrade() -> None:
    script(
        """
        DROP FUNCTION delete_tenant_data(bigint);
        ALTER TABLE tenants DROP CONSTRAINT tenants_status_check;
        ALTER TABLE tenants ADD CONSTRAINT tenants_status_check
            CHECK (status IN ('pending', 'active', 'suspended'));
        ALTER TABLE tenants DROP COLUMN deletion_scheduled_by, DROP COLUMN deletion_due_at;
        """
    )
