/* Token verification (see jwt.h). */
#include "jwt.h"
#include "util.h"

#include <apr_strings.h>
#include <string.h>

#define TENANT_PLACEHOLDER "{tenantid}"
/* A JWS bigger than this is not an Entra ID token; refuse before parsing. */
#define TOKEN_MAX (64 * 1024)

static apr_status_t json_cleanup(void *data)
{
    json_decref(data);
    return APR_SUCCESS;
}

json_t *entra_json_pool_own(apr_pool_t *p, json_t *json)
{
    if (json)
        apr_pool_cleanup_register(p, json, json_cleanup, apr_pool_cleanup_null);
    return json;
}

static apr_status_t jws_cleanup(void *data)
{
    cjose_jws_release(data);
    return APR_SUCCESS;
}

/* Every "{tenantid}" is filled: External ID's templates name the tenant
 * as host and in the path (https://{tenantid}.ciamlogin.com/{tenantid}/v2.0). */
const char *entra_expected_issuer(apr_pool_t *p, const char *issuer, const char *tid)
{
    const char *at = strstr(issuer, TENANT_PLACEHOLDER), *out = "";

    if (!at)
        return issuer;
    if (!entra_is_guid(tid))
        return NULL;
    for (; at; issuer = at + strlen(TENANT_PLACEHOLDER), at = strstr(issuer, TENANT_PLACEHOLDER))
        out = apr_pstrcat(p, out, apr_pstrmemdup(p, issuer, (apr_size_t)(at - issuer)), tid,
                          NULL);
    return apr_pstrcat(p, out, issuer, NULL);
}

/* Only RS256: Entra signs nothing else, and an allow-list keeps out "none"
 * and HMAC keyed with a public key. */
static int alg_allowed(const char *alg)
{
    return alg && strcmp(alg, CJOSE_HDR_ALG_RS256) == 0;
}

static const char *check_header(cjose_jws_t *jws, const char **kid)
{
    cjose_header_t *hdr = cjose_jws_get_protected(jws);
    cjose_err err;
    const char *alg = cjose_header_get(hdr, CJOSE_HDR_ALG, &err);

    if (!alg_allowed(alg))
        return "algorithm not allowed (only RS256 is accepted)";
    if (json_object_get((json_t *)hdr, "crit"))
        return "token has critical header parameters this module does not understand";
    *kid = cjose_header_get(hdr, CJOSE_HDR_KID, &err);
    return NULL;
}

static const char *check_signature(cjose_jws_t *jws, const char *kid,
                                   entra_key_lookup_fn lookup, void *ctx,
                                   const char **key_issuer)
{
    cjose_jwk_t *jwk = lookup(ctx, kid, key_issuer);
    cjose_err err;
    int ok;

    if (!jwk)
        return kid ? "no key in the JWKS matches the token's kid"
                   : "token has no kid, and the JWKS does not hold exactly one usable "
                     "signing key (without a kid, a key is only ever the single one)";
    /* Borrowed from the lookup (see entra_key_lookup_fn): never released
     * here, since other threads may be verifying with it too. */
    ok = cjose_jws_verify(jws, jwk, &err);
    return ok ? NULL : "signature does not verify";
}

/* A NumericDate within reason (before the year 5000): anything else is
 * treated as absent, which no arithmetic below can overflow on. */
static int json_time(json_t *claims, const char *name, apr_int64_t *out)
{
    json_t *v = json_object_get(claims, name);
    double seconds;

    if (!json_is_number(v))
        return 0;
    seconds = json_number_value(v);
    if (!(seconds >= 0 && seconds < 95617584000.0))
        return 0;
    *out = (apr_int64_t)seconds;
    return 1;
}

static int is_our_audience(const char *aud, const char *client_id, const char *app_id_uri)
{
    return aud && (strcmp(aud, client_id) == 0 || (app_id_uri && strcmp(aud, app_id_uri) == 0));
}

static const char *check_audience(json_t *claims, const char *client_id, const char *app_id_uri)
{
    json_t *aud = json_object_get(claims, "aud");
    size_t i;

    if (json_is_string(aud))
        return is_our_audience(json_string_value(aud), client_id, app_id_uri)
                   ? NULL : "audience (aud) is not this application's client id";
    if (!json_is_array(aud) || json_array_size(aud) == 0)
        return "token has no audience (aud)";
    for (i = 0; i < json_array_size(aud); i++) {
        const char *one = json_string_value(json_array_get(aud, i));
        if (is_our_audience(one, client_id, app_id_uri)) {
            /* Several audiences: the token must have been issued to us (azp). */
            const char *azp = json_string_value(json_object_get(claims, "azp"));
            if (json_array_size(aud) > 1 && (!azp || strcmp(azp, client_id) != 0))
                return "token has several audiences and azp is not this application";
            return NULL;
        }
    }
    return "audience (aud) is not this application's client id";
}

/* A time claim outside the clock skew: by how much, and what to check (the
 * usual cause, when tokens are fresh, is this server's clock). */
static const char *skew_refusal(apr_pool_t *p, const char *what, apr_int64_t off,
                                const entra_jwt_expect *want)
{
    return apr_psprintf(p, "%s by %" APR_INT64_T_FMT " s, beyond EntraClockSkew %"
                        APR_INT64_T_FMT " s (if the token is fresh, this server's clock is "
                        "off: check NTP, e.g. timedatectl)", what, off, (apr_int64_t)want->skew);
}

