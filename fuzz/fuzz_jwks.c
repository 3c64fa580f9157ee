/* Entra's signing keys document, through the module's own code:
 * entra_jwks_parse on the bytes, then the provider fetching it (the HTTP
 * stub serves a fixed discovery document and the input as its jwks_uri)
 * and entra_jwt_verify looking keys up with entra_provider_key_lookup.
 * Oracles:
 * - the kept keys are, in order, the document's entries that are usable:
 *   an object, kty "RSA", use absent or "sig", n and e base64url; each
 *   kept with exactly its entry's kid and issuer and its n and e; an entry
 *   like that whose n and e decode is never dropped (only the 64-key cap
 *   stops it); every kept key is RSA and verifies RS256 signatures;
 * - a key verifies the fixed token (by key 1) only when it is key 1's n, e;
 * - through the lookup: a token by key 1 whose kid names a kept key
 *   verifies exactly when the first key of that kid is key 1's (and its
 *   issuer property allows the token's issuer); a token without kid only
 *   when the set is that one key; an unknown kid never, and it makes the
 *   provider fetch the discovery document and the JWKS again, once. */
#include "fuzz_common.h"
#include "http_stub.h"
#include "../src/jwt.h"
#include "../src/provider.h"
#include "../src/util.h"

#include <apr_strings.h>
#include <cjose/base64.h>
#include <cjose/util.h>
#include <string.h>

#define DISCOVERY_URL FUZZ_AUTHORITY "/" FUZZ_TENANT "/v2.0/.well-known/openid-configuration"
#define JWKS_URL FUZZ_AUTHORITY "/" FUZZ_TENANT "/discovery/v2.0/keys"
#define UNKNOWN_KID "fuzz-kid-nobody-has"
#define MAX_KEYS 64
#define KID_TOKENS 3    /* tokens signed per input for kept kids (RSA signing is slow) */

static const char discovery[] =
    "{\"issuer\":\"" FUZZ_ISSUER "\","
    "\"authorization_endpoint\":\"" FUZZ_AUTHORITY "/" FUZZ_TENANT "/oauth2/v2.0/authorize\","
    "\"token_endpoint\":\"" FUZZ_AUTHORITY "/" FUZZ_TENANT "/oauth2/v2.0/token\","
    "\"jwks_uri\":\"" JWKS_URL "\"}";
static const char body[] = "{\"aud\":\"" FUZZ_CLIENT_ID "\",\"iss\":\"" FUZZ_ISSUER "\","
                           "\"tid\":\"" FUZZ_TENANT "\",\"sub\":\"fuzz-subject\","
                           "\"iat\":1700000000,\"exp\":1700000600}";

static cjose_jws_t *fixed_jws;
static const char *key1_ne, *no_kid_token, *unknown_kid_token;

static const char *sign_for(apr_pool_t *p, const char *kid)
{
    json_t *h = kid ? json_pack("{s:s, s:s, s:s}", "typ", "JWT", "alg", "RS256", "kid", kid)
                    : json_pack("{s:s, s:s}", "typ", "JWT", "alg", "RS256");
    char *hdr = h ? json_dumps(h, JSON_COMPACT) : NULL;
    const char *token;

    if (!hdr)
        abort();
    token = fuzz_sign_rs256(p, 1, hdr, strlen(hdr), body, strlen(body));
    free(hdr);
    json_decref(h);
    return token;
}

/* n "." e of a key, as cjose writes it. */
static const char *material(apr_pool_t *p, cjose_jwk_t *jwk)
{
    cjose_err err;
    char *json = cjose_jwk_to_json(jwk, false, &err);
    json_t *j = json ? json_loads(json, 0, NULL) : NULL;
    const char *out = apr_pstrcat(p, json_string_value(json_object_get(j, "n")), ".",
                                  json_string_value(json_object_get(j, "e")), NULL);

    FUZZ_CHECK(j, "a kept key does not export");
    json_decref(j);
    free(json);
    return out;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    cjose_err err;
    const char *token;

    (void)argc;
    (void)argv;
    fuzz_init();
    token = sign_for(fuzz_root(), "fuzz-key-1");
    fixed_jws = cjose_jws_import(token, strlen(token), &err);
    key1_ne = material(fuzz_root(), fuzz_jwk(1));
    no_kid_token = sign_for(fuzz_root(), NULL);
    unknown_kid_token = sign_for(fuzz_root(), UNKNOWN_KID);
    if (!fixed_jws)
        abort();
    return 0;
}

static int b64url(const char *s)
{
    return s && *s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789-_") == strlen(s);
}

