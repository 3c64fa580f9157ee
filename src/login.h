/* Sending a browser to Entra, and taking it back at the callback. */
#ifndef ENTRA_LOGIN_H
#define ENTRA_LOGIN_H

#include <httpd.h>
#include "config.h"
#include "stepup.h"

/* 302 to Entra's authorize endpoint with a fresh state cookie, or an error
 * status (502 when Entra's metadata cannot be had). */
int entra_login_redirect(request_rec *r, const entra_server_conf *sc);

/* The same, coming back to `return_to` (a safe path) after the callback. */
int entra_login_start(request_rec *r, const entra_server_conf *sc, const char *return_to);

/* A step-up (stepup.h): the same, coming back to this request's URL, with
 * what `need` asks for sealed in the state and sent to Entra. */
int entra_login_stepup(request_rec *r, const entra_server_conf *sc, const entra_stepup *need);

/* GET /.auth/login/aad?post_login_redirect_uri=/path (App Service's URL):
 * starts a sign-in that ends on that path, same origin only, else on "/". */
int entra_login_endpoint(request_rec *r, const entra_server_conf *sc);

/* The redirect URI: checks state, redeems the code, validates the ID token,
 * starts the session and sends the browser back where it started. */
int entra_callback(request_rec *r, const entra_server_conf *sc);

#endif
