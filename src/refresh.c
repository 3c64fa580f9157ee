/* Access-token refresh with the session's refresh token (see refresh.h). */
#include "refresh.h"
#include "crypto.h"
#include "log.h"
#include "provider.h"
#include "respond.h"
#include "socache.h"
#include "store.h"
#include "token.h"
#include "util.h"

#include <http_log.h>
#include <http_protocol.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <apr_global_mutex.h>
#include <util_mutex.h>
#include <string.h>

APLOG_USE_MODULE(auth_entra);

/* How long a refresh's outcome is kept for the session's other requests
 * still carrying the old refresh token. */
#define OUTCOME_TTL 60
#define OUTCOMES_MAX 1024

typedef struct {
    apr_int64_t when;
    int refused;
    char *access_token, *refresh_token;
    apr_int64_t expires;
} outcome;

struct entra_refresher {
    apr_thread_mutex_t *lock;   /* one refresh at a time in this process; guards `done` */
    apr_hash_t *done;           /* SHA-256 of the old refresh token -> outcome */
    apr_pool_t *pool;           /* holds `done`; replaced when it fills up */
};

/* One refresh at a time across the server's processes; outcomes then go to
 * the shared socache (the session store, or the shmcb ended-sessions cache)
 * so that a request in another child finds them. Without a shared cache,
 * the per-process `done` table serves. */
static apr_global_mutex_t *refresh_mutex;

void entra_refresh_pre_config(apr_pool_t *pconf)
{
    ap_mutex_register(pconf, ENTRA_REFRESH_MUTEX, NULL, APR_LOCK_DEFAULT, 0);
}

int entra_refresh_post_config(apr_pool_t *pconf, server_rec *s)
{
    refresh_mutex = NULL;
    if (ap_global_mutex_create(&refresh_mutex, NULL, ENTRA_REFRESH_MUTEX, NULL, s, pconf, 0)
        != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, ENTRALOG(00105)
                     "cannot create the refresh mutex");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

entra_refresher *entra_refresher_create(apr_pool_t *p)
{
    entra_refresher *rf = apr_pcalloc(p, sizeof(*rf));

    if (refresh_mutex)
        apr_global_mutex_child_init(&refresh_mutex, apr_global_mutex_lockfile(refresh_mutex), p);
    apr_thread_mutex_create(&rf->lock, APR_THREAD_MUTEX_DEFAULT, p);
    apr_pool_create(&rf->pool, p);
    rf->done = apr_hash_make(rf->pool);
    return rf;
}

static void refresh_lock(entra_refresher *rf)
{
    apr_thread_mutex_lock(rf->lock);
    if (refresh_mutex)
        apr_global_mutex_lock(refresh_mutex);
}

static void refresh_unlock(entra_refresher *rf)
{
    if (refresh_mutex)
        apr_global_mutex_unlock(refresh_mutex);
    apr_thread_mutex_unlock(rf->lock);
}

static entra_socache *shared_cache(const entra_server_conf *sc)
{
    return sc->session_cache ? sc->session_cache : sc->ended_sids;
}

#define OUTCOME_PURPOSE "entra-refresh-v1"
#define OUTCOME_KEY ".rf"

/* The outcome sealed (it holds tokens) for the shared cache. */
static void share(request_rec *r, const entra_server_conf *sc, const char *key,
                  const outcome *o)
{
    apr_array_header_t *pairs = apr_array_make(r->pool, 4, sizeof(entra_pair));
    unsigned char *plain;
    apr_size_t len;
    const char *sealed;

    entra_pairs_add(pairs, "x", o->refused ? "refused" : "ok");
    entra_pairs_add(pairs, "at", o->access_token ? o->access_token : "");
    entra_pairs_add(pairs, "rt", o->refresh_token ? o->refresh_token : "");
    entra_pairs_add(pairs, "e", apr_psprintf(r->pool, "%" APR_INT64_T_FMT, o->expires));
    plain = entra_pairs_serialize(r->pool, pairs, &len);
    if ((sealed = entra_seal(r->pool, sc->app_keys, OUTCOME_PURPOSE, plain, len)))
        entra_socache_put(shared_cache(sc), r, apr_pstrcat(r->pool, key, OUTCOME_KEY, NULL),
                          sealed, o->when + OUTCOME_TTL);
}

static outcome *shared(request_rec *r, const entra_server_conf *sc, const char *key)
{
    apr_array_header_t *pairs;
    unsigned char *plain;
    const char *sealed;
    apr_size_t len;
    outcome *o;

    if (entra_socache_get(shared_cache(sc), r, apr_pstrcat(r->pool, key, OUTCOME_KEY, NULL),
                          &sealed) != APR_SUCCESS
        || !(plain = entra_open(r->pool, sc->app_keys, OUTCOME_PURPOSE, sealed, &len))
        || !(pairs = entra_pairs_parse(r->pool, plain, len)) || !entra_pairs_get(pairs, "x"))
        return NULL;
    o = apr_pcalloc(r->pool, sizeof(*o));
    o->refused = strcmp(entra_pairs_get(pairs, "x"), "refused") == 0;
    o->access_token = (char *)entra_pairs_get(pairs, "at");
    o->refresh_token = (char *)entra_pairs_get(pairs, "rt");
    o->expires = entra_parse_int(entra_pairs_get(pairs, "e"));
    return o;
}

/* Under rf->lock. */
static outcome *recall(entra_refresher *rf, const char *key, apr_int64_t now)
{
    outcome *o = apr_hash_get(rf->done, key, APR_HASH_KEY_STRING);

    return o && now - o->when <= OUTCOME_TTL ? o : NULL;
}

/* Under rf->lock. The outcomes are short-lived: when there are many, they
 * are all old enough to drop at once. */
static outcome *remember(entra_refresher *rf, const char *key, apr_int64_t now)
{
    outcome *o;

    if (apr_hash_count(rf->done) >= OUTCOMES_MAX) {
        apr_pool_clear(rf->pool);
        rf->done = apr_hash_make(rf->pool);
    }
    o = apr_pcalloc(rf->pool, sizeof(*o));
    o->when = now;
    apr_hash_set(rf->done, apr_pstrdup(rf->pool, key), APR_HASH_KEY_STRING, o);
    return o;
}

/* An ID token in a refresh answer is checked when signed and otherwise
 * ignored; the sign-in's claims stay either way. */
static int id_token_acceptable(request_rec *r, const entra_server_conf *sc,
                               const entra_metadata *meta, json_t *answer)
{
    const char *idt = json_string_value(json_object_get(answer, "id_token"));
    const char *why;
    int unavailable;

    if (!idt || !*idt || strchr(idt, '.') == NULL || strrchr(idt, '.')[1] == '\0')
        return 1;
    if (entra_id_token_verify(r->pool, sc, meta, idt, NULL, &why, &unavailable))
        return 1;
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00802)
                  "refresh: the ID token in Entra's answer is invalid: %s", why);
    return 0;
}

