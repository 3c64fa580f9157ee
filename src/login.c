/* Login redirect and callback (see login.h). */
#include "login.h"
#include "attempts.h"
#include "authn.h"
#include "challenge.h"
#include "claims.h"
#include "ended.h"
#include "jwt.h"
#include "log.h"
#include "metrics.h"
#include "respond.h"
#include "session.h"
#include "socache.h"
#include "stepup.h"
#include "store.h"
#include "token.h"
#include "state.h"
#include "userinfo.h"
#include "util.h"

#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <apr_strings.h>
#include <string.h>

APLOG_USE_MODULE(auth_entra);
extern module AP_MODULE_DECLARE_DATA auth_entra_module;

/* Entra could not be asked or answered unusably: one log line with the
 * cause for the admin, a short 502 page for the user. */
static int idp_unavailable(request_rec *r, const char *why)
{
    entra_metrics_signin(r, ENTRA_M_SIGNIN_IDP_UNAVAILABLE);
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00201) "%s", why);
    return entra_page(r, HTTP_BAD_GATEWAY, "Sign-in is unavailable",
                      "The identity provider could not be reached or gave an unusable "
                      "answer. Please try again in a moment.");
}

/* Optional authorize parameters: EntraPrompt and EntraDomainHint, and the
 * login_hint/domain_hint the request itself carries (a link can pre-fill
 * the account, as Entra's own apps do). A step-up (`same_user`) is for the
 * session's user: it names them itself (`login_hint`), and a link's hints
 * are not taken. */
static const char *authorize_hints(request_rec *r, const entra_server_conf *sc,
                                   const char *login_hint, int same_user)
{
    apr_table_t *query = same_user ? NULL : entra_form_parse(r->pool, r->args);
    const char *domain_hint = query ? apr_table_get(query, "domain_hint") : NULL;
    const char *extra = "";

    if (!login_hint)
        login_hint = query ? apr_table_get(query, "login_hint") : NULL;
    if (!domain_hint)
        domain_hint = sc->domain_hint;
    if (sc->prompt)
        extra = apr_pstrcat(r->pool, extra, "&prompt=", sc->prompt, NULL);
    if (login_hint && *login_hint)
        extra = apr_pstrcat(r->pool, extra, "&login_hint=", entra_url_encode(r->pool, login_hint),
                            NULL);
    if (domain_hint && *domain_hint)
        extra = apr_pstrcat(r->pool, extra, "&domain_hint=",
                            entra_url_encode(r->pool, domain_hint), NULL);
    return extra;
}

/* What the sign-in must bring (state.h): the authentication context, or
 * the claims of the app's resource's challenge, as the claims parameter
 * (one JSON object, with EntraClientCapabilities' xms_cc merged in), the
 * freshness as max_age. The claims go as one URL-encoded parameter: a
 * challenge's JSON (checked, re-serialized: challenge.h) cannot add any. */
static const char *authorize_requirements(apr_pool_t *p, const entra_server_conf *sc,
                                          const entra_state *st, const char *challenge)
{
    const char *extra = "";
    const char *claims = entra_claims_request(p, challenge ? challenge
                                                 : st->acr ? entra_stepup_claims(p, st->acr)
                                                 : NULL, entra_conf_client_caps(sc));

    if (claims)
        extra = apr_pstrcat(p, "&claims=", entra_url_encode(p, claims), NULL);
    if (st->max_age >= 0)
        extra = apr_pstrcat(p, extra, "&max_age=",
                            apr_psprintf(p, "%" APR_INT64_T_FMT, st->max_age), NULL);
    return extra;
}

static const char *authorize_url(request_rec *r, const entra_server_conf *sc,
                                 const entra_metadata *meta, const entra_state *st,
                                 const char *login_hint, const char *challenge)
{
    apr_pool_t *p = r->pool;
    const char *sep = strchr(meta->authorization_endpoint, '?') ? "&" : "?";
    int form_post = entra_conf_response_mode(sc) == ENTRA_MODE_FORM_POST;

    return apr_pstrcat(p, meta->authorization_endpoint, sep,
                       "response_type=code",
                       "&client_id=", entra_url_encode(p, sc->client_id),
                       "&redirect_uri=", entra_url_encode(p, st->redirect_uri),
                       "&scope=", entra_url_encode(p, entra_conf_scope(sc)),
                       "&state=", st->state,
                       "&nonce=", st->nonce,
                       "&code_challenge=", entra_sha256_b64url(p, st->code_verifier),
                       "&code_challenge_method=S256",
                       "&response_mode=", form_post ? "form_post" : "query",
                       authorize_requirements(p, sc, st, challenge),
                       authorize_hints(r, sc, login_hint, st->oid != NULL), NULL);
}

static int start(request_rec *r, const entra_server_conf *sc, const char *return_to,
                 const entra_stepup *need);

/* Where to come back to: this request's path and query, same-origin only.
 * It rides in the state cookie, which a browser keeps only up to 4 KB: a
 * longer one comes back to its path alone, or to "/". */
