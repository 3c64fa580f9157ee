/* Configuration: create, merge, directive handlers, completeness check. */
#include "config.h"
#include "log.h"
#include "util.h"

#include <http_log.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_file_io.h>
#include <apr_lib.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

extern module AP_MODULE_DECLARE_DATA auth_entra_module;
APLOG_USE_MODULE(auth_entra);

/* A secret file bigger than this is not a secret. */
#define SECRET_FILE_MAX 8192

void *entra_create_server_conf(apr_pool_t *p, server_rec *s)
{
    entra_server_conf *c = apr_pcalloc(p, sizeof(*c));
    (void)s;

    c->cookie_secure = -1;
    c->clock_skew = -1;
    c->http_timeout = -1;
    c->token_auth = ENTRA_AUTH_UNSET;
    c->session_max_age = -1;
    c->session_inactivity = -1;
    c->endpoint_version = -1;
    c->response_mode = -1;
    c->pass_access_token = -1;
    c->session_revalidate = -1;
    c->logout_redirect = -1;
    c->easyauth_headers = -1;
    c->userinfo = -1;
    c->assertion_alg = -1;
    c->mi_appservice = -1;
    return c;
}

static int has_word(const char *list, const char *word);

#define MERGE_PTR(f) m->f = add->f ? add->f : base->f
#define MERGE_INT(f) m->f = add->f != -1 ? add->f : base->f

void *entra_merge_server_conf(apr_pool_t *p, void *base_conf, void *add_conf)
{
    entra_server_conf *base = base_conf, *add = add_conf;
    entra_server_conf *m = apr_pcalloc(p, sizeof(*m));

    MERGE_PTR(tenant);
    MERGE_PTR(client_id);
    MERGE_PTR(client_secret);
    MERGE_PTR(scope);
    MERGE_PTR(redirect_uri);
    MERGE_PTR(authority);
    MERGE_PTR(session_keys);
    MERGE_INT(cookie_secure);
    MERGE_INT(clock_skew);
    MERGE_INT(http_timeout);
    MERGE_INT(token_auth);
    MERGE_INT(session_max_age);
    MERGE_INT(session_inactivity);
    m->session_store_set = add->session_store_set || base->session_store_set;
    m->session_cache = add->session_store_set ? add->session_cache : base->session_cache;
    MERGE_INT(endpoint_version);
    MERGE_INT(response_mode);
    MERGE_PTR(domain_hint);
    MERGE_PTR(prompt);
    MERGE_PTR(allowed_tenants);
    MERGE_PTR(claim_maps);
    MERGE_INT(pass_access_token);
    MERGE_INT(logout_redirect);
    MERGE_INT(easyauth_headers);
    MERGE_INT(userinfo);
    MERGE_PTR(graph_host);
    MERGE_PTR(app_id_uri);
    MERGE_PTR(client_cert_file);
    MERGE_PTR(client_key_file);
    MERGE_INT(assertion_alg);
    MERGE_PTR(client_assertion_file);
    MERGE_PTR(managed_identity);
    MERGE_PTR(mi_endpoint);
    MERGE_INT(mi_appservice);
    MERGE_PTR(policy);
    MERGE_PTR(cookie_name);
    MERGE_PTR(client_caps);
    MERGE_INT(session_revalidate);
    m->named_groups = base->named_groups && add->named_groups
                      ? apr_hash_overlay(p, add->named_groups, base->named_groups)
                      : add->named_groups ? add->named_groups : base->named_groups;
    return m;
}

void *entra_create_dir_conf(apr_pool_t *p, char *path)
{
    entra_dir_conf *d = apr_pcalloc(p, sizeof(entra_dir_conf));
    (void)path;

    d->unauth_action = ENTRA_UNAUTH_UNSET;
    d->accept_bearer = -1;
    d->max_auth_age = -1;
    return d;
}

void *entra_merge_dir_conf(apr_pool_t *p, void *base_conf, void *add_conf)
{
    entra_dir_conf *base = base_conf, *add = add_conf;
    entra_dir_conf *m = apr_pcalloc(p, sizeof(*m));

    MERGE_PTR(remote_user_claims);
    MERGE_INT(unauth_action);
    MERGE_INT(accept_bearer);
    MERGE_INT(max_auth_age);
    return m;
}

/* EntraSessionKey alone is no app: set once in the main server, it is
 * inherited by the virtual hosts that are. */
int entra_server_enabled(const entra_server_conf *c)
{
    return c->tenant || c->client_id || c->client_secret || c->client_cert_file
           || c->client_assertion_file || c->managed_identity;
}

const char *entra_server_check(apr_pool_t *p, const entra_server_conf *c)
{
    (void)p;
    if (!c->tenant)
        return "EntraTenant is required: the Directory (tenant) ID, a verified domain, "
               "or common/organizations/consumers";
    if (!c->client_id)
        return "EntraClientID is required: the app registration's Application (client) ID";
    if (!!c->client_cert_file != !!c->client_key_file)
        return "EntraClientCertificate and EntraClientKey go together: the certificate "
               "uploaded to the app registration and its private key";
    if (!!c->client_secret + !!c->client_cert_file + !!c->client_assertion_file
        + !!c->managed_identity > 1)
        return "EntraClientSecret, EntraClientCertificate, EntraClientAssertionFile and "
               "EntraManagedIdentity are alternatives: configure one client credential";
    if (!c->client_secret && !c->client_cert_file && !c->client_assertion_file
        && !c->managed_identity)
        return "EntraClientSecret is required (or EntraClientCertificate with "
               "EntraClientKey, EntraClientAssertionFile, or EntraManagedIdentity): a "
               "credential of the app registration";
    if (c->policy && entra_conf_endpoint_version(c) == 1)
        return "EntraPolicy needs the v2.0 endpoints: Azure AD B2C has no v1 (drop "
               "EntraEndpointVersion 1)";
    if (c->mi_endpoint && !c->managed_identity)
        return "EntraManagedIdentityEndpoint without EntraManagedIdentity: name the "
               "user-assigned identity whose token is the app's credential";
    if (!c->session_keys)
        return "EntraSessionKey is required: a random secret of at least 32 bytes "
               "that keys cookie encryption";
    if (entra_conf_session_revalidate(c) && !has_word(entra_conf_scope(c), "offline_access"))
        return "EntraSessionRevalidate needs offline_access in EntraScope: a session is "
               "revalidated by redeeming its refresh token, which only offline_access brings";
    return NULL;
}

