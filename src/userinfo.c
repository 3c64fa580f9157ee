/* Userinfo and Graph /me (see userinfo.h). */
#include "userinfo.h"
#include "http.h"
#include "jwt.h"

#include <apr_strings.h>
#include <string.h>

/* 50 pages of up to 999 ids: far beyond any real membership. */
#define GROUP_PAGES_MAX 50

const char *entra_graph_base(apr_pool_t *p, const entra_server_conf *sc,
                             const entra_metadata *meta)
{
    const char *host = sc->graph_host ? sc->graph_host : meta->msgraph_host;
    char *base;
    apr_size_t len;

    /* Each cloud has its own Graph: never guess the global one. */
    if (!host || !*host)
        return NULL;
    /* Entra's Graph is https; only a test authority on plain http gets a
     * plain-http Graph next to it. */
    base = strstr(host, "://") ? apr_pstrdup(p, host)
           : apr_pstrcat(p, strncmp(entra_conf_authority(sc), "http://", 7) == 0 ? "http://"
                                                                               : "https://",
                         host, NULL);
    len = strlen(base);

    while (len > 0 && base[len - 1] == '/')
        base[--len] = '\0';
    return base;
}

static const char *fetch_object(apr_pool_t *p, entra_endpoint ep, const char *url,
                                const char *access_token, int timeout, json_t **out)
{
    entra_http_opts opts = { timeout, access_token, NULL, NULL, ep };
    entra_http_response resp;
    const char *why = entra_http_call(p, url, NULL, &opts, &resp);

    if (why)
        return why;
    if (resp.status != 200)
        return apr_psprintf(p, "%s answered HTTP %ld", url, resp.status);
    *out = entra_json_pool_own(p, json_loadb(resp.body, resp.len, 0, NULL));
    if (!json_is_object(*out))
        return apr_psprintf(p, "%s answered without a JSON object", url);
    return NULL;
}

/* The profile must describe the user who signed in. */
static int same_user(json_t *claims, json_t *profile, const char *mine, const char *theirs)
{
    const char *a = json_string_value(json_object_get(claims, mine));
    const char *b = json_string_value(json_object_get(profile, theirs));

    return !a || !b || strcmp(a, b) == 0;
}

/* Claims that say who the user is or what the user may do. Only the signed
 * ID token may carry them: a profile is unsigned, partly user-editable
 * (mail), and for an attacker's own tenant says whatever its admin wrote,
 * so a profile e-mail or role must never become the identity or a right
 * (the "nOAuth" class). */
static const char *const token_only[] = {
    "sub", "oid", "tid", "iss", "aud", "azp", "appid", "idp", "sid", "nonce",
    "roles", "groups", "wids", "scp", "hasgroups", "acrs", "acr", "amr", "auth_time",
    "email", "preferred_username", "upn", "unique_name", "login_hint",
    "verified_primary_email", "verified_secondary_email", "xms_edov",
    "exp", "nbf", "iat", "ver", "uti", "rh", "aio", "tfp", "emails",
    NULL
};

static int token_only_claim(const char *name)
{
    int i;

    /* _claim_names/_claim_sources steer where groups are read from. */
    if (strncmp(name, "_claim_", 7) == 0)
        return 1;
    for (i = 0; token_only[i]; i++) {
        if (strcmp(name, token_only[i]) == 0)
            return 1;
    }
    return 0;
}

int entra_profile_merge(json_t *claims, json_t *profile)
{
    const char *name;
    json_t *value;
    int added = 0;

    /* The validated ID token wins; the profile only adds what it lacks. */
    json_object_foreach(profile, name, value) {
        if (json_object_get(claims, name) || token_only_claim(name))
            continue;
        json_object_set(claims, name, value);
        added++;
    }
    return added;
}

