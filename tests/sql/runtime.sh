#!/usr/bin/env bash
# The runtime's store commands against the database tests/sql/run.sh set up
# (AF_DATABASE_URL, AF_BIN, AF_WORK): encrypted profiles and credentials,
# isolation through the runtime, no plaintext in a pg_dump, tampering and
# copying detected, key rotation that resumes, task show.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=${AF_WORK:?}
n=0
ok() { n=$((n + 1)); echo "ok runtime $n - $*"; }
fail() { echo "not ok runtime - $*" >&2; exit 1; }
q() { psql "$AF_DATABASE_URL" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
af() { "$AF_BIN" "$@"; }

K1=k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
K2=k2:ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM=
export AF_ENCRYPTION_KEYS=$K1
A=0f1e2d3c-0000-4000-8000-0000000000aa
B=0f1e2d3c-0000-4000-8000-0000000000bb

cat >"$work/a.json" <<'J'
{"rfc": "peña850101ab1", "full_name": "María Peña Núñez", "fiscal_regime": "612",
 "postal_code": "06600", "cfdi_use": "G03", "email": "maria.pena@example.test",
 "company_details": {"trade_name": "Tlapalería Peña"}}
J
cat >"$work/b.json" <<'J'
{"rfc": "GOMJ7001014X2", "full_name": "Jorge Gómez Luna", "fiscal_regime": "605",
 "postal_code": "44100", "cfdi_use": "S01", "email": "jorge.gomez@example.test"}
J
cat >"$work/cred.json" <<'J'
{"username": "maria.portal.user", "password": "S3cr3t-Portal-Pass!", "additional_fields": {"pin": "zq-pin-77"}}
J

# -- bad input: one clear line naming the field and the rule -----------------
echo '{"rfc": "XAXX01010100", "full_name": "x", "fiscal_regime": "612", "postal_code": "06600", "cfdi_use": "G03"}' >"$work/bad.json"
if af profile put --user "$A" "$work/bad.json" 2>"$work/err"; then fail "bad rfc accepted"; fi
grep -q "bad.json: rfc: must be 3 or 4 letters" "$work/err" || fail "bad rfc: $(cat "$work/err")"
grep -q XAXX "$work/err" && fail "the error echoes the RFC"
echo '{"rfc": "XAXX010101000", "full_name": "x", "fiscal_regime": "612", "postal_code": "6600", "cfdi_use": "G03"}' >"$work/bad.json"
if af profile put --user "$A" "$work/bad.json" 2>"$work/err"; then fail "bad postal code accepted"; fi
grep -q "postal_code: must be 5 digits" "$work/err" || fail "bad postal: $(cat "$work/err")"
if af profile put --user not-a-uuid "$work/a.json" 2>"$work/err"; then fail "bad uuid accepted"; fi
grep -q -- "--user: must be a UUID" "$work/err" || fail "bad uuid: $(cat "$work/err")"
if AF_ENCRYPTION_KEYS=k1:short af profile put --user "$A" "$work/a.json" 2>"$work/err"; then fail "bad key accepted"; fi
grep -q "AF_ENCRYPTION_KEYS: key 'k1': must be the base64 of exactly 32 bytes" "$work/err" || fail "bad key: $(cat "$work/err")"
ok "bad input is refused with the field and the rule, never the value"

# -- profiles and credentials, encrypted, per user ----------------------------
af profile put --user "$A" "$work/a.json" >/dev/null
af profile put --user "$B" "$work/b.json" >/dev/null
af credentials put --user "$A" --domain Facturacion.Example.COM "$work/cred.json" >/dev/null
af profile get --user "$A" >"$work/a.out"
grep -q '"rfc":"PEÑA850101AB1"' "$work/a.out" || fail "profile a: $(cat "$work/a.out")"
grep -q '"full_name":"María Peña Núñez"' "$work/a.out" || fail "profile a name"
grep -q '"trade_name":"Tlapalería Peña"' "$work/a.out" || fail "profile a company"
af profile get --user "$B" | grep -q '"rfc":"GOMJ7001014X2"' || fail "profile b"
[ "$(q -c "SELECT vendor_domain FROM user_vendor_credentials")" = facturacion.example.com ] || fail "domain"
ok "profile put/get and credentials put round-trip through encryption"

# Updating keeps one row and re-encrypts.
sed 's/06600/01000/' "$work/a.json" >"$work/a2.json"
af profile put --user "$A" "$work/a2.json" | grep -q updated || fail "profile update"
[ "$(q -c "SELECT count(*) FROM user_profiles WHERE user_id = '$A'")" = 1 ] || fail "profile rows"
af profile get --user "$A" | grep -q '"postal_code":"01000"' || fail "profile updated value"
ok "profile put on an existing profile updates it"

# -- isolation through the runtime --------------------------------------------
C=0f1e2d3c-0000-4000-8000-0000000000cc
q -c "INSERT INTO auth.users (id) VALUES ('$C')"
if af profile get --user "$C" >"$work/c.out" 2>"$work/err"; then fail "user c read a profile"; fi
grep -q "has no profile" "$work/err" || fail "user c: $(cat "$work/err")"
[ -s "$work/c.out" ] && fail "user c got output"
# As C, the runtime's role sees none of A's or B's rows in any table.
for t in user_profiles user_vendor_credentials automation_tasks task_steps browser_sessions cfdi_documents; do
  got=$(q <<SQL | tail -n 1
BEGIN; SET LOCAL ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"sub":"$C","role":"authenticated"}', true) IS NULL;
SELECT count(*) FROM $t; ROLLBACK;
SQL
)
  [ "$got" = 0 ] || fail "user c sees $got rows of $t"
