/*
 * queue_lua.h -- job handlers written in Lua for `autofactura worker
 * --handler FILE.lua`: the file returns function(job); job.id, job.name,
 * job.data (decoded JSON), job.attemptsMade, job:progress(n), job:log(text);
 * the returned value becomes the returnvalue, an error fails the attempt.
 * Synchronous for now: the call runs to its end inside the worker's callback.
 */
#ifndef AF_QUEUE_LUA_H
#define AF_QUEUE_LUA_H

#include "queue.h"

typedef struct af_queue_lua af_queue_lua;

/* A fresh lua_State (base, string, table, math, cjson) running FILE. */
int af_queue_lua_new(const char *file, af_queue_lua **out, char **err);
/* Run the handler on job and settle it (complete or fail). */
void af_queue_lua_run(af_queue_lua *h, af_queue_job *job);
void af_queue_lua_free(af_queue_lua *h);

#endif
