/* Per-process copies of a local store's values (see localcopy.h). */
#include "localcopy.h"

#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <stdlib.h>
#include <string.h>

#define STRIPES 16

typedef struct {
    char *key;                  /* malloc'd, as is value: the slots outlive requests */
    unsigned char *value;
    unsigned int len;
    apr_uint64_t gen;
    apr_time_t at;
} copy;

struct entra_local_copies {
    apr_thread_mutex_t *lock[STRIPES];  /* slot i is guarded by lock[i % STRIPES] */
    copy slot[ENTRA_LOCAL_COPIES];
};

static apr_status_t free_copies(void *data)
{
    entra_local_copies *lc = data;
    int i;

    for (i = 0; i < ENTRA_LOCAL_COPIES; i++) {
        free(lc->slot[i].key);
        free(lc->slot[i].value);
    }
    return APR_SUCCESS;
}

entra_local_copies *entra_local_copies_create(apr_pool_t *p)
{
    entra_local_copies *lc = apr_pcalloc(p, sizeof(*lc));
    int i;

    for (i = 0; i < STRIPES; i++) {
        if (apr_thread_mutex_create(&lc->lock[i], APR_THREAD_MUTEX_DEFAULT, p) != APR_SUCCESS)
            return NULL;
    }
    apr_pool_cleanup_register(p, lc, free_copies, apr_pool_cleanup_null);
    return lc;
}

/* The slot: a hash of the key's first and last 16 bytes and its length.
 * The keys are a digest with a suffix (shmcb) or a prefix with a sealed
 * value (session.c), random at one end; hashing a few KB of sealed value
 * byte by byte would cost what the copy saves. Equality is always checked
 * on the whole key. */
static unsigned int slot_of(const char *key)
{
    apr_size_t len = strlen(key), i;
    unsigned int h = 2166136261u ^ (unsigned int)len;

    for (i = 0; i < len && i < 16; i++)
        h = (h ^ (unsigned char)key[i]) * 16777619u;
    for (i = len > 32 ? len - 16 : (len > 16 ? 16 : len); i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 16777619u;
    return h % ENTRA_LOCAL_COPIES;
}

const unsigned char *entra_local_copy_get(entra_local_copies *lc, apr_pool_t *p,
                                          const char *key, apr_uint64_t gen, apr_time_t now,
                                          unsigned int *len)
{
    unsigned int i = slot_of(key);
    unsigned char *out = NULL;
    copy *c = &lc->slot[i];

    apr_thread_mutex_lock(lc->lock[i % STRIPES]);
    if (c->key && c->gen == gen && now >= c->at && now - c->at < ENTRA_LOCAL_COPY_TTL
        && strcmp(c->key, key) == 0) {
        out = apr_palloc(p, c->len + 1);
        memcpy(out, c->value, c->len);
        out[c->len] = '\0';
        *len = c->len;
    }
    apr_thread_mutex_unlock(lc->lock[i % STRIPES]);
    return out;
}

void entra_local_copy_put(entra_local_copies *lc, const char *key, const unsigned char *value,
                          unsigned int len, apr_uint64_t gen, apr_time_t now)
{
    unsigned int i = slot_of(key);
    char *k;
    unsigned char *v;
    copy *c = &lc->slot[i];

    if (len > ENTRA_LOCAL_COPY_MAX)
        return;
    /* made outside the lock; a slot that cannot be filled is left empty */
    k = strdup(key);
    v = malloc(len ? len : 1);
    if (v && len)
        memcpy(v, value, len);
    apr_thread_mutex_lock(lc->lock[i % STRIPES]);
    free(c->key);
    free(c->value);
    c->key = k && v ? k : NULL;
    c->value = k && v ? v : NULL;
    c->len = len;
    c->gen = gen;
    c->at = now;
    apr_thread_mutex_unlock(lc->lock[i % STRIPES]);
    if (!k || !v) {
        free(k);
        free(v);
    }
}
