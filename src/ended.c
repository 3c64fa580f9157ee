/* The table of ended sids (see ended.h): open addressing over a fixed
 * window of slots, on memory the caller provides. Nothing here talks to
 * httpd; the shared memory and its mutex are in socache.c. */
#include "ended.h"

#include <string.h>

/* How far from its home slot an entry may land. */
#define WINDOW 64

typedef struct {
    unsigned char hash[16];
    apr_int64_t expires;        /* 0: never used */
} entry;

/* Kept across graceful restarts: a module of another layout starts over. */
#define MAGIC 0x454e4431u       /* "END1" */

struct entra_ended_table {
    apr_uint32_t magic;
    apr_uint32_t slots;         /* a power of two */
    apr_uint32_t count;         /* added since the table was made */
    apr_int64_t bucket_at;      /* the rate limit's token bucket */
    apr_int64_t tokens;
    entry entries[];
};

apr_size_t entra_ended_table_size(apr_uint32_t slots)
{
    return sizeof(entra_ended_table) + (apr_size_t)slots * sizeof(entry);
}

entra_ended_table *entra_ended_table_init(void *mem, apr_uint32_t slots)
{
    entra_ended_table *t = mem;

    memset(mem, 0, entra_ended_table_size(slots));
    t->magic = MAGIC;
    t->slots = slots;
    t->tokens = ENTRA_ENDED_RATE;
    return t;
}

static apr_uint32_t home(const entra_ended_table *t, const unsigned char hash[16])
{
    return ((apr_uint32_t)hash[0] << 24 | (apr_uint32_t)hash[1] << 16
            | (apr_uint32_t)hash[2] << 8 | hash[3]) & (t->slots - 1);
}

static entry *slot_at(entra_ended_table *t, apr_uint32_t start, int i)
{
    return &t->entries[(start + (apr_uint32_t)i) & (t->slots - 1)];
}

int entra_ended_table_add(entra_ended_table *t, const unsigned char hash[16],
                          apr_int64_t expires, apr_int64_t now)
{
    apr_uint32_t start = home(t, hash);
    entry *use = NULL, *e;
    int i;

    for (i = 0; i < WINDOW; i++) {
        e = slot_at(t, start, i);
        if (e->expires && memcmp(e->hash, hash, 16) == 0) {
            if (expires > e->expires)
                e->expires = expires;
            return 1;
        }
        /* a free or expired slot first; else the one nearest its end */
        if (!use || (use->expires > now && (e->expires <= now || e->expires < use->expires)))
            use = e;
    }
    __atomic_add_fetch(&t->count, 1, __ATOMIC_RELEASE);
    i = use->expires <= now;
    memcpy(use->hash, hash, 16);
    use->expires = expires;
    return i;
}

int entra_ended_table_has(const entra_ended_table *t, const unsigned char hash[16],
                          apr_int64_t now)
{
    apr_uint32_t start = home(t, hash);
    int i;

    for (i = 0; i < WINDOW; i++) {
        const entry *e = slot_at((entra_ended_table *)t, start, i);
        if (e->expires > now && memcmp(e->hash, hash, 16) == 0)
            return 1;
    }
    return 0;
}

apr_uint32_t entra_ended_table_count(const entra_ended_table *t)
{
    return __atomic_load_n(&t->count, __ATOMIC_ACQUIRE);
}

int entra_ended_table_is(const void *mem, apr_uint32_t slots)
{
    const entra_ended_table *t = mem;

    return t->magic == MAGIC && t->slots == slots;
}

int entra_ended_table_admit(entra_ended_table *t, apr_int64_t now)
{
    /* a clock stepped back refills from now on, not an hour later */
    if (now < t->bucket_at)
        t->bucket_at = now;
    if (now > t->bucket_at) {
        apr_int64_t refill = (now - t->bucket_at) * ENTRA_ENDED_RATE;
        t->tokens = t->tokens + refill > ENTRA_ENDED_RATE ? ENTRA_ENDED_RATE : t->tokens + refill;
        t->bucket_at = now;
    }
    if (t->tokens <= 0)
        return 0;
    t->tokens--;
    return 1;
}