#define RETURN_TO_MAX 2048

static const char *return_path(request_rec *r)
{
    const char *back = entra_safe_return_path(r->pool, r->unparsed_uri, NULL);

    if (back && strlen(back) > RETURN_TO_MAX)
        back = entra_safe_return_path(r->pool, apr_pstrmemdup(r->pool, back, strcspn(back, "?")),
                                      NULL);
    return back && strlen(back) <= RETURN_TO_MAX ? back : "/";
}

/* A location with EntraMaxAuthAge asks for the freshness at once: one
 * round trip, not a sign-in and then a step-up. */
int entra_login_redirect(request_rec *r, const entra_server_conf *sc)
{
    const entra_dir_conf *dc = ap_get_module_config(r->per_dir_config, &auth_entra_module);
    entra_stepup need = { NULL, -1, NULL, NULL, NULL, NULL };

    if (entra_conf_max_auth_age(dc))
        need.max_age = entra_conf_max_auth_age(dc);
    return start(r, sc, return_path(r), &need);
}

int entra_login_stepup(request_rec *r, const entra_server_conf *sc, const entra_stepup *need)
{
    return start(r, sc, return_path(r), need);
}

/* GET /.auth/login/aad?post_login_redirect_uri=/path, as on App Service:
 * a "Sign in" link for an app with EntraUnauthAction pass. The target
 * stays on this site (a path, or an absolute URL of the request's own
 * origin); anything else, or none, comes back to "/". */
int entra_login_endpoint(request_rec *r, const entra_server_conf *sc)
{
    apr_table_t *query = entra_form_parse(r->pool, r->args);
    const char *want = query ? apr_table_get(query, "post_login_redirect_uri") : NULL;
    const char *back = entra_safe_return_path(r->pool, want, ap_construct_url(r->pool, "", r));

    if (r->method_number != M_GET) {
        apr_table_setn(r->headers_out, "Allow", "GET, HEAD");
        return entra_page(r, HTTP_METHOD_NOT_ALLOWED, "Method not allowed",
                          "Sign-in starts with GET.");
    }
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    if (want && !back)
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00218)
                      "post_login_redirect_uri %s is not on this site: the sign-in will "
                      "end on /", entra_log_safe(r->pool, want));
    if (!back || strlen(back) > RETURN_TO_MAX)
        back = "/";
    return entra_login_start(r, sc, back);
}

int entra_login_start(request_rec *r, const entra_server_conf *sc, const char *return_to)
{
    return start(r, sc, return_to, NULL);
}

/* The bytes of the Cookie header the browser sent with this request (the
 * module's own cookies included, which authn.c takes out of a signed-in
 * one). */
static apr_int64_t cookie_header_bytes(request_rec *r)
{
    return entra_cookie_header_bytes(entra_cookies_sent(r));
}

static int start(request_rec *r, const entra_server_conf *sc, const char *return_to,
                 const entra_stepup *need)
{
    apr_int64_t now = apr_time_sec(r->request_time);
    entra_metadata meta;
    entra_state *st;
    const char *why, *sealed, *cookie_name;

    if ((why = entra_provider_metadata(sc->provider, r->pool, entra_conf_http_timeout(sc),
                                       &meta))) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00202) "cannot start sign-in: %s",
                      why);
        ap_custom_response(r, HTTP_BAD_GATEWAY, "Sign-in is unavailable: the identity "
                           "provider could not be reached. Please try again in a moment.");
        return HTTP_BAD_GATEWAY;
    }
    st = entra_state_new(r->pool, return_to, entra_redirect_uri_abs(r, sc), now);
    if (st && need) {
        st->acr = need->acr;
        st->max_age = need->max_age;
        st->oid = need->oid;
        st->tid = need->tid;
        st->claims_challenge = need->claims && need->oid;
        /* what a form_post hand-over's GET will bring besides its own */
        if (st->oid)
            st->cookie_bytes = cookie_header_bytes(r);
    }
    if (!st || !(sealed = entra_state_seal(r->pool, sc->app_keys, st))) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00203)
                      "cannot create a login state (random source or cipher failed)");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* A cookie session that did not open (expired, ended, another key)
     * only weighs on every request, the callback's included: it goes. (A
     * socache id cookie is small, and may be good again when a store that
     * was down comes back.) */
    if (!st->oid && !sc->session_cache
        && entra_cookie_get(r->pool, r->headers_in, sc->session_cookie))
        entra_store_clear(r, sc, NULL);
    cookie_name = entra_state_cookie_name(r->pool, sc, st->state);
    /* a step-up keeps the session, whose cookies go to the callback too */
    entra_pending_add(r, sc, entra_cookies_sent(r), st->oid != NULL, st->state,
                      (apr_int64_t)(strlen(cookie_name) + strlen(sealed) + 3), now);
    entra_state_cookie_set(r, sc, cookie_name, sealed, ENTRA_STATE_TTL);
    entra_metric_inc(ENTRA_M_SIGNIN_STARTED);
    if (st->oid)
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00230)
                      "step-up for oid=%s: redirecting to Entra for %s, will return to %s",
                      entra_log_safe(r->pool, st->oid),
                      entra_stepup_state_describe(r->pool, st),
                      entra_log_safe(r->pool, st->return_to));
    else
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, ENTRALOG(00204)
                      "not signed in: redirecting to Entra, will return to %s",
                      entra_log_safe(r->pool, st->return_to));
    return entra_redirect(r, authorize_url(r, sc, &meta, st, need ? need->login_hint : NULL,
                                           need && st->claims_challenge ? need->claims : NULL));
}

