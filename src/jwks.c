/* Discovery documents and JWKS as Entra serves them: parsed and checked,
 * with nothing kept (see provider.h; the cache is provider.c). */
#include "provider.h"
#include "jwt.h"
#include "util.h"

#include <apr_strings.h>
#include <jansson.h>
#include <string.h>

#define JWKS_MAX_KEYS 64

static const char *json_str(json_t *obj, const char *name)
{
    return json_string_value(json_object_get(obj, name));
}

static json_t *parse_object(const char *json, apr_size_t len)
{
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);

    if (root && !json_is_object(root)) {
        json_decref(root);
        root = NULL;
    }
    return root;
}

const char *entra_metadata_parse(apr_pool_t *p, const char *json, apr_size_t len,
                                 entra_metadata *out)
{
    json_t *root = entra_json_pool_own(p, parse_object(json, len));
    static const char *const required[] = {
        "issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", NULL
    };
    int i;

    if (!root)
        return "discovery document is not a JSON object";
    for (i = 0; required[i]; i++) {
        if (!json_str(root, required[i]))
            return apr_pstrcat(p, "discovery document has no ", required[i], NULL);
    }
    out->issuer = apr_pstrdup(p, json_str(root, "issuer"));
    out->authorization_endpoint = apr_pstrdup(p, json_str(root, "authorization_endpoint"));
    out->token_endpoint = apr_pstrdup(p, json_str(root, "token_endpoint"));
    out->jwks_uri = apr_pstrdup(p, json_str(root, "jwks_uri"));
    out->userinfo_endpoint = apr_pstrdup(p, json_str(root, "userinfo_endpoint"));
    out->end_session_endpoint = apr_pstrdup(p, json_str(root, "end_session_endpoint"));
    out->msgraph_host = apr_pstrdup(p, json_str(root, "msgraph_host"));
    out->cloud_instance_name = apr_pstrdup(p, json_str(root, "cloud_instance_name"));
    return NULL;
}

static apr_status_t jwk_cleanup(void *jwk)
{
    cjose_jwk_release(jwk);
    return APR_SUCCESS;
}

static int is_b64url(const char *s)
{
    return s && *s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789-_") == strlen(s);
}

/* A key we can verify with: RSA, meant for signatures, importable. cjose
 * sees only kty, n and e, checked to be base64url first: its decoder aborts
 * the process on a stray '=', and a JWKS has no business handing it more. */
static int jwks_add_key(apr_pool_t *p, json_t *key_json, apr_array_header_t *keys)
{
    const char *use = json_str(key_json, "use");
    const char *n = json_str(key_json, "n"), *e = json_str(key_json, "e");
    cjose_err err;
    cjose_jwk_t *jwk;
    entra_jwk *entry;
    json_t *public_part;

    if (!json_is_object(key_json) || !json_str(key_json, "kty")
        || strcmp(json_str(key_json, "kty"), "RSA") != 0 || (use && strcmp(use, "sig") != 0)
        || !is_b64url(n) || !is_b64url(e))
        return 0;
    public_part = json_pack("{s:s, s:s, s:s}", "kty", "RSA", "n", n, "e", e);
    jwk = public_part ? cjose_jwk_import_json((cjose_header_t *)public_part, &err) : NULL;
    json_decref(public_part);
    if (!jwk)
        return 0;
    apr_pool_cleanup_register(p, jwk, jwk_cleanup, apr_pool_cleanup_null);
    entry = apr_array_push(keys);
    entry->kid = apr_pstrdup(p, json_str(key_json, "kid"));
    entry->issuer = apr_pstrdup(p, json_str(key_json, "issuer"));
    entry->jwk = jwk;
    return 1;
}

const char *entra_jwks_parse(apr_pool_t *p, const char *json, apr_size_t len,
                             apr_array_header_t **keys)
{
    json_t *root = entra_json_pool_own(p, parse_object(json, len));
    json_t *list = root ? json_object_get(root, "keys") : NULL;
    size_t i;

    if (!json_is_array(list))
        return "JWKS is not a JSON object with a keys array";
    *keys = apr_array_make(p, 4, sizeof(entra_jwk));
    for (i = 0; i < json_array_size(list) && (*keys)->nelts < JWKS_MAX_KEYS; i++)
        jwks_add_key(p, json_array_get(list, i), *keys);
    return (*keys)->nelts ? NULL : "JWKS has no usable RSA signing key";
}

const entra_jwk *entra_jwks_select(const apr_array_header_t *keys, const char *kid)
{
    int i;

    if (!keys)
        return NULL;
    /* OpenID Connect Core 10.1: kid may be left out only when the JWKS
     * holds one key. With several, any choice would be a guess. */
    if (!kid)
        return keys->nelts == 1 ? &APR_ARRAY_IDX(keys, 0, entra_jwk) : NULL;
    for (i = 0; i < keys->nelts; i++) {
        const entra_jwk *k = &APR_ARRAY_IDX(keys, i, entra_jwk);
        if (k->kid && strcmp(kid, k->kid) == 0)
            return k;
    }
    return NULL;
}
