/* The sign-in callback as the module runs it: entra_callback (src/login.c)
 * on a GET whose query and Cookie headers are the fuzzer's, with
 * src/attempts.c for the state cookies and the core library (state.c,
 * util.c, provider.c) as they are; what they call in httpd and in the
 * module's response code is stubbed below (pages and Set-Cookie recorded,
 * log lines formatted). Entra is not reachable (fuzz/http_stub.c answers
 * nothing), so a callback whose state passes ends at the error page, the
 * "no code" page or the "unavailable" page: the steps before the code is
 * redeemed are what is fuzzed. Input: the query on the first line, Cookie
 * headers on the following ones. The seeds are real callbacks: a sealed
 * state cookie and the query that belongs to it. A query without a state
 * takes the parameters of a form_post step-up's hand-over cookie, as the
 * module does (none when it does not open).
 * Oracles: the state is accepted exactly when the cookie its parameter
 * names opens (state.c) for that parameter, unexpired; a hand-over cookie
 * so used is deleted (single use); an accepted state's
 * cookie is deleted (single use); Entra's error= is shown only after an
 * accepted state (a made-up callback gets a 400), as a 401 with the first
 * line of Entra's description; every log line is printable; the callback never
 * redirects without a code redeemed. */
#include "fuzz_common.h"
#include "http_stub.h"
#include "../src/attempts.h"
#include "../src/authn.h"
#include "../src/config.h"
#include "../src/login.h"
#include "../src/metrics.h"
#include "../src/provider.h"
#include "../src/respond.h"
#include "../src/socache.h"
#include "../src/state.h"
#include "../src/stepup.h"
#include "../src/store.h"
#include "../src/util.h"

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <apr_strings.h>
#include <stdarg.h>
#include <string.h>

/* ---- what login.c and attempts.c call outside the core library ---- */


static struct {
    int status, pages, redirects;
    const char *title, *message;
} seen;

static void check_printable(const char *what, const char *s)
{
    const unsigned char *c;

    for (c = (const unsigned char *)s; *c; c++)
        FUZZ_CHECK(*c >= 0x20 && *c < 0x7f, "%s with byte 0x%02x: %s", what, *c, s);
}

void ap_log_rerror_(const char *file, int line, int module_index, int level,
                    apr_status_t status, const request_rec *r, const char *fmt, ...)
{
    char text[8192];
    va_list ap;
    (void)file; (void)line; (void)module_index; (void)level; (void)status; (void)r;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    check_printable("a log line", text);
}

char *ap_construct_url(apr_pool_t *p, const char *uri, request_rec *r)
{
    (void)r;
    return apr_pstrcat(p, "https://app.example.com", uri, NULL);
}

/* httpd's, for src/stepup.c's challenge headers: quotes escaped */
char *ap_escape_quotes(apr_pool_t *p, const char *instring)
{
    char *out = apr_palloc(p, 2 * strlen(instring) + 1), *o = out;

    for (; *instring; instring++) {
        if (*instring == '"' || *instring == '\\')
            *o++ = '\\';
        *o++ = *instring;
    }
    *o = '\0';
    return out;
}

const char *ap_get_server_name(request_rec *r)
{
    (void)r;
    return "localhost";
}

void ap_custom_response(request_rec *r, int status, const char *string)
{
    (void)r; (void)status; (void)string;
}

int entra_page(request_rec *r, int status, const char *title, const char *message)
{
    (void)r;
    seen.pages++;
    seen.status = status;
    seen.title = title;
    seen.message = message;
    return status;
}

int entra_redirect(request_rec *r, const char *location)
{
    (void)r; (void)location;
    seen.redirects++;
    return HTTP_MOVED_TEMPORARILY;
}

/* the POST leg of a form_post step-up's hand-over: never for a GET */
int entra_redirect_see_other(request_rec *r, const char *location)
{
    (void)r; (void)location;
    seen.redirects++;
    return HTTP_SEE_OTHER;
}

void entra_cookie_set(request_rec *r, const entra_server_conf *sc, const char *name,
                      const char *value, const char *path, int max_age)
{
    (void)sc; (void)path;
    apr_table_addn(r->err_headers_out, "Set-Cookie",
                   apr_psprintf(r->pool, "%s=%s; Max-Age=%d", name, value, max_age));
}

void entra_cookie_set_cross_site(request_rec *r, const entra_server_conf *sc, const char *name,
                                 const char *value, const char *path, int max_age)
{
    entra_cookie_set(r, sc, name, value, path, max_age);
}

const char *entra_redirect_uri_abs(request_rec *r, const entra_server_conf *sc)
{
    (void)r; (void)sc;
    return "https://app.example.com/.auth/login/aad/callback";
}

const char *entra_redirect_uri_path(const entra_server_conf *sc)
{
    (void)sc;
    return "/.auth/login/aad/callback";
}