/* The text after `label` in Entra's error_description, up to the line end. */
static const char *description_field(apr_pool_t *p, const char *desc, const char *label)
{
    const char *at = desc ? strstr(desc, label) : NULL;

    if (!at)
        return NULL;
    at += strlen(label);
    return apr_pstrmemdup(p, at, strcspn(at, "\r\n"));
}

/* Entra sent the browser back with error= (user declined, bad redirect URI,
 * missing consent...): log what an admin needs, show the user a short page. */
static int entra_reported_error(request_rec *r, apr_table_t *params)
{
    const char *error = apr_table_get(params, "error");
    const char *desc = apr_table_get(params, "error_description");
    const char *first_line = desc ? apr_pstrmemdup(r->pool, desc, strcspn(desc, "\r\n")) : "";
    const char *trace = apr_table_get(params, "trace_id");
    const char *correlation = apr_table_get(params, "correlation_id");

    if (!trace)
        trace = description_field(r->pool, desc, "Trace ID: ");
    if (!correlation)
        correlation = description_field(r->pool, desc, "Correlation ID: ");
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00205)
                  "Entra refused the sign-in: error=%s description=\"%s\" trace_id=%s "
                  "correlation_id=%s", entra_log_safe(r->pool, error),
                  entra_log_safe(r->pool, first_line), entra_log_safe(r->pool, trace),
                  entra_log_safe(r->pool, correlation));
    return entra_page(r, HTTP_UNAUTHORIZED, "Sign-in failed",
                      apr_pstrcat(r->pool, "Microsoft Entra ID reported: ",
                                  *first_line ? first_line : error, NULL));
}

/* With a socache store a state is also single-use on the server: a state
 * cookie captured on its way (or copied out of a browser) cannot be
 * replayed while it lives. The key holds the state's hash and the app. */
static const char *state_used_key(request_rec *r, const entra_server_conf *sc,
                                  const entra_state *st)
{
    return apr_pstrcat(r->pool,
                       apr_pstrndup(r->pool, entra_sha256_b64url(r->pool, st->state), 22),
                       ".", sc->app_tag, ".st", NULL);
}

/* APR_NOTFOUND when `st` was not used yet (always, without a socache
 * store); APR_SUCCESS when it was; else the store could not be asked. */
static apr_status_t state_seen(request_rec *r, const entra_server_conf *sc,
                               const entra_state *st)
{
    const char *seen;

    if (!sc->session_cache)
        return APR_NOTFOUND;
    /* a state works once: never the answer to a lookup sent before */
    return entra_socache_get_fresh(sc->session_cache, r, state_used_key(r, sc, st), &seen);
}

/* Returns OK, or the status of the page written. */
static int mark_state_used(request_rec *r, const entra_server_conf *sc, const entra_state *st)
{
    apr_status_t rv;

    if (!sc->session_cache)
        return OK;
    rv = state_seen(r, sc, st);
    if (rv == APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00214)
                      "callback refused: state already used once (a replayed callback)");
        return entra_page(r, HTTP_BAD_REQUEST, "Sign-in could not be completed",
                          "This sign-in attempt is unknown, expired or already used. "
                          "Please start again.");
    }
    if (rv != APR_NOTFOUND
        || entra_socache_put(sc->session_cache, r, state_used_key(r, sc, st), "1",
                             st->expires) != APR_SUCCESS)
        return entra_page(r, HTTP_SERVICE_UNAVAILABLE, "Sign-in is unavailable",
                          "The session store cannot be reached. Please try again in a moment.");
    return OK;
}

/* The state cookie that `state_param` names (its name in *name), or NULL. */
static const char *state_cookie(request_rec *r, const entra_server_conf *sc,
                                const char *state_param, const char **name)
{
    if (!entra_state_param_ok(state_param))
        return NULL;
    *name = entra_state_cookie_name(r->pool, sc, state_param);
    return entra_cookie_get(r->pool, r->headers_in, *name);
}

/* Opens the state cookie named by the state parameter and deletes it: a
 * state works once. NULL when missing, forged, expired or replayed. */
