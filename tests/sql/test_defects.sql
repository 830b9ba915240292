-- test_defects.sql -- one regression test per defect of the seed document
-- (DESIGN.md, "Known defects"). Runs in a transaction that is rolled back.
-- Defects checked outside the database: 2 (RFC shape: tests/crypto,
-- crypto_rfc_normalize), 4 and 10 (files and pg_dump: tests/sql/run.sh).
\set ON_ERROR_STOP 1
BEGIN;
DO $$ BEGIN PERFORM t.seed(); END $$;

-- 1. Function bodies are dollar-quoted ($$): every function parses and runs.
DO $$
BEGIN
  PERFORM t.eq((SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname = 'public' AND p.proname IN ('cleanup_old_data',
                  'check_database_health', 'log_health_check', 'claim_file_deletions',
                  'queue_file_deletion', 'set_updated_at')), 6::bigint, '1: functions exist');
  PERFORM t.eq((check_database_health() ->> 'status'), 'healthy', '1: check_database_health runs');
END
$$;

-- 2. rfc holds a ciphertext (not VARCHAR(13)); a plaintext RFC is refused.
DO $$
BEGIN
  PERFORM t.eq((SELECT format_type(atttypid, atttypmod) FROM pg_attribute
                WHERE attrelid = 'user_profiles'::regclass AND attname = 'rfc'),
               'af_ciphertext', '2: rfc type');
  UPDATE user_profiles SET rfc = t.ct(repeat('long', 100))
   WHERE user_id = 'aaaaaaaa-0000-4000-8000-000000000001';
  PERFORM t.expect_error($q$UPDATE user_profiles SET rfc = convert_to('XAXX010101000', 'UTF8')$q$,
                         '23514', '2: plaintext rfc');
  PERFORM t.expect_error($q$UPDATE user_profiles SET rfc = convert_to('ÑA&8501011X1XAXX010101000XAXX010101000', 'UTF8')$q$,
                         '23514', '2: long plaintext rfc');
END
$$;

-- 3. Nothing re-encrypts on UPDATE: no trigger touches encrypted columns and
--    an unrelated update leaves the ciphertext byte for byte.
DO $$
DECLARE before bytea;
BEGIN
  PERFORM t.eq((SELECT count(*) FROM pg_trigger
                WHERE tgrelid IN ('user_profiles'::regclass, 'user_vendor_credentials'::regclass)
                  AND NOT tgisinternal AND tgname NOT LIKE '%updated_at'), 0::bigint,
               '3: triggers on encrypted tables');
  SELECT rfc::bytea INTO before FROM user_profiles WHERE user_id = 'aaaaaaaa-0000-4000-8000-000000000001';
  UPDATE user_profiles SET fiscal_regime = '601' WHERE user_id = 'aaaaaaaa-0000-4000-8000-000000000001';
  UPDATE user_profiles SET fiscal_regime = '612' WHERE user_id = 'aaaaaaaa-0000-4000-8000-000000000001';
  PERFORM t.eq((SELECT rfc::bytea FROM user_profiles WHERE user_id = 'aaaaaaaa-0000-4000-8000-000000000001'),
               before, '3: rfc unchanged by unrelated updates');
END
$$;

-- 4. No key in the database: no pgcrypto, no function reading a key setting.
DO $$
BEGIN
  PERFORM t.eq((SELECT count(*) FROM pg_extension WHERE extname = 'pgcrypto'), 0::bigint,
               '4: pgcrypto installed');
  PERFORM t.eq((SELECT count(*) FROM pg_proc WHERE prosrc ILIKE '%encryption_key%'
                   OR prosrc ILIKE '%pgp_sym%'), 0::bigint, '4: functions handling keys');
  PERFORM t.eq(current_setting('app.encryption_key', true), NULL, '4: key setting');
  PERFORM t.eq((SELECT count(*) FROM pg_indexes WHERE indexname = 'idx_user_profiles_rfc_bidx'),
               1::bigint, '4: blind index on rfc_bidx');
END
$$;

-- 5. vendor_domain is a generated column (no EXTRACT(domain ...)).
DO $$
DECLARE
  cases text[][] := ARRAY[
    ARRAY['https://facturacion.oxxo.com/portal?x=1', 'facturacion.oxxo.com'],
    ARRAY['http://WWW.Walmart.com.mx:8080/', 'walmart.com.mx'],
    ARRAY['https://user:pw@portal.example.com#frag', 'portal.example.com'],
    ARRAY['https://127.0.0.1:4443/f', '127.0.0.1']];
  i int;
  got text;