const char *entra_conf_scope(const entra_server_conf *c)
{
    return c->scope ? c->scope : ENTRA_DEFAULT_SCOPE;
}

const char *entra_conf_redirect_uri(const entra_server_conf *c)
{
    return c->redirect_uri ? c->redirect_uri : ENTRA_DEFAULT_REDIRECT;
}

const char *entra_conf_authority(const entra_server_conf *c)
{
    return c->authority ? c->authority : ENTRA_DEFAULT_AUTHORITY;
}

int entra_conf_cookie_secure(const entra_server_conf *c)
{
    return c->cookie_secure != -1 ? c->cookie_secure : 1;
}

int entra_conf_clock_skew(const entra_server_conf *c)
{
    return c->clock_skew != -1 ? c->clock_skew : ENTRA_DEFAULT_CLOCK_SKEW;
}

int entra_conf_http_timeout(const entra_server_conf *c)
{
    return c->http_timeout != -1 ? c->http_timeout : ENTRA_DEFAULT_HTTP_TIMEOUT;
}

entra_token_auth entra_conf_token_auth(const entra_server_conf *c)
{
    return c->token_auth != ENTRA_AUTH_UNSET ? c->token_auth : ENTRA_AUTH_SECRET_POST;
}

int entra_conf_session_max_age(const entra_server_conf *c)
{
    return c->session_max_age != -1 ? c->session_max_age : ENTRA_DEFAULT_SESSION_MAX_AGE;
}

int entra_conf_session_inactivity(const entra_server_conf *c)
{
    return c->session_inactivity != -1 ? c->session_inactivity
                                       : ENTRA_DEFAULT_SESSION_INACTIVITY;
}

entra_unauth_action entra_conf_unauth_action(const entra_dir_conf *d)
{
    return d && d->unauth_action != ENTRA_UNAUTH_UNSET ? d->unauth_action : ENTRA_UNAUTH_AUTH;
}

int entra_conf_accept_bearer(const entra_dir_conf *d)
{
    return d && d->accept_bearer == 1;
}

const apr_array_header_t *entra_conf_client_caps(const entra_server_conf *c)
{
    return c->client_caps && c->client_caps->nelts ? c->client_caps : NULL;
}

int entra_conf_session_revalidate(const entra_server_conf *c)
{
    return c->session_revalidate > 0 ? c->session_revalidate : 0;
}

int entra_conf_max_auth_age(const entra_dir_conf *d)
{
    return d && d->max_auth_age > 0 ? d->max_auth_age : 0;
}

const char *entra_conf_app_id_uri(apr_pool_t *p, const entra_server_conf *c)
{
    return c->app_id_uri ? c->app_id_uri : apr_pstrcat(p, "api://", c->client_id, NULL);
}

int entra_conf_endpoint_version(const entra_server_conf *c)
{
    return c->endpoint_version != -1 ? c->endpoint_version : 2;
}

entra_response_mode entra_conf_response_mode(const entra_server_conf *c)
{
    return c->response_mode != -1 ? c->response_mode : ENTRA_MODE_QUERY;
}

int entra_conf_pass_access_token(const entra_server_conf *c)
{
    return c->pass_access_token == 1;
}

int entra_conf_easyauth_headers(const entra_server_conf *c)
{
    return c->easyauth_headers == 1;
}

int entra_conf_logout_redirect(const entra_server_conf *c)
{
    return c->logout_redirect == 1;
}

entra_userinfo_source entra_conf_userinfo(const entra_server_conf *c)
{
    return c->userinfo != -1 ? c->userinfo : ENTRA_USERINFO_NONE;
}

entra_assertion_alg entra_conf_assertion_alg(const entra_server_conf *c)
{
    return c->assertion_alg != -1 ? c->assertion_alg : ENTRA_ALG_RS256;
}

const apr_array_header_t *entra_conf_remote_user_claims(const entra_dir_conf *d)
{
    static const char *const fallback[] = { ENTRA_DEFAULT_REMOTE_USER_CLAIM };
    static const apr_array_header_t fallback_arr = {
        NULL, sizeof(const char *), 1, 1, (char *)fallback
    };

    return d && d->remote_user_claims ? d->remote_user_claims : &fallback_arr;
}

int entra_conf_tenant_allowed(const entra_server_conf *c, const char *tid)
{
    int i;

    for (i = 0; c->allowed_tenants && i < c->allowed_tenants->nelts; i++) {
        if (tid && strcasecmp(tid, APR_ARRAY_IDX(c->allowed_tenants, i, const char *)) == 0)
            return 1;
    }
    return !c->allowed_tenants;
}

