/* The module's counters and their Prometheus text (see metrics.h). Nothing
 * here talks to httpd; the shared memory and the handler are in
 * metrics_handler.c. */
#include "metrics.h"

#include <apr_strings.h>
#include <string.h>

/* Kept across graceful restarts: a module of another layout starts over. */
#define MAGIC 0x454d5431u       /* "EMT1" */

typedef struct {
    apr_uint32_t magic;
    apr_uint32_t count;         /* ENTRA_METRICS_COUNT */
    apr_uint64_t v[ENTRA_METRICS_COUNT];
} block;

/* Until attached: this process's own. */
static apr_uint64_t own[ENTRA_METRICS_COUNT];
static apr_uint64_t *counters = own;

void entra_metric_add(entra_metric m, apr_uint64_t n)
{
    __atomic_add_fetch(&counters[m], n, __ATOMIC_RELAXED);
}

/* Upper bounds in microseconds; the last bucket is +Inf. */
static const apr_interval_time_t bounds[ENTRA_METRICS_BUCKETS - 1] = {
    5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000
};
static const char *const bound_text[ENTRA_METRICS_BUCKETS] = {
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"
};

int entra_metrics_bucket(apr_interval_time_t usec)
{
    int b;

    for (b = 0; b < ENTRA_METRICS_BUCKETS - 1; b++) {
        if (usec <= bounds[b])
            return b;
    }
    return ENTRA_METRICS_BUCKETS - 1;
}

void entra_metric_http(entra_endpoint ep, entra_outcome oc, apr_interval_time_t usec)
{
    if ((unsigned)ep >= ENTRA_EP_COUNT)
        ep = ENTRA_EP_OTHER;
    if ((unsigned)oc >= ENTRA_OUTCOME_COUNT)
        oc = ENTRA_OUTCOME_ERROR;
    if (usec < 0)
        usec = 0;
    __atomic_add_fetch(&counters[ENTRA_MI_HTTP(ep, oc)], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&counters[ENTRA_MI_BUCKET(ep, entra_metrics_bucket(usec))], 1,
                       __ATOMIC_RELAXED);
    __atomic_add_fetch(&counters[ENTRA_MI_SUM_USEC(ep)], (apr_uint64_t)usec, __ATOMIC_RELAXED);
}

apr_size_t entra_metrics_block_size(void)
{
    return sizeof(block);
}

void entra_metrics_attach(void *mem)
{
    block *b = mem;

    if (b->magic != MAGIC || b->count != ENTRA_METRICS_COUNT) {
        memset(b, 0, sizeof(*b));
        b->magic = MAGIC;
        b->count = ENTRA_METRICS_COUNT;
    }
    __atomic_store_n(&counters, b->v, __ATOMIC_RELEASE);
}

void entra_metrics_detach(void)
{
    __atomic_store_n(&counters, own, __ATOMIC_RELEASE);
}

void entra_metrics_snapshot(apr_uint64_t *out)
{
    apr_uint64_t *from = __atomic_load_n(&counters, __ATOMIC_ACQUIRE);
    int i;

    for (i = 0; i < ENTRA_METRICS_COUNT; i++)
        out[i] = __atomic_load_n(&from[i], __ATOMIC_RELAXED);
}

/* ---- the text */

/* A counter family: `n` counters from `first`, one a label value (or one
 * counter without a label). */
typedef struct {
    const char *name, *help, *label;
    int first, n;
    const char *const *values;
} family;

static const char *const signin_results[] = {
    "ok", "token_refused", "idp_unavailable", "state_invalid", "tenant_refused", "idp_error",
    "id_token_invalid", "error"
};
static const char *const refresh_results[] = { "ok", "refused", "unavailable" };
static const char *const bearer_results[] = { "accepted", "refused", "unavailable" };
static const char *const store_operations[] = { "retrieve", "store", "remove" };
static const char *const endpoints[ENTRA_EP_COUNT] = {
    "other", "discovery", "jwks", "token", "userinfo", "graph"
};
static const char *const outcomes[ENTRA_OUTCOME_COUNT] = {
    "ok", "http_error", "timeout", "error"
};

_Static_assert(sizeof(signin_results) / sizeof(signin_results[0])
               == ENTRA_M_SIGNIN_ERROR - ENTRA_M_SIGNIN_OK + 1, "a label a sign-in result");
_Static_assert(sizeof(refresh_results) / sizeof(refresh_results[0])
               == ENTRA_M_REFRESH_UNAVAILABLE - ENTRA_M_REFRESH_OK + 1, "a label a refresh result");
_Static_assert(sizeof(bearer_results) / sizeof(bearer_results[0])
               == ENTRA_M_BEARER_UNAVAILABLE - ENTRA_M_BEARER_ACCEPTED + 1, "a label a result");
