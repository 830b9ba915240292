-- test_rls_matrix.sql -- two users, every table, SELECT/INSERT/UPDATE/DELETE
-- through role authenticated: nothing of one user is visible to, or
-- changeable by, the other. Runs in a transaction that is rolled back.
\set ON_ERROR_STOP 1
BEGIN;
DO $$ BEGIN PERFORM t.seed(); END $$;

-- Fingerprint of everything a user owns, read as the owner (no RLS).
CREATE FUNCTION pg_temp.fingerprint(u uuid) RETURNS text LANGUAGE sql AS $$
  SELECT md5(concat_ws('|',
    (SELECT string_agg(p::text, ',' ORDER BY p.id) FROM user_profiles p WHERE p.user_id = u),
    (SELECT string_agg(c::text, ',' ORDER BY c.id) FROM user_vendor_credentials c WHERE c.user_id = u),
    (SELECT string_agg(a::text, ',' ORDER BY a.id) FROM automation_tasks a WHERE a.user_id = u),
    (SELECT string_agg(s::text, ',' ORDER BY s.id) FROM task_steps s
       JOIN automation_tasks a ON a.id = s.task_id WHERE a.user_id = u),
    (SELECT string_agg(b::text, ',' ORDER BY b.id) FROM browser_sessions b
       JOIN automation_tasks a ON a.id = b.task_id WHERE a.user_id = u),
    (SELECT string_agg(d::text, ',' ORDER BY d.id) FROM cfdi_documents d
       JOIN automation_tasks a ON a.id = d.task_id WHERE a.user_id = u)))
$$;

-- Run sql as `who`; it must either be refused (42501) or touch no row.
CREATE FUNCTION pg_temp.touches_nothing(sql text, what text) RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
  BEGIN
    n := t.affected(sql);
  EXCEPTION WHEN insufficient_privilege THEN
    RETURN;
  END;
  IF n <> 0 THEN
    RAISE EXCEPTION '%: touched % row(s) of another user', what, n;
  END IF;
END
$$;

DO $$
DECLARE
  pairs uuid[][] := ARRAY[
    ARRAY['aaaaaaaa-0000-4000-8000-000000000001'::uuid, 'bbbbbbbb-0000-4000-8000-000000000002'::uuid],
    ARRAY['bbbbbbbb-0000-4000-8000-000000000002'::uuid, 'aaaaaaaa-0000-4000-8000-000000000001'::uuid]];
  me uuid;
  other uuid;
  other_task uuid;
  my_task uuid;
  before text;
  i int;
  tbl text;
