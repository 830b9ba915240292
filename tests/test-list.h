/*
 * test-list.h -- the central list of C unit tests, grouped by module.
 * Add a test here and in the matching tests/<module>/test_*.c file.
 * Tests named live_* need a real Chromium: `af_tests --live` runs them.
 */
#define AF_TEST_LIST(X)               \
  X(buf_json_escape)                  \
  X(buf_oom_sticks)                   \
  X(json_decode_paths)                \
  X(json_decode_error)                \
  X(cdp_frames_commands)              \
  X(cdp_dispatches_replies_by_id)     \
  X(cdp_events_sessions_forget_close) \
  X(sandbox_hides_dangerous_globals)  \
  X(sandbox_strict_globals)           \
  X(sandbox_instruction_limit)        \
  X(sandbox_memory_limit)             \
  X(sandbox_wall_limit)               \
  X(script_coroutines_interleave)     \
  X(recipe_url_host)                  \
  X(task_rejects_bad_input)           \
  X(task_redacts_secrets)             \
  X(live_two_tasks_interleave)

AF_TEST_LIST(AF_TEST_DECLARE)
