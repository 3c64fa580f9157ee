/* Step-up with an authentication context, fresh sign-in (see stepup.h). */
#include "stepup.h"
#include "authn.h"
#include "claims.h"
#include "log.h"
#include "login.h"
#include "metrics.h"
#include "respond.h"
#include "store.h"
#include "token.h"
#include "util.h"

#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <apr_base64.h>
#include <apr_strings.h>
#include <string.h>

APLOG_USE_MODULE(auth_entra);
extern module AP_MODULE_DECLARE_DATA auth_entra_module;

int entra_acr_valid(const char *acr)
{
    /* c1 .. c99, no leading zero */
    if (!acr || acr[0] != 'c' || acr[1] < '1' || acr[1] > '9')
        return 0;
    return acr[2] == '\0' || (acr[2] >= '0' && acr[2] <= '9' && acr[3] == '\0');
}

const char *entra_stepup_claims(apr_pool_t *p, const char *acr)
{
    /* acr is c1..c99: nothing to escape */
    return apr_pstrcat(p, "{\"id_token\":{\"acrs\":{\"essential\":true,\"value\":\"", acr,
                       "\"}}}", NULL);
}

const char *entra_stepup_describe(apr_pool_t *p, const char *acr, apr_int64_t max_age)
{
    const char *ctx = acr ? apr_pstrcat(p, "the authentication context ", acr, NULL) : NULL;
    const char *age = max_age >= 0
                      ? apr_psprintf(p, "a sign-in within the last %" APR_INT64_T_FMT " seconds",
                                     max_age) : NULL;

    if (ctx && age)
        return apr_pstrcat(p, ctx, " and ", age, NULL);
    return ctx ? ctx : age ? age : "nothing";
}

/* A page for whichever status the request ends with: check_user_id's
 * (ap_die) or, after authorization, the 401 mod_authz_core answered
 * (entra_authz_forbid). */
static void custom_page(request_rec *r, const char *title, const char *message)
{
    const char *t = entra_html_escape(r->pool, title);
    const char *page = apr_pstrcat(r->pool, "<!DOCTYPE html>\n<html><head><title>", t,
                                   "</title></head><body><h1>", t, "</h1><p>",
                                   entra_html_escape(r->pool, message),
                                   "</p></body></html>\n", NULL);

    ap_custom_response(r, HTTP_FORBIDDEN, page);
    ap_custom_response(r, HTTP_UNAUTHORIZED, page);
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
}

/* The claims challenge of a caller that cannot follow the round trip. */
static int insufficient_claims(request_rec *r, const entra_session *s, const char *acr,
                               apr_int64_t max_age, const char *why)
{
    const char *token = s->from_bearer ? "access_token" : "id_token";
    const char *json = acr ? apr_pstrcat(r->pool, "{\"", token, "\":{\"acrs\":{\"essential\":true,"
                                         "\"value\":\"", acr, "\"}}}", NULL)
                           : apr_pstrcat(r->pool, "{\"", token,
                                         "\":{\"auth_time\":{\"essential\":true}}}", NULL);
    int len = apr_base64_encode_len((int)strlen(json));
    char *b64 = apr_palloc(r->pool, len);

    apr_base64_encode(b64, json, (int)strlen(json));
    apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                   apr_psprintf(r->pool, "Bearer realm=\"%s\", error=\"insufficient_claims\", "
                                "error_description=\"%s\", claims=\"%s\"",
                                ap_escape_quotes(r->pool, ap_get_server_name(r)),
                                ap_escape_quotes(r->pool, why), b64));
    custom_page(r, "Sign-in required",
                apr_pstrcat(r->pool, "This resource requires ", why,
                            ". Open it in the browser to sign in again.", NULL));
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00238)
                  "%s for %s needs %s: 401 insufficient_claims (the caller cannot follow a "
                  "sign-in)", s->from_bearer ? "bearer token" : "session", r->user ? r->user : "?",
                  why);
    return HTTP_UNAUTHORIZED;
}

/* The same step-up done moments ago and still not enough: say so, once,
 * rather than send the browser round again. */
static int done_just_now(request_rec *r, const entra_session *s, const char *what)
{
    const char *last = entra_pairs_get(s->claims, ENTRA_SESSION_STEPUP);
    const char *space = last ? strchr(last, ' ') : NULL;
    apr_int64_t when, now = apr_time_sec(r->request_time);

    if (!space || strcmp(space + 1, what) != 0)
        return 0;
    when = entra_parse_int(apr_pstrmemdup(r->pool, last, (apr_size_t)(space - last)));
    return when >= 0 && now >= when && now - when < ENTRA_STEPUP_AGAIN;
}

