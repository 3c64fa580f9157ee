/* Keeping the access token fresh with the session's refresh token (scope
 * offline_access): before it expires, or on demand at /.auth/refresh. Entra
 * rotates the refresh token on every use, so concurrent requests of one
 * session must share one refresh: the first does it, the others wait for
 * and reuse its answer, across the server's processes (and across servers
 * with a shared socache session store). */
#ifndef ENTRA_REFRESH_H
#define ENTRA_REFRESH_H

#include <httpd.h>
#include "config.h"
#include "session.h"

/* Refresh this long before the access token expires. */
#define ENTRA_REFRESH_AHEAD 300

#define ENTRA_REFRESH_MUTEX "auth-entra-refresh"

void entra_refresh_pre_config(apr_pool_t *pconf);
int entra_refresh_post_config(apr_pool_t *pconf, server_rec *s);
/* Per child: attaches the cross-process lock. */
void entra_refresh_child_init(apr_pool_t *pchild);

typedef enum {
    ENTRA_REFRESH_NOT_NEEDED,   /* fresh enough, or nothing to refresh with */
    ENTRA_REFRESH_DONE,         /* session updated and saved */
    ENTRA_REFRESH_REFUSED,      /* Entra said no: the session has ended */
    ENTRA_REFRESH_FAILED        /* Entra unreachable: the session goes on as it was */
} entra_refresh_result;

/* Refreshes when the access token is due (or `force`). */
entra_refresh_result entra_refresh(request_rec *r, const entra_server_conf *sc,
                                   entra_session *session, int force);

/* EntraSessionRevalidate: the session's refresh token redeemed when the
 * last redemption (or the sign-in) is that old, whether or not the access
 * token is due. REFUSED: Entra refused it (invalid_grant: the account is
 * disabled, its sessions revoked), the session has ended (cleared); FAILED:
 * Entra could not be reached, the session goes on and is tried again 30
 * seconds later at the earliest (the breaker of refresh_now respected). */
entra_refresh_result entra_refresh_revalidate(request_rec *r, const entra_server_conf *sc,
                                              entra_session *session);

/* /.auth/refresh */
int entra_refresh_endpoint(request_rec *r, const entra_server_conf *sc);

#endif