_Static_assert(sizeof(store_operations) / sizeof(store_operations[0])
               == ENTRA_M_STORE_ERROR_REMOVE - ENTRA_M_STORE_ERROR_RETRIEVE + 1,
               "a label an operation");

static const family families[] = {
    { "entra_signins_started_total", "Browsers sent to Entra to sign in.", NULL,
      ENTRA_M_SIGNIN_STARTED, 1, NULL },
    { "entra_signins_total", "Sign-in callbacks, by result.", "result",
      ENTRA_M_SIGNIN_OK, 8, signin_results },
    { "entra_authz_denials_total", "Signed-in users refused by a Require (403).", NULL,
      ENTRA_M_AUTHZ_DENIED, 1, NULL },
    { "entra_refreshes_total", "Access token refreshes asked of Entra, by result.", "result",
      ENTRA_M_REFRESH_OK, 3, refresh_results },
    { "entra_bearer_tokens_total", "Bearer tokens checked, by result.", "result",
      ENTRA_M_BEARER_ACCEPTED, 3, bearer_results },
    { "entra_discovery_fetches_total", "Discovery documents fetched (or tried).", NULL,
      ENTRA_M_DISCOVERY_FETCH, 1, NULL },
    { "entra_discovery_fetch_failures_total", "Discovery fetches that failed.", NULL,
      ENTRA_M_DISCOVERY_FAILURE, 1, NULL },
    { "entra_jwks_fetches_total", "JWKS (signing keys) fetched (or tried).", NULL,
      ENTRA_M_JWKS_FETCH, 1, NULL },
    { "entra_jwks_fetch_failures_total", "JWKS fetches that failed.", NULL,
      ENTRA_M_JWKS_FAILURE, 1, NULL },
    { "entra_session_store_errors_total", "Session store (socache) errors, by operation.",
      "operation", ENTRA_M_STORE_ERROR_RETRIEVE, 3, store_operations },
};

static void header(apr_array_header_t *out, apr_pool_t *p, const char *name, const char *help,
                   const char *type)
{
    APR_ARRAY_PUSH(out, const char *) = apr_psprintf(p, "# HELP %s %s\n# TYPE %s %s\n",
                                                     name, help, name, type);
}

#define LINE(out, p, ...) (APR_ARRAY_PUSH((out), const char *) = apr_psprintf((p), __VA_ARGS__))

char *entra_metrics_render(apr_pool_t *p, const apr_uint64_t *v)
{
    apr_array_header_t *out = apr_array_make(p, 256, sizeof(const char *));
    const char *hist = "entra_http_request_duration_seconds";
    apr_size_t f;
    int i, ep, oc, b;

    for (f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
        const family *fam = &families[f];
        header(out, p, fam->name, fam->help, "counter");
        for (i = 0; i < fam->n; i++) {
            if (fam->label)
                LINE(out, p, "%s{%s=\"%s\"} %" APR_UINT64_T_FMT "\n", fam->name, fam->label,
                     fam->values[i], v[fam->first + i]);
            else
                LINE(out, p, "%s %" APR_UINT64_T_FMT "\n", fam->name, v[fam->first + i]);
        }
    }
    header(out, p, "entra_http_requests_total",
           "Calls to Entra and Microsoft Graph, by endpoint and outcome.", "counter");
    for (ep = 0; ep < ENTRA_EP_COUNT; ep++) {
        for (oc = 0; oc < ENTRA_OUTCOME_COUNT; oc++)
            LINE(out, p, "entra_http_requests_total{endpoint=\"%s\",outcome=\"%s\"} %"
                 APR_UINT64_T_FMT "\n", endpoints[ep], outcomes[oc], v[ENTRA_MI_HTTP(ep, oc)]);
    }
    header(out, p, hist, "How long calls to Entra and Microsoft Graph took, by endpoint.",
           "histogram");
    for (ep = 0; ep < ENTRA_EP_COUNT; ep++) {
        apr_uint64_t cumulative = 0, usec = v[ENTRA_MI_SUM_USEC(ep)];
        for (b = 0; b < ENTRA_METRICS_BUCKETS; b++) {
            cumulative += v[ENTRA_MI_BUCKET(ep, b)];
            LINE(out, p, "%s_bucket{endpoint=\"%s\",le=\"%s\"} %" APR_UINT64_T_FMT "\n", hist,
                 endpoints[ep], bound_text[b], cumulative);
        }
        LINE(out, p, "%s_sum{endpoint=\"%s\"} %" APR_UINT64_T_FMT ".%06" APR_UINT64_T_FMT "\n",
             hist, endpoints[ep], usec / 1000000, usec % 1000000);
        LINE(out, p, "%s_count{endpoint=\"%s\"} %" APR_UINT64_T_FMT "\n", hist, endpoints[ep],
             cumulative);
    }
    return apr_array_pstrcat(p, out, '\0');
}
