/* mod_auth_entra: Microsoft Entra ID sign-in for Apache httpd 2.4.
 *
 * This file is the module's table of contents: the directive table and the
 * hooks. The work is in src/: config (directives), authn (AuthType Entra,
 * the signed-in fast path), bearer (AuthType Entra-Bearer), authz (Require
 * entra-*), login (redirect and callback), attempts (a browser's state
 * cookies), logout, endpoints (/.auth/...), refresh (single-flight, in
 * shared memory), store and socache (where sessions live), ended (sids
 * Entra logged out), session, state, crypto, claims, provider (discovery
 * and JWKS cache, shared by threads), jwks (their parsers), jwt, token,
 * credential, userinfo (userinfo, Graph, groups overage), http, respond,
 * metrics (counters, SetHandler entra-metrics), util. */
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <unixd.h>
#include <apr_hash.h>
#include <apr_strings.h>

#include "src/authn.h"
#include "src/authz.h"
#include "src/bearer.h"
#include "src/cae.h"
#include "src/config.h"
#include "src/credential.h"
#include "src/ended.h"
#include "src/endpoints.h"
#include "src/http.h"
#include "src/identity_shm.h"
#include "src/log.h"
#include "src/metrics.h"
#include "src/provider.h"
#include "src/refresh.h"
#include "src/socache.h"
#include "src/util.h"

module AP_MODULE_DECLARE_DATA auth_entra_module;

#define SERVER_CMD(name, fn, how, help) \
    AP_INIT_##how(name, fn, NULL, RSRC_CONF, help)

