/* A per-process copy of what a session store gave back.
 *
 * Every signed-in request reads its session from the store: under the
 * store's cross-process lock (shmcb), where under load the threads of every
 * process queue on that one lock, or over the network (Redis, memcache).
 * Every change this server makes to a store moves a counter in shared
 * memory (its generation), and a copy kept here is used only while the
 * generation it was read at is still the current one, and for the table's
 * time at most (socache.c says how long for each kind of store). The
 * opened-cookie memo (session.c) keeps its copies the same way.
 * Thread-safe: the copies are spread over 16 read-write locks, read-held
 * by any number of threads for a lookup and a copy of a few KB,
 * write-held to change a copy. */
#ifndef ENTRA_LOCALCOPY_H
#define ENTRA_LOCALCOPY_H

#include <apr_pools.h>
#include <apr_time.h>

#define ENTRA_LOCAL_COPIES 256              /* per process and store */
#define ENTRA_LOCAL_COPY_MAX 8192           /* bigger values are not copied */

typedef struct entra_local_copies entra_local_copies;

/* Copies that are good for `ttl` from when they were read. With
 * `while_in_use`, a copy is only given to a request while another that
 * used it is still under way (the life of the pool it was put or got
 * with): requests that come together share one lookup, and one that comes
 * after the others have ended always asks the store again. */
entra_local_copies *entra_local_copies_create(apr_pool_t *p, apr_interval_time_t ttl,
                                              int while_in_use);

/* A while_in_use table whose copies also count as in use while a request
 * of another process of the server is under way with the same key: the
 * requests of every process are counted in `words` (shared memory, zeroed,
 * ENTRA_LOCAL_SHARED_SLOTS of them), each a key's fingerprint and count,
 * changed atomically. A key whose word another key holds is not counted
 * there (its requests go by their process's own count). A count is
 * believed for some seconds after it rose from nothing, no longer: a
 * process killed with a request under way cannot keep its key in use. */
#define ENTRA_LOCAL_SHARED_SLOTS 4096
void entra_local_copies_share(entra_local_copies *lc, apr_uint64_t *words);

/* Copies looked up again ahead of their end: a copy older than `after`
 * (less than the table's time) is still given to every request but one,
 * which gets NULL to look the key up again and put what it finds. A busy
 * key's copy is then renewed before it ends, and no request of it waits
 * for a lookup. */
void entra_local_copies_refresh_after(entra_local_copies *lc, apr_interval_time_t after);

/* The value kept for `key` at generation `gen`, copied into `p`; NULL when
 * there is none, it is of another generation, older than the table's time,
 * (while_in_use) no longer in use, or this request is to renew it. */
const unsigned char *entra_local_copy_get(entra_local_copies *lc, apr_pool_t *p,
                                          const char *key, apr_uint64_t gen, apr_time_t now,
                                          unsigned int *len);

/* As entra_local_copy_get, but never to renew it: for a request whose own
 * lookup failed, which takes what the others of its key take. */
const unsigned char *entra_local_copy_peek(entra_local_copies *lc, apr_pool_t *p,
                                           const char *key, apr_uint64_t gen, apr_time_t now,
                                           unsigned int *len);

/* Counts the request of `p` as a user of the copy of `key`, as a get would,
 * without copying it (nor renewing it): for a request that had the same
 * answer from a lookup it joined (flight.h). Whether there was one. */
int entra_local_copy_count_use(entra_local_copies *lc, apr_pool_t *p, const char *key,
                               apr_uint64_t gen, apr_time_t now);

/* Forgets the copy of `key`: the store no longer has it. */
void entra_local_copy_drop(entra_local_copies *lc, const char *key);

/* Keeps `value` for `key`, as read at generation `gen` (read before the
 * store was asked at `now`), in use for the life of `p` (while_in_use).
 * A copy of the key from a later lookup stays; a value too big to copy
 * drops the key's copy. */
void entra_local_copy_put(entra_local_copies *lc, apr_pool_t *p, const char *key,
                          const unsigned char *value, unsigned int len, apr_uint64_t gen,
                          apr_time_t now);

#endif
