/* Access-token refresh with the session's refresh token (see refresh.h). */
#include "refresh.h"
#include "challenge.h"
#include "crypto.h"
#include "log.h"
#include "metrics.h"
#include "provider.h"
#include "respond.h"
#include "socache.h"
#include "store.h"
#include "token.h"
#include "util.h"

#include <http_log.h>
#include <http_protocol.h>
#include <apr_strings.h>
#include <apr_shm.h>
#include <apr_global_mutex.h>
#include <util_mutex.h>
#include <string.h>

APLOG_USE_MODULE(auth_entra);

/* How long a refresh's outcome is kept for the session's other requests
 * still carrying the old refresh token; an Entra that could not be reached
 * is not asked again for the same token for this long. */
#define OUTCOME_TTL 60
#define UNAVAILABLE_TTL 2
/* After a refresh that could not reach Entra, the app's other sessions do
 * not try for this long either: an unreachable Entra costs one timeout,
 * not one a session. Its slot's key is this mark and the app's tag. */
#define BREAKER_TTL 5
#define BREAKER_MARK "!"
/* A request whose access token has expired waits this long at most for
 * the session's refresh that another request makes (never the whole HTTP
 * timeout: signed-in users do not wait for a slow Entra). */
#define WAIT_MAX 3
/* Refreshes in flight or just done, in shared memory of the module's own
 * (no socache module needed, any MPM): one slot a refresh token. */
#define SLOTS 256
#define SLOT_KEY_MAX 64
#define SLOT_OUTCOME_MAX 32768
/* /.auth/refresh asks Entra at most this often for one session. */
#define ENDPOINT_GAP 30
#define LAST_FORCED ":rff"
/* EntraSessionRevalidate: when the session's refresh token was last
 * redeemed (absent: its sign-in), and when a revalidation last found Entra
 * unreachable (asked again REVALIDATE_RETRY seconds later at the earliest). */
#define REVALIDATED ":rv"
#define REVALIDATE_TRIED ":rvt"
#define REVALIDATE_RETRY 30

typedef enum { OUTCOME_OK, OUTCOME_REFUSED, OUTCOME_UNAVAILABLE } outcome_kind;

typedef struct {
    outcome_kind kind;
    const char *access_token, *refresh_token;
    apr_int64_t expires;
    apr_int64_t answered;       /* when Entra gave it (seconds): a shared answer
                                 * may be up to OUTCOME_TTL old */
} outcome;

/* One refresh token's refresh: in flight (`started`) or done (`done_at`,
 * `sealed` its outcome, sealed with the app's keys since it holds tokens). */
typedef struct {
    char key[SLOT_KEY_MAX];
    apr_int64_t started;
    apr_int64_t done_at;
    int kind;                   /* outcome_kind, once done */
    char sealed[SLOT_OUTCOME_MAX];
} slot;

/* The table and the mutex that guards it, made at start-up and inherited
 * by every child. The mutex is held only to read or write a slot, never
 * across the call to Entra: two users refresh in parallel, two requests of
 * one user make one call. */
static slot *slots;
static apr_global_mutex_t *refresh_mutex;

void entra_refresh_pre_config(apr_pool_t *pconf)
{
    ap_mutex_register(pconf, ENTRA_REFRESH_MUTEX, NULL, APR_LOCK_DEFAULT, 0);
}

