/* Require entra-role / entra-group / entra-tenant / entra-claim (see authz.h). */
#include "authz.h"
#include "authn.h"
#include "bearer.h"
#include "log.h"
#include "metrics.h"
#include "respond.h"
#include "claims.h"
#include "config.h"
#include "session.h"
#include "stepup.h"
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
extern module AP_MODULE_DECLARE_DATA auth_entra_module;

#define DENIED_NOTE "entra-authz-denied"
/* The scopes a bearer token lacked, for RFC 6750's insufficient_scope. */
#define SCOPE_NOTE "entra-authz-scope-needed"
/* The authentication context a plain entra-acrs line lacked: asked for by
 * a step-up if the request ends denied (entra_authz_forbid). */
#define STEPUP_NOTE "entra-authz-stepup"

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

/* Puts `what` on the 403 page (which lists every requirement this request
 * failed) and in the log. */
static void refuse(request_rec *r, const char *what)
{
    const char *before = apr_table_get(r->notes, DENIED_NOTE);
    const char *all = before ? apr_pstrcat(r->pool, before, "; or ", what, NULL) : what;

    const char *page = apr_pstrcat(r->pool,
                       "<!DOCTYPE html>\n<html><head><title>Access denied</title></head>"
                       "<body><h1>Access denied</h1><p>",
                       r->user && *r->user ? "You are signed in, but this page requires "
                                           : "This page requires ",
                       entra_html_escape(r->pool, all), ".</p></body></html>\n",
                       NULL);

    apr_table_set(r->notes, DENIED_NOTE, all);
    /* mod_authz_core answers 401 when every provider denies (see
     * entra_authz_forbid); the page goes with either status. */
    ap_custom_response(r, HTTP_FORBIDDEN, page);
    ap_custom_response(r, HTTP_UNAUTHORIZED, page);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00601)
                  "access denied to %s: requires %s", r->user, entra_log_safe(r->pool, all));
}

/* The context parse_require_line found (see entra_authz_context_of). */
static entra_authz_context context_of(const void *parsed)
{
    return parsed ? *(const entra_authz_context *)parsed : ENTRA_AUTHZ_UNKNOWN;
}

/* What one Require line found, in words for the page and the log. */
typedef struct {
    entra_claim_outcome found;
    const char *need;      /* plain: "the app role A or B" */
    const char *need_not;  /* negated: "no app role A or B" */
    const char *unknown;   /* why the claim is not known: "... carries no roles claim" */
} finding;

/* The answer for a signed-in user (see entra_authz_answer), with the page
 * and log line that say why the line was not satisfied. */
static authz_status answer(request_rec *r, const void *parsed, const finding *f)
{
    entra_authz_context context = context_of(parsed);
    authz_status status = entra_authz_answer(f->found, context);

    switch (f->found) {
    case ENTRA_CLAIM_MATCH:
        /* The negation turns this into a denial that sets no page. */
        if (context == ENTRA_AUTHZ_NEGATED)
            refuse(r, f->need_not);
        break;
    case ENTRA_CLAIM_NO_MATCH:
        /* Negated, the denial is the line's pass: nothing to say. */
        if (context != ENTRA_AUTHZ_NEGATED)
            refuse(r, f->need);
        break;
    default:
        if (context == ENTRA_AUTHZ_PLAIN)
            refuse(r, f->need);
        else if (context == ENTRA_AUTHZ_NEGATED)
            refuse(r, apr_pstrcat(r->pool, f->need_not, ", which cannot be checked: ",
                                  f->unknown, NULL));
        else
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00603)
                          "%s for %s: %s; refused with an error, as the Require line is not "
                          "one the module can place (<AuthzProviderAlias>?), so it cannot "
                          "tell whether it is negated: write the Require line itself",
                          apr_table_get(r->notes, AUTHZ_PROVIDER_NAME_NOTE)
                              ? apr_table_get(r->notes, AUTHZ_PROVIDER_NAME_NOTE) : "entra-*",
                          r->user, entra_log_safe(r->pool, f->unknown));
        break;
    }
    return status;
}

