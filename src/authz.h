/* Require providers over the signed-in user's claims:
 *   Require entra-role <app role> [...]     the `roles` claim
 *   Require entra-group <group object id> [...]
 *   Require entra-tenant <tid> [...]
 *   Require entra-claim <name>:<value> [...]
 *   Require entra-scope <scope> [...]        the scp claim of a bearer token
 * Each line grants when any listed value matches; combine lines with
 * <RequireAll>/<RequireAny>. A denial names what was missing on the 403 page. */
#ifndef ENTRA_AUTHZ_H
#define ENTRA_AUTHZ_H

#include <apr_pools.h>

void entra_authz_register(apr_pool_t *p);

#endif
