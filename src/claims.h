/* What the backend sees: REMOTE_USER, X-Entra-Claim-<name> request headers
 * and ENTRA_CLAIM_<name> environment variables; and the removal of any
 * client-sent header that could pose as one of them. */
#ifndef ENTRA_CLAIMS_H
#define ENTRA_CLAIMS_H

#include <apr_tables.h>
#include <jansson.h>
#include "config.h"

#define ENTRA_HEADER_PREFIX "X-Entra-Claim-"
#define ENTRA_ENV_PREFIX "ENTRA_CLAIM_"
#define ENTRA_ACCESS_TOKEN_HEADER "X-Entra-Access-Token"
/* Every header the module may set starts with this (lowercase, '-'). */
#define ENTRA_SPOOF_PREFIX "x-entra-"
/* What Azure App Service Authentication ("Easy Auth") sets, as those
 * prefixes compare: client-sent ones are removed like X-Entra-*. */
#define ENTRA_SPOOF_PREFIX_PRINCIPAL "x-ms-client-principal"
#define ENTRA_SPOOF_PREFIX_TOKEN "x-ms-token-"
/* The two prefixes as entra_header_has_prefix compares them */
#define ENTRA_HEADER_PREFIX_LOWER "x-entra-claim-"
#define ENTRA_ENV_PREFIX_LOWER "entra-claim-"

/* Token claims as header-ready pairs: arrays joined with ',', objects as
 * compact JSON, control characters replaced by spaces, odd names dropped.
 * The names of the array claims are kept in ENTRA_CLAIMS_ARRAYS, so a
 * string that merely contains a ',' is never read as a list. */
apr_array_header_t *entra_claims_from_json(apr_pool_t *p, json_t *claims);

#define ENTRA_CLAIMS_ARRAYS ":arrays"

/* True when claim `name` holds `value`: one of its elements if it was an
 * array, the whole value otherwise. */
int entra_claims_has(const apr_array_header_t *claims, const char *name, const char *value);

/* True when claim `name` was an array in the token. */
int entra_claims_is_array(const apr_array_header_t *claims, const char *name);

/* Removes every header whose name, lowercased with '_' read as '-', starts
 * with "x-entra-", "x-ms-client-principal" or "x-ms-token-". Returns how
 * many names were removed. */
int entra_claims_strip_spoofed(apr_pool_t *p, apr_table_t *headers);

/* The claim name `claim` as this process keeps it for its whole life
 * (the same pointer for the same name), or NULL when it cannot be kept.
 * Claims whose names are such pointers are published without a lookup of
 * their header names: a session copied within the process (session.c)
 * keeps them. The pointer means nothing in another process. */
const char *entra_claim_name_kept(const char *claim);

/* Whether `name` is a pointer entra_claim_name_kept gave. */
int entra_claim_name_is_kept(const char *name);

/* Claims in one block, in `p` (NUL-terminated, *len without it), with
 * the names this process keeps for them: unpacked, their names are the
 * kept pointers, and publishing them looks no name up. For the process's
 * own copies only (a session's image, a validated token): the block holds
 * pointers, and never leaves the process. Unpacked claims point into the
 * block; NULL when it is malformed. */
unsigned char *entra_claims_pack_kept(apr_pool_t *p, const apr_array_header_t *claims,
                                      apr_size_t *len);
apr_array_header_t *entra_claims_unpack_kept(apr_pool_t *p, const unsigned char *block,
                                             apr_size_t len);

/* Sets the claim headers and environment variables for `claims`. */
void entra_claims_publish(apr_pool_t *p, const apr_array_header_t *claims,
                          apr_table_t *headers, apr_table_t *env);

/* EntraClaimMap: sets each map's name to its first present source claim. */
void entra_claims_apply_map(apr_array_header_t *claims, const apr_array_header_t *maps);

/* The value of the first of `names` (const char *) present and non-empty. */
const char *entra_claims_pick(const apr_array_header_t *claims,
                              const apr_array_header_t *names);
/* The same for REMOTE_USER: an array claim (Azure AD B2C's `emails`) gives
 * its first element. */
const char *entra_claims_pick_user(apr_pool_t *p, const apr_array_header_t *claims,
                                   const apr_array_header_t *names);

/* EntraEasyAuthHeaders: the JSON that App Service's X-MS-CLIENT-PRINCIPAL
 * carries (before base64), for `claims` (entra_claims_from_json pairs):
 * {"auth_typ":"aad","claims":[{"typ":...,"val":...}],"name_typ":...,
 * "role_typ":...}, claims under App Service's claim types (oid as
 * http://schemas.microsoft.com/identity/claims/objectidentifier, ...), one
 * entry per element of an array claim, every value a string; the session's
 * own fields and the module's markers left out. NULL when out of memory. */
char *entra_easyauth_principal_json(apr_pool_t *p, const apr_array_header_t *claims);

/* The same, base64 (standard alphabet, with padding) as App Service sends it. */
char *entra_easyauth_principal(apr_pool_t *p, const apr_array_header_t *claims);

/* App Service's claim type for a token claim name: a URI for the claims
 * its default mapping renames, else the name itself. */
const char *entra_easyauth_claim_type(const char *name);

/* X-MS-TOKEN-AAD-EXPIRES-ON: seconds since the epoch as App Service writes
 * them, 2024-05-01T12:00:00.0000000Z. */
char *entra_easyauth_time(apr_pool_t *p, apr_int64_t secs);

#endif