BEGIN
  FOR i IN 1 .. 2 LOOP
    me := pairs[i][1];
    other := pairs[i][2];
    SELECT id INTO other_task FROM automation_tasks WHERE user_id = other;
    SELECT id INTO my_task FROM automation_tasks WHERE user_id = me;
    before := pg_temp.fingerprint(other);

    PERFORM t.as_user(me);
    -- SELECT: only my rows, in every table and view.
    PERFORM t.eq((SELECT count(*) FROM user_profiles), 1::bigint, 'profiles visible');
    PERFORM t.eq((SELECT count(*) FROM user_profiles WHERE user_id <> me), 0::bigint, 'foreign profiles');
    PERFORM t.eq((SELECT count(*) FROM user_vendor_credentials), 1::bigint, 'credentials visible');
    PERFORM t.eq((SELECT count(*) FROM user_vendor_credentials WHERE user_id <> me), 0::bigint, 'foreign credentials');
    PERFORM t.eq((SELECT count(*) FROM automation_tasks), 1::bigint, 'tasks visible');
    PERFORM t.eq((SELECT count(*) FROM automation_tasks WHERE user_id <> me), 0::bigint, 'foreign tasks');
    PERFORM t.eq((SELECT count(*) FROM task_steps), 2::bigint, 'steps visible');
    PERFORM t.eq((SELECT count(*) FROM task_steps WHERE task_id = other_task), 0::bigint, 'foreign steps');
    PERFORM t.eq((SELECT count(*) FROM browser_sessions), 1::bigint, 'sessions visible');
    PERFORM t.eq((SELECT count(*) FROM browser_sessions WHERE task_id = other_task), 0::bigint, 'foreign sessions');
    PERFORM t.eq((SELECT count(*) FROM cfdi_documents), 1::bigint, 'invoices visible');
    PERFORM t.eq((SELECT count(*) FROM cfdi_documents WHERE task_id = other_task), 0::bigint, 'foreign invoices');
    PERFORM t.eq((SELECT sum(total_tasks) FROM task_success_rates), 1::numeric, 'task_success_rates');
    PERFORM t.eq((SELECT count(*) FROM user_automation_stats WHERE user_id <> me), 0::bigint, 'user_automation_stats');
    PERFORM t.eq((SELECT sum(total_steps) FROM task_step_performance), 2::numeric, 'task_step_performance');
    FOREACH tbl IN ARRAY ARRAY['health_checks', 'file_deletions', 'schema_migrations'] LOOP
      PERFORM t.expect_error(format('SELECT * FROM %I', tbl), '42501', 'users read ' || tbl);
    END LOOP;

    -- UPDATE and DELETE of the other user's rows: refused or no row touched.
    PERFORM pg_temp.touches_nothing(format(
      'UPDATE user_profiles SET postal_code = %L WHERE user_id = %L', '11111', other), 'update profile');
    PERFORM pg_temp.touches_nothing(format(
      'UPDATE user_profiles SET user_id = %L WHERE user_id = %L', me, other), 'steal profile');
    PERFORM pg_temp.touches_nothing(format(
      'DELETE FROM user_profiles WHERE user_id = %L', other), 'delete profile');
    PERFORM pg_temp.touches_nothing(format(
      'UPDATE user_vendor_credentials SET last_used_at = now() WHERE user_id = %L', other), 'update credentials');
    PERFORM pg_temp.touches_nothing(format(
      'DELETE FROM user_vendor_credentials WHERE user_id = %L', other), 'delete credentials');
    PERFORM pg_temp.touches_nothing(format(
      'UPDATE automation_tasks SET status = %L WHERE id = %L', 'FAILED', other_task), 'update task');
    PERFORM pg_temp.touches_nothing(format(
      'DELETE FROM automation_tasks WHERE id = %L', other_task), 'delete task');
    PERFORM pg_temp.touches_nothing(format(
      'UPDATE task_steps SET content = %L WHERE task_id = %L', '{}', other_task), 'update steps');
    PERFORM pg_temp.touches_nothing(format(
      'DELETE FROM task_steps WHERE task_id = %L', other_task), 'delete steps');
    PERFORM pg_temp.touches_nothing(format(
      'UPDATE browser_sessions SET takeover_url = %L WHERE task_id = %L', 'https://evil', other_task), 'update session');
    PERFORM pg_temp.touches_nothing(format(
      'DELETE FROM browser_sessions WHERE task_id = %L', other_task), 'delete session');
    PERFORM pg_temp.touches_nothing(format(
      'UPDATE cfdi_documents SET verified = false WHERE task_id = %L', other_task), 'update invoice');
    PERFORM pg_temp.touches_nothing(format(
      'DELETE FROM cfdi_documents WHERE task_id = %L', other_task), 'delete invoice');

    -- INSERT on the other user's behalf: refused.
    PERFORM t.expect_error(format(
      'INSERT INTO user_profiles (user_id, full_name, rfc, rfc_bidx, fiscal_regime, postal_code, cfdi_use) '
      'VALUES (%L, t.ct(%L), t.ct(%L), t.bidx(%L), %L, %L, %L)', other, 'n', 'r', 'x', '612', '06600', 'G03'),
      '42501', 'insert a profile for another user');
    PERFORM t.expect_error(format(
      'INSERT INTO user_vendor_credentials (user_id, vendor_domain, username, password) '
      'VALUES (%L, %L, t.ct(%L), t.ct(%L))', other, 'x.example.com', 'u', 'p'),
      '42501', 'insert credentials for another user');
    PERFORM t.expect_error(format(
      'INSERT INTO automation_tasks (user_id, vendor_url, ticket_details) '
      'VALUES (%L, %L, %L)', other, 'https://x.example.com', '{}'),
      '42501', 'insert task for another user');
    PERFORM t.expect_error(format(
      'INSERT INTO task_steps (task_id, seq, step_type) VALUES (%L, 99, %L)',
      other_task, 'user_intervention'), '42501', 'insert step into another user''s task');
    PERFORM t.expect_error(format(
      'INSERT INTO browser_sessions (task_id) VALUES (%L)', other_task),
      '42501', 'insert session into another user''s task');
    PERFORM t.expect_error(format(
      'INSERT INTO cfdi_documents (task_id, cfdi_uuid, xml, xml_sha256, verified, verification) '
      'VALUES (%L, gen_random_uuid(), t.ct(%L), sha256(%L), true, %L)', other_task, 'x', 'x', '{}'),
      '42501', 'insert invoice into another user''s task');

    -- What a user may do to their own rows still works.
    PERFORM t.eq(t.affected(format(
      'UPDATE user_profiles SET postal_code = %L WHERE user_id = %L', '01000', me)), 1::bigint,
      'update own profile');
    PERFORM t.eq(t.affected(format(
      'INSERT INTO automation_tasks (user_id, vendor_url, ticket_details) VALUES (%L, %L, %L)',
      me, 'https://shop.example.com/f', '{}')), 1::bigint, 'insert own pending task');
    PERFORM t.eq(t.affected(format(
      'INSERT INTO task_steps (task_id, seq, step_type, content) VALUES (%L, 50, %L, %L)',
      my_task, 'user_intervention', '{"note":"captcha solved"}')), 1::bigint,
      'record own intervention');
    -- ...but not what only the runtime may do.
    PERFORM t.expect_error(format(
      'INSERT INTO automation_tasks (user_id, vendor_url, ticket_details, status) VALUES (%L, %L, %L, %L)',
      me, 'https://shop.example.com/f', '{}', 'COMPLETED'), '42501', 'insert own task as COMPLETED');
    PERFORM t.expect_error(format(
      'UPDATE automation_tasks SET status = %L WHERE id = %L', 'COMPLETED', my_task),
      '42501', 'complete own task');
    PERFORM t.expect_error(format(
      'INSERT INTO task_steps (task_id, seq, step_type) VALUES (%L, 51, %L)', my_task, 'completed'),
      '42501', 'forge a worker step');
    PERFORM t.expect_error(format(
      'UPDATE browser_sessions SET takeover_url = %L WHERE task_id = %L', 'https://evil', my_task),
      '42501', 'rewrite own takeover url');

    PERFORM t.as_owner();
    PERFORM t.eq(pg_temp.fingerprint(other), before, 'the other user''s rows are unchanged');
  END LOOP;

  -- anon reads nothing at all.
  PERFORM t.as_anon();
  FOREACH tbl IN ARRAY ARRAY['user_profiles', 'user_vendor_credentials', 'automation_tasks',
      'task_steps', 'browser_sessions', 'cfdi_documents', 'health_checks', 'file_deletions',
      'task_success_rates', 'user_automation_stats', 'task_step_performance'] LOOP
    PERFORM t.expect_error(format('SELECT * FROM %I', tbl), '42501', 'anon reads ' || tbl);
  END LOOP;

  -- The service identity (the worker) sees everyone's rows.
  PERFORM t.as_service();
  PERFORM t.eq((SELECT count(*) FROM user_profiles), 2::bigint, 'service sees all profiles');
  PERFORM t.eq((SELECT count(DISTINCT task_id) FROM task_steps), 2::bigint, 'service sees all steps');
  PERFORM t.as_owner();
END
$$;
ROLLBACK;
\echo ok rls_matrix