done
ok "through the runtime a user reads nothing of another user"

# A ciphertext copied to another user's row does not decrypt there.
q -c "UPDATE user_profiles SET rfc = (SELECT rfc FROM user_profiles WHERE user_id = '$A') WHERE user_id = '$B'"
if af profile get --user "$B" >"$work/b.out" 2>"$work/err"; then fail "a copied ciphertext decrypted"; fi
grep -q "user_profiles.rfc: ciphertext failed authentication" "$work/err" || fail "copy: $(cat "$work/err")"
grep -q 'PEÑA' "$work/b.out" "$work/err" && fail "the copied RFC leaked"
af profile put --user "$B" "$work/b.json" >/dev/null
# One flipped bit: a clear error, never garbage.
q -c "UPDATE user_profiles SET full_name = set_byte(full_name, octet_length(full_name) - 20,
        get_byte(full_name, octet_length(full_name) - 20) # 1) WHERE user_id = '$B'"
if af profile get --user "$B" >"$work/b.out" 2>"$work/err"; then fail "a tampered ciphertext decrypted"; fi
grep -q "user_profiles.full_name: ciphertext failed authentication" "$work/err" || fail "tamper: $(cat "$work/err")"
[ -s "$work/b.out" ] && fail "tampered read printed output"
af profile put --user "$B" "$work/b.json" >/dev/null
ok "a tampered or copied ciphertext gives a clear error"