int entra_refresh_post_config(apr_pool_t *pconf, server_rec *s)
{
    apr_shm_t *shm;
    apr_status_t rv;

    refresh_mutex = NULL;
    slots = NULL;
    if ((rv = apr_shm_create(&shm, SLOTS * sizeof(slot), NULL, pconf)) != APR_SUCCESS
        || (rv = ap_global_mutex_create(&refresh_mutex, NULL, ENTRA_REFRESH_MUTEX, NULL, s,
                                        pconf, 0)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, ENTRALOG(00105)
                     "cannot create the shared memory or the mutex that refreshes share");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    slots = apr_shm_baseaddr_get(shm);
    memset(slots, 0, SLOTS * sizeof(slot));
    return OK;
}

void entra_refresh_child_init(apr_pool_t *pchild)
{
    if (refresh_mutex)
        apr_global_mutex_child_init(&refresh_mutex, apr_global_mutex_lockfile(refresh_mutex),
                                    pchild);
}

/* Under the mutex. */
static slot *find_slot(const char *key)
{
    int i;

    for (i = 0; i < SLOTS; i++) {
        if (strcmp(slots[i].key, key) == 0)
            return &slots[i];
    }
    return NULL;
}

/* Under the mutex: a slot for a new flight of `key`: its old one (`own`,
 * which find_slot would keep finding first), else the one least worth
 * keeping (free, then the oldest outcome, then the oldest flight). */
static slot *claim_slot(slot *own, const char *key, apr_int64_t now)
{
    slot *best = &slots[0];
    int i;

    for (i = 0; !own && i < SLOTS; i++) {
        slot *s = &slots[i];
        apr_int64_t age = s->started ? now - s->started : now - s->done_at + OUTCOME_TTL;
        apr_int64_t best_age = best->started ? now - best->started
                                             : now - best->done_at + OUTCOME_TTL;
        if (!s->key[0]) {
            best = s;
            break;
        }
        if (age > best_age)
            best = s;
    }
    best = own ? own : best;
    apr_cpystrn(best->key, key, sizeof(best->key));
    best->started = now;
    best->done_at = 0;
    best->sealed[0] = '\0';
    return best;
}

#define OUTCOME_PURPOSE "entra-refresh-v1"

static const char *kind_name(outcome_kind kind)
{
    return kind == OUTCOME_OK ? "ok" : kind == OUTCOME_REFUSED ? "refused" : "unavailable";
}

static const char *seal_outcome(request_rec *r, const entra_server_conf *sc, const outcome *o)
{
    apr_array_header_t *pairs = apr_array_make(r->pool, 4, sizeof(entra_pair));
    unsigned char *plain;
    apr_size_t len;

    entra_pairs_add(pairs, "x", kind_name(o->kind));
    entra_pairs_add(pairs, "at", o->access_token ? o->access_token : "");
    entra_pairs_add(pairs, "rt", o->refresh_token ? o->refresh_token : "");
    entra_pairs_add(pairs, "e", apr_psprintf(r->pool, "%" APR_INT64_T_FMT, o->expires));
    entra_pairs_add(pairs, "t", apr_psprintf(r->pool, "%" APR_INT64_T_FMT, o->answered));
    plain = entra_pairs_serialize(r->pool, pairs, &len);
    return entra_seal(r->pool, sc->app_keys, OUTCOME_PURPOSE, plain, len);
}

static outcome *open_outcome(request_rec *r, const entra_server_conf *sc, const char *sealed)
{
    apr_array_header_t *pairs;
    unsigned char *plain;
    const char *x;
    apr_size_t len;
    outcome *o;

    if (!sealed || !*sealed
        || !(plain = entra_open(r->pool, sc->app_keys, OUTCOME_PURPOSE, sealed, &len))
        || !(pairs = entra_pairs_parse(r->pool, plain, len)) || !(x = entra_pairs_get(pairs, "x")))
        return NULL;
    o = apr_pcalloc(r->pool, sizeof(*o));
    o->kind = strcmp(x, "ok") == 0 ? OUTCOME_OK
              : strcmp(x, "refused") == 0 ? OUTCOME_REFUSED : OUTCOME_UNAVAILABLE;
    o->access_token = entra_pairs_get(pairs, "at");
    o->refresh_token = entra_pairs_get(pairs, "rt");
    o->expires = entra_parse_int(entra_pairs_get(pairs, "e"));
    o->answered = entra_pairs_get(pairs, "t") ? entra_parse_int(entra_pairs_get(pairs, "t")) : -1;
    return o;
}

/* With a socache store, the outcome also goes there, for the other servers
 * sharing it (a load balancer in front of two Apaches). */
#define OUTCOME_KEY ".rf"

static void share(request_rec *r, const entra_server_conf *sc, const char *key,
                  const char *sealed, apr_int64_t now)
{
    if (sc->session_cache && sealed)
        entra_socache_put(sc->session_cache, r, apr_pstrcat(r->pool, key, OUTCOME_KEY, NULL),
                          sealed, now + OUTCOME_TTL);
}

static outcome *shared(request_rec *r, const entra_server_conf *sc, const char *key)
{
    const char *sealed;

    if (!sc->session_cache
        || entra_socache_get(sc->session_cache, r, apr_pstrcat(r->pool, key, OUTCOME_KEY, NULL),
                             &sealed) != APR_SUCCESS)
        return NULL;
    return open_outcome(r, sc, sealed);
}

/* An ID token in a refresh answer is checked when signed and otherwise
 * ignored; the sign-in's claims stay either way. An Entra that cannot be
 * reached to check it (its keys) leaves the session as it is. */
static outcome_kind id_token_verdict(request_rec *r, const entra_server_conf *sc,
                                     const entra_metadata *meta, json_t *answer)
{
    const char *idt = json_string_value(json_object_get(answer, "id_token"));
    const char *why;
    int unavailable = 0;

    if (!idt || !*idt || strchr(idt, '.') == NULL || strrchr(idt, '.')[1] == '\0')
        return OUTCOME_OK;
    if (entra_id_token_verify(r->pool, sc, meta, idt, NULL, &why, &unavailable))
        return OUTCOME_OK;
    if (unavailable) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00808)
                      "refresh: the ID token in Entra's answer cannot be checked now, the "
                      "session goes on as it was: %s", why);
        return OUTCOME_UNAVAILABLE;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00802)
                  "refresh: the ID token in Entra's answer is invalid: %s", why);
    return OUTCOME_REFUSED;
}

