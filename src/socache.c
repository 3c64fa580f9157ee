/* Sessions in Apache's socache providers (see socache.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* dladdr */
#endif
#include "socache.h"
#include "config.h"
#include "crypto.h"
#include "ended.h"
#include "flight.h"
#include "localcopy.h"
#include "log.h"
#include "metrics.h"

#include <http_log.h>
#include <ap_provider.h>
#include <ap_socache.h>
#include <util_mutex.h>
#include <apr_global_mutex.h>
#include <apr_thread_mutex.h>
#include <apr_allocator.h>
#include <apr_strings.h>
#include <apr_atomic.h>
#include <apr_shm.h>
#include <apr_dso.h>
#include <dlfcn.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

APLOG_USE_MODULE(auth_entra);
extern module AP_MODULE_DECLARE_DATA auth_entra_module;

#define VALUE_MAX ENTRA_SOCACHE_VALUE_MAX
#define NAMESPACE "auth_entra-sess"
/* The key a probe writes (see probe()), and how long it lives. */
#define PROBE_KEY "auth-entra-probe"
#define PROBE_TTL 5

static const struct ap_socache_hints hints = { 64, 2048, 8 * 3600 };

/* A networked store's client in one process: one instance of the provider
 * (apr_redis or apr_memcache inside, with its pool of connections). All but
 * refs, failed and worked is fixed once made; those three change under the
 * store's lock. */
typedef struct client {
    struct entra_socache *store;
    ap_socache_instance_t *instance;
    apr_pool_t *pool;       /* its own; NULL for the instance made at post_config */
    apr_uint32_t refs;      /* calls using it now */
    int failed;             /* a call on it failed: neither its connections nor
                             * the provider's idea of the server are trusted */
    int worked;             /* the store answered a call on it */
} client;

struct entra_socache {
    const ap_socache_provider_t *provider;
    ap_socache_instance_t *instance;    /* made at post_config, in pconf */
    const char *spec;               /* "redis:host:port", for log lines */
    const char *args;               /* "host:port": what a fresh instance is made of */
    server_rec *s;                  /* the server it was initialised for */
    apr_global_mutex_t *mutex;      /* only for providers not safe across processes */
    int ready;
    /* networked providers (redis, memcache), per process from child_init on:
     * each process owns its client and replaces it when it breaks */
    apr_thread_mutex_t *lock;       /* for the pointer and counts only, never
                                     * held across a call to the store */
    apr_pool_t *clients;            /* parent of replacement clients' pools */
    client *current;
    /* per process from child_init on: copies of what the store gave back,
     * good while the stores' generation has not moved (localcopy.h) and
     * for SHMCB_COPY_TTL or NETWORKED_COPY_TTL at most */
    entra_local_copies *copies;
    /* networked, per process from child_init on: lookups under way, for
     * the requests that want the same key at once (flight.h) */
    entra_flights *flights;
};

/* The generation of the server's session stores: moved by every change
 * this server makes to one (kept with the ended-sids table, below). */
static apr_uint64_t *store_gen;
/* Requests under way in every process, by key, for the networked stores'
 * copies (localcopy.h; kept with the ended-sids table too). */
static apr_uint64_t *store_users;

/* How long a copy is used. shmcb is this server's memory: every change to
 * it is made here and moves the generation, so the time only bounds how
 * long a session stays in a copy after its last use. A networked store
 * (Redis, memcache) is shared with other servers, whose changes (a logout
 * there) this server cannot see: a lookup's answer is shared only by the
 * requests that come while it is under way (flight.h), or while a request
 * of the same session that used a lookup's answer is, in this process or
 * another of the server (localcopy.h), within NETWORKED_COPY_TTL of when
 * it was sent, as if they had all come at once (a page and its assets
 * do). That takes the round trip, and the store's own CPU, off most
 * requests of a busy session; a request that comes alone always asks the
 * store, so a logout on another server holds at once for the next
 * request. Past half that time, one request looks the key up again while
 * the others still take the copy, and flights are joined within that half:
 * a busy session's copy is renewed before it ends, and its requests do
 * not queue on a lookup. (A lookup on a loaded server, its leader waiting
 * for a CPU, can take a few ms: with 2 ms and 1 ms, copies ended before
 * their renewal came back; on the bench, 0.17 lookups a request and as
 * many context switches as the lookups saved, against 0.07-0.09 with
 * these.) */