/* respond.c's for a GET: the query */
apr_table_t *entra_request_params(request_rec *r)
{
    return entra_form_parse(r->pool, r->args);
}

/* authn.c's: the callback is never a signed-in request, whose own cookies
 * authn.c took out */
const apr_table_t *entra_cookies_sent(request_rec *r)
{
    return r->headers_in;
}

/* authn.c's: a browser's callback (a step-up at the callback answers as
 * to a browser) */
int entra_is_api_request(request_rec *r)
{
    (void)r;
    return 0;
}

/* No socache store (the cookie store): never reached. */
apr_status_t entra_socache_get(entra_socache *c, request_rec *r, const char *key,
                               const char **value)
{
    (void)c; (void)r; (void)key; (void)value;
    FUZZ_CHECK(0, "the socache asked with the cookie store");
    return APR_EGENERAL;
}

apr_status_t entra_socache_get_fresh(entra_socache *c, request_rec *r, const char *key,
                                     const char **value)
{
    return entra_socache_get(c, r, key, value);
}

apr_status_t entra_socache_put(entra_socache *c, request_rec *r, const char *key,
                               const char *value, apr_int64_t expires)
{
    (void)c; (void)r; (void)key; (void)value; (void)expires;
    FUZZ_CHECK(0, "the socache written with the cookie store");
    return APR_EGENERAL;
}

/* A step-up's callback looks for the browser's session: there is none. */
entra_session *entra_store_load_ex(request_rec *r, const entra_server_conf *sc, int *unavailable)
{
    (void)r; (void)sc;
    *unavailable = 0;
    return NULL;
}

/* A session is only made once a code is redeemed: never here. */
int entra_store_save(request_rec *r, const entra_server_conf *sc, entra_session *s)
{
    (void)r; (void)sc; (void)s;
    FUZZ_CHECK(0, "a session saved without a code redeemed");
    return 0;
}

int entra_store_cookie_fits(request_rec *r, const entra_server_conf *sc, const entra_session *s)
{
    (void)r; (void)sc; (void)s;
    FUZZ_CHECK(0, "a session sized without a code redeemed");
    return 0;
}

void entra_store_clear(request_rec *r, const entra_server_conf *sc, const entra_session *s)
{
    (void)r; (void)sc; (void)s;
}

void entra_issued_add(request_rec *r, const char *app_tag, const char *sid, apr_int64_t expires)
{
    (void)r; (void)app_tag; (void)sid; (void)expires;
    FUZZ_CHECK(0, "a session issued without a code redeemed");
}

/* src/metrics_handler.c's (it needs httpd's shared memory): counted in
 * this process, once a request, as there. */
void entra_metrics_signin(request_rec *r, entra_metric result)
{
    if (apr_table_get(r->notes, "entra-signin-counted"))
        return;
    apr_table_setn(r->notes, "entra-signin-counted", "1");
    entra_metric_inc(result);
}

/* ---- the app ---- */

static entra_server_conf *sc;
static server_rec server;
static struct ap_logconf logconf;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_pool_t *p;

    (void)argc;
    (void)argv;
    fuzz_init();
    p = fuzz_root();
    sc = entra_create_server_conf(p, NULL);
    sc->client_id = FUZZ_CLIENT_ID;
    sc->tenant = FUZZ_TENANT;
    sc->session_keys = sc->app_keys = fuzz_ring();
    sc->app_tag = "fuzzapp0";
    sc->session_cookie = "entra_session";
    sc->state_cookie_prefix = ENTRA_STATE_COOKIE_PREFIX;
    sc->clock_skew = sc->http_timeout = -1;
    sc->provider = entra_provider_create(p, FUZZ_AUTHORITY "/" FUZZ_TENANT
                                         "/v2.0/.well-known/openid-configuration", NULL, NULL);
    logconf.level = APLOG_TRACE8;
    server.log = logconf;
    return 0;
}

/* Whether the state the callback names should pass: its cookie (the
 * first of that name) opens for it, unexpired. */
static int state_should_pass(apr_pool_t *p, apr_table_t *headers, const char *param)
{
    const char *cookie, *why;
    entra_state *st;

    if (!entra_state_param_ok(param))
        return 0;
    cookie = entra_cookie_get(p, headers, apr_pstrcat(p, ENTRA_STATE_COOKIE_PREFIX, param, NULL));
    if (!cookie)
        return 0;
    st = entra_state_open(p, fuzz_ring(), cookie, param, FUZZ_NOW, &why);
    FUZZ_CHECK(!st || (strcmp(st->state, param) == 0 && st->expires >= FUZZ_NOW),
               "state.c opened a state for another parameter, or expired");
    return st != NULL;
}

#define HANDOVER_COOKIE ENTRA_STATE_COOKIE_PREFIX "handover."

/* The parameters the callback goes by: the query's, or with no state but
 * a hand-over's name in it those of that attempt's hand-over cookie (an
 * empty table when it is missing, does not open or is another attempt's). */