/* The session's user, for the state (oid + tid) and for Entra (login_hint:
 * Entra's own hint, the login_hint optional claim, names the account best;
 * the sign-in name otherwise). */
static void same_user(const entra_session *s, entra_stepup *need)
{
    need->oid = entra_pairs_get(s->claims, "oid");
    need->tid = entra_pairs_get(s->claims, "tid");
    need->login_hint = entra_pairs_get(s->claims, "login_hint");
    if (!need->login_hint)
        need->login_hint = entra_pairs_get(s->claims, "preferred_username");
    if (!need->login_hint)
        need->login_hint = entra_pairs_get(s->claims, "upn");
}

int entra_stepup_claims_challenge(request_rec *r, const entra_server_conf *sc,
                                  const entra_session *s, const char *claims)
{
    entra_stepup need = { NULL, -1, NULL, NULL, NULL, claims };

    if (done_just_now(r, s, ENTRA_STEPUP_CLAIMS)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00242)
                      "claims challenge for %s at %s: the session came back from a sign-in "
                      "for a claims challenge less than %d seconds ago, and the app still "
                      "answers with one: its 401 is passed on rather than the browser sent "
                      "round again (does the app use the new access token? can the user "
                      "meet the policy?)", r->user ? r->user : "?",
                      entra_log_safe(r->pool, r->uri), ENTRA_STEPUP_AGAIN);
        return DECLINED;
    }
    same_user(s, &need);
    if (!need.oid || !need.tid) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00243)
                      "claims challenge for %s at %s: the session has no oid and tid to tell "
                      "the same user by: the app's 401 is passed on",
                      r->user ? r->user : "?", entra_log_safe(r->pool, r->uri));
        return DECLINED;
    }
    return entra_login_stepup(r, sc, &need);
}

const char *entra_stepup_state_describe(apr_pool_t *p, const entra_state *st)
{
    return st->claims_challenge ? "the claims the app's resource asked for (claims challenge)"
                                : entra_stepup_describe(p, st->acr, st->max_age);
}

int entra_stepup_start(request_rec *r, const entra_server_conf *sc, const entra_session *s,
                       const char *acr, apr_int64_t max_age, int api)
{
    const char *why = entra_stepup_describe(r->pool, acr, max_age);
    const char *what = acr ? acr : "max_age";
    entra_stepup need = { acr, max_age, NULL, NULL, NULL, NULL };

    if (acr && !entra_acr_valid(acr))
        return HTTP_FORBIDDEN;  /* never a claims JSON of anything else */
    if (!s->from_bearer && done_just_now(r, s, what)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00236)
                      "step-up for %s: %s was signed in for less than %d seconds ago, and the "
                      "session still does not satisfy it: refused rather than asked again%s",
                      r->user ? r->user : "?", why, ENTRA_STEPUP_AGAIN,
                      acr ? "" : " (is this server's clock behind Entra's? auth_time comes "
                                 "from Entra's)");
        custom_page(r, "Access denied",
                    apr_pstrcat(r->pool, "This page requires ", why, ". You signed in again "
                                "moments ago, and that was still not enough here. The "
                                "administrator has been told.", NULL));
        return HTTP_FORBIDDEN;
    }
    if (api || s->from_bearer || r->method_number != M_GET || r->main)
        return insufficient_claims(r, s, acr, max_age, why);
    same_user(s, &need);
    if (!need.oid || !need.tid) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00239)
                      "step-up for %s needs %s, but the session has no oid and tid to tell "
                      "the same user by: refused", r->user ? r->user : "?", why);
        custom_page(r, "Access denied", apr_pstrcat(r->pool, "This page requires ", why, ".",
                                                    NULL));
        return HTTP_FORBIDDEN;
    }
    return entra_login_stepup(r, sc, &need);
}

int entra_stepup_auth_age(request_rec *r, const entra_server_conf *sc, const entra_session *s,
                          int bearer)
{
    const entra_dir_conf *dc = ap_get_module_config(r->per_dir_config, &auth_entra_module);
    apr_int64_t max_age = entra_conf_max_auth_age(dc);
    apr_int64_t auth_time, now = apr_time_sec(r->request_time);
    const char *at;

    if (!max_age)
        return OK;
    /* No auth_time is no proof of a fresh sign-in: fail closed. */
    at = entra_pairs_get(s->claims, "auth_time");
    auth_time = at ? entra_parse_int(at) : -1;
    if (auth_time >= 0 && auth_time <= now + entra_conf_clock_skew(sc)
        && now - auth_time <= max_age)
        return OK;
    return entra_stepup_start(r, sc, s, NULL, max_age, bearer || entra_is_api_request(r));
}

