/* Where the sealed session lives between requests. EntraSessionStore cookie
 * (the default): in the app's session cookie (entra_session_<app tag>, with
 * __Host- when Secure), split into <name>_<n> chunks when it outgrows one. EntraSessionStore socache: in an
 * Apache socache (shmcb, redis, memcache) under a random id that the cookie
 * carries, sealed. */
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

/* The same, telling apart a socache store that is down (*unavailable). */
entra_session *entra_store_load_ex(request_rec *r, const entra_server_conf *sc,
                                   int *unavailable);

/* Seals and saves the session (a new one gets its socache id here);
 * returns 1 when saved, ENTRA_STORE_TOO_BIG when it is more than the store
 * could give back (logged; nothing stored), 0 when it cannot be sealed or
 * the store is down. */
#define ENTRA_STORE_TOO_BIG (-1)
int entra_store_save(request_rec *r, const entra_server_conf *sc, entra_session *s);

/* With the cookie store: whether the session fits in the cookies a browser
 * can send back (always true with a socache store). */
int entra_store_cookie_fits(request_rec *r, const entra_server_conf *sc, const entra_session *s);

/* Ends the session: forgets it in the socache store, deletes the cookie
 * and every chunk the browser sent. */
void entra_store_clear(request_rec *r, const entra_server_conf *sc, const entra_session *s);

/* Front-channel logout: ends the socache session Entra knows by `sid`, or,
 * with the cookie store, remembers `sid` as ended so its cookies are
 * refused from then on (a sid this server signed in). Returns 1 when done,
 * 0 when there is no such session or the store is down,
 * ENTRA_STORE_RATE_LIMITED when unknown sids come too fast (ended.h). */
#define ENTRA_STORE_RATE_LIMITED (-2)
int entra_store_end_sid(request_rec *r, const entra_server_conf *sc, const char *sid);

#endif
