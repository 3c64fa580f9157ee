/* /.auth/logout (see logout.h). */
#include "logout.h"
#include "endpoints.h"
#include "ended.h"
#include "log.h"
#include "provider.h"
#include "respond.h"
#include "session.h"
#include "store.h"
#include "util.h"

#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <apr_strings.h>
#include <string.h>

APLOG_USE_MODULE(auth_entra);

/* Sec-Fetch-Site (every current browser) or else Origin/Referer tell
 * whether another site started this request. A GET with none of them
 * proves nothing: a link from a page with Referrer-Policy no-referrer, or
 * an old browser, looks just the same as a typed URL. It gets the
 * confirmation page, one click for the user. A POST carries Origin in
 * every browser that could forge it, so one without any header is no
 * cross-site form. */
static int is_cross_site(request_rec *r)
{
    const char *site = apr_table_get(r->headers_in, "Sec-Fetch-Site");
    const char *origin = apr_table_get(r->headers_in, "Origin");
    const char *referer = apr_table_get(r->headers_in, "Referer");
    const char *from = origin && strcmp(origin, "null") != 0 ? origin : referer;

    if (site)
        return strcasecmp(site, "same-origin") != 0 && strcasecmp(site, "none") != 0;
    if (origin && strcmp(origin, "null") == 0)
        return 1;
    if (!from)
        return r->method_number == M_GET;
    return !entra_safe_return_path(r->pool, apr_pstrcat(r->pool, from, "/", NULL),
                                   entra_origin(r));
}

static int confirm_page(request_rec *r, const char *target)
{
    const char *hidden = target
        ? apr_pstrcat(r->pool, "<input type=\"hidden\" name=\"post_logout_redirect_uri\" "
                      "value=\"", entra_html_escape(r->pool, target), "\">", NULL) : "";

    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Frame-Options", "DENY");
    apr_table_setn(r->headers_out, "Content-Security-Policy",
                   "default-src 'none'; form-action 'self'; frame-ancestors 'none'");
    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_rvputs(r, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Sign out"
                 "</title></head>\n<body><h1>Sign out?</h1>\n<form method=\"post\" action=\""
                 ENTRA_LOGOUT_PATH "\">", hidden,
              "<button type=\"submit\">Sign out</button></form>\n</body></html>\n", NULL);
    return OK;
}

/* Entra's end_session_endpoint, to end the Entra session as well. NULL
 * when that is off or impossible (then only the local session ends). */
static const char *entra_logout_url(request_rec *r, const entra_server_conf *sc,
                                    const entra_session *session, const char *back)
{
    const char *hint = session ? entra_pairs_get(session->claims, ENTRA_SESSION_ID_TOKEN) : NULL;
    const char *login_hint = session ? entra_pairs_get(session->claims, "login_hint") : NULL;
    entra_metadata meta;
    const char *why, *url;

    if (!entra_conf_logout_redirect(sc))
        return NULL;
    if ((why = entra_provider_metadata(sc->provider, r->pool, entra_conf_http_timeout(sc),
                                       &meta)) || !meta.end_session_endpoint) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00502)
                      "logout: ended the local session only: %s",
                      why ? why : "discovery has no end_session_endpoint");
        return NULL;
    }
    url = apr_pstrcat(r->pool, meta.end_session_endpoint,
                      strchr(meta.end_session_endpoint, '?') ? "&" : "?",
                      "post_logout_redirect_uri=",
                      entra_url_encode(r->pool, ap_construct_url(r->pool, back, r)), NULL);
    if (hint)
        url = apr_pstrcat(r->pool, url, "&id_token_hint=", hint, NULL);
    if (login_hint)
        url = apr_pstrcat(r->pool, url, "&logout_hint=", entra_url_encode(r->pool, login_hint),
                          NULL);
    return url;
}

/* Entra ends the session from a hidden frame: GET ?sid=..., where the
 * browser usually sends no cookie, and it wants a 200. The server-side
 * store finds the session by sid on every server. */
static int front_channel_logout(request_rec *r, const entra_server_conf *sc, const char *sid)
{
    entra_session *session = entra_store_load(r, sc);
    const char *own_sid = session ? entra_pairs_get(session->claims, "sid") : NULL;
    int ended = entra_store_end_sid(r, sc, sid);

    /* A cookie that did come along is ended too, when it is that session. */
    if (own_sid && strcmp(own_sid, sid) == 0) {
        entra_store_clear(r, sc, session);
        ended = 1;
    }
    else if (ended == ENTRA_STORE_RATE_LIMITED) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, ENTRALOG(00507)
                      "front-channel logout refused: more than %d a second of sids this "
                      "server never signed in (a loop of made-up sids?)", ENTRA_ENDED_RATE);
        apr_table_setn(r->err_headers_out, "Retry-After", "1");
        return HTTP_TOO_MANY_REQUESTS;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00505)
                  "front-channel logout: %s", ended ? "session ended" : "no such session");
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_rputs("<!DOCTYPE html>\n<html><head><title>Signed out</title></head><body></body></html>\n",
             r);
    return OK;
}

int entra_logout(request_rec *r, const entra_server_conf *sc)
{
    apr_table_t *params = entra_request_params(r);
    const char *target = params ? apr_table_get(params, "post_logout_redirect_uri") : NULL;
    const char *back = target ? entra_safe_return_path(r->pool, target, entra_origin(r)) : NULL;
    entra_session *session;
    const char *to_entra;

    if (r->method_number != M_GET && r->method_number != M_POST) {
        apr_table_setn(r->headers_out, "Allow", "GET, POST");
        return HTTP_METHOD_NOT_ALLOWED;
    }
    /* Entra's sids are GUIDs: anything else is no front-channel logout, and
     * cannot fill the ended-sessions cache with junk. */
    if (r->method_number == M_GET && params && entra_is_guid(apr_table_get(params, "sid"))
        && !apr_table_get(params, "post_logout_redirect_uri"))
        return front_channel_logout(r, sc, apr_table_get(params, "sid"));
    if (is_cross_site(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00503)
                      "logout started by another site: asking the user to confirm");
        return r->method_number == M_POST ? HTTP_FORBIDDEN : confirm_page(r, target);
    }
    if (target && !back)
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00501)
                      "logout: post_logout_redirect_uri \"%s\" is not on this site; using /",
                      entra_log_safe(r->pool, target));
    back = back ? back : "/";
    session = entra_store_load(r, sc);
    to_entra = entra_logout_url(r, sc, session, back);
    entra_store_clear(r, sc, session);
    return entra_redirect(r, to_entra ? to_entra : back);
}