static entra_state *take_state(request_rec *r, const entra_server_conf *sc,
                               const char *state_param)
{
    const char *cookie_name = NULL, *cookie = state_cookie(r, sc, state_param, &cookie_name);
    const char *why = !entra_state_param_ok(state_param) ? "no state parameter"
                      : "no state cookie for this state (expired, replayed, or from another "
                        "browser)";
    entra_state *st = NULL;

    if (cookie) {
        entra_state_cookie_set(r, sc, cookie_name, "", 0);
        entra_pending_remove(r, sc, state_param);
        st = entra_state_open(r->pool, sc->app_keys, cookie, state_param,
                              apr_time_sec(r->request_time), &why);
    }
    if (!st && entra_state_param_ok(state_param) && !cookie)
        /* the usual way a set-up goes wrong: an administrator must hear it */
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, ENTRALOG(00206)
                      "callback refused: %s; likely causes: a Secure cookie over plain http "
                      "(EntraCookieSecure On on an http site), a redirect URI on another host "
                      "than the one the user browsed (EntraRedirectURI, ServerName), an attempt "
                      "older than 10 minutes, or a browser that blocks cookies", why);
    else if (!st)
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00206)
                      "callback refused: %s", why);
    return st;
}

/* The query parameter of the hand-over's GET: the attempt's state. */
#define HANDOVER_PARAM "entra_handover"

/* A hand-over cookie (name=value) at most as long as a session chunk:
 * what every browser keeps in one cookie. */
#define HANDOVER_MAX ENTRA_COOKIE_CHUNK

/* Room kept in the GET's Cookie header beyond what is counted ("Cookie: ",
 * a session cookie refreshed meanwhile, the pending index grown by one). */
#define HANDOVER_HEADROOM 256

/* The hand-over's GET brings, in one Cookie header, what the step-up's
 * start brought (the session's cookies: Lax, not on the POST), what the
 * POST brings (the state cookies, SameSite=None) and the hand-over cookie,
 * counted twice: another tab's may be there too (Lax, it was not on this
 * POST), and both live a minute. httpd refuses a header past
 * LimitRequestFieldSize with its own 400, which the module never sees and
 * the user meets at every try: such a GET must not be asked for. */
static int handover_fits(request_rec *r, const entra_state *st, apr_size_t size,
                         apr_int64_t *bytes)
{
    *bytes = (st->cookie_bytes > 0 ? st->cookie_bytes + 2 : 0) + cookie_header_bytes(r) + 2
             + 2 * ((apr_int64_t)size + 2);
    return *bytes + HANDOVER_HEADROOM <= (apr_int64_t)r->server->limit_req_fieldsize;
}

/* A form_post callback is a cross-site POST: the browser sends the state
 * cookie (SameSite=None) but not the session's (Lax). Finished here, a
 * step-up would find no session to upgrade and replace it (the contexts
 * of earlier step-ups lost), so it goes on in a same-site GET instead: 303
 * to the callback itself, which a browser follows with its Lax cookies,
 * the POST's parameters in a short-lived sealed cookie (take_handover).
 * Nothing is taken, marked used or redeemed here. DECLINED: the POST is
 * the callback, as ever (a first sign-in, the session cookie there, a
 * state that does not open or was used, a hand-over too big). */
static int hand_over(request_rec *r, const entra_server_conf *sc, apr_table_t *params)
{
    const char *state = apr_table_get(params, "state"), *name, *cookie, *why, *sealed;
    apr_int64_t now = apr_time_sec(r->request_time);
    apr_size_t size;
    apr_int64_t bytes = 0;
    entra_state *st;

    if (r->method_number != M_POST
        || entra_cookie_get(r->pool, r->headers_in, sc->session_cookie)
        || !(cookie = state_cookie(r, sc, state, &name))
        || !(st = entra_state_open(r->pool, sc->app_keys, cookie, state, now, &why))
        || !st->oid || state_seen(r, sc, st) != APR_NOTFOUND)
        return DECLINED;
    sealed = entra_handover_seal(r->pool, sc->app_keys, params, now);
    size = sealed ? strlen(entra_handover_cookie_name(r->pool, sc, state)) + 1 + strlen(sealed)
                  : 0;
    if (!sealed || size > HANDOVER_MAX || !handover_fits(r, st, size, &bytes)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00246)
                      "form_post step-up for oid=%s: the callback came without the session "
                      "cookie, and its parameters %s: finished here, the session is replaced "
                      "rather than upgraded", entra_log_safe(r->pool, st->oid),
                      !sealed ? "could not be sealed"
                      : size > HANDOVER_MAX
                        ? apr_psprintf(r->pool, "are too big for a hand-over cookie "
                                       "(%" APR_SIZE_T_FMT " bytes)", size)
                        : apr_psprintf(r->pool, "in a hand-over cookie would make the GET's "
                                       "Cookie header about %" APR_INT64_T_FMT " bytes, past "
                                       "LimitRequestFieldSize %d (less %d to spare; the "
                                       "session's cookies are big)", bytes,
                                       r->server->limit_req_fieldsize, HANDOVER_HEADROOM));
        return DECLINED;
    }
    entra_handover_cookie_set(r, sc, state, sealed, ENTRA_HANDOVER_TTL);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00245)
                  "form_post step-up for oid=%s: the callback's POST came without the "
                  "session cookie (SameSite=Lax): going on with a same-site GET",
                  entra_log_safe(r->pool, st->oid));
    /* the attempt's state names its hand-over (not a secret: without its
     * state cookie and the code it is nothing) */
    return entra_redirect_see_other(r, apr_pstrcat(r->pool, st->redirect_uri,
                                                   ap_strchr_c(st->redirect_uri, '?') ? "&" : "?",
                                                   HANDOVER_PARAM "=", state, NULL));
}