#define SHMCB_COPY_TTL apr_time_from_sec(30)
#define NETWORKED_COPY_TTL ((apr_interval_time_t)4000)

static apr_uint64_t generation(void)
{
    return store_gen ? __atomic_load_n(store_gen, __ATOMIC_ACQUIRE) : 0;
}

/* shmcb is this server's memory: every change to it is made here. (A dbm
 * file could be shared by two servers on one machine: not copied.) */
static int is_shmcb(const entra_socache *c)
{
    return strncmp(c->spec, "shmcb", 5) == 0 && (c->spec[5] == '\0' || c->spec[5] == ':');
}

/* Called before and after every write or removal of a store, in every
 * process (whether it keeps copies or not): a copy read at a generation
 * from before the change is never served again, nor one taken while the
 * change was under way. */
static void store_changed(void)
{
    if (store_gen)
        __atomic_add_fetch(store_gen, 1, __ATOMIC_SEQ_CST);
}


const char *entra_set_session_store(cmd_parms *cmd, void *dc, const char *arg1,
                                    const char *arg2)
{
    entra_server_conf *sc = ap_get_module_config(cmd->server->module_config,
                                                 &auth_entra_module);
    const char *name, *args, *why;
    entra_socache *c;

    /* EntraSessionStore "socache redis:host:port", quoted whole */
    if (!arg2) {
        apr_array_header_t *words = entra_conf_words(cmd->temp_pool, arg1);
        if (words->nelts == 2) {
            arg1 = apr_pstrdup(cmd->pool, APR_ARRAY_IDX(words, 0, const char *));
            arg2 = apr_pstrdup(cmd->pool, APR_ARRAY_IDX(words, 1, const char *));
        }
    }
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
    c->args = args ? args + 1 : NULL;
    c->provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name,
                                     AP_SOCACHE_PROVIDER_VERSION);
    if (!c->provider)
        return apr_psprintf(cmd->pool, "EntraSessionStore: unknown socache provider '%s' "
                            "(load mod_socache_%s first)", name, name);
    if ((why = c->provider->create(&c->instance, c->args, cmd->temp_pool, cmd->pool)))
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

/* A local store (shmcb, dbm: not safe across processes, kept in this
 * machine's memory or files) is made once, in the parent's process pool,
 * with its mutex, and kept across restarts through httpd's retained data:
 * a graceful restart (logrotate's reload) signs no one out, and children of
 * the old and the new generation share one store and one lock.  Found again
 * by the server's place in the configuration and the store's spec; a spec
 * that changes gets a store of its own (the old one stays until httpd
 * stops). */
#define STORE_RETAINED "mod_auth_entra-socache"

typedef struct {
    ap_socache_instance_t *instance;
    apr_global_mutex_t *mutex;
} store_retained;

/* The provider's module (mod_socache_shmcb.so) is unloaded with the
 * configuration on every restart and at the end, before the process pool's
 * cleanups run; a store kept in the process pool holds a cleanup of that
 * module's own (Debian's shmcb registers one), so the server crashed on
 * every stop. A reference of the process pool's own keeps the module
 * loaded until that cleanup has run: APR's cleanup drops it last. */
static void hold_provider_module(const ap_socache_provider_t *provider, apr_pool_t *keep,
                                 server_rec *s)
{
    apr_dso_handle_t *dso;
    Dl_info info, core;
    apr_status_t rv;

    if (!dladdr((void *)provider->create, &info) || !info.dli_fname)
        return;
    /* a provider built into httpd itself is never unloaded */
    if (dladdr((void *)ap_run_post_config, &core) && core.dli_fbase == info.dli_fbase)
        return;
    if ((rv = apr_dso_load(&dso, info.dli_fname, keep)) != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, ENTRALOG(00422)
                     "cannot hold %s loaded for the session store kept across restarts",
                     info.dli_fname);
}

