/* Discovery metadata and JWKS, cached per process (see provider.h). */
#include "provider.h"
#include "http.h"
#include "jwt.h"
#include "util.h"

#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <apr_time.h>
#include <jansson.h>
#include <string.h>

#define JWKS_MAX_KEYS 64

struct entra_provider {
    const char *discovery_url;
    apr_thread_mutex_t *lock;   /* guards everything below */
    apr_pool_t *meta_pool;      /* holds `meta`; replaced on each good fetch */
    entra_metadata meta;
    apr_int64_t meta_expires;
    apr_pool_t *jwks_pool;      /* holds `keys` */
    apr_array_header_t *keys;   /* entra_jwk */
    apr_int64_t jwks_expires;
    apr_int64_t last_kid_refetch;
    entra_provider_warn_fn warn;  /* told when a refetch fails and a stale copy stays */
    void *warn_ctx;
};

static apr_int64_t now_seconds(void)
{
    return (apr_int64_t)apr_time_sec(apr_time_now());
}

/* Cache storage lives in pools of our own, created and destroyed only under
 * pv->lock and never sharing an allocator with another thread's pools. */
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

static apr_status_t provider_cleanup(void *data)
{
    entra_provider *pv = data;

    cache_pool_drop(pv->meta_pool);
    cache_pool_drop(pv->jwks_pool);
    pv->meta_pool = pv->jwks_pool = NULL;
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
    apr_pool_cleanup_register(p, pv, provider_cleanup, apr_pool_cleanup_null);
    return pv;
}

static const char *json_str(json_t *obj, const char *name)
{
    return json_string_value(json_object_get(obj, name));
}

static json_t *parse_object(const char *json, apr_size_t len)
{
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);

    if (root && !json_is_object(root)) {
        json_decref(root);
        root = NULL;
    }
    return root;
}

const char *entra_metadata_parse(apr_pool_t *p, const char *json, apr_size_t len,
                                 entra_metadata *out)
{
    json_t *root = entra_json_pool_own(p, parse_object(json, len));
    static const char *const required[] = {
        "issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", NULL
    };
    int i;

    if (!root)
        return "discovery document is not a JSON object";
    for (i = 0; required[i]; i++) {
        if (!json_str(root, required[i]))
            return apr_pstrcat(p, "discovery document has no ", required[i], NULL);
    }
    out->issuer = apr_pstrdup(p, json_str(root, "issuer"));
    out->authorization_endpoint = apr_pstrdup(p, json_str(root, "authorization_endpoint"));
    out->token_endpoint = apr_pstrdup(p, json_str(root, "token_endpoint"));
    out->jwks_uri = apr_pstrdup(p, json_str(root, "jwks_uri"));
    out->userinfo_endpoint = apr_pstrdup(p, json_str(root, "userinfo_endpoint"));
    out->end_session_endpoint = apr_pstrdup(p, json_str(root, "end_session_endpoint"));
    out->msgraph_host = apr_pstrdup(p, json_str(root, "msgraph_host"));
    out->cloud_instance_name = apr_pstrdup(p, json_str(root, "cloud_instance_name"));
    return NULL;
}

static apr_status_t jwk_cleanup(void *jwk)
{
    cjose_jwk_release(jwk);
    return APR_SUCCESS;
}

static int is_b64url(const char *s)
{
    return s && *s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789-_") == strlen(s);
}

/* A key we can verify with: RSA, meant for signatures, importable. cjose
 * sees only kty, n and e, checked to be base64url first: its decoder aborts
 * the process on a stray '=', and a JWKS has no business handing it more. */
static int jwks_add_key(apr_pool_t *p, json_t *key_json, apr_array_header_t *keys)
{
    const char *use = json_str(key_json, "use");
    const char *n = json_str(key_json, "n"), *e = json_str(key_json, "e");
    cjose_err err;
    cjose_jwk_t *jwk;
    entra_jwk *entry;
    json_t *public_part;

    if (!json_is_object(key_json) || !json_str(key_json, "kty")
        || strcmp(json_str(key_json, "kty"), "RSA") != 0 || (use && strcmp(use, "sig") != 0)
        || !is_b64url(n) || !is_b64url(e))
        return 0;
    public_part = json_pack("{s:s, s:s, s:s}", "kty", "RSA", "n", n, "e", e);
    jwk = public_part ? cjose_jwk_import_json((cjose_header_t *)public_part, &err) : NULL;
    json_decref(public_part);
    if (!jwk)
        return 0;
    apr_pool_cleanup_register(p, jwk, jwk_cleanup, apr_pool_cleanup_null);
    entry = apr_array_push(keys);
    entry->kid = apr_pstrdup(p, json_str(key_json, "kid"));
    entry->issuer = apr_pstrdup(p, json_str(key_json, "issuer"));
    entry->jwk = jwk;
    return 1;
}

