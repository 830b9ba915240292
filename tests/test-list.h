/*
 * test-list.h -- the central list of C unit tests, grouped by module.
 * Add a test here and in the matching tests/<module>/test_*.c file.
 */
#define AF_TEST_LIST(X)        \
  X(buf_json_escape)           \
  X(buf_oom_sticks)            \
  X(json_decode_paths)         \
  X(json_decode_error)         \
  X(crypto_roundtrip)          \
  X(crypto_tamper_every_byte)  \
  X(crypto_bound_to_place)     \
  X(crypto_rotation)           \
  X(crypto_keyring_errors)     \
  X(crypto_keyring_file)       \
  X(crypto_rfc_normalize)      \
  X(crypto_blind_index)        \
  X(crypto_bytea_hex)          \
  X(crypto_alloc_failures)     \
  X(crypto_jwt_verify)         \
  X(store_task_lifecycle)      \
  X(store_user_isolation)      \
  X(store_profile_decrypt)     \
  X(store_steps_timer_flush)   \
  X(store_close_fails_pending) \
  X(store_maintain)            \
  X(store_connection_lost)     \
  X(store_embedded)            \
  X(store_invoice_put)

AF_TEST_LIST(AF_TEST_DECLARE)