static int init_local(entra_socache *c, int n, apr_pool_t *ptemp, server_rec *s)
{
    apr_pool_t *keep = s->process->pool;
    const char *key = apr_psprintf(keep, STORE_RETAINED "-%d-%s", n, c->spec);
    store_retained *kept = ap_retained_data_get(key);
    const char *why;
    apr_status_t rv;

    if (!kept) {
        kept = ap_retained_data_create(key, sizeof(*kept));
        kept->instance = NULL;
        kept->mutex = NULL;
    }
    if (!kept->mutex
        && (rv = ap_global_mutex_create(&kept->mutex, NULL, ENTRA_SOCACHE_MUTEX, NULL, s,
                                        keep, 0)) != APR_SUCCESS) {
        kept->mutex = NULL;
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    c->mutex = kept->mutex;
    if (!kept->instance) {
        /* the instance the directive made, in pconf, is left unused; this
         * one lives as long as httpd (APR frees its memory and mutex then) */
        ap_socache_instance_t *instance = NULL;
        hold_provider_module(c->provider, keep, s);
        if ((why = c->provider->create(&instance, c->args, ptemp, keep))) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, ENTRALOG(00102)
                         "EntraSessionStore socache %s cannot be initialised: %s", c->spec, why);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        rv = c->provider->init(instance, NAMESPACE, &hints, s, keep);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, ENTRALOG(00102)
                         "EntraSessionStore socache %s cannot be initialised", c->spec);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        kept->instance = instance;
    }
    c->instance = kept->instance;
    c->s = s;
    c->ready = 1;
    return OK;
}

static int init_one(entra_socache *c, int n, apr_pool_t *pconf, apr_pool_t *ptemp,
                    server_rec *s)
{
    apr_status_t rv;

    if (c->provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE)
        return init_local(c, n, ptemp, s);
    rv = c->provider->init(c->instance, NAMESPACE, &hints, s, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, ENTRALOG(00102)
                     "EntraSessionStore socache %s cannot be initialised", c->spec);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apr_pool_cleanup_register(pconf, c, destroy_cache, apr_pool_cleanup_null);
    c->s = s;
    c->ready = 1;
    return OK;
}

int entra_socache_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    int n;

    for (n = 0; s; s = s->next, n++) {
        entra_server_conf *sc = ap_get_module_config(s->module_config, &auth_entra_module);
        entra_socache *c = sc->session_cache;
        int status;
        if (c && !c->ready && (status = init_one(c, n, pconf, ptemp, s)) != OK)
            return status;
    }
    return OK;
}

/* A networked store's state in this process: its first client is the
 * instance made at post_config (no connection yet: the parent never uses
 * it). Replacements get pools of their own under `clients`, whose allocator
 * has a mutex: they are made, used (apr_redis makes a pool per connection in
 * whichever thread connects) and destroyed by any thread. Left as it is
 * (lock NULL: the direct path) if anything here fails. */
static void child_init_networked(entra_socache *c, apr_pool_t *pchild)
{
    apr_allocator_t *alloc;
    apr_thread_mutex_t *amutex;
    client *first;

    if (c->lock || !c->ready || apr_allocator_create(&alloc) != APR_SUCCESS)
        return;
    if (apr_pool_create_ex(&c->clients, pchild, NULL, alloc) != APR_SUCCESS) {
        apr_allocator_destroy(alloc);
        return;
    }
    apr_allocator_owner_set(alloc, c->clients);
    if (apr_thread_mutex_create(&amutex, APR_THREAD_MUTEX_DEFAULT, c->clients) != APR_SUCCESS)
        return;
    apr_allocator_mutex_set(alloc, amutex);
    first = apr_pcalloc(pchild, sizeof(*first));
    first->store = c;
    first->instance = c->instance;
    c->current = first;
    c->copies = entra_local_copies_create(pchild, NETWORKED_COPY_TTL, 1);
    if (c->copies && store_users)
        entra_local_copies_share(c->copies, store_users);
    if (c->copies)
        entra_local_copies_refresh_after(c->copies, NETWORKED_COPY_TTL / 2);
    c->flights = entra_flights_create(pchild, NETWORKED_COPY_TTL / 2);
    apr_thread_mutex_create(&c->lock, APR_THREAD_MUTEX_DEFAULT, pchild);
}

