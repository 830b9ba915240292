-- helpers.sql -- functions the SQL tests share (schema t, test databases only).
CREATE SCHEMA t;
GRANT USAGE ON SCHEMA t TO PUBLIC;

-- Act as a signed-in user for the rest of the transaction, as the runtime
-- does for a user's request.
CREATE FUNCTION t.as_user(u uuid) RETURNS void LANGUAGE sql AS $$
  SELECT set_config('request.jwt.claims',
                    json_build_object('sub', u, 'role', 'authenticated')::text, true);
  SELECT set_config('role', 'authenticated', true);
$$;
CREATE FUNCTION t.as_service() RETURNS void LANGUAGE sql AS $$
  SELECT set_config('request.jwt.claims', '', true);
  SELECT set_config('role', 'service_role', true);
$$;
CREATE FUNCTION t.as_anon() RETURNS void LANGUAGE sql AS $$
  SELECT set_config('request.jwt.claims', '', true);
  SELECT set_config('role', 'anon', true);
$$;
CREATE FUNCTION t.as_owner() RETURNS void LANGUAGE sql AS $$
  SELECT set_config('request.jwt.claims', '', true);
  SELECT set_config('role', 'none', true);
$$;

-- A value shaped like a core/crypto.c ciphertext (key id "t1"); the tests
-- of RLS do not need a real one.
CREATE FUNCTION t.ct(label text) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
  SELECT '\x01027431'::bytea || '\x000000000000000000000000'::bytea
         || sha256(convert_to(label, 'UTF8'))
         || '\x00000000000000000000000000000000'::bytea
$$;
CREATE FUNCTION t.bidx(label text) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
  SELECT sha256(convert_to('bidx:' || label, 'UTF8'))
$$;

-- Run sql; fail unless it raises sqlstate (e.g. 42501 insufficient_privilege).
CREATE FUNCTION t.expect_error(sql text, state text, what text) RETURNS void
  LANGUAGE plpgsql AS $$
BEGIN
  BEGIN
    EXECUTE sql;
  EXCEPTION WHEN OTHERS THEN
    IF SQLSTATE <> state THEN
      RAISE EXCEPTION '%: expected SQLSTATE %, got % (%)', what, state, SQLSTATE, SQLERRM;
    END IF;
    RETURN;
  END;
  RAISE EXCEPTION '%: expected SQLSTATE %, but it succeeded', what, state;
END
$$;

-- Run sql and return how many rows it touched (UPDATE/DELETE/INSERT).
CREATE FUNCTION t.affected(sql text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
  EXECUTE sql;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;

CREATE FUNCTION t.eq(got anyelement, want anyelement, what text) RETURNS void
  LANGUAGE plpgsql AS $$
BEGIN
  IF got IS DISTINCT FROM want THEN
    RAISE EXCEPTION '%: got %, want %', what, got, want;
  END IF;
END
$$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA t TO PUBLIC;

-- Two users, each with a row in every user table (as the service writes them).
CREATE FUNCTION t.seed() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  u uuid;
  task uuid;
  label text;
BEGIN
  FOREACH u IN ARRAY ARRAY['aaaaaaaa-0000-4000-8000-000000000001'::uuid,
                           'bbbbbbbb-0000-4000-8000-000000000002'::uuid] LOOP
    label := u::text;
    INSERT INTO auth.users (id, email) VALUES (u, label || '@example.test');
    INSERT INTO user_profiles (user_id, full_name, rfc, rfc_bidx, fiscal_regime,
                               postal_code, cfdi_use, email)
    VALUES (u, t.ct('name' || label), t.ct('rfc' || label), t.bidx(label), '612',
            '06600', 'G03', t.ct('mail' || label));
    INSERT INTO user_vendor_credentials (user_id, vendor_domain, username, password)
    VALUES (u, 'portal.example.com', t.ct('user' || label), t.ct('pw' || label));
    INSERT INTO automation_tasks (user_id, vendor_url, ticket_details, status,
                                  current_live_url)
    VALUES (u, 'https://portal.example.com/facturar', '{"folio":"1"}', 'RUNNING',
            'https://live.example/' || label)
    RETURNING id INTO task;
    INSERT INTO task_steps (task_id, seq, step_type, content, duration_ms)
    VALUES (task, 1, 'navigate', '{"url":"x"}', 10), (task, 2, 'click', '{}', 20);
    INSERT INTO browser_sessions (task_id, status, live_view_url, takeover_url)
    VALUES (task, 'active', 'https://live.example/' || label,
            'https://takeover.example/' || label);
    INSERT INTO cfdi_documents (task_id, cfdi_uuid, xml, xml_sha256, verified,
                                verification)
    VALUES (task, gen_random_uuid(), t.ct('xml' || label), sha256('x'), true, '{}');
  END LOOP;
END
$$;