/* "A or B" of a Require line's values (ap_getword_conf words). */
static const char *values_of(apr_pool_t *p, const char *require_line)
{
    const char *line = require_line, *want, *all = NULL;

    while (*(want = ap_getword_conf(p, &line)))
        all = all ? apr_pstrcat(p, all, " or ", want, NULL) : want;
    return all ? all : "";
}

/* The claims as authorization sees them: a socache session whose groups
 * are too many for a header (ENTRA_GROUPS_ALL) is judged by all of them,
 * the backend's partial list aside. */
static const apr_array_header_t *authz_claims(request_rec *r)
{
    const apr_array_header_t *claims = entra_request_claims(r);
    const char *all = claims ? entra_pairs_get(claims, ENTRA_GROUPS_ALL) : NULL;
    apr_array_header_t *view;
    int i;

    if (!all)
        return claims;
    view = apr_array_make(r->pool, claims->nelts, sizeof(entra_pair));
    for (i = 0; i < claims->nelts; i++) {
        const entra_pair *c = &APR_ARRAY_IDX(claims, i, entra_pair);
        if (strcmp(c->name, ENTRA_GROUPS_PARTIAL) != 0)
            entra_pairs_add(view, c->name, strcmp(c->name, "groups") == 0 ? all : c->value);
    }
    return view;
}

/* The claims of a request that has a user (r->user set), or NULL with the
 * finding filled in: the user did not sign in with Microsoft Entra ID
 * (EntraUnauthAction pass, another AuthType), so every claim is unknown. */
static const apr_array_header_t *claims_or_unknown(request_rec *r, finding *f,
                                                   const char *need_not)
{
    const apr_array_header_t *claims = authz_claims(r);

    if (!claims) {
        f->found = ENTRA_CLAIM_UNKNOWN;
        f->need = "a Microsoft Entra ID sign-in";
        f->need_not = need_not;
        f->unknown = "there is no Microsoft Entra ID sign-in";
    }
    return claims;
}

/* Grants when the claim named by the provider holds any listed value. */
static authz_status check_claim(request_rec *r, const char *require_line, const void *parsed,
                                const char *claim, const char *label, const char *label_not)
{
    const char *values, *need_not, *line = require_line, *want;
    const apr_array_header_t *claims;
    finding f = { ENTRA_CLAIM_NO_MATCH, NULL, NULL, NULL };

    if (!r->user)
        return AUTHZ_DENIED_NO_USER;
    values = values_of(r->pool, require_line);
    need_not = apr_pstrcat(r->pool, label_not, " ", values, NULL);
    if (!(claims = claims_or_unknown(r, &f, need_not)))
        return answer(r, parsed, &f);
    f.need = apr_pstrcat(r->pool, label, " ", values, NULL);
    f.need_not = need_not;
    if (!entra_pairs_get(claims, claim)) {
        f.found = ENTRA_CLAIM_UNKNOWN;
        f.unknown = apr_pstrcat(r->pool, "the sign-in carries no ", claim, " claim", NULL);
    }
    while (f.found != ENTRA_CLAIM_UNKNOWN && *(want = ap_getword_conf(r->pool, &line))) {
        if (entra_claims_has(claims, claim, want)) {
            f.found = ENTRA_CLAIM_MATCH;
            break;
        }
    }
    return answer(r, parsed, &f);
}

static authz_status role_check(request_rec *r, const char *line, const void *parsed)
{
    return check_claim(r, line, parsed, "roles", "the app role", "no app role");
}

/* Whether the session's groups say anything of `group`: a session that kept
 * only the configuration's groups (ENTRA_GROUPS_PARTIAL) knows membership
 * of those alone, by the list it kept them by. */
static int group_known(request_rec *r, const apr_array_header_t *claims, const char *group)
{
    const entra_server_conf *sc = ap_get_module_config(r->server->module_config,
                                                       &auth_entra_module);

    return entra_claims_has(claims, "groups", group)
           || entra_conf_group_known(sc, entra_pairs_get(claims, ENTRA_GROUPS_PARTIAL), group);
}

