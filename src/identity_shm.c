/* The managed identity's shared table (see managed_identity.h): made once
 * per configuration load in the parent, inherited by every child. */
#include "managed_identity.h"
#include "identity_shm.h"
#include "log.h"

#include <http_config.h>
#include <http_log.h>
#include <apr_shm.h>
#include <util_mutex.h>
#include <string.h>

APLOG_USE_MODULE(auth_entra);
extern module AP_MODULE_DECLARE_DATA auth_entra_module;

static apr_global_mutex_t *identity_mutex;
static void *identity_table;

void entra_identity_pre_config(apr_pool_t *pconf)
{
    ap_mutex_register(pconf, ENTRA_MI_MUTEX, NULL, APR_LOCK_DEFAULT, 0);
}

int entra_identity_post_config(apr_pool_t *pconf, server_rec *s)
{
    apr_shm_t *shm;
    apr_status_t rv;
    server_rec *v;
    int wanted = 0;

    identity_mutex = NULL;
    identity_table = NULL;
    entra_mi_attach(NULL, NULL);
    for (v = s; v; v = v->next) {
        entra_server_conf *sc = ap_get_module_config(v->module_config, &auth_entra_module);
        wanted |= sc && sc->managed_identity != NULL;
    }
    if (!wanted)
        return OK;
    if ((rv = apr_shm_create(&shm, entra_mi_block_size(), NULL, pconf)) != APR_SUCCESS
        || (rv = ap_global_mutex_create(&identity_mutex, NULL, ENTRA_MI_MUTEX, NULL, s, pconf,
                                        0)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, ENTRALOG(00116)
                     "cannot create the shared memory or the mutex that keep the managed "
                     "identity's token (EntraManagedIdentity)");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    identity_table = apr_shm_baseaddr_get(shm);
    memset(identity_table, 0, entra_mi_block_size());
    entra_mi_attach(identity_table, identity_mutex);
    return OK;
}

void entra_identity_child_init(apr_pool_t *pchild)
{
    if (identity_mutex) {
        apr_global_mutex_child_init(&identity_mutex,
                                    apr_global_mutex_lockfile(identity_mutex), pchild);
        entra_mi_attach(identity_table, identity_mutex);
    }
}
