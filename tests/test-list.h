/*
 * test-list.h -- the central list of C unit tests, grouped by module.
 * Add a test here and in the matching tests/<module>/test_*.c file.
 * Tests named live_* need a real Chromium: `af_tests --live` runs them.
 */
#define AF_TEST_LIST(X)                \
  X(buf_json_escape) \
  X(buf_oom_sticks) \
  X(json_decode_paths) \
  X(json_decode_error) \
  X(llm_config_env) \
  X(llm_answer_on_loop) \
  X(llm_retries_then_fails) \
  X(cdp_frames_commands) \
  X(cdp_dispatches_replies_by_id) \
  X(cdp_events_sessions_forget_close) \
  X(sandbox_hides_dangerous_globals) \
  X(sandbox_strict_globals) \
  X(sandbox_instruction_limit) \
  X(sandbox_memory_limit) \
  X(sandbox_wall_limit) \
  X(script_coroutines_interleave) \
  X(recipe_url_host) \
  X(task_rejects_bad_input) \
  X(task_redacts_secrets) \
  X(cfdi_rfc_check_digit_vectors) \
  X(cfdi_rfc_check_digit_one_char_off) \
  X(cfdi_rfc_known_sat_exceptions) \
  X(cfdi_rfc_format_and_date) \
  X(cfdi_rfc_normalize) \
  X(cfdi_name_normalize) \
  X(cfdi_postal_code) \
  X(cfdi_catalog_regimen_rows) \
  X(cfdi_catalog_uso_rows) \
  X(cfdi_catalog_compatibility_matrix) \
  X(cfdi_catalog_named_rules) \
  X(cfdi_validate_clean_profiles) \
  X(cfdi_validate_each_rule) \
  X(cfdi_validate_collects_everything) \
  X(cfdi_validate_ticket_rules) \
  X(cfdi_validate_lua_tables) \
  X(cfdi_xml_verify_fixtures) \
  X(cfdi_xml_each_mismatch) \
  X(cfdi_xml_stamp_and_version) \
  X(cfdi_xml_hostile_entities) \
  X(cfdi_xml_hostile_size_and_depth) \
  X(cfdi_lua_rules) \
  X(cfdi_lua_validate_and_verify) \
  X(cfdi_oom_every_allocation) \
  X(crypto_roundtrip) \
  X(crypto_tamper_every_byte) \
  X(crypto_bound_to_place) \
  X(crypto_rotation) \
  X(crypto_keyring_errors) \
  X(crypto_keyring_file) \
  X(crypto_rfc_normalize) \
  X(crypto_blind_index) \
  X(crypto_bytea_hex) \
  X(crypto_alloc_failures) \
  X(crypto_jwt_verify) \
  X(store_task_lifecycle) \
  X(store_user_isolation) \
  X(store_profile_decrypt) \
  X(store_steps_timer_flush) \
  X(store_close_fails_pending) \
  X(store_maintain) \
  X(store_connection_lost) \
  X(store_embedded) \
  X(store_invoice_put) \
  X(cassette_placeholders) \
  X(cassette_load_errors) \
  X(queue_url_parse) \
  X(queue_key_prefix) \
  X(queue_opts_stored_json) \
  X(queue_opts_refused) \
  X(queue_opts_read_lenient) \
  X(queue_backoff_math) \
  X(queue_scripts_embedded) \
  X(live_queue_async_handler_lock_renewal) \
  X(live_two_tasks_interleave)

AF_TEST_LIST(AF_TEST_DECLARE)
