/* Profile claims fetched with the sign-in's access token: the OIDC userinfo
 * endpoint, or Microsoft Graph /v1.0/me (EntraUserInfo oidc|graph). */
#ifndef ENTRA_USERINFO_H
#define ENTRA_USERINFO_H

#include <jansson.h>
#include "config.h"
#include "provider.h"

/* Graph's base URL: EntraGraphHost, else discovery's msgraph_host (the
 * cloud's own Graph). No trailing slash; NULL when neither names one. */
const char *entra_graph_base(apr_pool_t *p, const entra_server_conf *sc,
                             const entra_metadata *meta);

/* Fetches the configured profile and adds the claims the ID token lacks to
 * `claims` (entra_profile_merge). Returns NULL or a log-safe reason. */
const char *entra_userinfo_merge(apr_pool_t *p, const entra_server_conf *sc,
                                 const entra_metadata *meta, const char *access_token,
                                 json_t *claims);

/* Adds to `claims` the members of `profile` that it lacks, except the
 * identity and authorization claims only a signed token may carry (sub, oid,
 * tid, roles, groups, email, preferred_username, _claim_*, ...). Returns how
 * many were added. */
int entra_profile_merge(json_t *claims, json_t *profile);

/* Groups overage: Entra left out `groups` (over 200 of them) and sent
 * _claim_names/_claim_sources instead. */
int entra_groups_overage(json_t *claims);

/* Resolves the groups through Microsoft Graph (POST /v1.0/me/getMemberObjects,
 * transitive, pages followed) and sets `groups` in claims. NULL or why not. */
const char *entra_groups_resolve(apr_pool_t *p, const entra_server_conf *sc,
                                 const entra_metadata *meta, const char *access_token,
                                 json_t *claims);

#endif
