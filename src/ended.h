/* Sessions ended by Entra's front-channel logout, with the cookie store:
 * their cookies live in browsers, so the server remembers the sids Entra
 * ended and refuses those cookies until they could have expired anyway.
 *
 * The record is a table of its own in shared memory (no socache module,
 * nothing else cached there to evict it): ENTRA_ENDED_SLOTS sids of every
 * app of the server, each as a 16-byte hash of the app and the sid. It is
 * made once and kept across graceful restarts (httpd's retained data). A
 * full neighbourhood evicts the entry nearest its end, never a live one
 * before an expired one. A second table of the same kind holds the sids
 * this server signed in: only those are ever recorded as ended, so a loop
 * of made-up sids records nothing and cannot flush the real ones, and a
 * real one is never refused; made-up ones are rate-limited. */
#ifndef ENTRA_ENDED_H
#define ENTRA_ENDED_H

#include <httpd.h>
#include <apr_pools.h>

#define ENTRA_ENDED_SLOTS 262144     /* a power of two, over twice 100,000 */
#define ENTRA_ENDED_RATE 50          /* front-channel logouts of unknown sids a second */

/* The pure table, on memory the caller provides (unit-tested as is). */
typedef struct entra_ended_table entra_ended_table;

apr_size_t entra_ended_table_size(apr_uint32_t slots);
/* Lays a new, empty table on `mem` (entra_ended_table_size bytes). */
entra_ended_table *entra_ended_table_init(void *mem, apr_uint32_t slots);
/* Whether `mem` holds a table of this layout and size (kept from before a
 * graceful restart). */
int entra_ended_table_is(const void *mem, apr_uint32_t slots);
/* Remembers `hash` until `expires`; returns 0 when a live entry had to go. */
int entra_ended_table_add(entra_ended_table *t, const unsigned char hash[16],
                          apr_int64_t expires, apr_int64_t now);
int entra_ended_table_has(const entra_ended_table *t, const unsigned char hash[16],
                          apr_int64_t now);
/* How many were ever added (0: the signed-in fast path skips the lookup). */
apr_uint32_t entra_ended_table_count(const entra_ended_table *t);
/* A token bucket of ENTRA_ENDED_RATE a second: 1 when one more may go. */
int entra_ended_table_admit(entra_ended_table *t, apr_int64_t now);

/* The server's table: made at post_config (or found again after a graceful
 * restart), attached in each child. Returns OK or an HTTP status. */
void entra_ended_pre_config(apr_pool_t *pconf);
int entra_ended_post_config(apr_pool_t *pconf, server_rec *s);
void entra_ended_child_init(apr_pool_t *pchild);

/* `app_tag` + `sid`, for request `r`. issued_add: a sign-in (cookie store)
 * of a session Entra may end later, remembered until `expires`. */
void entra_issued_add(request_rec *r, const char *app_tag, const char *sid, apr_int64_t expires);
/* ended_add: ENTRA_ENDED_ENDED when the sid was signed in here (its session
 * is ended until `expires`), ENTRA_ENDED_UNKNOWN when it was not (nothing
 * to end), ENTRA_ENDED_REFUSED when unknown sids come too fast. */
#define ENTRA_ENDED_ENDED 1
#define ENTRA_ENDED_UNKNOWN 0
#define ENTRA_ENDED_REFUSED (-1)
int entra_ended_add(request_rec *r, const char *app_tag, const char *sid, apr_int64_t expires);
int entra_ended_has(request_rec *r, const char *app_tag, const char *sid);

#endif
