/* Bearer access tokens for the app's own API (see bearer.h). */
#include "bearer.h"
#include "claims.h"
#include "jwt.h"
#include "log.h"
#include "provider.h"
#include "respond.h"
#include "util.h"

#include <http_core.h>
#include <http_log.h>
#include <apr_strings.h>
#include <string.h>

APLOG_USE_MODULE(auth_entra);

const char *entra_bearer_token(request_rec *r)
{
    const char *auth = apr_table_get(r->headers_in, "Authorization");

    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
        return NULL;
    auth += 7;
    while (*auth == ' ')
        auth++;
    return *auth ? auth : NULL;
}

int entra_bearer_challenge(request_rec *r, const char *error, const char *description)
{
    const char *realm = ap_escape_quotes(r->pool, ap_get_server_name(r));

    apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                   error ? apr_psprintf(r->pool, "Bearer realm=\"%s\", error=\"%s\", "
                                        "error_description=\"%s\"", realm, error,
                                        ap_escape_quotes(r->pool, description))
                         : apr_psprintf(r->pool, "Bearer realm=\"%s\"", realm));
    return HTTP_UNAUTHORIZED;
}

/* Access tokens with ver 1.0 come from the cloud's STS (sts.windows.net,
 * or sts.chinacloudapi.cn for Microsoft Entra operated by 21Vianet),
 * whichever endpoint was used: the same tenant, or the {tenantid} template
 * for multi-tenant apps. */
static const char *v1_issuer(apr_pool_t *p, const entra_metadata *meta)
{
    const char *tenant = strstr(meta->issuer, "{tenantid}") ? "{tenantid}"
                         : entra_url_guid_segment(p, meta->issuer);
    const char *cloud = meta->cloud_instance_name;
    const char *sts = cloud && strcmp(cloud, "partner.microsoftonline.cn") == 0
                      ? "https://sts.chinacloudapi.cn/" : "https://sts.windows.net/";

    return tenant ? apr_pstrcat(p, sts, tenant, "/", NULL) : NULL;
}

/* An ID token is signed for the same audience, but it is no credential
 * for an API: access tokens name the client that got them (azp in v2,
 * appid in v1) and carry no nonce. */
static const char *access_token_shape(json_t *claims)
{
    if (json_object_get(claims, "nonce"))
        return "an ID token is not an access token";
    if (!json_is_string(json_object_get(claims, "azp"))
        && !json_is_string(json_object_get(claims, "appid")))
        return "not an access token (no azp or appid)";
    return NULL;
}

int entra_bearer_check(request_rec *r, const entra_server_conf *sc, const char *token,
                       entra_session **session)
{
    entra_key_query query = { sc->provider, r->pool, entra_conf_http_timeout(sc), NULL };
    entra_metadata meta;
    entra_jwt_expect want = { 0 };
    json_t *claims;
    const char *why;

    if ((why = entra_provider_metadata(sc->provider, r->pool, entra_conf_http_timeout(sc),
                                       &meta))) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00701)
                      "cannot validate bearer tokens: %s", why);
        return HTTP_BAD_GATEWAY;
    }
    want.issuer = meta.issuer;
    want.issuer_v1 = v1_issuer(r->pool, &meta);
    want.client_id = sc->client_id;
    want.app_id_uri = entra_conf_app_id_uri(r->pool, sc);
    want.now = apr_time_sec(apr_time_now());
    want.skew = entra_conf_clock_skew(sc);
    if (!(claims = entra_jwt_verify(r->pool, token, &want, entra_provider_key_lookup, &query,
                                    &why))) {
        if (query.fetch_error) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00702)
                          "cannot validate bearer tokens: %s", query.fetch_error);
            return HTTP_BAD_GATEWAY;
        }
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00703)
                      "bearer token rejected: %s", why);
        return entra_bearer_challenge(r, "invalid_token", why);
    }
    if ((why = access_token_shape(claims))) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00703)
                      "bearer token rejected: %s", why);
        return entra_bearer_challenge(r, "invalid_token", why);
    }
    /* The app's tenant rules, as for a session: EntraAllowedTenants, and
     * organizations/consumers. */
    if (!entra_conf_session_tenant_ok(sc, json_string_value(json_object_get(claims, "tid")))) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00704)
                      "bearer token rejected: its tenant is not admitted by EntraTenant/"
                      "EntraAllowedTenants");
        return entra_bearer_challenge(r, "invalid_token", "tenant not allowed");
    }
    *session = apr_pcalloc(r->pool, sizeof(**session));
    (*session)->from_bearer = 1;
    (*session)->claims = entra_claims_from_json(r->pool, claims);
    entra_claims_apply_map((*session)->claims, sc->claim_maps);
    return OK;
}
