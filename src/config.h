/* Configuration: per-server (the app registration and session settings) and
 * per-directory (what a location publishes). Handlers only parse and check;
 * nothing here calls into httpd, so the unit tests drive them directly. */
#ifndef ENTRA_CONFIG_H
#define ENTRA_CONFIG_H

#include <httpd.h>
#include <http_config.h>
#include <apr_hash.h>
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
#define ENTRA_DEFAULT_SESSION_INACTIVITY 3600
/* Cookie names without EntraCookieName: these + the app's tag. Backends
 * never see any cookie whose name starts with one of them (authn.c). */
#define ENTRA_COOKIE_SESSION_BASE "entra_session_"
#define ENTRA_COOKIE_STATE_BASE "entra_state_"

typedef enum {
    ENTRA_AUTH_UNSET = -1,
    ENTRA_AUTH_SECRET_POST = 0,
    ENTRA_AUTH_SECRET_BASIC = 1
} entra_token_auth;

typedef enum { ENTRA_MODE_QUERY = 0, ENTRA_MODE_FORM_POST = 1 } entra_response_mode;
typedef enum { ENTRA_USERINFO_NONE = 0, ENTRA_USERINFO_OIDC = 1, ENTRA_USERINFO_GRAPH = 2 }
    entra_userinfo_source;
typedef enum { ENTRA_ALG_RS256 = 0, ENTRA_ALG_PS256 = 1 } entra_assertion_alg;

/* EntraClaimMap <name> <source>...: publish `name` from the first source. */
typedef struct {
    const char *name;
    apr_array_header_t *sources;    /* const char * */
} entra_claim_map;

typedef struct entra_credential entra_credential;   /* credential.h */
typedef struct entra_socache entra_socache;         /* socache.h */

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
    int session_inactivity;         /* -1 unset; seconds, 0 = none */
    entra_socache *session_cache;   /* EntraSessionStore socache; NULL = cookie */
    int session_store_set;
    int endpoint_version;           /* -1 unset; 1 or 2 */
    int response_mode;              /* -1 unset; entra_response_mode */
    const char *domain_hint;
    const char *prompt;
    apr_array_header_t *allowed_tenants;    /* const char *, GUIDs */
    apr_array_header_t *claim_maps;         /* entra_claim_map */
    int pass_access_token;          /* -1 unset */
    int logout_redirect;            /* -1 unset */
    int easyauth_headers;           /* -1 unset: EntraEasyAuthHeaders */
    int userinfo;                   /* -1 unset; entra_userinfo_source */
    const char *graph_host;         /* host, or URL for a test IdP */
    const char *app_id_uri;         /* bearer audience besides the client id */
    const char *client_cert_file;   /* PEM; with client_key_file */
    const char *client_key_file;
    int assertion_alg;              /* -1 unset; entra_assertion_alg */
    const char *client_assertion_file;
    const char *managed_identity;   /* EntraManagedIdentity: client id of a user-assigned identity */
    const char *mi_endpoint;        /* EntraManagedIdentityEndpoint URL; NULL: IMDS, or
                                     * $IDENTITY_ENDPOINT on App Service */
    int mi_appservice;              /* -1 unset; 1: the endpoint speaks App Service's protocol */
    const char *policy;             /* EntraPolicy: Azure AD B2C user flow / custom policy */
    const char *cookie_name;        /* EntraCookieName; NULL: derived from the app */
    /* Conditional Access (claims challenges, revocation; challenge.h) */
    apr_array_header_t *client_caps;    /* EntraClientCapabilities: const char *; NULL unset */
    int session_revalidate;             /* EntraSessionRevalidate: -1 unset, 0 off; seconds */
    /* Group ids that a Require entra-group (or entra-claim groups:...) of
     * the configuration names, lowercase -> "": what a cookie session too
     * big for all of a user's groups keeps (.htaccess Requires are not
     * seen here). */
    apr_hash_t *named_groups;
    const char *named_groups_digest;    /* of the sorted list, set by entra_server_bind */
    /* Bound at start-up (entra_server_bind): everything the module seals or
     * stores belongs to this app, so apps sharing EntraSessionKey or a
     * session store never accept each other's records. */
    const char *app;                /* client id, tenant, authority, version */
    const char *app_tag;            /* short hash of `app`: names and keys */
    entra_keyring *app_keys;        /* session_keys bound to `app` */
    const char *session_cookie;     /* __Host-<name> when Secure */
    const char *state_cookie_prefix;/* __Secure-<...>_ when Secure; + state */
    const char *const *own_cookies; /* name patterns hidden from the backends
                                     * (entra_cookie_header_strip) */
    /* Loaded at start-up from the three above (check_config). */
    entra_credential *credential;
    /* Per process, set at child_init: the discovery/JWKS cache. */
    entra_provider *provider;
} entra_server_conf;

typedef enum {
    ENTRA_UNAUTH_UNSET = -1,
    ENTRA_UNAUTH_AUTH = 0,      /* browsers sign in, API callers get 401 */
    ENTRA_UNAUTH_401 = 1,
    ENTRA_UNAUTH_403 = 2,
    ENTRA_UNAUTH_PASS = 3       /* let the app decide; claims when signed in */
} entra_unauth_action;