const char *entra_jwks_parse(apr_pool_t *p, const char *json, apr_size_t len,
                             apr_array_header_t **keys)
{
    json_t *root = entra_json_pool_own(p, parse_object(json, len));
    json_t *list = root ? json_object_get(root, "keys") : NULL;
    size_t i;

    if (!json_is_array(list))
        return "JWKS is not a JSON object with a keys array";
    *keys = apr_array_make(p, 4, sizeof(entra_jwk));
    for (i = 0; i < json_array_size(list) && (*keys)->nelts < JWKS_MAX_KEYS; i++)
        jwks_add_key(p, json_array_get(list, i), *keys);
    return (*keys)->nelts ? NULL : "JWKS has no usable RSA signing key";
}

/* GETs url and checks for a 200 JSON answer; the reason names the cause. */
static const char *fetch_json(apr_pool_t *p, const char *what, const char *url, int timeout,
                              entra_http_response *resp)
{
    entra_http_opts opts = { timeout, NULL, NULL, NULL };
    const char *why = entra_http_call(p, url, NULL, &opts, resp);

    if (why)
        return apr_psprintf(p, "%s fetch failed: %s", what, why);
    if (resp->status != 200)
        return apr_psprintf(p, "%s fetch from %s failed: HTTP status %ld", what, url,
                            resp->status);
    return NULL;
}

/* Under pv->lock: a stale copy stays in use; say why it was not replaced. */
static void warn_stale(entra_provider *pv, apr_pool_t *scratch, const char *what,
                       const char *why)
{
    if (pv->warn)
        pv->warn(pv->warn_ctx, apr_psprintf(scratch, "%s; keeping the %s fetched before",
                                            why, what));
}

/* Under pv->lock. Entra never moves a tenant to another issuer, so a
 * refetched document that names another one is refused: whatever served
 * it, tokens keep being checked against the issuer in use. */
static const char *refresh_metadata(entra_provider *pv, apr_pool_t *scratch, int timeout)
{
    entra_http_response resp;
    apr_pool_t *pool;
    entra_metadata meta;
    const char *why;

    if ((why = fetch_json(scratch, "discovery", pv->discovery_url, timeout, &resp)))
        return why;
    pool = cache_pool();
    if ((why = entra_metadata_parse(pool, resp.body, resp.len, &meta))) {
        cache_pool_drop(pool);
        return apr_psprintf(scratch, "discovery document from %s is unusable: %s",
                            pv->discovery_url, why);
    }
    if (pv->meta_pool && strcmp(meta.issuer, pv->meta.issuer) != 0) {
        why = apr_psprintf(scratch, "discovery document from %s changed its issuer from %s "
                           "to %s (restart Apache if the tenant really moved)",
                           pv->discovery_url, entra_log_safe(scratch, pv->meta.issuer),
                           entra_log_safe(scratch, meta.issuer));
        cache_pool_drop(pool);
        return why;
    }
    cache_pool_drop(pv->meta_pool);
    pv->meta_pool = pool;
    pv->meta = meta;
    pv->meta_expires = now_seconds() + ENTRA_METADATA_TTL;
    return NULL;
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
    if (!pv->meta_pool || now_seconds() >= pv->meta_expires) {
        why = refresh_metadata(pv, p, timeout);
        /* A stale copy beats none: keep serving it while Entra is away,
         * and ask again in a while rather than on every request. */
        if (why && pv->meta_pool) {
            warn_stale(pv, p, "discovery document", why);
            pv->meta_expires = now_seconds() + ENTRA_STALE_RETRY;
            why = NULL;
        }
    }
    if (!why)
        copy_metadata(p, &pv->meta, out);
    apr_thread_mutex_unlock(pv->lock);
    return why;
}