/* A Require line's groups cannot be answered from a partial list: none of
 * them is in it, and one is not known to be absent. */
static int partial_list_unknown(request_rec *r, const apr_array_header_t *claims,
                                const char *require_line)
{
    const char *line = require_line, *want;
    int unknown = 0;

    while (*(want = ap_getword_conf(r->pool, &line))) {
        if (entra_claims_has(claims, "groups", want))
            return 0;
        unknown |= !group_known(r, claims, want);
    }
    return unknown;
}

static authz_status group_check(request_rec *r, const char *line, const void *parsed)
{
    const apr_array_header_t *claims = r->user ? authz_claims(r) : NULL;
    const char *unresolved = claims ? entra_pairs_get(claims, ENTRA_GROUPS_UNRESOLVED) : NULL;
    finding f;

    /* Over 200 groups and Graph failed at sign-in: the groups are unknown,
     * which is not the same as none. Deny, and say so. */
    if (unresolved) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00602)
                      "entra-group for %s: the user's groups could not be read from Microsoft "
                      "Graph at sign-in (%s)", r->user, entra_log_safe(r->pool, unresolved));
        f.found = ENTRA_CLAIM_UNKNOWN;
        f.need = "group memberships that could not be read from Microsoft Graph; "
                 "sign in again later";
        f.need_not = apr_pstrcat(r->pool, "no membership of group ",
                                 values_of(r->pool, line), NULL);
        f.unknown = "the group memberships could not be read from Microsoft Graph; "
                    "sign in again later";
        return answer(r, parsed, &f);
    }
    if (claims && entra_pairs_get(claims, ENTRA_GROUPS_PARTIAL)
        && partial_list_unknown(r, claims, line)) {
        f.found = ENTRA_CLAIM_UNKNOWN;
        f.need = apr_pstrcat(r->pool, "membership of group ", values_of(r->pool, line), NULL);
        f.need_not = apr_pstrcat(r->pool, "no membership of group ",
                                 values_of(r->pool, line), NULL);
        f.unknown = "the session keeps only the groups the server's configuration names "
                    "(the user is in too many for a cookie), and this Require line was not "
                    "among them at start-up (.htaccess?)";
        return answer(r, parsed, &f);
    }
    return check_claim(r, line, parsed, "groups", "membership of group", "no membership of group");
}

/* A plain entra-scope line a bearer token did not satisfy: its scopes go
 * to the 401/403's challenge (entra_authz_forbid), space-separated as
 * RFC 6750's scope attribute wants them. */
static void note_scope_needed(request_rec *r, const char *require_line)
{
    const entra_session *session = ap_get_module_config(r->request_config, &auth_entra_module);
    const char *before = apr_table_get(r->notes, SCOPE_NOTE), *line = require_line, *want;
    const char *all = before;

    if (!session || !session->from_bearer)
        return;
    while (*(want = ap_getword_conf(r->pool, &line))) {
        if (!all || !claim_has_in(all, want, " "))
            all = all ? apr_pstrcat(r->pool, all, " ", want, NULL) : want;
    }
    if (all)
        apr_table_set(r->notes, SCOPE_NOTE, all);
}

/* scp is one space-separated string (delegated permissions of a token). */
static authz_status scope_check(request_rec *r, const char *require_line, const void *parsed)
{
    const char *values, *need_not, *have, *line = require_line, *want;
    const apr_array_header_t *claims;
    finding f = { ENTRA_CLAIM_NO_MATCH, NULL, NULL, NULL };

    if (!r->user)
        return AUTHZ_DENIED_NO_USER;
    values = values_of(r->pool, require_line);
    need_not = apr_pstrcat(r->pool, "a token without the scope ", values, NULL);
    if (!(claims = claims_or_unknown(r, &f, need_not)))
        return answer(r, parsed, &f);
    f.need = apr_pstrcat(r->pool, "the scope ", values, NULL);
    f.need_not = need_not;
    if (!(have = entra_pairs_get(claims, "scp"))) {
        /* an app-only token, or a browser session: no delegated scopes */
        f.found = ENTRA_CLAIM_UNKNOWN;
        f.unknown = "the token carries no scp claim";
    }
    while (have && *(want = ap_getword_conf(r->pool, &line))) {
        if (claim_has_in(have, want, " ,")) {
            f.found = ENTRA_CLAIM_MATCH;
            break;
        }
    }
    if (f.found != ENTRA_CLAIM_MATCH && context_of(parsed) == ENTRA_AUTHZ_PLAIN)
        note_scope_needed(r, require_line);
    return answer(r, parsed, &f);
}

