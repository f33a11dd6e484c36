"""The operator's SMS console: per tenant, SMS this month, the provider's answers in the last hour and
day, and the messages that need attention (issue 15).

platform_sms_health(...) returns counts only, per tenant, in one call whatever the number of tenants
(each tenant counted under its own binding, as platform_tenant_usage in 0016). The thresholds are
passed in by the app (app.platform.services, from app.notify.queries), so the console counts the
same rows as the county's home (app.notify.queries.trouble_where):
- sms_month: SMS attempts sending or sent since `month_since` (as platform_sms_since);
- sms_hour / sms_day: SMS attempts with an answer since `hour_since` / `day_since`, and of those the
  errors (retried, failed or of unknown outcome);
- msg_unknown: rows waiting for a staff decision; msg_stuck: rows `sending` claimed before
  `stuck_before`, or `checking` whose attempt began before `checking_before`; msg_failing: rows waiting
  to be tried again after `retry_attempts` or more attempts the last of which failed, or failed with
  an attempt since `failed_since`.

Revision ID: 0017
Revises: 0016
"""

from alembic import op

from app.migrations.rls import definer_function

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

SIGNATURE = ("platform_sms_health(month_since timestamptz, hour_since timestamptz, day_since timestamptz, "
             "stuck_before timestamptz, checking_before timestamptz, failed_since timestamptz, retry_attempts integer)")
DROP = ("DROP FUNCTION platform_sms_health(timestamptz, timestamptz, timestamptz, timestamptz, timestamptz, "
        "timestamptz, integer)")
RETURNS = ("TABLE (tenant_id bigint, sms_month bigint, sms_hour bigint, sms_hour_errors bigint, sms_day bigint, "
           "sms_day_errors bigint, msg_unknown bigint, msg_stuck bigint, msg_failing bigint)")

BODY = """
DECLARE
  t record;
  saved text := current_setting('app.tenant_id', true);
BEGIN
  FOR t IN SELECT id FROM tenants ORDER BY id LOOP
    PERFORM set_config('app.tenant_id', t.id::text, true);
    tenant_id := t.id;
    SELECT count(*) FILTER (WHERE d.started_at >= month_since AND d.result IN ('sending', 'sent')),
           count(*) FILTER (WHERE d.started_at >= hour_since AND d.result IN ('sent', 'retry', 'failed', 'unknown')),
           count(*) FILTER (WHERE d.started_at >= hour_since AND d.result IN ('retry', 'failed', 'unknown')),
           count(*) FILTER (WHERE d.started_at >= day_since AND d.result IN ('sent', 'retry', 'failed', 'unknown')),
           count(*) FILTER (WHERE d.started_at >= day_since AND d.result IN ('retry', 'failed', 'unknown'))
      INTO sms_month, sms_hour, sms_hour_errors, sms_day, sms_day_errors
      FROM deliveries d
      WHERE d.tenant_id = t.id AND d.channel = 'sms' AND d.started_at >= least(month_since, day_since);
    SELECT count(*) FILTER (WHERE o.status = 'unknown'),
           count(*) FILTER (WHERE (o.status = 'sending' AND o.claimed_at < stuck_before)
             OR (o.status = 'checking' AND EXISTS (SELECT 1 FROM deliveries a WHERE a.tenant_id = o.tenant_id
                 AND a.outbox_id = o.id AND a.attempt = o.attempts AND a.started_at < checking_before))),
           count(*) FILTER (WHERE (o.status = 'pending' AND o.attempts >= retry_attempts
                 AND EXISTS (SELECT 1 FROM deliveries a WHERE a.tenant_id = o.tenant_id AND a.outbox_id = o.id
                   AND a.attempt = o.attempts AND a.result = 'retry'))
             OR (o.status = 'failed' AND EXISTS (SELECT 1 FROM deliveries a WHERE a.tenant_id = o.tenant_id
                 AND a.outbox_id = o.id AND a.started_at >= failed_since)))
      INTO msg_unknown, msg_stuck, msg_failing
      FROM outbox o
      WHERE o.tenant_id = t.id AND o.status IN ('unknown', 'sending', 'checking', 'pending', 'failed');
    RETURN NEXT;
  END LOOP;
  PERFORM set_config('app.tenant_id', coalesce(saved, ''), true);
END
"""


def upgrade() -> None:
    definer_function(SIGNATURE, RETURNS, BODY)


def downgrade() -> None:
    op.execute(DROP)
