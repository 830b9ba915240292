/*
 * crypto.c -- field encryption (AES-256-GCM) with key ids and rotation, the
 * RFC blind index (HMAC-SHA256), the key ring read from configuration, and
 * HS256 JWT verification. Relies on OpenSSL (EVP, HMAC, RAND), alloc.h,
 * json.h (JWT claims) and store_db.h (UUID shape).
 */
#include "crypto.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lauxlib.h>
#include <lualib.h>

#include "alloc.h"
#include "json.h"
#include "store_db.h"

#define KEY_LEN 32
#define HEADER_MAX (2 + AF_CRYPTO_KEYID_MAX)

typedef struct key {
  char id[AF_CRYPTO_KEYID_MAX + 1];
  unsigned char enc[KEY_LEN];
  unsigned char bidx[KEY_LEN]; /* derived: HMAC(enc, BIDX_LABEL) */
} key;

struct af_keyring {
  int n;
  key keys[];
};

static const char BIDX_LABEL[] = "autofactura blind index v1";

/* {=== key ring ============================================================ */

static int valid_key_id(const char *s, size_t n) {
  if (n == 0 || n > AF_CRYPTO_KEYID_MAX) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
      return 0;
  }
  return 1;
}

/* Exactly 32 bytes of standard base64 (44 characters, one '='). */
static int decode_key(const char *s, size_t n, unsigned char out[KEY_LEN]) {
  unsigned char tmp[48];
  if (n != 44 || s[43] != '=' || s[42] == '=') return -1;
  for (size_t i = 0; i < 43; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '+' || c == '/'))
      return -1;
  }
  if (EVP_DecodeBlock(tmp, (const unsigned char *)s, 44) != 33) return -1;
  memcpy(out, tmp, KEY_LEN);
  OPENSSL_cleanse(tmp, sizeof tmp);
  return 0;
}

static int is_sep(char c) {
  return c == ',' || c == '\n' || c == '\r' || c == ' ' || c == '\t';
}

int af_keyring_parse(const char *spec, af_keyring **out, char **err) {
  af_keyring *kr = NULL;
  int count = 0, rc = -1;
  *out = NULL;
  if (spec == NULL) spec = "";
  for (const char *p = spec; *p;) {
    while (is_sep(*p)) p++;
    if (!*p) break;
    count++;
    while (*p && !is_sep(*p)) p++;
  }
  if (count == 0) {
    *err = af_strdup("AF_ENCRYPTION_KEYS: empty (expected keyid:base64 of 32 bytes)");
    return -1;
  }
  kr = af_calloc(1, sizeof *kr + (size_t)count * sizeof(key));
  if (kr == NULL) {
    *err = af_strdup("out of memory");
    return -1;
  }
  for (const char *p = spec; *p;) {
    while (is_sep(*p)) p++;
    if (!*p) break;
    const char *start = p;
    while (*p && !is_sep(*p)) p++;
    size_t len = (size_t)(p - start);
    const char *colon = memchr(start, ':', len);
    int pos = kr->n + 1;
    if (colon == NULL) {
      *err = af_asprintf("AF_ENCRYPTION_KEYS: entry %d: expected keyid:base64", pos);
      goto done;
    }
    size_t idlen = (size_t)(colon - start);
    if (!valid_key_id(start, idlen)) {
      *err = af_asprintf("AF_ENCRYPTION_KEYS: entry %d: key id must be 1-%d of "
                         "[A-Za-z0-9_.-]", pos, AF_CRYPTO_KEYID_MAX);
      goto done;
    }
    key *k = &kr->keys[kr->n];
    memcpy(k->id, start, idlen);
    k->id[idlen] = '\0';
    for (int i = 0; i < kr->n; i++) {
      if (strcmp(kr->keys[i].id, k->id) == 0) {
        *err = af_asprintf("AF_ENCRYPTION_KEYS: entry %d: key id '%s' appears twice",
                           pos, k->id);
        goto done;
      }
    }
    if (decode_key(colon + 1, len - idlen - 1, k->enc) != 0) {
      *err = af_asprintf("AF_ENCRYPTION_KEYS: key '%s': must be the base64 of "
                         "exactly 32 bytes", k->id);
      goto done;
    }
    unsigned int mdlen = 0;
    if (HMAC(EVP_sha256(), k->enc, KEY_LEN, (const unsigned char *)BIDX_LABEL,
             sizeof BIDX_LABEL - 1, k->bidx, &mdlen) == NULL) {
      *err = af_strdup("AF_ENCRYPTION_KEYS: HMAC failed");
      goto done;
    }
    kr->n++;
  }
  *out = kr;
  kr = NULL;
  rc = 0;
done:
  af_keyring_free(kr);
  return rc;
}

