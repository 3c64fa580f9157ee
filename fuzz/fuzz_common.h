/* Shared by the libFuzzer targets fuzz/fuzz_*.c: a fixed clock, fixed keys,
 * a fresh APR pool per input whose allocations ASan can see, and helpers to
 * cut an input into the pieces a target needs. See fuzz/README. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <apr_pools.h>
#include <apr_tables.h>
#include <cjose/cjose.h>
#include <openssl/evp.h>

#include "../src/crypto.h"

/* The clock every target (and every committed seed) uses. */
#define FUZZ_NOW ((apr_int64_t)1700000000)
#define FUZZ_SKEW 300

/* The identities of t/conf/extra.conf.in and the mock (t/mock). */
#define FUZZ_TENANT "4d3c2b1a-9e8f-4a7b-8c6d-5e4f3a2b1c0d"
#define FUZZ_OTHER_TENANT "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
#define FUZZ_CLIENT_ID "6731de76-14a6-49ae-97bc-6eba6914391e"
#define FUZZ_APP_ID_URI "api://6731de76-14a6-49ae-97bc-6eba6914391e"
#define FUZZ_AUTHORITY "https://login.microsoftonline.com"
#define FUZZ_ISSUER FUZZ_AUTHORITY "/" FUZZ_TENANT "/v2.0"
#define FUZZ_ISSUER_TEMPLATE FUZZ_AUTHORITY "/{tenantid}/v2.0"
#define FUZZ_ISSUER_V1 "https://sts.windows.net/" FUZZ_TENANT "/"
#define FUZZ_NONCE "n-0S6_WzA2Mj-fuzz-nonce-value"
/* A state parameter of the right shape (22 base64url characters). */
#define FUZZ_STATE "c3RhdGUtZm9yLWZ1enppbmc"

/* EntraSessionKey values: this server's (seals and opens), the key it
 * rotated away from (opens only), and another server's (never opens). */
#define FUZZ_SECRET_MAIN "fuzz-session-key-0123456789abcdefghijklmnop"
#define FUZZ_SECRET_OLD "fuzz-old-session-key-ZYXWVUTSRQPONMLKJIHGFEDCBA"
#define FUZZ_SECRET_OTHER "another-servers-session-key-0123456789ABCDEF"

/* A failed oracle: print what and abort, which libFuzzer reports as a crash
 * and saves the input for. */
#define FUZZ_CHECK(cond, ...)                                                   \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "\nfuzz oracle failed at %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
            abort();                                                            \
        }                                                                       \
    } while (0)

/* FUZZ_VERBOSE=1 in the environment: each target says what became of an
 * input (accepted, or refused and why), to understand a seed or a crash. */
int fuzz_verbose(void);
#define FUZZ_SAY(...)                                                           \
    do {                                                                        \
        if (fuzz_verbose()) {                                                   \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
        }                                                                       \
    } while (0)

/* Once per process (LLVMFuzzerInitialize calls it). Idempotent. */
void fuzz_init(void);

/* A fresh pool for one input; fuzz_end destroys it and frees everything
 * allocated from pools since fuzz_begin. */
apr_pool_t *fuzz_begin(void);
void fuzz_end(apr_pool_t *p);

/* The pool that lives as long as the process (keys, fixed tokens). */
apr_pool_t *fuzz_root(void);

/* The ring this server uses: FUZZ_SECRET_MAIN seals, FUZZ_SECRET_OLD opens
 * too. And a ring with only the other server's key; and one with only the
 * old key. */
entra_keyring *fuzz_ring(void);
entra_keyring *fuzz_ring_other(void);
entra_keyring *fuzz_ring_old(void);

/* The input as a NUL-terminated string (stops at an embedded NUL, as any
 * header or query httpd hands a module would). */
char *fuzz_cstr(apr_pool_t *p, const uint8_t *data, size_t size);

/* Cuts off the text up to the first '\n' (returned, NUL-terminated) and
 * advances data and size past it; the whole rest when there is no '\n'. */
char *fuzz_take_line(apr_pool_t *p, const uint8_t **data, size_t *size);

/* One byte from the front (0 when empty). */
unsigned fuzz_take_byte(const uint8_t **data, size_t *size);

/* Request headers from "Name: value" lines ('\n' separated; a line without
 * ':' becomes a header with an empty value; names keep their spelling). */
apr_table_t *fuzz_headers(apr_pool_t *p, const char *text);

/* The fixed RSA keys of fuzz_keys.h: key 1 signs the seeds; key 2 is a
 * second published key. Public JWKs (retained by the caller as needed) and
 * key 1's private key for OpenSSL. */
cjose_jwk_t *fuzz_jwk(int n);
EVP_PKEY *fuzz_private_key(int n);

/* base64url(header) "." base64url(payload) "." base64url(RS256 signature by
 * private key n over the first two parts): any header bytes at all, with a
 * signature that verifies. */
char *fuzz_sign_rs256(apr_pool_t *p, int n, const void *header, size_t header_len,
                      const void *payload, size_t payload_len);

/* The same with an HMAC-SHA256 keyed by `key` (the "HS256 signed with the
 * public key" attack). */
char *fuzz_sign_hs256(apr_pool_t *p, const void *key, size_t key_len, const void *header,
                      size_t header_len, const void *payload, size_t payload_len);

#endif