/* Entra's refusals that end the session: the user's grant is gone
 * (invalid_grant: expired, revoked, the account disabled), the user must
 * come back to Entra (Conditional Access), or an administrator cut the app
 * off (disabled for sign-in, AADSTS7000112; not in the tenant any more,
 * AADSTS700016). Any other 4xx names this server's credential or request. */
static int ends_session(json_t *answer)
{
    static const char *const users[] = { "invalid_grant", "interaction_required",
                                         "consent_required", "login_required", NULL };
    static const json_int_t app_cut_off[] = { 7000112, 700016, 0 };
    const char *error = json_string_value(json_object_get(answer, "error"));
    json_t *codes = json_object_get(answer, "error_codes"), *code;
    size_t k;
    int i;

    for (i = 0; error && users[i]; i++) {
        if (strcmp(error, users[i]) == 0)
            return 1;
    }
    json_array_foreach(codes, k, code) {
        for (i = 0; app_cut_off[i]; i++) {
            if (json_is_integer(code) && json_integer_value(code) == app_cut_off[i])
                return 1;
        }
    }
    return 0;
}

/* Calls Entra (no lock held) and says what came of it. */
static void call_entra(request_rec *r, const entra_server_conf *sc, const char *refresh_token,
                       outcome *o)
{
    entra_metadata meta;
    json_t *answer = NULL;
    const char *why, *grant, *caps = entra_claims_request(r->pool, NULL,
                                                          entra_conf_client_caps(sc));

    o->kind = OUTCOME_UNAVAILABLE;
    if ((why = entra_provider_metadata(sc->provider, r->pool, entra_conf_http_timeout(sc),
                                       &meta))) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00803) "refresh: %s", why);
        return;
    }
    grant = apr_pstrcat(r->pool, "grant_type=refresh_token&refresh_token=",
                        entra_url_encode(r->pool, refresh_token),
                        "&scope=", entra_url_encode(r->pool, entra_conf_scope(sc)),
                        caps ? "&claims=" : "", caps ? entra_url_encode(r->pool, caps) : "",
                        NULL);
    switch (entra_token_call(r->pool, sc, &meta, grant, &answer, &why)) {
    case ENTRA_TOKEN_OK:
        if (!json_is_string(json_object_get(answer, "access_token"))) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00806)
                          "refresh failed: Entra's answer has no access_token");
            return;
        }
        o->kind = id_token_verdict(r, sc, &meta, answer);
        o->access_token = json_string_value(json_object_get(answer, "access_token"));
        o->refresh_token = json_string_value(json_object_get(answer, "refresh_token"));
        o->answered = apr_time_sec(entra_now());
        o->expires = o->answered + entra_token_expires_in(answer);
        return;
    case ENTRA_TOKEN_REFUSED:
        if (!ends_session(answer)) {
            /* invalid_client and the like: this server's credential, not the
             * user's grant; every session would end for the server's fault */
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00815)
                          "refresh refused for this server's credential or request, not the "
                          "user's: the session goes on with the token it has (%s): %s", why,
                          entra_token_error_text(r->pool, answer));
            return;
        }
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00804)
                      "refresh refused, the session ends (%s): %s", why,
                      entra_token_error_text(r->pool, answer));
        o->kind = OUTCOME_REFUSED;
        return;
    default:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00805) "refresh failed: %s", why);
    }
}