static const char *check_times(apr_pool_t *p, json_t *claims, const entra_jwt_expect *want)
{
    apr_int64_t exp, nbf, iat;

    if (!json_time(claims, "exp", &exp))
        return "token has no expiry (exp)";
    if (want->now > exp + want->skew)
        return skew_refusal(p, "token has expired (exp): in the past", want->now - exp, want);
    if (json_time(claims, "nbf", &nbf) && nbf > want->now + want->skew)
        return skew_refusal(p, "token is not yet valid (nbf): in the future", nbf - want->now,
                            want);
    if (!json_time(claims, "iat", &iat))
        return "token has no issue time (iat)";
    if (iat > want->now + want->skew)
        return skew_refusal(p, "token was issued in the future (iat)", iat - want->now, want);
    return NULL;
}

static const char *check_issuer(apr_pool_t *p, json_t *claims, const char *want_issuer,
                                const char *key_issuer)
{
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    const char *tid = json_string_value(json_object_get(claims, "tid"));
    const char *expected = entra_expected_issuer(p, want_issuer, tid);
    const char *iss_tenant;

    if (!expected)
        return "tenant id (tid) is missing or not a GUID";
    if (!iss || strcmp(iss, expected) != 0)
        return apr_psprintf(p, "issuer (iss) %s is not the expected %s",
                            entra_log_safe(p, iss), entra_log_safe(p, expected));
    /* Microsoft's rule: the tenant in iss is the token's tid. */
    if (tid && (iss_tenant = entra_url_guid_segment(p, iss)) && strcasecmp(iss_tenant, tid) != 0)
        return "tenant id (tid) is not the issuer's tenant";
    if (key_issuer) {
        const char *key_expected = entra_expected_issuer(p, key_issuer, tid);
        if (!key_expected || strcmp(iss, key_expected) != 0)
            return "issuer (iss) does not match the signing key's issuer";
    }
    return NULL;
}

static int nonempty_string(json_t *v)
{
    return json_is_string(v) && json_string_length(v) > 0;
}

static const char *check_claims(apr_pool_t *p, json_t *claims, const entra_jwt_expect *want,
                                const char *key_issuer)
{
    const char *why, *nonce;
    const char *ver = json_string_value(json_object_get(claims, "ver"));
    int v1 = ver && strcmp(ver, "1.0") == 0;
    const char *issuer = want->issuer_v1 && v1 ? want->issuer_v1 : want->issuer;

    /* JWKS keys name the v2 issuer; a v1 token (sts.windows.net) is held to
     * the issuer it must have, not to the key's. */
    if ((why = check_issuer(p, claims, issuer, v1 ? NULL : key_issuer))
        || (why = check_audience(claims, want->client_id, want->app_id_uri))
        || (why = check_times(p, claims, want)))
        return why;
    /* OpenID Connect: sub is the user; a token without one names nobody. */
    if (want->require_sub && !nonempty_string(json_object_get(claims, "sub")))
        return "ID token has no subject (sub)";
    if (want->nonce) {
        nonce = json_string_value(json_object_get(claims, "nonce"));
        if (!nonce || !entra_str_equal_ct(nonce, want->nonce))
            return "nonce does not match the login attempt";
    }
    return NULL;
}

static json_t *load_claims(apr_pool_t *p, cjose_jws_t *jws)
{
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    cjose_err err;
    json_t *claims;

    if (!cjose_jws_get_plaintext(jws, &plain, &plain_len, &err))
        return NULL;
    claims = json_loadb((const char *)plain, plain_len, JSON_REJECT_DUPLICATES, NULL);
    if (claims && !json_is_object(claims)) {
        json_decref(claims);
        return NULL;
    }
    return entra_json_pool_own(p, claims);
}

/* Each part is the one base64url spelling of its bytes. cjose's decoder
 * ignores the spare bits of a part's last character, so without this several
 * spellings of one token would verify (the bearer cache keys on the text). */
static int canonical_parts(apr_pool_t *p, const char *token)
{
    apr_size_t n, len;

    for (;; token += n + 1) {
        n = strcspn(token, ".");
        if (!entra_b64url_decode(p, token, n, &len))
            return 0;
        if (!token[n])
            return 1;
    }
}

json_t *entra_jwt_verify(apr_pool_t *p, const char *token, const entra_jwt_expect *want,
                         entra_key_lookup_fn lookup, void *lookup_ctx, const char **why)
{
    const char *kid = NULL, *key_issuer = NULL;
    cjose_jws_t *jws;
    cjose_err err;
    json_t *claims;
    apr_size_t len = token ? strlen(token) : 0;

    if (len == 0 || len > TOKEN_MAX) {
        *why = "token is missing or too large";
        return NULL;
    }
    /* A compact JWS is base64url and dots only. Checked here, because
     * cjose's decoder aborts the process on a '=' inside a part. */
    if (strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") != len
        || !canonical_parts(p, token)) {
        *why = "token is not a well-formed JWS";
        return NULL;
    }
    if (!(jws = cjose_jws_import(token, len, &err))) {
        *why = "token is not a well-formed JWS";
        return NULL;
    }
    apr_pool_cleanup_register(p, jws, jws_cleanup, apr_pool_cleanup_null);
    if ((*why = check_header(jws, &kid))
        || (*why = check_signature(jws, kid, lookup, lookup_ctx, &key_issuer)))
        return NULL;
    if (!(claims = load_claims(p, jws))) {
        *why = "token payload is not a JSON object";
        return NULL;
    }
    if ((*why = check_claims(p, claims, want, key_issuer)))
        return NULL;
    return claims;
}
