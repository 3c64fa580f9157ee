/* Require entra-role / entra-group / entra-tenant / entra-claim (see authz.h). */
#include "authz.h"
#include "authn.h"
#include "log.h"
#include "respond.h"
#include "claims.h"
#include "session.h"
#include "util.h"

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <mod_auth.h>
#include <ap_provider.h>
#include <apr_strings.h>
#include <string.h>

APLOG_USE_MODULE(auth_entra);

#define DENIED_NOTE "entra-authz-denied"

/* True when `value` is one of the `seps`-separated elements of `claim`. */
static int claim_has_in(const char *claim, const char *value, const char *seps)
{
    apr_size_t n = strlen(value);
    const char *at;

    for (at = claim; n && (at = strstr(at, value)); at++) {
        if ((at == claim || strchr(seps, at[-1])) && (at[n] == '\0' || strchr(seps, at[n])))
            return 1;
    }
    return 0;
}

/* The 403 page lists every requirement this request failed. */
static authz_status deny(request_rec *r, const char *what)
{
    const char *before = apr_table_get(r->notes, DENIED_NOTE);
    const char *all = before ? apr_pstrcat(r->pool, before, "; or ", what, NULL) : what;

    const char *page = apr_pstrcat(r->pool,
                       "<!DOCTYPE html>\n<html><head><title>Access denied</title></head>"
                       "<body><h1>Access denied</h1><p>You are signed in, but this page "
                       "requires ", entra_html_escape(r->pool, all), ".</p></body></html>\n",
                       NULL);

    apr_table_set(r->notes, DENIED_NOTE, all);
    /* mod_authz_core answers 401 when every provider denies (see
     * entra_authz_forbid); the page goes with either status. */
    ap_custom_response(r, HTTP_FORBIDDEN, page);
    ap_custom_response(r, HTTP_UNAUTHORIZED, page);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00601)
                  "access denied to %s: requires %s", r->user, entra_log_safe(r->pool, all));
    return AUTHZ_DENIED;
}

/* Grants when the claim named by the provider holds any listed value. */
static authz_status check_claim(request_rec *r, const char *require_line, const char *claim,
                                const char *label)
{
    const apr_array_header_t *claims = r->user ? entra_request_claims(r) : NULL;
    const char *want, *wanted = NULL, *line = require_line;

    if (!r->user)
        return AUTHZ_DENIED_NO_USER;
    if (!claims)
        return deny(r, apr_pstrcat(r->pool, "a Microsoft Entra ID sign-in", NULL));
    while (*(want = ap_getword_conf(r->pool, &line))) {
        if (entra_claims_has(claims, claim, want))
            return AUTHZ_GRANTED;
        wanted = wanted ? apr_pstrcat(r->pool, wanted, " or ", want, NULL) : want;
    }
    return deny(r, apr_pstrcat(r->pool, label, " ", wanted, NULL));
}

static authz_status role_check(request_rec *r, const char *line, const void *parsed)
{
    return check_claim(r, line, "roles", "the app role");
}

static authz_status group_check(request_rec *r, const char *line, const void *parsed)
{
    const apr_array_header_t *claims = r->user ? entra_request_claims(r) : NULL;
    const char *unresolved = claims ? entra_pairs_get(claims, ENTRA_GROUPS_UNRESOLVED) : NULL;

    /* Over 200 groups and Graph failed at sign-in: the groups are unknown,
     * which is not the same as none. Deny, and say so. */
    if (unresolved) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00602)
                      "entra-group for %s: the user's groups could not be read from Microsoft "
                      "Graph at sign-in (%s)", r->user, entra_log_safe(r->pool, unresolved));
        return deny(r, "group memberships that could not be read from Microsoft Graph; "
                       "sign in again later");
    }
    return check_claim(r, line, "groups", "membership of group");
}

/* scp is one space-separated string (delegated permissions of a token). */
static authz_status scope_check(request_rec *r, const char *require_line, const void *parsed)
{
    const apr_array_header_t *claims = r->user ? entra_request_claims(r) : NULL;
    const char *have = claims ? entra_pairs_get(claims, "scp") : NULL;
    const char *line = require_line, *want, *wanted = NULL;

    if (!r->user)
        return AUTHZ_DENIED_NO_USER;
    while (*(want = ap_getword_conf(r->pool, &line))) {
        if (have && claim_has_in(have, want, " ,"))
            return AUTHZ_GRANTED;
        wanted = wanted ? apr_pstrcat(r->pool, wanted, " or ", want, NULL) : want;
    }
    return deny(r, apr_pstrcat(r->pool, "the scope ", wanted, NULL));
}

