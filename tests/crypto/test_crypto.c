/*
 * test_crypto.c -- field encryption, key ring parsing, RFC normalization and
 * the blind index (core/crypto.c).
 */
#define _GNU_SOURCE /* memmem */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "crypto.h"
#include "test.h"

#define K1 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define K2 "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM="

static const af_crypto_ad AD = {"user_profiles", "rfc",
                                "0b7e1d2c-1111-4222-8333-444455556666"};

static af_keyring *ring(const char *spec) {
  af_keyring *kr = NULL;
  char *err = NULL;
  if (af_keyring_parse(spec, &kr, &err) != 0) {
    fprintf(stderr, "  keyring: %s\n", err);
    exit(1);
  }
  return kr;
}

TEST(crypto_roundtrip) {
  af_keyring *kr = ring("k1:" K1);
  unsigned char *a = NULL, *b = NULL, *pt = NULL;
  size_t alen = 0, blen = 0, ptlen = 0;
  char *err = NULL, id[80];
  ASSERT_INT_EQ(af_crypto_encrypt(kr, &AD, "XAXX010101000", 13, &a, &alen, &err), 0);
  ASSERT_INT_EQ(af_crypto_encrypt(kr, &AD, "XAXX010101000", 13, &b, &blen, &err), 0);
  ASSERT_INT_EQ(alen, 1 + 1 + 2 + 12 + 13 + 16);
  ASSERT_INT_EQ(a[0], AF_CRYPTO_VERSION);
  /* A fresh nonce per value: equal plaintexts give different ciphertexts. */
  ASSERT(memcmp(a, b, alen) != 0);
  ASSERT(memmem(a, alen, "XAXX", 4) == NULL);
  ASSERT_INT_EQ(af_crypto_key_id(a, alen, id, sizeof id), 0);
  ASSERT_STR_EQ(id, "k1");
  ASSERT_INT_EQ(af_crypto_decrypt(kr, &AD, a, alen, &pt, &ptlen, &err), 0);
  ASSERT_INT_EQ(ptlen, 13);
  ASSERT_STR_EQ((char *)pt, "XAXX010101000");
  af_free(pt);
  /* The empty value round-trips too. */
  af_free(b);
  ASSERT_INT_EQ(af_crypto_encrypt(kr, &AD, "", 0, &b, &blen, &err), 0);
  ASSERT_INT_EQ(af_crypto_decrypt(kr, &AD, b, blen, &pt, &ptlen, &err), 0);
  ASSERT_INT_EQ(ptlen, 0);
  af_free(pt);
  af_free(a);
  af_free(b);
  af_keyring_free(kr);
  return 0;
}

TEST(crypto_tamper_every_byte) {
  af_keyring *kr = ring("k1:" K1);
  unsigned char *ct = NULL, *pt = NULL;
  size_t n = 0, ptlen = 0;
  char *err = NULL;
  ASSERT_INT_EQ(af_crypto_encrypt(kr, &AD, "Juana Pérez", 12, &ct, &n, &err), 0);
  for (size_t i = 0; i < n; i++) {
    ct[i] ^= 0x01;
    pt = (unsigned char *)"sentinel";
    ASSERT_INT_EQ(af_crypto_decrypt(kr, &AD, ct, n, &pt, &ptlen, &err), -1);
    ASSERT_NULL(pt);
    ASSERT_STR_CONTAINS(err, "user_profiles.rfc: ");
    ASSERT(strstr(err, "Juana") == NULL);
    af_free(err);
    err = NULL;
    ct[i] ^= 0x01;
  }
  /* Truncated. */
  ASSERT_INT_EQ(af_crypto_decrypt(kr, &AD, ct, 20, &pt, &ptlen, &err), -1);
  ASSERT_STR_CONTAINS(err, "bad header");
  af_free(err);
  err = NULL;
  ASSERT_INT_EQ(af_crypto_decrypt(kr, &AD, ct, n - 1, &pt, &ptlen, &err), -1);
  ASSERT_STR_CONTAINS(err, "failed authentication");
  af_free(err);
  af_free(ct);
  af_keyring_free(kr);
  return 0;
}

