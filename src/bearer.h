/* AuthType Entra-Bearer (or EntraAcceptBearer On): an API called with an
 * access token Entra issued for this app (aud = client id or App ID URI,
 * v1 or v2 issuer), validated like an ID token, with no session. */
#ifndef ENTRA_BEARER_H
#define ENTRA_BEARER_H

#include <httpd.h>
#include "config.h"
#include "session.h"

#define ENTRA_BEARER_AUTH_TYPE "Entra-Bearer"

/* The token of an "Authorization: Bearer" header, or NULL. */
const char *entra_bearer_token(request_rec *r);

/* Validates the token. Returns OK with *session holding its claims, or the
 * error status (401 with WWW-Authenticate, 502 when keys are unavailable). */
int entra_bearer_check(request_rec *r, const entra_server_conf *sc, const char *token,
                       entra_session **session);

/* Per child: the cache of tokens validated before. */
void entra_bearer_child_init(apr_pool_t *pchild);

/* 401 asking for a bearer token; error may be NULL. */
int entra_bearer_challenge(request_rec *r, const char *error, const char *description);

/* 403's challenge for a token that lacks a required scope (RFC 6750 3.1):
 * error="insufficient_scope", scope="<scopes>" (space-separated). */
void entra_bearer_insufficient_scope(request_rec *r, const char *scopes);

#endif