void entra_socache_child_init(apr_pool_t *pchild, server_rec *s)
{
    for (; s; s = s->next) {
        entra_server_conf *sc = ap_get_module_config(s->module_config, &auth_entra_module);
        entra_socache *c = sc->session_cache;
        if (c && c->mutex) {
            apr_global_mutex_child_init(&c->mutex, apr_global_mutex_lockfile(c->mutex),
                                        pchild);
            if (!c->copies && is_shmcb(c))
                c->copies = entra_local_copies_create(pchild, SHMCB_COPY_TTL, 0);
        }
        else if (c && !(c->provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE))
            child_init_networked(c, pchild);
    }
}

/* ---- one call to the store */

enum { OP_GET, OP_PUT, OP_DEL };

typedef struct {
    int kind;
    request_rec *r;
    const unsigned char *key;
    unsigned int klen;
    unsigned char *buf;         /* get: VALUE_MAX + 1 bytes, and what it holds */
    unsigned int len;
    unsigned char *value;       /* put */
    unsigned int vlen;
    apr_time_t expiry;
} op;

static apr_status_t call(entra_socache *c, ap_socache_instance_t *instance, op *o)
{
    server_rec *s = o->r->server;

    switch (o->kind) {
    case OP_GET:
        o->len = VALUE_MAX;
        return c->provider->retrieve(instance, s, o->key, o->klen, o->buf, &o->len, o->r->pool);
    case OP_PUT:
        return c->provider->store(instance, s, o->key, o->klen, o->expiry, o->value, o->vlen,
                                  o->r->pool);
    default:
        return c->provider->remove(instance, s, o->key, o->klen, o->r->pool);
    }
}

/* ---- networked stores: a client that breaks is replaced.
 *
 * apr_redis and apr_memcache keep a pool of connections per process. When
 * the server restarts every pooled connection is stale: the first call on
 * one fails, and the library then marks the server dead and answers every
 * call for the next 5 s with APR_NOTFOUND without asking it ("no such
 * session": a signed-in user sent to sign in again), and may find another
 * stale connection when it tries again. Nothing public reaches the library
 * inside the provider's instance, so a broken client is dropped whole: a
 * fresh instance starts live, with no connection. */

enum { FINE, UNSURE, BROKEN };

/* Whether an answer says the client is broken: any error but those about
 * the key or value themselves, which no connection changes. A store is
 * never answered "not found" by a live server. */
static int verdict_of(const op *o, apr_status_t rv)
{
    switch (rv) {
    case APR_SUCCESS:
    case APR_ENOSPC:
    case APR_EINVAL:    /* a key too long, an expiry in the past */
    case APR_ENOMEM:    /* a value bigger than the buffer */
        return FINE;
    case APR_NOTFOUND:
        return o->kind == OP_PUT ? BROKEN : UNSURE;
    default:
        return BROKEN;
    }
}

static client *acquire(entra_socache *c)
{
    client *cl;

    apr_thread_mutex_lock(c->lock);
    cl = c->current;
    cl->refs++;
    apr_thread_mutex_unlock(c->lock);
    return cl;
}

/* An APR_NOTFOUND is the library's "server dead" when a call on the same
 * client failed: one that has ended marked it failed before it let go of
 * it; one still in flight may not have yet. So it is the store's own answer
 * when the client is not failed and no other call holds it; UNSURE when
 * others do. */
static int notfound_verdict(entra_socache *c, client *cl)
{
    int v;

    apr_thread_mutex_lock(c->lock);
    v = cl->failed ? BROKEN : cl->refs > 1 ? UNSURE : FINE;
    apr_thread_mutex_unlock(c->lock);
    return v;
}

/* Whether the client's server is live: only a live one answers a store
 * with success (a dead one is APR_NOTFOUND without being asked, for 5 s
 * from its last failure, longer than any call that could have caused it). */
