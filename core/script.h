/*
 * script.h -- the Lua embedding (DESIGN.md's "lua" module): one sandboxed
 * lua_State per task whose main function runs as a coroutine, with limits
 * on instructions, memory (through the allocator) and wall time.
 *
 * Bindings that wait for I/O yield the coroutine (lua_yieldk); the owner
 * resumes it with af_script_resume when the I/O completes.
 */
#ifndef AF_SCRIPT_H
#define AF_SCRIPT_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

typedef struct af_script af_script;

typedef struct af_script_limits {
  int64_t max_instructions; /* 0: 200 million */
  size_t max_memory;        /* bytes; 0: 64 MiB */
  int max_wall_ms;          /* 0: 300000 */
} af_script_limits;

enum { AF_SCRIPT_YIELDED = 0, AF_SCRIPT_RETURNED = 1, AF_SCRIPT_ERROR = 2 };

af_script *af_script_new(const af_script_limits *lim, char **err);
void af_script_free(af_script *s);

/* The main state, for setting up bindings before the run. */
lua_State *af_script_state(af_script *s);
/* Pop the value on top of the main state into the sandbox as a global. */
void af_script_set_global(af_script *s, const char *name);

/* Load a Lua source file in the sandbox and run it; pushes its first
 * result on the main state. chunkname is what errors show ("recipes/x.lua").
 * 0, or -1 with *err. */
int af_script_dofile(af_script *s, const char *path, const char *chunkname,
                     char **err);

/* The same for source text. */
int af_script_dostring(af_script *s, const char *src, const char *chunkname, char **err);

/* Run the function on top of the main state (with nargs arguments above
 * it) as the coroutine. Returns AF_SCRIPT_*; af_script_error tells why. */
int af_script_start(af_script *s, int nargs);
/* Resume the coroutine after a yield; nres values were pushed on it. */
int af_script_resume(af_script *s, int nres);
lua_State *af_script_thread(af_script *s);

/* Stop the script: the next instruction it runs raises reason, and pcall
 * cannot swallow it. */
void af_script_kill(af_script *s, const char *reason);
/* The error of the last AF_SCRIPT_ERROR (limit breaches named). */
const char *af_script_error(af_script *s);
/* The owner's pointer (the task), for bindings. */
void af_script_set_owner(af_script *s, void *owner);
void *af_script_owner(lua_State *L);

#endif
