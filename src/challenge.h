/* Claims challenges and the claims parameter (Conditional Access).
 *
 * A resource that wants more of an access token than it got (Continuous
 * Access Evaluation, a Conditional Access policy) answers 401 with
 *     WWW-Authenticate: Bearer realm="", error="insufficient_claims",
 *                       claims="<base64 of a JSON object>"
 * entra_challenge_parse finds such a challenge among a response's
 * WWW-Authenticate headers (several headers, several challenges in one,
 * parameters in any order, quoted or not, any case of scheme and names)
 * and gives its claims JSON, checked: standard or URL-safe base64, at most
 * ENTRA_CHALLENGE_MAX bytes decoded, one JSON object whose members are
 * access_token, id_token or userinfo, each an object, nested a few levels
 * at most. Anything else is junk: the response passes unchanged.
 *
 * entra_claims_request builds the `claims` parameter of an authorize or
 * token request: a step-up's or a challenge's JSON with the client
 * capabilities (EntraClientCapabilities cp1) merged in as
 * {"access_token":{"xms_cc":{"values":["cp1"]}}}, one object. Nothing here
 * calls into httpd (unit-tested). */
#ifndef ENTRA_CHALLENGE_H
#define ENTRA_CHALLENGE_H

#include <apr_pools.h>
#include <apr_tables.h>

/* Decoded claims JSON of a challenge, bytes. */
#define ENTRA_CHALLENGE_MAX 2048
/* All WWW-Authenticate values of one response together, bytes. */
#define ENTRA_CHALLENGE_HEADERS_MAX 8192

/* The claims JSON (compact, as Entra takes it) of the one Bearer
 * insufficient_claims challenge in `headers` (WWW-Authenticate). NULL when
 * there is none (*why NULL), or when it is malformed or ambiguous (*why
 * says how, log-safe). */
const char *entra_challenge_parse(apr_pool_t *p, const apr_table_t *headers, const char **why);

/* The same for one header value (unit tests, and the above). */
const char *entra_challenge_parse_value(apr_pool_t *p, const char *value, const char **why);

/* `claims` (a JSON object, or NULL) with `caps` (const char *, or NULL)
 * as access_token.xms_cc; compact JSON. NULL when there is nothing to ask
 * (no claims, no caps), or when `claims` is not a JSON object or its
 * access_token member is not an object. */
const char *entra_claims_request(apr_pool_t *p, const char *claims,
                                 const apr_array_header_t *caps);

#endif
