/* SetHandler entra-metrics, and the shared memory its counters live in
 * (see metrics.h). The counters are made once, in the parent's process
 * pool, and kept across graceful restarts through httpd's retained data;
 * every child inherits them. Access to the page is the administrator's
 * (Require ip ...), as for mod_status. */
#include "metrics.h"
#include "log.h"

#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <string.h>
#include <unistd.h>

APLOG_USE_MODULE(auth_entra);

/* v1: one block of ENTRA_METRICS_COUNT counters (the block itself says
 * its layout, and is zeroed when another one finds it). */
#define METRICS_RETAINED "mod_auth_entra-metrics-v1"
#define SIGNIN_NOTE "entra-signin-counted"

typedef struct {
    apr_shm_t *shm;
} metrics_retained;

/* Anonymous shared memory where APR has it; else a file in the runtime
 * directory. */
static apr_status_t make_block(apr_shm_t **shm, server_rec *s)
{
    apr_pool_t *keep = s->process->pool;
    apr_size_t size = entra_metrics_block_size();
    apr_status_t rv = apr_shm_create(shm, size, NULL, keep);
    const char *file;

    if (rv != APR_ENOTIMPL)
        return rv;
    file = ap_runtime_dir_relative(keep, apr_psprintf(keep, "auth_entra_metrics.%ld",
                                                      (long)getpid()));
    apr_shm_remove(file, keep);
    return apr_shm_create(shm, size, file, keep);
}

int entra_metrics_post_config(apr_pool_t *pconf, server_rec *s)
{
    metrics_retained *kept = ap_retained_data_get(METRICS_RETAINED);
    apr_status_t rv;

    (void)pconf;
    if (!kept) {
        kept = ap_retained_data_create(METRICS_RETAINED, sizeof(*kept));
        kept->shm = NULL;
    }
    /* A block kept from an older build with fewer counters is too small for
     * this one: a new one (the old stays, unused, until httpd stops). */
    if (kept->shm && apr_shm_size_get(kept->shm) < entra_metrics_block_size())
        kept->shm = NULL;
    if (!kept->shm) {
        if ((rv = make_block(&kept->shm, s)) != APR_SUCCESS) {
            kept->shm = NULL;
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, ENTRALOG(00901)
                         "cannot create the shared memory for the module's metrics");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        memset(apr_shm_baseaddr_get(kept->shm), 0, entra_metrics_block_size());
    }
    entra_metrics_attach(apr_shm_baseaddr_get(kept->shm));
    return OK;
}

void entra_metrics_signin(request_rec *r, entra_metric result)
{
    if (apr_table_get(r->notes, SIGNIN_NOTE))
        return;
    apr_table_setn(r->notes, SIGNIN_NOTE, "1");
    entra_metric_inc(result);
}

static int metrics_handler(request_rec *r)
{
    apr_uint64_t *v;

    if (!r->handler || strcmp(r->handler, ENTRA_METRICS_HANDLER) != 0)
        return DECLINED;
    r->allowed = AP_METHOD_BIT << M_GET;
    ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);
    if (r->method_number != M_GET)
        return HTTP_METHOD_NOT_ALLOWED;
    v = apr_palloc(r->pool, ENTRA_METRICS_COUNT * sizeof(*v));
    entra_metrics_snapshot(v);
    ap_set_content_type(r, "text/plain; version=0.0.4");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only)
        ap_rputs(entra_metrics_render(r->pool, v), r);
    return OK;
}

void entra_metrics_register(apr_pool_t *p)
{
    (void)p;
    ap_hook_handler(metrics_handler, NULL, NULL, APR_HOOK_MIDDLE);
}
