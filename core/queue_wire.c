/*
 * queue_wire.c -- the pure parts of the bullmq wire format (see queue_wire.h).
 * JSON goes through json.h on a caller's lua_State.
 */
#include "queue_wire.h"

#include <errno.h>
#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "json.h"

/* {=========== Redis URL */

int af_queue_url_parse(const char *url, af_redis_url *out, char **err) {
  memset(out, 0, sizeof *out);
  out->port = 6379;
  const char *p = url;
  if (!url || strncmp(url, "redis://", 8) != 0) goto bad;
  p += 8;
  const char *at = strchr(p, '@');
  if (at) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    const char *pw = colon ? colon + 1 : p;
    if (at > pw) out->password = af_strndup(pw, (size_t)(at - pw));
    p = at + 1;
  }
  size_t hl = strcspn(p, ":/");
  if (hl == 0 || hl >= sizeof out->host) goto bad;
  memcpy(out->host, p, hl);
  out->host[hl] = '\0';
  p += hl;
  if (*p == ':') {
    char *end;
    errno = 0;
    long port = strtol(p + 1, &end, 10);
    if (errno || end == p + 1 || port < 1 || port > 65535) goto bad;
    out->port = (int)port;
    p = end;
  }
  if (*p == '/' && p[1]) {
    char *end;
    long db = strtol(p + 1, &end, 10);
    if (*end || db < 0 || db > 1000000) goto bad;
    out->db = (int)db;
  } else if (*p && strcmp(p, "/") != 0) {
    goto bad;
  }
  return 0;
bad:
  af_queue_url_free(out);
  if (err) *err = af_strdup("AF_REDIS_URL: expected redis://host[:port][/db]");
  return -1;
}

void af_queue_url_free(af_redis_url *u) {
  af_free(u->password);
  u->password = NULL;
}

char *af_queue_key_prefix(const char *prefix, const char *queue) {
  return af_asprintf("%s:%s:", prefix ? prefix : "bull", queue);
}

/* }=========== */

/* {=========== job options */

void af_queue_job_opts_init(af_queue_job_opts *o) {
  memset(o, 0, sizeof *o);
  o->stack_limit = -1;
  o->keep_logs = -1;
  o->keep_complete = o->keep_fail = (af_queue_keep){-1, -1, 1000};
}

void af_queue_job_opts_free(af_queue_job_opts *o) {
  af_free(o->job_id);
  o->job_id = NULL;
}

/* The number at idx if it is a non-negative integer below max. */
static int int_at(lua_State *L, int idx, double max, long long *out) {
  if (lua_type(L, idx) != LUA_TNUMBER) return -1;
  double d = lua_tonumber(L, idx);
  if (d < 0 || d > max || floor(d) != d) return -1;
  *out = (long long)d;
  return 0;
}

static int is_null(lua_State *L, int idx) {
  return lua_isnil(L, idx) || lua_islightuserdata(L, idx);
}

/* Keep rule at idx: true, false, N or {count, age, limit}. */
static int keep_at(lua_State *L, int idx, af_queue_keep *k) {
  *k = (af_queue_keep){-1, -1, 1000};
  if (lua_isboolean(L, idx)) {
    k->count = lua_toboolean(L, idx) ? 0 : -1;
    return 0;
  }
  if (lua_type(L, idx) == LUA_TNUMBER) return int_at(L, idx, 9e15, &k->count);
  if (!lua_istable(L, idx)) return -1;
  double d;
  if (af_json_num(L, idx, "count", &d) == 0) {
    if (d < 0 || floor(d) != d) return -1;
    k->count = (long long)d;
  }
  if (af_json_num(L, idx, "age", &d) == 0) {
    if (d < 0) return -1;
    k->age_s = (long long)d;
  }
  if (af_json_num(L, idx, "limit", &d) == 0) {
    if (d < 1 || floor(d) != d) return -1;
    k->limit = (long long)d;
  }
  return 0;
}

/* Custom ids: bullmq refuses integer-looking ids and ':' unless it splits in 3. */
static const char *job_id_problem(const char *id) {
  if (!*id) return "must not be empty";
  char *end;
  errno = 0;
  long long n = strtoll(id, &end, 10);
  char back[32];
  snprintf(back, sizeof back, "%lld", n);
  if (end != id && strcmp(back, id) == 0) return "custom ids cannot be integers";
  if (strchr(id, ':')) {
    int parts = 1;
    for (const char *c = id; *c; c++) parts += *c == ':';
    if (parts != 3) return "custom ids cannot contain ':'";
  }
  return NULL;
}

static const char *const UNSUPPORTED[] = {
    "repeat", "parent", "deduplication", "debounce", "failParentOnFailure",
    "continueParentOnFailure", "ignoreDependencyOnFailure",
    "removeDependencyOnFailure", "sizeLimit", NULL};