/* Calls Entra; fills `o` (under rf->lock). Returns 0 when Entra could not
 * be asked or answered unusably (nothing remembered then). */
static int call_entra(request_rec *r, const entra_server_conf *sc, const char *refresh_token,
                      outcome *o)
{
    entra_metadata meta;
    json_t *answer = NULL;
    const char *why, *grant;

    if ((why = entra_provider_metadata(sc->provider, r->pool, entra_conf_http_timeout(sc),
                                       &meta))) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00803) "refresh: %s", why);
        return 0;
    }
    grant = apr_pstrcat(r->pool, "grant_type=refresh_token&refresh_token=",
                        entra_url_encode(r->pool, refresh_token),
                        "&scope=", entra_url_encode(r->pool, entra_conf_scope(sc)), NULL);
    switch (entra_token_call(r->pool, sc, &meta, grant, &answer, &why)) {
    case ENTRA_TOKEN_OK:
        if (!json_is_string(json_object_get(answer, "access_token")))
            break;
        o->refused = !id_token_acceptable(r, sc, &meta, answer);
        o->access_token = apr_pstrdup(r->pool, json_string_value(json_object_get(answer,
                                                                              "access_token")));
        o->refresh_token = apr_pstrdup(r->pool, json_string_value(json_object_get(answer,
                                                                               "refresh_token")));
        o->expires = apr_time_sec(apr_time_now()) + entra_token_expires_in(answer);
        return 1;
    case ENTRA_TOKEN_REFUSED:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00804)
                      "refresh refused, the session ends (%s): %s", why,
                      entra_token_error_text(r->pool, answer));
        o->refused = 1;
        return 1;
    default:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00805) "refresh failed: %s", why);
        return 0;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00806)
                  "refresh failed: Entra's answer has no access_token");
    return 0;
}

/* The outcome is kept in the refresher's pool, shared across requests. */
static void keep(entra_refresher *rf, outcome *kept, const outcome *got)
{
    kept->refused = got->refused;
    kept->expires = got->expires;
    kept->access_token = got->access_token ? apr_pstrdup(rf->pool, got->access_token) : NULL;
    kept->refresh_token = got->refresh_token ? apr_pstrdup(rf->pool, got->refresh_token) : NULL;
}