typedef struct {
    apr_array_header_t *remote_user_claims;  /* const char *, NULL unset */
    int unauth_action;                        /* entra_unauth_action */
    int accept_bearer;                        /* -1 unset */
    int max_auth_age;                         /* EntraMaxAuthAge: -1 unset, 0 off; seconds */
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
int entra_conf_session_inactivity(const entra_server_conf *c);
entra_unauth_action entra_conf_unauth_action(const entra_dir_conf *d);
int entra_conf_accept_bearer(const entra_dir_conf *d);
/* EntraMaxAuthAge: how old a sign-in may be here, seconds; 0 = any age. */
int entra_conf_max_auth_age(const entra_dir_conf *d);
/* EntraAppIDURI, default api://<client id> */
const char *entra_conf_app_id_uri(apr_pool_t *p, const entra_server_conf *c);
int entra_conf_endpoint_version(const entra_server_conf *c);
entra_response_mode entra_conf_response_mode(const entra_server_conf *c);
int entra_conf_pass_access_token(const entra_server_conf *c);
int entra_conf_logout_redirect(const entra_server_conf *c);
/* EntraEasyAuthHeaders: App Service's X-MS-* headers for the backend. */
int entra_conf_easyauth_headers(const entra_server_conf *c);
entra_userinfo_source entra_conf_userinfo(const entra_server_conf *c);
entra_assertion_alg entra_conf_assertion_alg(const entra_server_conf *c);
const apr_array_header_t *entra_conf_remote_user_claims(const entra_dir_conf *d);
/* EntraClientCapabilities: the client capabilities (cp1), or NULL. */
const apr_array_header_t *entra_conf_client_caps(const entra_server_conf *c);
/* EntraSessionRevalidate: seconds between a session's revalidations; 0 = never. */
int entra_conf_session_revalidate(const entra_server_conf *c);
/* Records a group id a Require line names (at start-up only). */
void entra_conf_name_group(cmd_parms *cmd, const char *group);
/* True when a Require of this server names `group`. */
int entra_conf_group_named(const entra_server_conf *c, const char *group);

/* Whether membership of `group` is known from a session's groups: always,
 * unless the session kept only the named groups (`partial`: the digest of
 * the list it kept them by) and `group` is not among those named now, by
 * the same list. */
int entra_conf_group_known(const entra_server_conf *c, const char *partial, const char *group);

/* EntraAllowedTenants admits `tid` (always true without the directive). */
int entra_conf_tenant_allowed(const entra_server_conf *c, const char *tid);

/* A session's `tid` against the app's tenant rules as configured now:
 * EntraTenant (a GUID, consumers, organizations) and EntraAllowedTenants. */
int entra_conf_session_tenant_ok(const entra_server_conf *c, const char *tid);

/* Binds the server to its app (the fields after cookie_name above): called
 * once per configuration load, after the directives are read. Returns an
 * error text or NULL. */
const char *entra_server_bind(apr_pool_t *p, entra_server_conf *c);

/* Two bound apps whose cookie names collide (the same name, or one that
 * reads as the other's chunk or state): why, or NULL. */
const char *entra_conf_cookie_clash(apr_pool_t *p, const entra_server_conf *a,
                                    const entra_server_conf *b);
/* {authority}/{tenant}[/{policy}]/v2.0/.well-known/openid-configuration, or the v1
 * {authority}/{tenant}/.well-known/openid-configuration */
const char *entra_conf_discovery_url(apr_pool_t *p, const entra_server_conf *c);

/* Directive handlers (the table itself is in mod_auth_entra.c). */
const char *entra_set_tenant(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_client_id(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_client_secret(cmd_parms *cmd, void *dc, const char *arg);
/* The words of a directive argument, quoted ("a b c") or not. */
apr_array_header_t *entra_conf_words(apr_pool_t *p, const char *arg);
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
const char *entra_set_session_inactivity(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_unauth_action(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_accept_bearer(cmd_parms *cmd, void *dc, int on);
const char *entra_set_max_auth_age(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_client_capabilities(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_session_revalidate(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_app_id_uri(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_endpoint_version(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_response_mode(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_domain_hint(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_prompt(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_allowed_tenants(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_claim_map(cmd_parms *cmd, void *dc, int argc, char *const argv[]);
const char *entra_set_pass_access_token(cmd_parms *cmd, void *dc, int on);
const char *entra_set_logout_redirect(cmd_parms *cmd, void *dc, int on);
const char *entra_set_easyauth_headers(cmd_parms *cmd, void *dc, int on);
const char *entra_set_userinfo(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_graph_host(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_client_certificate(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_client_key(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_assertion_alg(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_client_assertion_file(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_cookie_name(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_managed_identity(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_policy(cmd_parms *cmd, void *dc, const char *arg);
const char *entra_set_managed_identity_endpoint(cmd_parms *cmd, void *dc, const char *url,
                                                const char *kind);

/* Reads a secret given as a literal or as "file:/absolute/path" (trailing
 * newlines dropped). Returns NULL and sets *why when it cannot. */
const char *entra_read_secret(apr_pool_t *p, const char *spec, const char **why);
/* Start-up warning (ENTRA00114): a directive value that starts with '#'
 * was meant as a comment, but Apache has none after a value. `value` is
 * shown (NULL for a secret, which never reaches a log). */
void entra_conf_warn_hash(cmd_parms *cmd, const char *what, const char *value);

#endif
