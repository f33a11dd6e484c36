"""Ready to host: install without a superuser, backups, correct usage figures (issue 16).

Revision ID: 0016
Revises: 0015
"""

from alembic import op

from app.migrations.rls import definer_function, grant_backup_role, revoke_backup_role

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# The operator console's figures per tenant, counts only. The owner is subject to the forced
# policies too, so each tenant is counted under its own binding: one statement per tenant inside
# the function, one call from the console whatever the number of tenants. (A grouped query over all
# tenants would need BYPASSRLS, which only a superuser can give.) Open cases: every state but the
# finished ones (app.cases.steps.FINISHED); stations: all but those closed down; deputies: serving.
USAGE_BODY = """
DECLARE
  t record;
  saved text := current_setting('app.tenant_id', true);
BEGIN
  FOR t IN SELECT id FROM tenants ORDER BY id LOOP
    PERFORM set_config('app.tenant_id', t.id::text, true);
    tenant_id := t.id;
    SELECT (SELECT count(*) FROM memberships m WHERE m.tenant_id = t.id AND m.revoked_at IS NULL),
           (SELECT count(*) FROM stations s WHERE s.tenant_id = t.id AND s.status <> 'closed'),
           (SELECT count(*) FROM deputies d WHERE d.tenant_id = t.id AND d.status = 'active'),
           (SELECT count(*) FROM cases c WHERE c.tenant_id = t.id
               AND c.state NOT IN ('closed', 'merged', 'forwarded', 'suggestion'))
      INTO members, stations, deputies, open_cases;
    RETURN NEXT;
  END LOOP;
  PERFORM set_config('app.tenant_id', coalesce(saved, ''), true);
END
"""

OLD_USAGE_BODY = """
DECLARE
  t record;
  saved text := current_setting('app.tenant_id', true);
BEGIN
  FOR t IN SELECT id FROM tenants ORDER BY id LOOP
    PERFORM set_config('app.tenant_id', t.id::text, true);
    tenant_id := t.id;
    SELECT count(*) INTO members FROM memberships m WHERE m.tenant_id = t.id AND m.revoked_at IS NULL;
    RETURN NEXT;
  END LOOP;
  PERFORM set_config('app.tenant_id', coalesce(saved, ''), true);
END
"""


def upgrade() -> None:
    op.execute("DROP FUNCTION platform_tenant_usage()")
    definer_function(
        "platform_tenant_usage()",
        "TABLE (tenant_id bigint, members bigint, stations bigint, deputies bigint, open_cases bigint)",
        USAGE_BODY,
    )
    grant_backup_role()


def downgrade() -> None:
    revoke_backup_role()
    op.execute("DROP FUNCTION platform_tenant_usage()")
    definer_function("platform_tenant_usage()", "TABLE (tenant_id bigint, members bigint)", OLD_USAGE_BODY)