/* The token's claim as an integer, or -1. */
static apr_int64_t int_claim(json_t *claims, const char *name)
{
    json_t *v = json_object_get(claims, name);

    return json_is_integer(v) && json_integer_value(v) >= 0 ? (apr_int64_t)json_integer_value(v)
                                                            : -1;
}

static int has_acr(json_t *claims, const char *acr)
{
    json_t *acrs = json_object_get(claims, "acrs"), *v;
    size_t i;

    if (json_is_string(acrs))
        return strcmp(json_string_value(acrs), acr) == 0;
    json_array_foreach(acrs, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), acr) == 0)
            return 1;
    }
    return 0;
}

static const char *str_claim(json_t *claims, const char *name)
{
    return json_string_value(json_object_get(claims, name));
}

int entra_stepup_verify(request_rec *r, const entra_server_conf *sc, const entra_state *st,
                        json_t *claims)
{
    const char *oid = str_claim(claims, "oid"), *tid = str_claim(claims, "tid");
    apr_int64_t now = apr_time_sec(r->request_time), skew = entra_conf_clock_skew(sc);
    apr_int64_t auth_time = int_claim(claims, "auth_time");

    if (st->oid && (!oid || !tid || strcmp(oid, st->oid) != 0 || strcmp(tid, st->tid) != 0)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00231)
                      "step-up refused: Entra signed in oid=%s tid=%s, not the session's user "
                      "oid=%s tid=%s; the session is kept as it was",
                      entra_log_safe(r->pool, oid), entra_log_safe(r->pool, tid),
                      entra_log_safe(r->pool, st->oid), entra_log_safe(r->pool, st->tid));
        return entra_page(r, HTTP_FORBIDDEN, "Step-up failed",
                          "Another account signed in than the one signed in here. Nothing was "
                          "changed: sign in again with your own account.");
    }
    if (st->acr && !has_acr(claims, st->acr)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, ENTRALOG(00232)
                      "step-up to the authentication context %s failed for oid=%s: the ID token's "
                      "acrs does not hold it (the Conditional Access policy's controls were not "
                      "met, or no policy targets %s)", st->acr, entra_log_safe(r->pool, oid),
                      st->acr);
        return entra_page(r, HTTP_FORBIDDEN, "Step-up failed",
                          apr_pstrcat(r->pool, "This page requires the authentication context ",
                                      st->acr, " (a further check your organization asks for, "
                                      "such as multi-factor authentication), and the sign-in "
                                      "did not satisfy it.", NULL));
    }
    if (st->max_age >= 0
        && (auth_time < 0 || auth_time > now + skew || now - auth_time > st->max_age)) {
        if (auth_time < 0)
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00233)
                          "fresh sign-in (max_age %" APR_INT64_T_FMT ") refused for oid=%s: "
                          "the ID token has no auth_time, so its age cannot be told",
                          st->max_age, entra_log_safe(r->pool, oid));
        else
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00233)
                          "fresh sign-in (max_age %" APR_INT64_T_FMT ") refused for oid=%s: "
                          "auth_time is %" APR_INT64_T_FMT " seconds %s (EntraClockSkew %"
                          APR_INT64_T_FMT ")", st->max_age, entra_log_safe(r->pool, oid),
                          auth_time > now ? auth_time - now : now - auth_time,
                          auth_time > now ? "ahead" : "old", skew);
        return entra_page(r, HTTP_FORBIDDEN, "Step-up failed",
                          apr_psprintf(r->pool, "This page requires a sign-in within the last "
                                       "%" APR_INT64_T_FMT " seconds, and the identity provider "
                                       "did not confirm one.", st->max_age));
    }
    return OK;
}

/* The session's acrs with the token's added (c1..c99 only). */
static const char *acrs_union(apr_pool_t *p, const char *have, json_t *claims)
{
    json_t *acrs = json_object_get(claims, "acrs"), *v;
    const char *all = have && *have ? have : NULL;
    size_t i;

    if (json_is_string(acrs) && entra_acr_valid(json_string_value(acrs))
        && (!all || !entra_list_has(all, json_string_value(acrs))))
        all = all ? apr_pstrcat(p, all, ",", json_string_value(acrs), NULL)
                  : json_string_value(acrs);
    json_array_foreach(acrs, i, v) {
        const char *one = json_string_value(v);
        if (entra_acr_valid(one) && (!all || !entra_list_has(all, one)))
            all = all ? apr_pstrcat(p, all, ",", one, NULL) : one;
    }
    return all;
}

/* Everything the session had, plus what the step-up brought: acrs (a
 * union), the newer auth_time, the new tokens, and the step-up's mark. */
