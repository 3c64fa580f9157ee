/* Discovery metadata and JWKS, cached per process (see provider.h).
 *
 * Threads share this cache, so what they share is either immutable once
 * published or counted with APR atomics:
 * - the metadata lives in a pool that is replaced whole, under the lock;
 *   readers copy what they need while they hold it;
 * - a JWKS is a keyset, immutable once published, counted atomically (the
 *   compiler's __atomic builtins, which ThreadSanitizer sees, unlike APR's
 *   atomics built into libapr): the cache holds one reference and every
 *   lookup under way another, released with the request's pool. Its cjose keys are never retained or released
 *   one by one (cjose counts with plain ++/--): the keyset's pool frees them
 *   when the last reference goes.
 * The lock is never held across a network call, nor across a log write. A
 * document is fetched by one request at a time (a "flight"); others use the
 * copy they have, or, with none yet, wait a moment (FLIGHT_WAIT) for that
 * flight to land rather than queue for fetches of their own. A fetch that
 * fails with no copy to fall back on is remembered for ENTRA_FETCH_BACKOFF
 * seconds, and answered from: an unreachable Entra costs one timeout, not
 * one per request. Times here are monotonic: a clock stepped back cannot
 * stretch a back-off. */
#include "provider.h"
#include "http.h"
#include "jwt.h"
#include "metrics.h"
#include "token.h"
#include "util.h"

#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_time.h>
#include <string.h>
#include <time.h>

/* How long a request with no copy waits for another's flight, at most. */
#define FLIGHT_WAIT 2

typedef struct {
    apr_pool_t *pool;               /* holds `keys`; destroyed with the last reference */
    apr_array_header_t *keys;       /* entra_jwk, immutable */
    apr_uint32_t refs;              /* __atomic only */
} keyset;

/* One cached document's fetching. */
typedef struct {
    int busy;                       /* a fetch is under way (outside the lock) */
    apr_int64_t expires;            /* the copy is fresh until then */
    apr_int64_t backoff_until;      /* no copy, and the last fetch failed: until then
                                     * answer with `error` */
    char error[1024];
} flight;

struct entra_provider {
    const char *discovery_url;
    apr_thread_mutex_t *lock;       /* guards what follows; never held across I/O */
    apr_thread_cond_t *landed;      /* broadcast when a flight ends */
    apr_pool_t *meta_pool;          /* holds `meta`; NULL until a fetch succeeded */
    entra_metadata meta;
    flight meta_flight;
    keyset *keys;                   /* NULL until a fetch succeeded */
    flight jwks_flight;
    apr_int64_t last_kid_refetch;
    entra_provider_warn_fn warn;    /* told when a refetch fails and a stale copy stays */
    void *warn_ctx;
};

typedef enum { USE_COPY, FETCH } boarding;

static apr_interval_time_t monotonic_usec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (apr_interval_time_t)ts.tv_sec * APR_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static apr_int64_t now_seconds(void)
{
    return (apr_int64_t)((monotonic_usec() + entra_clock_offset()) / APR_USEC_PER_SEC);
}

/* Under pv->lock: waits for `f` to land, at most `seconds`. */
static void await_landing(entra_provider *pv, flight *f, int seconds)
{
    apr_interval_time_t until = monotonic_usec() + apr_time_from_sec(seconds), left;

    while (f->busy && (left = until - monotonic_usec()) > 0)
        apr_thread_cond_timedwait(pv->landed, pv->lock, left);
}

/* Cache storage lives in pools of its own, never sharing an allocator with
 * another thread's pools. */
static apr_pool_t *cache_pool(void)
{
    apr_pool_t *pool = NULL;

    apr_pool_create_unmanaged_ex(&pool, NULL, NULL);
    return pool;
}

static void cache_pool_drop(apr_pool_t *pool)
{
    if (pool)
        apr_pool_destroy(pool);
}

static void keyset_hold(keyset *ks)
{
    __atomic_add_fetch(&ks->refs, 1, __ATOMIC_ACQ_REL);
}

