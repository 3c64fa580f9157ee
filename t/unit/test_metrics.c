/* The metrics' pure parts (src/metrics.c): which latency bucket a call
 * falls in, the Prometheus text of a set of counters (every line a HELP,
 * a TYPE or "name{labels} value"; cumulative buckets; _count the +Inf
 * bucket; _sum in seconds), a block kept from before a graceful restart
 * (taken as it is) or of another layout (zeroed), and 8 threads counting
 * at once into one block without losing a count. Built for `make unit`
 * and, with ThreadSanitizer, for `make unit-tsan`. */
#include "../../src/metrics.h"

#include <http_config.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORKERS 8
#define ROUNDS 20000

static int passed, failed;

static int check(int ok, const char *what)
{
    ok ? passed++ : failed++;
    if (!ok)
        printf("FAIL %s\n", what);
    return ok;
}

/* config.c's (the sanitized build compiles every core file) */
module AP_MODULE_DECLARE_DATA auth_entra_module;

void ap_log_perror_(const char *file, int line, int module_index, int level,
                    apr_status_t status, apr_pool_t *p, const char *fmt, ...)
{
    (void)file; (void)line; (void)module_index; (void)level; (void)status; (void)p;
    (void)fmt;
}

static void buckets(void)
{
    check(entra_metrics_bucket(0) == 0, "0 s: the first bucket (le 0.005)");
    check(entra_metrics_bucket(5000) == 0, "5 ms exactly: le 0.005 (le is inclusive)");
    check(entra_metrics_bucket(5001) == 1, "5.001 ms: le 0.01");
    check(entra_metrics_bucket(100000) == 4, "100 ms: le 0.1");
    check(entra_metrics_bucket(1000001) == 8, "1.000001 s: le 2.5");
    check(entra_metrics_bucket(10000000) == 10, "10 s: le 10");
    check(entra_metrics_bucket(10000001) == ENTRA_METRICS_BUCKETS - 1, "over 10 s: +Inf");
    check(entra_metrics_bucket(APR_INT64_C(300000000)) == ENTRA_METRICS_BUCKETS - 1,
          "300 s: +Inf");
}

/* Every line of the text: a comment of ours, or name, optional {labels}
 * with quoted values, one space, a number. */
static int prometheus_line(const char *l)
{
    const char *p = l;

    if (strncmp(l, "# HELP entra_", 13) == 0 || strncmp(l, "# TYPE entra_", 13) == 0)
        return 1;
    if (strncmp(p, "entra_", 6) != 0)
        return 0;
    p += strspn(p, "abcdefghijklmnopqrstuvwxyz_");
    if (*p == '{') {
        for (p++; *p != '}'; ) {
            p += strspn(p, "abcdefghijklmnopqrstuvwxyz_");
            if (p[0] != '=' || p[1] != '"')
                return 0;
            p += 2;
            p += strcspn(p, "\"\\\n");
            if (*p++ != '"')
                return 0;
            if (*p == ',')
                p++;
            else if (*p != '}')
                return 0;
        }
        p++;
    }
    if (*p++ != ' ' || !*p)
        return 0;
    return strspn(p, "0123456789.") == strlen(p);
}

static int has_line(const char *text, const char *line)
{
    const char *at = text;
    apr_size_t n = strlen(line);

    while ((at = strstr(at, line))) {
        if ((at == text || at[-1] == '\n') && at[n] == '\n')
            return 1;
        at++;
    }
    return 0;
}

