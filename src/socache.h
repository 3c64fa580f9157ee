/* Server-side session storage through Apache's own socache providers
 * (shmcb for one server; redis or memcache for several): no home-made cache
 * client. Values are what the cookie store would hold, sealed, so Redis
 * holds nothing readable. */
#ifndef ENTRA_SOCACHE_H
#define ENTRA_SOCACHE_H

#include <httpd.h>
#include <http_config.h>

typedef struct entra_socache entra_socache;

#define ENTRA_SOCACHE_MUTEX "auth-entra-socache"
/* The largest value a lookup gives back. */
#define ENTRA_SOCACHE_VALUE_MAX (64 * 1024)

/* EntraSessionStore cookie | socache <provider>[:<args>] */
const char *entra_set_session_store(cmd_parms *cmd, void *dc, const char *arg1,
                                    const char *arg2);

void entra_socache_pre_config(apr_pool_t *pconf);
/* Initialises every distinct store of the servers (post_config). */
int entra_socache_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
void entra_socache_child_init(apr_pool_t *pchild, server_rec *s);

/* APR_SUCCESS with *value, APR_NOTFOUND, or another error: the store is down. */
apr_status_t entra_socache_get(entra_socache *c, request_rec *r, const char *key,
                               const char **value);
/* The same, from a lookup sent now: never a local copy nor the answer of a
 * lookup under way (for a second look at a key that changed meanwhile). */
apr_status_t entra_socache_get_fresh(entra_socache *c, request_rec *r, const char *key,
                                     const char **value);
/* APR_ENOSPC (not logged here) when the value is too big for the store. */
apr_status_t entra_socache_put(entra_socache *c, request_rec *r, const char *key,
                               const char *value, apr_int64_t expires);
apr_status_t entra_socache_del(entra_socache *c, request_rec *r, const char *key);


#endif
