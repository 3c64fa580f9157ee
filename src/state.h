/* One login attempt: what the callback needs to finish it. It travels in its
 * own sealed cookie named <the app's state prefix> + state, so several tabs
 * can sign in at once, and it never touches server memory. */
#ifndef ENTRA_STATE_H
#define ENTRA_STATE_H

#include "crypto.h"

#define ENTRA_STATE_COOKIE_PREFIX "entra_state_"
#define ENTRA_STATE_TTL 600          /* Entra's codes live about ten minutes */

typedef struct {
    const char *state;          /* the `state` parameter, 128 random bits */
    const char *nonce;
    const char *code_verifier;  /* PKCE */
    const char *return_to;      /* same-origin path + query */
    const char *redirect_uri;   /* the absolute URI sent to authorize */
    apr_int64_t expires;        /* seconds since the epoch */
    /* What the returned ID token must show (a sign-in at a location with
     * EntraMaxAuthAge, or a step-up): */
    const char *acr;            /* the authentication context asked for (claims), or NULL */
    apr_int64_t max_age;        /* max_age sent to authorize; -1 none */
    /* A step-up: the signed-in user it is for (the token must be theirs);
     * NULL for a plain sign-in. */
    const char *oid;
    const char *tid;
    /* A step-up for a claims challenge of the app's resource (the claims
     * went to authorize; the session's mark says so: loop guard). */
    int claims_challenge;
    /* A step-up: the bytes of the Cookie header(s) its start brought (the
     * session's cookies among them), to tell whether the callback's GET
     * can bring them with a hand-over cookie (login.c); -1 unknown. */
    apr_int64_t cookie_bytes;
} entra_state;

/* A fresh attempt (no acr, max_age, oid or tid); NULL only if the random
 * source fails. */
entra_state *entra_state_new(apr_pool_t *p, const char *return_to,
                             const char *redirect_uri, apr_int64_t now);

char *entra_state_seal(apr_pool_t *p, const entra_keyring *ring, const entra_state *st);

/* Opens a state cookie and checks it belongs to `state_param` and has not
 * expired. On failure returns NULL and sets *why to a log-safe reason. */
entra_state *entra_state_open(apr_pool_t *p, const entra_keyring *ring, const char *cookie,
                              const char *state_param, apr_int64_t now, const char **why);

/* A state parameter that can name a cookie: base64url, 16..64 chars. */
int entra_state_param_ok(const char *state_param);

/* The callback's parameters (state, code, Entra's error fields), handed
 * from a form_post step-up's cross-site POST to its same-site GET (see
 * login.c) in a sealed cookie of their own that lives ENTRA_HANDOVER_TTL
 * seconds. Only the parameters the callback reads are kept. */
#define ENTRA_HANDOVER_TTL 60

char *entra_handover_seal(apr_pool_t *p, const entra_keyring *ring, apr_table_t *params,
                          apr_int64_t now);

/* The parameters again; NULL (with a log-safe *why) when the cookie does
 * not open (tampered, another key or app, not a hand-over) or has expired. */
apr_table_t *entra_handover_open(apr_pool_t *p, const entra_keyring *ring, const char *sealed,
                                 apr_int64_t now, const char **why);

#endif
