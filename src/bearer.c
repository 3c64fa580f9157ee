/* Bearer access tokens for the app's own API (see bearer.h). */
#include "bearer.h"
#include "claims.h"
#include "connkept.h"
#include "crypto.h"
#include "jwt.h"
#include "log.h"
#include "metrics.h"
#include "provider.h"
#include "respond.h"
#include "token.h"
#include "tokencache.h"
#include "util.h"

#include <http_core.h>
#include <http_log.h>
#include <http_request.h>
#include <apr_strings.h>
#include <string.h>

APLOG_USE_MODULE(auth_entra);
extern module AP_MODULE_DECLARE_DATA auth_entra_module;

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

void entra_bearer_insufficient_scope(request_rec *r, const char *scopes)
{
    apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                   apr_psprintf(r->pool, "Bearer realm=\"%s\", error=\"insufficient_scope\", "
                                "error_description=\"the token lacks a scope this resource "
                                "requires\", scope=\"%s\"",
                                ap_escape_quotes(r->pool, ap_get_server_name(r)),
                                ap_escape_quotes(r->pool, scopes)));
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

/* Validated tokens of this process (tokencache.h), made at child_init. */
#define TOKEN_CACHE_MAX 4096
static entra_token_cache *validated;

static apr_status_t validated_gone(void *data)
{
    (void)data;
    validated = NULL;
    return APR_SUCCESS;
}

void entra_bearer_child_init(apr_pool_t *pchild)
{
    validated = entra_token_cache_create(pchild, TOKEN_CACHE_MAX);
    /* registered after the cache's own cleanup, so it runs before it: a
     * call still under way as the child ends finds no cache, not a freed one */
    apr_pool_cleanup_register(pchild, NULL, validated_gone, apr_pool_cleanup_null);
}

/* The cache's key: the token and everything its check depended on beyond
 * the app (the audience this virtual host takes, its clock skew), hashed
 * (the token is a credential and stays out of memory that outlives the
 * request, but for the connection's last token, below, which lives no
 * longer than the connection that brought it). The tenant rules are
 * checked again on every use. NULL (no caching) if hashing fails. */
static const char *cache_key(request_rec *r, const entra_server_conf *sc, const char *token)
{
    const char *parts[] = { sc->app_tag, entra_conf_app_id_uri(r->pool, sc),
                            apr_ltoa(r->pool, (long)entra_conf_clock_skew(sc)), token };
    unsigned char digest[32];

    if (!entra_sha256_parts(parts, 4, digest))
        return NULL;
    return entra_b64url_encode(r->pool, digest, sizeof(digest));
}

/* The claims a token validated before gave (kept with entra_claims_pack_kept,
 * a copy in r->pool), if its tenant is still one this virtual host admits
 * (two vhosts of one app registration may admit different tenants). */
static apr_array_header_t *kept_claims(request_rec *r, const entra_server_conf *sc,
                                       const unsigned char *kept, apr_size_t len)
{
    apr_array_header_t *claims = entra_claims_unpack_kept(r->pool, kept, len);

    if (!claims || !entra_conf_session_tenant_ok(sc, entra_pairs_get(claims, "tid")))
        return NULL;
    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, "bearer token validated before: no "
                  "signature check this time");
    return claims;
}

/* ---- the connection's last token (connkept.h): a call that brings the
 * token its connection's last call was accepted with is spared the
 * token's hash and the process cache's lock. */
static apr_array_header_t *conn_claims(request_rec *r, const entra_server_conf *sc,
                                       const char *token, apr_int64_t now)
{
    apr_size_t len;
    const unsigned char *kept = entra_conn_kept_get(r, ENTRA_KEPT_BEARER, sc, token, now, &len);

    if (!kept)
        return NULL;
    ap_log_rerror(APLOG_MARK, APLOG_TRACE2, 0, r, "bearer token: the one this connection's "
                  "last call was accepted with");
    return kept_claims(r, sc, kept, len);
}