/* A landed outcome still worth using: an answer for OUTCOME_TTL, "Entra
 * unreachable" for a short while only. */
static int still_fresh(const slot *s, apr_int64_t now)
{
    apr_int64_t age = now - s->done_at;

    /* a clock stepped back makes no outcome last longer */
    return age >= 0 && age < (s->kind == OUTCOME_UNAVAILABLE ? UNAVAILABLE_TTL : OUTCOME_TTL);
}

/* Joins the flight for `key`, or starts it. Returns the outcome of a
 * flight that landed; NULL when this request must call Entra (it holds the
 * flight then), or when another request is calling and this one may not
 * wait (*busy). A flight older than the HTTP timeout and a margin lost its
 * caller (a child that exited) and counts as none. */
static outcome *join_flight(request_rec *r, const entra_server_conf *sc, const char *key,
                            int may_wait, int force, int *busy)
{
    int timeout = entra_conf_http_timeout(sc);
    apr_time_t give_up = apr_time_now()
                         + apr_time_from_sec(timeout + 2 < WAIT_MAX ? timeout + 2 : WAIT_MAX);
    const char *sealed;
    apr_int64_t now;
    int in_flight;
    slot *s;

    *busy = 0;
    for (;;) {
        now = apr_time_sec(entra_now());
        sealed = NULL;
        apr_global_mutex_lock(refresh_mutex);
        s = find_slot(key);
        in_flight = s && !s->done_at && s->started && now >= s->started
                    && now - s->started <= timeout + 5;
        /* a refresh the user asks for asks, even right after a failure */
        if (s && s->done_at && still_fresh(s, now)
            && !(force && s->kind == OUTCOME_UNAVAILABLE))
            sealed = apr_pstrdup(r->pool, s->sealed);
        else if (!in_flight)
            claim_slot(s, key, now);
        apr_global_mutex_unlock(refresh_mutex);
        if (sealed) {
            /* landed, but not shareable (too big for a slot): never a
             * second call with the same refresh token */
            outcome *o = open_outcome(r, sc, sealed);
            if (!o) {
                o = apr_pcalloc(r->pool, sizeof(*o));
                o->kind = OUTCOME_UNAVAILABLE;
            }
            return o;
        }
        if (!in_flight)
            return NULL;
        if (!may_wait) {
            *busy = 1;
            return NULL;
        }
        if (apr_time_now() >= give_up) {
            outcome *late = apr_pcalloc(r->pool, sizeof(*late));
            late->kind = OUTCOME_UNAVAILABLE;
            return late;
        }
        apr_sleep(apr_time_from_msec(50));
    }
}

/* The flight for `key` lands with `o`. */
static void land_flight(request_rec *r, const entra_server_conf *sc, const char *key,
                        const outcome *o)
{
    const char *sealed = seal_outcome(r, sc, o);
    apr_int64_t now = apr_time_sec(entra_now());
    int fits;
    slot *s;

    apr_global_mutex_lock(refresh_mutex);
    if (!(s = find_slot(key)))
        s = claim_slot(NULL, key, now);
    s->started = 0;
    s->done_at = now;
    s->kind = o->kind;
    fits = sealed && strlen(sealed) < sizeof(s->sealed);
    apr_cpystrn(s->sealed, fits ? sealed : "", sizeof(s->sealed));
    apr_global_mutex_unlock(refresh_mutex);
    if (!fits)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, ENTRALOG(00809)
                      "refresh: Entra's answer is too big to share with the session's other "
                      "requests (%" APR_SIZE_T_FMT " bytes sealed): they go on with the token "
                      "they have", sealed ? strlen(sealed) : (apr_size_t)0);
    if (o->kind != OUTCOME_UNAVAILABLE)
        share(r, sc, key, sealed, now);
}