static void merge(request_rec *r, const entra_server_conf *sc, const entra_state *st,
                  entra_session *s, json_t *claims, json_t *answer)
{
    apr_pool_t *p = r->pool;
    const char *acrs = acrs_union(p, entra_pairs_get(s->claims, "acrs"), claims);
    const char *arrays = entra_pairs_get(s->claims, ENTRA_CLAIMS_ARRAYS);
    const char *had = entra_pairs_get(s->claims, "auth_time");
    apr_int64_t auth_time = int_claim(claims, "auth_time");
    const char *rt = json_string_value(json_object_get(answer, "refresh_token"));
    const char *at = json_string_value(json_object_get(answer, "access_token"));
    const char *idt = json_string_value(json_object_get(answer, "id_token"));

    if (acrs) {
        entra_pairs_set(p, s->claims, "acrs", acrs);
        if (!arrays || !entra_list_has(arrays, "acrs"))
            entra_pairs_set(p, s->claims, ENTRA_CLAIMS_ARRAYS,
                     arrays ? apr_pstrcat(p, arrays, ",acrs", NULL) : "acrs");
    }
    if (auth_time >= 0 && (!had || entra_parse_int(had) < auth_time))
        entra_pairs_set(p, s->claims, "auth_time", apr_psprintf(p, "%" APR_INT64_T_FMT, auth_time));
    if (rt)
        entra_pairs_set(p, s->claims, ENTRA_SESSION_REFRESH_TOKEN, rt);
    if (at && entra_conf_pass_access_token(sc)) {
        entra_pairs_set(p, s->claims, ENTRA_SESSION_ACCESS_TOKEN, at);
        entra_pairs_set(p, s->claims, ENTRA_SESSION_ACCESS_EXPIRES,
                 apr_psprintf(p, "%" APR_INT64_T_FMT,
                              apr_time_sec(r->request_time) + entra_token_expires_in(answer)));
    }
    if (idt && entra_pairs_get(s->claims, ENTRA_SESSION_ID_TOKEN))
        entra_pairs_set(p, s->claims, ENTRA_SESSION_ID_TOKEN, idt);
    entra_stepup_mark(r, s, st);
}

void entra_stepup_mark(request_rec *r, entra_session *s, const entra_state *st)
{
    if (!st->claims_challenge && !st->acr && st->max_age < 0)
        return;
    entra_pairs_set(r->pool, s->claims, ENTRA_SESSION_STEPUP,
             apr_psprintf(r->pool, "%" APR_INT64_T_FMT " %s", apr_time_sec(r->request_time),
                          st->claims_challenge ? ENTRA_STEPUP_CLAIMS
                          : st->acr ? st->acr : "max_age"));
}

int entra_stepup_upgrade(request_rec *r, const entra_server_conf *sc, const entra_state *st,
                         json_t *claims, json_t *answer)
{
    int unavailable, saved;
    entra_session *s = entra_store_load_ex(r, sc, &unavailable);
    const char *oid, *tid, *back;

    if (unavailable)
        return entra_page(r, HTTP_SERVICE_UNAVAILABLE, "Sign-in is unavailable",
                          "The session store cannot be reached. Please try again in a moment.");
    if (!s)
        return DECLINED;
    oid = entra_pairs_get(s->claims, "oid");
    tid = entra_pairs_get(s->claims, "tid");
    if (!oid || !tid || strcmp(oid, st->oid) != 0 || strcmp(tid, st->tid) != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, ENTRALOG(00234)
                      "step-up for oid=%s came back, but this browser's session is now another "
                      "user's (oid=%s): nothing was changed",
                      entra_log_safe(r->pool, st->oid), entra_log_safe(r->pool, oid));
        return entra_page(r, HTTP_FORBIDDEN, "Step-up failed",
                          "The account signed in here changed while the step-up was under way. "
                          "Nothing was changed: please try again.");
    }
    merge(r, sc, st, s, claims, answer);
    saved = entra_store_save(r, sc, s);
    if (saved != 1) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00237)
                      "step-up for oid=%s: cannot save the upgraded session%s",
                      entra_log_safe(r->pool, oid),
                      saved == ENTRA_STORE_TOO_BIG ? " (too big for its store)" : "");
        return entra_page(r, sc->session_cache && saved != ENTRA_STORE_TOO_BIG
                             ? HTTP_SERVICE_UNAVAILABLE : HTTP_INTERNAL_SERVER_ERROR,
                          "Step-up could not be completed",
                          "The session could not be stored. The administrator has been told.");
    }
    entra_metrics_signin(r, ENTRA_M_SIGNIN_OK);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00235)
                  "step-up for oid=%s tid=%s: the session now holds %s",
                  entra_log_safe(r->pool, oid), entra_log_safe(r->pool, tid),
                  entra_stepup_state_describe(r->pool, st));
    back = entra_safe_return_path(r->pool, st->return_to, NULL);
    return entra_redirect(r, back ? back : "/");
}