/* Read the options table at idx into o. strict: refuse bad values with *err
 * naming the option; lenient: skip them. Normalizes the table in place
 * (attempts default, numeric backoff) when strict. */
static int opts_from_table(lua_State *L, int idx, af_queue_job_opts *o,
                           int strict, char **err) {
  const char *bad = NULL, *rule = NULL;
  long long n;
  if (strict) {
    for (const char *const *u = UNSUPPORTED; *u; u++) {
      lua_getfield(L, idx, *u);                      /* stack: v */
      int present = !is_null(L, -1);
      lua_pop(L, 1);
      if (present) { bad = *u; rule = "not supported by this runtime"; goto done; }
    }
  }
  lua_getfield(L, idx, "jobId");                     /* stack: v */
  if (lua_type(L, -1) == LUA_TSTRING) {
    const char *why = job_id_problem(lua_tostring(L, -1));
    if (why && strict) { lua_pop(L, 1); bad = "jobId"; rule = why; goto done; }
    o->job_id = af_strdup(lua_tostring(L, -1));
  } else if (!is_null(L, -1) && strict) {
    lua_pop(L, 1); bad = "jobId"; rule = "must be a string"; goto done;
  }
  lua_pop(L, 1);

  lua_getfield(L, idx, "attempts");
  if (int_at(L, -1, 1e9, &n) == 0) o->attempts = n;
  else if (!is_null(L, -1) && strict) { lua_pop(L, 1); bad = "attempts"; rule = "must be an integer >= 0"; goto done; }
  int attempts_missing = is_null(L, -1);
  lua_pop(L, 1);
  if (strict && attempts_missing) {
    lua_pushinteger(L, 0);
    lua_setfield(L, idx, "attempts");
  }

  lua_getfield(L, idx, "backoff");                   /* stack: b */
  if (lua_type(L, -1) == LUA_TNUMBER) {
    if (int_at(L, -1, 9e15, &n) != 0) {
      if (strict) { lua_pop(L, 1); bad = "backoff"; rule = "must be a delay in ms >= 0 or {type, delay}"; goto done; }
    } else {
      o->backoff_type = AF_BACKOFF_FIXED;
      o->backoff_delay = n;
      if (strict) {
        lua_createtable(L, 0, 2);                    /* stack: b, t */
        lua_pushliteral(L, "fixed");
        lua_setfield(L, -2, "type");
        lua_pushinteger(L, n);
        lua_setfield(L, -2, "delay");
        lua_setfield(L, idx, "backoff");             /* stack: b */
      }
    }
  } else if (lua_istable(L, -1)) {
    size_t tl = 0;
    const char *type = af_json_str(L, -1, "type", &tl);
    double d = 0, j = 0;
    int has_delay = af_json_num(L, -1, "delay", &d) == 0;
    int has_jitter = af_json_num(L, -1, "jitter", &j) == 0;
    if (type && strcmp(type, "fixed") == 0) o->backoff_type = AF_BACKOFF_FIXED;
    else if (type && strcmp(type, "exponential") == 0) o->backoff_type = AF_BACKOFF_EXPONENTIAL;
    else if (strict) { lua_pop(L, 1); bad = "backoff.type"; rule = "must be \"fixed\" or \"exponential\""; goto done; }
    if (has_delay && d >= 0) o->backoff_delay = (long long)d;
    else if (strict && (has_delay || o->backoff_type)) {
      lua_pop(L, 1); bad = "backoff.delay"; rule = "must be a number of ms >= 0"; goto done;
    }
    if (has_jitter && j >= 0 && j <= 1) o->backoff_jitter = j;
    else if (has_jitter && strict) { lua_pop(L, 1); bad = "backoff.jitter"; rule = "must be between 0 and 1"; goto done; }
  } else if (!is_null(L, -1) && strict) {
    lua_pop(L, 1); bad = "backoff"; rule = "must be a delay in ms or {type, delay}"; goto done;
  }
  lua_pop(L, 1);

  lua_getfield(L, idx, "priority");
  if (int_at(L, -1, AF_QUEUE_PRIORITY_LIMIT, &n) == 0) o->priority = n;
  else if (!is_null(L, -1) && strict) {
    lua_pop(L, 1); bad = "priority"; rule = "must be an integer between 0 and 2097152 (1 runs first)"; goto done;
  }
  lua_pop(L, 1);

  lua_getfield(L, idx, "delay");
  if (int_at(L, -1, 9e15, &n) == 0) o->delay = n;
  else if (!is_null(L, -1) && strict) { lua_pop(L, 1); bad = "delay"; rule = "must be an integer number of ms >= 0"; goto done; }
  lua_pop(L, 1);

  lua_getfield(L, idx, "timestamp");
  if (int_at(L, -1, 9e15, &n) == 0) o->timestamp = n;
  else if (!is_null(L, -1) && strict) { lua_pop(L, 1); bad = "timestamp"; rule = "must be ms since the epoch"; goto done; }
  lua_pop(L, 1);

  lua_getfield(L, idx, "lifo");
  if (lua_isboolean(L, -1)) o->lifo = lua_toboolean(L, -1);
  else if (!is_null(L, -1) && strict) { lua_pop(L, 1); bad = "lifo"; rule = "must be a boolean"; goto done; }
  lua_pop(L, 1);

  static const char *const KEEP[] = {"removeOnComplete", "removeOnFail"};
  for (int i = 0; i < 2; i++) {
    lua_getfield(L, idx, KEEP[i]);
    if (!is_null(L, -1)) {
      af_queue_keep k;
      if (keep_at(L, -1, &k) == 0) {
        if (i == 0) { o->has_keep_complete = 1; o->keep_complete = k; }
        else { o->has_keep_fail = 1; o->keep_fail = k; }
      } else if (strict) {
        lua_pop(L, 1); bad = KEEP[i]; rule = "must be a boolean, a count >= 0 or {count, age}"; goto done;
      }
    }
    lua_pop(L, 1);
  }

  lua_getfield(L, idx, "stackTraceLimit");
  if (int_at(L, -1, 1e9, &n) == 0) o->stack_limit = n;
  else if (!is_null(L, -1) && strict) { lua_pop(L, 1); bad = "stackTraceLimit"; rule = "must be an integer >= 0"; goto done; }
  lua_pop(L, 1);

  lua_getfield(L, idx, "kl");
  if (is_null(L, -1)) {
    lua_pop(L, 1);
    lua_getfield(L, idx, "keepLogs");
  }
  if (int_at(L, -1, 1e9, &n) == 0) o->keep_logs = n;
  else if (!is_null(L, -1) && strict) { lua_pop(L, 1); bad = "keepLogs"; rule = "must be an integer >= 0"; goto done; }
  lua_pop(L, 1);

done:
  if (bad) {
    if (err) *err = af_asprintf("opts.%s: %s", bad, rule);
    return -1;
  }
  return 0;
}

