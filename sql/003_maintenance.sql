-- 003_maintenance.sql -- analytics views (security_invoker, so RLS applies
-- to whoever reads them), retention and health functions.
-- No pg_cron and no ALTER SYSTEM: the runtime calls cleanup_old_data() and
-- log_health_check() on its own timer (core/store.c, af_store_maintain).

CREATE VIEW task_success_rates WITH (security_invoker = true) AS
SELECT
  vendor_domain,
  count(*) AS total_tasks,
  count(*) FILTER (WHERE status = 'COMPLETED') AS completed_tasks,
  count(*) FILTER (WHERE status = 'FAILED') AS failed_tasks,
  count(*) FILTER (WHERE status = 'INTERVENTION_NEEDED') AS intervention_tasks,
  round(count(*) FILTER (WHERE status = 'COMPLETED')::numeric
        / count(*) * 100, 2) AS success_rate_percent
FROM automation_tasks
GROUP BY vendor_domain;

-- Per user; names and e-mails are ciphertexts now, so the view carries the
-- user id and the application decrypts what it shows.
CREATE VIEW user_automation_stats WITH (security_invoker = true) AS
SELECT
  t.user_id,
  count(*) AS total_tasks,
  count(*) FILTER (WHERE t.status = 'COMPLETED') AS completed_tasks,
  count(*) FILTER (WHERE t.status = 'FAILED') AS failed_tasks,
  avg(extract(epoch FROM (t.completed_at - t.created_at)))
    FILTER (WHERE t.status = 'COMPLETED') AS avg_completion_time_seconds,
  max(t.created_at) AS last_task_date
FROM automation_tasks t
GROUP BY t.user_id;

CREATE VIEW task_step_performance WITH (security_invoker = true) AS
SELECT
  step_type,
  count(*) AS total_steps,
  avg(duration_ms) AS avg_duration_ms,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS median_duration_ms,
  percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_duration_ms
FROM task_steps
WHERE duration_ms IS NOT NULL
GROUP BY step_type;

REVOKE ALL ON task_success_rates, user_automation_stats, task_step_performance
  FROM PUBLIC, anon;
GRANT SELECT ON task_success_rates, user_automation_stats, task_step_performance
  TO authenticated, service_role;

-- Retention. Deleting a step or an invoice queues its file (file_deletions),
-- so nothing is left behind on disk. Returns what it removed.
CREATE FUNCTION cleanup_old_data(
    completed_for interval DEFAULT '1 year',
    failed_for    interval DEFAULT '6 months',
    steps_for     interval DEFAULT '3 months',
    sessions_for  interval DEFAULT '30 days')
  RETURNS jsonb
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
DECLARE
  n_completed bigint;
  n_failed bigint;
  n_steps bigint;
  n_sessions bigint;
  report jsonb;
BEGIN
  DELETE FROM automation_tasks
   WHERE status = 'COMPLETED' AND completed_at < now() - completed_for;
  GET DIAGNOSTICS n_completed = ROW_COUNT;

  DELETE FROM automation_tasks
   WHERE status = 'FAILED' AND updated_at < now() - failed_for;
  GET DIAGNOSTICS n_failed = ROW_COUNT;

  DELETE FROM task_steps s
   WHERE s."timestamp" < now() - steps_for
     AND EXISTS (SELECT 1 FROM automation_tasks t
                 WHERE t.id = s.task_id AND t.status = 'COMPLETED');
  GET DIAGNOSTICS n_steps = ROW_COUNT;

  DELETE FROM browser_sessions
   WHERE status = 'terminated' AND terminated_at < now() - sessions_for;
  GET DIAGNOSTICS n_sessions = ROW_COUNT;

  report := jsonb_build_object(
    'timestamp', now(),
    'completed_tasks_deleted', n_completed,
    'failed_tasks_deleted', n_failed,
    'steps_deleted', n_steps,
    'sessions_deleted', n_sessions,
    'files_pending', (SELECT count(*) FROM file_deletions));
  -- The cleanup is logged as a health check, not as a step of some task.
  INSERT INTO health_checks (check_type, result, status)
  VALUES ('data_retention_cleanup', report, 'healthy');
  RETURN report;
END
$$;

-- Take up to n queued file paths for removal (the caller deletes the files).
CREATE FUNCTION claim_file_deletions(n integer DEFAULT 100)
  RETURNS SETOF text
  LANGUAGE sql SET search_path = public, pg_temp
  AS $$
  DELETE FROM file_deletions
   WHERE id IN (SELECT id FROM file_deletions ORDER BY id
                LIMIT n FOR UPDATE SKIP LOCKED)
  RETURNING path
$$;

CREATE FUNCTION check_database_health() RETURNS jsonb
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
DECLARE
  active_connections int;
  slow_queries int;
  table_sizes jsonb;
BEGIN
  SELECT count(*) INTO active_connections
    FROM pg_stat_activity
   WHERE datname = current_database() AND state = 'active';

  SELECT count(*) INTO slow_queries
    FROM pg_stat_activity
   WHERE datname = current_database() AND state = 'active'
     AND query_start < now() - interval '30 seconds';

  SELECT coalesce(jsonb_object_agg(schemaname || '.' || tablename,
           pg_total_relation_size(format('%I.%I', schemaname, tablename))), '{}')
    INTO table_sizes
    FROM pg_tables
   WHERE schemaname = 'public';

  RETURN jsonb_build_object(
    'timestamp', now(),
    'active_connections', active_connections,
    'slow_queries', slow_queries,
    'table_bytes', table_sizes,
    'status', CASE WHEN slow_queries > 5 OR active_connections > 100
                   THEN 'warning' ELSE 'healthy' END);
END
$$;

CREATE FUNCTION log_health_check() RETURNS jsonb
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
DECLARE
  health jsonb := check_database_health();
BEGIN
  INSERT INTO health_checks (check_type, result, status)
  VALUES ('database_health', health, health ->> 'status');
  RETURN health;
END
$$;

REVOKE ALL ON FUNCTION cleanup_old_data(interval, interval, interval, interval),
  claim_file_deletions(integer), check_database_health(), log_health_check()
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cleanup_old_data(interval, interval, interval, interval),
  claim_file_deletions(integer), check_database_health(), log_health_check()
  TO service_role;