TEST(crypto_bound_to_place) {
  af_keyring *kr = ring("k1:" K1);
  unsigned char *ct = NULL, *pt = NULL;
  size_t n = 0, ptlen = 0;
  char *err = NULL;
  ASSERT_INT_EQ(af_crypto_encrypt(kr, &AD, "secret", 6, &ct, &n, &err), 0);
  af_crypto_ad other_row = AD, other_col = AD, other_table = AD;
  other_row.row_id = "0b7e1d2c-1111-4222-8333-444455556667";
  other_col.column = "full_name";
  other_table.table = "user_vendor_credentials";
  const af_crypto_ad *places[] = {&other_row, &other_col, &other_table};
  for (int i = 0; i < 3; i++) {
    ASSERT_INT_EQ(af_crypto_decrypt(kr, places[i], ct, n, &pt, &ptlen, &err), -1);
    ASSERT_STR_CONTAINS(err, "copied from another row or column");
    af_free(err);
    err = NULL;
  }
  /* Length prefixes: ("ab","c") and ("a","bc") are different places. */
  af_crypto_ad x = {"t", "ab", "c"}, y = {"t", "a", "bc"};
  af_free(ct);
  ASSERT_INT_EQ(af_crypto_encrypt(kr, &x, "v", 1, &ct, &n, &err), 0);
  ASSERT_INT_EQ(af_crypto_decrypt(kr, &y, ct, n, &pt, &ptlen, &err), -1);
  af_free(err);
  af_crypto_ad missing = {"t", "c", ""};
  err = NULL;
  ASSERT_INT_EQ(af_crypto_encrypt(kr, &missing, "v", 1, &pt, &ptlen, &err), -1);
  ASSERT_STR_CONTAINS(err, "row id");
  af_free(err);
  af_free(ct);
  af_keyring_free(kr);
  return 0;
}

TEST(crypto_rotation) {
  af_keyring *old = ring("k1:" K1);
  af_keyring *both = ring("k2:" K2 ",k1:" K1);
  af_keyring *only_new = ring("k2:" K2);
  unsigned char *c1 = NULL, *c2 = NULL, *pt = NULL;
  size_t n1 = 0, n2 = 0, ptlen = 0;
  char *err = NULL, id[80];
  ASSERT_INT_EQ(af_keyring_count(both), 2);
  ASSERT_STR_EQ(af_keyring_id(both, 0), "k2");
  ASSERT_INT_EQ(af_crypto_encrypt(old, &AD, "v1", 2, &c1, &n1, &err), 0);
  ASSERT_INT_EQ(af_crypto_encrypt(both, &AD, "v2", 2, &c2, &n2, &err), 0);
  ASSERT_INT_EQ(af_crypto_key_id(c2, n2, id, sizeof id), 0);
  ASSERT_STR_EQ(id, "k2");
  ASSERT_INT_EQ(af_crypto_decrypt(both, &AD, c1, n1, &pt, &ptlen, &err), 0);
  ASSERT_STR_EQ((char *)pt, "v1");
  af_free(pt);
  ASSERT_INT_EQ(af_crypto_decrypt(only_new, &AD, c1, n1, &pt, &ptlen, &err), -1);
  ASSERT_STR_EQ(err, "user_profiles.rfc: encrypted with key id 'k1', which is not "
                     "in AF_ENCRYPTION_KEYS");
  af_free(err);
  af_free(c1);
  af_free(c2);
  af_keyring_free(old);
  af_keyring_free(both);
  af_keyring_free(only_new);
  return 0;
}

static void expect_parse_error(const char *spec, const char *msg) {
  af_keyring *kr = NULL;
  char *err = NULL;
  ASSERT_INT_EQ(af_keyring_parse(spec, &kr, &err), -1);
  ASSERT_NULL(kr);
  ASSERT_STR_CONTAINS(err, msg);
  /* Never the key material in a message. */
  ASSERT(strstr(err, "AAEC") == NULL);
  af_free(err);
}

TEST(crypto_keyring_errors) {
  expect_parse_error("", "AF_ENCRYPTION_KEYS: empty");
  expect_parse_error(K1, "entry 1: expected keyid:base64");
  expect_parse_error("k1:" K1 ",k 2", "entry 2: expected keyid:base64");
  expect_parse_error("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
                     "key 'k1': must be the base64 of exactly 32 bytes");
  expect_parse_error("k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
                     "exactly 32 bytes");
  expect_parse_error("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh*=",
                     "exactly 32 bytes");
  expect_parse_error("k1:" K1 ",k1:" K2, "key id 'k1' appears twice");
  expect_parse_error("k/1:" K1, "key id must be");
  af_keyring *kr = ring(" k1:" K1 " ,\nk2:" K2 "\n");
  ASSERT_INT_EQ(af_keyring_count(kr), 2);
  af_keyring_free(kr);
  return 0;
}