/* A token validated before, for this virtual host, found in the process
 * cache by its key: its claims (and the connection keeps it). */
static apr_array_header_t *cached_claims(request_rec *r, const entra_server_conf *sc,
                                         const char *token, const char *key, apr_int64_t now)
{
    const unsigned char *kept;
    apr_array_header_t *claims;
    apr_int64_t valid_until;
    apr_size_t len;

    if (!validated || !key
        || !(kept = entra_token_cache_get(validated, r->pool, key, now, &len, &valid_until))
        || !(claims = kept_claims(r, sc, kept, len)))
        return NULL;
    entra_conn_kept_put(r, ENTRA_KEPT_BEARER, sc, token, kept, len, now, valid_until);
    return claims;
}

/* The token verified (signature, issuer, audience, times) and shaped like
 * an access token of an admitted tenant: its claims, or NULL with the
 * answer in *status. */
static json_t *verified_claims(request_rec *r, const entra_server_conf *sc, const char *token,
                               int *status)
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
        *status = HTTP_BAD_GATEWAY;
        return NULL;
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
            *status = HTTP_BAD_GATEWAY;
            return NULL;
        }
    }
    else if ((why = access_token_shape(claims)) || (why = entra_policy_refusal(r->pool, sc, claims)))
        claims = NULL;
    /* The app's tenant rules, as for a session: EntraAllowedTenants, and
     * organizations/consumers. */
    else if (!entra_conf_session_tenant_ok(sc, json_string_value(json_object_get(claims, "tid")))) {
        why = "its tenant is not admitted by EntraTenant/EntraAllowedTenants";
        claims = NULL;
    }
    if (!claims) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00703)
                      "bearer token rejected: %s", why);
        *status = entra_bearer_challenge(r, "invalid_token", why);
    }
    return claims;
}

static int check_token(request_rec *r, const entra_server_conf *sc, const char *token,
                       entra_session **session)
{
    apr_int64_t now = apr_time_sec(apr_time_now()), valid_until;
    const char *key;
    unsigned char *plain;
    apr_size_t len;
    json_t *claims;
    int status = OK;

    *session = apr_pcalloc(r->pool, sizeof(**session));
    (*session)->from_bearer = 1;
    /* Seen and accepted before: no RSA this time. */
    if (((*session)->claims = conn_claims(r, sc, token, now)))
        return OK;
    key = cache_key(r, sc, token);
    if (((*session)->claims = cached_claims(r, sc, token, key, now)))
        return OK;
    if (!(claims = verified_claims(r, sc, token, &status))) {
        entra_conn_kept_forget(r, ENTRA_KEPT_BEARER);
        return status;
    }
    (*session)->claims = entra_claims_from_json(r->pool, claims);
    entra_claims_apply_map((*session)->claims, sc->claim_maps);
    if (key && json_is_integer(json_object_get(claims, "exp"))) {
        plain = entra_claims_pack_kept(r->pool, (*session)->claims, &len);
        valid_until = json_integer_value(json_object_get(claims, "exp"))
                      + entra_conf_clock_skew(sc);
        if (validated)
            entra_token_cache_put(validated, key, plain, len, valid_until);
        entra_conn_kept_put(r, ENTRA_KEPT_BEARER, sc, token, plain, len, now,
                            valid_until);
    }
    return OK;
}

/* Counted once a request: a subrequest or internal redirect checks the
 * token again, but it is one token. */
int entra_bearer_check(request_rec *r, const entra_server_conf *sc, const char *token,
                       entra_session **session)
{
    int status = check_token(r, sc, token, session);

    if (ap_is_initial_req(r))
        entra_metric_inc(status == OK ? ENTRA_M_BEARER_ACCEPTED
                         : status == HTTP_UNAUTHORIZED ? ENTRA_M_BEARER_REFUSED
                         : ENTRA_M_BEARER_UNAVAILABLE);
    return status;
}
