/* The check_user_id hook for AuthType Entra: a valid session gives
 * REMOTE_USER and the claims; anything else starts a sign-in. */
#ifndef ENTRA_AUTHN_H
#define ENTRA_AUTHN_H

#include <httpd.h>

#define ENTRA_AUTH_TYPE "Entra"

int entra_check_user_id(request_rec *r);

/* The signed-in user's claims for this request (entra_pair), or NULL. */
const apr_array_header_t *entra_request_claims(request_rec *r);

/* A caller that cannot follow a sign-in round trip: script, API client,
 * or a browser fetching a sub-resource (X-Requested-With, Sec-Fetch-Mode,
 * Accept). */
int entra_is_api_request(request_rec *r);

/* fixups: no backend of an Entra-enabled server sees the module's cookies,
 * whatever the location's access rules. */
int entra_hide_cookies_fixup(request_rec *r);

/* The request's Cookie header as the browser sent it: a signed-in request
 * has the module's own cookies taken out (its pending sign-ins and session
 * cookies), which a step-up starting on it must still count. */
const apr_table_t *entra_cookies_sent(request_rec *r);

/* force_authn: AuthType Entra with EntraUnauthAction pass authenticates
 * where no Require needs a user, so signed-in users' claims still flow. */
int entra_force_authn(request_rec *r);

/* post_read_request: drop client-sent headers posing as the module's. */
int entra_strip_spoofed_headers(request_rec *r);

#endif