static const command_rec entra_cmds[] = {
    SERVER_CMD("EntraTenant", entra_set_tenant, TAKE1,
               "Directory (tenant) ID, verified domain, or common/organizations/consumers"),
    SERVER_CMD("EntraClientID", entra_set_client_id, TAKE1,
               "the app registration's Application (client) ID"),
    SERVER_CMD("EntraClientSecret", entra_set_client_secret, TAKE1,
               "client secret, literal or file:/path"),
    SERVER_CMD("EntraScope", entra_set_scope, ITERATE,
               "scopes, quoted or not (default: openid profile email)"),
    SERVER_CMD("EntraRedirectURI", entra_set_redirect_uri, TAKE1,
               "callback path or absolute URL registered in Entra"),
    SERVER_CMD("EntraAuthority", entra_set_authority, TAKE1,
               "authority host URL (default https://login.microsoftonline.com)"),
    SERVER_CMD("EntraSessionKey", entra_set_session_key, ITERATE,
               "cookie encryption secret(s), 32+ bytes, literal or file:/path; first seals"),
    SERVER_CMD("EntraCookieSecure", entra_set_cookie_secure, FLAG,
               "Secure flag on the module's cookies (default On)"),
    SERVER_CMD("EntraClockSkew", entra_set_clock_skew, TAKE1,
               "allowed clock skew for token times, seconds (default 300)"),
    SERVER_CMD("EntraHTTPTimeout", entra_set_http_timeout, TAKE1,
               "timeout for each call to Entra, seconds (default 10)"),
    SERVER_CMD("EntraTokenEndpointAuth", entra_set_token_auth, TAKE1,
               "client_secret_post (default) or client_secret_basic"),
    SERVER_CMD("EntraSessionMaxAge", entra_set_session_max_age, TAKE1,
               "session lifetime, seconds (default 28800)"),
    AP_INIT_TAKE12("EntraSessionStore", entra_set_session_store, NULL, RSRC_CONF,
                   "cookie (default) or socache <provider>[:<args>]: where sessions live"),
    SERVER_CMD("EntraSessionInactivityTimeout", entra_set_session_inactivity, TAKE1,
               "end a session unused for this long, seconds (default 3600; 0 = never)"),
    AP_INIT_TAKE1("EntraUnauthAction", entra_set_unauth_action, NULL, RSRC_CONF | OR_AUTHCFG,
                  "not signed in: auth (default), 401, 403 or pass"),
    AP_INIT_FLAG("EntraAcceptBearer", entra_set_accept_bearer, NULL, RSRC_CONF | OR_AUTHCFG,
                 "also accept Authorization: Bearer access tokens for this app (default Off)"),
    AP_INIT_TAKE1("EntraMaxAuthAge", entra_set_max_auth_age, NULL, RSRC_CONF | OR_AUTHCFG,
                  "a sign-in older than this many seconds signs in again here (default Off)"),
    SERVER_CMD("EntraAppIDURI", entra_set_app_id_uri, TAKE1,
               "the Application ID URI bearer tokens may be issued for (default api://<client id>)"),
    SERVER_CMD("EntraEndpointVersion", entra_set_endpoint_version, TAKE1,
               "2 (v2.0 endpoints, default) or 1 (v1 endpoints, sts.windows.net issuer)"),
    SERVER_CMD("EntraResponseMode", entra_set_response_mode, TAKE1,
               "query (default) or form_post"),
    SERVER_CMD("EntraDomainHint", entra_set_domain_hint, TAKE1,
               "domain_hint sent to Entra (skips the home realm discovery page)"),
    SERVER_CMD("EntraPrompt", entra_set_prompt, TAKE1,
               "prompt sent to Entra: login, none, consent or select_account"),
    SERVER_CMD("EntraAllowedTenants", entra_set_allowed_tenants, ITERATE,
               "tenant ids whose users may sign in (multi-tenant apps)"),
    SERVER_CMD("EntraClaimMap", entra_set_claim_map, TAKE_ARGV,
               "<name> <source>...: publish a claim under the name the app expects"),
    SERVER_CMD("EntraPassAccessToken", entra_set_pass_access_token, FLAG,
               "pass the access token and its expiry to the backend (default Off)"),
    SERVER_CMD("EntraClientCapabilities", entra_set_client_capabilities, ITERATE,
               "client capabilities declared to Entra as xms_cc (cp1: Continuous Access "
               "Evaluation); default none"),
    SERVER_CMD("EntraSessionRevalidate", entra_set_session_revalidate, TAKE1,
               "redeem a session's refresh token at most this often, seconds, so that a "
               "revoked user is signed out (needs offline_access; default Off)"),
    SERVER_CMD("EntraEasyAuthHeaders", entra_set_easyauth_headers, FLAG,
               "give the backend the X-MS-CLIENT-PRINCIPAL* headers of Azure App Service "
               "(and X-MS-TOKEN-AAD-* with EntraPassAccessToken); default Off"),
    SERVER_CMD("EntraLogoutRedirect", entra_set_logout_redirect, FLAG,
               "after /.auth/logout, end the Entra session too (default Off)"),
    SERVER_CMD("EntraUserInfo", entra_set_userinfo, TAKE1,
               "merge profile claims from oidc (userinfo) or graph (/v1.0/me); default off"),
    SERVER_CMD("EntraGraphHost", entra_set_graph_host, TAKE1,
               "Microsoft Graph host (default: discovery's msgraph_host)"),
    SERVER_CMD("EntraClientCertificate", entra_set_client_certificate, TAKE1,
               "PEM certificate uploaded to the app registration (private_key_jwt)"),
    SERVER_CMD("EntraClientKey", entra_set_client_key, TAKE1,
               "PEM private key of EntraClientCertificate"),
    SERVER_CMD("EntraClientAssertionAlg", entra_set_assertion_alg, TAKE1,
               "RS256 with x5t (default) or PS256 with x5t#S256"),
    SERVER_CMD("EntraClientAssertionFile", entra_set_client_assertion_file, TAKE1,
               "file holding a federated token to send as client assertion"),
    SERVER_CMD("EntraManagedIdentity", entra_set_managed_identity, TAKE1,
               "client id of a user-assigned managed identity whose token is the client "
               "assertion (no secret, no key file)"),
    SERVER_CMD("EntraManagedIdentityEndpoint", entra_set_managed_identity_endpoint, TAKE12,
               "<url> [imds|appservice]: where the managed identity's token comes from "
               "(default: IMDS, or $IDENTITY_ENDPOINT on App Service)"),
    SERVER_CMD("EntraPolicy", entra_set_policy, TAKE1,
               "Azure AD B2C user flow or custom policy (discovery per policy; tfp/acr checked)"),
    SERVER_CMD("EntraCookieName", entra_set_cookie_name, TAKE1,
               "name of this app's session cookie (default entra_session_<hash of the app>)"),
    AP_INIT_ITERATE("EntraRemoteUserClaim", entra_set_remote_user_claim, NULL,
                    RSRC_CONF | OR_AUTHCFG,
                    "claim(s) for REMOTE_USER, first present wins (default preferred_username)"),
    { NULL }
};