static char *read_key_file(const char *path, char **err) {
  struct stat st;
  FILE *f = NULL;
  char *data = NULL;
  if (stat(path, &st) != 0) {
    *err = af_asprintf("AF_ENCRYPTION_KEY_FILE: %s: %s", path, strerror(errno));
    return NULL;
  }
  if (st.st_mode & 077) {
    *err = af_asprintf("AF_ENCRYPTION_KEY_FILE: %s: readable by group or others "
                       "(chmod 600 it)", path);
    return NULL;
  }
  if (st.st_size > 65536) {
    *err = af_asprintf("AF_ENCRYPTION_KEY_FILE: %s: larger than 64 KiB", path);
    return NULL;
  }
  f = fopen(path, "rb");
  data = f ? af_malloc((size_t)st.st_size + 1) : NULL;
  if (data == NULL || fread(data, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
    *err = af_asprintf("AF_ENCRYPTION_KEY_FILE: %s: cannot read", path);
    af_free(data);
    data = NULL;
  } else {
    data[st.st_size] = '\0';
  }
  if (f) fclose(f);
  return data;
}

int af_keyring_from_env(af_keyring **out, char **err) {
  const char *spec = getenv("AF_ENCRYPTION_KEYS");
  const char *file = getenv("AF_ENCRYPTION_KEY_FILE");
  *out = NULL;
  if (spec && *spec) return af_keyring_parse(spec, out, err);
  if (file == NULL || *file == '\0') {
    *err = af_strdup("AF_ENCRYPTION_KEYS: not set (nor AF_ENCRYPTION_KEY_FILE); "
                     "expected keyid:base64 of 32 bytes");
    return -1;
  }
  char *data = read_key_file(file, err);
  if (data == NULL) return -1;
  int rc = af_keyring_parse(data, out, err);
  OPENSSL_cleanse(data, strlen(data));
  af_free(data);
  return rc;
}

void af_keyring_free(af_keyring *kr) {
  if (kr == NULL) return;
  OPENSSL_cleanse(kr->keys, (size_t)kr->n * sizeof(key));
  af_free(kr);
}

int af_keyring_count(const af_keyring *kr) { return kr->n; }

const char *af_keyring_id(const af_keyring *kr, int i) {
  return i >= 0 && i < kr->n ? kr->keys[i].id : NULL;
}

/* ===} */

/* {=== AES-256-GCM ========================================================= */

static int ad_append(unsigned char **p, const unsigned char *end, const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n > UINT32_MAX || (size_t)(end - *p) < 4 + n) return -1;
  (*p)[0] = (unsigned char)(n >> 24);
  (*p)[1] = (unsigned char)(n >> 16);
  (*p)[2] = (unsigned char)(n >> 8);
  (*p)[3] = (unsigned char)n;
  if (n) memcpy(*p + 4, s, n);
  *p += 4 + n;
  return 0;
}

/* header || len table || table || len column || column || len row || row */
static unsigned char *build_ad(const unsigned char *header, size_t hlen,
                               const af_crypto_ad *ad, size_t *adlen) {
  size_t n = hlen + 12 + strlen(ad->table) + strlen(ad->column) + strlen(ad->row_id);
  unsigned char *buf = af_malloc(n), *p = buf;
  if (buf == NULL) return NULL;
  memcpy(p, header, hlen);
  p += hlen;
  if (ad_append(&p, buf + n, ad->table) || ad_append(&p, buf + n, ad->column) ||
      ad_append(&p, buf + n, ad->row_id)) {
    af_free(buf);
    return NULL;
  }
  *adlen = n;
  return buf;
}

