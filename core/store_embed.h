/*
 * store_embed.h -- the embedded default: a private PostgreSQL 15 under the
 * state directory, used when AF_DATABASE_URL is unset (`worker`, `serve`).
 * Start-up is blocking (it runs before the loop).
 */
#ifndef AF_STORE_EMBED_H
#define AF_STORE_EMBED_H

typedef struct af_store_embedded af_store_embedded;

/* Use state_dir/pg: initdb on first use (password authentication, a random
 * password kept in state_dir/pg/password, mode 0600), then start it on
 * 127.0.0.1 and a free port; if it is already running (another process of
 * this installation), reuse it. Run as root, the server runs as the
 * `postgres` user. 0, or -1 with *err (and the log's path). */
int af_store_embedded_start(const char *state_dir, af_store_embedded **out, char **err);
/* postgresql://postgres:PASSWORD@127.0.0.1:PORT/postgres */
const char *af_store_embedded_url(const af_store_embedded *e);
/* Stop the server if this process started it; free e. 0 or -1 with *err. */
int af_store_embedded_stop(af_store_embedded *e, char **err);

#endif