/* Under the mutex: whether a call to Entra for this app (another session's
 * refresh) has been on its way for more than a second: Entra may be
 * unreachable, and a refresh that may go on with its token does not start
 * another call to wait the whole timeout too. */
static int app_call_hanging(const char *app_tag, apr_int64_t now)
{
    apr_size_t tag_len = strlen(app_tag), len;
    int i;

    for (i = 0; i < SLOTS; i++) {
        const slot *s = &slots[i];
        /* 2 in whole seconds: on its way for more than one */
        if (!s->started || s->done_at || now - s->started < 2 || now < s->started)
            continue;
        len = strlen(s->key);
        if (len > tag_len && s->key[len - tag_len - 1] == '.'
            && strcmp(s->key + len - tag_len, app_tag) == 0)
            return 1;
    }
    return 0;
}

/* Whether a refresh of this app found Entra unreachable a moment ago
 * (BREAKER_TTL), or another is still waiting on it; `trip` says one
 * found it unreachable, now. */
static int breaker_open(request_rec *r, const entra_server_conf *sc, int trip)
{
    const char *key = apr_pstrcat(r->pool, BREAKER_MARK, sc->app_tag, NULL);
    apr_int64_t now = apr_time_sec(entra_now());
    int open = 0;
    slot *s;

    apr_global_mutex_lock(refresh_mutex);
    s = find_slot(key);
    if (trip) {
        s = claim_slot(s, key, now);
        s->started = 0;
        s->done_at = now;
        s->kind = OUTCOME_UNAVAILABLE;
    }
    else if (s && s->done_at > now)
        s->done_at = 0;         /* tripped "later" than now: the clock stepped back; forget it */
    else
        open = (s && s->done_at && now - s->done_at < BREAKER_TTL)
               || app_call_hanging(sc->app_tag, now);
    apr_global_mutex_unlock(refresh_mutex);
    return open;
}

/* This request's own refresh: a call to Entra, unless a refresh of this
 * app waited in vain on Entra a moment ago (a timeout, or a failure that
 * took seconds: what holds workers; a quick refusal or error does not
 * trip it). A refresh the user asks for (/.auth/refresh, once per 30 s a
 * session) still asks. */
static void refresh_now(request_rec *r, const entra_server_conf *sc, const char *rt,
                        int force, outcome *got)
{
    apr_time_t start = apr_time_now();

    if (!force && breaker_open(r, sc, 0)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00810)
                      "refresh: Entra did not answer a moment ago; not asking again for %d s, "
                      "the session goes on with the token it has", BREAKER_TTL);
        got->kind = OUTCOME_UNAVAILABLE;
        return;
    }
    call_entra(r, sc, rt, got);
    if (got->kind == OUTCOME_UNAVAILABLE && apr_time_now() - start >= apr_time_from_sec(1))
        breaker_open(r, sc, 1);
}

/* The outcome of refreshing with `rt`: another request's (this server's,
 * through the shared table, or another server's, through the socache
 * store), or this request's own call to Entra. Requests that `may_wait`
 * (their access token has expired) wait for the one that calls, a moment
 * at most (WAIT_MAX); the others go on with the token they have. NULL: go
 * on as you are. */
static outcome *refresh_once(request_rec *r, const entra_server_conf *sc, const char *rt,
                             int may_wait, int force)
{
    const char *key = apr_pstrcat(r->pool, entra_sha256_b64url(r->pool, rt), ".", sc->app_tag,
                                  NULL);
    outcome *o, got = { OUTCOME_UNAVAILABLE, NULL, NULL, 0 };
    int busy;

    if ((o = shared(r, sc, key)))
        return o;
    if ((o = join_flight(r, sc, key, may_wait, force, &busy)) || busy)
        return o;
    refresh_now(r, sc, rt, force, &got);
    entra_metric_inc(got.kind == OUTCOME_OK ? ENTRA_M_REFRESH_OK
                     : got.kind == OUTCOME_REFUSED ? ENTRA_M_REFRESH_REFUSED
                     : ENTRA_M_REFRESH_UNAVAILABLE);
    land_flight(r, sc, key, &got);
    return apr_pmemdup(r->pool, &got, sizeof(got));
}

