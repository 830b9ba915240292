/*
 * llm_lua.h -- task:llm(request), the recipe's binding to the llm module.
 */
#ifndef AF_LLM_LUA_H
#define AF_LLM_LUA_H

#include <lua.h>

/* task:llm{ messages = {...}, response_format = {...} } → content, usage
 * (yields while the request runs); nil, reason when no endpoint is configured
 * or the request failed. Recorded as a 'thinking' step with tokens and latency. */
int af_llm_lua_ask(lua_State *L);

#endif
