/*
 * queue_redis.h -- one Redis connection on the process's libuv loop (hiredis
 * async + its libuv adapter) that reconnects with backoff, and the queue's
 * embedded Lua scripts called by name (loaded on every connect; FCALL of a
 * Redis 7 function library where Redis takes it, else EVALSHA).
 */
#ifndef AF_QUEUE_REDIS_H
#define AF_QUEUE_REDIS_H

#include <stddef.h>

#include <hiredis/hiredis.h>
#include <uv.h>

#include "queue_wire.h"

typedef struct af_redis af_redis;

/* A command's reply; NULL when the connection went away before it came. */
typedef void (*af_redis_reply_cb)(af_redis *r, redisReply *reply, void *arg);
/* Connection state changes: up = 1 once connected (scripts loaded), 0 when
 * lost (why says how; a reconnect is already scheduled). */
typedef void (*af_redis_state_cb)(af_redis *r, int up, const char *why, void *arg);

/* Start connecting (the first attempt runs on the loop). client_name may be
 * NULL. 0, or -1 with *err. */
int af_redis_open(uv_loop_t *loop, const af_redis_url *url, const char *client_name,
                  af_redis_state_cb cb, void *arg, af_redis **out, char **err);
int af_redis_is_up(const af_redis *r);
void *af_redis_get_data(const af_redis *r);
void af_redis_set_data(af_redis *r, void *data);
/* Queue a command; -1 (cb never called) when the connection is down. */
int af_redis_cmd(af_redis *r, af_redis_reply_cb cb, void *arg, int argc,
                 const char **argv, const size_t *lens);
/* Call the embedded script `name` with no KEYS and these ARGV. Should Redis
 * have lost the scripts (SCRIPT or FUNCTION FLUSH, a failover), they are
 * loaded again and the call sent once more before cb hears of it. */
int af_redis_script(af_redis *r, const char *name, af_redis_reply_cb cb, void *arg,
                    int argc, const char **argv, const size_t *lens);
/* Batching: cb runs just before the commands queued in this loop iteration
 * are written (libuv check phase), so it may queue more that leave in the
 * same write. af_redis_want_flush asks for that moment in this iteration. */
typedef void (*af_redis_flush_cb)(af_redis *r, void *arg);
void af_redis_on_flush(af_redis *r, af_redis_flush_cb cb, void *arg);
void af_redis_want_flush(af_redis *r);
/* Drop the connection: pending callbacks get NULL, the state callback is not
 * called again, memory goes once libuv has closed the handles. */
void af_redis_close(af_redis *r);

/* Full text (prelude + body) and SHA1 of an embedded script; NULL if unknown. */
const char *af_redis_script_text(const char *name, const char **sha);

#endif
