/* The module's own URLs, dispatched from one table (see endpoints.h). */
#include "endpoints.h"
#include "login.h"
#include "log.h"
#include "respond.h"
#include "store.h"
#include "util.h"

#include <http_log.h>
#include <apr_strings.h>
#include <string.h>

APLOG_USE_MODULE(auth_entra);

/* Ends the local session and sends the browser to a same-origin
 * post_logout_redirect_uri, or to "/". */
static int logout(request_rec *r, const entra_server_conf *sc)
{
    apr_table_t *params = entra_form_parse(r->pool, r->args);
    const char *target = params ? apr_table_get(params, "post_logout_redirect_uri") : NULL;
    const char *back = target ? entra_safe_return_path(r->pool, target, entra_origin(r)) : NULL;

    if (target && !back)
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00501)
                      "logout: post_logout_redirect_uri \"%s\" is not on this site; using /",
                      entra_log_safe(r->pool, target));
    entra_store_clear(r, sc);
    return entra_redirect(r, back ? back : "/");
}

typedef int (*endpoint_fn)(request_rec *r, const entra_server_conf *sc);

typedef struct {
    const char *path;       /* NULL: the configured redirect URI's path */
    endpoint_fn handle;
} endpoint;

static const endpoint endpoints[] = {
    { NULL, entra_callback },
    { ENTRA_LOGOUT_PATH, logout },
};

int entra_endpoint_dispatch(request_rec *r, const entra_server_conf *sc)
{
    const char *path = r->parsed_uri.path;
    apr_size_t i;

    if (!path)
        return DECLINED;
    for (i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++) {
        const char *want = endpoints[i].path ? endpoints[i].path : entra_redirect_uri_path(sc);
        if (strcmp(path, want) == 0)
            return endpoints[i].handle(r, sc);
    }
    return DECLINED;
}
