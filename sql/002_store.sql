-- 002_store.sql -- the store's tables, constraints, indexes and Row-Level
-- Security (seed schema, with the defects listed in DESIGN.md fixed).
--
-- Sensitive values (RFC, names, e-mail, portal usernames and passwords, CFDI
-- XML, session data) are encrypted by the application (core/crypto.c,
-- AES-256-GCM): the database only ever sees ciphertexts, and never a key.
-- An RFC is looked up through a blind index (HMAC-SHA256 of the normalized
-- RFC under a key derived from the encryption key).
--
-- Who may do what:
--   authenticated  a user's request; RLS limits every row to auth.uid().
--   service_role   the runtime's workers and admin commands (BYPASSRLS).
--   anon           nothing.

-- A ciphertext written by core/crypto.c: version byte 0x01, key id length,
-- key id, 12-byte nonce, ciphertext, 16-byte tag. Plaintext (which never
-- starts with byte 0x01 in practice) is refused.
CREATE DOMAIN af_ciphertext AS bytea
  CONSTRAINT af_ciphertext_format CHECK (VALUE IS NULL OR
    CASE WHEN octet_length(VALUE) >= 31
         THEN get_byte(VALUE, 0) = 1
              AND octet_length(VALUE) >= 30 + get_byte(VALUE, 1)
         ELSE false END);

-- The key id inside a ciphertext: `SELECT af_key_id(rfc), count(*) FROM
-- user_profiles GROUP BY 1` shows how far a key rotation got.
CREATE FUNCTION af_key_id(ct bytea) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT
  AS $$ SELECT convert_from(substring(ct FROM 3 FOR get_byte(ct, 1)), 'UTF8') $$;

CREATE DOMAIN af_blind_index AS bytea
  CONSTRAINT af_blind_index_size CHECK (octet_length(VALUE) = 32);

CREATE FUNCTION set_updated_at() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

