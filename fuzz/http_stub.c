/* See http_stub.h: entra_http_call / entra_http_call_json / entra_http_global_init
 * for the fuzz executables, answering from the routes a target set. */
#include "http_stub.h"
#include "../src/http.h"

#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROUTES 8

typedef struct {
    const char *url;
    long status;
    const char *body;
    size_t len;
} route;

static route routes[MAX_ROUTES];
static int n_routes, calls;
static const char *last_url, *last_form;

void fuzz_http_reset(void)
{
    n_routes = calls = 0;
    last_url = last_form = NULL;
}

void fuzz_http_route(const char *url, long status, const char *body, size_t len)
{
    if (n_routes == MAX_ROUTES)
        abort();
    routes[n_routes].url = url;
    routes[n_routes].status = status;
    routes[n_routes].body = body;
    routes[n_routes].len = len;
    n_routes++;
}

int fuzz_http_calls(void)
{
    return calls;
}

const char *fuzz_http_last_url(void)
{
    return last_url;
}

const char *fuzz_http_last_form(void)
{
    return last_form;
}

void entra_http_global_init(void)
{
}

static const char *answer(apr_pool_t *p, const char *url, const char *body,
                          entra_http_response *resp)
{
    const route *any = NULL;
    int i;

    calls++;
    last_url = apr_pstrdup(p, url);
    last_form = body ? apr_pstrdup(p, body) : NULL;
    for (i = 0; i < n_routes; i++) {
        if (routes[i].url && url && strcmp(routes[i].url, url) == 0)
            break;
        if (!routes[i].url && !any)
            any = &routes[i];
    }
    if (i == n_routes && !any)
        return "Could not connect to server (fuzz: no route)";
    if (i < n_routes)
        any = &routes[i];
    /* as src/http.c: a NUL-terminated copy, refused when too large */
    if (any->len > ENTRA_HTTP_MAX_BODY)
        return "answer too large";
    resp->status = any->status;
    resp->len = any->len;
    resp->body = apr_pstrmemdup(p, any->body, any->len);
    return NULL;
}

const char *entra_http_call(apr_pool_t *p, const char *url, const char *form_body,
                            const entra_http_opts *opts, entra_http_response *resp)
{
    (void)opts;
    return answer(p, url, form_body, resp);
}

const char *entra_http_call_json(apr_pool_t *p, const char *url, const char *json_body,
                                 const entra_http_opts *opts, entra_http_response *resp)
{
    (void)opts;
    return answer(p, url, json_body, resp);
}