void entra_conf_name_group(cmd_parms *cmd, const char *group)
{
    entra_server_conf *c = ap_get_module_config(cmd->server->module_config, &auth_entra_module);
    char *lower = apr_pstrdup(cmd->pool, group), *at;

    /* .htaccess is read per request, in the request's pool: the server's
     * configuration is shared by every thread then, and stays as it is. */
    if (cmd->pool != cmd->server->process->pconf)
        return;
    for (at = lower; *at; at++)
        *at = (char)apr_tolower(*at);
    if (!c->named_groups)
        c->named_groups = apr_hash_make(cmd->pool);
    apr_hash_set(c->named_groups, lower, APR_HASH_KEY_STRING, "");
}

int entra_conf_group_named(const entra_server_conf *c, const char *group)
{
    char buf[128];
    apr_size_t i;

    if (!c->named_groups || !group || strlen(group) >= sizeof(buf))
        return 0;
    for (i = 0; group[i]; i++)
        buf[i] = (char)apr_tolower(group[i]);
    buf[i] = '\0';
    return apr_hash_get(c->named_groups, buf, APR_HASH_KEY_STRING) != NULL;
}

int entra_conf_group_known(const entra_server_conf *c, const char *partial, const char *group)
{
    return !partial || (c->named_groups_digest && strcmp(partial, c->named_groups_digest) == 0
                        && entra_conf_group_named(c, group));
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A digest of the named groups, so that a session compacted by another
 * list (before a restart, or by another vhost of the same host) is known
 * to be. */
static const char *named_groups_digest(apr_pool_t *p, const entra_server_conf *c)
{
    apr_array_header_t *names = apr_array_make(p, 8, sizeof(const char *));
    apr_hash_index_t *hi;
    const char *text = "";
    int i;

    for (hi = c->named_groups ? apr_hash_first(p, c->named_groups) : NULL; hi;
         hi = apr_hash_next(hi))
        APR_ARRAY_PUSH(names, const char *) = apr_hash_this_key(hi);
    qsort(names->elts, (size_t)names->nelts, sizeof(const char *), compare_strings);
    for (i = 0; i < names->nelts; i++)
        text = apr_pstrcat(p, text, APR_ARRAY_IDX(names, i, const char *), ",", NULL);
    return entra_sha256_hex(p, text, 16);
}

/* Personal Microsoft accounts live in this tenant. */
#define MSA_TENANT "9188040d-6c67-4c5b-b112-36a304b66dad"

int entra_conf_session_tenant_ok(const entra_server_conf *c, const char *tid)
{
    if (!c->tenant || !tid || !entra_is_guid(tid) || !entra_conf_tenant_allowed(c, tid))
        return 0;
    /* tid is a GUID: equal to the tenant, the tenant is that GUID */
    if (strcasecmp(tid, c->tenant) == 0)
        return 1;
    if (entra_is_guid(c->tenant))
        return 0;
    if (strcasecmp(c->tenant, "consumers") == 0)
        return strcasecmp(tid, MSA_TENANT) == 0;
    if (strcasecmp(c->tenant, "organizations") == 0)
        return strcasecmp(tid, MSA_TENANT) != 0;
    return 1;
}

/* The session cookie is host-only, Path=/, Secure: __Host- keeps a sibling
 * subdomain or a plain-http man in the middle from planting one. State
 * cookies are path-scoped, so they can only be __Secure-. */
static void name_cookies(apr_pool_t *p, entra_server_conf *c)
{
    int secure = entra_conf_cookie_secure(c);
    const char *base = c->cookie_name;

    c->session_cookie = apr_pstrcat(p, secure ? "__Host-" : "",
                                    base ? base : ENTRA_COOKIE_SESSION_BASE,
                                    base ? "" : c->app_tag, NULL);
    c->state_cookie_prefix = base ? apr_pstrcat(p, secure ? "__Secure-" : "", base, "_state_",
                                                NULL)
                                  : apr_pstrcat(p, secure ? "__Secure-" : "",
                                                ENTRA_COOKIE_STATE_BASE, c->app_tag, "_", NULL);
}

/* The cookies no backend of this server sees: every app's under the
 * default names (a browser sends another port's cookies too, and a backend
 * could replay them there), and this app's own EntraCookieName, matched
 * exactly, chunks and all, so that a name like "session" takes nothing of
 * the app's own. */
static void list_own_cookies(apr_pool_t *p, entra_server_conf *c)
{
    static const char *const defaults[] = {
        ENTRA_COOKIE_SESSION_BASE, ENTRA_COOKIE_STATE_BASE,
        "__Host-" ENTRA_COOKIE_SESSION_BASE, "__Secure-" ENTRA_COOKIE_STATE_BASE
    };
    static const char *const prefixes[] = { "", "__Host-", "__Secure-" };
    apr_array_header_t *own = apr_array_make(p, 20, sizeof(const char *));
    apr_size_t i;

    for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
        APR_ARRAY_PUSH(own, const char *) = defaults[i];
    for (i = 0; c->cookie_name && i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        const char *name = apr_pstrcat(p, prefixes[i], c->cookie_name, NULL);
        APR_ARRAY_PUSH(own, const char *) = apr_pstrcat(p, name, "=", NULL);
        APR_ARRAY_PUSH(own, const char *) = apr_pstrcat(p, name, "_#", NULL);
        APR_ARRAY_PUSH(own, const char *) = apr_pstrcat(p, name, "_pending=", NULL);
        APR_ARRAY_PUSH(own, const char *) = apr_pstrcat(p, name, "_state_", NULL);
    }
    APR_ARRAY_PUSH(own, const char *) = NULL;
    c->own_cookies = (const char *const *)own->elts;
}

/* EntraClaimMap as text, for the app's binding. */
static const char *claim_maps_text(apr_pool_t *p, const entra_server_conf *c)
{
    const char *text = "";
    int i, j;

    for (i = 0; c->claim_maps && i < c->claim_maps->nelts; i++) {
        const entra_claim_map *map = &APR_ARRAY_IDX(c->claim_maps, i, entra_claim_map);
        text = apr_pstrcat(p, text, i ? ";" : "", map->name, "=", NULL);
        for (j = 0; j < map->sources->nelts; j++)
            text = apr_pstrcat(p, text, j ? "," : "",
                               APR_ARRAY_IDX(map->sources, j, const char *), NULL);
    }
    return text;
}

/* An app is its registration (client id, tenant, authority, endpoints)
 * and what shapes its sessions' contents (scope, tokens kept, profile,
 * claim maps): two vhosts of one registration that put different things
 * in a session (an access token for another API, say) share none. Where
 * the session is kept is not part of it: a record of another store simply
 * is not found. */
const char *entra_server_bind(apr_pool_t *p, entra_server_conf *c)
{
    char *lower;

    c->app = apr_psprintf(p, "client_id=%s\ntenant=%s\nauthority=%s\nversion=%d\n"
                          "scope=%s\npass_access_token=%d\nlogout_redirect=%d\nuserinfo=%d\n"
                          "claim_maps=%s%s%s", c->client_id, c->tenant, entra_conf_authority(c),
                          entra_conf_endpoint_version(c), entra_conf_scope(c),
                          entra_conf_pass_access_token(c), entra_conf_logout_redirect(c),
                          entra_conf_userinfo(c), claim_maps_text(p, c),
                          c->policy ? "\npolicy=" : "", c->policy ? c->policy : "");
    for (lower = (char *)c->app; *lower; lower++)
        *lower = (char)apr_tolower(*lower);
    c->app_tag = entra_sha256_hex(p, c->app, 8);
    if (!c->session_keys || !(c->app_keys = entra_keyring_bind(p, c->session_keys, c->app)))
        return "EntraSessionKey: cannot derive this app's keys (OpenSSL HKDF)";
    name_cookies(p, c);
    list_own_cookies(p, c);
    c->named_groups_digest = named_groups_digest(p, c);
    return NULL;
}

const char *entra_conf_cookie_clash(apr_pool_t *p, const entra_server_conf *a,
                                    const entra_server_conf *b)
{
    apr_size_t la = strlen(a->session_cookie), lb = strlen(b->session_cookie);
    const char *shorter = la <= lb ? a->session_cookie : b->session_cookie;
    const char *longer = la <= lb ? b->session_cookie : a->session_cookie;
    apr_size_t n = strlen(shorter);

    if (strcmp(a->app, b->app) == 0)
        return NULL;
    if (strcmp(shorter, longer) == 0)
        return apr_psprintf(p, "two apps use the session cookie name %s: on one host (two "
                            "ports, two paths) they sign each other out; give each its own "
                            "EntraCookieName (an EntraCookieName in the main server is "
                            "inherited by every virtual host)", shorter);
    if (strncmp(shorter, longer, n) == 0 && longer[n] == '_')
        return apr_psprintf(p, "the session cookie %s of one app reads as a chunk or state "
                            "cookie of the app named %s: choose EntraCookieName values that "
                            "do not start with each other", longer, shorter);
    return NULL;
}

const char *entra_conf_discovery_url(apr_pool_t *p, const entra_server_conf *c)
{
    return apr_pstrcat(p, entra_conf_authority(c), "/", c->tenant,
                       c->policy ? "/" : "", c->policy ? c->policy : "",
                       entra_conf_endpoint_version(c) == 1 ? "" : "/v2.0",
                       "/.well-known/openid-configuration", NULL);
}

static entra_server_conf *server_conf(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &auth_entra_module);
}

