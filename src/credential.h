/* How the module proves it is the app at Entra's token endpoint: a client
 * secret (post or basic), a certificate (private_key_jwt, signed here), a
 * federated token read from a file (workload identity; no secret on disk), or
 * a managed identity's token (managed_identity.h). */
#ifndef ENTRA_CREDENTIAL_H
#define ENTRA_CREDENTIAL_H

#include "config.h"
#include "http.h"

/* Loads EntraClientCertificate + EntraClientKey into sc->credential: checks
 * the key is RSA and belongs to the certificate, computes the thumbprints.
 * Returns NULL or why not (for the start-up error). */
/* EntraClientAssertionFile is read at every use (the platform rotates it)
 * by the user the server runs as: checked at start-up that this user can
 * open it. As root, that user is run_user/run_uid/run_gid (httpd's User and
 * Group; a uid of -1 or 0 skips the check); otherwise the current user.
 * Returns why not, naming the file, the user and the error, or NULL. */
const char *entra_credential_check_file(apr_pool_t *p, const entra_server_conf *sc,
                                        const char *run_user, long run_uid, long run_gid);

const char *entra_credential_load(apr_pool_t *p, entra_server_conf *sc);

/* The client-authentication part of a token request to `token_endpoint`:
 * form fields to append (starting with '&', maybe empty) and, for
 * client_secret_basic, the Basic credentials in *opts. NULL or why not;
 * *unavailable when the reason is a managed identity endpoint that could
 * not be reached or answered badly (an outage, not a misconfiguration). */
const char *entra_credential_fields(apr_pool_t *p, const entra_server_conf *sc,
                                    const char *token_endpoint, apr_int64_t now,
                                    const char **fields, entra_http_opts *opts,
                                    int *unavailable);

/* The signed private_key_jwt assertion itself (exposed for the unit tests). */
const char *entra_credential_assertion(apr_pool_t *p, const entra_server_conf *sc,
                                       const char *token_endpoint, apr_int64_t now,
                                       const char **jwt);

#endif
