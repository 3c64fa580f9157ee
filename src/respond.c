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

/* A form_post callback or a logout form: a few short fields. */
#define FORM_BODY_MAX (64 * 1024)

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
        return DONE;
    ap_rprintf(r, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title>"
                  "</head>\n<body><h1>%s</h1>\n<p>%s</p>\n</body></html>\n",
               t, t, entra_html_escape(r->pool, message));
    return DONE;
}

int entra_redirect(request_rec *r, const char *location)
{
    no_store(r);
    apr_table_setn(r->headers_out, "Location", location);
    return HTTP_MOVED_TEMPORARILY;
}

int entra_redirect_see_other(request_rec *r, const char *location)
{
    entra_redirect(r, location);
    return HTTP_SEE_OTHER;
}

static void cookie_set(request_rec *r, const entra_server_conf *sc, const char *name,
                       const char *value, const char *path, int max_age, const char *same_site)
{
    /* Browsers drop a SameSite=None cookie that is not Secure. */
    int secure = entra_conf_cookie_secure(sc) || strcmp(same_site, "None") == 0;
    const char *cookie = apr_pstrcat(r->pool, name, "=", value, "; Path=", path,
                                     "; HttpOnly; SameSite=", same_site,
                                     secure ? "; Secure" : "",
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

/* The request body, at most `max` bytes; NULL when longer or unreadable. */
static char *read_body(request_rec *r, apr_size_t max)
{
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    char *buf = apr_palloc(r->pool, max + 1);
    apr_size_t total = 0;
    int done = 0;

    while (!done) {
        apr_bucket *b;
        if (ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES, APR_BLOCK_READ,
                           HUGE_STRING_LEN) != APR_SUCCESS)
            return NULL;
        for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b)) {
            const char *data;
            apr_size_t n;
            if (APR_BUCKET_IS_EOS(b)) {
                done = 1;
                break;
            }
            if (apr_bucket_read(b, &data, &n, APR_BLOCK_READ) != APR_SUCCESS
                || total + n > max)
                return NULL;
            memcpy(buf + total, data, n);
            total += n;
        }
        apr_brigade_cleanup(bb);
    }
    buf[total] = '\0';
    return buf;
}

apr_table_t *entra_request_params(request_rec *r)
{
    const char *type = apr_table_get(r->headers_in, "Content-Type");
    char *body;

    if (r->method_number == M_GET)
        return entra_form_parse(r->pool, r->args);
    if (!type || strncasecmp(type, "application/x-www-form-urlencoded", 33) != 0)
        return NULL;
    body = read_body(r, FORM_BODY_MAX);
    return body ? entra_form_parse(r->pool, body) : NULL;
}
