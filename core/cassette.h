/*
 * cassette.h -- record and replay of a task's CDP session.
 *
 * A cassette is a text file, one record per line (docs/cassettes.md):
 *   # autofactura cassette v1
 *   meta {...}                     the task: url, recipe, ticket, profile
 *   > MS {json}                    a command the runtime sent
 *   < MS {json}                    a reply or an event the browser sent
 *   = MS GUID BASE64               a downloaded file's content
 * MS counts milliseconds from the start of the recording. Secrets, the
 * browser's temporary directory and page.js are written as placeholders
 * ({{profile.rfc}}, {{browser.dir}}, {{page.js}}).
 *
 * Replay: an af_transport that checks each command against the recording
 * and answers with what the browser answered then.
 */
#ifndef AF_CASSETTE_H
#define AF_CASSETTE_H

#include <uv.h>

#include "cdp.h"
#include "transport.h"

typedef struct af_cassette af_cassette;

/* ---- placeholders shared by both directions ---------------------------- */

/* A value to write as {{name}} (and its upper-case form as {{upper:name}}).
 * Values shorter than 3 characters are ignored. */
int af_cassette_secret(af_cassette *c, const char *name, const char *value);
/* The browser directory to write as {{browser.dir}}. */
int af_cassette_browser_dir(af_cassette *c, const char *dir);
/* s with every placeholder's value replaced by the placeholder (fresh). */
char *af_cassette_normalize(const af_cassette *c, const char *s, size_t n, size_t *out_n);

/* ---- recording ---------------------------------------------------------- */

af_cassette *af_cassette_create(const char *path, char **err);
/* Write the meta line: the JSON object text json, normalized, with the
 * member "profile": profile added as is (a test profile meant to stay). */
int af_cassette_write_meta(af_cassette *c, const char *json, const char *profile);
/* Record every message of cdp from now on. */
void af_cassette_attach(af_cassette *c, af_cdp *cdp, uv_loop_t *loop);
/* Flush and close; 0, or -1 with *err (the file is then incomplete). */
int af_cassette_close(af_cassette *c, char **err);

/* ---- replay --------------------------------------------------------------- */

typedef struct af_divergence {
  int line;             /* in the cassette, 1-based */
  const char *expected; /* the recorded command, or NULL past the end */
  const char *sent;     /* what the runtime sent, normalized */
} af_divergence;

typedef void (*af_replay_divergence_cb)(const af_divergence *d, void *data);

/* Load a cassette; its meta object is returned in *meta (fresh JSON text). */
af_cassette *af_cassette_load(const char *path, char **meta, char **err);
/* The transport that replays c (owned by the caller of af_cassette_load,
 * valid until af_cassette_close). */
af_transport *af_cassette_transport(af_cassette *c, uv_loop_t *loop,
                                    af_replay_divergence_cb cb, void *data);
/* After the task ended: accept (and ignore) whatever is sent. */
void af_cassette_lenient(af_cassette *c);
/* The recording's clock: ms of the last line replayed. */
uint64_t af_cassette_now(const af_cassette *c);

#endif