static authz_status tenant_check(request_rec *r, const char *line, const void *parsed)
{
    return check_claim(r, line, "tid", "an account of tenant");
}

/* entra-claim name:value [name:value ...] */
static authz_status claim_check(request_rec *r, const char *require_line, const void *parsed)
{
    const apr_array_header_t *claims = r->user ? entra_request_claims(r) : NULL;
    const char *line = require_line, *word;

    if (!r->user)
        return AUTHZ_DENIED_NO_USER;
    while (claims && *(word = ap_getword_conf(r->pool, &line))) {
        const char *colon = strchr(word, ':');
        if (colon && entra_claims_has(claims, apr_pstrmemdup(r->pool, word,
                                                             (apr_size_t)(colon - word)),
                                      colon + 1))
            return AUTHZ_GRANTED;
    }
    return deny(r, apr_pstrcat(r->pool, "the claim ", require_line, NULL));
}

/* entra-claim words must be name:value; caught at start-up. */
static const char *claim_parse(cmd_parms *cmd, const char *require_line, const void **parsed)
{
    const char *line = require_line, *word;

    while (*(word = ap_getword_conf(cmd->temp_pool, &line))) {
        const char *colon = strchr(word, ':');
        if (!colon || colon == word || !colon[1])
            return apr_pstrcat(cmd->pool, "Require entra-claim: '", word,
                               "' is not of the form <claim>:<value>", NULL);
    }
    return NULL;
}

static const char *values_parse(cmd_parms *cmd, const char *require_line, const char *name)
{
    const char *line = require_line;

    if (!*ap_getword_conf(cmd->temp_pool, &line))
        return apr_pstrcat(cmd->pool, "Require ", name, ": needs at least one value", NULL);
    return NULL;
}

#define VALUES_PARSER(fn, name) \
    static const char *fn(cmd_parms *cmd, const char *line, const void **parsed) \
    { return values_parse(cmd, line, name); }
VALUES_PARSER(role_parse, "entra-role")
VALUES_PARSER(group_parse, "entra-group")
VALUES_PARSER(tenant_parse, "entra-tenant")
VALUES_PARSER(scope_parse, "entra-scope")

static const authz_provider role_provider = { role_check, role_parse };
static const authz_provider group_provider = { group_check, group_parse };
static const authz_provider scope_provider = { scope_check, scope_parse };
static const authz_provider tenant_provider = { tenant_check, tenant_parse };
static const authz_provider claim_provider = { claim_check, claim_parse };

/* mod_authz_core turns a denial after authentication into 401, so that a
 * Basic-auth browser asks again. A signed-in Entra user asking again gets
 * the same answer: make it the 403 it is, with the page that says why. */
static void entra_authz_forbid(request_rec *r)
{
    const char *type = r->ap_auth_type;

    if (r->status != HTTP_UNAUTHORIZED || !r->user || !*r->user || !type
        || (strcasecmp(type, "Entra") != 0 && strcasecmp(type, "Entra-Bearer") != 0))
        return;
    r->status = HTTP_FORBIDDEN;
    /* Denied by a negated requirement (Require not ...), which sets no
     * page of its own. */
    if (!apr_table_get(r->notes, DENIED_NOTE))
        ap_custom_response(r, HTTP_UNAUTHORIZED,
                           "<!DOCTYPE html>\n<html><head><title>Access denied</title></head>"
                           "<body><h1>Access denied</h1><p>You are signed in, but you are not "
                           "allowed to see this page.</p></body></html>\n");
}

void entra_authz_register(apr_pool_t *p)
{
    static const struct { const char *name; const authz_provider *provider; } all[] = {
        { "entra-role", &role_provider },
        { "entra-group", &group_provider },
        { "entra-tenant", &tenant_provider },
        { "entra-scope", &scope_provider },
        { "entra-claim", &claim_provider },
    };
    apr_size_t i;

    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, all[i].name,
                                  AUTHZ_PROVIDER_VERSION, all[i].provider,
                                  AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_insert_error_filter(entra_authz_forbid, NULL, NULL, APR_HOOK_MIDDLE);
}
