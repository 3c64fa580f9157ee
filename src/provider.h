/* Entra's discovery document and signing keys, fetched on first use and
 * cached per process: the metadata for a day, the JWKS for hours. A failed
 * refetch keeps the last good copy (and is retried after ENTRA_STALE_RETRY);
 * so does a refetched discovery document that names another issuer. A token
 * whose kid is unknown triggers one immediate refetch of both, then at most
 * one per ENTRA_KID_REFETCH_GAP, so key rollover (even to a new jwks_uri)
 * just works and a flood of made-up kids cannot hammer Entra. One request
 * fetches at a time, with no lock held across the call; a fetch that failed
 * with no copy to fall back on is the answer for ENTRA_FETCH_BACKOFF seconds
 * (see provider.c for what threads share and how). */
#ifndef ENTRA_PROVIDER_H
#define ENTRA_PROVIDER_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <cjose/cjose.h>

#define ENTRA_METADATA_TTL (24 * 3600)
#define ENTRA_JWKS_TTL (6 * 3600)
#define ENTRA_KID_REFETCH_GAP 300
#define ENTRA_STALE_RETRY 300
#define ENTRA_FETCH_BACKOFF 5

typedef struct {
    const char *issuer;
    const char *authorization_endpoint;
    const char *token_endpoint;
    const char *jwks_uri;
    const char *userinfo_endpoint;       /* optional */
    const char *end_session_endpoint;    /* optional */
    const char *msgraph_host;            /* optional */
    const char *cloud_instance_name;     /* optional: microsoftonline.com, ...us, ...cn */
} entra_metadata;

typedef struct entra_provider entra_provider;

/* Told (with a log-safe sentence) when a refetch failed or was refused and
 * the copy fetched before stays in use. */
typedef void (*entra_provider_warn_fn)(void *ctx, const char *message);

/* One cache for one discovery URL; lives as long as `p`. `warn` may be NULL. */
entra_provider *entra_provider_create(apr_pool_t *p, const char *discovery_url,
                                      entra_provider_warn_fn warn, void *warn_ctx);

/* Copies current metadata into `p`, fetching when missing or stale.
 * Returns NULL or a log-safe reason why no metadata is available. */
const char *entra_provider_metadata(entra_provider *pv, apr_pool_t *p, int timeout,
                                    entra_metadata *out);

/* Context for entra_provider_key_lookup (an entra_key_lookup_fn). */
typedef struct {
    entra_provider *provider;
    apr_pool_t *pool;
    int timeout;
    const char *fetch_error;   /* set when the token's key could not be looked up */
} entra_key_query;

/* An entra_key_lookup_fn: the key is borrowed until query->pool is
 * cleared (the keyset it belongs to is held that long); never release it. */
cjose_jwk_t *entra_provider_key_lookup(void *query, const char *kid, const char **key_issuer);

/* For tests: publishes a discovery document and a JWKS as if just fetched.
 * Returns NULL or why they do not parse (in `p`). */
const char *entra_provider_seed(entra_provider *pv, apr_pool_t *p, const char *metadata_json,
                                const char *jwks_json);

/* Parsers, exposed for the unit tests. They return NULL or a reason. */
const char *entra_metadata_parse(apr_pool_t *p, const char *json, apr_size_t len,
                                 entra_metadata *out);

typedef struct {
    const char *kid;
    const char *issuer;        /* the key's `issuer` property, or NULL */
    cjose_jwk_t *jwk;          /* released when the pool goes */
} entra_jwk;

/* An array of entra_jwk with only usable RSA signing keys. */
const char *entra_jwks_parse(apr_pool_t *p, const char *json, apr_size_t len,
                             apr_array_header_t **keys);

/* The key of `keys` for a token's `kid`. A token without kid (NULL) gets
 * the only key when there is exactly one, and none when there are several.
 * NULL when none fits. */
const entra_jwk *entra_jwks_select(const apr_array_header_t *keys, const char *kid);

#endif