static int probe(entra_socache *c, client *cl, request_rec *r)
{
    static const unsigned char id[] = PROBE_KEY;

    return c->provider->store(cl->instance, r->server, id, sizeof(id) - 1,
                              apr_time_now() + apr_time_from_sec(PROBE_TTL),
                              (unsigned char *)"1", 1, r->pool) == APR_SUCCESS ? FINE : BROKEN;
}

static apr_status_t destroy_client(void *data)
{
    client *cl = data;

    cl->store->provider->destroy(cl->instance, cl->store->s);
    return APR_SUCCESS;
}

/* A fresh instance of the provider in a pool of its own (under the lock:
 * one replacement however many calls failed at once; apr_redis and
 * apr_memcache only allocate here, they connect on first use). */
static client *fresh_client(entra_socache *c, apr_status_t *rv)
{
    ap_socache_instance_t *instance;
    apr_pool_t *p;
    client *cl;

    if ((*rv = apr_pool_create(&p, c->clients)) != APR_SUCCESS)
        return NULL;
    if (c->provider->create(&instance, c->args, p, p)
        || (*rv = c->provider->init(instance, NAMESPACE, &hints, c->s, p)) != APR_SUCCESS) {
        *rv = *rv ? *rv : APR_EGENERAL;
        apr_pool_destroy(p);
        return NULL;
    }
    cl = apr_pcalloc(p, sizeof(*cl));
    cl->store = c;
    cl->instance = instance;
    cl->pool = p;
    /* before the pool's children (the library's connections) go */
    apr_pool_pre_cleanup_register(p, cl, destroy_client);
    return cl;
}

static void log_replaced(entra_socache *c, request_rec *r, apr_status_t why, int had_worked,
                         apr_status_t made)
{
    if (made != APR_SUCCESS)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, made, r, ENTRALOG(00415)
                      "session store %s: cannot make a new client", c->spec);
    else if (had_worked)
        ap_log_rerror(APLOG_MARK, APLOG_INFO, why, r, ENTRALOG(00413)
                      "session store %s: connection broken, reconnected", c->spec);
    else
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, why, r, ENTRALOG(00414)
                      "session store %s: still not answering, a new client for the next "
                      "request", c->spec);
}

/* Lets go of a client after a call. A broken one is marked failed and, if
 * still current, replaced; a replaced one is destroyed by the last call to
 * let go of it. Returns whether the client had worked before (its pooled
 * connections may be stale: worth a retry). */
static int release(entra_socache *c, client *cl, int verdict, apr_status_t rv, request_rec *r)
{
    apr_status_t made = APR_SUCCESS;
    client *gone = NULL, *fresh;
    int replaced = 0, had_worked;

    apr_thread_mutex_lock(c->lock);
    had_worked = cl->worked;
    if (verdict == BROKEN) {
        cl->failed = 1;
        if (cl == c->current) {
            replaced = 1;
            if ((fresh = fresh_client(c, &made)))
                c->current = fresh;
        }
    }
    else if (rv == APR_SUCCESS || rv == APR_NOTFOUND)
        cl->worked = 1;
    if (--cl->refs == 0 && cl != c->current)
        gone = cl;
    apr_thread_mutex_unlock(c->lock);
    if (gone && gone->pool)
        apr_pool_destroy(gone->pool);   /* outside the lock: it says QUIT to the server */
    if (replaced)
        log_replaced(c, r, rv, had_worked, made);
    return had_worked;
}

/* One call on the current client; *verdict FINE unless it is broken. */
static apr_status_t attempt(entra_socache *c, op *o, int *verdict, int *had_worked)
{
    client *cl = acquire(c);
    apr_status_t rv = call(c, cl->instance, o);

    *verdict = verdict_of(o, rv);
    if (*verdict == UNSURE)
        *verdict = notfound_verdict(c, cl);
    if (*verdict == UNSURE)
        *verdict = probe(c, cl, o->r);
    *had_worked = release(c, cl, *verdict, rv, o->r);
    return rv;
}

/* A call that finds its client broken is made once more on the current
 * (fresh) one: GET, SETEX and DEL may be repeated. Not when the broken
 * client had never worked: its connection was new, so the store is down and
 * a second try would only cost this request another connection attempt
 * (while it stays down, each request makes one). Only a call that raced
 * the very first success of a client across a restart can miss the retry:
 * a 503, never a sign-out. */
