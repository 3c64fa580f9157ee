/* Per-process copies of a session store's values (see localcopy.h). */
#include "localcopy.h"
#include "ct.h"

#include <openssl/crypto.h>
#include <apr_strings.h>
#include <apr_thread_rwlock.h>
#include <stdlib.h>
#include <string.h>

#define STRIPES 16

typedef struct {
    char *key;                  /* malloc'd, as is value: the slots outlive requests */
    apr_size_t key_len;
    unsigned char *value;
    unsigned int len;
    apr_uint64_t gen;
    apr_time_t at;
    apr_uint32_t serial;        /* which copy the slot holds (while_in_use) */
    apr_uint32_t users;         /* requests under way that use it: changed
                                 * atomically under the read lock */
    apr_uint32_t renewing;      /* a request is looking it up again: set
                                 * atomically under the read lock */
} copy;

struct entra_local_copies {
    apr_interval_time_t ttl;
    apr_interval_time_t refresh_after;  /* 0: never ahead of the ttl */
    int while_in_use;
    apr_uint32_t serials;
    apr_uint64_t *shared;       /* requests under way in every process, or NULL */
    /* slot i is guarded by lock[i % STRIPES]: read-locked to copy out, so
     * the threads of a process that all want one hot copy (one busy user)
     * do not queue; write-locked to change it */
    apr_thread_rwlock_t *lock[STRIPES];
    copy slot[ENTRA_LOCAL_COPIES];
};

/* The keys and values can be sessions: wiped before the memory goes. */
static void wipe(char *key, apr_size_t key_len, unsigned char *value, unsigned int len)
{
    if (key) {
        OPENSSL_cleanse(key, key_len);
        free(key);
    }
    if (value) {
        OPENSSL_cleanse(value, len);
        free(value);
    }
}

static void empty_slot(copy *c)
{
    wipe(c->key, c->key_len, c->value, c->len);
    c->key = NULL;
    c->value = NULL;
}

static apr_status_t free_copies(void *data)
{
    entra_local_copies *lc = data;
    int i;

    for (i = 0; i < ENTRA_LOCAL_COPIES; i++)
        empty_slot(&lc->slot[i]);
    return APR_SUCCESS;
}

entra_local_copies *entra_local_copies_create(apr_pool_t *p, apr_interval_time_t ttl,
                                              int while_in_use)
{
    entra_local_copies *lc = apr_pcalloc(p, sizeof(*lc));
    int i;

    lc->ttl = ttl;
    lc->while_in_use = while_in_use;
    for (i = 0; i < STRIPES; i++) {
        if (apr_thread_rwlock_create(&lc->lock[i], p) != APR_SUCCESS)
            return NULL;
    }
    apr_pool_cleanup_register(p, lc, free_copies, apr_pool_cleanup_null);
    return lc;
}

void entra_local_copies_refresh_after(entra_local_copies *lc, apr_interval_time_t after)
{
    lc->refresh_after = after;
}

/* The slot: a hash of the key's first and last 16 bytes and its length.
 * The keys are a digest with a suffix (shmcb) or a prefix with a sealed
 * value (session.c), random at one end; hashing a few KB of sealed value
 * byte by byte would cost what the copy saves. Equality is always checked
 * on the whole key. */
