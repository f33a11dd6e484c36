"""Worker sweeps whose cost does not grow with the counties that have nothing to do (issue 20:
`sync_joint_deputies` opened a transaction for every county every ten minutes, 10 s at 1,000 counties
even with no joint station; `purge_signin_codes` one per tenant every hour, 8 s).

``joint_syncing_counties()``: the ids of the active counties holding an active joint agreement with
its joint tenant made, for `app.joint.deputies.sync_all`. `joint_agreements` is a tenant table with
forced row-level security, so each county is read under its own binding (as data_exports_waiting()
does), inside the one call; ids only.

``signin_codes_expired_tenants(cutoff)``: the ids of the tenants holding unused sign-in codes that
expired before ``cutoff``, for `app.activities.signin.purge_codes` (which then deletes in those only).

Revision ID: 0039
Revises: 0038
"""

from app.migrations.rls import definer_function, script

revision = "0039"
down_revision = "0038"
branch_labels = None
depends_on = None

SIGNATURE = "joint_syncing_counties()"
BODY = """
DECLARE
  t record;
  saved text := current_setting('app.tenant_id', true);
BEGIN
  FOR t IN SELECT id FROM tenants WHERE kind = 'county' AND status = 'active' ORDER BY id LOOP
    PERFORM set_config('app.tenant_id', t.id::text, true);
    IF EXISTS (SELECT 1 FROM joint_agreements a WHERE a.tenant_id = t.id AND a.status = 'active'
               AND a.joint_tenant_id IS NOT NULL) THEN
      county_id := t.id;
      RETURN NEXT;
    END IF;
  END LOOP;
  PERFORM set_config('app.tenant_id', coalesce(saved, ''), true);
END
"""

CODES_SIGNATURE = "signin_codes_expired_tenants(cutoff timestamptz)"
CODES_BODY = """
DECLARE
  t record;
  saved text := current_setting('app.tenant_id', true);
BEGIN
  FOR t IN SELECT id FROM tenants ORDER BY id LOOP
    PERFORM set_config('app.tenant_id', t.id::text, true);
    IF EXISTS (SELECT 1 FROM signin_codes c WHERE c.tenant_id = t.id AND c.used_at IS NULL
               AND c.expires_at < cutoff) THEN
      tenant_id := t.id;
      RETURN NEXT;
    END IF;
  END LOOP;
  PERFORM set_config('app.tenant_id', coalesce(saved, ''), true);
END
"""


def upgrade() -> None:
    definer_function(SIGNATURE, "TABLE (county_id bigint)", BODY)
    definer_function(CODES_SIGNATURE, "TABLE (tenant_id bigint)", CODES_BODY)


def downgrade() -> None:
    script("DROP FUNCTION joint_syncing_counties(); DROP FUNCTION signin_codes_expired_tenants(timestamptz)")
