/* Pages, redirects and cookies the module answers with (see respond.h). */
#include "respond.h"
#include "log.h"
#include "util.h"

#include <http_core.h>
#include <http_protocol.h>
#include <http_log.h>
#include <apr_strings.h>
#include <string.h>

APLOG_USE_MODULE(auth_entra);

#define LOG_TEXT_MAX 200

static void no_store(request_rec *r)
{
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->err_headers_out, "Pragma", "no-cache");
}

int entra_page(request_rec *r, int status, const char *title, const char *message)
{
    const char *t = entra_html_escape(r->pool, title);

    no_store(r);
    r->status = status;
    ap_set_content_type(r, "text/html; charset=utf-8");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    apr_table_setn(r->headers_out, "Content-Security-Policy", "default-src 'none'");
    if (r->header_only)
        return OK;
    ap_rprintf(r, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title>"
                  "</head>\n<body><h1>%s</h1>\n<p>%s</p>\n</body></html>\n",
               t, t, entra_html_escape(r->pool, message));
    return OK;
}

int entra_redirect(request_rec *r, const char *location)
{
    no_store(r);
    apr_table_setn(r->headers_out, "Location", location);
    return HTTP_MOVED_TEMPORARILY;
}

static void cookie_set(request_rec *r, const entra_server_conf *sc, const char *name,
                       const char *value, const char *path, int max_age, const char *same_site)
{
    const char *cookie = apr_pstrcat(r->pool, name, "=", value, "; Path=", path,
                                     "; HttpOnly; SameSite=", same_site,
                                     entra_conf_cookie_secure(sc) ? "; Secure" : "",
                                     max_age >= 0 ? apr_psprintf(r->pool, "; Max-Age=%d",
                                                                 max_age) : "",
                                     NULL);

    apr_table_addn(r->err_headers_out, "Set-Cookie", cookie);
}

void entra_cookie_set(request_rec *r, const entra_server_conf *sc, const char *name,
                      const char *value, const char *path, int max_age)
{
    cookie_set(r, sc, name, value, path, max_age, "Lax");
}

void entra_cookie_set_cross_site(request_rec *r, const entra_server_conf *sc, const char *name,
                                 const char *value, const char *path, int max_age)
{
    cookie_set(r, sc, name, value, path, max_age, "None");
}

const char *entra_origin(request_rec *r)
{
    return ap_construct_url(r->pool, "", r);
}

const char *entra_redirect_uri_abs(request_rec *r, const entra_server_conf *sc)
{
    const char *uri = entra_conf_redirect_uri(sc);

    return *uri == '/' ? ap_construct_url(r->pool, uri, r) : uri;
}

const char *entra_redirect_uri_path(const entra_server_conf *sc)
{
    const char *uri = entra_conf_redirect_uri(sc);

    return *uri == '/' ? uri : strchr(strstr(uri, "://") + 3, '/');
}

const char *entra_log_safe(apr_pool_t *p, const char *s)
{
    char *out;
    apr_size_t i, n;

    if (!s)
        return "-";
    n = strlen(s);
    out = apr_pstrmemdup(p, s, n > LOG_TEXT_MAX ? LOG_TEXT_MAX : n);
    for (i = 0; out[i]; i++) {
        if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7f)
            out[i] = '?';
    }
    return out;
}
