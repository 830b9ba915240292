/*
 * queue_lua.h -- job handlers written in Lua for `autofactura worker
 * --handler FILE.lua`: the file returns function(job); job.id, job.name,
 * job.data (decoded JSON), job.attemptsMade, job:progress(n), job:log(text);
 * the returned value becomes the returnvalue, an error fails the attempt.
 * Each job runs in a coroutine that is suspended every 10 ms of work, so a
 * long handler lets the loop renew its lock and run the worker's other jobs.
 */
#ifndef AF_QUEUE_LUA_H
#define AF_QUEUE_LUA_H

#include "queue.h"

typedef struct af_queue_lua af_queue_lua;

/* A fresh lua_State (base, string, table, math, cjson) running FILE; its
 * suspended handlers are resumed from loop. */
int af_queue_lua_new(uv_loop_t *loop, const char *file, af_queue_lua **out, char **err);
/* Start the handler on job; the job is settled (complete or fail) when it ends. */
void af_queue_lua_run(af_queue_lua *h, af_queue_job *job);
/* Close the loop handle (once no job runs: after the worker closed); free
 * after the loop has run the close. */
void af_queue_lua_close(af_queue_lua *h);
void af_queue_lua_free(af_queue_lua *h);

#endif