/* Apps whose cookie names collide evict each other's sessions when they
 * share a host: said at start-up, since vhosts on different hosts may
 * share a name on purpose. */
static void warn_cookie_clashes(apr_pool_t *ptemp, server_rec *first)
{
    server_rec *s, *t;

    for (s = first; s; s = s->next) {
        entra_server_conf *a = ap_get_module_config(s->module_config, &auth_entra_module);
        if (!entra_server_enabled(a) || !a->app)
            continue;
        for (t = s->next; t; t = t->next) {
            entra_server_conf *b = ap_get_module_config(t->module_config, &auth_entra_module);
            const char *why = entra_server_enabled(b) && b->app
                              ? entra_conf_cookie_clash(ptemp, a, b) : NULL;
            if (why)
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, t, ENTRALOG(00108)
                             "%s:%d and %s:%d: %s", s->defn_name ? s->defn_name : "(server)",
                             s->defn_line_number, t->defn_name ? t->defn_name : "(server)",
                             t->defn_line_number, why);
        }
    }
}

/* Runs for `apachectl configtest` too: an incomplete configuration stops
 * start-up with the directive named. */
static int any_app(server_rec *s)
{
    for (; s; s = s->next) {
        if (entra_server_enabled(ap_get_module_config(s->module_config, &auth_entra_module)))
            return 1;
    }
    return 0;
}

/* The server a <VirtualHost> section made: the one defined at its line.
 * NULL when none, or when several were (one file Included twice, with
 * Defines that differ): then the section is not judged as a vhost's. */
static server_rec *vhost_of(const ap_directive_t *section, server_rec *s)
{
    server_rec *found = NULL;

    for (; s; s = s->next) {
        if (s->defn_name && section->filename
            && s->defn_line_number == (unsigned)section->line_num
            && strcmp(s->defn_name, section->filename) == 0) {
            if (found)
                return NULL;
            found = s;
        }
    }
    return found;
}

static int is_entra_auth_type(apr_pool_t *p, const ap_directive_t *d)
{
    const char *args = d->args, *type;

    if (strcasecmp(d->directive, "AuthType") != 0 || !args)
        return 0;
    type = ap_getword_conf(p, &args);
    return strcasecmp(type, ENTRA_AUTH_TYPE) == 0 || strcasecmp(type, ENTRA_BEARER_AUTH_TYPE) == 0;
}

/* AuthType Entra in a virtual host with no Entra app configured would
 * answer every request with 500: configtest says so instead. At the main
 * server's level, where sections also apply to every virtual host, only
 * when no server at all has an app (else a warning). .htaccess files are
 * read per request: there the request's log line (ENTRA00404) says it. */
static int check_auth_types(apr_pool_t *p, const ap_directive_t *d, server_rec *first,
                            server_rec *here, int any_app)
{
    int status = OK;

    for (; d; d = d->next) {
        if (strcasecmp(d->directive, "<VirtualHost") == 0) {
            server_rec *vhost = vhost_of(d, first);
            if (check_auth_types(p, d->first_child, first, vhost ? vhost : first, any_app) != OK)
                status = HTTP_INTERNAL_SERVER_ERROR;
            continue;
        }
        if (is_entra_auth_type(p, d)
            && !entra_server_enabled(ap_get_module_config(here->module_config,
                                                          &auth_entra_module))) {
            int fatal = here != first || !any_app;
            ap_log_error(APLOG_MARK, fatal ? APLOG_EMERG : APLOG_WARNING, 0, here,
                         ENTRALOG(00112) "%s:%d: AuthType %s, but %s has no Entra app "
                         "(EntraTenant, EntraClientID, a credential): every request there "
                         "would fail with 500", d->filename, d->line_num, d->args,
                         here != first ? "this virtual host" : "the main server");
            if (fatal)
                status = HTTP_INTERNAL_SERVER_ERROR;
        }
        if (d->first_child && check_auth_types(p, d->first_child, first, here, any_app) != OK)
            status = HTTP_INTERNAL_SERVER_ERROR;
    }
    return status;
}