static apr_status_t run_networked(entra_socache *c, op *o)
{
    int verdict, had_worked;
    apr_status_t first, rv;

    first = rv = attempt(c, o, &verdict, &had_worked);
    if (verdict == BROKEN && had_worked)
        rv = attempt(c, o, &verdict, &had_worked);
    /* not the library's "not found" of a dead server: the store is down */
    if (verdict == BROKEN && rv == APR_NOTFOUND)
        rv = first != APR_NOTFOUND ? first : APR_ECONNABORTED;
    return rv;
}

static apr_status_t run(entra_socache *c, op *o)
{
    apr_status_t rv;

    if (c->lock)
        return run_networked(c, o);
    /* local stores (shmcb, dbm): as they are, under the cross-process mutex
     * those that need one */
    if (c->mutex)
        apr_global_mutex_lock(c->mutex);
    rv = call(c, c->instance, o);
    if (c->mutex)
        apr_global_mutex_unlock(c->mutex);
    return rv;
}

/* The store failed this request's lookup. A copy the other requests of
 * its key still take (this one was renewing it, or a peer put one
 * meanwhile) is taken too, rather than fail this request alone; no error
 * is shared, and the failure is logged either way. */
static apr_status_t lookup_failed(entra_socache *c, request_rec *r, const char *key,
                                  apr_uint64_t gen, const char **value, int fresh,
                                  apr_status_t rv)
{
    const unsigned char *copied;
    unsigned int len;

    entra_metric_inc(ENTRA_M_STORE_ERROR_RETRIEVE);
    ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, ENTRALOG(00406)
                  "session store %s is unavailable (retrieve)", c->spec);
    if (fresh || !c->copies
        || !(copied = entra_local_copy_peek(c->copies, r->pool, key, gen, apr_time_now(),
                                            &len)))
        return rv;
    *value = (const char *)copied;
    return APR_SUCCESS;
}

static apr_status_t get(entra_socache *c, request_rec *r, const char *key, const char **value,
                        int fresh)
{
    op o = { OP_GET, r, (const unsigned char *)key, (unsigned int)strlen(key) };
    apr_uint64_t gen = generation();     /* before the store is asked */
    apr_time_t now = apr_time_now();
    const unsigned char *copied = NULL;
    entra_flight *led = NULL;
    unsigned int len;
    apr_status_t rv;

    if (!fresh && c->copies
        && (copied = entra_local_copy_get(c->copies, r->pool, key, gen, now, &len))) {
        *value = (const char *)copied;
        return APR_SUCCESS;
    }
    if (!fresh && c->flights
        && entra_flight_join(c->flights, r->pool, key, gen, now, &rv, &copied, &len, &led)) {
        /* counted among the users of the leader's copy (the same value) */
        if (rv == APR_SUCCESS)
            *value = (const char *)copied;
        if (rv == APR_SUCCESS && c->copies)
            entra_local_copy_count_use(c->copies, r->pool, key, gen, now);
        return rv;      /* the lookup's leader logged a failure */
    }
    o.buf = apr_palloc(r->pool, VALUE_MAX + 1);
    rv = run(c, &o);
    if (rv == APR_SUCCESS) {
        o.buf[o.len] = '\0';
        *value = (const char *)o.buf;
        if (c->copies)
            entra_local_copy_put(c->copies, r->pool, key, o.buf, o.len, gen, now);
    }
    else if (rv == APR_NOTFOUND && c->copies)
        entra_local_copy_drop(c->copies, key);  /* ended: not for the next request */
    if (led)
        entra_flight_land(c->flights, led, rv, o.buf, o.len);
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND)
        return lookup_failed(c, r, key, gen, value, fresh, rv);
    return rv;
}

apr_status_t entra_socache_get(entra_socache *c, request_rec *r, const char *key,
                               const char **value)
{
    return get(c, r, key, value, 0);
}

apr_status_t entra_socache_get_fresh(entra_socache *c, request_rec *r, const char *key,
                                     const char **value)
{
    return get(c, r, key, value, 1);
}