TEST(crypto_keyring_file) {
  char path[] = "/tmp/af-keys-XXXXXX";
  int fd = mkstemp(path);
  ASSERT(fd >= 0);
  const char body[] = "k2:" K2 "\nk1:" K1 "\n";
  ASSERT_INT_EQ(write(fd, body, sizeof body - 1), sizeof body - 1);
  close(fd);
  unsetenv("AF_ENCRYPTION_KEYS");
  setenv("AF_ENCRYPTION_KEY_FILE", path, 1);
  af_keyring *kr = NULL;
  char *err = NULL;
  chmod(path, 0644);
  ASSERT_INT_EQ(af_keyring_from_env(&kr, &err), -1);
  ASSERT_STR_CONTAINS(err, "readable by group or others");
  af_free(err);
  err = NULL;
  chmod(path, 0600);
  ASSERT_INT_EQ(af_keyring_from_env(&kr, &err), 0);
  ASSERT_STR_EQ(af_keyring_id(kr, 0), "k2");
  af_keyring_free(kr);
  /* The environment variable wins over the file. */
  setenv("AF_ENCRYPTION_KEYS", "k9:" K1, 1);
  ASSERT_INT_EQ(af_keyring_from_env(&kr, &err), 0);
  ASSERT_STR_EQ(af_keyring_id(kr, 0), "k9");
  af_keyring_free(kr);
  unsetenv("AF_ENCRYPTION_KEYS");
  unsetenv("AF_ENCRYPTION_KEY_FILE");
  ASSERT_INT_EQ(af_keyring_from_env(&kr, &err), -1);
  ASSERT_STR_CONTAINS(err, "AF_ENCRYPTION_KEYS: not set");
  af_free(err);
  unlink(path);
  return 0;
}

/* Defect 2: the seed's regex rejected companies' 3-letter RFCs, Ñ and &. */
TEST(crypto_rfc_normalize) {
  char out[AF_CRYPTO_RFC_MAX * 2 + 1], *err = NULL;
  static const struct { const char *in, *out; } ok[] = {
      {"XAXX010101000", "XAXX010101000"},
      {" xaxx-010101-000 ", "XAXX010101000"},
      {"ABC010101AB1", "ABC010101AB1"},           /* a company: 3 letters */
      {"ñañ850101ab1", "\xc3\x91" "A\xc3\x91" "850101AB1"},
      {"A&B990101XY9", "A&B990101XY9"},
      {"MU\xc3\x91" "O800101AB1", "MU\xc3\x91" "O800101AB1"},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    ASSERT_INT_EQ(af_crypto_rfc_normalize(ok[i].in, out, sizeof out, &err), 0);
    ASSERT_STR_EQ(out, ok[i].out);
  }
  static const char *bad[] = {"", "XAXX01010100", "XAXX0101010000",
                              "XA010101000AB", "XAXXX10101000", "ABC0101A1AB1",
                              "ABC010101A&1", "ABC010101AB\xc3\x91", "ABC_10101AB1",
                              "AB010101AB1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err = NULL;
    ASSERT_INT_EQ(af_crypto_rfc_normalize(bad[i], out, sizeof out, &err), -1);
    ASSERT_STR_CONTAINS(err, "rfc: must be 3 or 4 letters");
    af_free(err);
  }
  return 0;
}