# -- a task and its record ------------------------------------------------------
T=$(q -c "INSERT INTO automation_tasks (user_id, vendor_url, ticket_details, status, current_live_url)
          VALUES ('$A', 'https://facturacion.example.com/', '{\"folio\":\"F-1\"}', 'RUNNING',
                  'https://live.local/x') RETURNING id" | head -1)
q -c "INSERT INTO task_steps (task_id, seq, step_type, content, duration_ms, screenshot_url)
      VALUES ('$T', 1, 'navigate', '{\"url\":\"https://facturacion.example.com/\"}', 120, 'shots/1.png'),
             ('$T', 2, 'input', '{\"field\":\"rfc\"}', 15, NULL)"
af task show "$T" >"$work/task.json"
lua5.4 - "$work/task.json" <<'LUA' || fail "task show: $(cat "$work/task.json")"
local cjson = require "cjson"
local f = assert(io.open(arg[1]))
local t = cjson.decode(f:read("a"))
assert(t.status == "RUNNING" and t.vendor_domain == "facturacion.example.com")
assert(#t.steps == 2 and t.steps[1].type == "navigate" and t.steps[2].type == "input")
assert(t.steps[1].duration_ms == 120 and t.steps[1].screenshot == "shots/1.png")
LUA
if af task show 00000000-0000-4000-8000-000000000000 2>"$work/err"; then fail "missing task shown"; fi
grep -q "no task" "$work/err" || fail "missing task: $(cat "$work/err")"
ok "task show prints status and steps"

# -- no plaintext in a dump ---------------------------------------------------
pg_dump --data-only "$AF_DATABASE_URL" >"$work/dump.sql"
for secret in 'PEÑA850101AB1' 'peña850101ab1' 'GOMJ7001014X2' 'María Peña' 'Jorge Gómez' \
              'maria.pena@example' 'maria.portal.user' 'S3cr3t-Portal-Pass' 'Tlapalería' 'zq-pin-77'; do
  grep -qi -- "$secret" "$work/dump.sql" && fail "pg_dump holds '$secret'"
done
grep -q "facturacion.example.com" "$work/dump.sql" || fail "the dump is not the populated database"
ok "a pg_dump of the populated database holds no plaintext RFC, name, username or password"

# -- lookup by RFC through the blind index ---------------------------------------
[ "$(af profile find --rfc 'gomj-700101-4x2')" = "$B" ] || fail "find by rfc"
if af profile find --rfc XEXX010101000 >/dev/null 2>&1; then fail "found an unknown rfc"; fi
if af profile find --rfc 'not an rfc' 2>"$work/err"; then fail "bad rfc searched"; fi
grep -q "rfc: must be 3 or 4 letters" "$work/err" || fail "find bad rfc: $(cat "$work/err")"
ok "profile find looks an RFC up through the blind index, any spelling"

# -- key rotation, interrupted and resumed --------------------------------------
export AF_ENCRYPTION_KEYS="$K2,$K1"
af keys rotate --batch 1 --max-batches 1 | grep -q "stopped after 1 batch" || fail "rotate stop"
# Mid-rotation both profiles are still found by RFC.
[ "$(af profile find --rfc GOMJ7001014X2)" = "$B" ] || fail "find mid-rotation (b)"
[ "$(af profile find --rfc PEÑA850101AB1)" = "$A" ] || fail "find mid-rotation (a)"
[ "$(q -c "SELECT count(*) FROM user_profiles WHERE af_key_id(rfc) = 'k2'")" = 1 ] || fail "one row rotated"
[ "$(q -c "SELECT count(*) FROM user_profiles WHERE af_key_id(rfc) = 'k1'")" = 1 ] || fail "one row left"
af keys rotate --batch 1 >"$work/rot.out"
grep -q "every value is on key 'k2'" "$work/rot.out" || fail "rotate: $(cat "$work/rot.out")"
left=$(q -c "SELECT (SELECT count(*) FROM user_profiles WHERE af_key_id(full_name) <> 'k2' OR af_key_id(rfc) <> 'k2' OR af_key_id(email) <> 'k2')
               + (SELECT count(*) FROM user_vendor_credentials WHERE af_key_id(username) <> 'k2' OR af_key_id(password) <> 'k2' OR af_key_id(additional_fields) <> 'k2')")
[ "$left" = 0 ] || fail "$left rows still on k1"
af keys rotate | grep -q "(0 rows rewritten)" || fail "a second rotate rewrote rows"
export AF_ENCRYPTION_KEYS=$K2
af profile get --user "$A" | grep -q '"rfc":"PEÑA850101AB1"' || fail "profile after rotation"
# The blind index follows the newest key.
bidx=$(q -c "SELECT encode(rfc_bidx, 'hex') FROM user_profiles WHERE user_id = '$B'")
AF_ENCRYPTION_KEYS=$K2 af profile put --user "$B" "$work/b.json" >/dev/null
[ "$(q -c "SELECT encode(rfc_bidx, 'hex') FROM user_profiles WHERE user_id = '$B'")" = "$bidx" ] \
  || fail "rotation left a stale blind index"
export AF_ENCRYPTION_KEYS=$K1
if af profile get --user "$A" 2>"$work/err"; then fail "decrypted without the key"; fi
grep -q "encrypted with key id 'k2', which is not in AF_ENCRYPTION_KEYS" "$work/err" || fail "old key: $(cat "$work/err")"
ok "keys rotate re-encrypts everything in resumable batches; old key no longer needed"