static unsigned int slot_of(const char *key, apr_size_t len)
{
    apr_size_t i;
    unsigned int h = 2166136261u ^ (unsigned int)len;

    for (i = 0; i < len && i < 16; i++)
        h = (h ^ (unsigned char)key[i]) * 16777619u;
    for (i = len > 32 ? len - 16 : (len > 16 ? 16 : len); i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 16777619u;
    return h % ENTRA_LOCAL_COPIES;
}

/* ---- requests under way in every process (entra_local_copies_share):
 * a word a key, its fingerprint above FP_SHIFT, when its count last rose
 * from nothing (STAMP_BITS of ~1 s units) below that, and its count below
 * STAMP_SHIFT; a word is zero when no request of its key is under way.
 *
 * A process killed with a request under way (a segfault, the SIGKILL after
 * a stop's grace) never ends its use, and the words are kept across
 * restarts: a count is believed only for BELIEVED units after it rose from
 * nothing. Past that, the word is taken anew by the next request of any
 * key; the uses it had still end against it, which can only bring a count
 * to nothing early (a lookup more), never keep a key in use. */
#define STAMP_SHIFT 24
#define STAMP_BITS 16
#define FP_SHIFT (STAMP_SHIFT + STAMP_BITS)
#define COUNT_MASK ((APR_UINT64_C(1) << STAMP_SHIFT) - 1)
#define STAMP_MASK ((APR_UINT64_C(1) << STAMP_BITS) - 1)
#define BELIEVED 8                  /* units of 2^20 us: ~8 s */

void entra_local_copies_share(entra_local_copies *lc, apr_uint64_t *words)
{
    lc->shared = words;
}

/* FNV-1a over the whole key: the word and the fingerprint. */
static apr_uint64_t key_hash(const char *key, apr_size_t len)
{
    apr_uint64_t h = APR_UINT64_C(14695981039346656037);
    apr_size_t i;

    for (i = 0; i < len; i++)
        h = (h ^ (unsigned char)key[i]) * APR_UINT64_C(1099511628211);
    return h;
}

/* the word's index is the hash's low bits, the fingerprint its high ones */
static apr_uint64_t fingerprint(apr_uint64_t h)
{
    return (h >> FP_SHIFT) | 1;
}

static apr_uint64_t stamp_of(apr_time_t now)
{
    return ((apr_uint64_t)now >> 20) & STAMP_MASK;
}

/* A word whose count is still believed at `now` (a clock set back makes
 * it a word no longer believed: a lookup more). */
static int believed(apr_uint64_t w, apr_time_t now)
{
    return w && ((stamp_of(now) - ((w >> STAMP_SHIFT) & STAMP_MASK)) & STAMP_MASK) < BELIEVED;
}

/* One more request of the key under way; the word counted in, or -1 when
 * another key holds it (or it is full). */
static int shared_begin(const entra_local_copies *lc, apr_uint64_t h, apr_time_t now)
{
    unsigned int i = (unsigned int)(h % ENTRA_LOCAL_SHARED_SLOTS);
    apr_uint64_t *w, fp = fingerprint(h), old, next;

    if (!lc->shared)
        return -1;
    w = lc->shared + i;
    old = __atomic_load_n(w, __ATOMIC_ACQUIRE);
    do {
        if (believed(old, now)) {
            if ((old >> FP_SHIFT) != fp || (old & COUNT_MASK) == COUNT_MASK)
                return -1;
            next = old + 1;
        }
        else        /* free, or a count no longer believed: taken anew */
            next = (fp << FP_SHIFT) | (stamp_of(now) << STAMP_SHIFT) | 1;
    } while (!__atomic_compare_exchange_n(w, &old, next, 1, __ATOMIC_ACQ_REL,
                                          __ATOMIC_ACQUIRE));
    return (int)i;
}

static void shared_end(const entra_local_copies *lc, int i)
{
    apr_uint64_t *w = lc->shared + i, old = __atomic_load_n(w, __ATOMIC_ACQUIRE);

    do {
        if (!(old & COUNT_MASK))
            return;
    } while (!__atomic_compare_exchange_n(w, &old, (old & COUNT_MASK) == 1 ? 0 : old - 1, 1,
                                          __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
}

static int shared_in_use(const entra_local_copies *lc, apr_uint64_t h, apr_time_t now)
{
    apr_uint64_t w;

    if (!lc->shared)
        return 0;
    w = __atomic_load_n(lc->shared + h % ENTRA_LOCAL_SHARED_SLOTS, __ATOMIC_ACQUIRE);
    return believed(w, now) && (w >> FP_SHIFT) == fingerprint(h);
}

/* One use of a copy, from a get or put until its pool goes. */
typedef struct {
    entra_local_copies *lc;
    unsigned int slot;
    apr_uint32_t serial;
    int shared;                 /* its word, or -1 */
} use;

static apr_status_t use_ends(void *data)
{
    use *u = data;
    copy *c = &u->lc->slot[u->slot];

    apr_thread_rwlock_rdlock(u->lc->lock[u->slot % STRIPES]);
    if (c->key && c->serial == u->serial)
        __atomic_sub_fetch(&c->users, 1, __ATOMIC_ACQ_REL);
    apr_thread_rwlock_unlock(u->lc->lock[u->slot % STRIPES]);
    if (u->shared >= 0)
        shared_end(u->lc, u->shared);
    return APR_SUCCESS;
}

static void use_begins(entra_local_copies *lc, apr_pool_t *p, unsigned int slot,
                       apr_uint32_t serial, apr_uint64_t h, apr_time_t now)
{
    use *u = apr_palloc(p, sizeof(*u));

    u->lc = lc;
    u->slot = slot;
    u->serial = serial;
    u->shared = shared_begin(lc, h, now);
    apr_pool_cleanup_register(p, u, use_ends, apr_pool_cleanup_null);
}

/* Whether this request is the one to look a copy up again (under the
 * read lock; one request a copy). */
static int renews(const entra_local_copies *lc, copy *c, apr_time_t now)
{
    return lc->refresh_after && now - c->at >= lc->refresh_after
           && __atomic_exchange_n(&c->renewing, 1, __ATOMIC_ACQ_REL) == 0;
}

/* What a request does with a usable copy */
enum { TAKE_OR_RENEW, TAKE, COUNT_ONLY };

/* The copy of `key` usable at `gen` and `now` (how: taken, copied into
 * `p`, unless this request is to renew it; or only counted as in use by
 * the request of `p`). Whether there was one for it. */
static int use_copy(entra_local_copies *lc, apr_pool_t *p, const char *key, apr_uint64_t gen,
                    apr_time_t now, int how, const unsigned char **value, unsigned int *len)
{
    apr_size_t key_len = strlen(key);
    unsigned int i = slot_of(key, key_len);
    unsigned char *out;
    copy *c = &lc->slot[i];
    apr_uint64_t h = lc->while_in_use ? key_hash(key, key_len) : 0;
    apr_time_t expired_at = 0;     /* the copy found too old, by when it was made */
    int used = 0;

    apr_thread_rwlock_rdlock(lc->lock[i % STRIPES]);
    /* A copy a little younger than `now` was read after this request came
     * (another thread took the clock later): it is good. One a whole time
     * younger is from before the clock was set back: it is not. */
    if (c->key && (now - c->at >= lc->ttl || c->at - now >= lc->ttl))
        expired_at = c->at ? c->at : 1;
    /* compared in constant time: a key can be a session cookie */
    else if (c->key && c->gen == gen && c->key_len == key_len
             && (!lc->while_in_use || __atomic_load_n(&c->users, __ATOMIC_ACQUIRE) > 0
                 || shared_in_use(lc, h, now))
             && entra_ct_equal(c->key, key, key_len)
             && (how != TAKE_OR_RENEW || !renews(lc, c, now))) {
        used = 1;
        if (how != COUNT_ONLY) {
            out = apr_palloc(p, c->len + 1);
            memcpy(out, c->value, c->len);
            out[c->len] = '\0';
            *value = out;
            *len = c->len;
        }
        if (lc->while_in_use) {
            __atomic_add_fetch(&c->users, 1, __ATOMIC_ACQ_REL);
            use_begins(lc, p, i, c->serial, h, now);
        }
    }
    apr_thread_rwlock_unlock(lc->lock[i % STRIPES]);
    if (expired_at) {
        /* too old for anyone: its memory goes now, unless a thread put a
         * new copy there meanwhile */
        apr_thread_rwlock_wrlock(lc->lock[i % STRIPES]);
        if (c->key && c->at == expired_at)
            empty_slot(c);
        apr_thread_rwlock_unlock(lc->lock[i % STRIPES]);
    }
    return used;
}

const unsigned char *entra_local_copy_get(entra_local_copies *lc, apr_pool_t *p,
                                          const char *key, apr_uint64_t gen, apr_time_t now,
                                          unsigned int *len)
{
    const unsigned char *value = NULL;

    return use_copy(lc, p, key, gen, now, TAKE_OR_RENEW, &value, len) ? value : NULL;
}

const unsigned char *entra_local_copy_peek(entra_local_copies *lc, apr_pool_t *p,
                                           const char *key, apr_uint64_t gen, apr_time_t now,
                                           unsigned int *len)
{
    const unsigned char *value = NULL;

    return use_copy(lc, p, key, gen, now, TAKE, &value, len) ? value : NULL;
}

int entra_local_copy_count_use(entra_local_copies *lc, apr_pool_t *p, const char *key,
                               apr_uint64_t gen, apr_time_t now)
{
    return use_copy(lc, p, key, gen, now, COUNT_ONLY, NULL, NULL);
}

/* Under the slot's write lock. */
static int holds(const copy *c, const char *key, apr_size_t key_len)
{
    return c->key && c->key_len == key_len && entra_ct_equal(c->key, key, key_len);
}

void entra_local_copy_drop(entra_local_copies *lc, const char *key)
{
    apr_size_t key_len = strlen(key);
    unsigned int i = slot_of(key, key_len);

    apr_thread_rwlock_wrlock(lc->lock[i % STRIPES]);
    if (holds(&lc->slot[i], key, key_len))
        empty_slot(&lc->slot[i]);
    apr_thread_rwlock_unlock(lc->lock[i % STRIPES]);
}

/* A copy of the key from a later lookup stays: an answer that was slow to
 * come does not take a session back (under the write lock). The request
 * counts as one of its users: it is one of the key under way. */
static int newer_kept(entra_local_copies *lc, apr_pool_t *p, unsigned int i, const char *key,
                      apr_size_t key_len, apr_uint64_t gen, apr_time_t now)
{
    copy *c = &lc->slot[i];

    if (!holds(c, key, key_len) || c->at <= now || c->at - now >= lc->ttl || c->gen < gen)
        return 0;
    if (lc->while_in_use) {
        __atomic_add_fetch(&c->users, 1, __ATOMIC_ACQ_REL);
        use_begins(lc, p, i, c->serial, key_hash(key, key_len), now);
    }
    return 1;
}

void entra_local_copy_put(entra_local_copies *lc, apr_pool_t *p, const char *key,
                          const unsigned char *value, unsigned int len, apr_uint64_t gen,
                          apr_time_t now)
{
    apr_size_t key_len = strlen(key);
    unsigned int i = slot_of(key, key_len);
    char *k, *old_key;
    unsigned char *v, *old_value;
    apr_size_t old_key_len;
    unsigned int old_len;
    copy *c = &lc->slot[i];

    if (len > ENTRA_LOCAL_COPY_MAX) {
        entra_local_copy_drop(lc, key);     /* nor an older, smaller one */
        return;
    }
    /* made and wiped outside the lock; a slot that cannot be filled is left empty */
    k = malloc(key_len + 1);
    v = malloc(len ? len : 1);
    if (k)
        memcpy(k, key, key_len + 1);
    if (v && len)
        memcpy(v, value, len);
    if (!k || !v) {
        wipe(k, key_len, v, len);
        k = NULL;
        v = NULL;
    }
    apr_thread_rwlock_wrlock(lc->lock[i % STRIPES]);
    if (k && newer_kept(lc, p, i, key, key_len, gen, now)) {
        apr_thread_rwlock_unlock(lc->lock[i % STRIPES]);
        wipe(k, key_len, v, len);
        return;
    }
    old_key = c->key;
    old_key_len = c->key_len;
    old_value = c->value;
    old_len = c->len;
    c->key = (char *)k;
    c->key_len = key_len;
    c->value = v;
    c->len = len;
    c->gen = gen;
    c->at = now;
    c->serial = __atomic_add_fetch(&lc->serials, 1, __ATOMIC_RELAXED);
    c->renewing = 0;
    c->users = k && lc->while_in_use ? 1 : 0;
    if (c->users)
        use_begins(lc, p, i, c->serial, key_hash(key, key_len), now);
    apr_thread_rwlock_unlock(lc->lock[i % STRIPES]);
    wipe(old_key, old_key_len, old_value, old_len);
}
