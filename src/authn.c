/* AuthType Entra: the signed-in fast path and the way into a sign-in. */
#include "authn.h"
#include "bearer.h"
#include "claims.h"
#include "config.h"
#include "log.h"
#include "login.h"
#include "refresh.h"
#include "session.h"
#include "state.h"
#include "stepup.h"
#include "store.h"
#include "util.h"

#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <string.h>

APLOG_USE_MODULE(auth_entra);
extern module AP_MODULE_DECLARE_DATA auth_entra_module;

static entra_server_conf *server_conf(request_rec *r)
{
    return ap_get_module_config(r->server->module_config, &auth_entra_module);
}

int entra_strip_spoofed_headers(request_rec *r)
{
    int removed;

    if (r->main || r->prev || !entra_server_enabled(server_conf(r)))
        return DECLINED;
    removed = entra_claims_strip_spoofed(r->pool, r->headers_in);
    if (removed)
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00401)
                      "removed %d client-sent X-Entra-*, X-MS-CLIENT-PRINCIPAL* or X-MS-TOKEN-* "
                      "header name(s)", removed);
    return DECLINED;
}

/* The session an earlier request of this one opened: an internal redirect
 * (ErrorDocument, DirectoryIndex) or a subrequest whose own config asks for
 * authentication again, after the cookies were hidden from the backend.
 * With `cookies_only`, one made from a bearer token does not count: this
 * location may not take bearer tokens at all, and a token is checked again
 * wherever it is sent. */
static entra_session *earlier_session(const request_rec *r, int cookies_only)
{
    entra_session *session = NULL;

    for (r = r->prev ? r->prev : r->main; r && !session; r = r->prev ? r->prev : r->main) {
        session = ap_get_module_config(r->request_config, &auth_entra_module);
        if (session && cookies_only && session->from_bearer)
            session = NULL;
    }
    return session;
}

/* The session this request carries: the one kept in the request's config
 * (by force_authn), else an earlier request's, else the store's. NULL when
 * not signed in, or when a socache store is down (*unavailable). */
static entra_session *request_session(request_rec *r, const entra_server_conf *sc,
                                      int *unavailable)
{
    entra_session *session = ap_get_module_config(r->request_config, &auth_entra_module);

    *unavailable = 0;
    if (session && session->from_bearer)
        session = NULL;
    if (!session)
        session = earlier_session(r, 1);
    return session ? session : entra_store_load_ex(r, sc, unavailable);
}

/* The module's cookies are its own business: the backend, and whatever it
 * logs, never sees them, so a leaked request log replays no session. */
static int hide_own_cookies(request_rec *r, int status)
{
    const entra_server_conf *sc = server_conf(r);
    entra_session *session;

    if (status == OK && !r->main && sc->own_cookies) {
        /* kept with the session, which only this module sees (browsers
         * and mod_http2 send one Cookie header) */
        session = ap_get_module_config(r->request_config, &auth_entra_module);
        if (session && !session->cookies_sent)
            session->cookies_sent = apr_table_get(r->headers_in, "Cookie");
        /* a connection that kept the session kept the header without them */
        if (!session || !entra_cookie_header_replace(r->headers_in, session->cookies_found,
                                                     session->cookies_stripped))
            entra_cookies_strip(r->pool, r->headers_in, sc->own_cookies);
    }
    return status;
}

const apr_table_t *entra_cookies_sent(request_rec *r)
{
    const entra_session *session = ap_get_module_config(r->request_config, &auth_entra_module);
    apr_table_t *sent;

    /* a step-up that starts before this request keeps its session (EntraMaxAuthAge,
     * in use_session): an internal redirect's headers are the first request's,
     * stripped, and that request's session kept the header as sent */
    if (!session)
        session = earlier_session(r, 0);
    if (!session || !session->cookies_sent)
        return r->headers_in;
    sent = apr_table_make(r->pool, 1);
    apr_table_setn(sent, "Cookie", session->cookies_sent);
    return sent;
}

/* For every request of the virtual host: a request this module signed in
 * (a session in its config) had them taken out already. */
