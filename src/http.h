/* The module's HTTP client to Entra (libcurl): bounded time, bounded size,
 * http(s) only, no redirects followed. */
#ifndef ENTRA_HTTP_H
#define ENTRA_HTTP_H

#include <apr_pools.h>
#include "metrics.h"

/* Entra's largest answers (JWKS, discovery) are a few kilobytes. */
#define ENTRA_HTTP_MAX_BODY (1024 * 1024)

typedef struct {
    long status;
    const char *body;         /* NUL-terminated */
    apr_size_t len;
} entra_http_response;

typedef struct {
    int timeout;              /* seconds, whole exchange */
    const char *bearer;       /* Authorization: Bearer, or NULL */
    const char *basic_user;   /* HTTP Basic (client_secret_basic), or NULL */
    const char *basic_pass;
    entra_endpoint endpoint;  /* what is called, for the metrics */
    const char *header;       /* one more request header ("Name: value"), or NULL */
    int no_proxy;             /* never through http_proxy & co. (the metadata
                               * endpoint: it refuses proxied requests, and its
                               * App Service header is a secret) */
} entra_http_opts;

void entra_http_global_init(void);

/* GET (form_body NULL) or POST application/x-www-form-urlencoded. Returns
 * NULL with *resp filled whatever the HTTP status, or a log-safe reason when
 * no answer came (connect, timeout, size). */
const char *entra_http_call(apr_pool_t *p, const char *url, const char *form_body,
                            const entra_http_opts *opts, entra_http_response *resp);

/* The same with a JSON body (POST) instead of a form, or GET when NULL. */
const char *entra_http_call_json(apr_pool_t *p, const char *url, const char *json_body,
                                 const entra_http_opts *opts, entra_http_response *resp);

#endif