-- ==== user_profiles =========================================================
CREATE TABLE user_profiles (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id         uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  full_name       af_ciphertext NOT NULL,
  rfc             af_ciphertext NOT NULL,
  rfc_bidx        af_blind_index NOT NULL,
  fiscal_regime   varchar(3) NOT NULL,
  postal_code     varchar(5) NOT NULL,
  cfdi_use        varchar(4) NOT NULL,
  email           af_ciphertext,
  company_details af_ciphertext,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT unique_user_profile UNIQUE (user_id),
  CONSTRAINT valid_fiscal_regime CHECK (fiscal_regime ~ '^[0-9]{3}$'),
  CONSTRAINT valid_postal_code CHECK (postal_code ~ '^[0-9]{5}$'),
  CONSTRAINT valid_cfdi_use
    CHECK (cfdi_use ~ '^(G0[1-3]|I0[1-8]|D(0[1-9]|10)|S01|CP01|CN01)$')
);
CREATE INDEX idx_user_profiles_rfc_bidx ON user_profiles (rfc_bidx);
CREATE TRIGGER user_profiles_updated_at BEFORE UPDATE ON user_profiles
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- ==== automation_tasks ======================================================
CREATE TABLE automation_tasks (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id          uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  status           varchar(20) NOT NULL DEFAULT 'PENDING',
  vendor_url       text NOT NULL,
  -- Host of vendor_url, lower case, without a leading "www.".
  vendor_domain    text GENERATED ALWAYS AS (
                     regexp_replace(lower(substring(vendor_url
                       FROM '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?([^/?#:]+)')),
                       '^www\.', '')) STORED,
  ticket_details   jsonb NOT NULL,
  -- 1-10, higher = more urgent (the seed's AutomationJobData.priority).
  priority         smallint NOT NULL DEFAULT 5,
  -- What bullmq expects: 1 runs first. The queue reads this, never priority.
  bullmq_priority  smallint GENERATED ALWAYS AS (11 - priority) STORED,
  current_live_url text,
  failure_reason   text,
  retry_count      integer NOT NULL DEFAULT 0,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  completed_at     timestamptz,
  CONSTRAINT check_status CHECK (status IN ('PENDING', 'RUNNING', 'PAUSED',
    'INTERVENTION_NEEDED', 'COMPLETED', 'FAILED')),
  CONSTRAINT valid_vendor_url CHECK (vendor_url ~ '^https?://[^/?#]+'),
  CONSTRAINT valid_priority CHECK (priority BETWEEN 1 AND 10),
  CONSTRAINT max_retries CHECK (retry_count BETWEEN 0 AND 5),
  CONSTRAINT completed_has_time
    CHECK (status <> 'COMPLETED' OR completed_at IS NOT NULL),
  CONSTRAINT failed_has_reason
    CHECK (status <> 'FAILED' OR failure_reason IS NOT NULL)
);
CREATE INDEX idx_automation_tasks_created_at ON automation_tasks (created_at DESC);
CREATE INDEX idx_automation_tasks_status_updated ON automation_tasks (status, updated_at DESC);
CREATE INDEX idx_tasks_user_status_created ON automation_tasks (user_id, status, created_at DESC);
CREATE INDEX idx_automation_tasks_vendor_domain ON automation_tasks (vendor_domain);
CREATE TRIGGER automation_tasks_updated_at BEFORE UPDATE ON automation_tasks
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- ==== task_steps ============================================================
CREATE TABLE task_steps (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  task_id        uuid NOT NULL REFERENCES automation_tasks (id) ON DELETE CASCADE,
  seq            integer NOT NULL,
  step_type      varchar(20) NOT NULL,
  content        jsonb,
  screenshot_url text,
  "timestamp"    timestamptz NOT NULL DEFAULT now(),
  duration_ms    integer,
  CONSTRAINT check_step_type CHECK (step_type IN ('navigate', 'input', 'click',
    'select', 'wait', 'extract', 'download', 'thinking', 'error',
    'user_intervention', 'completed')),
  CONSTRAINT valid_duration CHECK (duration_ms IS NULL OR duration_ms >= 0),
  CONSTRAINT unique_step_seq UNIQUE (task_id, seq)
);
CREATE INDEX idx_task_steps_task_id_timestamp ON task_steps (task_id, "timestamp" DESC);
CREATE INDEX idx_steps_task_type_timestamp ON task_steps (task_id, step_type, "timestamp" DESC);
CREATE INDEX idx_task_steps_step_type ON task_steps (step_type);

-- ==== browser_sessions ======================================================
CREATE TABLE browser_sessions (
  id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  task_id                uuid NOT NULL REFERENCES automation_tasks (id) ON DELETE CASCADE,
  provider               varchar(20) NOT NULL DEFAULT 'local',
  browserbase_session_id varchar(255),
  status                 varchar(20) NOT NULL DEFAULT 'active',
  live_view_url          text,
  takeover_url           text,
  session_data           af_ciphertext,
  created_at             timestamptz NOT NULL DEFAULT now(),
  terminated_at          timestamptz,
  CONSTRAINT check_session_status
    CHECK (status IN ('active', 'paused', 'user_controlled', 'terminated')),
  CONSTRAINT check_provider CHECK (provider IN ('local', 'browserbase')),
  CONSTRAINT terminated_has_time
    CHECK (status <> 'terminated' OR terminated_at IS NOT NULL)
);
CREATE INDEX idx_browser_sessions_task_id ON browser_sessions (task_id);
CREATE INDEX idx_browser_sessions_browserbase_id ON browser_sessions (browserbase_session_id);
CREATE INDEX idx_browser_sessions_status ON browser_sessions (status);

-- ==== user_vendor_credentials ===============================================
CREATE TABLE user_vendor_credentials (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id           uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  vendor_domain     varchar(255) NOT NULL,
  username          af_ciphertext NOT NULL,
  password          af_ciphertext NOT NULL,
  additional_fields af_ciphertext,
  last_used_at      timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT valid_vendor_domain
    CHECK (vendor_domain ~ '^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$'),
  CONSTRAINT unique_user_vendor UNIQUE (user_id, vendor_domain)
);
CREATE INDEX idx_user_vendor_credentials_last_used ON user_vendor_credentials (last_used_at DESC);
CREATE TRIGGER user_vendor_credentials_updated_at BEFORE UPDATE ON user_vendor_credentials
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- ==== cfdi_documents: the invoices portals issued ===========================
CREATE TABLE cfdi_documents (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  task_id      uuid NOT NULL REFERENCES automation_tasks (id) ON DELETE CASCADE,
  cfdi_uuid    uuid NOT NULL,
  xml          af_ciphertext NOT NULL,  -- holds RFCs and names: encrypted
  xml_sha256   bytea NOT NULL,
  pdf_path     text,
  total        numeric(18, 2),
  issued_at    timestamptz,
  verified     boolean NOT NULL,
  verification jsonb NOT NULL,          -- what matched, what did not
  created_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT unique_cfdi_uuid UNIQUE (cfdi_uuid),
  CONSTRAINT unique_cfdi_task UNIQUE (task_id),
  CONSTRAINT valid_xml_sha256 CHECK (octet_length(xml_sha256) = 32)
);

-- ==== health_checks =========================================================
CREATE TABLE health_checks (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  check_type  varchar(50) NOT NULL,
  result      jsonb NOT NULL,
  status      varchar(20) NOT NULL,
  "timestamp" timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT check_health_status CHECK (status IN ('healthy', 'warning', 'critical'))
);
CREATE INDEX idx_health_checks_timestamp ON health_checks ("timestamp" DESC);

-- ==== file_deletions: files whose rows are gone =============================
-- Screenshots and invoice files live outside the database. When their row is
-- deleted (retention, a user deleting a task, cascades) the path is queued
-- here and the runtime removes the file (claim_file_deletions()).
CREATE TABLE file_deletions (
  id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  path      text NOT NULL,
  queued_at timestamptz NOT NULL DEFAULT now()
);

-- Trigger argument: the column holding the file's path.
CREATE FUNCTION queue_file_deletion() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  path text := to_jsonb(OLD) ->> TG_ARGV[0];
BEGIN
  IF path IS NOT NULL THEN
    INSERT INTO file_deletions (path) VALUES (path);
  END IF;
  RETURN OLD;
END
$$;
REVOKE ALL ON FUNCTION queue_file_deletion() FROM PUBLIC;
CREATE TRIGGER task_steps_files AFTER DELETE ON task_steps
  FOR EACH ROW EXECUTE FUNCTION queue_file_deletion('screenshot_url');
CREATE TRIGGER cfdi_documents_files AFTER DELETE ON cfdi_documents
  FOR EACH ROW EXECUTE FUNCTION queue_file_deletion('pdf_path');

-- ==== privileges ============================================================
-- Supabase grants everything in public to anon and authenticated by default;
-- start from nothing and grant what each role needs. RLS then picks rows.
REVOKE ALL ON user_profiles, automation_tasks, task_steps, browser_sessions,
  user_vendor_credentials, cfdi_documents, health_checks, file_deletions
  FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON user_profiles, user_vendor_credentials
  TO authenticated;
GRANT SELECT, INSERT, DELETE ON automation_tasks TO authenticated;
GRANT SELECT, INSERT ON task_steps TO authenticated;
GRANT SELECT ON browser_sessions, cfdi_documents TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON user_profiles, automation_tasks,
  task_steps, browser_sessions, user_vendor_credentials, cfdi_documents,
  health_checks, file_deletions TO service_role;

-- ==== Row-Level Security ====================================================
ALTER TABLE user_profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE automation_tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE task_steps ENABLE ROW LEVEL SECURITY;
ALTER TABLE browser_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_vendor_credentials ENABLE ROW LEVEL SECURITY;
ALTER TABLE cfdi_documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE health_checks ENABLE ROW LEVEL SECURITY;
ALTER TABLE file_deletions ENABLE ROW LEVEL SECURITY;

CREATE POLICY user_profiles_owner ON user_profiles FOR ALL TO authenticated
  USING (user_id = (SELECT auth.uid()))
  WITH CHECK (user_id = (SELECT auth.uid()));

CREATE POLICY user_vendor_credentials_owner ON user_vendor_credentials
  FOR ALL TO authenticated
  USING (user_id = (SELECT auth.uid()))
  WITH CHECK (user_id = (SELECT auth.uid()));

-- A user reads and deletes their tasks and creates new PENDING ones; only
-- the runtime moves a task along (status, live URL, failure, retries).
CREATE POLICY automation_tasks_owner_select ON automation_tasks
  FOR SELECT TO authenticated USING (user_id = (SELECT auth.uid()));
CREATE POLICY automation_tasks_owner_delete ON automation_tasks
  FOR DELETE TO authenticated USING (user_id = (SELECT auth.uid()));
CREATE POLICY automation_tasks_owner_insert ON automation_tasks
  FOR INSERT TO authenticated
  WITH CHECK (user_id = (SELECT auth.uid()) AND status = 'PENDING'
              AND retry_count = 0 AND current_live_url IS NULL
              AND failure_reason IS NULL AND completed_at IS NULL);

CREATE POLICY task_steps_owner_select ON task_steps FOR SELECT TO authenticated
  USING (EXISTS (SELECT 1 FROM automation_tasks t
                 WHERE t.id = task_steps.task_id
                   AND t.user_id = (SELECT auth.uid())));
-- A user may record handing control back (takeover flow), nothing else; the
-- worker writes every other step as service_role.
CREATE POLICY task_steps_owner_intervention ON task_steps FOR INSERT TO authenticated
  WITH CHECK (step_type = 'user_intervention'
              AND EXISTS (SELECT 1 FROM automation_tasks t
                          WHERE t.id = task_steps.task_id
                            AND t.user_id = (SELECT auth.uid())));

-- Read-only for users: live-view and takeover URLs are written by the runtime.
CREATE POLICY browser_sessions_owner_select ON browser_sessions
  FOR SELECT TO authenticated
  USING (EXISTS (SELECT 1 FROM automation_tasks t
                 WHERE t.id = browser_sessions.task_id
                   AND t.user_id = (SELECT auth.uid())));

CREATE POLICY cfdi_documents_owner_select ON cfdi_documents
  FOR SELECT TO authenticated
  USING (EXISTS (SELECT 1 FROM automation_tasks t
                 WHERE t.id = cfdi_documents.task_id
                   AND t.user_id = (SELECT auth.uid())));
-- health_checks and file_deletions: no policy, so only service_role.
