/*
 * crypto.h -- field encryption for the store (AES-256-GCM, OpenSSL) and the
 * blind index used to look up encrypted RFCs.
 *
 * Ciphertext layout (what the database holds, see sql/002_store.sql):
 *   0x01 | key id length (1..64) | key id | nonce (12) | ciphertext | tag (16)
 * The associated data binds a value to its place: the header bytes plus
 * table, column and row id, each length-prefixed. A value copied to another
 * row or column, or altered, fails to decrypt with a clear error.
 *
 * Keys come from configuration, never the database:
 *   AF_ENCRYPTION_KEYS      "keyid:base64(32 bytes)[,keyid:base64(...)]..."
 *   AF_ENCRYPTION_KEY_FILE  a file holding the same list (commas or lines),
 *                           readable by its owner only.
 * The first key encrypts; all of them decrypt (rotation).
 */
#ifndef AF_CRYPTO_H
#define AF_CRYPTO_H

#include <stddef.h>

#define AF_CRYPTO_VERSION 1
#define AF_CRYPTO_NONCE_LEN 12
#define AF_CRYPTO_TAG_LEN 16
#define AF_CRYPTO_KEYID_MAX 64
#define AF_CRYPTO_BIDX_LEN 32
#define AF_CRYPTO_RFC_MAX 13

typedef struct af_keyring af_keyring;

/* Where a value lives: the associated data of its ciphertext. */
typedef struct af_crypto_ad {
  const char *table;
  const char *column;
  const char *row_id;
} af_crypto_ad;

/* Parse a key list; 0, or -1 with *err naming the entry and the rule
 * (never a key's bytes). */
int af_keyring_parse(const char *spec, af_keyring **out, char **err);
/* From AF_ENCRYPTION_KEYS, else AF_ENCRYPTION_KEY_FILE. */
int af_keyring_from_env(af_keyring **out, char **err);
void af_keyring_free(af_keyring *kr);
/* Number of keys, and the id of key i (0 = the one that encrypts). */
int af_keyring_count(const af_keyring *kr);
const char *af_keyring_id(const af_keyring *kr, int i);

/* Encrypt n bytes; *out (af_malloc'd) and *outlen. 0 or -1 with *err. */
int af_crypto_encrypt(const af_keyring *kr, const af_crypto_ad *ad,
                      const void *pt, size_t n, unsigned char **out,
                      size_t *outlen, char **err);
/* Decrypt; *out is NUL-terminated for convenience (outlen excludes it).
 * A wrong place, an altered byte or an unknown key id: -1 and *err. */
int af_crypto_decrypt(const af_keyring *kr, const af_crypto_ad *ad,
                      const unsigned char *ct, size_t n, unsigned char **out,
                      size_t *outlen, char **err);
/* The key id inside a ciphertext, copied into buf; -1 if malformed. */
int af_crypto_key_id(const unsigned char *ct, size_t n, char *buf, size_t bufsz);

/* Normalize an RFC (trim, drop spaces and hyphens, upper-case ASCII and ñ)
 * and check its shape: 3 (companies) or 4 (people) letters among A-Z, Ñ, &,
 * six digits (YYMMDD), three alphanumerics. out holds up to 13 characters
 * plus Ñ's second byte(s) and a NUL: size it AF_CRYPTO_RFC_MAX * 2 + 1.
 * 0, or -1 with *err naming the rule (never the value). */
int af_crypto_rfc_normalize(const char *rfc, char *out, size_t outsz, char **err);

/* Blind index of an RFC under key i: HMAC-SHA256(K_i', normalized RFC),
 * where K_i' = HMAC-SHA256(key i, "autofactura blind index v1"), so the
 * index key is never the encryption key. */
int af_crypto_blind_index(const af_keyring *kr, int key, const char *rfc,
                          unsigned char out[AF_CRYPTO_BIDX_LEN], char **err);

/* {=== JWT (HS256, as Supabase issues them) =============================== */

#define AF_JWT_MAX 8192

typedef struct af_jwt_claims {
  char sub[37];      /* the user's UUID */
  char role[32];     /* e.g. "authenticated", "anon", "service_role" */
  long long exp;     /* seconds since the epoch */
} af_jwt_claims;

/* AF_JWT_SECRET (used as raw bytes, as Supabase does): at least 32 bytes.
 * 0, or -1 with *err naming the variable and the rule. */
int af_crypto_jwt_secret_check(const char *secret, char **err);

/* Verify an HS256 token at time now (seconds): signature (constant time),
 * alg exactly HS256, exp required and in the future, nbf if present, sub a
 * UUID, role a string if present. Fills *out; 0, or -1 with a short reason
 * ("token: expired", "token: bad signature", ...) that never quotes the
 * token. */
int af_crypto_jwt_verify(const char *secret, const char *token, long long now,
                         af_jwt_claims *out, char **err);

/* ===} */

/* Hex for bytea text parameters: "\\x" + 2n hex digits; af_malloc'd. */
char *af_crypto_bytea_hex(const unsigned char *p, size_t n);
/* Parse a bytea in hex output ("\\x..."); af_malloc'd, -1 on bad input. */
int af_crypto_bytea_unhex(const char *s, unsigned char **out, size_t *outlen);

#endif
