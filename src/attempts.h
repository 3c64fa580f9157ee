/* A browser's login attempts. Each has its own sealed state cookie, named
 * for its `state` and sent only to the callback path, so several tabs can
 * sign in at once. A small Path=/ index of them (<session cookie>_pending,
 * not secret, only ever used to delete the browser's own cookies) lets a
 * new attempt drop the oldest, so that all of them together stay within
 * what the callback's Cookie header may hold, however often a browser
 * starts over. */
#ifndef ENTRA_ATTEMPTS_H
#define ENTRA_ATTEMPTS_H

#include <httpd.h>
#include "config.h"

/* <the app's state prefix><state> */
const char *entra_state_cookie_name(apr_pool_t *p, const entra_server_conf *sc,
                                    const char *state);

/* Sets (or with max_age 0 deletes) a state cookie: SameSite=None with
 * form_post, whose callback is a cross-site POST. */
void entra_state_cookie_set(request_rec *r, const entra_server_conf *sc, const char *name,
                            const char *value, int max_age);

/* The hand-over cookie of a form_post step-up (state.h, login.c): one an
 * attempt, so tabs whose step-ups come back at once each keep theirs,
 * named like the state cookies (<prefix>handover.<state>: never a state's,
 * no state holds a '.'), SameSite=Lax, only for the callback path. Sets
 * it, or with max_age 0 deletes it. */
const char *entra_handover_cookie_name(apr_pool_t *p, const entra_server_conf *sc,
                                       const char *state);
void entra_handover_cookie_set(request_rec *r, const entra_server_conf *sc, const char *state,
                               const char *value, int max_age);

/* A new attempt whose state cookie adds `size` bytes: the oldest pending
 * ones go when they would not fit (their cookies deleted). `sent`: the
 * request's Cookie headers as the browser sent them (authn.h);
 * `session_stays`: a step-up, whose session cookies the callback gets too. */
void entra_pending_add(request_rec *r, const entra_server_conf *sc, const apr_table_t *sent,
                       int session_stays, const char *state, apr_int64_t size,
                       apr_int64_t now);

/* The callback took `state`: it leaves the index. */
void entra_pending_remove(request_rec *r, const entra_server_conf *sc, const char *state);

#endif
