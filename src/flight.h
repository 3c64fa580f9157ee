/* One lookup for the requests of a process that want the same key at once
 * (single flight).
 *
 * A networked session store (Redis, memcache) costs every lookup a round
 * trip and the store's own CPU. When a lookup of a key is under way, a
 * request that wants the same key, and comes within a short time of it
 * being sent, waits for its answer instead of sending another: the
 * requests of one busy session (a page and its assets) make one lookup.
 * The answer is at most that short time older than the request that
 * shares it; a request that comes when no lookup is under way asks the
 * store itself. Thread-safe; one table per process and store. */
#ifndef ENTRA_FLIGHT_H
#define ENTRA_FLIGHT_H

#include <apr_pools.h>
#include <apr_time.h>

typedef struct entra_flights entra_flights;
typedef struct entra_flight entra_flight;

/* A table whose lookups are joined when sent less than `join_within` ago. */
entra_flights *entra_flights_create(apr_pool_t *p, apr_interval_time_t join_within);

/* Joins the lookup of `key` under way, if there is one to join (sent at
 * the same store generation `gen`, within the table's time of `now`; or
 * landed, while those who waited for it still take its answer): waits for
 * it and returns 1, with its status (found or not found) and its value
 * copied into `p`. Otherwise returns 0. With none to join, *led is the
 * flight this caller now leads, which later requests of the key join
 * (NULL when memory is short: it asks the store on its own); a leader
 * must land its flight with entra_flight_land(). When the store failed
 * the flight it waited for, *led is NULL: it asks the store on its own. */
int entra_flight_join(entra_flights *fl, apr_pool_t *p, const char *key, apr_uint64_t gen,
                      apr_time_t now, apr_status_t *rv, const unsigned char **value,
                      unsigned int *len, entra_flight **led);

/* The answer of the flight `led`, for those who wait on it. */
void entra_flight_land(entra_flights *fl, entra_flight *led, apr_status_t rv,
                       const unsigned char *value, unsigned int len);

/* How many flights are under way or still hold an answer for a waiter
 * (for tests: none once every request has ended). */
int entra_flights_alive(entra_flights *fl);

#endif
