/* Sessions in Apache's socache providers (see socache.h). */
#include "socache.h"
#include "config.h"
#include "ended.h"
#include "log.h"

#include <http_log.h>
#include <ap_provider.h>
#include <ap_socache.h>
#include <util_mutex.h>
#include <apr_global_mutex.h>
#include <apr_strings.h>
#include <apr_atomic.h>
#include <apr_shm.h>
#include <openssl/sha.h>
#include <string.h>

APLOG_USE_MODULE(auth_entra);
extern module AP_MODULE_DECLARE_DATA auth_entra_module;

#define VALUE_MAX ENTRA_SOCACHE_VALUE_MAX


struct entra_socache {
    const ap_socache_provider_t *provider;
    ap_socache_instance_t *instance;
    const char *spec;               /* "redis:host:port", for log lines */
    apr_global_mutex_t *mutex;      /* only for providers not safe across processes */
    int ready;
};

const char *entra_set_session_store(cmd_parms *cmd, void *dc, const char *arg1,
                                    const char *arg2)
{
    entra_server_conf *sc = ap_get_module_config(cmd->server->module_config,
                                                 &auth_entra_module);
    const char *name, *args, *why;
    entra_socache *c;

    if (strcmp(arg1, "cookie") == 0 && !arg2) {
        sc->session_cache = NULL;
        sc->session_store_set = 1;
        return NULL;
    }
    if (strcmp(arg1, "socache") != 0 || !arg2)
        return "EntraSessionStore: must be cookie, or socache <provider>[:<args>] "
               "(shmcb, redis:host:port, memcache:host:port)";
    args = ap_strchr_c(arg2, ':');
    name = args ? apr_pstrmemdup(cmd->pool, arg2, (apr_size_t)(args - arg2)) : arg2;
    c = apr_pcalloc(cmd->pool, sizeof(*c));
    c->spec = arg2;
    c->provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name,
                                     AP_SOCACHE_PROVIDER_VERSION);
    if (!c->provider)
        return apr_psprintf(cmd->pool, "EntraSessionStore: unknown socache provider '%s' "
                            "(load mod_socache_%s first)", name, name);
    if ((why = c->provider->create(&c->instance, args ? args + 1 : NULL, cmd->temp_pool,
                                   cmd->pool)))
        return apr_pstrcat(cmd->pool, "EntraSessionStore: ", why, NULL);
    sc->session_cache = c;
    sc->session_store_set = 1;
    return NULL;
}

void entra_socache_pre_config(apr_pool_t *pconf)
{
    ap_mutex_register(pconf, ENTRA_SOCACHE_MUTEX, NULL, APR_LOCK_DEFAULT, 0);
}

static apr_status_t destroy_cache(void *data)
{
    entra_socache *c = data;

    c->provider->destroy(c->instance, NULL);
    c->ready = 0;
    return APR_SUCCESS;
}

static int init_one(entra_socache *c, apr_pool_t *pconf, server_rec *s)
{
    struct ap_socache_hints hints = { 64, 2048, 8 * 3600 };
    apr_status_t rv;

    if (c->provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE) {
        rv = ap_global_mutex_create(&c->mutex, NULL, ENTRA_SOCACHE_MUTEX, NULL, s, pconf, 0);
        if (rv != APR_SUCCESS)
            return HTTP_INTERNAL_SERVER_ERROR;
    }
    rv = c->provider->init(c->instance, "auth_entra-sess", &hints, s, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, ENTRALOG(00102)
                     "EntraSessionStore socache %s cannot be initialised", c->spec);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apr_pool_cleanup_register(pconf, c, destroy_cache, apr_pool_cleanup_null);
    c->ready = 1;
    return OK;
}

int entra_socache_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    (void)ptemp;
    for (; s; s = s->next) {
        entra_server_conf *sc = ap_get_module_config(s->module_config, &auth_entra_module);
        entra_socache *c = sc->session_cache;
        int status;
        if (c && !c->ready && (status = init_one(c, pconf, s)) != OK)
            return status;
    }
    return OK;
}

void entra_socache_child_init(apr_pool_t *pchild, server_rec *s)
{
    for (; s; s = s->next) {
        entra_server_conf *sc = ap_get_module_config(s->module_config, &auth_entra_module);
        entra_socache *c = sc->session_cache;
        if (c && c->mutex)
            apr_global_mutex_child_init(&c->mutex, apr_global_mutex_lockfile(c->mutex),
                                        pchild);
    }
}

static void lock(entra_socache *c)
{
    if (c->mutex)
        apr_global_mutex_lock(c->mutex);
}

static void unlock(entra_socache *c)
{
    if (c->mutex)
        apr_global_mutex_unlock(c->mutex);
}

apr_status_t entra_socache_get(entra_socache *c, request_rec *r, const char *key,
                               const char **value)
{
    unsigned char *buf = apr_palloc(r->pool, VALUE_MAX + 1);
    unsigned int len = VALUE_MAX;
    apr_status_t rv;

    lock(c);
    rv = c->provider->retrieve(c->instance, r->server, (const unsigned char *)key,
                               (unsigned int)strlen(key), buf, &len, r->pool);
    unlock(c);
    if (rv == APR_SUCCESS) {
        buf[len] = '\0';
        *value = (const char *)buf;
    }
    else if (rv != APR_NOTFOUND)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, ENTRALOG(00406)
                      "session store %s is unavailable (retrieve)", c->spec);
    return rv;
}