TEST(crypto_blind_index) {
  af_keyring *kr = ring("k2:" K2 ",k1:" K1);
  unsigned char a[32], b[32], c[32], direct[32];
  unsigned int n = 0;
  char *err = NULL;
  ASSERT_INT_EQ(af_crypto_blind_index(kr, 0, "XAXX010101000", a, &err), 0);
  ASSERT_INT_EQ(af_crypto_blind_index(kr, 0, " xaxx-010101 000", b, &err), 0);
  ASSERT(memcmp(a, b, 32) == 0);
  ASSERT_INT_EQ(af_crypto_blind_index(kr, 1, "XAXX010101000", c, &err), 0);
  ASSERT(memcmp(a, c, 32) != 0);
  ASSERT_INT_EQ(af_crypto_blind_index(kr, 0, "XEXX010101000", c, &err), 0);
  ASSERT(memcmp(a, c, 32) != 0);
  /* The index key is derived, not the encryption key itself. */
  unsigned char k2[33];
  ASSERT_INT_EQ(EVP_DecodeBlock(k2, (const unsigned char *)K2, 44), 33);
  HMAC(EVP_sha256(), k2, 32, (const unsigned char *)"XAXX010101000", 13, direct, &n);
  ASSERT(memcmp(a, direct, 32) != 0);
  ASSERT_INT_EQ(af_crypto_blind_index(kr, 0, "not an rfc", c, &err), -1);
  ASSERT_STR_CONTAINS(err, "rfc: must be");
  af_free(err);
  af_keyring_free(kr);
  return 0;
}

TEST(crypto_bytea_hex) {
  const unsigned char in[] = {0x00, 0x01, 0xab, 0xff};
  char *s = af_crypto_bytea_hex(in, 4);
  ASSERT_STR_EQ(s, "\\x0001abff");
  unsigned char *out = NULL;
  size_t n = 0;
  ASSERT_INT_EQ(af_crypto_bytea_unhex(s, &out, &n), 0);
  ASSERT_INT_EQ(n, 4);
  ASSERT(memcmp(in, out, 4) == 0);
  af_free(out);
  ASSERT_INT_EQ(af_crypto_bytea_unhex("\\x0", &out, &n), -1);
  ASSERT_INT_EQ(af_crypto_bytea_unhex("\\xzz", &out, &n), -1);
  ASSERT_INT_EQ(af_crypto_bytea_unhex("0001", &out, &n), -1);
  af_free(s);
  return 0;
}

static int fail_after;
static void *failing_malloc(size_t n) { return fail_after-- > 0 ? malloc(n) : NULL; }
static void *failing_calloc(size_t n, size_t m) {
  return fail_after-- > 0 ? calloc(n, m) : NULL;
}

/* Every allocation failure is an error, never a crash or a leak (ASan). */
TEST(crypto_alloc_failures) {
  af_keyring *kr = ring("k1:" K1);
  for (int budget = 0; budget < 4; budget++) {
    unsigned char *ct = NULL, *pt = NULL;
    size_t n = 0, ptlen = 0;
    char *err = NULL;
    ASSERT_INT_EQ(af_crypto_encrypt(kr, &AD, "v", 1, &ct, &n, &err), 0);
    af_allocator a = {failing_malloc, failing_calloc, realloc, free};
    fail_after = budget;
    af_alloc_set(&a);
    int rc = af_crypto_decrypt(kr, &AD, ct, n, &pt, &ptlen, &err);
    af_alloc_reset();
    if (rc == 0) af_free(pt);
    else af_free(err);
    fail_after = budget;
    af_alloc_set(&a);
    unsigned char *ct2 = NULL;
    err = NULL;
    rc = af_crypto_encrypt(kr, &AD, "v", 1, &ct2, &n, &err);
    af_alloc_reset();
    af_free(rc == 0 ? (void *)ct2 : (void *)err);
    af_free(ct);
  }
  af_keyring_free(kr);
  return 0;
}

/* {=== JWT ==================================================================== */

#define JWT_SECRET "super-secret-jwt-token-with-at-least-32-characters-long"
#define SUB "5d3b1c2a-7e8f-4a9b-8c0d-1e2f3a4b5c6d"

static void b64url(const char *in, size_t n, char *out) {
  static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = (unsigned char)in[i] << 16;
    if (i + 1 < n) v |= (unsigned char)in[i + 1] << 8;
    if (i + 2 < n) v |= (unsigned char)in[i + 2];
    out[o++] = a[(v >> 18) & 63];
    out[o++] = a[(v >> 12) & 63];
    if (i + 1 < n) out[o++] = a[(v >> 6) & 63];
    if (i + 2 < n) out[o++] = a[v & 63];
  }
  out[o] = '\0';
}

