/* The module's own URLs: the callback (EntraRedirectURI) and /.auth/...
 * Served before any access control, for every virtual host that has Entra
 * configured, so the administrator needs no <Location> for them. */
#ifndef ENTRA_ENDPOINTS_H
#define ENTRA_ENDPOINTS_H

#include <httpd.h>
#include "config.h"

#define ENTRA_LOGOUT_PATH "/.auth/logout"
#define ENTRA_ME_PATH "/.auth/me"
#define ENTRA_LOGIN_PATH "/.auth/login/aad"
#define ENTRA_REFRESH_PATH "/.auth/refresh"

/* DECLINED when the request is not for one of the module's URLs. */
int entra_endpoint_dispatch(request_rec *r, const entra_server_conf *sc);

#endif
