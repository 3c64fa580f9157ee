/* Authenticated encryption for the module's cookies. Keys come from
 * EntraSessionKey through HKDF-SHA256; the first key seals, every key opens
 * (rotation). AES-256-GCM straight through OpenSSL's EVP interface: the
 * signed-in fast path must cost one AEAD open, with no JSON header to parse
 * as a JWE would need. */
#ifndef ENTRA_CRYPTO_H
#define ENTRA_CRYPTO_H

#include <apr_pools.h>
#include <apr_tables.h>

#define ENTRA_KEY_MIN_SECRET 32

typedef struct {
    unsigned char key[32];
    unsigned char hint;      /* which key sealed a cookie, to skip the others */
    char id[33];             /* names the key, not secret (hex, from the same
                              * derivation): what opens with this key */
} entra_key;

/* An array of entra_key; element 0 seals. */
typedef apr_array_header_t entra_keyring;

entra_keyring *entra_keyring_make(apr_pool_t *p);

/* Derives a key from `secret` and appends it. Returns an error text or NULL. */
const char *entra_keyring_add(entra_keyring *ring, const char *secret, apr_size_t len);

/* The ring's keys bound to one app: each key is derived again (HKDF) with
 * `app` (client id, tenant, authority...) as its info, so what one app seals
 * never opens at another that shares EntraSessionKey. A new ring from `p`. */
entra_keyring *entra_keyring_bind(apr_pool_t *p, const entra_keyring *ring, const char *app);

/* Seals `plain` for `purpose` (bound as associated data, so a state cookie
 * can never pass as a session cookie). Returns base64url text or NULL. */
char *entra_seal(apr_pool_t *p, const entra_keyring *ring, const char *purpose,
                 const unsigned char *plain, apr_size_t len);

/* Opens what entra_seal made. NULL when it is malformed, tampered with,
 * sealed for another purpose or by a key not in the ring. The result is
 * NUL-terminated (not counted in *len). */
unsigned char *entra_open(apr_pool_t *p, const entra_keyring *ring, const char *purpose,
                          const char *sealed, apr_size_t *len);

/* Fetches what the per-request paths use once (OpenSSL 3 would look them
 * up in its providers on every call); at start-up, single-threaded. */
void entra_crypto_init(void);

/* SHA-256 of parts[0], "\n", parts[1], ... parts[n-1] into `digest` (32
 * bytes), without joining them first; 0 when OpenSSL fails. */
int entra_sha256_parts(const char *const *parts, int n, unsigned char *digest);

/* The first `nchars` (at most 64) hex digits of SHA-256(text). */
char *entra_sha256_hex(apr_pool_t *p, const char *text, int nchars);

/* base64url(SHA-256(text)), for the PKCE S256 challenge. */
char *entra_sha256_b64url(apr_pool_t *p, const char *text);

#endif