apr_status_t entra_socache_put(entra_socache *c, request_rec *r, const char *key,
                               const char *value, apr_int64_t expires)
{
    op o = { OP_PUT, r, (const unsigned char *)key, (unsigned int)strlen(key) };
    apr_status_t rv;

    o.value = (unsigned char *)value;
    o.vlen = (unsigned int)strlen(value);
    o.expiry = apr_time_from_sec(expires);
    store_changed();
    rv = run(c, &o);
    store_changed();
    /* Too big for the store (shmcb's sub-cache): the caller says so. */
    if (rv != APR_SUCCESS && rv != APR_ENOSPC) {
        entra_metric_inc(ENTRA_M_STORE_ERROR_STORE);
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, ENTRALOG(00407)
                      "session store %s is unavailable (store)", c->spec);
    }
    return rv;
}

apr_status_t entra_socache_del(entra_socache *c, request_rec *r, const char *key)
{
    op o = { OP_DEL, r, (const unsigned char *)key, (unsigned int)strlen(key) };
    apr_status_t rv;

    store_changed();
    rv = run(c, &o);
    store_changed();
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
        entra_metric_inc(ENTRA_M_STORE_ERROR_REMOVE);
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, ENTRALOG(00408)
                      "session store %s is unavailable (remove)", c->spec);
    }
    return rv;
}

/* ---- the ended-sids table (ended.h) in shared memory of the module's own:
 * made once, in the parent's process pool, and kept across graceful
 * restarts through httpd's retained data, so sessions Entra ended stay
 * ended; inherited by every child; its mutex is held for one lookup. */

#define ENDED_MUTEX "auth-entra-ended"
/* v3: the issued table and the local stores' generation joined it; v4: the
 * requests under way by key (a block of another size under the old name
 * would be read past its end after a graceful restart into this code) */
#define ENDED_RETAINED "mod_auth_entra-ended-sids-v4"

typedef struct {
    apr_shm_t *shm;             /* sids Entra ended */
    apr_shm_t *issued_shm;      /* sids this server signed in (cookie store) */
    apr_shm_t *gen_shm;         /* the local stores' generation (store_gen), and
                                 * when the issued table was made */
    apr_shm_t *users_shm;       /* requests under way by key (store_users) */
    apr_global_mutex_t *mutex;  /* kept with them: children of two generations
                                 * use the tables at once after a graceful
                                 * restart, and must share one lock */
} ended_retained;

static entra_ended_table *ended, *issued;
/* When the issued table was made (seconds): sessions signed in before it
 * (before a full restart, or an upgrade) are not in it. */
static apr_int64_t *issued_since;
static apr_global_mutex_t *ended_mutex;

void entra_ended_pre_config(apr_pool_t *pconf)
{
    ap_mutex_register(pconf, ENDED_MUTEX, NULL, APR_LOCK_DEFAULT, 0);
}

/* One table in shared memory, kept across graceful restarts in *shm. */
static entra_ended_table *kept_table(apr_shm_t **shm, server_rec *s)
{
    apr_status_t rv;

    if (*shm && !entra_ended_table_is(apr_shm_baseaddr_get(*shm), ENTRA_ENDED_SLOTS))
        entra_ended_table_init(apr_shm_baseaddr_get(*shm), ENTRA_ENDED_SLOTS);
    if (!*shm) {
        rv = apr_shm_create(shm, entra_ended_table_size(ENTRA_ENDED_SLOTS), NULL,
                            s->process->pool);
        if (rv != APR_SUCCESS) {
            *shm = NULL;
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, ENTRALOG(00109)
                         "cannot create the shared memory for sessions ended by Entra");
            return NULL;
        }
        entra_ended_table_init(apr_shm_baseaddr_get(*shm), ENTRA_ENDED_SLOTS);
    }
    return apr_shm_baseaddr_get(*shm);
}