int entra_hide_cookies_fixup(request_rec *r)
{
    if (!r->main && entra_server_enabled(server_conf(r))
        && !ap_get_module_config(r->request_config, &auth_entra_module))
        hide_own_cookies(r, OK);
    return DECLINED;
}

/* AuthType Entra with EntraUnauthAction pass, where the Require lines need
 * no user (Require all granted): a caller with a session (or a bearer token
 * the location takes) is authenticated all the same, so the app gets the
 * claims; one without goes on anonymously, with no user at all (httpd
 * refuses an authentication that sets none, and an empty one would pass
 * Require valid-user elsewhere). The session found is kept for
 * check_user_id. */
int entra_force_authn(request_rec *r)
{
    const char *type = ap_auth_type(r);
    const entra_dir_conf *dc = ap_get_module_config(r->per_dir_config, &auth_entra_module);
    entra_server_conf *sc = server_conf(r);
    entra_session *session;
    int unavailable;

    if (!type || strcasecmp(type, ENTRA_AUTH_TYPE) != 0
        || entra_conf_unauth_action(dc) != ENTRA_UNAUTH_PASS || !entra_server_enabled(sc))
        return DECLINED;
    if (entra_conf_accept_bearer(dc) && entra_bearer_token(r))
        return OK;
    if (!(session = request_session(r, sc, &unavailable)))
        return DECLINED;
    ap_set_module_config(r->request_config, &auth_entra_module, session);
    return OK;
}

/* Only the user this module authenticated has Entra claims: under another
 * AuthType (Basic, say) the browser's Entra cookie says nothing about the
 * user httpd names, and the claims are unknown. An internal redirect that
 * kept the user (same auth config) keeps the earlier request's claims. */
const apr_array_header_t *entra_request_claims(request_rec *r)
{
    const char *type = r->ap_auth_type;
    entra_session *session;

    if (!r->user || !type || (strcasecmp(type, ENTRA_AUTH_TYPE) != 0
                              && strcasecmp(type, ENTRA_BEARER_AUTH_TYPE) != 0))
        return NULL;
    session = ap_get_module_config(r->request_config, &auth_entra_module);
    if (!session)
        session = earlier_session(r, 0);
    return session ? session->claims : NULL;
}

/* EntraPassAccessToken: the app calls Graph (or its API) as the user. */
static void publish_access_token(request_rec *r, const entra_session *session)
{
    const char *token = entra_pairs_get(session->claims, ENTRA_SESSION_ACCESS_TOKEN);
    const char *expires = entra_pairs_get(session->claims, ENTRA_SESSION_ACCESS_EXPIRES);

    if (!token)
        return;
    apr_table_setn(r->headers_in, ENTRA_ACCESS_TOKEN_HEADER, token);
    apr_table_setn(r->subprocess_env, "ENTRA_ACCESS_TOKEN", token);
    if (expires) {
        apr_table_setn(r->headers_in, ENTRA_ACCESS_TOKEN_HEADER "-Expires", expires);
        apr_table_setn(r->subprocess_env, "ENTRA_ACCESS_TOKEN_EXPIRES", expires);
    }
}

/* EntraEasyAuthHeaders: what Azure App Service Authentication gives an app,
 * for apps moved off it. The tokens only with EntraPassAccessToken. */
