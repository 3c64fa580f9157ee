/* Managed identity tokens for the client assertion (see managed_identity.h).
 *
 * The table lives in shared memory made at start-up; its mutex is held only
 * to read or write a slot, never across the call to the identity endpoint.
 * A slot whose fetch is under way (`fetching_until`) is not fetched again
 * by another thread or process: they use the token still valid, or wait a
 * little for the flight to land. The token is a bearer credential: it never
 * reaches a log line, and the table is reachable by the server's own
 * processes only (anonymous shared memory). */
#include "managed_identity.h"
#include "http.h"
#include "jwt.h"
#include "token.h"
#include "util.h"

#include <apr_strings.h>
#include <apr_time.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 8
#define KEY_MAX 1024
#define TOKEN_MAX 12288
#define ERROR_MAX 1024
/* A request with no token to use waits at most this much longer than the
 * flight's own timeout for another request's fetch. */
#define WAIT_EXTRA 1
#define POLL_USEC 50000

typedef struct {
    char key[KEY_MAX];              /* the request URL (identity, resource, endpoint) */
    apr_int64_t expires_on;         /* of `token`; 0: none */
    apr_int64_t renew_at;
    apr_int64_t fetching_until;     /* a fetch is under way until at most then */
    apr_int64_t backoff_until;      /* the last fetch failed: `error` is the answer */
    int unavailable;                /* `error` is the endpoint's fault */
    char error[ERROR_MAX];
    char token[TOKEN_MAX];
} mi_slot;

static mi_slot *table;
static apr_global_mutex_t *table_mutex;

apr_size_t entra_mi_block_size(void)
{
    return SLOTS * sizeof(mi_slot);
}

void entra_mi_attach(void *base, apr_global_mutex_t *mutex)
{
    table = base;
    table_mutex = mutex;
}

const char *entra_mi_audience(const entra_server_conf *sc)
{
    const char *authority = entra_conf_authority(sc);

    if (strstr(authority, ".microsoftonline.us"))
        return "api://AzureADTokenExchangeUSGov";
    if (strstr(authority, ".microsoftonline.cn") || strstr(authority, ".chinacloudapi.cn"))
        return "api://AzureADTokenExchangeChina";
    return "api://AzureADTokenExchange";
}

const char *entra_mi_request(apr_pool_t *p, const entra_server_conf *sc, const char **url,
                             const char **header)
{
    const char *endpoint = sc->mi_endpoint, *secret;
    int appservice = sc->mi_appservice == 1;

    if (!endpoint && getenv("IDENTITY_ENDPOINT") && getenv("IDENTITY_HEADER")) {
        endpoint = getenv("IDENTITY_ENDPOINT");
        appservice = 1;
    }
    if (!endpoint)
        endpoint = ENTRA_MI_DEFAULT_ENDPOINT;
    if (appservice) {
        if (!(secret = getenv("IDENTITY_HEADER")) || !*secret || strpbrk(secret, "\r\n"))
            return "App Service's identity endpoint needs $IDENTITY_HEADER in the server's "
                   "environment (turn on the app's identity; pass the variable to Apache)";
        *header = apr_pstrcat(p, "X-IDENTITY-HEADER: ", secret, NULL);
    }
    else
        *header = "Metadata: true";
    *url = apr_pstrcat(p, endpoint, "?api-version=",
                       appservice ? ENTRA_MI_APPSERVICE_VERSION : ENTRA_MI_IMDS_VERSION,
                       "&resource=", entra_url_encode(p, entra_mi_audience(sc)),
                       "&client_id=", entra_url_encode(p, sc->managed_identity), NULL);
    return NULL;
}

static apr_int64_t now_sec(void)
{
    return apr_time_sec(entra_now());
}

static apr_int64_t json_epoch(json_t *v)
{
    if (json_is_integer(v))
        return (apr_int64_t)json_integer_value(v);
    if (json_is_string(v))
        return entra_parse_int(json_string_value(v));
    return 0;
}

/* Asks the endpoint. NULL with the token and its expiry, or why not. */
static const char *fetch(apr_pool_t *p, const entra_server_conf *sc, int timeout,
                         const char *url, const char *header, const char **token,
                         apr_int64_t *expires_on)
{
    entra_http_opts opts = { timeout, NULL, NULL, NULL, ENTRA_EP_OTHER, header, 1 };
    entra_http_response resp;
    const char *why = entra_http_call(p, url, NULL, &opts, &resp), *at, *shown;
    json_t *body;
    apr_int64_t now = now_sec(), in;

    shown = apr_pstrcat(p, "managed identity endpoint ",
                        entra_log_safe(p, apr_pstrndup(p, url, strcspn(url, "?"))), NULL);
    if (why)
        return apr_pstrcat(p, shown, ": ", why, NULL);
    body = entra_json_pool_own(p, json_loadb(resp.body, resp.len, 0, NULL));
    if (resp.status != 200)
        return apr_psprintf(p, "%s answered HTTP %ld%s%s%s", shown, resp.status,
                            json_object_get(body, "error") ? ": " : "",
                            json_object_get(body, "error") ? entra_token_error_text(p, body) : "",
                            resp.status == 400 || resp.status == 404
                                ? apr_psprintf(p, " (is the user-assigned identity %s "
                                               "assigned to this VM or app? az vm identity "
                                               "assign / az webapp identity assign)",
                                               sc->managed_identity) : "");
    at = json_string_value(json_object_get(body, "access_token"));
    if (!at || !*at || strlen(at) >= TOKEN_MAX || strpbrk(at, " \t\r\n\"&"))
        return apr_pstrcat(p, shown, " answered without a usable access_token", NULL);
    *expires_on = json_epoch(json_object_get(body, "expires_on"));
    if (*expires_on <= now) {
        in = json_epoch(json_object_get(body, "expires_in"));
        *expires_on = in > 0 ? now + in : 0;
    }
    if (*expires_on <= now)
        return apr_pstrcat(p, shown, " answered a token without a future expires_on", NULL);
    *token = at;
    return NULL;
}

