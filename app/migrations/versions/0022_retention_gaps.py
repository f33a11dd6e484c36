"""Closing the gaps of retention and tenant deletion (issue 16, PIPL).

- cases_finished_unclosed: the nightly pass measures merged, forwarded and suggestion cases (which
  never get `closed_at`) from their last change; this index keeps that look-up off a full scan.
- delete_tenant_data (0019) also anonymises the accounts that belonged to the deleted county alone:
  users is a platform table, so its rows outlive the tenant's. Before the county's memberships go, the
  function lists their users and keeps those with an active membership in another tenant (readable
  only through the own_memberships policy, so it binds each user in turn: the owner is under the
  forced policies too) and operators. The others keep their row (cases, history and audit entries of
  other tenants and the platform log point at it) but lose what identifies them: username
  `deleted:<id>` (a colon no chosen username may hold, so it can never clash and stop a deletion),
  display name ACCOUNT_PLACEHOLDER, mobile, e-mail, password hash, second factor, language; they are
  disabled and their sessions revoked. The count is returned as `users_anonymised`.

Revision ID: 0022
Revises: 0021
"""

import importlib.util
from pathlib import Path

from alembic import op

from app.migrations.rls import definer_function

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

ACCOUNT_PLACEHOLDER = "（已注销的账号）"
SIGNATURE = "delete_tenant_data(p_tenant bigint)"

DELETE_BODY = f"""
DECLARE
  ctes text;
  counts text;
  result jsonb;
  n_exports bigint;
  n_signups bigint;
  n_users bigint;
  members bigint[];
  leaving bigint[] := '{{}}';
  u bigint;
  saved text := current_setting('app.tenant_id', true);
  saved_user text := current_setting('app.user_id', true);
BEGIN
  PERFORM 1 FROM tenants WHERE id = p_tenant AND status = 'suspended' AND deletion_due_at <= now() FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'tenant % is not suspended with its deletion due', p_tenant
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  PERFORM set_config('app.tenant_id', p_tenant::text, true);
  SELECT coalesce(array_agg(DISTINCT m.user_id), '{{}}') INTO members FROM memberships m WHERE m.tenant_id = p_tenant;
  PERFORM set_config('app.tenant_id', '', true);
  FOREACH u IN ARRAY members LOOP
    PERFORM set_config('app.user_id', u::text, true);
    IF NOT EXISTS (SELECT 1 FROM memberships m
                    WHERE m.user_id = u AND m.tenant_id <> p_tenant AND m.revoked_at IS NULL) THEN
      leaving := leaving || u;
    END IF;
  END LOOP;
  PERFORM set_config('app.user_id', coalesce(saved_user, ''), true);
  SELECT coalesce(array_agg(id), '{{}}') INTO leaving FROM users WHERE id = ANY(leaving) AND NOT is_operator;

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
  UPDATE users SET username = 'deleted:' || id, display_name = '{ACCOUNT_PLACEHOLDER}', mobile = NULL, email = NULL,
                   password_hash = '', totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = NULL,
                   locale = NULL, disabled_at = coalesce(disabled_at, now())
   WHERE id = ANY(leaving);
  GET DIAGNOSTICS n_users = ROW_COUNT;
  UPDATE user_sessions SET revoked_at = coalesce(revoked_at, now()) WHERE user_id = ANY(leaving);
  UPDATE tenants SET status = 'deleted', status_changed_at = now(), preset = NULL, sms_quota = 0
   WHERE id = p_tenant;
  RETURN result || jsonb_build_object('operator_exports', n_exports, 'signup_applications', n_signups,
                                      'users_anonymised', n_users);
END
"""


def _closing_0019():
    """Migration 0019's module, whose function body the downgrade puts back."""
    spec = importlib.util.spec_from_file_location("_rev0019", Path(__file__).with_name("0019_tenant_closing.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    op.execute("CREATE INDEX cases_finished_unclosed ON cases (tenant_id, updated_at) "
               "WHERE closed_at IS NULL AND state IN ('merged', 'forwarded', 'suggestion')")
    op.execute("DROP FUNCTION delete_tenant_data(bigint)")
    definer_function(SIGNATURE, "jsonb", DELETE_BODY)


def downgrade() -> None:
    op.execute("DROP FUNCTION delete_tenant_data(bigint)")
    definer_function(SIGNATURE, "jsonb", _closing_0019().DELETE_BODY)
    op.execute("DROP INDEX cases_finished_unclosed")