static int same(const char *a, const char *b)
{
    return a ? b && strcmp(a, b) == 0 : !b;
}

/* A big number as cjose writes it: base64url without leading zero bytes. */
static const char *canonical(apr_pool_t *p, const unsigned char *b, apr_size_t len)
{
    while (len > 1 && b[0] == 0)
        b++, len--;
    return entra_b64url_encode(p, b, len);
}

/* The entry's n "." e as cjose reads them (its decoder is the lenient one
 * the module hands them to), or NULL when cjose cannot decode them; and in
 * *strict whether both are canonical base64url of at least one byte (such
 * an entry is a key, and must never be dropped). */
static const char *entry_material(apr_pool_t *p, json_t *e, int *strict)
{
    const char *n = json_string_value(json_object_get(e, "n"));
    const char *x = json_string_value(json_object_get(e, "e"));
    apr_size_t nl = 0, xl = 0;
    uint8_t *nb = NULL, *xb = NULL;
    size_t nbl = 0, xbl = 0;
    cjose_err err;
    const char *out = NULL;

    *strict = entra_b64url_decode(p, n, strlen(n), &nl) && nl
              && entra_b64url_decode(p, x, strlen(x), &xl) && xl;
    if (cjose_base64url_decode(n, strlen(n), &nb, &nbl, &err)
        && cjose_base64url_decode(x, strlen(x), &xb, &xbl, &err) && nbl && xbl)
        out = apr_pstrcat(p, canonical(p, nb, nbl), ".", canonical(p, xb, xbl), NULL);
    cjose_get_dealloc()(nb);
    cjose_get_dealloc()(xb);
    return out;
}

static int usable_entry(json_t *e)
{
    const char *kty = json_string_value(json_object_get(e, "kty"));
    const char *use = json_string_value(json_object_get(e, "use"));

    return json_is_object(e) && kty && strcmp(kty, "RSA") == 0 && (!use || strcmp(use, "sig") == 0)
           && b64url(json_string_value(json_object_get(e, "n")))
           && b64url(json_string_value(json_object_get(e, "e")));
}

/* The kept keys against the document's entries. */
static void check_kept(apr_pool_t *p, const uint8_t *data, size_t size,
                       const apr_array_header_t *keys, const char **mat)
{
    json_t *root = entra_json_pool_own(p, json_loadb((const char *)data, size,
                                                     JSON_REJECT_DUPLICATES, NULL));
    json_t *list = json_object_get(root, "keys");
    size_t j;
    int i = 0;

    FUZZ_CHECK(json_is_object(root) && json_is_array(list), "keys from a document without keys");
    for (j = 0; j < json_array_size(list) && i < MAX_KEYS; j++) {
        json_t *e = json_array_get(list, j);
        const entra_jwk *k = i < keys->nelts ? &APR_ARRAY_IDX(keys, i, entra_jwk) : NULL;
        const char *want;
        int kept, strict;
        if (!usable_entry(e))
            continue;
        want = entry_material(p, e, &strict);
        kept = k && want && strcmp(want, mat[i]) == 0
               && same(k->kid, json_string_value(json_object_get(e, "kid")))
               && same(k->issuer, json_string_value(json_object_get(e, "issuer")));
        FUZZ_CHECK(kept || !strict, "entry %zu (kid %s) dropped, or kept changed", j,
                   json_string_value(json_object_get(e, "kid")));
        i += kept;
    }
    FUZZ_CHECK(i == keys->nelts, "%d keys kept, %d of them from the document", keys->nelts, i);
}

/* Through entra_provider_key_lookup: what the module will verify with. */
static int verifies(apr_pool_t *p, entra_key_query *q, const char *token, const char **why)
{
    entra_jwt_expect want = { 0 };

    want.issuer = FUZZ_ISSUER;
    want.client_id = FUZZ_CLIENT_ID;
    want.require_sub = 1;
    want.now = FUZZ_NOW;
    want.skew = FUZZ_SKEW;
    return entra_jwt_verify(p, token, &want, entra_provider_key_lookup, q, why) != NULL;
}

/* Whether key k verifies a key-1 token of FUZZ_ISSUER: its material and its
 * issuer property (jwt.c: the token's iss must be the key's, for its tid). */
static int key_fits(apr_pool_t *p, const entra_jwk *k, const char *mat)
{
    const char *iss = k->issuer ? entra_expected_issuer(p, k->issuer, FUZZ_TENANT) : NULL;

    return strcmp(mat, key1_ne) == 0 && (!k->issuer || (iss && strcmp(iss, FUZZ_ISSUER) == 0));
}