/* entra-acrs c1 [c2 ...]: the session's acrs (authentication contexts
 * its sign-in satisfied) holds one of them. A plain line that is not
 * satisfied (acrs without it, or none) leaves the first of its contexts
 * for a step-up; a negated one never does: under `Require not`, a missing
 * acrs is unknown and denies (fail closed), and no step-up can help it. */
static authz_status acrs_check(request_rec *r, const char *require_line, const void *parsed)
{
    authz_status status = check_claim(r, require_line, parsed, "acrs",
                                      "the authentication context", "no authentication context");
    const char *line = require_line, *word;

    if (status == AUTHZ_DENIED && context_of(parsed) == ENTRA_AUTHZ_PLAIN
        && entra_request_claims(r) && !apr_table_get(r->notes, STEPUP_NOTE)) {
        /* the first word that is a context id (a '#' one was only warned
         * about at start-up): it goes into the claims JSON as it is */
        while (*(word = ap_getword_conf(r->pool, &line)) && !entra_acr_valid(word))
            ;
        if (*word)
            apr_table_setn(r->notes, STEPUP_NOTE, word);
    }
    return status;
}

static authz_status tenant_check(request_rec *r, const char *line, const void *parsed)
{
    return check_claim(r, line, parsed, "tid", "an account of tenant",
                       "an account of a tenant other than");
}

/* entra-claim name:value [name:value ...]: grants when any pair matches.
 * When none does and one of the named claims is missing, the answer is
 * unknown, not "no": a missing claim never satisfies Require not. */
static authz_status claim_check(request_rec *r, const char *require_line, const void *parsed)
{
    const char *need_not, *line = require_line, *word, *absent = NULL;
    const apr_array_header_t *claims;
    finding f = { ENTRA_CLAIM_NO_MATCH, NULL, NULL, NULL };

    if (!r->user)
        return AUTHZ_DENIED_NO_USER;
    need_not = apr_pstrcat(r->pool, "none of the claims ", require_line, NULL);
    if (!(claims = claims_or_unknown(r, &f, need_not)))
        return answer(r, parsed, &f);
    f.need = apr_pstrcat(r->pool, "the claim ", require_line, NULL);
    f.need_not = need_not;
    while (*(word = ap_getword_conf(r->pool, &line))) {
        const char *colon = strchr(word, ':');
        const char *name;

        if (!colon)
            continue;
        name = apr_pstrmemdup(r->pool, word, (apr_size_t)(colon - word));
        if (entra_claims_has(claims, name, colon + 1)) {
            f.found = ENTRA_CLAIM_MATCH;
            break;
        }
        if (!absent && !entra_pairs_get(claims, name))
            absent = name;
        /* a partial list of groups (config.h): absence is not known */
        if (!absent && strcmp(name, "groups") == 0 && !group_known(r, claims, colon + 1))
            absent = "groups (the session keeps only some)";
    }
    if (f.found != ENTRA_CLAIM_MATCH && absent) {
        f.found = ENTRA_CLAIM_UNKNOWN;
        f.unknown = apr_pstrcat(r->pool, "the sign-in carries no ", absent, " claim", NULL);
    }
    return answer(r, parsed, &f);
}

/* Every parser ends here: where does this Require line sit? The answer is
 * kept as the line's parsed data (a pointer to one of three constants). */