/* The same-site GET of hand_over: a callback whose query names a
 * hand-over (and holds no state) takes the POST's parameters from that
 * attempt's hand-over cookie, which goes at once (it works once; the state
 * is then taken and marked used as at any callback). One that is missing,
 * does not open (expired, tampered, another app's) or is another
 * attempt's gives no parameters: the 400 of a made-up callback. */
static apr_table_t *take_handover(request_rec *r, const entra_server_conf *sc,
                                  apr_table_t *params)
{
    const char *id = apr_table_get(params, HANDOVER_PARAM), *cookie = NULL, *carried_state;
    const char *why = "no hand-over cookie for it (expired, used, or another browser's)";
    apr_table_t *carried = NULL;

    if (r->method_number != M_GET || apr_table_get(params, "state") || !id)
        return params;
    if (entra_state_param_ok(id)
        && (cookie = entra_cookie_get(r->pool, r->headers_in,
                                      entra_handover_cookie_name(r->pool, sc, id)))) {
        entra_handover_cookie_set(r, sc, id, "", 0);
        carried = entra_handover_open(r->pool, sc->app_keys, cookie,
                                      apr_time_sec(r->request_time), &why);
        carried_state = carried ? apr_table_get(carried, "state") : NULL;
        if (carried && (!carried_state || strcmp(carried_state, id) != 0)) {
            carried = NULL;
            why = "hand-over cookie of another sign-in attempt";
        }
    }
    if (!carried) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00247) "callback refused: %s", why);
        return apr_table_make(r->pool, 1);
    }
    if (entra_cookie_get(r->pool, r->headers_in, sc->session_cookie))
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, ENTRALOG(00248)
                      "form_post step-up: the callback's parameters from its hand-over cookie");
    else
        /* a browser that withholds Lax cookies even then: a fresh session */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00249)
                      "form_post step-up: the same-site GET came without the session cookie "
                      "too: the user is signed in afresh (earlier step-ups are not kept)");
    return carried;
}

/* Redeems the code. Returns OK with *answer set to the token response (it
 * has an id_token), or the status of the page already written. */
static int redeem_code(request_rec *r, const entra_server_conf *sc, const entra_metadata *meta,
                       const entra_state *st, const char *code, json_t **answer)
{
    const char *grant = apr_pstrcat(r->pool, "grant_type=authorization_code",
                                    "&code=", entra_url_encode(r->pool, code),
                                    "&redirect_uri=", entra_url_encode(r->pool, st->redirect_uri),
                                    "&code_verifier=", st->code_verifier, NULL);
    const char *why = NULL, *caps = entra_claims_request(r->pool, NULL,
                                                         entra_conf_client_caps(sc));

    /* the client's capabilities on every token request (xms_cc) */
    if (caps)
        grant = apr_pstrcat(r->pool, grant, "&claims=", entra_url_encode(r->pool, caps), NULL);

    switch (entra_token_call(r->pool, sc, meta, grant, answer, &why)) {
    case ENTRA_TOKEN_OK:
        if (json_is_string(json_object_get(*answer, "id_token")))
            return OK;
        return idp_unavailable(r, apr_pstrcat(r->pool, "token endpoint ",
                                              meta->token_endpoint,
                                              " answered without an id_token", NULL));
    case ENTRA_TOKEN_REFUSED:
        entra_metrics_signin(r, ENTRA_M_SIGNIN_TOKEN_REFUSED);
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00207)
                      "token endpoint refused the code (%s): %s", why,
                      entra_token_error_text(r->pool, *answer));
        if (strcmp(json_string_value(json_object_get(*answer, "error")), "invalid_grant") == 0)
            return entra_page(r, HTTP_BAD_REQUEST, "Sign-in could not be completed",
                              "The sign-in code was not accepted (it may have been used "
                              "already or expired). Please start again.");
        return entra_page(r, HTTP_BAD_GATEWAY, "Sign-in is unavailable",
                          "The identity provider refused this application's request. "
                          "The administrator has been told.");
    case ENTRA_TOKEN_MISCONFIGURED:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00211) "%s", why);
        return entra_page(r, HTTP_INTERNAL_SERVER_ERROR, "Sign-in is unavailable",
                          "This application's credential could not be used. "
                          "The administrator has been told.");
    default:
        return idp_unavailable(r, why);
    }
}