static apr_int64_t renew_time(apr_int64_t now, apr_int64_t expires_on)
{
    apr_int64_t life = expires_on - now;

    return expires_on - (life > 2 * ENTRA_MI_RENEW_BEFORE ? ENTRA_MI_RENEW_BEFORE : life / 2);
}

/* Under the mutex: the slot for `key`, or a new one (free, else the one
 * expiring first). */
static mi_slot *find_slot(const char *key)
{
    mi_slot *best = &table[0];
    int i;

    for (i = 0; i < SLOTS; i++) {
        if (strcmp(table[i].key, key) == 0)
            return &table[i];
    }
    for (i = 0; i < SLOTS; i++) {
        if (!table[i].key[0]) {
            best = &table[i];
            break;
        }
        if (table[i].expires_on < best->expires_on)
            best = &table[i];
    }
    memset(best, 0, sizeof(*best));
    apr_cpystrn(best->key, key, sizeof(best->key));
    return best;
}

typedef enum { GOT_TOKEN, GOT_ERROR, MUST_FETCH, MUST_WAIT } verdict;

/* Under the mutex. */
static verdict judge(apr_pool_t *p, mi_slot *s, apr_int64_t now, int timeout,
                     const char **token, const char **why, int *unavailable)
{
    if (s->token[0] && now < s->renew_at) {
        *token = apr_pstrdup(p, s->token);
        return GOT_TOKEN;
    }
    if (s->token[0] && now < s->expires_on - 30 && (s->fetching_until > now
                                                    || s->backoff_until > now)) {
        /* another request renews it, or just failed to: this one still works */
        *token = apr_pstrdup(p, s->token);
        return GOT_TOKEN;
    }
    if (s->backoff_until > now) {
        *why = apr_pstrcat(p, s->error, " (remembered for a few seconds)", NULL);
        *unavailable = s->unavailable;
        return GOT_ERROR;
    }
    if (s->fetching_until > now)
        return MUST_WAIT;
    s->fetching_until = now + timeout + WAIT_EXTRA + 1;
    return MUST_FETCH;
}

const char *entra_mi_assertion(apr_pool_t *p, const entra_server_conf *sc, int timeout,
                               const char **token, int *unavailable)
{
    const char *url, *header, *why, *got = NULL;
    apr_int64_t expires_on = 0, now;
    apr_interval_time_t waited = 0;
    mi_slot *s;

    *unavailable = 0;
    if ((why = entra_mi_request(p, sc, &url, &header)))
        return why;
    if (!table || !table_mutex) {
        *unavailable = 1;
        return fetch(p, sc, timeout, url, header, token, &expires_on);
    }
    for (;;) {
        verdict v;
        if (apr_global_mutex_lock(table_mutex) != APR_SUCCESS) {
            *unavailable = 1;
            return "cannot lock the managed identity's shared table";
        }
        s = find_slot(url);
        v = judge(p, s, now_sec(), timeout, token, &why, unavailable);
        apr_global_mutex_unlock(table_mutex);
        if (v == GOT_TOKEN)
            return NULL;
        if (v == GOT_ERROR)
            return why;
        if (v == MUST_FETCH)
            break;
        if (waited >= apr_time_from_sec(timeout + WAIT_EXTRA)) {
            *unavailable = 1;
            return "the managed identity's token is still being fetched by another request";
        }
        apr_sleep(POLL_USEC);
        waited += POLL_USEC;
    }
    /* This request fetches, holding no lock. */
    why = fetch(p, sc, timeout, url, header, &got, &expires_on);
    now = now_sec();
    if (apr_global_mutex_lock(table_mutex) != APR_SUCCESS)
        s = NULL;               /* no lock: this request's answer, kept by no one */
    /* the slot may have gone to another identity's fetch meanwhile */
    else if (!(s = find_slot(url)))
        apr_global_mutex_unlock(table_mutex);
    if (!s) {
        if (why) {
            *unavailable = 1;
            return why;
        }
        *token = got;
        return NULL;
    }
    s->fetching_until = 0;
    if (!why) {
        apr_cpystrn(s->token, got, sizeof(s->token));
        s->expires_on = expires_on;
        s->renew_at = renew_time(now, expires_on);
        s->backoff_until = 0;
        s->error[0] = '\0';
    }
    else {
        s->backoff_until = now + ENTRA_MI_BACKOFF;
        s->unavailable = 1;
        apr_cpystrn(s->error, why, sizeof(s->error));
        if (s->token[0] && now < s->expires_on - 30) {
            /* a renewal failed: the token in hand still works meanwhile */
            got = apr_pstrdup(p, s->token);
            why = NULL;
        }
    }
    apr_global_mutex_unlock(table_mutex);
    if (why) {
        *unavailable = 1;
        return why;
    }
    *token = got;
    return NULL;
}