static void render(apr_pool_t *p)
{
    apr_uint64_t *v = apr_pcalloc(p, ENTRA_METRICS_COUNT * sizeof(*v));
    char *text, *line, *rest;
    int lines = 0, bad = 0;

    entra_metrics_detach();
    /* counted into this process's own block, then rendered from a copy */
    entra_metric_inc(ENTRA_M_SIGNIN_OK);
    entra_metric_inc(ENTRA_M_SIGNIN_OK);
    entra_metric_inc(ENTRA_M_SIGNIN_STATE_INVALID);
    entra_metric_add(ENTRA_M_STORE_ERROR_REMOVE, 5);
    entra_metric_http(ENTRA_EP_TOKEN, ENTRA_OUTCOME_OK, 3000);          /* le 0.005 */
    entra_metric_http(ENTRA_EP_TOKEN, ENTRA_OUTCOME_HTTP_ERROR, 70000); /* le 0.1 */
    entra_metric_http(ENTRA_EP_TOKEN, ENTRA_OUTCOME_TIMEOUT, 10500000); /* +Inf */
    entra_metric_http(ENTRA_EP_COUNT + 3, 99, -5);      /* nonsense: other, error, 0 s */
    entra_metrics_snapshot(v);
    text = entra_metrics_render(p, v);

    check(has_line(text, "# TYPE entra_signins_total counter"), "signins: a counter");
    check(has_line(text, "entra_signins_total{result=\"ok\"} 2"), "signins ok: 2");
    check(has_line(text, "entra_signins_total{result=\"state_invalid\"} 1"), "state_invalid: 1");
    check(has_line(text, "entra_signins_total{result=\"tenant_refused\"} 0"),
          "a result never seen is there, at 0");
    check(has_line(text, "entra_session_store_errors_total{operation=\"remove\"} 5"),
          "store errors by operation");
    check(has_line(text, "entra_authz_denials_total 0"), "a counter without labels");
    check(has_line(text, "entra_http_requests_total{endpoint=\"token\",outcome=\"ok\"} 1"),
          "token calls that answered 2xx");
    check(has_line(text, "entra_http_requests_total{endpoint=\"token\",outcome=\"timeout\"} 1"),
          "token calls that timed out");
    check(has_line(text, "entra_http_requests_total{endpoint=\"other\",outcome=\"error\"} 1"),
          "an unknown endpoint and outcome count as other/error");
    check(has_line(text, "# TYPE entra_http_request_duration_seconds histogram"),
          "the latency is a histogram");
    check(has_line(text, "entra_http_request_duration_seconds_bucket{endpoint=\"token\","
                         "le=\"0.005\"} 1"), "bucket le 0.005: 1");
    check(has_line(text, "entra_http_request_duration_seconds_bucket{endpoint=\"token\","
                         "le=\"0.05\"} 1"), "bucket le 0.05: still 1");
    check(has_line(text, "entra_http_request_duration_seconds_bucket{endpoint=\"token\","
                         "le=\"0.1\"} 2"), "bucket le 0.1: 2 (cumulative)");
    check(has_line(text, "entra_http_request_duration_seconds_bucket{endpoint=\"token\","
                         "le=\"10\"} 2"), "bucket le 10: 2");
    check(has_line(text, "entra_http_request_duration_seconds_bucket{endpoint=\"token\","
                         "le=\"+Inf\"} 3"), "bucket +Inf: 3");
    check(has_line(text, "entra_http_request_duration_seconds_count{endpoint=\"token\"} 3"),
          "_count: 3");
    check(has_line(text, "entra_http_request_duration_seconds_sum{endpoint=\"token\"} 10.573000"),
          "_sum in seconds: 10.573");
    check(has_line(text, "entra_http_request_duration_seconds_count{endpoint=\"graph\"} 0"),
          "an endpoint never called is there, at 0");
    check(text[strlen(text) - 1] == '\n', "the text ends with a newline");

    for (line = apr_strtok(apr_pstrdup(p, text), "\n", &rest); line;
         line = apr_strtok(NULL, "\n", &rest)) {
        lines++;
        if (!prometheus_line(line)) {
            bad++;
            printf("     not Prometheus text: %s\n", line);
        }
    }
    check(lines > 100 && bad == 0, "every line is Prometheus text");
    check(!prometheus_line("entra_x{a=\"b} 1") && !prometheus_line("entra_x 1 2")
          && !prometheus_line("other_x 1"), "... (and the check refuses what is not)");
}

static void kept(apr_pool_t *p)
{
    void *mem = apr_pcalloc(p, entra_metrics_block_size());
    apr_uint64_t *v = apr_pcalloc(p, ENTRA_METRICS_COUNT * sizeof(*v));

    memset(mem, 0xab, entra_metrics_block_size());
    entra_metrics_attach(mem);
    entra_metrics_snapshot(v);
    check(v[ENTRA_M_SIGNIN_OK] == 0 && v[ENTRA_METRICS_COUNT - 1] == 0,
          "a block of another layout starts at zero");
    entra_metric_inc(ENTRA_M_BEARER_REFUSED);
    entra_metrics_detach();
    entra_metric_add(ENTRA_M_BEARER_REFUSED, 10);   /* this process's own, not the block */
    entra_metrics_attach(mem);                      /* after a graceful restart */
    entra_metrics_snapshot(v);
    check(v[ENTRA_M_BEARER_REFUSED] == 1, "a block kept across a restart keeps its counts");
    entra_metrics_detach();
}

static void *APR_THREAD_FUNC count(apr_thread_t *thread, void *data)
{
    int i;

    (void)data;
    for (i = 0; i < ROUNDS; i++) {
        entra_metric_inc(ENTRA_M_AUTHZ_DENIED);
        entra_metric_http(ENTRA_EP_JWKS, ENTRA_OUTCOME_OK, i % 2 ? 1000 : 20000000);
    }
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

static void threads(apr_pool_t *p)
{
    void *mem = apr_pcalloc(p, entra_metrics_block_size());
    apr_uint64_t *v = apr_pcalloc(p, ENTRA_METRICS_COUNT * sizeof(*v));
    apr_thread_t *t[WORKERS];
    apr_status_t rv;
    apr_uint64_t n = (apr_uint64_t)WORKERS * ROUNDS;
    int i;

    entra_metrics_attach(mem);
    for (i = 0; i < WORKERS; i++)
        apr_thread_create(&t[i], NULL, count, NULL, p);
    for (i = 0; i < 50; i++)
        entra_metrics_snapshot(v);      /* a scrape while they count */
    for (i = 0; i < WORKERS; i++)
        apr_thread_join(&rv, t[i]);
    entra_metrics_snapshot(v);
    check(v[ENTRA_M_AUTHZ_DENIED] == n, "8 threads at once: no count lost");
    check(v[ENTRA_MI_HTTP(ENTRA_EP_JWKS, ENTRA_OUTCOME_OK)] == n, "... nor a call");
    check(v[ENTRA_MI_BUCKET(ENTRA_EP_JWKS, 0)] == n / 2
          && v[ENTRA_MI_BUCKET(ENTRA_EP_JWKS, ENTRA_METRICS_BUCKETS - 1)] == n / 2,
          "... nor a bucket");
    check(v[ENTRA_MI_SUM_USEC(ENTRA_EP_JWKS)] == (n / 2) * (1000 + 20000000), "... nor a sum");
    entra_metrics_detach();
}

int main(void)
{
    apr_pool_t *p;

    apr_initialize();
    apr_pool_create(&p, NULL);
    buckets();
    render(p);
    kept(p);
    threads(p);
    apr_pool_destroy(p);
    apr_terminate();
    printf("metrics   %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
