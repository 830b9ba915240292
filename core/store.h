/*
 * store.h -- the runtime's PostgreSQL access, non-blocking on the loop.
 *
 * One af_store is one libpq connection in non-blocking mode, polled on its
 * socket by a uv_poll_t of the loop it was opened on. Requests queue and run
 * one after another, each in its own transaction under an identity:
 *   - a user (user_id): SET LOCAL ROLE authenticated and request.jwt.claims
 *     {"sub": user_id, "role": "authenticated"}, so Row-Level Security
 *     decides what the statement sees and may change;
 *   - the service (user_id NULL): SET LOCAL ROLE service_role, for workers.
 * Callbacks run on the loop. A result passed to a callback is valid only
 * during the call. Functions returning int give 0 when the request is
 * queued, or -1 with *err (af_malloc'd) for bad arguments, naming the field.
 */
#ifndef AF_STORE_H
#define AF_STORE_H

#include <libpq-fe.h>
#include <uv.h>

#include "task.h"

#include "crypto.h"

typedef struct af_store af_store;

/* res: the last statement's result (NULL on error); err: one line, or NULL. */
typedef void (*af_store_cb)(void *data, const PGresult *res, const char *err);

/* Connect to url (NULL: AF_DATABASE_URL). The connection is made before
 * returning (start-up); everything after runs on the loop. */
int af_store_open(uv_loop_t *loop, const char *url, af_store **out, char **err);
/* Fail what is still queued ("store closed"), close the connection, then
 * call on_closed (may be NULL) once the poll handle is closed. */
void af_store_close(af_store *s, void (*on_closed)(void *data), void *data);
/* Requests queued or running. */
int af_store_pending(const af_store *s);

/* One statement with text parameters, as user_id (NULL: service). sql and
 * params are copied. */
int af_store_exec(af_store *s, const char *user_id, const char *sql, int nparams,
                  const char *const *params, af_store_cb cb, void *data, char **err);

/* {=== the task record ===================================================== */

/* Statuses are task.h's af_task_status. */

/* INSERT a PENDING task as the user (RLS checks ownership). priority 1-10,
 * higher sooner; ticket_json a JSON object. The result's one row: id,
 * bullmq_priority (what the queue must use: 1 runs first). */
int af_store_task_create(af_store *s, const char *user_id, const char *vendor_url,
                         const char *ticket_json, int priority, af_store_cb cb,
                         void *data, char **err);
/* Move a task (service identity). COMPLETED sets completed_at; FAILED needs
 * failure_reason. Result row: status. */
int af_store_task_set_status(af_store *s, const char *task_id, af_task_status st,
                             const char *failure_reason, af_store_cb cb, void *data,
                             char **err);
/* retry_count + 1 and back to PENDING (at most 5 retries). Row: retry_count. */
int af_store_task_retry(af_store *s, const char *task_id, af_store_cb cb, void *data,
                        char **err);
int af_store_task_set_live_url(af_store *s, const char *task_id, const char *url,
                               af_store_cb cb, void *data, char **err);
/* INSERT a browser_sessions row (status active). provider "local" or
 * "browserbase"; provider_session_id may be NULL. Row: id. */
int af_store_session_open(af_store *s, const char *task_id, const char *provider,
                          const char *provider_session_id, const char *live_view_url,
                          af_store_cb cb, void *data, char **err);
/* status terminated, terminated_at now(). */
int af_store_session_terminate(af_store *s, const char *session_id, af_store_cb cb,
                               void *data, char **err);

/* Step records, batched: rows buffer in memory and are written with one
 * INSERT per batch (when AF_STORE_STEPS_BATCH rows wait, or
 * AF_STORE_STEPS_DELAY_MS after the first), so logging never waits on the
 * database. Each row keeps the time it was added. seq numbers follow the
 * task's existing steps. */
#define AF_STORE_STEPS_BATCH 64
#define AF_STORE_STEPS_DELAY_MS 100

typedef struct af_store_steps af_store_steps;
/* on_error (may be NULL) hears about a batch that failed to write. */
int af_store_steps_open(af_store *s, const char *task_id,
                        void (*on_error)(void *data, const char *err), void *data,
                        af_store_steps **out, char **err);
/* type: navigate, input, click, select, wait, extract, download, thinking,
 * error, user_intervention, completed. content_json: a JSON value or NULL;
 * screenshot: a file reference or NULL; duration_ms >= 0 or -1 (unknown). */
int af_store_steps_add(af_store_steps *w, const char *type, const char *content_json,
                       const char *screenshot, int duration_ms, char **err);
/* Rows added and not yet written (buffered or in flight). */
int af_store_steps_unwritten(const af_store_steps *w);
/* Write what is left, then call cb (res NULL, err NULL on success) and free
 * the writer. */
void af_store_steps_close(af_store_steps *w, af_store_cb cb, void *data);

/* A user's fiscal profile, decrypted. Valid during the callback only; the
 * plaintext is wiped afterwards. */
typedef struct af_store_profile {
  const char *rfc, *full_name, *fiscal_regime, *postal_code, *cfdi_use;
  const char *email;           /* may be NULL */
  const char *company_details; /* JSON text, may be NULL */
} af_store_profile;
typedef void (*af_store_profile_cb)(void *data, const af_store_profile *p, const char *err);
/* Read and decrypt user_id's profile as that user. kr must outlive the
 * request. No profile: err "profile: none for this user". */
int af_store_profile_get(af_store *s, const af_keyring *kr, const char *user_id,
                         af_store_profile_cb cb, void *data, char **err);

/* The invoice a portal issued (cfdi_documents), its XML encrypted under the
 * row's id. cfdi_uuid: the CFDI's folio fiscal; total and issued_at (ISO
 * 8601) may be NULL; verification_json: the verifier's report (a JSON
 * object); kr must outlive the request. Row: id. */
typedef struct af_store_invoice {
  const char *task_id, *cfdi_uuid;
  const char *xml;
  size_t xml_len;
  const char *pdf_path, *total, *issued_at;
  int verified;
  const char *verification_json;
} af_store_invoice;
int af_store_invoice_put(af_store *s, const af_keyring *kr, const af_store_invoice *inv,
                         af_store_cb cb, void *data, char **err);

/* ===} */

/* {=== maintenance (instead of pg_cron) ===================================== */

/* Retention (cleanup_old_data()) and a health check (log_health_check()) as
 * the service, then removal of the files whose rows were deleted: relative
 * paths are taken under files_root, absolute ones only if inside it, and
 * paths with ".." are left alone. cb: res NULL; err NULL on success. The
 * runtime calls this on a timer (e.g. hourly). */
int af_store_maintain(af_store *s, const char *files_root, af_store_cb cb, void *data,
                      char **err);

/* ===} */

#endif