static void publish_easyauth(request_rec *r, const entra_server_conf *sc,
                             const entra_session *session)
{
    static const char *const names[] = { "preferred_username", "upn", "unique_name", "email" };
    static const char *const ids[] = { "oid", "sub" };
    static const apr_array_header_t name_claims = {
        NULL, sizeof(const char *), 4, 4, (char *)names
    };
    static const apr_array_header_t id_claims = {
        NULL, sizeof(const char *), 2, 2, (char *)ids
    };
    const apr_array_header_t *claims = session->claims;
    const char *principal = entra_easyauth_principal(r->pool, claims);
    const char *name = entra_claims_pick(claims, &name_claims);
    const char *id = entra_claims_pick(claims, &id_claims);
    const char *token, *expires, *id_token;

    if (principal)
        apr_table_setn(r->headers_in, "X-MS-CLIENT-PRINCIPAL", principal);
    else
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00416)
                      "cannot build X-MS-CLIENT-PRINCIPAL (out of memory)");
    if (name)
        apr_table_setn(r->headers_in, "X-MS-CLIENT-PRINCIPAL-NAME", name);
    if (id)
        apr_table_setn(r->headers_in, "X-MS-CLIENT-PRINCIPAL-ID", id);
    apr_table_setn(r->headers_in, "X-MS-CLIENT-PRINCIPAL-IDP", "aad");
    if (!entra_conf_pass_access_token(sc))
        return;
    token = entra_pairs_get(claims, ENTRA_SESSION_ACCESS_TOKEN);
    expires = entra_pairs_get(claims, ENTRA_SESSION_ACCESS_EXPIRES);
    id_token = entra_pairs_get(claims, ENTRA_SESSION_ID_TOKEN);
    if (token)
        apr_table_setn(r->headers_in, "X-MS-TOKEN-AAD-ACCESS-TOKEN", token);
    if (token && expires)
        apr_table_setn(r->headers_in, "X-MS-TOKEN-AAD-EXPIRES-ON",
                       entra_easyauth_time(r->pool, apr_atoi64(expires)));
    if (id_token)
        apr_table_setn(r->headers_in, "X-MS-TOKEN-AAD-ID-TOKEN", id_token);
}

/* EntraSessionInactivityTimeout slides: the session is saved again once a
 * tenth of the timeout has passed, not on every request. */
static void touch_session(request_rec *r, const entra_server_conf *sc, entra_session *session)
{
    apr_int64_t inactivity = entra_conf_session_inactivity(sc);
    apr_int64_t now = apr_time_sec(r->request_time);
    apr_int64_t every = inactivity / 10;

    if (inactivity <= 0 || now - session->last_seen < every || r->main)
        return;
    session->last_seen = now;
    entra_store_save(r, sc, session);
}

/* REMOTE_USER and the claims, from a session or a bearer token. */
static int sign_in_request(request_rec *r, const entra_server_conf *sc,
                           entra_session *session, const char *auth_type, int bearer)
{
    const entra_dir_conf *dc = ap_get_module_config(r->per_dir_config, &auth_entra_module);
    static const char *const app_ids[] = { "oid", "sub" };
    static const apr_array_header_t app_id_claims = {
        NULL, sizeof(const char *), 2, 2, (char *)app_ids
    };
    const char *user = entra_claims_pick_user(r->pool, session->claims,
                                              entra_conf_remote_user_claims(dc));

    /* An app-only access token has no user name: name the caller by oid. */
    if (!user && bearer)
        user = entra_claims_pick(session->claims, &app_id_claims);
    if (!user) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00403)
                      "the %s has none of the EntraRemoteUserClaim claims for %s",
                      bearer ? "bearer token" : "session", r->uri);
        return HTTP_UNAUTHORIZED;
    }
    ap_set_module_config(r->request_config, &auth_entra_module, session);
    r->user = (char *)user;
    r->ap_auth_type = (char *)auth_type;
    entra_claims_publish(r->pool, session->claims, r->headers_in, r->subprocess_env);
    if (entra_conf_pass_access_token(sc))
        publish_access_token(r, session);
    if (entra_conf_easyauth_headers(sc))
        publish_easyauth(r, sc, session);
    return OK;
}

/* The signed-in fast path: one cookie lookup, one AEAD open, the headers.
 * Returns OK, or DECLINED when there is no usable session. */
