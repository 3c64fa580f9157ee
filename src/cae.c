/* Claims challenges from the app (see cae.h). */
#include "cae.h"
#include "authn.h"
#include "challenge.h"
#include "config.h"
#include "log.h"
#include "session.h"
#include "stepup.h"
#include "util.h"

#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>
#include <apr_strings.h>
#include <string.h>
#include <strings.h>

APLOG_USE_MODULE(auth_entra);
extern module AP_MODULE_DECLARE_DATA auth_entra_module;

static ap_filter_rec_t *cae_filter;

/* The page that goes with the redirect (or with a failure to start one). */
static apr_status_t answer(ap_filter_t *f, int status)
{
    request_rec *r = f->r;
    const char *title = status == HTTP_MOVED_TEMPORARILY ? "Sign-in required"
                        : status == HTTP_FORBIDDEN ? "Access denied" : "Sign-in is unavailable";
    const char *text = status == HTTP_MOVED_TEMPORARILY
                       ? "This page needs you to sign in again."
                       : status == HTTP_FORBIDDEN
                       ? "This page needs a sign-in that cannot be made here."
                       : "The identity provider could not be reached. Please try again in a "
                         "moment.";
    const char *page = apr_pstrcat(r->pool, "<!DOCTYPE html>\n<html><head><title>", title,
                                   "</title></head><body><h1>", title, "</h1><p>", text,
                                   "</p></body></html>\n", NULL);
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, f->c->bucket_alloc);

    r->status = status;
    r->status_line = NULL;
    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_set_content_length(r, (apr_off_t)strlen(page));
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_immortal_create(page, strlen(page), f->c->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(f->c->bucket_alloc));
    return ap_pass_brigade(f->next, bb);
}

static apr_status_t pass_on(ap_filter_t *f, apr_bucket_brigade *bb)
{
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

/* The app's response: passed on as it is, unless it is a claims challenge
 * a browser can follow. Decided once, on its first brigade (the status and
 * headers are final by then); once replaced, the rest of the app's body
 * is dropped. */
static apr_status_t cae_out(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    const entra_server_conf *sc = ap_get_module_config(r->server->module_config,
                                                       &auth_entra_module);
    const entra_session *s = ap_get_module_config(r->request_config, &auth_entra_module);
    const char *claims, *why;
    int status;

    if (f->ctx) {
        apr_brigade_cleanup(bb);
        return APR_SUCCESS;
    }
    if (r->status != HTTP_UNAUTHORIZED || !s || s->from_bearer)
        return pass_on(f, bb);
    claims = entra_challenge_parse(r->pool, r->headers_out, &why);
    if (!claims) {
        if (why)
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, ENTRALOG(00241)
                          "the app's 401 for %s carries a claims challenge that is not usable "
                          "(%s): passed on as it is", entra_log_safe(r->pool, r->uri), why);
        return pass_on(f, bb);
    }
    if (r->method_number != M_GET || r->header_only || entra_is_api_request(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00244)
                      "the app answered %s (user %s) with a claims challenge: passed on to the "
                      "caller (not a browser's navigation)", entra_log_safe(r->pool, r->uri),
                      r->user ? r->user : "?");
        return pass_on(f, bb);
    }
    /* The app's headers go (its WWW-Authenticate, its Set-Cookie, its
     * Content-*): the redirect and the state cookie are the module's. */
    {
        apr_table_t *kept = r->headers_out;
        r->headers_out = apr_table_make(r->pool, 4);
        status = entra_stepup_claims_challenge(r, sc, s, claims);
        if (status == DECLINED) {
            r->headers_out = kept;
            return pass_on(f, bb);
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00240)
                  "the app answered %s (user %s) with a claims challenge: %s",
                  entra_log_safe(r->pool, r->uri), r->user ? r->user : "?",
                  status == HTTP_MOVED_TEMPORARILY ? "the browser signs in with those claims"
                                                   : "no sign-in could be started");
    /* from now on, whatever else the app sends is dropped */
    f->ctx = (void *)1;
    apr_brigade_cleanup(bb);
    return answer(f, status);
}

/* On the requests a session signed in at AuthType Entra, with
 * EntraPassAccessToken (the app has a token that can be challenged). */
static void cae_insert(request_rec *r)
{
    const entra_server_conf *sc = ap_get_module_config(r->server->module_config,
                                                       &auth_entra_module);
    const entra_session *s;

    if (r->main || !entra_server_enabled(sc) || !entra_conf_pass_access_token(sc)
        || !r->ap_auth_type || strcasecmp(r->ap_auth_type, ENTRA_AUTH_TYPE) != 0)
        return;
    s = ap_get_module_config(r->request_config, &auth_entra_module);
    if (s && !s->from_bearer)
        ap_add_output_filter_handle(cae_filter, NULL, r, r->connection);
}

void entra_cae_register(apr_pool_t *p)
{
    (void)p;
    cae_filter = ap_register_output_filter(ENTRA_CAE_FILTER, cae_out, NULL, AP_FTYPE_RESOURCE);
    ap_hook_insert_filter(cae_insert, NULL, NULL, APR_HOOK_MIDDLE);
}
