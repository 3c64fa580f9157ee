/* A per-process copy of what a local session store (shmcb) gave back.
 *
 * Every signed-in request reads its session from the store under the
 * store's cross-process lock, and under load the threads of every process
 * queue on that one lock. A local store is this server's alone, so every
 * change to it is made by this server: each one moves a counter in shared
 * memory (its generation), and a copy kept here is used only while the
 * generation it was read at is still the current one, and for a short
 * while at most. Thread-safe: the copies are spread over 16 read-write
 * locks, read-held by any number of threads for a lookup and a copy of a
 * few KB, write-held to change a copy. */
#ifndef ENTRA_LOCALCOPY_H
#define ENTRA_LOCALCOPY_H

#include <apr_pools.h>
#include <apr_time.h>

#define ENTRA_LOCAL_COPIES 256              /* per process and store */
#define ENTRA_LOCAL_COPY_MAX 8192           /* bigger values are not copied */
#define ENTRA_LOCAL_COPY_TTL apr_time_from_sec(30)

typedef struct entra_local_copies entra_local_copies;

entra_local_copies *entra_local_copies_create(apr_pool_t *p);

/* The value kept for `key` at generation `gen`, copied into `p`; NULL when
 * there is none, it is of another generation, or older than the TTL. */
const unsigned char *entra_local_copy_get(entra_local_copies *lc, apr_pool_t *p,
                                          const char *key, apr_uint64_t gen, apr_time_t now,
                                          unsigned int *len);

/* Keeps `value` for `key`, as read at generation `gen` (read before the
 * store was asked). */
void entra_local_copy_put(entra_local_copies *lc, const char *key, const unsigned char *value,
                          unsigned int len, apr_uint64_t gen, apr_time_t now);

#endif