static int use_session(request_rec *r, const entra_server_conf *sc)
{
    int unavailable, status;
    entra_session *session = request_session(r, sc, &unavailable);

    if (unavailable)
        return HTTP_SERVICE_UNAVAILABLE;
    if (!session)
        return DECLINED;
    /* EntraSessionRevalidate: a session Entra no longer honours ends. */
    if (entra_refresh_revalidate(r, sc, session) == ENTRA_REFRESH_REFUSED)
        return DECLINED;
    /* A passed access token must be valid when the backend uses it. */
    if (entra_conf_pass_access_token(sc)
        && entra_refresh(r, sc, session, 0) == ENTRA_REFRESH_REFUSED)
        return DECLINED;
    /* EntraMaxAuthAge: a sign-in too old for this location goes to Entra
     * again (the user is named only once it is fresh enough). */
    if ((status = entra_stepup_auth_age(r, sc, session, 0)) != OK)
        return status;
    touch_session(r, sc, session);
    return sign_in_request(r, sc, session, ENTRA_AUTH_TYPE, 0);
}

static int use_bearer(request_rec *r, const entra_server_conf *sc, const char *token)
{
    entra_session *session = NULL;
    int status = entra_bearer_check(r, sc, token, &session);

    /* A token must show a fresh sign-in too (auth_time): fail closed. */
    if (status == OK)
        status = entra_stepup_auth_age(r, sc, session, 1);
    return status == OK ? sign_in_request(r, sc, session, ENTRA_BEARER_AUTH_TYPE, 1) : status;
}

int entra_is_api_request(request_rec *r)
{
    const char *xrw = apr_table_get(r->headers_in, "X-Requested-With");
    const char *mode = apr_table_get(r->headers_in, "Sec-Fetch-Mode");
    const char *accept = apr_table_get(r->headers_in, "Accept");

    if (xrw && strcasecmp(xrw, "XMLHttpRequest") == 0)
        return 1;
    if (mode && strcasecmp(mode, "navigate") != 0)
        return 1;
    return accept && !ap_strcasestr(accept, "text/html")
           && !ap_strcasestr(accept, "application/xhtml+xml") && !strstr(accept, "*/*");
}

/* No usable session: sign in, refuse, or pass, as the location says. */
static int not_signed_in(request_rec *r, const entra_server_conf *sc)
{
    const entra_dir_conf *dc = ap_get_module_config(r->per_dir_config, &auth_entra_module);

    switch (entra_conf_unauth_action(dc)) {
    case ENTRA_UNAUTH_PASS:
        /* Where no Require needs a user, a caller without a session never
         * gets here (entra_force_authn). Here one does (valid-user,
         * entra-*): sign in, as with "auth"; r->user stays unset. */
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, ENTRALOG(00411)
                      "EntraUnauthAction pass, but a Require of %s needs a user: not "
                      "signed in", r->uri);
        break;
    case ENTRA_UNAUTH_401:
        return entra_bearer_challenge(r, NULL, NULL);
    case ENTRA_UNAUTH_403:
        return HTTP_FORBIDDEN;
    default:
        break;
    }
    if (r->method_number != M_GET || r->main || entra_is_api_request(r))
        return entra_bearer_challenge(r, NULL, NULL);
    return entra_login_redirect(r, sc);
}

int entra_check_user_id(request_rec *r)
{
    const char *type = ap_auth_type(r);
    const entra_dir_conf *dc = ap_get_module_config(r->per_dir_config, &auth_entra_module);
    entra_server_conf *sc = server_conf(r);
    int bearer_only, status;
    const char *token;

    if (!type || (strcasecmp(type, ENTRA_AUTH_TYPE) != 0
                  && strcasecmp(type, ENTRA_BEARER_AUTH_TYPE) != 0))
        return DECLINED;
    bearer_only = strcasecmp(type, ENTRA_BEARER_AUTH_TYPE) == 0;
    if (!entra_server_enabled(sc)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00404)
                      "AuthType Entra for %s but this virtual host has no EntraTenant/"
                      "EntraClientID configuration", r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    token = entra_bearer_token(r);
    if (token && (bearer_only || entra_conf_accept_bearer(dc)))
        return hide_own_cookies(r, use_bearer(r, sc, token));
    if (bearer_only)
        return entra_bearer_challenge(r, NULL, NULL);
    if ((status = use_session(r, sc)) != DECLINED)
        return hide_own_cookies(r, status);
    return hide_own_cookies(r, not_signed_in(r, sc));
}