/* Validates the ID token. Returns its claims, or NULL with the page written
 * and *status set. */
static json_t *validate_id_token(request_rec *r, const entra_server_conf *sc,
                                 const entra_metadata *meta, const entra_state *st,
                                 const char *id_token, int *status)
{
    const char *why;
    int unavailable;
    json_t *claims = entra_id_token_verify(r->pool, sc, meta, id_token, st->nonce, &why,
                                           &unavailable);

    if (claims)
        return claims;
    if (unavailable) {
        *status = idp_unavailable(r, why);
        return NULL;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00208) "ID token rejected: %s", why);
    *status = entra_page(r, HTTP_UNAUTHORIZED, "Sign-in failed",
                         "The identity token could not be validated.");
    return NULL;
}

/* The session's claims: the ID token's (plus the profile's), mapped, and
 * the access token when it is to be passed on. */
static apr_array_header_t *session_claims(request_rec *r, const entra_server_conf *sc,
                                          json_t *claims, json_t *answer,
                                          const char *groups_error)
{
    apr_array_header_t *pairs = entra_claims_from_json(r->pool, claims);
    const char *access_token = json_string_value(json_object_get(answer, "access_token"));

    entra_claims_apply_map(pairs, sc->claim_maps);
    /* Overage that Graph did not resolve: say so the way Entra itself does
     * when a token cannot list the groups, so the app can tell "no groups"
     * from "groups unknown". */
    if (groups_error) {
        entra_pairs_add(pairs, ENTRA_GROUPS_UNRESOLVED, groups_error);
        if (!entra_pairs_get(pairs, "hasgroups"))
            entra_pairs_add(pairs, "hasgroups", "true");
    }
    if (json_is_string(json_object_get(answer, "refresh_token")))
        entra_pairs_add(pairs, ENTRA_SESSION_REFRESH_TOKEN,
                        json_string_value(json_object_get(answer, "refresh_token")));
    /* for id_token_hint, and for X-MS-TOKEN-AAD-ID-TOKEN */
    if (entra_conf_logout_redirect(sc)
        || (entra_conf_easyauth_headers(sc) && entra_conf_pass_access_token(sc)))
        entra_pairs_add(pairs, ENTRA_SESSION_ID_TOKEN,
                        json_string_value(json_object_get(answer, "id_token")));
    if (entra_conf_pass_access_token(sc) && access_token) {
        entra_pairs_add(pairs, ENTRA_SESSION_ACCESS_TOKEN, apr_pstrdup(r->pool, access_token));
        entra_pairs_add(pairs, ENTRA_SESSION_ACCESS_EXPIRES,
                        apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                                     apr_time_sec(r->request_time) + entra_token_expires_in(answer)));
    }
    return pairs;
}

/* The groups of `list` that the configuration's Require lines name. */
static const char *named_groups(request_rec *r, const entra_server_conf *sc, const char *list,
                                int *all, int *kept)
{
    char *rest, *group;
    const char *keep = "";

    for (group = apr_strtok(apr_pstrdup(r->pool, list), ",", &rest); group;
         group = apr_strtok(NULL, ",", &rest)) {
        (*all)++;
        if (entra_conf_group_named(sc, group)) {
            keep = apr_pstrcat(r->pool, keep, *keep ? "," : "", group, NULL);
            (*kept)++;
        }
    }
    return keep;
}

/* `groups` becomes the groups the configuration's Require lines name, and
 * the backend is told the list is partial (X-Entra-Claim-groups-partial:
 * the digest of the list they were kept by, config.h). With `keep_all`
 * the whole list stays in the session for authorization (socache). */
static void name_groups_only(request_rec *r, const entra_server_conf *sc, entra_session *s,
                             int keep_all, int *all, int *kept)
{
    int i;

    for (i = 0; i < s->claims->nelts; i++) {
        entra_pair *c = &APR_ARRAY_IDX(s->claims, i, entra_pair);
        if (strcmp(c->name, "groups") != 0)
            continue;
        if (keep_all)
            entra_pairs_add(s->claims, ENTRA_GROUPS_ALL, c->value);
        /* entra_pairs_add may have moved the array */
        c = &APR_ARRAY_IDX(s->claims, i, entra_pair);
        c->value = named_groups(r, sc, c->value, all, kept);
        break;
    }
    entra_pairs_add(s->claims, ENTRA_GROUPS_PARTIAL, sc->named_groups_digest);
}

/* A user in more groups than a cookie session can hold (a thousand, say)
 * keeps the groups the configuration's Require lines name, which is all
 * that authorization here needs. */
static void keep_named_groups(request_rec *r, const entra_server_conf *sc, entra_session *s)
{
    int all = 0, kept = 0;

    name_groups_only(r, sc, s, 0, &all, &kept);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00215)
                  "the user is in %d groups, more than a cookie session holds: it keeps the %d "
                  "that Require lines of this server name (X-Entra-Claim-groups-partial)",
                  all, kept);
}

