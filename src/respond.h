/* Answers the module gives the browser itself: short pages, redirects and
 * cookies, always uncacheable. */
#ifndef ENTRA_RESPOND_H
#define ENTRA_RESPOND_H

#include <httpd.h>
#include "config.h"

/* Writes a short HTML page with `status`; title and message are escaped
 * here. Returns DONE: the response is complete, nothing else may follow. */
int entra_page(request_rec *r, int status, const char *title, const char *message);

/* 302 to `location`. */
int entra_redirect(request_rec *r, const char *location);

/* 303 to `location`: the browser follows with a GET whatever the method. */
int entra_redirect_see_other(request_rec *r, const char *location);

/* Set-Cookie with HttpOnly, SameSite=Lax, Secure per EntraCookieSecure.
 * max_age < 0 means a browser-session cookie; 0 deletes it. */
void entra_cookie_set(request_rec *r, const entra_server_conf *sc, const char *name,
                      const char *value, const char *path, int max_age);

/* The same with SameSite=None, for a cookie that must come back on a
 * cross-site POST (response_mode=form_post): always Secure, whatever
 * EntraCookieSecure says, since browsers drop it otherwise. */
void entra_cookie_set_cross_site(request_rec *r, const entra_server_conf *sc, const char *name,
                                 const char *value, const char *path, int max_age);

/* "scheme://host[:port]" of this request, as ServerName/UseCanonicalName say. */
const char *entra_origin(request_rec *r);

/* EntraRedirectURI as an absolute URL, and its path alone. */
const char *entra_redirect_uri_abs(request_rec *r, const entra_server_conf *sc);
const char *entra_redirect_uri_path(const entra_server_conf *sc);

/* The request's parameters: the query for GET/HEAD, the urlencoded form body
 * for POST (64 KiB at most). NULL when malformed or too big. */
apr_table_t *entra_request_params(request_rec *r);

#endif