int entra_ended_post_config(apr_pool_t *pconf, server_rec *s)
{
    ended_retained *kept = ap_retained_data_get(ENDED_RETAINED);
    apr_status_t rv;

    if (!kept) {
        kept = ap_retained_data_create(ENDED_RETAINED, sizeof(*kept));
        memset(kept, 0, sizeof(*kept));
    }
    if (!(ended = kept_table(&kept->shm, s)) || !(issued = kept_table(&kept->issued_shm, s)))
        return HTTP_INTERNAL_SERVER_ERROR;
    if (!kept->gen_shm) {
        if ((rv = apr_shm_create(&kept->gen_shm, 2 * sizeof(apr_uint64_t), NULL,
                                 s->process->pool)) != APR_SUCCESS) {
            kept->gen_shm = NULL;
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, ENTRALOG(00109)
                         "cannot create the shared memory for the session stores' generation");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        *(apr_uint64_t *)apr_shm_baseaddr_get(kept->gen_shm) = 0;
        ((apr_int64_t *)apr_shm_baseaddr_get(kept->gen_shm))[1] = apr_time_sec(apr_time_now());
    }
    if (!kept->users_shm) {
        apr_size_t size = ENTRA_LOCAL_SHARED_SLOTS * sizeof(apr_uint64_t);
        if ((rv = apr_shm_create(&kept->users_shm, size, NULL, s->process->pool))
            != APR_SUCCESS) {
            kept->users_shm = NULL;
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, ENTRALOG(00109)
                         "cannot create the shared memory for the session stores' requests "
                         "under way");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        memset(apr_shm_baseaddr_get(kept->users_shm), 0, size);
    }
    store_users = apr_shm_baseaddr_get(kept->users_shm);
    store_gen = apr_shm_baseaddr_get(kept->gen_shm);
    issued_since = (apr_int64_t *)store_gen + 1;
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
    const char *parts[] = { app_tag, sid };
    unsigned char digest[SHA256_DIGEST_LENGTH];

    (void)r;
    if (!entra_sha256_parts(parts, 2, digest))
        abort();    /* out of memory: never a digest two sids could share */
    memcpy(hash, digest, 16);
}

void entra_issued_add(request_rec *r, const char *app_tag, const char *sid, apr_int64_t expires)
{
    apr_int64_t now = apr_time_sec(r->request_time);
    unsigned char hash[16];
    int kept_all;

    if (!issued || !ended_mutex)
        return;
    ended_hash(r, app_tag, sid, hash);
    apr_global_mutex_lock(ended_mutex);
    kept_all = entra_ended_table_add(issued, hash, expires, now);
    apr_global_mutex_unlock(ended_mutex);
    if (!kept_all)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, ENTRALOG(00111)
                      "the record of sessions this server signed in is full around this sid: "
                      "the one closest to its end was dropped (Entra can no longer end it)");
}

int entra_ended_add(request_rec *r, const char *app_tag, const char *sid, apr_int64_t expires)
{
    apr_int64_t now = apr_time_sec(r->request_time);
    unsigned char hash[16];
    int result, kept_all = 1;

    if (!ended || !issued || !ended_mutex)
        return ENTRA_ENDED_UNKNOWN;
    ended_hash(r, app_tag, sid, hash);
    apr_global_mutex_lock(ended_mutex);
    /* A sid this server signed in is always ended; any other is nothing to
     * end, and only the rate limit (for a loop of made-up sids) is spent.
     * While the issued table is younger than a session can live (after a
     * full restart), a sid it does not know may be one signed in before:
     * within the rate limit, it is ended too. */
    if (entra_ended_table_has(issued, hash, now)) {
        kept_all = entra_ended_table_add(ended, hash, expires, now);
        result = ENTRA_ENDED_ENDED;
    }
    else if (!entra_ended_table_admit(ended, now))
        result = ENTRA_ENDED_REFUSED;
    else if (issued_since && now - *issued_since < expires - now) {
        kept_all = entra_ended_table_add(ended, hash, expires, now);
        result = ENTRA_ENDED_ENDED;
    }
    else
        result = ENTRA_ENDED_UNKNOWN;
    apr_global_mutex_unlock(ended_mutex);
    if (!kept_all)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, ENTRALOG(00412)
                      "the record of sessions ended by Entra is full around this sid: the "
                      "one closest to its end was dropped");
    return result;
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