static int ad_valid(const af_crypto_ad *ad, char **err) {
  if (ad == NULL || ad->table == NULL || ad->column == NULL || ad->row_id == NULL ||
      !*ad->table || !*ad->column || !*ad->row_id) {
    *err = af_strdup("encrypt: table, column and row id are all required");
    return 0;
  }
  return 1;
}

int af_crypto_encrypt(const af_keyring *kr, const af_crypto_ad *ad,
                      const void *pt, size_t n, unsigned char **out,
                      size_t *outlen, char **err) {
  EVP_CIPHER_CTX *ctx = NULL;
  unsigned char *buf = NULL, *adbuf = NULL;
  size_t adlen = 0;
  int rc = -1, len = 0;
  *out = NULL;
  if (!ad_valid(ad, err)) return -1;
  if (n > (size_t)INT32_MAX) {
    *err = af_asprintf("%s.%s: value too large to encrypt", ad->table, ad->column);
    return -1;
  }
  const key *k = &kr->keys[0];
  size_t idlen = strlen(k->id), hlen = 2 + idlen;
  size_t total = hlen + AF_CRYPTO_NONCE_LEN + n + AF_CRYPTO_TAG_LEN;
  buf = af_malloc(total);
  if (buf == NULL) goto oom;
  buf[0] = AF_CRYPTO_VERSION;
  buf[1] = (unsigned char)idlen;
  memcpy(buf + 2, k->id, idlen);
  unsigned char *nonce = buf + hlen, *ct = nonce + AF_CRYPTO_NONCE_LEN;
  if (RAND_bytes(nonce, AF_CRYPTO_NONCE_LEN) != 1) {
    *err = af_strdup("encrypt: no random bytes available");
    goto done;
  }
  adbuf = build_ad(buf, hlen, ad, &adlen);
  ctx = EVP_CIPHER_CTX_new();
  if (adbuf == NULL || ctx == NULL) goto oom;
  if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, AF_CRYPTO_NONCE_LEN, NULL) != 1 ||
      EVP_EncryptInit_ex(ctx, NULL, NULL, k->enc, nonce) != 1 ||
      EVP_EncryptUpdate(ctx, NULL, &len, adbuf, (int)adlen) != 1 ||
      (n > 0 && EVP_EncryptUpdate(ctx, ct, &len, pt, (int)n) != 1) ||
      EVP_EncryptFinal_ex(ctx, ct + n, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, AF_CRYPTO_TAG_LEN, ct + n) != 1) {
    *err = af_asprintf("%s.%s: encryption failed", ad->table, ad->column);
    goto done;
  }
  *out = buf;
  *outlen = total;
  buf = NULL;
  rc = 0;
  goto done;
oom:
  *err = af_strdup("out of memory");
done:
  EVP_CIPHER_CTX_free(ctx);
  af_free(adbuf);
  af_free(buf);
  return rc;
}

int af_crypto_key_id(const unsigned char *ct, size_t n, char *buf, size_t bufsz) {
  if (n < 2 || ct[0] != AF_CRYPTO_VERSION) return -1;
  size_t idlen = ct[1];
  if (idlen == 0 || idlen > AF_CRYPTO_KEYID_MAX ||
      n < 2 + idlen + AF_CRYPTO_NONCE_LEN + AF_CRYPTO_TAG_LEN || idlen >= bufsz)
    return -1;
  memcpy(buf, ct + 2, idlen);
  buf[idlen] = '\0';
  return 0;
}

