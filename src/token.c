/* Token endpoint calls and ID-token checks (see token.h). */
#include "token.h"
#include "credential.h"
#include "http.h"
#include "jwt.h"
#include "managed_identity.h"
#include "util.h"

#include <apr_strings.h>
#include <apr_time.h>
#include <string.h>
#include <strings.h>

const char *entra_token_error_text(apr_pool_t *p, json_t *answer)
{
    return apr_psprintf(p, "error=%s description=\"%s\" trace_id=%s correlation_id=%s",
                        entra_log_safe(p, json_string_value(json_object_get(answer, "error"))),
                        entra_log_safe(p, json_string_value(json_object_get(answer,
                                                                      "error_description"))),
                        entra_log_safe(p, json_string_value(json_object_get(answer, "trace_id"))),
                        entra_log_safe(p, json_string_value(json_object_get(answer,
                                                                      "correlation_id"))));
}

int entra_token_type_bearer(json_t *answer)
{
    const char *type = json_string_value(json_object_get(answer, "token_type"));

    return type && strcasecmp(type, "Bearer") == 0;
}

/* Entra refused the federated assertion (AADSTS70021 no matching federated
 * credential, 700211/700212/700213 issuer, audience or subject mismatch,
 * 700024 out of its time range...): what to fix, for the log line. "" when
 * the refusal is about something else. */
static const char *federation_fix(apr_pool_t *p, const entra_server_conf *sc, json_t *answer)
{
    static const char *const codes[] = { "AADSTS70021:", "AADSTS700211:", "AADSTS700212:",
                                         "AADSTS700213:", "AADSTS700024:", "AADSTS50027:",
                                         "AADSTS700016:", NULL };
    const char *desc = json_string_value(json_object_get(answer, "error_description"));
    int i;

    if (!desc || (!sc->managed_identity && !sc->client_assertion_file))
        return "";
    for (i = 0; codes[i] && strncmp(desc, codes[i], strlen(codes[i])) != 0; i++)
        ;
    if (!codes[i])
        return "";
    if (sc->managed_identity)
        return apr_psprintf(p, "; Entra refused the managed identity %s as the app's "
                            "credential: the app registration %s needs a federated credential "
                            "with issuer %s/<tenant id>/v2.0, subject = the identity's object "
                            "(principal) id, audience %s (az ad app federated-credential create "
                            "--id %s --parameters ...; only user-assigned identities of the "
                            "app's tenant are accepted)", sc->managed_identity, sc->client_id,
                            entra_conf_authority(sc), entra_mi_audience(sc), sc->client_id);
    return apr_psprintf(p, "; Entra refused EntraClientAssertionFile's token: the app "
                        "registration %s needs a federated credential whose issuer, subject "
                        "and audience match the token's", sc->client_id);
}

