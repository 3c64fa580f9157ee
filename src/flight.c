/* One lookup for the requests that want the same key at once (see flight.h). */
#include "flight.h"
#include "ct.h"

#include <openssl/crypto.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <stdlib.h>
#include <string.h>

#define FLIGHT_SLOTS 64

/* malloc'd: a flight outlives the request that led it while waiters take
 * its answer, and its slot may meanwhile hold the next one */
struct entra_flight {
    char *key;
    apr_size_t key_len;
    unsigned int slot;
    apr_time_t sent;
    apr_uint64_t gen;
    int landed;
    apr_status_t rv;
    unsigned char *value;       /* for the waiters, wiped */
    unsigned int len;
    int holders;                /* its leader until it lands, and each waiter
                                 * until it took the answer */
};

struct entra_flights {
    /* held for a few compares and copies, never across the lookup */
    apr_thread_mutex_t *lock;
    apr_thread_cond_t *landed;
    apr_interval_time_t join_within;
    int alive;
    entra_flight *slot[FLIGHT_SLOTS];
};

static void free_flight(entra_flights *fl, entra_flight *f)
{
    if (fl->slot[f->slot] == f)
        fl->slot[f->slot] = NULL;
    OPENSSL_cleanse(f->key, f->key_len);
    free(f->key);
    if (f->value) {
        OPENSSL_cleanse(f->value, f->len);
        free(f->value);
    }
    free(f);
    fl->alive--;
}

/* under the lock */
static void let_go(entra_flights *fl, entra_flight *f)
{
    if (--f->holders == 0)
        free_flight(fl, f);
}

/* At the end of the child, after the MPM joined its worker threads: no
 * flight is held any more (one replaced in its slot was freed by its last
 * holder). */
static apr_status_t free_flights(void *data)
{
    entra_flights *fl = data;
    int i;

    for (i = 0; i < FLIGHT_SLOTS; i++) {
        if (fl->slot[i])
            free_flight(fl, fl->slot[i]);
    }
    return APR_SUCCESS;
}

entra_flights *entra_flights_create(apr_pool_t *p, apr_interval_time_t join_within)
{
    entra_flights *fl = apr_pcalloc(p, sizeof(*fl));

    if (apr_thread_mutex_create(&fl->lock, APR_THREAD_MUTEX_DEFAULT, p) != APR_SUCCESS
        || apr_thread_cond_create(&fl->landed, p) != APR_SUCCESS)
        return NULL;
    fl->join_within = join_within;
    apr_pool_cleanup_register(p, fl, free_flights, apr_pool_cleanup_null);
    return fl;
}

int entra_flights_alive(entra_flights *fl)
{
    int alive;

    apr_thread_mutex_lock(fl->lock);
    alive = fl->alive;
    apr_thread_mutex_unlock(fl->lock);
    return alive;
}

/* The keys are random or a digest at their start (socache.c). */
static unsigned int slot_of(const char *key, apr_size_t len)
{
    unsigned int h = 2166136261u;
    apr_size_t i;

    for (i = 0; i < len && i < 24; i++)
        h = (h ^ (unsigned char)key[i]) * 16777619u;
    return h % FLIGHT_SLOTS;
}

/* A flight under way, or landed while its waiters still take its answer:
 * they are requests of the key under way with that answer, as a copy in
 * use has (localcopy.h). */
static int joinable(const entra_flights *fl, const entra_flight *f, const char *key,
                    apr_size_t key_len, apr_uint64_t gen, apr_time_t now)
{
    /* a lookup sent a little after `now` (another thread took the clock
     * later) answers after this request came: it is good too */
    return f && f->gen == gen
           && now - f->sent < fl->join_within && f->sent - now < fl->join_within
           && f->key_len == key_len
           && entra_ct_equal(f->key, key, key_len);
}

/* Waits for the flight, then takes its answer; 0 when it has none to give:
 * its value could not be kept, or the store failed it (a connection that
 * broke under the leader says nothing of the next one, which its own
 * retry may not have reached): the caller asks the store itself. */
static int wait_and_take(entra_flights *fl, entra_flight *f, apr_pool_t *p, apr_status_t *rv,
                         const unsigned char **value, unsigned int *len)
{
    unsigned char *copy;
    int took = 1;

    f->holders++;
    while (!f->landed)
        apr_thread_cond_wait(fl->landed, fl->lock);
    *rv = f->rv;
    if ((f->rv == APR_SUCCESS && !f->value) || (f->rv != APR_SUCCESS && f->rv != APR_NOTFOUND))
        took = 0;
    else if (f->rv == APR_SUCCESS) {
        copy = apr_palloc(p, f->len + 1);
        memcpy(copy, f->value, f->len);
        copy[f->len] = '\0';
        *value = copy;
        *len = f->len;
    }
    let_go(fl, f);
    return took;
}

/* A flight of its own for the caller, in the key's slot. One there that
 * cannot be joined (too old, another key or generation) is replaced, not
 * waited out: its leader and waiters still hold it. Were it kept until
 * its last waiter had woken, which on a busy server is after the next
 * lookup is due, every request meanwhile would send one of its own: half
 * again as many as the flights. */
static entra_flight *lead(entra_flights *fl, unsigned int slot, const char *key,
                          apr_size_t key_len, apr_uint64_t gen, apr_time_t now)
{
    entra_flight *f = calloc(1, sizeof(*f));

    if (!f || !(f->key = malloc(key_len + 1))) {
        free(f);
        return NULL;
    }
    memcpy(f->key, key, key_len + 1);
    f->key_len = key_len;
    f->slot = slot;
    f->sent = now;
    f->gen = gen;
    f->holders = 1;
    fl->slot[slot] = f;
    fl->alive++;
    return f;
}

int entra_flight_join(entra_flights *fl, apr_pool_t *p, const char *key, apr_uint64_t gen,
                      apr_time_t now, apr_status_t *rv, const unsigned char **value,
                      unsigned int *len, entra_flight **led)
{
    apr_size_t key_len = strlen(key);
    unsigned int slot = slot_of(key, key_len);
    int joined = 0;

    *led = NULL;
    apr_thread_mutex_lock(fl->lock);
    if (joinable(fl, fl->slot[slot], key, key_len, gen, now))
        joined = wait_and_take(fl, fl->slot[slot], p, rv, value, len);
    else
        *led = lead(fl, slot, key, key_len, gen, now);
    apr_thread_mutex_unlock(fl->lock);
    return joined;
}

void entra_flight_land(entra_flights *fl, entra_flight *led, apr_status_t rv,
                       const unsigned char *value, unsigned int len)
{
    apr_thread_mutex_lock(fl->lock);
    led->rv = rv;
    led->landed = 1;
    if (led->holders > 1) {
        /* a value that cannot be kept: the waiters ask the store themselves */
        if (rv == APR_SUCCESS && (led->value = malloc(len ? len : 1))) {
            memcpy(led->value, value, len);
            led->len = len;
        }
        apr_thread_cond_broadcast(fl->landed);
    }
    let_go(fl, led);
    apr_thread_mutex_unlock(fl->lock);
}