int af_crypto_decrypt(const af_keyring *kr, const af_crypto_ad *ad,
                      const unsigned char *ct, size_t n, unsigned char **out,
                      size_t *outlen, char **err) {
  EVP_CIPHER_CTX *ctx = NULL;
  unsigned char *pt = NULL, *adbuf = NULL;
  unsigned char tag[AF_CRYPTO_TAG_LEN];
  char id[AF_CRYPTO_KEYID_MAX + 1];
  size_t adlen = 0;
  int rc = -1, len = 0;
  const key *k = NULL;
  *out = NULL;
  if (!ad_valid(ad, err)) return -1;
  if (af_crypto_key_id(ct, n, id, sizeof id) != 0) {
    *err = af_asprintf("%s.%s: not a ciphertext of this runtime (bad header)",
                       ad->table, ad->column);
    return -1;
  }
  for (int i = 0; i < kr->n && k == NULL; i++)
    if (strcmp(kr->keys[i].id, id) == 0) k = &kr->keys[i];
  if (k == NULL) {
    *err = af_asprintf("%s.%s: encrypted with key id '%s', which is not in "
                       "AF_ENCRYPTION_KEYS", ad->table, ad->column, id);
    return -1;
  }
  size_t hlen = 2 + strlen(id);
  const unsigned char *nonce = ct + hlen, *body = nonce + AF_CRYPTO_NONCE_LEN;
  size_t bodylen = n - hlen - AF_CRYPTO_NONCE_LEN - AF_CRYPTO_TAG_LEN;
  if (bodylen > (size_t)INT32_MAX) goto fail;
  memcpy(tag, body + bodylen, AF_CRYPTO_TAG_LEN);
  pt = af_malloc(bodylen + 1);
  adbuf = build_ad(ct, hlen, ad, &adlen);
  ctx = EVP_CIPHER_CTX_new();
  if (pt == NULL || adbuf == NULL || ctx == NULL) {
    *err = af_strdup("out of memory");
    goto done;
  }
  if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, AF_CRYPTO_NONCE_LEN, NULL) != 1 ||
      EVP_DecryptInit_ex(ctx, NULL, NULL, k->enc, nonce) != 1 ||
      EVP_DecryptUpdate(ctx, NULL, &len, adbuf, (int)adlen) != 1 ||
      (bodylen > 0 && EVP_DecryptUpdate(ctx, pt, &len, body, (int)bodylen) != 1) ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, AF_CRYPTO_TAG_LEN, tag) != 1 ||
      EVP_DecryptFinal_ex(ctx, pt + bodylen, &len) != 1)
    goto fail;
  pt[bodylen] = '\0';
  *out = pt;
  *outlen = bodylen;
  pt = NULL;
  rc = 0;
  goto done;
fail:
  *err = af_asprintf("%s.%s: ciphertext failed authentication (altered, or "
                     "copied from another row or column)", ad->table, ad->column);
done:
  if (pt) OPENSSL_cleanse(pt, bodylen);
  EVP_CIPHER_CTX_free(ctx);
  af_free(adbuf);
  af_free(pt);
  return rc;
}

/* ===} */

/* {=== RFC and blind index ================================================= */

int af_crypto_rfc_normalize(const char *rfc, char *out, size_t outsz, char **err) {
  /* Per character: 'A' for A-Z, 'N' for Ñ and &, 'D' for a digit. */
  char shape[AF_CRYPTO_RFC_MAX + 1];
  size_t o = 0;
  int n = 0, letters = 0;
  if (rfc == NULL) {
    *err = af_strdup("rfc: required");
    return -1;
  }
  for (const unsigned char *p = (const unsigned char *)rfc; *p; p++) {
    unsigned char c = *p;
    if (c == ' ' || c == '-' || c == '\t' || c == '\n' || c == '\r') continue;
    if (n == AF_CRYPTO_RFC_MAX || o + 3 > outsz) goto bad;
    if (c == 0xC3 && (p[1] == 0x91 || p[1] == 0xB1)) { /* Ñ or ñ */
      out[o++] = (char)0xC3;
      out[o++] = (char)0x91;
      shape[n++] = 'N';
      p++;
      continue;
    }
    if (c >= 'a' && c <= 'z') c = (unsigned char)(c - 'a' + 'A');
    if (c >= 'A' && c <= 'Z') shape[n++] = 'A';
    else if (c == '&') shape[n++] = 'N';
    else if (c >= '0' && c <= '9') shape[n++] = 'D';
    else goto bad;
    out[o++] = (char)c;
  }
  out[o] = '\0';
  while (letters < n && shape[letters] != 'D') letters++;
  if (letters < 3 || letters > 4 || n != letters + 9) goto bad;
  for (int i = letters; i < letters + 6; i++)
    if (shape[i] != 'D') goto bad;
  for (int i = letters + 6; i < n; i++)
    if (shape[i] == 'N') goto bad;
  return 0;
bad:
  if (outsz) out[0] = '\0';
  *err = af_strdup("rfc: must be 3 or 4 letters (A-Z, Ñ, &), 6 digits (YYMMDD) "
                   "and 3 letters or digits");
  return -1;
}

