"""Retention periods per tenant and the nightly anonymisation (issue 16).

- tenant_config gets the county's periods in months: the public's name and mobile in closed cases,
  the rosters of former deputies, delivery logs (addresses and bodies), the audit log (never below
  six months: the database refuses less).
- deputies.left_at: when a deputy stopped serving (set by a trigger when the status leaves 'active',
  cleared when it comes back), so "former for N months" needs no service to remember it. Deputies
  already former start counting at this migration.
- prune_audit_log(now, max_rows): the runtime role may only INSERT/SELECT audit rows; this SECURITY
  DEFINER function deletes the bound tenant's rows older than its configured period. The cut-off is
  taken from the earlier of the caller's `now` and the database's clock and never less than six
  months, so no caller can remove younger rows.

Revision ID: 0020
Revises: 0019
"""


from app.migrations.rls import definer_function, script

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

SIGNATURE = "prune_audit_log(at_now timestamptz, max_rows integer)"
BODY = """
DECLARE
  bound bigint := NULLIF(current_setting('app.tenant_id', true), '')::bigint;
  keep_months integer;
  removed bigint;
BEGIN
  IF bound IS NULL THEN
    RAISE EXCEPTION 'prune_audit_log needs a tenant binding';
  END IF;
  SELECT greatest(6, coalesce((SELECT c.retain_audit_months FROM tenant_config c WHERE c.tenant_id = bound), 36))
    INTO keep_months;
  DELETE FROM audit_log a
   WHERE a.tenant_id = bound AND a.id IN (
     SELECT b.id FROM audit_log b
      WHERE b.tenant_id = bound AND b.at < least(at_now, now()) - make_interval(months => keep_months)
      ORDER BY b.at LIMIT greatest(max_rows, 0));
  GET DIAGNOSTICS removed = ROW_COUNT;
  RETURN removed;
END
"""


def upgrade() -> None:
    script("""
        ALTER TABLE tenant_config
          ADD COLUMN retain_case_person_months integer NOT NULL DEFAULT 24
            CHECK (retain_case_person_months BETWEEN 1 AND 240),
          ADD COLUMN retain_roster_months integer NOT NULL DEFAULT 12 CHECK (retain_roster_months BETWEEN 1 AND 240),
          ADD COLUMN retain_delivery_months integer NOT NULL DEFAULT 6 CHECK (retain_delivery_months BETWEEN 1 AND 120),
          ADD COLUMN retain_audit_months integer NOT NULL DEFAULT 36 CHECK (retain_audit_months BETWEEN 6 AND 240);
        ALTER TABLE deputies ADD COLUMN left_at timestamptz;
        UPDATE deputies SET left_at = now() WHERE status <> 'active';
        CREATE FUNCTION deputies_left_at() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
          IF NEW.status = 'active' THEN
            NEW.left_at := NULL;
          ELSIF TG_OP = 'INSERT' OR OLD.status = 'active' THEN
            NEW.left_at := coalesce(NEW.left_at, now());
          END IF;
          RETURN NEW;
        END $fn$;
        CREATE TRIGGER deputies_left_at BEFORE INSERT OR UPDATE OF status ON deputies
          FOR EACH ROW EXECUTE FUNCTION deputies_left_at();
        CREATE INDEX cases_closed_at ON cases (tenant_id, closed_at) WHERE closed_at IS NOT NULL;
    """)
    definer_function(SIGNATURE, "bigint", BODY)


def downgrade() -> None:
    script(f"""
        DROP FUNCTION {SIGNATURE.split('(')[0]}(timestamptz, integer);
        DROP INDEX cases_closed_at;
        DROP TRIGGER deputies_left_at ON deputies;
        DROP FUNCTION deputies_left_at();
        ALTER TABLE deputies DROP COLUMN left_at;
        ALTER TABLE tenant_config DROP COLUMN retain_case_person_months, DROP COLUMN retain_roster_months,
          DROP COLUMN retain_delivery_months, DROP COLUMN retain_audit_months;
    """)