BEGIN
  FOR i IN 1 .. array_length(cases, 1) LOOP
    INSERT INTO automation_tasks (user_id, vendor_url, ticket_details)
    VALUES ('aaaaaaaa-0000-4000-8000-000000000001', cases[i][1], '{}')
    RETURNING vendor_domain INTO got;
    PERFORM t.eq(got, cases[i][2], '5: vendor_domain of ' || cases[i][1]);
  END LOOP;
  PERFORM t.expect_error($q$INSERT INTO automation_tasks (user_id, vendor_url, ticket_details)
    VALUES ('aaaaaaaa-0000-4000-8000-000000000001', 'ftp://x.example', '{}')$q$, '23514',
    '5: non-http url');
  PERFORM t.eq((SELECT count(*) FROM task_success_rates WHERE vendor_domain = 'walmart.com.mx'),
               1::bigint, '5: task_success_rates groups by vendor_domain');
END
$$;

-- 6. Views are security_invoker and read no missing `users` table.
DO $$
DECLARE v text;
BEGIN
  FOREACH v IN ARRAY ARRAY['task_success_rates', 'user_automation_stats', 'task_step_performance'] LOOP
    PERFORM t.eq((SELECT 'security_invoker=true' = ANY (reloptions) FROM pg_class
                  WHERE oid = v::regclass), true, '6: ' || v || ' security_invoker');
  END LOOP;
  PERFORM t.as_user('bbbbbbbb-0000-4000-8000-000000000002');
  PERFORM t.eq((SELECT array_agg(user_id) FROM user_automation_stats),
               ARRAY['bbbbbbbb-0000-4000-8000-000000000002'::uuid], '6: stats seen by user b');
  PERFORM t.as_owner();
  PERFORM t.eq((SELECT count(*) FROM user_automation_stats), 2::bigint, '6: stats for the owner');
END
$$;

-- 7. cleanup_old_data logs to health_checks, not a task_steps row with a
--    random task_id and a step type outside the CHECK.
-- 11. and the files of what it deletes are queued for removal.
DO $$
DECLARE
  old_task uuid;
  report jsonb;
  files text[];
BEGIN
  INSERT INTO automation_tasks (user_id, vendor_url, ticket_details, status, completed_at)
  VALUES ('aaaaaaaa-0000-4000-8000-000000000001', 'https://old.example.com', '{}',
          'COMPLETED', now() - interval '400 days')
  RETURNING id INTO old_task;
  INSERT INTO task_steps (task_id, seq, step_type, screenshot_url, "timestamp")
  VALUES (old_task, 1, 'navigate', '/var/lib/af/shots/old-1.png', now() - interval '400 days');
  INSERT INTO cfdi_documents (task_id, cfdi_uuid, xml, xml_sha256, pdf_path, verified, verification)
  VALUES (old_task, gen_random_uuid(), t.ct('old'), sha256('old'), '/var/lib/af/pdf/old.pdf', true, '{}');
  INSERT INTO automation_tasks (user_id, vendor_url, ticket_details, status, failure_reason, updated_at)
  VALUES ('bbbbbbbb-0000-4000-8000-000000000002', 'https://old.example.com', '{}',
          'FAILED', 'portal down', now());
  report := cleanup_old_data();
  PERFORM t.eq((report ->> 'completed_tasks_deleted')::int, 1, '7: old completed task deleted');
  PERFORM t.eq((report ->> 'failed_tasks_deleted')::int, 0, '7: recent failure kept');
  PERFORM t.eq((SELECT count(*) FROM automation_tasks WHERE id = old_task), 0::bigint, '7: task gone');
  PERFORM t.eq((SELECT count(*) FROM health_checks WHERE check_type = 'data_retention_cleanup'),
               1::bigint, '7: cleanup logged in health_checks');
  PERFORM t.eq((SELECT count(*) FROM automation_tasks), 7::bigint, '7: other tasks kept');
  SELECT array_agg(p ORDER BY p) INTO files FROM claim_file_deletions(10) p;
  PERFORM t.eq(files, ARRAY['/var/lib/af/pdf/old.pdf', '/var/lib/af/shots/old-1.png'],
               '11: files of deleted rows queued');
  PERFORM t.eq((SELECT count(*) FROM file_deletions), 0::bigint, '11: queue drained');
  -- A user deleting their own task queues its files too.
  UPDATE task_steps SET screenshot_url = '/var/lib/af/shots/b.png'
   WHERE task_id = (SELECT id FROM automation_tasks
                    WHERE user_id = 'bbbbbbbb-0000-4000-8000-000000000002' AND status = 'RUNNING')
     AND seq = 1;
  PERFORM t.as_user('bbbbbbbb-0000-4000-8000-000000000002');
  DELETE FROM automation_tasks WHERE status = 'RUNNING';
  PERFORM t.as_owner();
  PERFORM t.eq((SELECT array_agg(path) FROM file_deletions), ARRAY['/var/lib/af/shots/b.png'],
               '11: user deletion queues files');
END
$$;