/* The ID token kept for id_token_hint is the session's biggest field (a
 * user in 150 groups brings 7 KB of it): when the cookie session would not
 * fit, it goes first. Logout then names the account by logout_hint when the
 * token had the login_hint claim; without either, Entra asks which account
 * to sign out, which beats a sign-in that cannot complete. */
static int drop_id_token_hint(request_rec *r, entra_session *s)
{
    apr_array_header_t *kept;
    int i;

    if (!entra_pairs_get(s->claims, ENTRA_SESSION_ID_TOKEN))
        return 0;
    kept = apr_array_make(r->pool, s->claims->nelts, sizeof(entra_pair));
    for (i = 0; i < s->claims->nelts; i++) {
        const entra_pair *c = &APR_ARRAY_IDX(s->claims, i, entra_pair);
        if (strcmp(c->name, ENTRA_SESSION_ID_TOKEN) != 0)
            *(entra_pair *)apr_array_push(kept) = *c;
    }
    s->claims = kept;
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00217)
                  "the session is too big for cookies with the ID token in it: logout will "
                  "go to Entra without id_token_hint%s, and the backend gets no "
                  "X-MS-TOKEN-AAD-ID-TOKEN", entra_pairs_get(s->claims, "login_hint")
                  ? " (with logout_hint)" : "");
    return 1;
}

/* A cookie session too big for the browser to send back: the ID token
 * goes, then the groups no Require line names. */
static void fit_cookies(request_rec *r, const entra_server_conf *sc, entra_session *s)
{
    if (drop_id_token_hint(r, s) && entra_store_cookie_fits(r, sc, s))
        return;
    if (entra_pairs_get(s->claims, "groups") && !entra_store_cookie_fits(r, sc, s))
        keep_named_groups(r, sc, s);
}

/* With a socache store the session keeps every group, but a list longer
 * than ENTRA_GROUPS_HEADER_MAX is more than backends take in one header
 * (httpd and nginx refuse a header over 8 KB by default): the backend gets
 * what the cookie store would give it, authorization all of them. */
static void keep_groups_for_authz(request_rec *r, const entra_server_conf *sc,
                                  entra_session *s)
{
    const char *groups = entra_pairs_get(s->claims, "groups");
    int all = 0, kept = 0;

    if (!groups || strlen(groups) <= ENTRA_GROUPS_HEADER_MAX)
        return;
    name_groups_only(r, sc, s, 1, &all, &kept);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00216)
                  "the user is in %d groups, a list longer than %d bytes: the backend gets the "
                  "%d that Require lines of this server name (X-Entra-Claim-groups-partial), "
                  "authorization all of them", all, ENTRA_GROUPS_HEADER_MAX, kept);
}

static int start_session(request_rec *r, const entra_server_conf *sc, json_t *claims,
                         json_t *answer, const char *groups_error, const entra_state *st)
{
    entra_session session = { 0 };
    const char *back;
    int saved;

    session.created = apr_time_sec(r->request_time);
    session.expires = session.created + entra_conf_session_max_age(sc);
    session.claims = session_claims(r, sc, claims, answer, groups_error);
    /* a sign-in for a step-up with no session to upgrade (none, or the
     * cookie a form_post callback does not bring): marked all the same */
    entra_stepup_mark(r, &session, st);
    if (sc->session_cache)
        keep_groups_for_authz(r, sc, &session);
    else if (!entra_store_cookie_fits(r, sc, &session))
        fit_cookies(r, sc, &session);
    saved = entra_store_save(r, sc, &session);
    if (saved == ENTRA_STORE_TOO_BIG)
        return entra_page(r, HTTP_INTERNAL_SERVER_ERROR, "Sign-in could not be completed",
                          "Your account brings more information than this server can keep "
                          "in a session. The administrator has been told.");
    if (!saved) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00209) "cannot save the session");
        return entra_page(r, sc->session_cache ? HTTP_SERVICE_UNAVAILABLE
                                               : HTTP_INTERNAL_SERVER_ERROR,
                          "Sign-in could not be completed",
                          "The session could not be stored. The administrator has been told.");
    }
    /* cookie store: a session Entra may end by front-channel logout */
    if (!sc->session_cache && entra_pairs_get(session.claims, "sid"))
        entra_issued_add(r, sc->app_tag, entra_pairs_get(session.claims, "sid"), session.expires);
    entra_metrics_signin(r, ENTRA_M_SIGNIN_OK);
    back = entra_safe_return_path(r->pool, st->return_to, NULL);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00210) "signed in oid=%s tid=%s",
                  entra_log_safe(r->pool, entra_pairs_get(session.claims, "oid")),
                  entra_log_safe(r->pool, entra_pairs_get(session.claims, "tid")));
    return entra_redirect(r, back ? back : "/");
}