int af_crypto_blind_index(const af_keyring *kr, int keyi, const char *rfc,
                          unsigned char out[AF_CRYPTO_BIDX_LEN], char **err) {
  char norm[AF_CRYPTO_RFC_MAX * 2 + 1];
  unsigned int mdlen = 0;
  if (keyi < 0 || keyi >= kr->n) {
    *err = af_strdup("blind index: no such key");
    return -1;
  }
  if (af_crypto_rfc_normalize(rfc, norm, sizeof norm, err) != 0) return -1;
  if (HMAC(EVP_sha256(), kr->keys[keyi].bidx, KEY_LEN, (const unsigned char *)norm,
           strlen(norm), out, &mdlen) == NULL) {
    *err = af_strdup("blind index: HMAC failed");
    return -1;
  }
  OPENSSL_cleanse(norm, sizeof norm);
  return 0;
}

/* ===} */

/* {=== bytea text form ===================================================== */

char *af_crypto_bytea_hex(const unsigned char *p, size_t n) {
  static const char hex[] = "0123456789abcdef";
  char *s = af_malloc(2 * n + 3);
  if (s == NULL) return NULL;
  s[0] = '\\';
  s[1] = 'x';
  for (size_t i = 0; i < n; i++) {
    s[2 + 2 * i] = hex[p[i] >> 4];
    s[3 + 2 * i] = hex[p[i] & 15];
  }
  s[2 * n + 2] = '\0';
  return s;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int af_crypto_bytea_unhex(const char *s, unsigned char **out, size_t *outlen) {
  *out = NULL;
  if (s == NULL || s[0] != '\\' || s[1] != 'x') return -1;
  size_t n = strlen(s + 2);
  if (n % 2) return -1;
  unsigned char *b = af_malloc(n / 2 + 1);
  if (b == NULL) return -1;
  for (size_t i = 0; i < n / 2; i++) {
    int hi = hexval(s[2 + 2 * i]), lo = hexval(s[3 + 2 * i]);
    if (hi < 0 || lo < 0) {
      af_free(b);
      return -1;
    }
    b[i] = (unsigned char)(hi << 4 | lo);
  }
  *out = b;
  *outlen = n / 2;
  return 0;
}

/* ===} */

/* {=== JWT ==================================================================== */

int af_crypto_jwt_secret_check(const char *secret, char **err) {
  if (secret == NULL || strlen(secret) < 32) {
    *err = af_strdup("AF_JWT_SECRET: must be at least 32 characters");
    return -1;
  }
  return 0;
}

/* base64url without padding -> bytes; -1 on any other character. */
static int b64url_decode(const char *s, size_t n, unsigned char **out, size_t *outlen) {
  unsigned char *b = af_malloc(n * 3 / 4 + 3);
  unsigned int acc = 0;
  int bits = 0;
  size_t o = 0;
  if (b == NULL) return -1;
  if (n % 4 == 1) goto bad;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    int v = c >= 'A' && c <= 'Z'   ? c - 'A'
            : c >= 'a' && c <= 'z' ? c - 'a' + 26
            : c >= '0' && c <= '9' ? c - '0' + 52
            : c == '-'             ? 62
            : c == '_'             ? 63
                                   : -1;
    if (v < 0) goto bad;
    acc = (acc << 6) | (unsigned)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      b[o++] = (unsigned char)(acc >> bits);
    }
  }
  /* Leftover bits must be zero (one encoding per value). */
  if (acc & ((1u << bits) - 1)) goto bad;
  b[o] = '\0';
  *out = b;
  *outlen = o;
  return 0;
