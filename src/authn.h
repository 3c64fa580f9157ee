/* The check_user_id hook for AuthType Entra: a valid session gives
 * REMOTE_USER and the claims; anything else starts a sign-in. */
#ifndef ENTRA_AUTHN_H
#define ENTRA_AUTHN_H

#include <httpd.h>

#define ENTRA_AUTH_TYPE "Entra"

int entra_check_user_id(request_rec *r);

/* The signed-in user's claims for this request (entra_pair), or NULL. */
const apr_array_header_t *entra_request_claims(request_rec *r);

/* post_read_request: drop client-sent headers posing as the module's. */
int entra_strip_spoofed_headers(request_rec *r);

#endif
