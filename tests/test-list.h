/*
 * test-list.h -- the central list of C unit tests, grouped by module.
 * Add a test here and in the matching tests/<module>/test_*.c file.
 */
#define AF_TEST_LIST(X)        \
  X(buf_json_escape)           \
  X(buf_oom_sticks)            \
  X(json_decode_paths)         \
  X(json_decode_error)         \
  X(queue_url_parse)           \
  X(queue_key_prefix)          \
  X(queue_opts_stored_json)    \
  X(queue_opts_refused)        \
  X(queue_opts_read_lenient)   \
  X(queue_backoff_math)        \
  X(queue_scripts_embedded)

AF_TEST_LIST(AF_TEST_DECLARE)
