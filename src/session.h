/* The signed-in session: when it started, when it ends, and the claims the
 * backend gets. Sealed whole into the session cookie. */
#ifndef ENTRA_SESSION_H
#define ENTRA_SESSION_H

#include "crypto.h"
#include "util.h"

#define ENTRA_SESSION_COOKIE "entra_session"
/* The session's own fields among the claims; ':' starts no claim name. */
#define ENTRA_SESSION_ACCESS_TOKEN ":at"
#define ENTRA_SESSION_ACCESS_EXPIRES ":ate"
/* Kept when Entra gives one (scope offline_access), rotated on refresh. */
#define ENTRA_SESSION_REFRESH_TOKEN ":rt"
/* The raw ID token, kept for id_token_hint with EntraLogoutRedirect On. */
#define ENTRA_SESSION_ID_TOKEN ":idt"
/* Set (to the reason) when a groups overage could not be resolved. */
#define ENTRA_GROUPS_UNRESOLVED ":groups-unresolved"
/* A claim the backend sees (X-Entra-Claim-groups-partial: <digest>): the
 * session is a cookie too small for all the user's groups, and `groups`
 * holds only those the configuration's Require lines name; the value is a
 * digest of that list (entra_conf_group_known). */
#define ENTRA_GROUPS_PARTIAL "groups-partial"
/* With a socache store, a list of groups too long for one request header
 * (ENTRA_GROUPS_HEADER_MAX) is kept whole here, for authorization alone:
 * `groups` and the partial marker are then what the cookie store keeps. */
#define ENTRA_GROUPS_ALL ":groups-all"
/* 64 KB: every list a socache session could keep before sessions were kept
 * in parts (about 1,700 groups) still reaches the backend whole. */
#define ENTRA_GROUPS_HEADER_MAX (64 * 1024)

typedef struct {
    apr_int64_t created;         /* seconds since the epoch */
    apr_int64_t expires;         /* hard end (EntraSessionMaxAge) */
    apr_int64_t last_seen;       /* for EntraSessionInactivityTimeout; 0 = created */
    apr_array_header_t *claims;  /* entra_pair: claim name -> header-ready value */
    const char *id;              /* the socache store's key; NULL in the cookie store */
    int parts;                   /* socache: the pieces the record was kept in (parts.h), */
    const char *parts_gen;       /* and their generation; 0 and NULL when kept whole */
    int from_bearer;             /* made from a bearer token for one request, not stored */
    const char *cookies_found;   /* the Cookie header a connection kept this session
                                  * for (store.c), */
    const char *cookies_stripped; /* and that header without the module's cookies */
    const char *cookies_sent;    /* the request's Cookie header as the browser sent
                                  * it, before authn.c took the module's own out
                                  * (a step-up that starts later needs them) */
} entra_session;

/* The session, sealed; NULL when it cannot be, or holds more than a
 * session may (1 MB plain). */
char *entra_session_seal(apr_pool_t *p, const entra_keyring *ring, const entra_session *s);

/* Per process, before its threads start: the copies of opened cookies. */
void entra_session_child_init(apr_pool_t *pchild);

/* entra_open with this process's copies of opened cookies: for a small
 * sealed value opened on every request (the socache store's session id). */
unsigned char *entra_open_kept(apr_pool_t *p, const entra_keyring *ring, const char *purpose,
                               const char *sealed, apr_size_t *len);

/* NULL when the cookie does not open, is malformed, has expired, or was
 * unused for longer than `inactivity` seconds (0: no limit): to the caller
 * all of those mean "not signed in". */
entra_session *entra_session_open(apr_pool_t *p, const entra_keyring *ring,
                                  const char *cookie, apr_int64_t now, apr_int64_t inactivity);

/* An opened session in one block (its times, its claim names, its claims
 * packed), in `p`: what the copies of opened cookies keep, and a connection
 * (connkept.h). It holds pointers to the claim names this process keeps
 * (claims.h), and never leaves the process: no store, no cookie. */
unsigned char *entra_session_image(apr_pool_t *p, const entra_session *s, apr_size_t *len);

/* The session an image holds, its claims pointing into it; NULL as
 * entra_session_open's (malformed, expired, unused too long). */
entra_session *entra_session_from_image(apr_pool_t *p, const unsigned char *image,
                                        apr_size_t len, apr_int64_t now, apr_int64_t inactivity);

#endif