/* Whether `section` (a <VirtualHost>, or the main server's top level)
 * turns TLS on itself. */
static int says_tls_on(apr_pool_t *p, const ap_directive_t *d)
{
    for (; d; d = d->next) {
        const char *args = d->args;
        if (strcasecmp(d->directive, "SSLEngine") == 0 && args
            && strcasecmp(ap_getword_conf(p, &args), "on") == 0)
            return 1;
    }
    return 0;
}

/* EntraCookieSecure On (the default) on a site served over plain http: the
 * browser keeps the cookies but never sends them back, and no sign-in
 * completes. Said at start-up; a proxy in front that speaks https to the
 * browsers makes it right, so a warning, not an error. */
static void warn_secure_over_http(apr_pool_t *p, const ap_directive_t *d, server_rec *first,
                                  int main_tls)
{
    for (; d; d = d->next) {
        server_rec *vhost;
        entra_server_conf *sc;
        if (strcasecmp(d->directive, "<VirtualHost") != 0) {
            /* <IfModule mod_ssl.c> and the like hold virtual hosts too */
            if (d->first_child)
                warn_secure_over_http(p, d->first_child, first, main_tls);
            continue;
        }
        if (!(vhost = vhost_of(d, first)))
            continue;
        sc = ap_get_module_config(vhost->module_config, &auth_entra_module);
        if (entra_server_enabled(sc) && entra_conf_cookie_secure(sc) && !main_tls
            && !says_tls_on(p, d->first_child))
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, vhost, ENTRALOG(00113)
                         "%s:%d: EntraCookieSecure On, but this virtual host does not turn on "
                         "TLS (SSLEngine on): browsers will not send its cookies back over "
                         "http and no sign-in will complete, unless a proxy in front speaks "
                         "https to them", d->filename, d->line_num);
    }
}

static int entra_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                              server_rec *s)
{
    int status = OK;
    server_rec *first = s;
    (void)plog;

    for (; s; s = s->next) {
        entra_server_conf *sc = ap_get_module_config(s->module_config, &auth_entra_module);
        const char *why;
        if (!entra_server_enabled(sc))
            continue;
        if ((why = entra_server_check(ptemp, sc)) || (why = entra_server_bind(pconf, sc))
            || (why = entra_credential_load(pconf, sc))
            || (why = entra_credential_check_file(ptemp, sc, ap_unixd_config.user_name,
                                                  (long)ap_unixd_config.user_id,
                                                  (long)ap_unixd_config.group_id))) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, ENTRALOG(00101) "%s:%d: %s",
                         s->defn_name ? s->defn_name : "(server config)",
                         s->defn_line_number, why);
            status = HTTP_INTERNAL_SERVER_ERROR;
        }
        else if (entra_conf_response_mode(sc) == ENTRA_MODE_FORM_POST
                 && !entra_conf_cookie_secure(sc))
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, ENTRALOG(00104)
                         "EntraResponseMode form_post with EntraCookieSecure Off: the state "
                         "cookie must be SameSite=None and is therefore Secure all the same; "
                         "browsers keep it over plain http only for localhost, so sign-ins "
                         "will fail outside local tests");
    }
    if (status == OK)
        warn_cookie_clashes(ptemp, first);
    if (status == OK)
        status = check_auth_types(ptemp, ap_conftree, first, first, any_app(first));
    if (status == OK)
        warn_secure_over_http(ptemp, ap_conftree, first, says_tls_on(ptemp, ap_conftree));
    return status;
}

