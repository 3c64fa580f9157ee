/* The module's own URLs, dispatched from one table (see endpoints.h). */
#include "endpoints.h"
#include "login.h"
#include "logout.h"
#include "refresh.h"
#include "log.h"
#include "respond.h"
#include "store.h"
#include "claims.h"
#include "jwt.h"
#include "session.h"
#include "util.h"

#include <http_config.h>
#include <http_protocol.h>

#include <http_log.h>
#include <apr_strings.h>
#include <string.h>

APLOG_USE_MODULE(auth_entra);
extern module AP_MODULE_DECLARE_DATA auth_entra_module;

static void add_claim(apr_pool_t *p, json_t *user_claims,
                      const apr_array_header_t *claims, const entra_pair *c)
{
    char *rest, *one;

    /* App Service lists each element of an array claim as its own entry. */
    if (!entra_claims_is_array(claims, c->name) || !*c->value) {
        json_array_append_new(user_claims, json_pack("{s:s, s:s}", "typ", c->name,
                                                     "val", c->value));
        return;
    }
    for (one = apr_strtok(apr_pstrdup(p, c->value), ",", &rest); one;
         one = apr_strtok(NULL, ",", &rest))
        json_array_append_new(user_claims, json_pack("{s:s, s:s}", "typ", c->name, "val", one));
}

/* /.auth/me in Azure App Service's shape, so a single-page app moved from
 * there keeps working: [{provider_name, user_id, user_claims: [{typ, val}],
 * access_token, expires_on}]. 401 when not signed in. */
static int me(request_rec *r, const entra_server_conf *sc)
{
    const entra_dir_conf *dc = ap_get_module_config(r->per_dir_config, &auth_entra_module);
    entra_session *session = entra_store_load(r, sc);
    json_t *identity, *user_claims;
    const char *token, *expires, *user;
    char *text;
    int i;

    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    /* EntraSessionRevalidate here too: a revoked session hands out no
     * claims and no access token */
    if (session && entra_refresh_revalidate(r, sc, session) == ENTRA_REFRESH_REFUSED)
        session = NULL;
    if (!session) {
        apr_table_setn(r->err_headers_out, "WWW-Authenticate", "Bearer");
        return HTTP_UNAUTHORIZED;
    }
    user = entra_claims_pick_user(r->pool, session->claims, entra_conf_remote_user_claims(dc));
    user_claims = json_array();
    for (i = 0; i < session->claims->nelts; i++) {
        const entra_pair *c = &APR_ARRAY_IDX(session->claims, i, entra_pair);
        if (c->name[0] != ':')
            add_claim(r->pool, user_claims, session->claims, c);
    }
    identity = entra_json_pool_own(r->pool, json_pack("{s:s, s:s?, s:o}", "provider_name", "aad",
                                                      "user_id", user, "user_claims",
                                                      user_claims));
    token = entra_pairs_get(session->claims, ENTRA_SESSION_ACCESS_TOKEN);
    expires = entra_pairs_get(session->claims, ENTRA_SESSION_ACCESS_EXPIRES);
    if (token && entra_conf_pass_access_token(sc)) {
        json_object_set_new(identity, "access_token", json_string(token));
        if (expires)
            json_object_set_new(identity, "expires_on", json_string(expires));
    }
    text = json_dumps(identity, JSON_COMPACT);
    ap_set_content_type(r, "application/json");
    if (text) {
        ap_rvputs(r, "[", text, "]", NULL);
        free(text);
    }
    return OK;
}

typedef int (*endpoint_fn)(request_rec *r, const entra_server_conf *sc);

typedef struct {
    const char *path;       /* NULL: the configured redirect URI's path */
    endpoint_fn handle;
} endpoint;

static const endpoint endpoints[] = {
    { NULL, entra_callback },
    { ENTRA_LOGOUT_PATH, entra_logout },
    { ENTRA_ME_PATH, me },
    { ENTRA_REFRESH_PATH, entra_refresh_endpoint },
    { ENTRA_LOGIN_PATH, entra_login_endpoint },
};

int entra_endpoint_dispatch(request_rec *r, const entra_server_conf *sc)
{
    const char *path = r->parsed_uri.path;
    apr_size_t i;

    if (!path)
        return DECLINED;
    for (i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++) {
        const char *want = endpoints[i].path ? endpoints[i].path : entra_redirect_uri_path(sc);
        if (strcmp(path, want) == 0)
            return endpoints[i].handle(r, sc);
    }
    return DECLINED;
}
