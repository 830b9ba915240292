#!/usr/bin/env bash
# Store integration tests against a real PostgreSQL 15 started here:
# migrations (twice = no-op, edited = refused, failing = rolled back), the
# SQL regression tests (RLS isolation matrix, seed defects), a Supabase-style
# database whose own auth schema must stay untouched, and the runtime's
# commands (tests/sql/runtime.sh).
# Usage: tests/sql/run.sh   (AF_BIN: the autofactura binary, default build/)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
AF_BIN=${AF_BIN:-$root/build/autofactura}
[ -x "$AF_BIN" ] || { echo "run.sh: $AF_BIN not built" >&2; exit 1; }
export AF_BIN

eval "$(tools/pg/start.sh)"
work=$(mktemp -d "${TMPDIR:-/tmp}/af-sqltest.XXXXXX")
trap 'tools/pg/stop.sh "$AF_PG_DIR"; rm -rf "$work"' EXIT
base=${AF_DATABASE_URL%/*}
export PGCONNECT_TIMEOUT=10

# pg_dump without its per-run \restrict nonce lines.
dump() { pg_dump "$@" | grep -v '^\\\(un\)\?restrict '; }

pass=0
ok() { pass=$((pass + 1)); echo "ok $pass - $*"; }
fail() { echo "not ok - $*" >&2; exit 1; }
q() { psql "$AF_DATABASE_URL" -X -q -At -v ON_ERROR_STOP=1 "$@"; }

# -- migrations ---------------------------------------------------------------
out=$("$AF_BIN" migrate) || fail "migrate on an empty database"
[ "$out" = "migrate: applied $(ls sql/[0-9]*_*.sql | wc -l) migrations" ] || fail "first migrate said: $out"
ok "migrate applies every file on plain PostgreSQL 15"

dump --schema-only "$AF_DATABASE_URL" >"$work/schema1.sql"
q -c "SELECT version, checksum, applied_at FROM schema_migrations ORDER BY 1" >"$work/mig1"
out=$("$AF_BIN" migrate) || fail "second migrate"
[ "$out" = "migrate: up to date" ] || fail "second migrate said: $out"
dump --schema-only "$AF_DATABASE_URL" >"$work/schema2.sql"
q -c "SELECT version, checksum, applied_at FROM schema_migrations ORDER BY 1" >"$work/mig2"
diff -u "$work/schema1.sql" "$work/schema2.sql" || fail "a second migrate changed the schema"
diff -u "$work/mig1" "$work/mig2" || fail "a second migrate changed schema_migrations"
ok "a migration run twice changes nothing"

mkdir "$work/edited" && cp sql/*.sql "$work/edited/"
echo "-- an innocent edit" >>"$work/edited/002_store.sql"
if "$AF_BIN" migrate --dir "$work/edited" 2>"$work/err"; then fail "edited migration accepted"; fi
grep -q "002_store.sql: edited after it was applied" "$work/err" || fail "edited: $(cat "$work/err")"
ok "an edited, already applied migration is refused, naming the file"

mkdir "$work/broken" && cp sql/*.sql "$work/broken/"
printf 'CREATE TABLE half_done (id int);\n\nSELECT 1 / 0;\n' >"$work/broken/900_broken.sql"
if "$AF_BIN" migrate --dir "$work/broken" 2>"$work/err"; then fail "failing migration accepted"; fi
grep -q "900_broken.sql: division by zero" "$work/err" || fail "broken: $(cat "$work/err")"
[ "$(q -c "SELECT to_regclass('half_done') IS NULL")" = t ] || fail "a failed migration left half_done"
[ "$(q -c "SELECT count(*) FROM schema_migrations WHERE version = '900'")" = 0 ] || fail "900 recorded"
ok "a failing migration rolls back whole and is not recorded"

mkdir "$work/missing" && cp sql/001_*.sql "$work/missing/"
if "$AF_BIN" migrate --dir "$work/missing" 2>"$work/err"; then fail "missing migration accepted"; fi
grep -q "002_store.sql: applied to this database but missing" "$work/err" || fail "missing: $(cat "$work/err")"
ok "an applied migration missing from the directory is refused"

# Defects 4 and 10: no key handling, pg_cron or ALTER SYSTEM in migrations.
if grep -v '^\s*--' sql/*.sql | grep -inE 'cron\.|alter system|pgcrypto|pgp_sym|encryption_key'; then
  fail "migrations use pg_cron, ALTER SYSTEM or in-database encryption"
fi
ok "defects 4, 10: migrations hold no key handling, pg_cron or ALTER SYSTEM"

# -- SQL regression tests ------------------------------------------------------
q -f tests/sql/helpers.sql
for f in tests/sql/test_*.sql; do
  psql "$AF_DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -f "$f" >"$work/out" 2>&1 \
    || { cat "$work/out" >&2; fail "$f"; }
  ok "$(basename "$f" .sql): $(tail -n 1 "$work/out")"
done

# -- a Supabase database keeps its own auth schema -----------------------------
psql "$AF_DATABASE_URL" -X -q -c "CREATE DATABASE supa"
supa="$base/supa"
# As a Supabase project has it (roles exist cluster-wide already).
psql "$supa" -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE SCHEMA auth;
CREATE TABLE auth.users (
  instance_id uuid, id uuid NOT NULL PRIMARY KEY, aud varchar(255), role varchar(255),
  email varchar(255), encrypted_password varchar(255), email_confirmed_at timestamptz,
  raw_app_meta_data jsonb, created_at timestamptz DEFAULT now(), updated_at timestamptz,
  last_sign_in_at timestamptz, is_sso_user boolean NOT NULL DEFAULT false);
COMMENT ON TABLE auth.users IS 'Auth: Stores user login data within a secure schema.';
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
  -- supabase's own
  select coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''),
                  (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid
$$;
CREATE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$
  -- supabase's own
  select coalesce(nullif(current_setting('request.jwt.claim', true), ''),
                  nullif(current_setting('request.jwt.claims', true), ''))::jsonb
$$;
CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$
  -- supabase's own
  select coalesce(nullif(current_setting('request.jwt.claim.role', true), ''),
                  (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'))::text
$$;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION auth.uid(), auth.jwt(), auth.role() TO anon, authenticated, service_role;
GRANT ALL ON auth.users TO service_role;
-- Supabase grants everything in public to its API roles by default.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
SQL
dump --schema=auth --schema-only "$supa" | grep -v '^GRANT\|^REVOKE' >"$work/auth1.sql"
AF_DATABASE_URL=$supa "$AF_BIN" migrate >/dev/null || fail "migrate on a Supabase-style database"
dump --schema=auth --schema-only "$supa" | grep -v '^GRANT\|^REVOKE' >"$work/auth2.sql"
diff -u "$work/auth1.sql" "$work/auth2.sql" || fail "migrate changed Supabase's auth schema"
ok "a Supabase database's own auth schema is left untouched"

psql "$supa" -X -q -v ON_ERROR_STOP=1 -f tests/sql/helpers.sql
for f in tests/sql/test_rls_matrix.sql tests/sql/test_defects.sql; do
  psql "$supa" -X -q -v ON_ERROR_STOP=1 -f "$f" >"$work/out" 2>&1 \
    || { cat "$work/out" >&2; fail "supabase: $f"; }
  ok "supabase: $(basename "$f" .sql): $(tail -n 1 "$work/out")"
done

# On Supabase users come from Supabase Auth: the runtime never adds one.
echo '{"rfc":"XAXX010101000","full_name":"Público","fiscal_regime":"616","postal_code":"06600","cfdi_use":"S01"}' >"$work/p.json"
export AF_ENCRYPTION_KEYS=k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
rc=0; AF_DATABASE_URL=$supa "$AF_BIN" profile put --user 0f1e2d3c-0000-4000-8000-0000000000ee \
  "$work/p.json" 2>"$work/err" || rc=$?
[ "$rc" = 2 ] && grep -q "is not a user of this database" "$work/err" || fail "supabase unknown user: rc $rc $(cat "$work/err")"
psql "$supa" -X -q -c "INSERT INTO auth.users (id, email) VALUES ('0f1e2d3c-0000-4000-8000-0000000000ee', 'x@example.test')"
AF_DATABASE_URL=$supa "$AF_BIN" profile put --user 0f1e2d3c-0000-4000-8000-0000000000ee "$work/p.json" >/dev/null \
  || fail "supabase profile put"
AF_DATABASE_URL=$supa "$AF_BIN" profile get --user 0f1e2d3c-0000-4000-8000-0000000000ee | grep -q '"full_name":"Público"' \
  || fail "supabase profile get"
unset AF_ENCRYPTION_KEYS
ok "on Supabase, profiles are written only for users Supabase Auth knows"

# -- the runtime's commands against the same database -------------------------
if [ -x tests/sql/runtime.sh ]; then
  AF_WORK=$work tests/sql/runtime.sh || fail "tests/sql/runtime.sh"
fi
echo "store tests: $pass passed"