int af_queue_job_opts_parse(lua_State *L, const char *json, af_queue_job_opts *o,
                            char **stored, char **err) {
  int rc = -1, top = lua_gettop(L);
  af_queue_job_opts_init(o);
  if (stored) *stored = NULL;
  if (!json || !*json) json = "{}";
  if (af_json_decode(L, json, strlen(json)) != 0) { /* stack: err */
    if (err) *err = af_asprintf("opts: not valid JSON (%s)", lua_tostring(L, -1));
    goto done;
  }
  if (!lua_istable(L, -1) || lua_rawlen(L, -1) > 0) { /* stack: opts */
    if (err) *err = af_strdup("opts: must be a JSON object");
    goto done;
  }
  if (opts_from_table(L, lua_gettop(L), o, 1, err) != 0) goto done;
  if (stored) {
    /* keepLogs is stored under its compact name, as bullmq does. */
    lua_getfield(L, -1, "keepLogs");                 /* stack: opts, kl */
    lua_setfield(L, -2, "kl");
    lua_pushnil(L);
    lua_setfield(L, -2, "keepLogs");
    lua_pushnil(L);
    lua_setfield(L, -2, "jobId");
    if (o->job_id) {
      lua_pushstring(L, o->job_id);
      lua_setfield(L, -2, "jobId");
    }
    *stored = af_json_encode(L, -1, NULL);
    if (!*stored) {
      if (err) *err = af_strdup("opts: cannot be encoded");
      goto done;
    }
  }
  rc = 0;
done:
  if (rc != 0) af_queue_job_opts_free(o);
  lua_settop(L, top);
  return rc;
}

int af_queue_job_opts_read(lua_State *L, const char *json, size_t n,
                           af_queue_job_opts *o) {
  int rc = -1, top = lua_gettop(L);
  af_queue_job_opts_init(o);
  if (!json || n == 0) return 0;
  if (af_json_decode(L, json, n) != 0 || !lua_istable(L, -1)) goto done;
  rc = opts_from_table(L, lua_gettop(L), o, 0, NULL);
done:
  lua_settop(L, top);
  return rc;
}

/* }=========== */

/* {=========== retries */

long long af_queue_backoff_ms(const af_queue_job_opts *o, long long attempt,
                              double rnd) {
  double max;
  switch (o->backoff_type) {
  case AF_BACKOFF_FIXED:
    max = (double)o->backoff_delay;
    break;
  case AF_BACKOFF_EXPONENTIAL:
    max = round(pow(2, (double)(attempt - 1)) * (double)o->backoff_delay);
    break;
  default:
    return 0;
  }
  if (o->backoff_jitter > 0)
    return (long long)floor(rnd * max * o->backoff_jitter +
                            max * (1 - o->backoff_jitter));
  return (long long)max;
}

int af_queue_should_retry(const af_queue_job_opts *o, long long attempts_made) {
  return attempts_made + 1 < o->attempts;
}

/* }=========== */