static void keyset_release(keyset *ks)
{
    if (ks && __atomic_sub_fetch(&ks->refs, 1, __ATOMIC_ACQ_REL) == 0)
        cache_pool_drop(ks->pool);
}

static apr_status_t keyset_release_cleanup(void *ks)
{
    keyset_release(ks);
    return APR_SUCCESS;
}

static apr_status_t provider_cleanup(void *data)
{
    entra_provider *pv = data;
    apr_pool_t *meta_pool;
    keyset *keys;

    apr_thread_mutex_lock(pv->lock);
    meta_pool = pv->meta_pool;
    keys = pv->keys;
    pv->meta_pool = NULL;
    pv->keys = NULL;
    apr_thread_mutex_unlock(pv->lock);
    cache_pool_drop(meta_pool);
    keyset_release(keys);
    return APR_SUCCESS;
}

entra_provider *entra_provider_create(apr_pool_t *p, const char *discovery_url,
                                      entra_provider_warn_fn warn, void *warn_ctx)
{
    entra_provider *pv = apr_pcalloc(p, sizeof(*pv));

    pv->discovery_url = apr_pstrdup(p, discovery_url);
    pv->warn = warn;
    pv->warn_ctx = warn_ctx;
    apr_thread_mutex_create(&pv->lock, APR_THREAD_MUTEX_DEFAULT, p);
    apr_thread_cond_create(&pv->landed, p);
    apr_pool_cleanup_register(p, pv, provider_cleanup, apr_pool_cleanup_null);
    return pv;
}

/* Under pv->lock: what this request does about one document. A fresh copy
 * is used; so is a stale one while another request refreshes it. Without
 * a copy, a failure remembered within its back-off is the answer; a fetch
 * under way is waited for (a moment); otherwise this request fetches. */
static boarding board(entra_provider *pv, flight *f, int have_copy, int timeout)
{
    apr_int64_t now = now_seconds();

    if (have_copy && (now < f->expires || f->busy))
        return USE_COPY;
    if (!have_copy && now < f->backoff_until)
        return USE_COPY;
    if (!f->busy) {
        f->busy = 1;
        return FETCH;
    }
    /* Briefly: a flood of requests during an outage must not hold every
     * worker thread for a whole timeout. */
    await_landing(pv, f, timeout < FLIGHT_WAIT ? timeout : FLIGHT_WAIT);
    return USE_COPY;
}

/* Under pv->lock: a flight is over. */
static void land(entra_provider *pv, flight *f, const char *why, apr_int64_t fresh_for)
{
    apr_int64_t now = now_seconds();

    f->busy = 0;
    if (!why) {
        f->expires = now + fresh_for;
        f->backoff_until = 0;
        f->error[0] = '\0';
    }
    else {
        /* A stale copy beats none: it stays, and is tried again in a while
         * rather than on every request. Without one, the failure is the
         * answer for a short while. */
        f->expires = now + ENTRA_STALE_RETRY;
        f->backoff_until = now + ENTRA_FETCH_BACKOFF;
        apr_cpystrn(f->error, why, sizeof(f->error));
    }
    apr_thread_cond_broadcast(pv->landed);
}

static const char *flight_error(apr_pool_t *p, const flight *f, const char *what)
{
    return f->error[0] ? apr_pstrdup(p, f->error)
                       : apr_psprintf(p, "the %s is still being fetched", what);
}

/* A stale copy stays in use: say why it was not replaced (never under
 * pv->lock: a log write may block). */
static void warn_stale(entra_provider *pv, apr_pool_t *scratch, const char *what,
                       const char *why)
{
    if (pv->warn && why)
        pv->warn(pv->warn_ctx, apr_psprintf(scratch, "%s; keeping the %s fetched before",
                                            why, what));
}

/* Entra's own reason for an error answer (an OAuth-style JSON body, as
 * for the discovery of a tenant that does not exist: 400 invalid_tenant,
 * AADSTS90002), with what to check; "" when the body has none. */