static void check_lookup(apr_pool_t *p, const apr_array_header_t *keys, const char **mat)
{
    entra_provider *pv = entra_provider_create(p, DISCOVERY_URL, NULL, NULL);
    entra_key_query q = { pv, p, 5, NULL };
    const char *why = NULL;
    int i, j, tokens = 0, calls, unknown_kept = 0;

    for (i = 0; i < keys->nelts && tokens < KID_TOKENS; i++) {
        const entra_jwk *k = &APR_ARRAY_IDX(keys, i, entra_jwk);
        int first = 1;
        if (!k->kid)
            continue;
        for (j = 0; j < i; j++) {
            const char *kid = APR_ARRAY_IDX(keys, j, entra_jwk).kid;
            first &= !(kid && strcmp(kid, k->kid) == 0);
        }
        if (!first)
            continue;
        tokens++;
        q.fetch_error = NULL;
        FUZZ_SAY("fuzz_jwks: kid %s: %s", k->kid,
                 verifies(p, &q, sign_for(p, k->kid), &why) ? "verified" : why);
        FUZZ_CHECK(verifies(p, &q, sign_for(p, k->kid), &why) == key_fits(p, k, mat[i]),
                   "kid %s (key %d, %s key 1): %s", k->kid, i,
                   strcmp(mat[i], key1_ne) == 0 ? "is" : "is not", why ? why : "verified");
    }
    q.fetch_error = NULL;
    FUZZ_CHECK(verifies(p, &q, no_kid_token, &why)
               == (keys->nelts == 1 && key_fits(p, &APR_ARRAY_IDX(keys, 0, entra_jwk), mat[0])),
               "a token without kid and %d keys: %s", keys->nelts, why ? why : "verified");
    for (i = 0; i < keys->nelts; i++)
        unknown_kept |= same(APR_ARRAY_IDX(keys, i, entra_jwk).kid, UNKNOWN_KID);
    if (unknown_kept)
        return;
    calls = fuzz_http_calls();
    FUZZ_CHECK(!verifies(p, &q, unknown_kid_token, &why), "an unknown kid verified");
    FUZZ_CHECK(fuzz_http_calls() == calls + 2, "an unknown kid made %d requests, not the "
               "discovery document and the JWKS again", fuzz_http_calls() - calls);
    calls = fuzz_http_calls();
    FUZZ_CHECK(!verifies(p, &q, unknown_kid_token, &why), "an unknown kid verified");
    FUZZ_CHECK(fuzz_http_calls() == calls, "a second unknown kid refetched at once");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    apr_array_header_t *keys = NULL;
    const char *why = entra_jwks_parse(p, (const char *)data, size, &keys);
    const char **mat;
    int i;

    FUZZ_SAY("fuzz_jwks: %s (%d keys)", why ? why : "parsed", keys ? keys->nelts : 0);
    fuzz_http_reset();
    fuzz_http_route(DISCOVERY_URL, 200, discovery, strlen(discovery));
    fuzz_http_route(JWKS_URL, 200, (const char *)data, size);
    if (why) {
        entra_provider *pv = entra_provider_create(p, DISCOVERY_URL, NULL, NULL);
        entra_key_query q = { pv, p, 5, NULL };
        FUZZ_CHECK(*why, "an empty reason");
        FUZZ_CHECK(!verifies(p, &q, no_kid_token, &why) && q.fetch_error,
                   "no keys, yet the lookup had one");
        goto done;
    }
    FUZZ_CHECK(keys && keys->nelts > 0 && keys->nelts <= MAX_KEYS, "%d keys",
               keys ? keys->nelts : -1);
    mat = apr_palloc(p, sizeof(*mat) * (size_t)keys->nelts);
    for (i = 0; i < keys->nelts; i++) {
        entra_jwk *k = &APR_ARRAY_IDX(keys, i, entra_jwk);
        cjose_err err;
        FUZZ_CHECK(k->jwk && cjose_jwk_get_kty(k->jwk, &err) == CJOSE_JWK_KTY_RSA,
                   "key %d is not an RSA key", i);
        mat[i] = material(p, k->jwk);
        /* the lookup lends keys, never retains */
        FUZZ_CHECK(cjose_jws_verify(fixed_jws, k->jwk, &err) == (strcmp(mat[i], key1_ne) == 0),
                   "key %d (kid %s) %s key 1's token", i, k->kid ? k->kid : "(none)",
                   strcmp(mat[i], key1_ne) == 0 ? "does not verify" : "verifies");
    }
    check_kept(p, data, size, keys, mat);
    check_lookup(p, keys, mat);
done:
    fuzz_end(p);
    return 0;
}