static const void *placed(cmd_parms *cmd, const char *provider)
{
    static const entra_authz_context contexts[] = {
        ENTRA_AUTHZ_PLAIN, ENTRA_AUTHZ_NEGATED, ENTRA_AUTHZ_UNKNOWN
    };
    const ap_directive_t *d = cmd->directive;
    entra_authz_context context = ENTRA_AUTHZ_UNKNOWN;

    /* cmd->directive->args is the whole line: "[not] <provider> <values>".
     * mod_authz_core reads the word "not" with ap_getword_conf, case
     * insensitively; so do we. The provider's name must follow, or this is
     * not the line being parsed (<AuthzProviderAlias> calls the parser with
     * its own directive). */
    if (d && d->directive && strcasecmp(d->directive, "Require") == 0 && d->args) {
        const char *args = d->args;
        const char *word = ap_getword_conf(cmd->temp_pool, &args);
        int require_not = strcasecmp(word, "not") == 0;

        if (require_not)
            word = ap_getword_conf(cmd->temp_pool, &args);
        if (strcasecmp(word, provider) == 0)
            context = entra_authz_context_of(d, require_not);
    }
    if (context == ENTRA_AUTHZ_UNKNOWN)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cmd->server, ENTRALOG(00604)
                     "%s:%d: %s outside a Require line of its own (<AuthzProviderAlias>?): "
                     "when a claim it needs is missing or unknown, the request gets an "
                     "error (500), as the module cannot tell whether the line is negated",
                     d && d->filename ? d->filename : "?", d ? d->line_num : 0, provider);
    return &contexts[context];
}

/* A word that starts with '#' was meant as a comment (ENTRA00114). */
static void warn_hash_words(cmd_parms *cmd, const char *require_line, const char *name)
{
    const char *line = require_line, *word;

    /* .htaccess is parsed per request: its lines would warn on every hit */
    if (cmd->pool != cmd->server->process->pconf)
        return;
    while (*(word = ap_getword_conf(cmd->temp_pool, &line))) {
        if (*word == '#') {
            entra_conf_warn_hash(cmd, apr_pstrcat(cmd->temp_pool, "Require ", name, NULL),
                                 word);
            return;
        }
    }
}

/* entra-claim words must be name:value; caught at start-up. */
static const char *claim_parse(cmd_parms *cmd, const char *require_line, const void **parsed)
{
    const char *line = require_line, *word;

    warn_hash_words(cmd, require_line, "entra-claim");
    while (*(word = ap_getword_conf(cmd->temp_pool, &line))) {
        const char *colon = strchr(word, ':');
        if (!colon || colon == word || !colon[1])
            return apr_pstrcat(cmd->pool, "Require entra-claim: '", word,
                               "' is not of the form <claim>:<value>", NULL);
        if (colon - word == 6 && strncmp(word, "groups", 6) == 0)
            entra_conf_name_group(cmd, colon + 1);
    }
    *parsed = placed(cmd, "entra-claim");
    return NULL;
}

static const char *values_parse(cmd_parms *cmd, const char *require_line, const char *name,
                                const void **parsed)
{
    const char *line = require_line;

    warn_hash_words(cmd, require_line, name);
    if (!*ap_getword_conf(cmd->temp_pool, &line))
        return apr_pstrcat(cmd->pool, "Require ", name, ": needs at least one value", NULL);
    *parsed = placed(cmd, name);
    return NULL;
}

#define VALUES_PARSER(fn, name) \
    static const char *fn(cmd_parms *cmd, const char *line, const void **parsed) \
    { return values_parse(cmd, line, name, parsed); }
VALUES_PARSER(role_parse, "entra-role")

/* The groups named are what a big cookie session keeps (see config.h). */
static const char *group_parse(cmd_parms *cmd, const char *require_line, const void **parsed)
{
    const char *line = require_line, *word;

    while (*(word = ap_getword_conf(cmd->temp_pool, &line)))
        entra_conf_name_group(cmd, word);
    return values_parse(cmd, require_line, "entra-group", parsed);
}
VALUES_PARSER(tenant_parse, "entra-tenant")

