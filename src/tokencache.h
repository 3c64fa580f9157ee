/* Bearer tokens this process validated, so that an API client calling again
 * with the same token costs no RSA verification: a bounded map from a hash
 * of the app and the token to the claims that came of it, each kept until
 * the token expires (plus the clock skew its check allowed). Refused tokens
 * are never kept. Threads share it: entries are immutable, copied out under
 * a short lock, one of 16 (the key picks its shard); when a shard is full,
 * all of that shard goes at once. */
#ifndef ENTRA_TOKENCACHE_H
#define ENTRA_TOKENCACHE_H

#include <apr_pools.h>

typedef struct entra_token_cache entra_token_cache;

/* Lives as long as `p`; at most `max` tokens. */
entra_token_cache *entra_token_cache_create(apr_pool_t *p, unsigned int max);

/* The claims kept under `key` (copied into `p`), and until when they are
 * (valid_until may be NULL), or NULL when there are none or they are past
 * their time at `now`. */
const unsigned char *entra_token_cache_get(entra_token_cache *c, apr_pool_t *p, const char *key,
                                           apr_int64_t now, apr_size_t *len,
                                           apr_int64_t *valid_until);

/* Keeps `data` under `key` until `valid_until`. */
void entra_token_cache_put(entra_token_cache *c, const char *key, const unsigned char *data,
                           apr_size_t len, apr_int64_t valid_until);

#endif
