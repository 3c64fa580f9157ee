/* Managed identity as the app's credential: the client assertion is the
 * identity's token for api://AzureADTokenExchange, from the Azure Instance
 * Metadata Service (IMDS) or App Service's identity endpoint. One token is
 * shared by the server's processes (a small shared table, see
 * identity_shm.c), fetched by one request at a time and renewed a few
 * minutes before it expires; a failed fetch is remembered for a few
 * seconds, so an unreachable endpoint costs one timeout, not one a request. */
#ifndef ENTRA_MANAGED_IDENTITY_H
#define ENTRA_MANAGED_IDENTITY_H

#include "config.h"
#include <apr_global_mutex.h>

#define ENTRA_MI_DEFAULT_ENDPOINT "http://169.254.169.254/metadata/identity/oauth2/token"
#define ENTRA_MI_IMDS_VERSION "2018-02-01"
#define ENTRA_MI_APPSERVICE_VERSION "2019-08-01"
/* Renewed this long before expires_on (or at half its life when shorter). */
#define ENTRA_MI_RENEW_BEFORE 300
/* A failed fetch is the answer for this long. */
#define ENTRA_MI_BACKOFF 5
#define ENTRA_MI_MUTEX "auth-entra-identity"

/* Size of the shared table; entra_mi_attach gives it to this process (a
 * child inherits the parent's). Without it (unit tests) every call fetches. */
apr_size_t entra_mi_block_size(void);
void entra_mi_attach(void *base, apr_global_mutex_t *mutex);

/* api://AzureADTokenExchange, ...USGov or ...China, by the authority's cloud. */
const char *entra_mi_audience(const entra_server_conf *sc);

/* The request to the identity endpoint: URL (with its query) and the one
 * header it needs ("Metadata: true" or "X-IDENTITY-HEADER: ..."). NULL, or
 * why not. */
const char *entra_mi_request(apr_pool_t *p, const entra_server_conf *sc, const char **url,
                             const char **header);

/* The identity's current token for the client assertion, in `p`. NULL, or
 * why not (log-safe, never the token) with *unavailable set when the
 * endpoint could not be reached or gave no usable answer. */
const char *entra_mi_assertion(apr_pool_t *p, const entra_server_conf *sc, int timeout,
                               const char **token, int *unavailable);

#endif
