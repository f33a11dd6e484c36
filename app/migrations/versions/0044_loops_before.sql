CREATE OR REPLACE FUNCTION public.binder_builds_purge_tenants(at timestamp with time zone, forgotten_before timestamp with time zone)
 RETURNS TABLE(tenant_id bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
 SET enable_seqscan TO 'off'
AS $function$
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
$function$
;
CREATE OR REPLACE FUNCTION public.binder_builds_waiting(started_before timestamp with time zone)
 RETURNS TABLE(tenant_id bigint, build_id bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
 SET enable_seqscan TO 'off'
AS $function$
DECLARE
  t record;
  saved text := current_setting('app.tenant_id', true);
BEGIN
  FOR t IN SELECT id FROM tenants WHERE status = 'active' ORDER BY id LOOP
    PERFORM set_config('app.tenant_id', t.id::text, true);
    RETURN QUERY SELECT b.tenant_id, b.id FROM binder_builds b
      WHERE b.tenant_id = t.id
        AND (b.status = 'queued' OR (b.status = 'running' AND b.started_at < started_before))
      ORDER BY b.id;
  END LOOP;
  PERFORM set_config('app.tenant_id', coalesce(saved, ''), true);
END
$function$
;
CREATE OR REPLACE FUNCTION public.compliance_due_tenants(p_now timestamp with time zone)
 RETURNS TABLE(tenant_id bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
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
$function$
;
CREATE OR REPLACE FUNCTION public.data_exports_expired_tenants(at timestamp with time zone)
 RETURNS TABLE(tenant_id bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
 SET enable_seqscan TO 'off'
AS $function$
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
$function$
;
CREATE OR REPLACE FUNCTION public.data_exports_waiting(started_before timestamp with time zone)
 RETURNS TABLE(tenant_id bigint, export_id bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
 SET enable_seqscan TO 'off'
AS $function$
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
$function$
;
CREATE OR REPLACE FUNCTION public.import_jobs_waiting(stale_after interval)
 RETURNS TABLE(tenant_id bigint, job_id bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
 SET enable_seqscan TO 'off'
AS $function$
        DECLARE
          t record;
          saved text := current_setting('app.tenant_id', true);
        BEGIN
          FOR t IN SELECT id FROM tenants WHERE status = 'active' ORDER BY id LOOP
            PERFORM set_config('app.tenant_id', t.id::text, true);
            RETURN QUERY SELECT j.tenant_id, j.id FROM import_jobs j
              WHERE j.tenant_id = t.id
                AND (j.status = 'queued' OR (j.status = 'running' AND j.started_at < now() - stale_after));
          END LOOP;
          PERFORM set_config('app.tenant_id', coalesce(saved, ''), true);
        END $function$
;
CREATE OR REPLACE FUNCTION public.joint_syncing_counties()
 RETURNS TABLE(county_id bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
 SET enable_seqscan TO 'off'
AS $function$
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
$function$
;
CREATE OR REPLACE FUNCTION public.outbox_due_tenants(at timestamp with time zone, stale_after interval)
 RETURNS TABLE(tenant_id bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
 SET enable_seqscan TO 'off'
AS $function$
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
$function$
;
CREATE OR REPLACE FUNCTION public.platform_joint_agreements()
 RETURNS TABLE(agreement_key uuid, name character varying, proposer_tenant_id bigint, status character varying, parties bigint[], joint_tenant_id bigint, created_at timestamp with time zone)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
        DECLARE
          t record;
          saved text := current_setting('app.tenant_id', true);
        BEGIN
          FOR t IN SELECT id FROM tenants WHERE kind = 'county' ORDER BY id LOOP
            PERFORM set_config('app.tenant_id', t.id::text, true);
            RETURN QUERY SELECT a.agreement_key, a.name, a.proposer_tenant_id, a.status,
                ARRAY(SELECT (p->>'tenant_id')::bigint FROM jsonb_array_elements(a.parties) p),
                a.joint_tenant_id, a.created_at
              FROM joint_agreements a WHERE a.tenant_id = t.id AND a.proposer_tenant_id = t.id;
          END LOOP;
          PERFORM set_config('app.tenant_id', coalesce(saved, ''), true);
        END $function$
;
CREATE OR REPLACE FUNCTION public.platform_sms_health(month_since timestamp with time zone, hour_since timestamp with time zone, day_since timestamp with time zone, stuck_before timestamp with time zone, checking_before timestamp with time zone, failed_since timestamp with time zone, retry_attempts integer)
 RETURNS TABLE(tenant_id bigint, sms_month bigint, sms_hour bigint, sms_hour_errors bigint, sms_day bigint, sms_day_errors bigint, msg_unknown bigint, msg_stuck bigint, msg_failing bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
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
$function$
;
CREATE OR REPLACE FUNCTION public.platform_sms_since(since timestamp with time zone)
 RETURNS TABLE(tenant_id bigint, sms bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
        DECLARE
          t record;
          saved text := current_setting('app.tenant_id', true);
        BEGIN
          FOR t IN SELECT id FROM tenants ORDER BY id LOOP
            PERFORM set_config('app.tenant_id', t.id::text, true);
            tenant_id := t.id;
            SELECT count(*) INTO sms FROM deliveries d
              WHERE d.tenant_id = t.id AND d.channel = 'sms' AND d.started_at >= since
                AND d.result IN ('sending', 'sent');
            RETURN NEXT;
          END LOOP;
          PERFORM set_config('app.tenant_id', coalesce(saved, ''), true);
        END $function$
;
CREATE OR REPLACE FUNCTION public.platform_tenant_usage()
 RETURNS TABLE(tenant_id bigint, members bigint, stations bigint, deputies bigint, open_cases bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
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
$function$
;
CREATE OR REPLACE FUNCTION public.scheduled_due_tenants(at timestamp with time zone)
 RETURNS TABLE(tenant_id bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
 SET enable_seqscan TO 'off'
AS $function$
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
      SELECT 1 FROM cases c WHERE c.tenant_id = t.id AND c.state IN ('assigned', 'accepted', 'clarifying')
        AND c.reply_due >= today AND c.reply_due <= today + cfg.soon AND c.handling_unit_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.tenant_id = t.id AND o.kind = 'case_due_soon'
                          AND o.subject = 'case:' || c.id
                          AND o.due_at = ((c.reply_due - cfg.soon) + time '09:00') AT TIME ZONE tz));
    -- overdue cases (app.cases.notices.overdue)
    IF NOT busy AND cfg.overdue THEN
      busy := EXISTS (
        SELECT 1 FROM cases c WHERE c.tenant_id = t.id AND c.state IN ('assigned', 'accepted', 'clarifying') AND c.reply_due < today
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
$function$
;
CREATE OR REPLACE FUNCTION public.signin_codes_expired_tenants(cutoff timestamp with time zone)
 RETURNS TABLE(tenant_id bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
 SET enable_seqscan TO 'off'
AS $function$
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
$function$
;