static int expired(const entra_session *session, apr_int64_t now)
{
    return entra_parse_int(entra_pairs_get(session->claims, ENTRA_SESSION_ACCESS_EXPIRES)) <= now;
}

static int due(const entra_session *session, apr_int64_t now)
{
    apr_int64_t expires = entra_parse_int(entra_pairs_get(session->claims,
                                                          ENTRA_SESSION_ACCESS_EXPIRES));

    return expires < 0 || expires - ENTRA_REFRESH_AHEAD <= now;
}

/* A refresh that Entra answered: the session takes the new tokens (a
 * revalidation, `!all`, the access token only where the session keeps
 * one) and is saved. */
static void apply(request_rec *r, const entra_server_conf *sc, entra_session *session,
                  const outcome *o, int force, int all, apr_int64_t now)
{
    if (all || entra_pairs_get(session->claims, ENTRA_SESSION_ACCESS_TOKEN)
        || entra_conf_pass_access_token(sc)) {
        entra_pairs_set(r->pool, session->claims, ENTRA_SESSION_ACCESS_TOKEN, o->access_token);
        entra_pairs_set(r->pool, session->claims, ENTRA_SESSION_ACCESS_EXPIRES,
                  apr_psprintf(r->pool, "%" APR_INT64_T_FMT, o->expires));
    }
    /* Entra rotates refresh tokens: keep the new one. */
    if (o->refresh_token && *o->refresh_token)
        entra_pairs_set(r->pool, session->claims, ENTRA_SESSION_REFRESH_TOKEN, o->refresh_token);
    if (force)
        entra_pairs_set(r->pool, session->claims, LAST_FORCED,
                  apr_psprintf(r->pool, "%" APR_INT64_T_FMT, now));
    /* Entra accepted the refresh token: the session was revalidated when
     * Entra said so (another request's answer may be a minute old: a
     * revocation since then must not wait a whole interval more). */
    if (entra_conf_session_revalidate(sc)) {
        entra_pairs_set(r->pool, session->claims, REVALIDATED,
                  apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                               o->answered > 0 && o->answered <= now ? o->answered : now));
        entra_pairs_set(r->pool, session->claims, REVALIDATE_TRIED, "");
    }
    session->last_seen = now;
    entra_store_save(r, sc, session);
}

entra_refresh_result entra_refresh(request_rec *r, const entra_server_conf *sc,
                                   entra_session *session, int force)
{
    const char *rt = entra_pairs_get(session->claims, ENTRA_SESSION_REFRESH_TOKEN);
    apr_int64_t now = apr_time_sec(r->request_time);
    outcome *o;

    if (!rt || !slots || !refresh_mutex || (!force && !due(session, now)))
        return ENTRA_REFRESH_NOT_NEEDED;
    if (!(o = refresh_once(r, sc, rt, force || expired(session, now), force)))
        return ENTRA_REFRESH_NOT_NEEDED;
    if (o->kind == OUTCOME_UNAVAILABLE)
        return ENTRA_REFRESH_FAILED;
    if (o->kind == OUTCOME_REFUSED) {
        entra_store_clear(r, sc, session);
        return ENTRA_REFRESH_REFUSED;
    }
    apply(r, sc, session, o, force, 1, now);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, ENTRALOG(00807)
                  "access token refreshed, now valid until %" APR_INT64_T_FMT, o->expires);
    return ENTRA_REFRESH_DONE;
}

/* A time field of the session, or -1. */
static apr_int64_t time_field(const entra_session *session, const char *name)
{
    const char *v = entra_pairs_get(session->claims, name);

    return v && *v ? entra_parse_int(v) : -1;
}