static const char *directive_error(cmd_parms *cmd, const char *why)
{
    return apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", why, NULL);
}

void entra_conf_warn_hash(cmd_parms *cmd, const char *what, const char *value)
{
    ap_log_perror(APLOG_MARK, APLOG_WARNING, 0, cmd->pool, ENTRALOG(00114)
                  "%s:%d: %s: a value starts with '#'%s%s%s, and was taken literally: Apache "
                  "has no trailing comments, a '#' after a directive's value is part of the "
                  "value (put the comment on a line of its own)",
                  cmd->directive ? cmd->directive->filename : "(unknown)",
                  cmd->directive ? cmd->directive->line_num : 0, what,
                  value ? " (" : "", value ? entra_log_safe(cmd->pool, value) : "",
                  value ? ")" : "");
}

const char *entra_read_secret(apr_pool_t *p, const char *spec, const char **why)
{
    const char *path;
    apr_file_t *f;
    char buf[SECRET_FILE_MAX + 1];
    apr_size_t len = SECRET_FILE_MAX + 1;
    apr_status_t rv;

    if (strncmp(spec, "file:", 5) != 0) {
        *why = *spec ? NULL : "is empty";
        return *spec ? spec : NULL;
    }
    path = spec + 5;
    if (*path != '/') {
        *why = apr_pstrcat(p, "file: needs an absolute path, not '", path, "'", NULL);
        return NULL;
    }
    if ((rv = apr_file_open(&f, path, APR_FOPEN_READ, 0, p)) != APR_SUCCESS) {
        char err[120];
        *why = apr_pstrcat(p, "cannot read ", path, ": ", apr_strerror(rv, err, sizeof(err)),
                           NULL);
        return NULL;
    }
    rv = apr_file_read_full(f, buf, len, &len);
    apr_file_close(f);
    if (len > SECRET_FILE_MAX) {
        *why = apr_pstrcat(p, path, " is too large for a secret", NULL);
        return NULL;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    if (memchr(buf, '\0', len)) {
        *why = apr_pstrcat(p, path, " holds binary data; use a text secret "
                           "(e.g. openssl rand -base64 48)", NULL);
        return NULL;
    }
    if (len == 0) {
        *why = apr_pstrcat(p, path, " is empty", NULL);
        return NULL;
    }
    *why = NULL;
    return apr_pstrmemdup(p, buf, len);
}

/* The words of one directive argument: administrators quote multi-word
 * values ("openid profile email") as they do for core directives, and
 * httpd hands such a value over whole. */
apr_array_header_t *entra_conf_words(apr_pool_t *p, const char *arg)
{
    apr_array_header_t *words = apr_array_make(p, 4, sizeof(char *));
    char *word, *last;

    for (word = apr_strtok(apr_pstrdup(p, arg), " \t\r\n", &last); word;
         word = apr_strtok(NULL, " \t\r\n", &last))
        APR_ARRAY_PUSH(words, char *) = word;
    return words;
}

static int has_word(const char *list, const char *word)
{
    apr_size_t n = strlen(word);
    const char *at;

    for (at = list; at && (at = strstr(at, word)); at += n) {
        if ((at == list || at[-1] == ' ') && (at[n] == '\0' || at[n] == ' '))
            return 1;
    }
    return 0;
}

static int all_chars(const char *s, const char *extra)
{
    for (; *s; s++) {
        if (!apr_isalnum(*s) && !strchr(extra, *s))
            return 0;
    }
    return 1;
}

const char *entra_set_tenant(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    if (!*arg || !all_chars(arg, ".-") || strstr(arg, "..") || *arg == '.' || *arg == '-')
        return directive_error(cmd, "must be a tenant GUID, a verified domain, "
                                    "or common/organizations/consumers");
    server_conf(cmd)->tenant = arg;
    return NULL;
}

const char *entra_set_client_id(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    if (!*arg || !all_chars(arg, "-"))
        return directive_error(cmd, "must be the Application (client) ID, a GUID");
    server_conf(cmd)->client_id = arg;
    return NULL;
}

const char *entra_set_client_secret(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *why, *secret = entra_read_secret(cmd->pool, arg, &why);
    (void)dc;

    if (!secret)
        return directive_error(cmd, why);
    if (*arg == '#')
        entra_conf_warn_hash(cmd, "EntraClientSecret", NULL);
    server_conf(cmd)->client_secret = secret;
    return NULL;
}

/* Each word (quoted or not, one line or several) adds a scope. */
const char *entra_set_scope(cmd_parms *cmd, void *dc, const char *arg)
{
    entra_server_conf *c = server_conf(cmd);
    apr_array_header_t *words = entra_conf_words(cmd->pool, arg);
    const char *scope = c->scope;
    int i;
    (void)dc;

    if (!words->nelts)
        return directive_error(cmd, "needs at least one scope");
    for (i = 0; i < words->nelts; i++) {
        const char *word = APR_ARRAY_IDX(words, i, const char *);
        if (!all_chars(word, "-._:/~"))
            return directive_error(cmd, apr_pstrcat(cmd->pool, "'", word,
                                                    "' is not a valid scope", NULL));
        if (!has_word(scope, word))
            scope = scope ? apr_pstrcat(cmd->pool, scope, " ", word, NULL) : word;
    }
    /* Without openid there is no ID token and so no sign-in. */
    c->scope = has_word(scope, "openid") ? scope : apr_pstrcat(cmd->pool, "openid ", scope, NULL);
    return NULL;
}

/* http(s)://host... with a host. */
static int is_http_url(const char *s)
{
    const char *rest = strncmp(s, "https://", 8) == 0 ? s + 8
                       : strncmp(s, "http://", 7) == 0 ? s + 7 : NULL;

    return rest && *rest && *rest != '/' && *rest != '?' && *rest != '#';
}

const char *entra_set_redirect_uri(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *path = arg;
    (void)dc;

    if (is_http_url(arg))
        path = strchr(strstr(arg, "://") + 3, '/');
    if (!path || *path != '/' || strchr(arg, '?') || strchr(arg, '#'))
        return directive_error(cmd, "must be a path such as /.auth/login/aad/callback or "
                                    "an absolute http(s) URL with a path, without query");
    server_conf(cmd)->redirect_uri = arg;
    return NULL;
}

const char *entra_set_authority(cmd_parms *cmd, void *dc, const char *arg)
{
    char *authority = apr_pstrdup(cmd->pool, arg), *path;
    apr_size_t len = strlen(authority);
    (void)dc;

    if (!is_http_url(authority) || strchr(authority, '?') || strchr(authority, '#'))
        return directive_error(cmd, "must be an https URL such as "
                                    "https://login.microsoftonline.com");
    while (len > 0 && authority[len - 1] == '/')
        authority[--len] = '\0';
    /* https://login.microsoftonline.com/<tenant>/v2.0 is a natural paste
     * from the portal; the module adds the tenant and version itself */
    if ((path = strchr(strstr(authority, "://") + 3, '/'))) {
        *path = '\0';
        return directive_error(cmd, apr_pstrcat(cmd->pool, "takes the host only (", authority,
                                                "): put the tenant in EntraTenant and the "
                                                "endpoint version in EntraEndpointVersion",
                                                NULL));
    }
    server_conf(cmd)->authority = authority;
    return NULL;
}

const char *entra_set_session_key(cmd_parms *cmd, void *dc, const char *arg)
{
    entra_server_conf *c = server_conf(cmd);
    const char *why, *secret = entra_read_secret(cmd->pool, arg, &why);
    (void)dc;

    if (!secret)
        return directive_error(cmd, why);
    if (*arg == '#')
        entra_conf_warn_hash(cmd, "EntraSessionKey", NULL);
    if (!c->session_keys)
        c->session_keys = entra_keyring_make(cmd->pool);
    if ((why = entra_keyring_add(c->session_keys, secret, strlen(secret))))
        return directive_error(cmd, why);
    return NULL;
}

/* Cookie names are tokens (RFC 6265); the __Host-/__Secure- prefixes are
 * the module's to add. */
const char *entra_set_cookie_name(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *c;
    (void)dc;

    if (!*arg || strlen(arg) > 64)
        return directive_error(cmd, "must be 1 to 64 characters");
    for (c = arg; *c; c++) {
        if (!apr_isalnum(*c) && *c != '_' && *c != '-' && *c != '.')
            return directive_error(cmd, "may hold only letters, digits, '_', '-' and '.'");
    }
    if (strncasecmp(arg, "__Host-", 7) == 0 || strncasecmp(arg, "__Secure-", 9) == 0)
        return directive_error(cmd, "give the name without __Host-/__Secure-: the module "
                                    "adds the prefix when EntraCookieSecure is On");
    server_conf(cmd)->cookie_name = arg;
    return NULL;
}

const char *entra_set_cookie_secure(cmd_parms *cmd, void *dc, int on)
{
    (void)dc;
    server_conf(cmd)->cookie_secure = on;
    return NULL;
}

/* Whole seconds within [min, max]. */
static const char *set_seconds(cmd_parms *cmd, const char *arg, int min, int max, int *out)
{
    apr_int64_t v = entra_parse_int(arg);

    if (v < min || v > max)
        return directive_error(cmd, apr_psprintf(cmd->pool,
                               "must be a number of seconds from %d to %d", min, max));
    *out = (int)v;
    return NULL;
}

const char *entra_set_clock_skew(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    return set_seconds(cmd, arg, 0, 3600, &server_conf(cmd)->clock_skew);
}

const char *entra_set_http_timeout(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    return set_seconds(cmd, arg, 1, 300, &server_conf(cmd)->http_timeout);
}

const char *entra_set_session_max_age(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    return set_seconds(cmd, arg, 10, 30 * 24 * 3600, &server_conf(cmd)->session_max_age);
}

const char *entra_set_token_auth(cmd_parms *cmd, void *dc, const char *arg)
{
    entra_server_conf *c = server_conf(cmd);
    (void)dc;

    if (strcmp(arg, "client_secret_post") == 0)
        c->token_auth = ENTRA_AUTH_SECRET_POST;
    else if (strcmp(arg, "client_secret_basic") == 0)
        c->token_auth = ENTRA_AUTH_SECRET_BASIC;
    else
        return directive_error(cmd, "must be client_secret_post or client_secret_basic");
    return NULL;
}

static const char *remote_user_claim(cmd_parms *cmd, entra_dir_conf *d, const char *arg)
{
    if (!*arg || !all_chars(arg, "_-"))
        return directive_error(cmd, apr_pstrcat(cmd->pool, "'", arg,
                                                "' is not a claim name", NULL));
    if (!d->remote_user_claims)
        d->remote_user_claims = apr_array_make(cmd->pool, 2, sizeof(const char *));
    /* Entra's email is mutable and unverified: a user, or the admin of any
     * other tenant, can set it to someone else's address ("nOAuth"). As the
     * first claim it would be the identity for nearly every user. Allowed
     * (some apps key on it), but said at start-up and by configtest. */
    if (d->remote_user_claims->nelts == 0 && strcmp(arg, "email") == 0)
        ap_log_perror(APLOG_MARK, APLOG_WARNING, 0, cmd->pool, ENTRALOG(00107)
                      "%s:%d: EntraRemoteUserClaim email first: e-mail is mutable and not "
                      "verified in Entra (another tenant's admin can give a user your "
                      "address); put preferred_username, upn or oid first (the app still "
                      "gets X-Entra-Claim-email)",
                      cmd->directive ? cmd->directive->filename : "(unknown)",
                      cmd->directive ? cmd->directive->line_num : 0);
    APR_ARRAY_PUSH(d->remote_user_claims, const char *) = arg;
    return NULL;
}

/* Each word (quoted or not) is one claim, in order of preference. */
const char *entra_set_remote_user_claim(cmd_parms *cmd, void *dc, const char *arg)
{
    apr_array_header_t *words = entra_conf_words(cmd->pool, arg);
    const char *why;
    int i;

    if (!words->nelts)
        return remote_user_claim(cmd, dc, "");
    for (i = 0; i < words->nelts; i++) {
        if ((why = remote_user_claim(cmd, dc, APR_ARRAY_IDX(words, i, const char *))))
            return why;
    }
    return NULL;
}

/* One of `words` (NULL-terminated); returns its index or -1. */
static int one_of(const char *arg, const char *const words[])
{
    int i;

    for (i = 0; words[i]; i++) {
        if (strcmp(arg, words[i]) == 0)
            return i;
    }
    return -1;
}

const char *entra_set_endpoint_version(cmd_parms *cmd, void *dc, const char *arg)
{
    static const char *const versions[] = { "1", "2", NULL };
    int i = one_of(arg, versions);
    (void)dc;

    if (i < 0)
        return directive_error(cmd, "must be 1 (the v1 endpoints) or 2 (v2.0, the default)");
    server_conf(cmd)->endpoint_version = i + 1;
    return NULL;
}

const char *entra_set_response_mode(cmd_parms *cmd, void *dc, const char *arg)
{
    static const char *const modes[] = { "query", "form_post", NULL };
    int i = one_of(arg, modes);
    (void)dc;

    if (i < 0)
        return directive_error(cmd, "must be query or form_post");
    server_conf(cmd)->response_mode = i;
    return NULL;
}

const char *entra_set_domain_hint(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    if (!*arg || !all_chars(arg, ".-"))
        return directive_error(cmd, "must be a domain such as contoso.com, or "
                                    "consumers/organizations");
    server_conf(cmd)->domain_hint = arg;
    return NULL;
}

const char *entra_set_prompt(cmd_parms *cmd, void *dc, const char *arg)
{
    static const char *const prompts[] = { "login", "none", "consent", "select_account", NULL };
    (void)dc;

    if (one_of(arg, prompts) < 0)
        return directive_error(cmd, "must be login, none, consent or select_account");
    server_conf(cmd)->prompt = arg;
    return NULL;
}

const char *entra_set_allowed_tenants(cmd_parms *cmd, void *dc, const char *arg)
{
    entra_server_conf *c = server_conf(cmd);
    apr_array_header_t *words = entra_conf_words(cmd->pool, arg);
    int i;
    (void)dc;

    if (!words->nelts)
        return directive_error(cmd, "needs a tenant id (a GUID)");
    for (i = 0; i < words->nelts; i++) {
        const char *tenant = APR_ARRAY_IDX(words, i, const char *);
        if (!entra_is_guid(tenant))
            return directive_error(cmd, apr_pstrcat(cmd->pool, "'", tenant,
                                                    "' is not a tenant id (a GUID)", NULL));
        if (!c->allowed_tenants)
            c->allowed_tenants = apr_array_make(cmd->pool, 2, sizeof(const char *));
        APR_ARRAY_PUSH(c->allowed_tenants, const char *) = tenant;
    }
    return NULL;
}

const char *entra_set_claim_map(cmd_parms *cmd, void *dc, int argc_given,
                                char *const argv_given[])
{
    entra_server_conf *c = server_conf(cmd);
    apr_array_header_t *words = apr_array_make(cmd->pool, argc_given + 2, sizeof(char *));
    entra_claim_map *map;
    char *const *argv;
    int i, argc;
    (void)dc;

    /* EntraClaimMap "email upn preferred_username" as well as unquoted */
    for (i = 0; i < argc_given; i++)
        apr_array_cat(words, entra_conf_words(cmd->pool, argv_given[i]));
    argc = words->nelts;
    argv = (char *const *)words->elts;
    if (argc < 2)
        return directive_error(cmd, "needs a claim name and at least one source claim");
    for (i = 0; i < argc; i++) {
        if (!*argv[i] || !all_chars(argv[i], "_-"))
            return directive_error(cmd, apr_pstrcat(cmd->pool, "'", argv[i],
                                                    "' is not a claim name", NULL));
    }
    if (!c->claim_maps)
        c->claim_maps = apr_array_make(cmd->pool, 4, sizeof(entra_claim_map));
    map = apr_array_push(c->claim_maps);
    map->name = apr_pstrdup(cmd->pool, argv[0]);
    map->sources = apr_array_make(cmd->pool, argc - 1, sizeof(const char *));
    for (i = 1; i < argc; i++)
        APR_ARRAY_PUSH(map->sources, const char *) = apr_pstrdup(cmd->pool, argv[i]);
    return NULL;
}

const char *entra_set_pass_access_token(cmd_parms *cmd, void *dc, int on)
{
    (void)dc;
    server_conf(cmd)->pass_access_token = on;
    return NULL;
}

const char *entra_set_easyauth_headers(cmd_parms *cmd, void *dc, int on)
{
    (void)dc;
    server_conf(cmd)->easyauth_headers = on;
    return NULL;
}

const char *entra_set_logout_redirect(cmd_parms *cmd, void *dc, int on)
{
    (void)dc;
    server_conf(cmd)->logout_redirect = on;
    return NULL;
}

const char *entra_set_userinfo(cmd_parms *cmd, void *dc, const char *arg)
{
    static const char *const sources[] = { "off", "oidc", "graph", NULL };
    int i = one_of(arg, sources);
    (void)dc;

    if (i < 0)
        return directive_error(cmd, "must be oidc (the userinfo endpoint), graph "
                                    "(Microsoft Graph /v1.0/me) or off");
    server_conf(cmd)->userinfo = i;
    return NULL;
}

const char *entra_set_graph_host(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    if (!is_http_url(arg) && (!*arg || !all_chars(arg, ".-:")))
        return directive_error(cmd, "must be a host such as graph.microsoft.us, or an "
                                    "http(s) URL");
    server_conf(cmd)->graph_host = arg;
    return NULL;
}

/* Files named in the config: absolute, and readable now (at start-up). */
static const char *set_file(cmd_parms *cmd, const char *arg, const char **slot)
{
    apr_finfo_t info;

    if (*arg != '/')
        return directive_error(cmd, apr_pstrcat(cmd->pool, "needs an absolute path, not '",
                                                arg, "'", NULL));
    if (apr_stat(&info, arg, APR_FINFO_TYPE, cmd->pool) != APR_SUCCESS
        || info.filetype != APR_REG)
        return directive_error(cmd, apr_pstrcat(cmd->pool, arg, " is not a readable file",
                                                NULL));
    *slot = arg;
    return NULL;
}

const char *entra_set_client_certificate(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    return set_file(cmd, arg, &server_conf(cmd)->client_cert_file);
}

const char *entra_set_client_key(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    return set_file(cmd, arg, &server_conf(cmd)->client_key_file);
}

const char *entra_set_client_assertion_file(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    return set_file(cmd, arg, &server_conf(cmd)->client_assertion_file);
}

const char *entra_set_managed_identity(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    if (!entra_is_guid(arg))
        return directive_error(cmd, "takes the client id (a GUID) of a user-assigned managed "
                                    "identity: Entra accepts only user-assigned identities as "
                                    "an app's federated credential (az identity show --query "
                                    "clientId)");
    server_conf(cmd)->managed_identity = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

const char *entra_set_policy(cmd_parms *cmd, void *dc, const char *arg)
{
    apr_size_t n = strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                               "0123456789_-.");
    (void)dc;
    if (!*arg || arg[n] || strlen(arg) > 128)
        return directive_error(cmd, "takes the name of an Azure AD B2C user flow or custom "
                                    "policy, such as B2C_1_signupsignin or B2C_1A_SIGNUP_SIGNIN "
                                    "(letters, digits, '_', '-', '.')");
    server_conf(cmd)->policy = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

const char *entra_set_managed_identity_endpoint(cmd_parms *cmd, void *dc, const char *url,
                                                const char *kind)
{
    entra_server_conf *c = server_conf(cmd);
    (void)dc;

    if (!is_http_url(url) || strchr(url, '?') || strchr(url, '#') || strlen(url) > 512)
        return directive_error(cmd, "must be an http(s) URL without a query, at most 512 "
                                    "characters, such as "
                                    "http://169.254.169.254/metadata/identity/oauth2/token");
    if (kind && strcasecmp(kind, "imds") != 0 && strcasecmp(kind, "appservice") != 0)
        return directive_error(cmd, "the second argument is imds (the default: header "
                                    "Metadata: true) or appservice (header X-IDENTITY-HEADER "
                                    "from $IDENTITY_HEADER)");
    c->mi_endpoint = apr_pstrdup(cmd->pool, url);
    c->mi_appservice = kind && strcasecmp(kind, "appservice") == 0;
    return NULL;
}

const char *entra_set_assertion_alg(cmd_parms *cmd, void *dc, const char *arg)
{
    static const char *const algs[] = { "RS256", "PS256", NULL };
    int i = one_of(arg, algs);
    (void)dc;

    if (i < 0)
        return directive_error(cmd, "must be RS256 (x5t header) or PS256 (x5t#S256 header)");
    server_conf(cmd)->assertion_alg = i;
    return NULL;
}

const char *entra_set_session_inactivity(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    return set_seconds(cmd, arg, 0, 30 * 24 * 3600, &server_conf(cmd)->session_inactivity);
}

const char *entra_set_unauth_action(cmd_parms *cmd, void *dc, const char *arg)
{
    static const char *const actions[] = { "auth", "401", "403", "pass", NULL };
    entra_dir_conf *d = dc;
    int i = one_of(arg, actions);

    if (i < 0)
        return directive_error(cmd, "must be auth, 401, 403 or pass");
    d->unauth_action = i;
    return NULL;
}

const char *entra_set_accept_bearer(cmd_parms *cmd, void *dc, int on)
{
    ((entra_dir_conf *)dc)->accept_bearer = on;
    return NULL;
}

/* EntraMaxAuthAge <seconds> | Off: a minute at least, as a sign-in takes
 * that long with MFA; a year at most. */
const char *entra_set_max_auth_age(cmd_parms *cmd, void *dc, const char *arg)
{
    entra_dir_conf *d = dc;

    if (strcasecmp(arg, "off") == 0) {
        d->max_auth_age = 0;
        return NULL;
    }
    return set_seconds(cmd, arg, 60, 365 * 24 * 3600, &d->max_auth_age);
}

/* EntraClientCapabilities cp1 ...: what the client declares it handles, sent
 * as xms_cc in every authorize and token request's claims. Names as Entra
 * has them (cp1): letters, digits, '-', '_' and '.', so they go into JSON
 * as they are. */
const char *entra_set_client_capabilities(cmd_parms *cmd, void *dc, const char *arg)
{
    entra_server_conf *c = server_conf(cmd);
    apr_array_header_t *words = entra_conf_words(cmd->pool, arg);
    int i, j;
    (void)dc;

    if (!words->nelts)
        return directive_error(cmd, "needs at least one capability, such as cp1");
    if (!c->client_caps)
        c->client_caps = apr_array_make(cmd->pool, 2, sizeof(const char *));
    for (i = 0; i < words->nelts; i++) {
        const char *word = APR_ARRAY_IDX(words, i, const char *);
        int dup = 0;
        if (!*word || strlen(word) > 32 || !all_chars(word, "-_."))
            return directive_error(cmd, apr_pstrcat(cmd->pool, "'", word, "' is not a client "
                                                    "capability (such as cp1)", NULL));
        for (j = 0; j < c->client_caps->nelts; j++)
            dup |= strcmp(APR_ARRAY_IDX(c->client_caps, j, const char *), word) == 0;
        if (!dup)
            APR_ARRAY_PUSH(c->client_caps, const char *) = word;
    }
    if (c->client_caps->nelts > 8)
        return directive_error(cmd, "takes at most 8 capabilities");
    return NULL;
}

/* EntraSessionRevalidate <seconds> | Off: a minute at least (each one is a
 * call to Entra per session), a day at most. */
const char *entra_set_session_revalidate(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    if (strcasecmp(arg, "off") == 0) {
        server_conf(cmd)->session_revalidate = 0;
        return NULL;
    }
    return set_seconds(cmd, arg, 60, 24 * 3600, &server_conf(cmd)->session_revalidate);
}

const char *entra_set_app_id_uri(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    const char *c;

    for (c = arg; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return directive_error(cmd, "must be the Application ID URI, such as "
                                   "api://<client id> (it holds a control character)");
    }
    if (!*arg || strpbrk(arg, " \"\\"))
        return directive_error(cmd, "must be the Application ID URI, such as api://<client id>");
    server_conf(cmd)->app_id_uri = arg;
    return NULL;
}