static const char *entra_reason(apr_pool_t *p, const entra_http_response *resp)
{
    json_t *body = resp->body && resp->len
                   ? entra_json_pool_own(p, json_loadb(resp->body, resp->len, 0, NULL)) : NULL;
    const char *error = json_string_value(json_object_get(body, "error"));

    if (!error)
        return "";
    return apr_pstrcat(p, ": ", entra_token_error_text(p, body),
                       strcmp(error, "invalid_tenant") == 0
                           ? " (check EntraTenant, and EntraAuthority for the tenant's cloud)"
                           : "", NULL);
}

/* GETs url and checks for a 200 JSON answer; the reason names the cause. */
static const char *fetch_json(apr_pool_t *p, const char *what, entra_endpoint ep,
                              const char *url, int timeout, entra_http_response *resp)
{
    entra_http_opts opts = { timeout, NULL, NULL, NULL, ep };
    const char *why = entra_http_call(p, url, NULL, &opts, resp);

    if (why)
        return apr_psprintf(p, "%s fetch failed: %s", what, why);
    if (resp->status != 200)
        return apr_psprintf(p, "%s fetch from %s failed: HTTP status %ld%s", what, url,
                            resp->status, entra_reason(p, resp));
    return NULL;
}

/* Under pv->lock. Entra never moves a tenant to another issuer, so a
 * refetched document that names another one is refused: whatever served
 * it, tokens keep being checked against the issuer in use. */
static const char *publish_metadata(entra_provider *pv, apr_pool_t *scratch, apr_pool_t *pool,
                                    const entra_metadata *meta)
{
    if (pv->meta_pool && strcmp(meta->issuer, pv->meta.issuer) != 0)
        return apr_psprintf(scratch, "discovery document from %s changed its issuer from %s "
                            "to %s (restart Apache if the tenant really moved)",
                            pv->discovery_url, entra_log_safe(scratch, pv->meta.issuer),
                            entra_log_safe(scratch, meta->issuer));
    cache_pool_drop(pv->meta_pool);
    pv->meta_pool = pool;
    pv->meta = *meta;
    return NULL;
}

/* This request holds the metadata flight: fetch outside the lock, then
 * land. Returns why it failed (in `p`), or NULL. */
static const char *fly_metadata(entra_provider *pv, apr_pool_t *p, int timeout)
{
    entra_http_response resp;
    entra_metadata meta;
    apr_pool_t *pool = NULL;
    const char *why;
    int stale;

    if (!(why = fetch_json(p, "discovery", ENTRA_EP_DISCOVERY, pv->discovery_url, timeout,
                           &resp))) {
        pool = cache_pool();
        if ((why = entra_metadata_parse(pool, resp.body, resp.len, &meta)))
            why = apr_psprintf(p, "discovery document from %s is unusable: %s",
                               pv->discovery_url, why);
    }
    apr_thread_mutex_lock(pv->lock);
    if (!why && (why = publish_metadata(pv, p, pool, &meta)) == NULL)
        pool = NULL;
    stale = why && pv->meta_pool;
    land(pv, &pv->meta_flight, why, ENTRA_METADATA_TTL);
    apr_thread_mutex_unlock(pv->lock);
    entra_metric_inc(ENTRA_M_DISCOVERY_FETCH);
    if (why)
        entra_metric_inc(ENTRA_M_DISCOVERY_FAILURE);
    if (stale)
        warn_stale(pv, p, "discovery document", why);
    cache_pool_drop(pool);
    return why;
}

static void copy_metadata(apr_pool_t *p, const entra_metadata *from, entra_metadata *to)
{
    to->issuer = apr_pstrdup(p, from->issuer);
    to->authorization_endpoint = apr_pstrdup(p, from->authorization_endpoint);
    to->token_endpoint = apr_pstrdup(p, from->token_endpoint);
    to->jwks_uri = apr_pstrdup(p, from->jwks_uri);
    to->userinfo_endpoint = apr_pstrdup(p, from->userinfo_endpoint);
    to->end_session_endpoint = apr_pstrdup(p, from->end_session_endpoint);
    to->msgraph_host = apr_pstrdup(p, from->msgraph_host);
    to->cloud_instance_name = apr_pstrdup(p, from->cloud_instance_name);
}