apr_status_t entra_socache_put(entra_socache *c, request_rec *r, const char *key,
                               const char *value, apr_int64_t expires)
{
    apr_status_t rv;

    lock(c);
    rv = c->provider->store(c->instance, r->server, (const unsigned char *)key,
                            (unsigned int)strlen(key), apr_time_from_sec(expires),
                            (unsigned char *)value, (unsigned int)strlen(value), r->pool);
    unlock(c);
    /* Too big for the store (shmcb's sub-cache): the caller says so. */
    if (rv != APR_SUCCESS && rv != APR_ENOSPC)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, ENTRALOG(00407)
                      "session store %s is unavailable (store)", c->spec);
    return rv;
}

apr_status_t entra_socache_del(entra_socache *c, request_rec *r, const char *key)
{
    apr_status_t rv;

    lock(c);
    rv = c->provider->remove(c->instance, r->server, (const unsigned char *)key,
                             (unsigned int)strlen(key), r->pool);
    unlock(c);
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, ENTRALOG(00408)
                      "session store %s is unavailable (remove)", c->spec);
    return rv;
}

/* ---- the ended-sids table (ended.h) in shared memory of the module's own:
 * made once, in the parent's process pool, and kept across graceful
 * restarts through httpd's retained data, so sessions Entra ended stay
 * ended; inherited by every child; its mutex is held for one lookup. */

#define ENDED_MUTEX "auth-entra-ended"
#define ENDED_RETAINED "mod_auth_entra-ended-sids"

typedef struct {
    apr_shm_t *shm;
    apr_global_mutex_t *mutex;  /* kept with it: children of two generations
                                 * use the table at once after a graceful
                                 * restart, and must share one lock */
} ended_retained;

static entra_ended_table *ended;
static apr_global_mutex_t *ended_mutex;

void entra_ended_pre_config(apr_pool_t *pconf)
{
    ap_mutex_register(pconf, ENDED_MUTEX, NULL, APR_LOCK_DEFAULT, 0);
}

int entra_ended_post_config(apr_pool_t *pconf, server_rec *s)
{
    ended_retained *kept = ap_retained_data_get(ENDED_RETAINED);
    apr_status_t rv;

    if (!kept) {
        kept = ap_retained_data_create(ENDED_RETAINED, sizeof(*kept));
        kept->shm = NULL;
        kept->mutex = NULL;
    }
    if (kept->shm && !entra_ended_table_is(apr_shm_baseaddr_get(kept->shm), ENTRA_ENDED_SLOTS))
        entra_ended_table_init(apr_shm_baseaddr_get(kept->shm), ENTRA_ENDED_SLOTS);
    if (!kept->shm) {
        rv = apr_shm_create(&kept->shm, entra_ended_table_size(ENTRA_ENDED_SLOTS), NULL,
                            s->process->pool);
        if (rv != APR_SUCCESS) {
            kept->shm = NULL;
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, ENTRALOG(00109)
                         "cannot create the shared memory for sessions ended by Entra");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        entra_ended_table_init(apr_shm_baseaddr_get(kept->shm), ENTRA_ENDED_SLOTS);
    }
    ended = apr_shm_baseaddr_get(kept->shm);
    if (!kept->mutex
        && (rv = ap_global_mutex_create(&kept->mutex, NULL, ENDED_MUTEX, NULL, s,
                                        s->process->pool, 0)) != APR_SUCCESS) {
        kept->mutex = NULL;
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, ENTRALOG(00110)
                     "cannot create the mutex for sessions ended by Entra");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ended_mutex = kept->mutex;
    (void)pconf;
    return OK;
}

void entra_ended_child_init(apr_pool_t *pchild)
{
    if (ended_mutex)
        apr_global_mutex_child_init(&ended_mutex, apr_global_mutex_lockfile(ended_mutex),
                                    pchild);
}

static void ended_hash(request_rec *r, const char *app_tag, const char *sid,
                       unsigned char *hash)
{
    const char *text = apr_pstrcat(r->pool, app_tag, "\n", sid, NULL);
    unsigned char digest[SHA256_DIGEST_LENGTH];

    SHA256((const unsigned char *)text, strlen(text), digest);
    memcpy(hash, digest, 16);
}

int entra_ended_add(request_rec *r, const char *app_tag, const char *sid, apr_int64_t expires)
{
    apr_int64_t now = apr_time_sec(r->request_time);
    unsigned char hash[16];
    int admitted, kept_all = 1;

    if (!ended || !ended_mutex)
        return 0;
    ended_hash(r, app_tag, sid, hash);
    apr_global_mutex_lock(ended_mutex);
    if ((admitted = entra_ended_table_admit(ended, now)))
        kept_all = entra_ended_table_add(ended, hash, expires, now);
    apr_global_mutex_unlock(ended_mutex);
    if (!kept_all)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, ENTRALOG(00412)
                      "the record of sessions ended by Entra is full around this sid: the "
                      "one closest to its end was dropped");
    return admitted;
}

int entra_ended_has(request_rec *r, const char *app_tag, const char *sid)
{
    unsigned char hash[16];
    int has;

    /* the signed-in fast path: nothing ended since the server started */
    if (!ended || !ended_mutex || !entra_ended_table_count(ended))
        return 0;
    ended_hash(r, app_tag, sid, hash);
    apr_global_mutex_lock(ended_mutex);
    has = entra_ended_table_has(ended, hash, apr_time_sec(r->request_time));
    apr_global_mutex_unlock(ended_mutex);
    return has;
}
