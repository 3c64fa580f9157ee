/* Entra's signing keys document (entra_jwks_parse: only usable RSA
 * signature keys, at most 64, each imported with cjose), then what the key
 * lookup does with them: find by kid and verify a token. Oracle: a key
 * verifies the fixed token only when it is that token's key. */
#include "fuzz_common.h"
#include "../src/jwt.h"
#include "../src/provider.h"

#include <apr_strings.h>
#include <string.h>

static cjose_jws_t *fixed_jws;
static char *key1_json;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char hdr[] = "{\"typ\":\"JWT\",\"alg\":\"RS256\",\"kid\":\"fuzz-key-1\"}";
    static const char body[] = "{\"aud\":\"" FUZZ_CLIENT_ID "\",\"iss\":\"" FUZZ_ISSUER "\"}";
    cjose_err err;
    const char *token;

    (void)argc;
    (void)argv;
    fuzz_init();
    token = fuzz_sign_rs256(fuzz_root(), 1, hdr, strlen(hdr), body, strlen(body));
    fixed_jws = cjose_jws_import(token, strlen(token), &err);
    key1_json = cjose_jwk_to_json(fuzz_jwk(1), false, &err);
    if (!fixed_jws || !key1_json)
        abort();
    return 0;
}

/* n and e of a public JWK in cjose's canonical spelling. */
static const char *modulus_and_exponent(apr_pool_t *p, const char *jwk_json)
{
    json_t *j = json_loads(jwk_json, 0, NULL);
    const char *out = apr_pstrcat(p, json_string_value(json_object_get(j, "n")), ".",
                                  json_string_value(json_object_get(j, "e")), NULL);

    json_decref(j);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    apr_array_header_t *keys = NULL;
    const char *why = entra_jwks_parse(p, (const char *)data, size, &keys);
    int i;

    if (!why) {
        FUZZ_CHECK(keys && keys->nelts > 0 && keys->nelts <= 64, "%d keys",
                   keys ? keys->nelts : -1);
        for (i = 0; i < keys->nelts; i++) {
            entra_jwk *k = &APR_ARRAY_IDX(keys, i, entra_jwk);
            cjose_err err;
            cjose_jwk_t *held = k->jwk;     /* the lookup lends keys, never retains */
            FUZZ_CHECK(k->jwk && cjose_jwk_get_kty(k->jwk, &err) == CJOSE_JWK_KTY_RSA,
                       "key %d is not an RSA key", i);
            if (cjose_jws_verify(fixed_jws, held, &err)) {
                char *json = cjose_jwk_to_json(held, false, &err);
                FUZZ_CHECK(json && strcmp(modulus_and_exponent(p, json),
                                          modulus_and_exponent(p, key1_json)) == 0,
                           "key %d (kid %s) verifies a token it did not sign", i,
                           k->kid ? k->kid : "(none)");
                free(json);
            }
        }
    }
    else
        FUZZ_CHECK(*why, "an empty reason");
    fuzz_end(p);
    return 0;
}
