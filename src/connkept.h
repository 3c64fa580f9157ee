/* What a kept-alive connection keeps of the last credential it was
 * accepted with.
 *
 * A browser on a kept-alive connection sends the same Cookie header on
 * every request, and an API client the same bearer token. What the last
 * one was accepted with (the session it opened, the token's claims) is
 * kept with the connection, for the virtual host that accepted it: a
 * request that brings the same credential (compared whole, in constant
 * time) to the same virtual host before it expires is spared the cookie's
 * walk, the process copies' hash and lock, or the token's hash. What is
 * kept is still checked on every use as a fresh copy would be (times,
 * ended sessions, a token's tenant; a session's tenant rules are those of
 * the virtual host that opened it, fixed while the process lives): the
 * connection only saves the opening.
 *
 * Kept in memory of the connection's own (malloc'd, wiped when it goes),
 * one credential of each kind, replaced in place: a front proxy that sends
 * the requests of many users over one connection only replaces it more
 * often, and it stays no longer than the connection that brought it. One
 * unused for ENTRA_CONN_KEPT_IDLE seconds is not used again, as a
 * process's copies of opened cookies: it is wiped at the connection's
 * next look for one of its kind, or when the connection closes. An
 * HTTP/1.x connection serves one request at a time; an HTTP/2 stream runs
 * on a connection of its own (c->master), and keeps nothing. A request
 * gets a copy in its own pool: what a request still holds (its log line
 * is written after the next request may have begun) never points here. */
#ifndef ENTRA_CONNKEPT_H
#define ENTRA_CONNKEPT_H

#include <httpd.h>

/* A credential or value longer is not kept: a connection holds at most
 * twice this of each kind. */
#define ENTRA_CONN_KEPT_MAX 16384
#define ENTRA_CONN_KEPT_IDLE 30             /* seconds */

typedef enum {
    ENTRA_KEPT_BEARER,          /* a bearer token: its claims, packed */
    ENTRA_KEPT_SESSION,         /* a Cookie header: its session's image (session.h) */
    ENTRA_KEPT_KINDS
} entra_kept_kind;

/* The value kept for `credential` by `owner` (the virtual host's config)
 * on r's connection, copied into r->pool and ended by '\0' (*len without
 * it); NULL when the connection keeps no such thing. One kept until `now`
 * or before is wiped. */
unsigned char *entra_conn_kept_get(request_rec *r, entra_kept_kind kind, const void *owner,
                                   const char *credential, apr_int64_t now, apr_size_t *len);

/* Keeps `value` for `credential` and `owner`, used `now`, until
 * `valid_until` (seconds since the epoch, as `now`), in place of what the
 * connection kept of this kind (which goes in any case). */
void entra_conn_kept_put(request_rec *r, entra_kept_kind kind, const void *owner,
                         const char *credential, const unsigned char *value, apr_size_t len,
                         apr_int64_t now, apr_int64_t valid_until);

/* Wipes what the connection keeps of this kind: a credential refused on
 * it, whose client has no business with the one before. */
void entra_conn_kept_forget(request_rec *r, entra_kept_kind kind);

#endif
