/* Userinfo and Graph /me (see userinfo.h). */
#include "userinfo.h"
#include "http.h"
#include "jwt.h"

#include <apr_strings.h>
#include <string.h>

const char *entra_graph_base(apr_pool_t *p, const entra_server_conf *sc,
                             const entra_metadata *meta)
{
    const char *host = sc->graph_host ? sc->graph_host
                       : meta->msgraph_host ? meta->msgraph_host : "graph.microsoft.com";
    char *base = strstr(host, "://") ? apr_pstrdup(p, host)
                                     : apr_pstrcat(p, "https://", host, NULL);
    apr_size_t len = strlen(base);

    while (len > 0 && base[len - 1] == '/')
        base[--len] = '\0';
    return base;
}

static const char *fetch_object(apr_pool_t *p, const char *url, const char *access_token,
                                int timeout, json_t **out)
{
    entra_http_opts opts = { timeout, access_token, NULL, NULL };
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
    url = source == ENTRA_USERINFO_OIDC
              ? meta->userinfo_endpoint
              : apr_pstrcat(p, entra_graph_base(p, sc, meta), "/v1.0/me", NULL);
    if (!url)
        return "EntraUserInfo oidc: the discovery document has no userinfo_endpoint";
    if ((why = fetch_object(p, url, access_token, entra_conf_http_timeout(sc), &profile)))
        return apr_pstrcat(p, source == ENTRA_USERINFO_OIDC ? "userinfo: " : "Graph /me: ",
                           why, NULL);
    if (!same_user(claims, profile, "sub", "sub") || !same_user(claims, profile, "oid", "id"))
        return apr_pstrcat(p, url, " describes another user than the ID token", NULL);
    /* The validated ID token wins; the profile only adds what it lacks. */
    json_object_update_missing(claims, profile);
    return NULL;
}