const char *entra_provider_metadata(entra_provider *pv, apr_pool_t *p, int timeout,
                                    entra_metadata *out)
{
    const char *why = NULL;

    apr_thread_mutex_lock(pv->lock);
    if (board(pv, &pv->meta_flight, pv->meta_pool != NULL, timeout) == FETCH) {
        apr_thread_mutex_unlock(pv->lock);
        fly_metadata(pv, p, timeout);
        apr_thread_mutex_lock(pv->lock);
    }
    if (pv->meta_pool)
        copy_metadata(p, &pv->meta, out);
    else
        why = flight_error(p, &pv->meta_flight, "discovery document");
    apr_thread_mutex_unlock(pv->lock);
    return why;
}

/* A keyset from a JWKS document, holding the cache's reference; NULL with
 * *why set when it has no usable key. */
static keyset *keyset_parse(const char *json, apr_size_t len, const char **why)
{
    apr_pool_t *pool = cache_pool();
    keyset *ks = apr_pcalloc(pool, sizeof(*ks));

    ks->pool = pool;
    if ((*why = entra_jwks_parse(pool, json, len, &ks->keys))) {
        cache_pool_drop(pool);
        return NULL;
    }
    __atomic_store_n(&ks->refs, 1, __ATOMIC_RELEASE);
    return ks;
}

/* A keyset from the JWKS at `uri`; NULL with *why set when none. */
static keyset *fetch_keyset(apr_pool_t *p, const char *uri, int timeout, const char **why)
{
    entra_http_response resp;
    keyset *ks;

    if ((*why = fetch_json(p, "JWKS", ENTRA_EP_JWKS, uri, timeout, &resp)))
        return NULL;
    if (!(ks = keyset_parse(resp.body, resp.len, why)))
        *why = apr_psprintf(p, "JWKS from %s is unusable: %s", uri, *why);
    return ks;
}

/* This request holds the JWKS flight: fetch outside the lock (the jwks_uri
 * from the metadata, which has flights of its own), then land. Returns why
 * it failed (in `p`), or NULL; `warn`: a failure that keeps the copy
 * fetched before is logged here (a refetch for an unknown kid reports it
 * itself). */
static const char *fly_jwks(entra_provider *pv, apr_pool_t *p, int timeout, int warn)
{
    entra_metadata meta;
    keyset *ks = NULL, *old = NULL;
    const char *why = entra_provider_metadata(pv, p, timeout, &meta);
    int stale;

    if (!why)
        ks = fetch_keyset(p, meta.jwks_uri, timeout, &why);
    apr_thread_mutex_lock(pv->lock);
    if (ks) {
        old = pv->keys;
        pv->keys = ks;
    }
    stale = !ks && pv->keys && warn;
    land(pv, &pv->jwks_flight, why, ENTRA_JWKS_TTL);
    apr_thread_mutex_unlock(pv->lock);
    entra_metric_inc(ENTRA_M_JWKS_FETCH);
    if (why)
        entra_metric_inc(ENTRA_M_JWKS_FAILURE);
    if (stale)
        warn_stale(pv, p, "JWKS", why);
    keyset_release(old);
    return why;
}

/* The keyset in use, held until `q->pool` is cleared; NULL (q->fetch_error
 * set) when there is none. */
static keyset *take_keyset(entra_provider *pv, entra_key_query *q)
{
    keyset *ks;

    apr_thread_mutex_lock(pv->lock);
    if (board(pv, &pv->jwks_flight, pv->keys != NULL, q->timeout) == FETCH) {
        apr_thread_mutex_unlock(pv->lock);
        fly_jwks(pv, q->pool, q->timeout, 1);
        apr_thread_mutex_lock(pv->lock);
    }
    if ((ks = pv->keys))
        keyset_hold(ks);
    else
        q->fetch_error = flight_error(q->pool, &pv->jwks_flight, "JWKS");
    apr_thread_mutex_unlock(pv->lock);
    if (ks)
        apr_pool_cleanup_register(q->pool, ks, keyset_release_cleanup, apr_pool_cleanup_null);
    return ks;
}

