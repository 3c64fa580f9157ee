/* Counters for Prometheus (SetHandler entra-metrics): what the module did,
 * summed over all of the server's processes.
 *
 * The counters are one fixed array of 64-bit integers, indexed by the
 * enums below, in shared memory of the module's own (no socache module),
 * made at start-up and kept across graceful restarts (httpd's retained
 * data). Counting is one atomic add, no lock; labels come from fixed sets
 * only (no user data). Until the shared memory is attached (and in the
 * unit tests) the counters are this process's own.
 *
 * metrics.c (in the core library, no httpd calls) holds the counters and
 * their text; metrics_handler.c the shared memory and the handler. */
#ifndef ENTRA_METRICS_H
#define ENTRA_METRICS_H

#include <httpd.h>
#include <apr_pools.h>

/* The handler's name: <Location /entra-metrics> SetHandler entra-metrics */
#define ENTRA_METRICS_HANDLER "entra-metrics"

/* Counters without a histogram; the comment is the metric and label. */
typedef enum {
    /* entra_signins_started_total: browsers sent to Entra */
    ENTRA_M_SIGNIN_STARTED,
    /* entra_signins_total{result}: callbacks, by what came of them */
    ENTRA_M_SIGNIN_OK,
    ENTRA_M_SIGNIN_TOKEN_REFUSED,       /* the token endpoint refused the code */
    ENTRA_M_SIGNIN_IDP_UNAVAILABLE,     /* Entra unreachable or answering unusably */
    ENTRA_M_SIGNIN_STATE_INVALID,       /* unknown, expired or replayed state */
    ENTRA_M_SIGNIN_TENANT_REFUSED,      /* tenant not admitted */
    ENTRA_M_SIGNIN_IDP_ERROR,           /* Entra sent error= (declined, consent, ...) */
    ENTRA_M_SIGNIN_ID_TOKEN_INVALID,    /* the ID token failed its checks */
    ENTRA_M_SIGNIN_ERROR,               /* anything else: no code, store failed, ... */
    /* entra_authz_denials_total: signed-in users refused by Require */
    ENTRA_M_AUTHZ_DENIED,
    /* entra_refreshes_total{result}: refreshes this server asked of Entra */
    ENTRA_M_REFRESH_OK,
    ENTRA_M_REFRESH_REFUSED,
    ENTRA_M_REFRESH_UNAVAILABLE,
    /* entra_bearer_tokens_total{result} */
    ENTRA_M_BEARER_ACCEPTED,
    ENTRA_M_BEARER_REFUSED,
    ENTRA_M_BEARER_UNAVAILABLE,         /* keys or metadata could not be had */
    /* entra_discovery_fetches_total, entra_discovery_fetch_failures_total,
     * entra_jwks_fetches_total, entra_jwks_fetch_failures_total */
    ENTRA_M_DISCOVERY_FETCH,
    ENTRA_M_DISCOVERY_FAILURE,
    ENTRA_M_JWKS_FETCH,
    ENTRA_M_JWKS_FAILURE,
    /* entra_session_store_errors_total{operation} */
    ENTRA_M_STORE_ERROR_RETRIEVE,
    ENTRA_M_STORE_ERROR_STORE,
    ENTRA_M_STORE_ERROR_REMOVE,
    ENTRA_M_SCALARS
} entra_metric;

/* The endpoints the module calls (entra_http_opts.endpoint). */
typedef enum {
    ENTRA_EP_OTHER,
    ENTRA_EP_DISCOVERY,
    ENTRA_EP_JWKS,
    ENTRA_EP_TOKEN,
    ENTRA_EP_USERINFO,
    ENTRA_EP_GRAPH,
    ENTRA_EP_COUNT
} entra_endpoint;

typedef enum {
    ENTRA_OUTCOME_OK,           /* a 2xx answer */
    ENTRA_OUTCOME_HTTP_ERROR,   /* any other status */
    ENTRA_OUTCOME_TIMEOUT,      /* EntraHTTPTimeout reached */
    ENTRA_OUTCOME_ERROR,        /* no answer: connect, TLS, too big, ... */
    ENTRA_OUTCOME_COUNT
} entra_outcome;

/* Latency buckets (upper bounds, seconds), +Inf last. */
#define ENTRA_METRICS_BUCKETS 12

/* Where each counter lives in the array. */
#define ENTRA_MI_HTTP(ep, oc) (ENTRA_M_SCALARS + (ep) * ENTRA_OUTCOME_COUNT + (oc))
#define ENTRA_MI_BUCKET(ep, b) \
    (ENTRA_MI_HTTP(ENTRA_EP_COUNT, 0) + (ep) * ENTRA_METRICS_BUCKETS + (b))
#define ENTRA_MI_SUM_USEC(ep) (ENTRA_MI_BUCKET(ENTRA_EP_COUNT, 0) + (ep))
#define ENTRA_METRICS_COUNT ENTRA_MI_SUM_USEC(ENTRA_EP_COUNT)

/* Counting: one relaxed atomic add each. */
void entra_metric_add(entra_metric m, apr_uint64_t n);
#define entra_metric_inc(m) entra_metric_add((m), 1)
/* One outbound call: its endpoint, outcome and duration. */
void entra_metric_http(entra_endpoint ep, entra_outcome oc, apr_interval_time_t usec);

/* The bucket a call of `usec` falls in (0 .. ENTRA_METRICS_BUCKETS-1). */
int entra_metrics_bucket(apr_interval_time_t usec);

/* The counters' block in shared memory: its size, and laying out a new
 * (zeroed) one or taking one kept from before a graceful restart (a block
 * of another layout is zeroed). From then on counting goes there. */
apr_size_t entra_metrics_block_size(void);
void entra_metrics_attach(void *block);
/* Back to this process's own counters (unit tests). */
void entra_metrics_detach(void);

/* A consistent-enough copy of every counter (ENTRA_METRICS_COUNT values). */
void entra_metrics_snapshot(apr_uint64_t *out);
/* The Prometheus text (format 0.0.4) of a snapshot. */
char *entra_metrics_render(apr_pool_t *p, const apr_uint64_t *v);

/* ---- metrics_handler.c (the module): the shared memory and the handler */
int entra_metrics_post_config(apr_pool_t *pconf, server_rec *s);
void entra_metrics_register(apr_pool_t *p);
/* The result of this callback, counted once: the first call wins, so a
 * specific result set deep in the callback is not overwritten by the
 * general one (ENTRA_M_SIGNIN_ERROR) its caller gives at the end. */
void entra_metrics_signin(request_rec *r, entra_metric result);

#endif
