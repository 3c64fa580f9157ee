/* Start-up of the managed identity's shared table (see managed_identity.h). */
#ifndef ENTRA_IDENTITY_SHM_H
#define ENTRA_IDENTITY_SHM_H

#include <httpd.h>

void entra_identity_pre_config(apr_pool_t *pconf);
/* Made only when a server has EntraManagedIdentity. */
int entra_identity_post_config(apr_pool_t *pconf, server_rec *s);
void entra_identity_child_init(apr_pool_t *pchild);

#endif
