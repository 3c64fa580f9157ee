/* Conditional Access at the door: a signed-in user sent back to Entra for
 * more than the session holds, and the session upgraded when Entra gives it.
 *
 *   Require entra-acrs c1      the session's `acrs` must hold c1 (an
 *                              authentication context); if not, a step-up
 *                              with claims={"id_token":{"acrs":{"essential":
 *                              true,"value":"c1"}}}
 *   EntraMaxAuthAge <seconds>  the sign-in (`auth_time`) must be at most
 *                              that old; if not, a step-up with max_age
 *
 * A step-up names the user (login_hint), and its sealed state carries the
 * user (oid + tid) and what is asked: the callback accepts only a token of
 * that user that brings it, merges it into the session (acrs as a union,
 * the newer auth_time; nothing else lost) and sends the browser back where
 * it asked. A token without it, or of someone else, gets a 403 page that
 * says which step-up failed: never a second round trip. A caller that
 * cannot follow redirects (XHR, API, a bearer token, not a GET) gets 401
 * with WWW-Authenticate: Bearer error="insufficient_claims", claims="<base64
 * of the claims JSON>". */
#ifndef ENTRA_STEPUP_H
#define ENTRA_STEPUP_H

#include <httpd.h>
#include <jansson.h>
#include "config.h"
#include "session.h"
#include "state.h"

/* The session's last step-up, "<seconds since the epoch> <what>": the
 * same step-up asked again within ENTRA_STEPUP_AGAIN seconds answers 403
 * (a requirement Entra's answer does not meet here, such as a clock that
 * is off) instead of going round. */
#define ENTRA_SESSION_STEPUP ":su"
#define ENTRA_STEPUP_AGAIN 60

/* What a sign-in must bring. */
typedef struct {
    const char *acr;          /* the authentication context, or NULL */
    apr_int64_t max_age;      /* seconds, or -1 */
    const char *oid;          /* a step-up: the session's user; NULL for a sign-in */
    const char *tid;
    const char *login_hint;   /* a step-up: the account to pre-fill */
    const char *claims;       /* a claims challenge's JSON (challenge.h), or NULL */
} entra_stepup;

/* The mark (ENTRA_SESSION_STEPUP) of a step-up for a claims challenge. */
#define ENTRA_STEPUP_CLAIMS "claims"

/* Marks `s` with the step-up (or claims challenge) `st` was for, now: a
 * session the callback made or upgraded for it, so that the same request
 * right after is refused rather than sent round again. Nothing for a
 * plain sign-in. */
void entra_stepup_mark(request_rec *r, entra_session *s, const entra_state *st);

/* An authentication context id as Entra names them: c1 .. c99. */
int entra_acr_valid(const char *acr);

/* The claims parameter asking for `acr` in the ID token (JSON). */
const char *entra_stepup_claims(apr_pool_t *p, const char *acr);

/* In words, for pages and logs: "the authentication context c1", "a
 * sign-in within the last 600 seconds", or both. */
const char *entra_stepup_describe(apr_pool_t *p, const char *acr, apr_int64_t max_age);

/* A request's session needs `acr` (or NULL) and/or a sign-in no older
 * than max_age (or -1): a 302 to Entra for a browser's GET, 401 with the
 * insufficient_claims challenge for the others (`api`), 403 when the same
 * step-up was just done. The status to answer with (pages set with
 * ap_custom_response, headers in err_headers_out). */
int entra_stepup_start(request_rec *r, const entra_server_conf *sc, const entra_session *s,
                       const char *acr, apr_int64_t max_age, int api);

/* A claims challenge of the app's resource (challenge.h) for a browser's
 * navigation: a 302 to Entra with those claims for the same user, the
 * session upgraded with the fresh tokens on return. DECLINED (logged) when
 * the session already came back from one within ENTRA_STEPUP_AGAIN seconds
 * (the loop guard: the challenge passes through), or has no oid and tid;
 * else the status of the redirect or of the failure page. */
int entra_stepup_claims_challenge(request_rec *r, const entra_server_conf *sc,
                                  const entra_session *s, const char *claims);

/* What a state asked for, in words (logs). */
const char *entra_stepup_state_describe(apr_pool_t *p, const entra_state *st);

/* EntraMaxAuthAge at check_user_id: OK when the session's sign-in is
 * recent enough (or the location sets no bound), else what
 * entra_stepup_start answers (an API call's answer for a bearer token,
 * else as entra_is_api_request tells). */
int entra_stepup_auth_age(request_rec *r, const entra_server_conf *sc, const entra_session *s,
                          int bearer);

/* At the callback, the ID token's claims against what the state asked
 * for: OK, or the status of the 403 page written. */
int entra_stepup_verify(request_rec *r, const entra_server_conf *sc, const entra_state *st,
                        json_t *claims);

/* At the callback of a step-up (st->oid): the session upgraded and the
 * browser sent back, or the page written; DECLINED when the browser has
 * no session any more (the caller signs the user in afresh). */
int entra_stepup_upgrade(request_rec *r, const entra_server_conf *sc, const entra_state *st,
                         json_t *claims, json_t *answer);

#endif