static apr_table_t *callback_params(apr_pool_t *p, apr_table_t *headers, apr_table_t *query)
{
    const char *id, *cookie, *why, *handed_state;
    apr_table_t *handed;

    if (!query || apr_table_get(query, "state") || !(id = apr_table_get(query, "entra_handover")))
        return query;
    if (!entra_state_param_ok(id)
        || !(cookie = entra_cookie_get(p, headers, apr_pstrcat(p, HANDOVER_COOKIE, id, NULL))))
        return apr_table_make(p, 1);
    handed = entra_handover_open(p, fuzz_ring(), cookie, FUZZ_NOW, &why);
    handed_state = handed ? apr_table_get(handed, "state") : NULL;
    return handed_state && strcmp(handed_state, id) == 0 ? handed : apr_table_make(p, 1);
}

/* Whether the response deletes the cookie `name` + `param` */
static int cookie_deleted(request_rec *r, const char *name, const char *param)
{
    const char *want = apr_pstrcat(r->pool, name, param, "=; Max-Age=0", NULL);
    const apr_array_header_t *h = apr_table_elts(r->err_headers_out);
    const apr_table_entry_t *e = (const apr_table_entry_t *)h->elts;
    int i;

    for (i = 0; i < h->nelts; i++)
        if (strcasecmp(e[i].key, "Set-Cookie") == 0 && strcmp(e[i].val, want) == 0)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    char *query = fuzz_take_line(p, &data, &size);
    request_rec *r = apr_pcalloc(p, sizeof(*r));
    apr_table_t *params;
    const char *state, *handover;
    int status, should_pass, passed, handed;

    memset(&seen, 0, sizeof(seen));
    fuzz_http_reset();
    r->pool = p;
    r->server = &server;
    r->log = &logconf;
    r->method = "GET";
    r->method_number = M_GET;
    r->args = query;
    r->uri = "/.auth/login/aad/callback";
    r->headers_in = apr_table_make(p, 4);
    r->headers_out = apr_table_make(p, 4);
    r->err_headers_out = apr_table_make(p, 4);
    r->subprocess_env = apr_table_make(p, 4);
    r->notes = apr_table_make(p, 4);
    r->request_time = apr_time_from_sec(FUZZ_NOW);
    while (size) {
        char *line = fuzz_take_line(p, &data, &size);
        apr_table_add(r->headers_in, "Cookie", line);
    }
    params = entra_form_parse(p, query);
    handover = params && !apr_table_get(params, "state")
               ? apr_table_get(params, "entra_handover") : NULL;
    handed = handover && entra_state_param_ok(handover)
             && entra_cookie_get(p, r->headers_in, apr_pstrcat(p, HANDOVER_COOKIE, handover, NULL));
    params = callback_params(p, r->headers_in, params);
    state = params ? apr_table_get(params, "state") : NULL;
    should_pass = params && state_should_pass(p, r->headers_in, state);

    status = entra_callback(r, sc);

    FUZZ_CHECK(seen.pages == 1 && seen.status == status, "%d pages, status %d", seen.pages, status);
    FUZZ_CHECK(seen.redirects == 0, "a redirect without a code redeemed");
    passed = params && !(status == HTTP_BAD_REQUEST && seen.message
                         && strstr(seen.message, "unknown, expired or already used"));
    if (!params)
        FUZZ_CHECK(status == HTTP_BAD_REQUEST, "a malformed query answered %d", status);
    else
        FUZZ_CHECK(passed == should_pass, "state %s %s", state ? state : "(none)",
                   should_pass ? "refused" : "accepted");
    FUZZ_SAY("fuzz_callback: %d %s", status, passed ? "state accepted" : "state refused");
    if (handed)
        FUZZ_CHECK(cookie_deleted(r, HANDOVER_COOKIE, handover),
                   "a hand-over cookie taken but not deleted");
    if (passed) {
        FUZZ_CHECK(cookie_deleted(r, ENTRA_STATE_COOKIE_PREFIX, state),
                   "an accepted state's cookie not deleted");
        if (apr_table_get(params, "error")) {
            FUZZ_CHECK(status == HTTP_UNAUTHORIZED, "Entra's error answered %d", status);
            const char *desc = apr_table_get(params, "error_description");
            /* the description's first line (the rest: trace ids, timestamps) */
            FUZZ_CHECK(!desc || !*desc || strchr("\r\n", *desc) || !strpbrk(seen.message, "\r\n"),
                       "more than one line of Entra's description shown");
        }
        else
            FUZZ_CHECK(status == HTTP_BAD_REQUEST || status >= 500,
                       "a callback without Entra answered %d", status);
    }
    else if (params && apr_table_get(params, "error"))
        FUZZ_CHECK(status == HTTP_BAD_REQUEST, "a made-up callback's error shown (%d)", status);
    fuzz_end(p);
    return 0;
}
