/*
 * test-list.h -- the central list of C unit tests, grouped by module.
 * Add a test here and in the matching tests/<module>/test_*.c file.
 */
#define AF_TEST_LIST(X)        \
  X(buf_json_escape)           \
  X(buf_oom_sticks)            \
  X(json_decode_paths)         \
  X(json_decode_error)

AF_TEST_LIST(AF_TEST_DECLARE)
