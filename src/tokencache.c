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

struct entra_token_cache {
    apr_thread_mutex_t *lock;   /* guards what follows; held for a lookup or a copy */
    apr_pool_t *pool;           /* holds the map and its entries; replaced when full */
    apr_hash_t *map;            /* key -> kept_token */
    unsigned int max;
    apr_size_t bytes;           /* held by the entries of this map */
};

/* Bounded in bytes too: a tenant that can mint tokens can mint big ones. */
#define BYTES_MAX (4 * 1024 * 1024)

static apr_status_t drop_pool(void *data)
{
    entra_token_cache *c = data;

    if (c->pool)
        apr_pool_destroy(c->pool);
    c->pool = NULL;
    return APR_SUCCESS;
}

/* An unmanaged pool: its own allocator, used only under the lock. */
static void fresh_map(entra_token_cache *c)
{
    if (c->pool)
        apr_pool_destroy(c->pool);
    c->pool = NULL;
    apr_pool_create_unmanaged_ex(&c->pool, NULL, NULL);
    c->map = apr_hash_make(c->pool);
    c->bytes = 0;
}

entra_token_cache *entra_token_cache_create(apr_pool_t *p, unsigned int max)
{
    entra_token_cache *c = apr_pcalloc(p, sizeof(*c));

    c->max = max;
    apr_thread_mutex_create(&c->lock, APR_THREAD_MUTEX_DEFAULT, p);
    fresh_map(c);
    apr_pool_cleanup_register(p, c, drop_pool, apr_pool_cleanup_null);
    return c;
}

const unsigned char *entra_token_cache_get(entra_token_cache *c, apr_pool_t *p, const char *key,
                                           apr_int64_t now, apr_size_t *len)
{
    unsigned char *copy = NULL;
    kept_token *t;

    apr_thread_mutex_lock(c->lock);
    t = apr_hash_get(c->map, key, APR_HASH_KEY_STRING);
    if (t && now < t->valid_until) {
        copy = apr_pmemdup(p, t->data, t->len + 1);
        *len = t->len;
    }
    apr_thread_mutex_unlock(c->lock);
    return copy;
}

void entra_token_cache_put(entra_token_cache *c, const char *key, const unsigned char *data,
                           apr_size_t len, apr_int64_t valid_until)
{
    apr_size_t need = len + strlen(key) + sizeof(kept_token) + 2;
    kept_token *t;

    if (need > BYTES_MAX / 16)
        return;     /* one token is never worth a sixteenth of the cache */
    apr_thread_mutex_lock(c->lock);
    /* threads that missed the same token at once: the first copy stays */
    if (apr_hash_get(c->map, key, APR_HASH_KEY_STRING)) {
        apr_thread_mutex_unlock(c->lock);
        return;
    }
    /* Bounded: many distinct tokens (or a client minting them) empty it
     * rather than grow it. */
    if (apr_hash_count(c->map) >= c->max || c->bytes + need > BYTES_MAX)
        fresh_map(c);
    t = apr_palloc(c->pool, sizeof(*t));
    t->valid_until = valid_until;
    t->len = len;
    t->data = apr_palloc(c->pool, len + 1);
    memcpy(t->data, data, len);
    t->data[len] = '\0';
    apr_hash_set(c->map, apr_pstrdup(c->pool, key), APR_HASH_KEY_STRING, t);
    c->bytes += need;
    apr_thread_mutex_unlock(c->lock);
}
