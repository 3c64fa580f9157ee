/* ID token and access token verification with cjose: algorithm allow-list,
 * signature by kid, then iss/aud/exp/nbf/iat/nonce/tid (and sub for ID
 * tokens). */
#ifndef ENTRA_JWT_H
#define ENTRA_JWT_H

#include <apr_pools.h>
#include <cjose/cjose.h>
#include <jansson.h>

/* What a token must say to be accepted. */
typedef struct {
    const char *issuer;     /* discovery issuer; "{tenantid}" is filled from tid */
    const char *client_id;  /* the audience; also what azp must be */
    const char *app_id_uri; /* a second accepted audience (api://...), or NULL */
    const char *issuer_v1;  /* for tokens with ver 1.0 (access tokens), or NULL */
    const char *nonce;      /* required value, or NULL for no nonce check */
    int require_sub;        /* an ID token: sub must be a non-empty string */
    apr_int64_t now;        /* seconds since the epoch */
    apr_int64_t skew;       /* allowed clock skew, seconds */
} entra_jwt_expect;

/* Finds the verification key for `kid`. A token without kid (NULL) gets
 * the JWKS's key only when it holds exactly one usable signing key. On
 * success returns a key borrowed for as long as `ctx` lives (the verifier
 * neither retains nor releases it: cjose's reference counts are not
 * atomic, and the key may be in use by other threads), and sets
 * *key_issuer to the key's `issuer` property or NULL. Returns NULL when no
 * key matches. */
typedef cjose_jwk_t *(*entra_key_lookup_fn)(void *ctx, const char *kid,
                                            const char **key_issuer);

/* Verifies `token`. Returns its claims (freed with the pool) or NULL with
 * *why set to a log-safe reason (never the token itself). */
json_t *entra_jwt_verify(apr_pool_t *p, const char *token, const entra_jwt_expect *want,
                         entra_key_lookup_fn lookup, void *lookup_ctx, const char **why);

/* The issuer a token must carry: `issuer`, with every literal "{tenantid}"
 * replaced by tid (which must then be a GUID). NULL if that is impossible. */
const char *entra_expected_issuer(apr_pool_t *p, const char *issuer, const char *tid);

/* Hands a jansson value to the pool: json_decref at pool cleanup. */
json_t *entra_json_pool_own(apr_pool_t *p, json_t *json);

#endif