/* entra-acrs takes the tenant's authentication context ids, c1 .. c99. */
static const char *acrs_parse(cmd_parms *cmd, const char *require_line, const void **parsed)
{
    const char *line = require_line, *word;

    while (*(word = ap_getword_conf(cmd->temp_pool, &line))) {
        if (!entra_acr_valid(word) && *word != '#')
            return apr_pstrcat(cmd->pool, "Require entra-acrs: '", word, "' is not an "
                               "authentication context id (c1 to c99)", NULL);
    }
    return values_parse(cmd, require_line, "entra-acrs", parsed);
}
VALUES_PARSER(scope_parse, "entra-scope")

static const authz_provider role_provider = { role_check, role_parse };
static const authz_provider group_provider = { group_check, group_parse };
static const authz_provider scope_provider = { scope_check, scope_parse };
static const authz_provider tenant_provider = { tenant_check, tenant_parse };
static const authz_provider acrs_provider = { acrs_check, acrs_parse };
static const authz_provider claim_provider = { claim_check, claim_parse };

/* Denied, and a plain entra-acrs line was not satisfied: instead of the
 * 403, a step-up (stepup.h) asks Entra for that authentication context,
 * or the caller gets the insufficient_claims challenge. Only here, once the
 * whole <RequireAny>/<RequireAll> has answered "denied": a line that
 * failed on a way in that another line opened changes nothing. The answer
 * is made in the error response: a redirect's Location goes with the
 * headers it keeps (err_headers_out). */
static int stepped_up(request_rec *r)
{
    const entra_server_conf *sc = ap_get_module_config(r->server->module_config,
                                                       &auth_entra_module);
    const entra_session *session = ap_get_module_config(r->request_config, &auth_entra_module);
    const char *acr = apr_table_get(r->notes, STEPUP_NOTE), *location;
    int status;

    if (!acr || !session || r->main)
        return 0;
    status = entra_stepup_start(r, sc, session, acr, -1, entra_is_api_request(r));
    if ((location = apr_table_get(r->headers_out, "Location"))) {
        apr_table_setn(r->err_headers_out, "Location", location);
        apr_table_unset(r->headers_out, "Location");
    }
    if (status != HTTP_MOVED_TEMPORARILY && status != HTTP_UNAUTHORIZED
        && status != HTTP_FORBIDDEN)
        ap_custom_response(r, HTTP_UNAUTHORIZED, "Sign-in is unavailable: the identity provider "
                           "could not be reached. Please try again in a moment.");
    r->status = status;
    return 1;
}

/* mod_authz_core turns a denial after authentication into 401, so that a
 * Basic-auth browser asks again. A signed-in Entra user asking again gets
 * the same answer: make it the 403 it is, with the page that says why. */
static void entra_authz_forbid(request_rec *r)
{
    const char *type = r->ap_auth_type, *scopes;

    if (r->status != HTTP_UNAUTHORIZED || !r->user || !*r->user || !type
        || (strcasecmp(type, "Entra") != 0 && strcasecmp(type, "Entra-Bearer") != 0))
        return;
    if (stepped_up(r))
        return;
    r->status = HTTP_FORBIDDEN;
    entra_metric_inc(ENTRA_M_AUTHZ_DENIED);
    /* RFC 6750 3.1: a bearer token without the scope a line requires. */
    if ((scopes = apr_table_get(r->notes, SCOPE_NOTE)))
        entra_bearer_insufficient_scope(r, scopes);
    /* Denied by a requirement that sets no page of its own (another
     * module's, e.g. Require not ip ...). The entra-* providers set theirs,
     * negated or not. */
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
        { "entra-acrs", &acrs_provider },
    };
    apr_size_t i;

    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, all[i].name,
                                  AUTHZ_PROVIDER_VERSION, all[i].provider,
                                  AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_insert_error_filter(entra_authz_forbid, NULL, NULL, APR_HOOK_MIDDLE);
}