const char *entra_userinfo_merge(apr_pool_t *p, const entra_server_conf *sc,
                                 const entra_metadata *meta, const char *access_token,
                                 json_t *claims)
{
    entra_userinfo_source source = entra_conf_userinfo(sc);
    const char *url, *why;
    json_t *profile = NULL;

    if (source == ENTRA_USERINFO_NONE)
        return NULL;
    if (!access_token)
        return "the token response has no access_token to call userinfo/Graph with";
    if (source == ENTRA_USERINFO_OIDC)
        url = meta->userinfo_endpoint;
    else
        url = (url = entra_graph_base(p, sc, meta)) ? apr_pstrcat(p, url, "/v1.0/me", NULL) : NULL;
    if (!url)
        return source == ENTRA_USERINFO_OIDC
                   ? "EntraUserInfo oidc: the discovery document has no userinfo_endpoint"
                   : "EntraUserInfo graph: discovery names no msgraph_host; set EntraGraphHost";
    if ((why = fetch_object(p, source == ENTRA_USERINFO_OIDC ? ENTRA_EP_USERINFO : ENTRA_EP_GRAPH,
                            url, access_token, entra_conf_http_timeout(sc), &profile)))
        return apr_pstrcat(p, source == ENTRA_USERINFO_OIDC ? "userinfo: " : "Graph /me: ",
                           why, NULL);
    if (!same_user(claims, profile, "sub", "sub") || !same_user(claims, profile, "oid", "id"))
        return apr_pstrcat(p, url, " describes another user than the ID token", NULL);
    entra_profile_merge(claims, profile);
    return NULL;
}

/* Entra left `groups` out (over 200) and pointed at the retired Azure AD
 * Graph instead. */
int entra_groups_overage(json_t *claims)
{
    json_t *names = json_object_get(claims, "_claim_names");

    return !json_object_get(claims, "groups") && json_is_object(names)
           && json_object_get(names, "groups");
}

/* Appends the ids of one Graph page to `groups`; sets *next to the next
 * page's URL or NULL. */
static const char *take_page(apr_pool_t *p, json_t *page, json_t *groups, const char **next)
{
    json_t *value = json_object_get(page, "value"), *item;
    size_t i;

    if (!json_is_array(value))
        return "Graph answered without a value array";
    json_array_foreach(value, i, item) {
        json_t *id = json_is_string(item) ? item : json_object_get(item, "id");
        if (!json_is_string(id))
            return "Graph answered with a member object that has no id";
        json_array_append(groups, id);
    }
    *next = apr_pstrdup(p, json_string_value(json_object_get(page, "@odata.nextLink")));
    return NULL;
}

const char *entra_groups_resolve(apr_pool_t *p, const entra_server_conf *sc,
                                 const entra_metadata *meta, const char *access_token,
                                 json_t *claims)
{
    entra_http_opts opts = { entra_conf_http_timeout(sc), access_token, NULL, NULL,
                             ENTRA_EP_GRAPH };
    const char *base = entra_graph_base(p, sc, meta);
    const char *url = base ? apr_pstrcat(p, base, "/v1.0/me/getMemberObjects", NULL) : NULL;
    const char *body = "{\"securityEnabledOnly\":false}", *why;
    json_t *groups = entra_json_pool_own(p, json_array());
    int pages;

    if (!access_token)
        return "the token response has no access_token to ask Graph for the groups";
    if (!url)
        return "discovery names no msgraph_host; set EntraGraphHost";
    for (pages = 0; url && pages < GROUP_PAGES_MAX; pages++) {
        entra_http_response resp;
        json_t *page;
        if ((why = entra_http_call_json(p, url, body, &opts, &resp)))
            return apr_pstrcat(p, "Graph getMemberObjects: ", why, NULL);
        page = entra_json_pool_own(p, json_loadb(resp.body, resp.len, 0, NULL));
        if (resp.status != 200 || !json_is_object(page))
            return apr_psprintf(p, "Graph getMemberObjects: %s answered HTTP %ld%s", url,
                                resp.status, json_is_object(page) ? "" : " without JSON");
        if ((why = take_page(p, page, groups, &url)))
            return why;
        /* The user's token goes to the Graph host only: a nextLink that
         * leads anywhere else is not followed, and the groups stay unread. */
        if (url && (strncmp(url, base, strlen(base)) != 0 || url[strlen(base)] != '/'))
            return "Graph getMemberObjects: @odata.nextLink leads off the Graph host; not "
                   "followed with the user's token";
        body = NULL;    /* Graph's nextLink is followed with GET */
    }
    if (url)
        return "Graph getMemberObjects: too many pages";
    json_object_set(claims, "groups", groups);
    json_object_del(claims, "_claim_names");
    json_object_del(claims, "_claim_sources");
    return NULL;
}