bad:
  af_free(b);
  return -1;
}

/* Decode segment [s, s+n) as a JSON object onto L's stack. */
static int jwt_json(lua_State *L, const char *s, size_t n) {
  unsigned char *raw = NULL;
  size_t len = 0;
  if (b64url_decode(s, n, &raw, &len) != 0) return -1;
  int rc = af_json_decode(L, (const char *)raw, len);
  af_free(raw);
  if (rc != 0 || lua_type(L, -1) != LUA_TTABLE) return -1;
  return 0;
}

int af_crypto_jwt_verify(const char *secret, const char *token, long long now,
                         af_jwt_claims *out, char **err) {
  lua_State *L = NULL;
  unsigned char *sig = NULL, mac[32];
  size_t siglen = 0;
  unsigned int maclen = 0;
  const char *why = "token: malformed";
  int rc = -1;
  memset(out, 0, sizeof *out);
  if (token == NULL || secret == NULL) goto done;
  size_t n = strnlen(token, AF_JWT_MAX + 1);
  if (n > AF_JWT_MAX) {
    why = "token: longer than 8 KiB";
    goto done;
  }
  const char *d1 = memchr(token, '.', n);
  const char *d2 = d1 ? memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - token)) : NULL;
  if (d1 == NULL || d2 == NULL || memchr(d2 + 1, '.', n - (size_t)(d2 + 1 - token))) goto done;
  L = luaL_newstate();
  if (L == NULL || af_json_open(L) != 0) {
    why = "out of memory";
    goto done;
  }
  /* Header first: refuse anything but HS256 before touching the MAC. */
  if (jwt_json(L, token, (size_t)(d1 - token)) != 0) goto done;    /* stack: hdr */
  const char *alg = af_json_str(L, -1, "alg", NULL);
  if (alg == NULL || strcmp(alg, "HS256") != 0) {
    why = "token: unsupported algorithm (HS256 only)";
    goto done;
  }
  if (b64url_decode(d2 + 1, n - (size_t)(d2 + 1 - token), &sig, &siglen) != 0) goto done;
  if (HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)token,
           (size_t)(d2 - token), mac, &maclen) == NULL) {
    why = "token: HMAC failed";
    goto done;
  }
  if (siglen != sizeof mac || CRYPTO_memcmp(sig, mac, sizeof mac) != 0) {
    why = "token: bad signature";
    goto done;
  }
  if (jwt_json(L, d1 + 1, (size_t)(d2 - d1 - 1)) != 0) goto done;  /* stack: hdr, claims */
  double exp = 0, nbf = 0;
  if (af_json_num(L, -1, "exp", &exp) != 0) {
    why = "token: exp required";
    goto done;
  }
  if ((double)now >= exp) {
    why = "token: expired";
    goto done;
  }
  if (af_json_num(L, -1, "nbf", &nbf) == 0 && (double)now < nbf) {
    why = "token: not yet valid";
    goto done;
  }
  const char *sub = af_json_str(L, -1, "sub", NULL);
  if (!af_store_is_uuid(sub)) {
    why = "token: sub must be a user UUID";
    goto done;
  }
  size_t rlen = 0;
  const char *role = af_json_str(L, -1, "role", &rlen);
  int rt = af_json_push(L, -1, "role");
  lua_pop(L, 1);
  if ((rt != LUA_TNIL && role == NULL) || rlen >= sizeof out->role) {
    why = "token: role must be a short string";
    goto done;
  }
  memcpy(out->sub, sub, 36);
  out->sub[36] = '\0';
  if (role) memcpy(out->role, role, rlen + 1);
  out->exp = (long long)exp;
  rc = 0;
done:
  if (rc != 0) {
    memset(out, 0, sizeof *out);
    *err = af_strdup(why);
  }
  af_free(sig);
  if (L) lua_close(L);
  return rc;
}

/* ===} */