/* After the code is redeemed: the ID token, the tenant, the profile. */
static int finish_sign_in(request_rec *r, const entra_server_conf *sc,
                          const entra_metadata *meta, const entra_state *st, json_t *answer)
{
    const char *id_token = json_string_value(json_object_get(answer, "id_token"));
    const char *access_token = json_string_value(json_object_get(answer, "access_token"));
    json_t *claims;
    const char *why;
    int status;

    if (!(claims = validate_id_token(r, sc, meta, st, id_token, &status))) {
        entra_metrics_signin(r, ENTRA_M_SIGNIN_ID_TOKEN_INVALID);
        return status;
    }
    if (!entra_conf_tenant_allowed(sc, json_string_value(json_object_get(claims, "tid")))) {
        entra_metrics_signin(r, ENTRA_M_SIGNIN_TENANT_REFUSED);
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, ENTRALOG(00212)
                      "sign-in refused: tenant %s is not in EntraAllowedTenants",
                      entra_log_safe(r->pool, json_string_value(json_object_get(claims, "tid"))));
        return entra_page(r, HTTP_FORBIDDEN, "Access denied",
                          "Accounts of your organization are not allowed to sign in to this "
                          "application.");
    }
    /* What this sign-in had to bring (a step-up's user and authentication
     * context, EntraMaxAuthAge's freshness), before anything is kept. A
     * step-up upgrades the session it was for; without one any more, the
     * user (the same, checked) signs in afresh. */
    if ((status = entra_stepup_verify(r, sc, st, claims)) != OK)
        return status;
    if (st->oid && (status = entra_stepup_upgrade(r, sc, st, claims, answer)) != DECLINED)
        return status;
    if ((why = entra_userinfo_merge(r->pool, sc, meta, access_token, claims)))
        return idp_unavailable(r, why);
    /* Without its groups the session must not pass for one without any:
     * entra-group denies it with the reason (see authz.c). */
    if (entra_groups_overage(claims)
        && (why = entra_groups_resolve(r->pool, sc, meta, access_token, claims))) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00213)
                      "groups overage: cannot read the groups from Microsoft Graph, group-based "
                      "access will be denied: %s", why);
    }
    else
        why = NULL;
    return start_session(r, sc, claims, answer, why, st);
}

static int callback(request_rec *r, const entra_server_conf *sc)
{
    apr_table_t *params;
    entra_state *st;
    entra_metadata meta;
    const char *code, *why;
    json_t *answer = NULL;
    int status;

    if (r->method_number != M_GET && r->method_number != M_POST) {
        apr_table_setn(r->headers_out, "Allow", "GET, POST");
        return entra_page(r, HTTP_METHOD_NOT_ALLOWED, "Method not allowed",
                          "The sign-in callback takes GET or POST.");
    }
    if (!(params = entra_request_params(r)))
        return entra_page(r, HTTP_BAD_REQUEST, "Bad request", "The callback is malformed.");
    if ((status = hand_over(r, sc, params)) != DECLINED)
        return status;
    params = take_handover(r, sc, params);
    /* The state first, even for an error: a made-up callback gets nothing
     * but a 400, never a page with its text on this site. */
    if (!(st = take_state(r, sc, apr_table_get(params, "state")))) {
        entra_metrics_signin(r, ENTRA_M_SIGNIN_STATE_INVALID);
        return entra_page(r, HTTP_BAD_REQUEST, "Sign-in could not be completed",
                          "This sign-in attempt is unknown, expired or already used. "
                          "Please start again.");
    }
    if ((status = mark_state_used(r, sc, st)) != OK) {
        /* 400: replayed; else the store could not be asked */
        entra_metrics_signin(r, status == HTTP_BAD_REQUEST ? ENTRA_M_SIGNIN_STATE_INVALID
                                                           : ENTRA_M_SIGNIN_ERROR);
        return status;
    }
    if (apr_table_get(params, "error")) {
        entra_metrics_signin(r, ENTRA_M_SIGNIN_IDP_ERROR);
        return entra_reported_error(r, params);
    }
    if (!(code = apr_table_get(params, "code")) || !*code)
        return entra_page(r, HTTP_BAD_REQUEST, "Bad request", "The callback carries no code.");
    if ((why = entra_provider_metadata(sc->provider, r->pool, entra_conf_http_timeout(sc),
                                       &meta)))
        return idp_unavailable(r, why);
    if ((status = redeem_code(r, sc, &meta, st, code, &answer)) != OK)
        return status;
    return finish_sign_in(r, sc, &meta, st, answer);
}

/* Every callback counts once in entra_signins_total: by the result found
 * on its way (metrics.h), or as an error. A hand-over's POST (303) is
 * counted at its GET. */
int entra_callback(request_rec *r, const entra_server_conf *sc)
{
    int status = callback(r, sc);

    if ((r->method_number == M_GET || r->method_number == M_POST) && status != HTTP_SEE_OTHER)
        entra_metrics_signin(r, ENTRA_M_SIGNIN_ERROR);
    return status;
}
