/* Configuration: per-server (the app registration and session settings) and
 * per-directory (what a location publishes). Handlers only parse and check;
 * nothing here calls into httpd, so the unit tests drive them directly. */
#ifndef ENTRA_CONFIG_H
#define ENTRA_CONFIG_H

#include <httpd.h>
#include <http_config.h>
#include "crypto.h"
#include "provider.h"
#include "util.h"

#define ENTRA_DEFAULT_AUTHORITY "https://login.microsoftonline.com"
#define ENTRA_DEFAULT_SCOPE "openid profile email"
#define ENTRA_DEFAULT_REDIRECT "/.auth/login/aad/callback"
#define ENTRA_DEFAULT_REMOTE_USER_CLAIM "preferred_username"
#define ENTRA_DEFAULT_CLOCK_SKEW 300
#define ENTRA_DEFAULT_HTTP_TIMEOUT 10
#define ENTRA_DEFAULT_SESSION_MAX_AGE (8 * 3600)

typedef enum {
    ENTRA_AUTH_UNSET = -1,
    ENTRA_AUTH_SECRET_POST = 0,
    ENTRA_AUTH_SECRET_BASIC = 1
} entra_token_auth;

typedef struct {
    const char *tenant;
    const char *client_id;
    const char *client_secret;      /* the value itself, never a file: spec */
    const char *scope;
    const char *redirect_uri;       /* path or absolute URL */
    const char *authority;          /* no trailing slash */
    entra_keyring *session_keys;
    int cookie_secure;              /* -1 unset */
    int clock_skew;                 /* -1 unset; seconds */
    int http_timeout;               /* -1 unset; seconds */
    entra_token_auth token_auth;
    int session_max_age;            /* -1 unset; seconds */
    /* Per process, set at child_init: the discovery/JWKS cache. */
    entra_provider *provider;
} entra_server_conf;

typedef struct {
    apr_array_header_t *remote_user_claims;  /* const char *, NULL unset */
} entra_dir_conf;

void *entra_create_server_conf(apr_pool_t *p, server_rec *s);
void *entra_merge_server_conf(apr_pool_t *p, void *base, void *add);
void *entra_create_dir_conf(apr_pool_t *p, char *path);
void *entra_merge_dir_conf(apr_pool_t *p, void *base, void *add);

/* True when this server has any Entra setting, i.e. it must be complete. */
int entra_server_enabled(const entra_server_conf *c);

/* NULL when complete, else which directive is missing and why. */
const char *entra_server_check(apr_pool_t *p, const entra_server_conf *c);

/* Effective values, defaults applied. */
const char *entra_conf_scope(const entra_server_conf *c);
const char *entra_conf_redirect_uri(const entra_server_conf *c);
const char *entra_conf_authority(const entra_server_conf *c);
int entra_conf_cookie_secure(const entra_server_conf *c);
int entra_conf_clock_skew(const entra_server_conf *c);
int entra_conf_http_timeout(const entra_server_conf *c);
entra_token_auth entra_conf_token_auth(const entra_server_conf *c);
int entra_conf_session_max_age(const entra_server_conf *c);
const apr_array_header_t *entra_conf_remote_user_claims(const entra_dir_conf *d);
/* {authority}/{tenant}/v2.0/.well-known/openid-configuration */
const char *entra_conf_discovery_url(apr_pool_t *p, const entra_server_conf *c);

/* Directive handlers (the table itself is in mod_auth_entra.c). */
const char *entra_set_tenant(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_client_id(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_client_secret(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_scope(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_redirect_uri(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_authority(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_session_key(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_cookie_secure(cmd_parms *cmd, void *dc, int on);
const char *entra_set_clock_skew(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_http_timeout(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_token_auth(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_session_max_age(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_remote_user_claim(cmd_parms *cmd, void *dc, const char *arg);

/* Reads a secret given as a literal or as "file:/absolute/path" (trailing
 * newlines dropped). Returns NULL and sets *why when it cannot. */
const char *entra_read_secret(apr_pool_t *p, const char *spec, const char **why);

#endif