/* Under pv->lock. */
static const char *refresh_jwks(entra_provider *pv, apr_pool_t *scratch, int timeout)
{
    entra_http_response resp;
    apr_array_header_t *keys;
    apr_pool_t *pool;
    const char *why;

    if (!pv->meta_pool && (why = refresh_metadata(pv, scratch, timeout)))
        return why;
    if ((why = fetch_json(scratch, "JWKS", pv->meta.jwks_uri, timeout, &resp)))
        return why;
    pool = cache_pool();
    if ((why = entra_jwks_parse(pool, resp.body, resp.len, &keys))) {
        cache_pool_drop(pool);
        return apr_psprintf(scratch, "JWKS from %s is unusable: %s", pv->meta.jwks_uri, why);
    }
    cache_pool_drop(pv->jwks_pool);
    pv->jwks_pool = pool;
    pv->keys = keys;
    pv->jwks_expires = now_seconds() + ENTRA_JWKS_TTL;
    return NULL;
}

const entra_jwk *entra_jwks_select(const apr_array_header_t *keys, const char *kid)
{
    int i;

    if (!keys)
        return NULL;
    /* OpenID Connect Core 10.1: kid may be left out only when the JWKS
     * holds one key. With several, any choice would be a guess. */
    if (!kid)
        return keys->nelts == 1 ? &APR_ARRAY_IDX(keys, 0, entra_jwk) : NULL;
    for (i = 0; i < keys->nelts; i++) {
        const entra_jwk *k = &APR_ARRAY_IDX(keys, i, entra_jwk);
        if (k->kid && strcmp(kid, k->kid) == 0)
            return k;
    }
    return NULL;
}

/* Under pv->lock. Key order means nothing: match by kid (see
 * entra_jwks_select). Returns a retained key. */
static cjose_jwk_t *find_key(entra_provider *pv, apr_pool_t *p, const char *kid,
                             const char **key_issuer)
{
    const entra_jwk *k = entra_jwks_select(pv->keys, kid);
    cjose_err err;

    if (!k)
        return NULL;
    *key_issuer = apr_pstrdup(p, k->issuer);
    return cjose_jwk_retain(k->jwk, &err);
}

/* Under pv->lock. A kid we do not know means Entra rolled its keys, and
 * perhaps moved them: read the discovery document again, then the JWKS.
 * The first miss refetches at once, later ones once per gap. */
static cjose_jwk_t *refetch_for_kid(entra_provider *pv, entra_key_query *q, const char *kid,
                                    const char **key_issuer)
{
    const char *why;

    pv->last_kid_refetch = now_seconds();
    if ((why = refresh_metadata(pv, q->pool, q->timeout)))
        warn_stale(pv, q->pool, "discovery document", why);
    if ((why = refresh_jwks(pv, q->pool, q->timeout))) {
        q->fetch_error = apr_pstrcat(q->pool, "the token's key is not in the cached JWKS, and ",
                                     why, NULL);
        return NULL;
    }
    return find_key(pv, q->pool, kid, key_issuer);
}

cjose_jwk_t *entra_provider_key_lookup(void *query, const char *kid, const char **key_issuer)
{
    entra_key_query *q = query;
    entra_provider *pv = q->provider;
    apr_int64_t now = now_seconds();
    cjose_jwk_t *jwk = NULL;
    const char *why;

    apr_thread_mutex_lock(pv->lock);
    if (!pv->jwks_pool || now >= pv->jwks_expires) {
        why = refresh_jwks(pv, q->pool, q->timeout);
        if (why && !pv->jwks_pool)
            q->fetch_error = why;
        else if (why) {
            warn_stale(pv, q->pool, "JWKS", why);
            pv->jwks_expires = now + ENTRA_STALE_RETRY;
        }
    }
    if (pv->jwks_pool && !(jwk = find_key(pv, q->pool, kid, key_issuer)) && kid
        && (pv->last_kid_refetch == 0 || now - pv->last_kid_refetch >= ENTRA_KID_REFETCH_GAP))
        jwk = refetch_for_kid(pv, q, kid, key_issuer);
    apr_thread_mutex_unlock(pv->lock);
    return jwk;
}
