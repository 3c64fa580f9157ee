/* /.auth/logout: ends the local session and, with EntraLogoutRedirect On,
 * the Entra session too. Guarded against cross-site forgery: another site
 * can only show the user a confirmation page, never sign them out. */
#ifndef ENTRA_LOGOUT_H
#define ENTRA_LOGOUT_H

#include <httpd.h>
#include "config.h"

int entra_logout(request_rec *r, const entra_server_conf *sc);

#endif
