/* Claims challenges from the app (Continuous Access Evaluation for apps
 * behind Apache). With EntraPassAccessToken the backend calls Graph or its
 * own API as the user; when such a resource answers with a claims
 * challenge, the app passes it on: 401 with WWW-Authenticate: Bearer
 * error="insufficient_claims", claims="<base64 JSON>". An output filter on
 * the locations of AuthType Entra that a session signed in turns that
 * answer, for a browser's navigation (a GET that entra_is_api_request does
 * not call an API's), into a step-up (stepup.h) with those claims (and
 * EntraClientCapabilities' xms_cc) for the same user, back to the same URL
 * with a fresh access token. XHR/API callers, a challenge that does not
 * parse (challenge.h), and the same session again within
 * ENTRA_STEPUP_AGAIN seconds of such a sign-in get the app's 401 as it
 * is. */
#ifndef ENTRA_CAE_H
#define ENTRA_CAE_H

#include <httpd.h>

#define ENTRA_CAE_FILTER "ENTRA_CLAIMS_CHALLENGE"

void entra_cae_register(apr_pool_t *p);

#endif