entra_token_status entra_token_call(apr_pool_t *p, const entra_server_conf *sc,
                                    const entra_metadata *meta, const char *grant,
                                    json_t **answer, const char **why)
{
    entra_http_opts opts = { entra_conf_http_timeout(sc), NULL, NULL, NULL, ENTRA_EP_TOKEN };
    entra_http_response resp;
    const char *client_auth;
    int unavailable;

    if ((*why = entra_credential_fields(p, sc, meta->token_endpoint,
                                        apr_time_sec(apr_time_now()), &client_auth, &opts,
                                        &unavailable)))
        return unavailable ? ENTRA_TOKEN_UNAVAILABLE : ENTRA_TOKEN_MISCONFIGURED;
    if ((*why = entra_http_call(p, meta->token_endpoint,
                                apr_pstrcat(p, grant, "&client_id=",
                                            entra_url_encode(p, sc->client_id), client_auth,
                                            NULL), &opts, &resp))) {
        *why = apr_pstrcat(p, "token request: ", *why, NULL);
        return ENTRA_TOKEN_UNAVAILABLE;
    }
    *answer = entra_json_pool_own(p, json_loadb(resp.body, resp.len, 0, NULL));
    /* A 4xx OAuth error is Entra's answer to this request; a 5xx one
     * (temporarily_unavailable) is Entra being unwell. */
    if (json_is_object(*answer) && resp.status >= 400
        && json_is_string(json_object_get(*answer, "error"))) {
        *why = apr_psprintf(p, "HTTP %ld%s", resp.status, federation_fix(p, sc, *answer));
        if (resp.status < 500)
            return ENTRA_TOKEN_REFUSED;
        *why = apr_psprintf(p, "token endpoint %s answered HTTP %ld: %s", meta->token_endpoint,
                            resp.status, entra_token_error_text(p, *answer));
        return ENTRA_TOKEN_UNAVAILABLE;
    }
    if (!json_is_object(*answer) || resp.status != 200) {
        *why = apr_psprintf(p, "token endpoint %s answered HTTP %ld%s", meta->token_endpoint,
                            resp.status, json_is_object(*answer) ? "" : " without a JSON object");
        return ENTRA_TOKEN_UNAVAILABLE;
    }
    /* RFC 6749 5.1: token_type is required, and an access token of another
     * type (DPoP, MAC, ...) is not one this module can send or pass on. The
     * type is no secret: it goes to the log. */
    if (!entra_token_type_bearer(*answer)) {
        json_t *type = json_object_get(*answer, "token_type");
        *why = apr_psprintf(p, "token endpoint %s answered token_type %s, not Bearer",
                            meta->token_endpoint,
                            json_is_string(type)
                                ? apr_pstrcat(p, "\"", entra_log_safe(p, json_string_value(type)),
                                              "\"", NULL)
                                : type ? "(not a string)" : "(missing)");
        return ENTRA_TOKEN_UNAVAILABLE;
    }
    return ENTRA_TOKEN_OK;
}

apr_int64_t entra_token_expires_in(json_t *answer)
{
    json_t *v = json_object_get(answer, "expires_in");
    apr_int64_t n = json_is_string(v) ? entra_parse_int(json_string_value(v))
                    : json_is_integer(v) ? (apr_int64_t)json_integer_value(v) : 0;

    /* The callers add it to the current time: a JSON integer beyond the 18
     * digits of the v1 string form is no lifetime (and would overflow). */
    return n > 0 && n < 1000000000000000000LL ? n : 0;
}

json_t *entra_id_token_verify(apr_pool_t *p, const entra_server_conf *sc,
                              const entra_metadata *meta, const char *token,
                              const char *nonce, const char **why, int *unavailable)
{
    entra_key_query query = { sc->provider, p, entra_conf_http_timeout(sc), NULL };
    entra_jwt_expect want = {
        .issuer = meta->issuer, .client_id = sc->client_id, .nonce = nonce, .require_sub = 1,
        .now = apr_time_sec(apr_time_now()), .skew = entra_conf_clock_skew(sc)
    };
    json_t *claims = entra_jwt_verify(p, token, &want, entra_provider_key_lookup, &query, why);
    const char *policy;

    *unavailable = !claims && query.fetch_error;
    if (*unavailable)
        *why = query.fetch_error;
    if (claims && (policy = entra_policy_refusal(p, sc, claims))) {
        *why = policy;
        return NULL;
    }
    return claims;
}

/* Azure AD B2C: the token is the configured policy's (tfp, or acr in older
 * tenants), compared as B2C does, without regard to case. Every user flow
 * of a tenant shares its issuer and keys: the policy is the boundary. */
const char *entra_policy_refusal(apr_pool_t *p, const entra_server_conf *sc, json_t *claims)
{
    const char *policy;

    if (!sc->policy)
        return NULL;
    policy = json_string_value(json_object_get(claims, "tfp"));
    if (!policy)
        policy = json_string_value(json_object_get(claims, "acr"));
    if (policy && strcasecmp(policy, sc->policy) == 0)
        return NULL;
    return apr_psprintf(p, "the token is of the B2C policy %s (tfp/acr), not EntraPolicy %s",
                        policy ? entra_log_safe(p, policy) : "(none)", sc->policy);
}