entra_refresh_result entra_refresh_revalidate(request_rec *r, const entra_server_conf *sc,
                                              entra_session *session)
{
    int every = entra_conf_session_revalidate(sc);
    apr_int64_t now = apr_time_sec(r->request_time), last, tried;
    const char *rt, *oid;
    outcome *o;

    /* before any lookup: this runs on every signed-in request */
    if (!every || r->main || !slots || !refresh_mutex)
        return ENTRA_REFRESH_NOT_NEEDED;
    rt = entra_pairs_get(session->claims, ENTRA_SESSION_REFRESH_TOKEN);
    oid = entra_pairs_get(session->claims, "oid");
    last = time_field(session, REVALIDATED);
    tried = time_field(session, REVALIDATE_TRIED);
    if (last < 0)
        last = session->created;
    /* due once `every` has passed (a clock stepped back makes it due too:
     * never a session that goes unchecked for longer) */
    if (now >= last && now - last < every)
        return ENTRA_REFRESH_NOT_NEEDED;
    if (tried >= 0 && now >= tried && now - tried < REVALIDATE_RETRY)
        return ENTRA_REFRESH_NOT_NEEDED;
    if (!rt) {
        /* fail closed: a session that cannot be revalidated ends */
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, ENTRALOG(00814)
                      "revalidation: the session of oid=%s has no refresh token to revalidate "
                      "with (Entra gave none at sign-in): it ends, the user signs in again",
                      entra_log_safe(r->pool, oid));
        entra_store_clear(r, sc, session);
        return ENTRA_REFRESH_REFUSED;
    }
    /* Breaker respected (not forced); another request of the session that
     * is redeeming the same token now is not waited for. */
    if (!(o = refresh_once(r, sc, rt, 0, 0)))
        return ENTRA_REFRESH_NOT_NEEDED;
    switch (o->kind) {
    case OUTCOME_REFUSED:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00812)
                      "revalidation: Entra refused the refresh token of oid=%s (account "
                      "disabled, sessions revoked, password reset, or a policy): the session "
                      "ends now", entra_log_safe(r->pool, oid));
        entra_store_clear(r, sc, session);
        return ENTRA_REFRESH_REFUSED;
    case OUTCOME_UNAVAILABLE:
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, ENTRALOG(00811)
                      "revalidation: Entra could not be reached to revalidate the session of "
                      "oid=%s (last revalidated %" APR_INT64_T_FMT " seconds ago): it goes on, "
                      "and is tried again in %d seconds at the earliest",
                      entra_log_safe(r->pool, oid), now - last, REVALIDATE_RETRY);
        entra_pairs_set(r->pool, session->claims, REVALIDATE_TRIED,
                  apr_psprintf(r->pool, "%" APR_INT64_T_FMT, now));
        entra_store_save(r, sc, session);
        return ENTRA_REFRESH_FAILED;
    default:
        apply(r, sc, session, o, 0, 0, now);
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, ENTRALOG(00813)
                      "revalidation: Entra accepted the session of oid=%s",
                      entra_log_safe(r->pool, oid));
        return ENTRA_REFRESH_DONE;
    }
}

/* /.auth/refresh, as Azure App Service has it: 200 when refreshed, 401
 * when there is no session (or Entra ended it), 400 without a refresh
 * token, 502 when Entra cannot be reached. */
int entra_refresh_endpoint(request_rec *r, const entra_server_conf *sc)
{
    entra_session *session = entra_store_load(r, sc);
    apr_int64_t last;

    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    if (!session)
        return HTTP_UNAUTHORIZED;
    if (!entra_pairs_get(session->claims, ENTRA_SESSION_REFRESH_TOKEN))
        return entra_page(r, HTTP_BAD_REQUEST, "Nothing to refresh",
                          "This session has no refresh token (add offline_access to "
                          "EntraScope).");
    /* One user looping on /.auth/refresh does not make Entra answer for
     * it: at most one forced refresh per ENDPOINT_GAP a session. */
    last = entra_parse_int(entra_pairs_get(session->claims, LAST_FORCED));
    if (last >= 0 && apr_time_sec(r->request_time) - last < ENDPOINT_GAP) {
        apr_table_setn(r->err_headers_out, "Retry-After",
                       apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                                    ENDPOINT_GAP - (apr_time_sec(r->request_time) - last)));
        return entra_page(r, HTTP_TOO_MANY_REQUESTS, "Refreshed a moment ago",
                          "This session's token was refreshed a moment ago. Try again later.");
    }
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