-- 8. The worker (service_role, no auth.uid()) writes steps.
DO $$
DECLARE task uuid;
BEGIN
  SELECT id INTO task FROM automation_tasks
   WHERE user_id = 'aaaaaaaa-0000-4000-8000-000000000001' AND status = 'RUNNING';
  PERFORM t.as_service();
  PERFORM t.eq(auth.uid(), NULL, '8: worker has no auth.uid()');
  INSERT INTO task_steps (task_id, seq, step_type, content) VALUES (task, 10, 'thinking', '{}');
  UPDATE automation_tasks SET status = 'COMPLETED', completed_at = now() WHERE id = task;
  PERFORM t.as_owner();
  PERFORM t.eq((SELECT count(*) FROM task_steps WHERE task_id = task), 3::bigint, '8: worker step written');
END
$$;

-- 9. Users cannot rewrite live-view or takeover URLs, even where the
--    database grants UPDATE by default (Supabase grants everything).
DO $$
DECLARE task uuid;
BEGIN
  SELECT id INTO task FROM automation_tasks
   WHERE user_id = 'aaaaaaaa-0000-4000-8000-000000000001' ORDER BY created_at LIMIT 1;
  PERFORM t.as_user('aaaaaaaa-0000-4000-8000-000000000001');
  PERFORM t.expect_error(format('UPDATE browser_sessions SET live_view_url = %L WHERE task_id = %L',
                                'https://evil', task), '42501', '9: update without grant');
  PERFORM t.as_owner();
  GRANT ALL ON browser_sessions TO authenticated;
  PERFORM t.as_user('aaaaaaaa-0000-4000-8000-000000000001');
  PERFORM t.eq(t.affected(format('UPDATE browser_sessions SET takeover_url = %L WHERE task_id = %L',
                                 'https://evil', task)), 0::bigint, '9: RLS blocks even with grant');
  PERFORM t.eq(t.affected(format('DELETE FROM browser_sessions WHERE task_id = %L', task)), 0::bigint,
               '9: delete blocked');
  PERFORM t.as_owner();
  REVOKE ALL ON browser_sessions FROM authenticated;
  GRANT SELECT ON browser_sessions TO authenticated;
END
$$;

-- 10. No pg_cron: the schema applied without it and schedules nothing.
DO $$
BEGIN
  PERFORM t.eq((SELECT count(*) FROM pg_namespace WHERE nspname = 'cron'), 0::bigint, '10: cron schema');
  PERFORM t.eq((SELECT count(*) FROM pg_proc WHERE prosrc ILIKE '%cron.schedule%'), 0::bigint,
               '10: cron.schedule calls');
  PERFORM t.eq((log_health_check() ->> 'status'), 'healthy', '10: log_health_check');
  PERFORM t.eq((SELECT count(*) FROM health_checks WHERE check_type = 'database_health'),
               1::bigint, '10: health logged');
END
$$;

-- 12. priority 1-10 (higher = sooner) maps onto bullmq's (1 = sooner).
DO $$
BEGIN
  INSERT INTO automation_tasks (user_id, vendor_url, ticket_details, priority)
  VALUES ('aaaaaaaa-0000-4000-8000-000000000001', 'https://p.example.com', '{"p":10}', 10),
         ('aaaaaaaa-0000-4000-8000-000000000001', 'https://p.example.com', '{"p":1}', 1);
  PERFORM t.eq((SELECT bullmq_priority FROM automation_tasks WHERE ticket_details = '{"p":10}'),
               1::smallint, '12: paying customer runs first');
  PERFORM t.eq((SELECT bullmq_priority FROM automation_tasks WHERE ticket_details = '{"p":1}'),
               10::smallint, '12: lowest priority runs last');
  PERFORM t.expect_error($q$INSERT INTO automation_tasks (user_id, vendor_url, ticket_details, priority)
    VALUES ('aaaaaaaa-0000-4000-8000-000000000001', 'https://p.example.com', '{}', 11)$q$, '23514',
    '12: priority out of range');
END
$$;

-- Status bookkeeping the worker relies on.
DO $$
BEGIN
  PERFORM t.expect_error($q$UPDATE automation_tasks SET status = 'FAILED'$q$, '23514',
                         'FAILED needs failure_reason');
  PERFORM t.expect_error($q$UPDATE automation_tasks SET status = 'COMPLETED', completed_at = NULL$q$,
                         '23514', 'COMPLETED needs completed_at');
  PERFORM t.expect_error($q$UPDATE automation_tasks SET retry_count = 6$q$, '23514', 'retry limit');
  PERFORM t.expect_error($q$UPDATE browser_sessions SET status = 'terminated'$q$, '23514',
                         'terminated needs terminated_at');
  PERFORM t.expect_error($q$UPDATE task_steps SET step_type = 'system_cleanup'$q$, '23514',
                         'step type');
END
$$;
ROLLBACK;
\echo ok defects