static void set_field(apr_pool_t *p, apr_array_header_t *claims, const char *name,
                      const char *value)
{
    int i;

    for (i = 0; i < claims->nelts; i++) {
        entra_pair *c = &APR_ARRAY_IDX(claims, i, entra_pair);
        if (strcmp(c->name, name) == 0) {
            c->value = apr_pstrdup(p, value);
            return;
        }
    }
    entra_pairs_add(claims, name, apr_pstrdup(p, value));
}

static int due(const entra_session *session, apr_int64_t now)
{
    apr_int64_t expires = entra_parse_int(entra_pairs_get(session->claims,
                                                          ENTRA_SESSION_ACCESS_EXPIRES));

    return expires < 0 || expires - ENTRA_REFRESH_AHEAD <= now;
}

entra_refresh_result entra_refresh(request_rec *r, const entra_server_conf *sc,
                                   entra_session *session, int force)
{
    entra_refresher *rf = sc->refresher;
    const char *rt = entra_pairs_get(session->claims, ENTRA_SESSION_REFRESH_TOKEN);
    apr_int64_t now = apr_time_sec(r->request_time);
    outcome got = { 0 }, *o;
    const char *key;

    if (!rt || !rf || (!force && !due(session, now)))
        return ENTRA_REFRESH_NOT_NEEDED;
    /* Per app, like every key the module stores. */
    key = apr_pstrcat(r->pool, entra_sha256_b64url(r->pool, rt), ".", sc->app_tag, NULL);
    refresh_lock(rf);
    o = shared_cache(sc) ? shared(r, sc, key) : recall(rf, key, now);
    if (!o && call_entra(r, sc, rt, &got)) {
        got.when = now;
        if (shared_cache(sc))
            share(r, sc, key, o = &got);
        else
            keep(rf, o = remember(rf, key, now), &got);
    }
    if (o && o != &got) {
        got = *o;
        got.access_token = got.access_token ? apr_pstrdup(r->pool, got.access_token) : NULL;
        got.refresh_token = got.refresh_token ? apr_pstrdup(r->pool, got.refresh_token) : NULL;
    }
    refresh_unlock(rf);
    if (!o)
        return ENTRA_REFRESH_FAILED;
    if (got.refused) {
        entra_store_clear(r, sc, session);
        return ENTRA_REFRESH_REFUSED;
    }
    set_field(r->pool, session->claims, ENTRA_SESSION_ACCESS_TOKEN, got.access_token);
    set_field(r->pool, session->claims, ENTRA_SESSION_ACCESS_EXPIRES,
              apr_psprintf(r->pool, "%" APR_INT64_T_FMT, got.expires));
    /* Entra rotates refresh tokens: keep the new one. */
    if (got.refresh_token && *got.refresh_token)
        set_field(r->pool, session->claims, ENTRA_SESSION_REFRESH_TOKEN, got.refresh_token);
    session->last_seen = now;
    entra_store_save(r, sc, session);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, ENTRALOG(00807)
                  "access token refreshed, now valid until %" APR_INT64_T_FMT, got.expires);
    return ENTRA_REFRESH_DONE;
}

/* /.auth/refresh, as Azure App Service has it: 200 when refreshed, 401
 * when there is no session (or Entra ended it), 400 without a refresh
 * token, 502 when Entra cannot be reached. */
int entra_refresh_endpoint(request_rec *r, const entra_server_conf *sc)
{
    entra_session *session = entra_store_load(r, sc);

    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    if (!session)
        return HTTP_UNAUTHORIZED;
    if (!entra_pairs_get(session->claims, ENTRA_SESSION_REFRESH_TOKEN))
        return entra_page(r, HTTP_BAD_REQUEST, "Nothing to refresh",
                          "This session has no refresh token (add offline_access to "
                          "EntraScope).");
    switch (entra_refresh(r, sc, session, 1)) {
    case ENTRA_REFRESH_DONE:
        ap_set_content_type(r, "application/json");
        ap_rprintf(r, "{\"expires_on\":%s}",
                   entra_pairs_get(session->claims, ENTRA_SESSION_ACCESS_EXPIRES));
        return OK;
    case ENTRA_REFRESH_REFUSED:
        return HTTP_UNAUTHORIZED;
    default:
        return entra_page(r, HTTP_BAD_GATEWAY, "Refresh is unavailable",
                          "The identity provider could not be reached. Please try again.");
    }
}
