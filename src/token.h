/* Calls to Entra's token endpoint (code redemption, refresh) and ID-token
 * checks, shared by the callback and the refresh. No pages here: callers
 * decide what the user sees. */
#ifndef ENTRA_TOKEN_H
#define ENTRA_TOKEN_H

#include <jansson.h>
#include "config.h"
#include "provider.h"

typedef enum {
    ENTRA_TOKEN_OK,             /* *answer is the JSON success answer */
    ENTRA_TOKEN_REFUSED,        /* an OAuth error (invalid_grant, ...): *answer has it,
                                 * *why the HTTP status */
    ENTRA_TOKEN_UNAVAILABLE,    /* no usable answer: *why says why */
    ENTRA_TOKEN_MISCONFIGURED   /* our own credential cannot be used: *why */
} entra_token_status;

/* POSTs `grant` (form fields without client authentication) to the token
 * endpoint with the configured client credential. */
entra_token_status entra_token_call(apr_pool_t *p, const entra_server_conf *sc,
                                    const entra_metadata *meta, const char *grant,
                                    json_t **answer, const char **why);

/* Whether a success answer's token_type is Bearer (case-insensitive, RFC
 * 6749 5.1); missing is not. entra_token_call answers UNAVAILABLE otherwise. */
int entra_token_type_bearer(json_t *answer);

/* The OAuth error of a REFUSED answer, for a log line: error, AADSTS
 * description's first line, trace and correlation ids. */
const char *entra_token_error_text(apr_pool_t *p, json_t *answer);

/* Seconds the answer's access token lives (expires_in: a number from v2,
 * a string from v1); 0 when absent. */
apr_int64_t entra_token_expires_in(json_t *answer);

/* Verifies an ID token (nonce may be NULL). NULL with *why, and with
 * *unavailable set when the JWKS could not be had at all. */
/* Why `claims` are not of the B2C policy EntraPolicy names (tfp or acr),
 * or NULL when they are or no EntraPolicy is set: for ID and access tokens. */
const char *entra_policy_refusal(apr_pool_t *p, const entra_server_conf *sc, json_t *claims);

json_t *entra_id_token_verify(apr_pool_t *p, const entra_server_conf *sc,
                              const entra_metadata *meta, const char *token,
                              const char *nonce, const char **why, int *unavailable);

#endif
