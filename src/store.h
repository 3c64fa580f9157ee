/* Where the sealed session lives between requests. EntraSessionStore cookie
 * (the default): in the entra_session cookie, split into entra_session_<n>
 * chunks when it outgrows one cookie. */
#ifndef ENTRA_STORE_H
#define ENTRA_STORE_H

#include <httpd.h>
#include "config.h"
#include "session.h"

/* Browsers keep cookies up to 4096 bytes, name and attributes included. */
#define ENTRA_COOKIE_CHUNK 3800
#define ENTRA_COOKIE_CHUNKS_MAX 16

/* The session this request carries, or NULL (absent, incomplete, tampered,
 * expired: all mean "not signed in"). */
entra_session *entra_store_load(request_rec *r, const entra_server_conf *sc);

/* Seals and saves the session; returns 0 when it cannot be sealed or is
 * too big even for chunks. */
int entra_store_save(request_rec *r, const entra_server_conf *sc, const entra_session *s);

/* Ends the session: deletes the cookie and every chunk the browser sent. */
void entra_store_clear(request_rec *r, const entra_server_conf *sc);

#endif