/* header.payload.signature signed with secret. */
static char *make_jwt(const char *header, const char *payload, const char *secret) {
  static char tok[4096];
  char sig[64];
  unsigned char mac[32];
  unsigned int n = 0;
  b64url(header, strlen(header), tok);
  strcat(tok, ".");
  b64url(payload, strlen(payload), tok + strlen(tok));
  HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)tok, strlen(tok), mac, &n);
  b64url((char *)mac, 32, sig);
  strcat(tok, ".");
  strcat(tok, sig);
  return tok;
}

static void expect_jwt_error(const char *tok, long long now, const char *why) {
  af_jwt_claims c;
  char *err = NULL;
  ASSERT_INT_EQ(af_crypto_jwt_verify(JWT_SECRET, tok, now, &c, &err), -1);
  ASSERT_STR_EQ(err, why);
  ASSERT_STR_EQ(c.sub, "");
  af_free(err);
}

#define HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

TEST(crypto_jwt_verify) {
  af_jwt_claims c;
  char *err = NULL;
  char ok[4096];
  strcpy(ok, make_jwt(HS256, "{\"sub\":\"" SUB "\",\"role\":\"authenticated\","
                             "\"aud\":\"authenticated\",\"exp\":2000000000}", JWT_SECRET));
  ASSERT_INT_EQ(af_crypto_jwt_verify(JWT_SECRET, ok, 1900000000, &c, &err), 0);
  ASSERT_STR_EQ(c.sub, SUB);
  ASSERT_STR_EQ(c.role, "authenticated");
  ASSERT_INT_EQ(c.exp, 2000000000);

  char tampered[4096];
  strcpy(tampered, ok);
  char *dot = strchr(tampered, '.');
  dot[3] = dot[3] == 'A' ? 'B' : 'A';
  expect_jwt_error(tampered, 1900000000, "token: bad signature");
  expect_jwt_error(make_jwt(HS256, "{\"sub\":\"" SUB "\",\"exp\":2000000000}", JWT_SECRET "x"),
                   1900000000, "token: bad signature");
  expect_jwt_error(ok, 2000000000, "token: expired");
  expect_jwt_error(make_jwt("{\"alg\":\"none\"}", "{\"sub\":\"" SUB "\",\"exp\":2000000000}", ""),
                   1900000000, "token: unsupported algorithm (HS256 only)");
  expect_jwt_error(make_jwt("{\"alg\":\"HS512\"}", "{\"sub\":\"" SUB "\",\"exp\":2000000000}",
                            JWT_SECRET), 1900000000, "token: unsupported algorithm (HS256 only)");
  expect_jwt_error(make_jwt(HS256, "{\"sub\":\"" SUB "\"}", JWT_SECRET), 1900000000,
                   "token: exp required");
  expect_jwt_error(make_jwt(HS256, "{\"sub\":\"" SUB "\",\"exp\":2000000000,\"nbf\":1950000000}",
                            JWT_SECRET), 1900000000, "token: not yet valid");
  expect_jwt_error(make_jwt(HS256, "{\"sub\":\"admin\",\"exp\":2000000000}", JWT_SECRET),
                   1900000000, "token: sub must be a user UUID");
  expect_jwt_error(make_jwt(HS256, "{\"sub\":\"" SUB "\",\"exp\":2000000000,\"role\":7}", JWT_SECRET),
                   1900000000, "token: role must be a short string");
  expect_jwt_error(make_jwt(HS256, "\"a string\"", JWT_SECRET), 1900000000, "token: malformed");
  expect_jwt_error("abc", 1900000000, "token: malformed");
  expect_jwt_error("a.b.c.d", 1900000000, "token: malformed");
  expect_jwt_error("", 1900000000, "token: malformed");
  char padded[4200];
  snprintf(padded, sizeof padded, "%s=", ok);
  expect_jwt_error(padded, 1900000000, "token: malformed");
  static char big[AF_JWT_MAX + 10];
  memset(big, 'a', sizeof big - 1);
  expect_jwt_error(big, 1900000000, "token: longer than 8 KiB");

  ASSERT_INT_EQ(af_crypto_jwt_secret_check("short", &err), -1);
  ASSERT_STR_EQ(err, "AF_JWT_SECRET: must be at least 32 characters");
  af_free(err);
  ASSERT_INT_EQ(af_crypto_jwt_secret_check(JWT_SECRET, &err), 0);
  return 0;
}

/* ===} */