static int entra_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    (void)plog; (void)ptemp;
    entra_socache_pre_config(pconf);
    entra_ended_pre_config(pconf);
    entra_refresh_pre_config(pconf);
    entra_identity_pre_config(pconf);
    return OK;
}

static int entra_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                             server_rec *s)
{
    int status;

    (void)plog;
#ifdef ENTRA_TEST_BUILD
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, ENTRALOG(00115)
                 "this mod_auth_entra is a test build (configure --enable-test-clock): "
                 "its clock can be moved through $ENTRA_TEST_CLOCK_FILE; never run it in "
                 "production");
#endif
    entra_http_global_init();
    entra_crypto_init();
    if ((status = entra_socache_post_config(pconf, ptemp, s)) != OK
        || (status = entra_ended_post_config(pconf, s)) != OK
        || (status = entra_metrics_post_config(pconf, s)) != OK
        || (status = entra_identity_post_config(pconf, s)) != OK)
        return status;
    return entra_refresh_post_config(pconf, s);
}

/* The provider cache kept a stale copy: Entra was unwell or odd, and
 * signed-in users did not notice. The server is the first vhost using it. */
static void provider_warn(void *server, const char *message)
{
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, server, ENTRALOG(00106) "%s", message);
}

/* One discovery/JWKS cache per process and discovery URL, shared by the
 * virtual hosts that sign in against the same tenant. */
static void entra_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_hash_t *providers = apr_hash_make(pchild);

    entra_socache_child_init(pchild, s);
    entra_ended_child_init(pchild);
    entra_bearer_child_init(pchild);
    entra_session_child_init(pchild);
    entra_refresh_child_init(pchild);
    entra_identity_child_init(pchild);

    for (; s; s = s->next) {
        entra_server_conf *sc = ap_get_module_config(s->module_config, &auth_entra_module);
        const char *url;
        if (!entra_server_enabled(sc))
            continue;
        url = entra_conf_discovery_url(pchild, sc);
        sc->provider = apr_hash_get(providers, url, APR_HASH_KEY_STRING);
        if (!sc->provider) {
            sc->provider = entra_provider_create(pchild, url, provider_warn, s);
            apr_hash_set(providers, url, APR_HASH_KEY_STRING, sc->provider);
        }
    }
}

static int entra_quick_handler(request_rec *r, int lookup)
{
    entra_server_conf *sc = ap_get_module_config(r->server->module_config, &auth_entra_module);

    if (lookup || r->main || !entra_server_enabled(sc))
        return DECLINED;
    return entra_endpoint_dispatch(r, sc);
}

#ifdef ENTRA_TEST_BUILD
/* Test builds only (src/util.h entra_now): the request's time on the
 * suite's clock, for the expiry checks that read r->request_time. */
static int entra_test_clock(request_rec *r)
{
    r->request_time += entra_clock_offset();
    return DECLINED;
}
#endif

static void entra_register_hooks(apr_pool_t *p)
{
#ifdef ENTRA_TEST_BUILD
    ap_hook_post_read_request(entra_test_clock, NULL, NULL, APR_HOOK_REALLY_FIRST);
#endif
    ap_hook_pre_config(entra_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(entra_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(entra_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(entra_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(entra_strip_spoofed_headers, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_quick_handler(entra_quick_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_authn(entra_check_user_id, NULL, NULL, APR_HOOK_MIDDLE,
                        AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_force_authn(entra_force_authn, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_fixups(entra_hide_cookies_fixup, NULL, NULL, APR_HOOK_FIRST);
    entra_authz_register(p);
    entra_cae_register(p);
    entra_metrics_register(p);
}

AP_DECLARE_MODULE(auth_entra) = {
    STANDARD20_MODULE_STUFF,
    entra_create_dir_conf,
    entra_merge_dir_conf,
    entra_create_server_conf,
    entra_merge_server_conf,
    entra_cmds,
    entra_register_hooks
};
