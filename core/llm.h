/*
 * llm.h -- an OpenAI-compatible chat-completions client on the libuv loop
 * (libcurl multi-socket API), with a timeout per attempt and retries.
 */
#ifndef AF_LLM_H
#define AF_LLM_H

#include <stdint.h>
#include <uv.h>

/* Endpoint from the environment: AF_LLM_BASE_URL (required), AF_LLM_API_KEY,
 * AF_LLM_MODEL (default "gpt-4o-mini"), AF_LLM_TIMEOUT_MS (default 30000). */
typedef struct af_llm_cfg {
  const char *base_url, *api_key, *model;
  long timeout_ms;
  int attempts; /* tries in all (default 3): transport errors, 429 and 5xx retry */
} af_llm_cfg;

/* 1 and *cfg filled when AF_LLM_BASE_URL is set, else 0. */
int af_llm_config(af_llm_cfg *cfg);

/* ok: 1 with the response body (HTTP 2xx), 0 with err; ms: total latency. */
typedef void (*af_llm_cb)(void *data, int ok, const char *body, const char *err,
                          uint64_t ms, int attempts);

/* POST body (JSON) to BASE_URL/chat/completions; cb runs once, from the loop.
 * -1 with *err when the request cannot start. */
int af_llm_chat(uv_loop_t *loop, const af_llm_cfg *cfg, const char *body,
                af_llm_cb cb, void *data, char **err);

#endif
