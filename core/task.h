/*
 * task.h -- one invoice request: ticket, profile and credentials, the
 * recipe that runs it as a coroutine on a page of a shared browser, its
 * step records and its result. Many tasks can run at once on one loop.
 */
#ifndef AF_TASK_H
#define AF_TASK_H

#include <stdint.h>

#include "browser.h"
#include "script.h"

typedef struct af_task af_task;

/* The seed's automation_tasks.status values, in the store's order. */
typedef enum af_task_status {
  AF_TASK_PENDING,
  AF_TASK_RUNNING,
  AF_TASK_PAUSED,
  AF_TASK_INTERVENTION_NEEDED,
  AF_TASK_COMPLETED,
  AF_TASK_FAILED
} af_task_status;

/* One recorded step; strings owned by the task. */
typedef struct af_step {
  const char *type;   /* navigate input click wait read evaluate screenshot
                         download log error user_intervention completed */
  char *action;       /* the recipe call: "fill", "click", ... */
  char *target;       /* selector or URL; never a value typed in */
  char *detail;       /* a short, redacted description */
  int64_t at_ms;      /* since the task started */
  int64_t duration_ms;
  int ok;
} af_step;

typedef void (*af_task_step_cb)(af_task *t, const af_step *s, void *data);
typedef void (*af_task_done_cb)(af_task *t, void *data);

typedef struct af_task_opts {
  const char *url;
  const char *ticket_json, *profile_json; /* JSON texts */
  const char *credentials_json;           /* NULL: none stored */
  const char *recipe_path;                /* NULL: the recipe claiming url */
  const char *out_dir;                    /* downloads and screenshots */
  af_script_limits limits;
  af_task_step_cb on_step;                /* progress, may be NULL */
  void *step_data;
  /* Called once the task's tab is open, before the recipe runs (NULL ok). */
  void (*on_page)(af_task *t, void *data);
  /* The clock steps are timed with (ms); NULL: the loop's. A replay
   * passes the recording's, so its steps keep the recorded times. */
  uint64_t (*clock)(void *data);
  void *clock_data;
} af_task_opts;

/* Validate the input and load the recipe. NULL with *err (one line naming
 * the problem) on bad input. */
af_task *af_task_new(const af_task_opts *o, char **err);
/* Run on browser b; done runs once when the task has ended (its page is
 * closed by then). */
int af_task_start(af_task *t, af_browser *b, af_task_done_cb done, void *data);
/* Stop a running task now: it ends FAILED with reason. */
void af_task_cancel(af_task *t, const char *reason);
void af_task_free(af_task *t);

int af_task_get_status(const af_task *t);
/* "RUNNING", ...; NULL for a value outside the enum. */
const char *af_task_status_name(int status);
const char *af_task_reason(const af_task *t);
const char *af_task_uuid(const af_task *t);
const char *af_task_recipe(const af_task *t);
/* The verified CFDI XML's path, and the fields in which it differs from the
 * request ("; "-separated), or NULL. */
const char *af_task_xml_path(const af_task *t);
/* The task's tab in the browser (NULL before it opened), for a live view. */
const char *af_task_target(const af_task *t);
const char *af_task_mismatches(const af_task *t);
/* A recipe the run learned (the generic fallback's), or NULL. */
const char *af_task_learned(const af_task *t);
/* Validation warnings (one per line) that did not stop the task, or NULL. */
const char *af_task_warnings(const af_task *t);
/* The step in progress: its number, call, target and the recipe's
 * file:line (each may be NULL). */
void af_task_current_step(const af_task *t, size_t *index, const char **action,
                          const char **target, const char **where);
/* result.json's text (see docs/cli.md); a fresh string. */
char *af_task_result_json(const af_task *t);

#endif