/* A kid we do not know means Entra rolled its keys, and perhaps moved
 * them: read the discovery document again, then the JWKS. The first miss
 * refetches at once, later ones once per gap; a miss while a fetch is
 * under way waits a moment for that one (the new key may be in it). Returns 1 when
 * the keyset may have changed. */
static int refetch_for_kid(entra_provider *pv, entra_key_query *q)
{
    apr_int64_t now = now_seconds();
    const char *why;
    int meta;

    apr_thread_mutex_lock(pv->lock);
    /* a moment at most: a made-up kid must not hold a worker for as long
     * as a slow Entra takes */
    if (pv->jwks_flight.busy) {
        await_landing(pv, &pv->jwks_flight, q->timeout < FLIGHT_WAIT ? q->timeout : FLIGHT_WAIT);
        apr_thread_mutex_unlock(pv->lock);
        return 1;
    }
    if (pv->last_kid_refetch && now - pv->last_kid_refetch < ENTRA_KID_REFETCH_GAP) {
        apr_thread_mutex_unlock(pv->lock);
        return 0;
    }
    pv->last_kid_refetch = now;
    pv->jwks_flight.busy = 1;
    if ((meta = !pv->meta_flight.busy))
        pv->meta_flight.busy = 1;
    apr_thread_mutex_unlock(pv->lock);
    if (meta)
        fly_metadata(pv, q->pool, q->timeout);
    if ((why = fly_jwks(pv, q->pool, q->timeout, 0))) {
        q->fetch_error = apr_pstrcat(q->pool, "the token's key is not in the cached JWKS, and ",
                                     why, NULL);
        return 0;
    }
    return 1;
}

/* The key for `kid` in a held keyset; borrowed for as long as the keyset. */
static cjose_jwk_t *pick(apr_pool_t *p, const keyset *ks, const char *kid,
                         const char **key_issuer)
{
    const entra_jwk *k = ks ? entra_jwks_select(ks->keys, kid) : NULL;

    if (!k)
        return NULL;
    *key_issuer = apr_pstrdup(p, k->issuer);
    return k->jwk;
}

cjose_jwk_t *entra_provider_key_lookup(void *query, const char *kid, const char **key_issuer)
{
    entra_key_query *q = query;
    keyset *ks = take_keyset(q->provider, q);
    cjose_jwk_t *jwk = pick(q->pool, ks, kid, key_issuer);

    if (!jwk && ks && kid && refetch_for_kid(q->provider, q))
        jwk = pick(q->pool, take_keyset(q->provider, q), kid, key_issuer);
    return jwk;
}

const char *entra_provider_seed(entra_provider *pv, apr_pool_t *p, const char *metadata_json,
                                const char *jwks_json)
{
    apr_pool_t *pool = cache_pool();
    entra_metadata meta;
    keyset *ks, *old;
    const char *why;

    if ((why = entra_metadata_parse(pool, metadata_json, strlen(metadata_json), &meta))
        || !(ks = keyset_parse(jwks_json, strlen(jwks_json), &why))) {
        cache_pool_drop(pool);
        return apr_pstrdup(p, why);
    }
    apr_thread_mutex_lock(pv->lock);
    cache_pool_drop(pv->meta_pool);
    pv->meta_pool = pool;
    pv->meta = meta;
    land(pv, &pv->meta_flight, NULL, ENTRA_METADATA_TTL);
    old = pv->keys;
    pv->keys = ks;
    land(pv, &pv->jwks_flight, NULL, ENTRA_JWKS_TTL);
    apr_thread_mutex_unlock(pv->lock);
    keyset_release(old);
    return NULL;
}
