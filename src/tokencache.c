/* Validated bearer tokens, per process (see tokencache.h). */
#include "tokencache.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <string.h>

typedef struct {
    apr_int64_t valid_until;
    apr_size_t len;
    unsigned char *data;
} kept_token;

/* One of SHARDS independent maps: a token's key picks its shard, so the
 * threads of a busy process seldom wait on the same lock. */
typedef struct {
    apr_thread_mutex_t *lock;   /* guards what follows; held for a lookup or a copy */
    apr_pool_t *pool;           /* holds the map and its entries; replaced when full */
    apr_hash_t *map;            /* key -> kept_token */
    apr_size_t bytes;           /* held by the entries of this map */
} shard;

#define SHARDS 16

struct entra_token_cache {
    unsigned int max;           /* tokens per shard */
    shard shards[SHARDS];
};

/* Bounded in bytes too: a tenant that can mint tokens can mint big ones. */
#define BYTES_MAX (4 * 1024 * 1024)
#define SHARD_BYTES_MAX (BYTES_MAX / SHARDS)

static apr_status_t drop_pools(void *data)
{
    entra_token_cache *c = data;
    int i;

    for (i = 0; i < SHARDS; i++) {
        if (c->shards[i].pool)
            apr_pool_destroy(c->shards[i].pool);
        c->shards[i].pool = NULL;
    }
    return APR_SUCCESS;
}

/* An unmanaged pool: its own allocator, used only under the shard's lock. */
static void fresh_map(shard *sh)
{
    if (sh->pool)
        apr_pool_destroy(sh->pool);
    sh->pool = NULL;
    apr_pool_create_unmanaged_ex(&sh->pool, NULL, NULL);
    sh->map = apr_hash_make(sh->pool);
    sh->bytes = 0;
}

entra_token_cache *entra_token_cache_create(apr_pool_t *p, unsigned int max)
{
    entra_token_cache *c = apr_pcalloc(p, sizeof(*c));
    int i;

    c->max = max / SHARDS ? max / SHARDS : 1;
    for (i = 0; i < SHARDS; i++) {
        apr_thread_mutex_create(&c->shards[i].lock, APR_THREAD_MUTEX_DEFAULT, p);
        fresh_map(&c->shards[i]);
    }
    apr_pool_cleanup_register(p, c, drop_pools, apr_pool_cleanup_null);
    return c;
}

/* The keys are digests (bearer.c), evenly spread in their first bytes. */
static shard *shard_of(entra_token_cache *c, const char *key)
{
    unsigned int h = 0;

    for (; *key && h < 0x1000000u; key++)
        h = h * 31 + (unsigned char)*key;
    return &c->shards[h % SHARDS];
}

const unsigned char *entra_token_cache_get(entra_token_cache *c, apr_pool_t *p, const char *key,
                                           apr_int64_t now, apr_size_t *len,
                                           apr_int64_t *valid_until)
{
    shard *sh = shard_of(c, key);
    unsigned char *copy = NULL;
    kept_token *t;

    apr_thread_mutex_lock(sh->lock);
    t = apr_hash_get(sh->map, key, APR_HASH_KEY_STRING);
    if (t && now < t->valid_until) {
        copy = apr_pmemdup(p, t->data, t->len + 1);
        *len = t->len;
        if (valid_until)
            *valid_until = t->valid_until;
    }
    apr_thread_mutex_unlock(sh->lock);
    return copy;
}

void entra_token_cache_put(entra_token_cache *c, const char *key, const unsigned char *data,
                           apr_size_t len, apr_int64_t valid_until)
{
    shard *sh = shard_of(c, key);
    apr_size_t need = len + strlen(key) + sizeof(kept_token) + 2;
    kept_token *t;

    if (need > SHARD_BYTES_MAX / 4)
        return;     /* one token is never worth a quarter of a shard */
    apr_thread_mutex_lock(sh->lock);
    /* threads that missed the same token at once: the first copy stays */
    if (apr_hash_get(sh->map, key, APR_HASH_KEY_STRING)) {
        apr_thread_mutex_unlock(sh->lock);
        return;
    }
    /* Bounded: many distinct tokens (or a client minting them) empty the
     * shard rather than grow it. */
    if (apr_hash_count(sh->map) >= c->max || sh->bytes + need > SHARD_BYTES_MAX)
        fresh_map(sh);
    t = apr_palloc(sh->pool, sizeof(*t));
    t->valid_until = valid_until;
    t->len = len;
    t->data = apr_palloc(sh->pool, len + 1);
    memcpy(t->data, data, len);
    t->data[len] = '\0';
    apr_hash_set(sh->map, apr_pstrdup(sh->pool, key), APR_HASH_KEY_STRING, t);
    sh->bytes += need;
    apr_thread_mutex_unlock(sh->lock);
}
