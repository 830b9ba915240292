/*
 * task_impl.h -- the task's insides, shared by task.c and its Lua
 * bindings (lrecipe.c). Not a public header.
 */
#ifndef AF_TASK_IMPL_H
#define AF_TASK_IMPL_H

#include <uv.h>

#include "page.h"
#include "task.h"

struct af_task {
  af_task_opts o;        /* strings are owned copies */
  char *recipe_name;     /* shown in errors, e.g. recipes/larga.lua */
  af_script *script;
  af_browser *browser;   /* not owned */
  af_page *page;         /* owned while running */
  af_page_req req;       /* the one page request in flight */
  int req_busy;
  /* the step being measured */
  const char *op_type;
  char *op_action, *op_target, *op_detail, *op_where;
  uint64_t op_start;
  int status;
  char *reason, *uuid, *xml_path;
  char *mismatches;      /* the CFDI's differences from the request, or NULL */
  char *warnings;        /* validation warnings, one per line, or NULL */
  char *learned;         /* a recipe the run learned (task:save_recipe) */
  af_step *steps;
  size_t nsteps, capsteps;
  char **secrets;        /* values never to show: RFC, name, passwords */
  size_t nsecrets;
  int cred_user, cred_pass; /* index in secrets, or -1 */
  int task_ref, run_ref;    /* registry: the task table, recipe.run */
  int timer_ready;
  uint64_t t0;
  uv_timer_t timer;      /* wall-time limit, then the deferred finish */
  int ending, ended;
  af_task_done_cb done;
  void *done_data;
};

/* Record a step now (duration 0) or close the measured one. */
void af__task_step(af_task *t, const char *type, const char *action,
                   const char *target, const char *detail, int ok);
void af__task_op_begin(af_task *t, const char *type, const char *action,
                       const char *target, const char *detail);
/* The task's clock, in ms. */
uint64_t af__task_now(const af_task *t);
void af__task_op_end(af_task *t, int ok, const char *detail);
/* End the task (deferred to the loop); the first call wins. */
void af__task_end(af_task *t, int status, const char *reason);
/* Copy of s with every secret replaced by [redacted]. */
char *af__task_redact(const af_task *t, const char *s);
/* Verify the CFDI XML the recipe downloaded against the request: sets
 * t->uuid, t->xml_path and t->mismatches; -1 with *err if unusable. */
int af__task_set_invoice(af_task *t, lua_State *L, const char *xml_path, char **err);
/* Install task, page and their methods in the script (lrecipe.c). */
void af__lrecipe_push_task(lua_State *L, af_task *t);
void af__lrecipe_push_page(lua_State *L, af_task *t, af_frame *f);
/* Resume the recipe after t->req completed (lrecipe.c). */
void af__lrecipe_on_req(af_page_req *req);
/* Drive the coroutine's result after a start or resume (task.c). */
void af__task_after_run(af_task *t, int st);

#endif
