/* The module's HTTP client to Entra (see http.h). */
#include "http.h"
#include "util.h"

#include <apr_strings.h>
#include <apr_base64.h>
#include <curl/curl.h>
#include <string.h>

typedef struct {
    apr_pool_t *pool;
    char *buf;
    apr_size_t len, cap;
    int too_big;
} body_sink;

static size_t sink_write(char *data, size_t size, size_t nmemb, void *ctx)
{
    body_sink *sink = ctx;
    apr_size_t n = size * nmemb;

    if (sink->len + n > ENTRA_HTTP_MAX_BODY) {
        sink->too_big = 1;
        return 0;
    }
    if (sink->len + n + 1 > sink->cap) {
        apr_size_t cap = (sink->cap ? sink->cap : 4096);
        char *grown;
        while (cap < sink->len + n + 1)
            cap *= 2;
        grown = apr_palloc(sink->pool, cap);
        if (sink->len)
            memcpy(grown, sink->buf, sink->len);
        sink->buf = grown;
        sink->cap = cap;
    }
    memcpy(sink->buf + sink->len, data, n);
    sink->len += n;
    return n;
}

void entra_http_global_init(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
}

/* RFC 6749 2.3.1: Basic credentials are form-encoded before base64. */
static const char *basic_header(apr_pool_t *p, const char *user, const char *pass)
{
    const char *plain = apr_pstrcat(p, entra_url_encode(p, user), ":",
                                    entra_url_encode(p, pass), NULL);
    char *b64 = apr_palloc(p, apr_base64_encode_len((int)strlen(plain)));

    apr_base64_encode(b64, plain, (int)strlen(plain));
    return apr_pstrcat(p, "Authorization: Basic ", b64, NULL);
}

static struct curl_slist *request_headers(apr_pool_t *p, const entra_http_opts *opts,
                                         int json_body)
{
    struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");

    if (json_body)
        h = curl_slist_append(h, "Content-Type: application/json");

    if (opts->bearer)
        h = curl_slist_append(h, apr_pstrcat(p, "Authorization: Bearer ", opts->bearer, NULL));
    else if (opts->basic_user)
        h = curl_slist_append(h, basic_header(p, opts->basic_user, opts->basic_pass));
    if (opts->header)
        h = curl_slist_append(h, opts->header);
    return h;
}

/* What came of a call, for the metrics. */
static entra_outcome outcome(CURLcode rc, int too_big, long status)
{
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return ENTRA_OUTCOME_TIMEOUT;
    if (rc != CURLE_OK || too_big)
        return ENTRA_OUTCOME_ERROR;
    return status >= 200 && status < 300 ? ENTRA_OUTCOME_OK : ENTRA_OUTCOME_HTTP_ERROR;
}

static const char *http_call(apr_pool_t *p, const char *url, const char *body, int json_body,
                             const entra_http_opts *opts, entra_http_response *resp)
{
    body_sink sink = { p, NULL, 0, 0, 0 };
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers;
    CURL *curl = curl_easy_init();
    CURLcode rc;
    curl_off_t usec = 0;

    if (!curl) {
        entra_metric_http(opts->endpoint, ENTRA_OUTCOME_ERROR, 0);
        return "cannot initialise libcurl";
    }
    headers = request_headers(p, opts, json_body);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    if (opts && opts->no_proxy)
        curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)opts->timeout);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)opts->timeout);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "mod_auth_entra");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    if (body)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME_T, &usec);
    curl_easy_cleanup(curl);
    entra_metric_http(opts->endpoint, outcome(rc, sink.too_big, resp->status),
                      (apr_interval_time_t)usec);
    curl_slist_free_all(headers);
    if (sink.too_big)
        return apr_psprintf(p, "response from %s is larger than %d bytes", url,
                            ENTRA_HTTP_MAX_BODY);
    if (rc != CURLE_OK)
        return apr_psprintf(p, "request to %s failed: %s", url,
                            *errbuf ? errbuf : curl_easy_strerror(rc));
    resp->body = sink.buf ? sink.buf : "";
    resp->len = sink.len;
    if (sink.buf)
        sink.buf[sink.len] = '\0';
    return NULL;
}

const char *entra_http_call(apr_pool_t *p, const char *url, const char *form_body,
                            const entra_http_opts *opts, entra_http_response *resp)
{
    return http_call(p, url, form_body, 0, opts, resp);
}

const char *entra_http_call_json(apr_pool_t *p, const char *url, const char *json_body,
                                 const entra_http_opts *opts, entra_http_response *resp)
{
    return http_call(p, url, json_body, json_body != NULL, opts, resp);
}
