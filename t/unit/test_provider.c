/* provider: the discovery document and JWKS parsers. */
#include "unit.h"
#include "../../src/provider.h"
#include "../../src/jwt.h"

#include <apr_strings.h>

#define META_FULL \
    "{\"issuer\":\"https://login.microsoftonline.com/{tenantid}/v2.0\"," \
    "\"authorization_endpoint\":\"https://login.example/authorize\"," \
    "\"token_endpoint\":\"https://login.example/token\"," \
    "\"jwks_uri\":\"https://login.example/keys\"," \
    "\"userinfo_endpoint\":\"https://graph.example/oidc/userinfo\"," \
    "\"end_session_endpoint\":\"https://login.example/logout\"," \
    "\"msgraph_host\":\"graph.microsoft.com\",\"other\":[1,2,{\"x\":null}]}"

static const char *meta(apr_pool_t *p, const char *json, entra_metadata *m)
{
    memset(m, 0, sizeof(*m));
    return entra_metadata_parse(p, json, strlen(json), m);
}

/* The document `doc` without `field`. */
static char *meta_without(apr_pool_t *p, const char *doc, const char *field)
{
    json_t *j = json_loads(doc, 0, NULL);
    char *text, *copy;

    json_object_del(j, field);
    text = json_dumps(j, JSON_COMPACT);
    copy = apr_pstrdup(p, text);
    free(text);
    json_decref(j);
    return copy;
}

static void test_metadata(apr_pool_t *p)
{
    static const char *const required[] = {
        "issuer", "authorization_endpoint", "token_endpoint", "jwks_uri",
    };
    entra_metadata m;
    const char *why;
    size_t i;

    why = meta(p, META_FULL, &m);
    CHECK(why == NULL, "metadata: a full document parses (got: %s)", why ? why : "NULL");
    CHECK_STR(m.issuer, "https://login.microsoftonline.com/{tenantid}/v2.0", "metadata: issuer");
    CHECK_STR(m.authorization_endpoint, "https://login.example/authorize", "metadata: authorize");
    CHECK_STR(m.token_endpoint, "https://login.example/token", "metadata: token");
    CHECK_STR(m.jwks_uri, "https://login.example/keys", "metadata: jwks_uri");
    CHECK_STR(m.userinfo_endpoint, "https://graph.example/oidc/userinfo", "metadata: userinfo");
    CHECK_STR(m.end_session_endpoint, "https://login.example/logout", "metadata: end session");
    CHECK_STR(m.msgraph_host, "graph.microsoft.com", "metadata: msgraph_host");

    why = meta(p, meta_without(p, meta_without(p, meta_without(p, META_FULL, "userinfo_endpoint"),
                                               "end_session_endpoint"), "msgraph_host"), &m);
    CHECK(why == NULL && !m.userinfo_endpoint && !m.end_session_endpoint && !m.msgraph_host,
          "metadata: the optional fields may be missing");

    for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        why = meta(p, meta_without(p, META_FULL, required[i]), &m);
        CHECK(why && strstr(why, required[i]), "metadata without %s: an error naming it (got: %s)",
              required[i], why ? why : "NULL");
    }
    why = meta(p, "{\"issuer\":1,\"authorization_endpoint\":\"a\",\"token_endpoint\":\"t\","
                  "\"jwks_uri\":\"j\"}", &m);
    CHECK(why && strstr(why, "issuer"), "metadata: issuer not a string is an error");
    CHECK(meta(p, "", &m) != NULL, "metadata: empty text is an error");
    CHECK(meta(p, "<html>503</html>", &m) != NULL, "metadata: HTML is an error");
    CHECK(meta(p, "[]", &m) != NULL, "metadata: an array is an error");
    CHECK(meta(p, "\"issuer\"", &m) != NULL, "metadata: a string is an error");
    CHECK(meta(p, "{\"issuer\":\"a\",\"issuer\":\"b\",\"authorization_endpoint\":\"a\","
                  "\"token_endpoint\":\"t\",\"jwks_uri\":\"j\"}", &m) != NULL,
          "metadata: a duplicate key is an error");
    CHECK(entra_metadata_parse(p, META_FULL, 40, &m) != NULL, "metadata: truncated is an error");
}

/* A JWKS entry for `key`'s public half, with extra members. */
static char *jwk_json(apr_pool_t *p, const cjose_jwk_t *key, const char *extra)
{
    cjose_err err;
    char *pub = cjose_jwk_to_json(key, false, &err), *out;

    if (!pub)
        return apr_pstrdup(p, "{}");
    out = apr_pstrcat(p, "{", extra, ",", pub + 1, NULL);
    free(pub);
    return out;
}

static const char *jwks(apr_pool_t *p, const char *json, apr_array_header_t **keys)
{
    *keys = NULL;
    return entra_jwks_parse(p, json, strlen(json), keys);
}

/* As the provider's cache looks keys up: entra_jwks_select. */
static cjose_jwk_t *lookup(void *ctx, const char *kid, const char **key_issuer)
{
    const entra_jwk *k = entra_jwks_select(ctx, kid);

    if (!k)
        return NULL;
    *key_issuer = k->issuer;
    return k->jwk;      /* borrowed, as the provider's cache lends it */
}

static void test_jwks(apr_pool_t *p)
{
    cjose_jwk_t *k0 = unit_rsa_key(0), *k1 = unit_rsa_key(1);
    apr_array_header_t *keys;
    const char *why, *doc, *enc_only, *t;
    entra_jwt_expect want = { .issuer = "https://issuer.example", .client_id = "client",
                              .now = 1700000000, .skew = 300 };

    if (!CHECK(k0 && k1, "RSA keys for the JWKS"))
        return;
    doc = apr_pstrcat(p, "{\"keys\":[",
                      jwk_json(p, k1, "\"use\":\"enc\""), ",",
                      "{\"kty\":\"EC\",\"kid\":\"ec\",\"use\":\"sig\",\"crv\":\"P-256\","
                      "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                      "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"},",
                      "{\"kty\":\"oct\",\"kid\":\"oct\",\"k\":\"c2VjcmV0c2VjcmV0c2VjcmV0\"},",
                      "{\"kty\":\"RSA\",\"kid\":\"broken\",\"use\":\"sig\",\"e\":\"AQAB\"},",
                      "\"not an object\",42,null,",
                      jwk_json(p, k0, "\"use\":\"sig\",\"issuer\":\"https://issuer.example\""), ",",
                      jwk_json(p, k1, "\"x5t\":\"abc\""),
                      "],\"extra\":true}", NULL);
    why = jwks(p, doc, &keys);
    if (CHECK(why == NULL && keys, "JWKS with a mix of keys parses (got: %s)", why ? why : "NULL")) {
        CHECK(keys->nelts == 2, "JWKS: only the two RSA signing keys kept (got %d)", keys->nelts);
        if (keys->nelts == 2) {
            CHECK_STR(APR_ARRAY_IDX(keys, 0, entra_jwk).kid, "unit-key-0", "JWKS: use=sig RSA key");
            CHECK_STR(APR_ARRAY_IDX(keys, 0, entra_jwk).issuer, "https://issuer.example",
                      "JWKS: the key's issuer property");
            CHECK_STR(APR_ARRAY_IDX(keys, 1, entra_jwk).kid, "unit-key-1",
                      "JWKS: RSA key without use, not the use=enc copy");
            CHECK(APR_ARRAY_IDX(keys, 1, entra_jwk).issuer == NULL, "JWKS: no issuer property");
        }
        /* The parsed keys verify real tokens. */
        t = unit_sign(p, k0, "RS256", "unit-key-0",
                      "{\"iss\":\"https://issuer.example\",\"aud\":\"client\","
                      "\"exp\":1700003600,\"iat\":1700000000}");
        CHECK(t && entra_jwt_verify(p, t, &want, lookup, keys, &why) != NULL,
              "JWKS: a parsed key verifies a token it signed (why: %s)", why ? why : "none");
        t = unit_sign(p, k1, "RS256", "unit-key-0",
                      "{\"iss\":\"https://issuer.example\",\"aud\":\"client\","
                      "\"exp\":1700003600,\"iat\":1700000000}");
        why = NULL;
        CHECK(t && entra_jwt_verify(p, t, &want, lookup, keys, &why) == NULL && why,
              "JWKS: a parsed key refuses a token another key signed");
    }

    enc_only = apr_pstrcat(p, "{\"keys\":[", jwk_json(p, k0, "\"use\":\"enc\""), "]}", NULL);
    CHECK(jwks(p, enc_only, &keys) != NULL, "JWKS with only an encryption key: error");
    CHECK(jwks(p, "{\"keys\":[]}", &keys) != NULL, "JWKS with no keys: error");
    CHECK(jwks(p, "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\"}]}", &keys) != NULL,
          "JWKS with no RSA key: error");
    CHECK(jwks(p, "{\"keys\":{}}", &keys) != NULL, "JWKS whose keys is an object: error");
    CHECK(jwks(p, "{\"keys\":\"x\"}", &keys) != NULL, "JWKS whose keys is a string: error");
    CHECK(jwks(p, "{}", &keys) != NULL, "JWKS without keys: error");
    CHECK(jwks(p, "[]", &keys) != NULL, "JWKS that is an array: error");
    CHECK(jwks(p, "not json", &keys) != NULL, "JWKS that is not JSON: error");
    CHECK(jwks(p, "", &keys) != NULL, "JWKS that is empty: error");
}

#define PAYLOAD "{\"iss\":\"https://issuer.example\",\"aud\":\"client\"," \
                "\"exp\":1700003600,\"iat\":1700000000}"

/* OpenID RP conformance: a JWS without kid verifies against a JWKS of one
 * usable signing key, and never picks one out of several. */
static void test_select(apr_pool_t *p)
{
    cjose_jwk_t *k0 = unit_rsa_key(0), *k1 = unit_rsa_key(1);
    entra_jwt_expect want = { .issuer = "https://issuer.example", .client_id = "client",
                              .now = 1700000000, .skew = 300 };
    apr_array_header_t *one, *two, *one_usable, *none;
    const char *why, *t0, *t1;

    if (!CHECK(k0 && k1, "RSA keys for the JWKS"))
        return;
    t0 = unit_sign(p, k0, "RS256", NULL, PAYLOAD);
    t1 = unit_sign(p, k1, "RS256", NULL, PAYLOAD);
    CHECK(!jwks(p, apr_pstrcat(p, "{\"keys\":[", jwk_json(p, k0, "\"use\":\"sig\""), "]}",
                               NULL), &one), "JWKS of one key");
    CHECK(!jwks(p, apr_pstrcat(p, "{\"keys\":[", jwk_json(p, k0, "\"use\":\"sig\""), ",",
                               jwk_json(p, k1, "\"use\":\"sig\""), "]}", NULL), &two),
          "JWKS of two keys");
    /* An encryption key and an EC key are no signing keys for RS256. */
    CHECK(!jwks(p, apr_pstrcat(p, "{\"keys\":[", jwk_json(p, k1, "\"use\":\"enc\""), ",",
                               "{\"kty\":\"EC\",\"kid\":\"ec\",\"use\":\"sig\","
                               "\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                               "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"},",
                               jwk_json(p, k0, "\"use\":\"sig\""), "]}", NULL), &one_usable),
          "JWKS of one usable key among unusable ones");
    if (!t0 || !t1 || !one || !two || !one_usable)
        return;

    CHECK(entra_jwks_select(one, NULL) == &APR_ARRAY_IDX(one, 0, entra_jwk),
          "select: no kid, one key: that key");
    CHECK(entra_jwks_select(two, NULL) == NULL, "select: no kid, two keys: none");
    CHECK(entra_jwks_select(one_usable, NULL) != NULL,
          "select: no kid, one usable key (plus unusable ones): that key");
    CHECK(entra_jwks_select(one, "unit-key-1") == NULL, "select: a kid the only key lacks: none");
    CHECK(entra_jwks_select(two, "unit-key-1") == &APR_ARRAY_IDX(two, 1, entra_jwk),
          "select: by kid among two");
    CHECK(entra_jwks_select(NULL, NULL) == NULL, "select: no JWKS: none");
    none = apr_array_make(p, 1, sizeof(entra_jwk));
    CHECK(entra_jwks_select(none, NULL) == NULL, "select: empty JWKS, no kid: none");

    why = NULL;
    CHECK(entra_jwt_verify(p, t0, &want, lookup, one, &why) != NULL,
          "no kid, JWKS of one key: verifies (why: %s)", why ? why : "none");
    why = NULL;
    CHECK(entra_jwt_verify(p, t0, &want, lookup, one_usable, &why) != NULL,
          "no kid, JWKS of one usable key: verifies (why: %s)", why ? why : "none");
    why = NULL;
    CHECK(entra_jwt_verify(p, t1, &want, lookup, one, &why) == NULL && why,
          "no kid, signed by another key than the only one: refused");
    why = NULL;
    CHECK(entra_jwt_verify(p, t0, &want, lookup, two, &why) == NULL && why
          && strstr(why, "no kid") && strstr(why, "exactly one"),
          "no kid, JWKS of two keys: refused, saying why (got: %s)", why ? why : "none");
    why = NULL;
    CHECK(entra_jwt_verify(p, t1, &want, lookup, two, &why) == NULL && why,
          "no kid, JWKS of two keys, signed by the second: refused too");
}

static void test_deep(apr_pool_t *p)
{
    apr_size_t n = 10000;
    char *arrays = apr_palloc(p, 2 * n + 1), *objects = apr_palloc(p, 6 * n + 2), *o;
    entra_metadata m;
    apr_array_header_t *keys;
    apr_size_t i;

    memset(arrays, '[', n);
    memset(arrays + n, ']', n);
    arrays[2 * n] = '\0';
    for (o = objects, i = 0; i < n; i++, o += 5)
        memcpy(o, "{\"a\":", 5);
    *o++ = '1';
    memset(o, '}', n);
    o[n] = '\0';

    CHECK(entra_metadata_parse(p, arrays, strlen(arrays), &m) != NULL,
          "metadata: arrays nested 10000 deep, an error and no crash");
    CHECK(entra_metadata_parse(p, objects, strlen(objects), &m) != NULL,
          "metadata: objects nested 10000 deep, an error and no crash");
    CHECK(jwks(p, apr_pstrcat(p, "{\"keys\":", arrays, "}", NULL), &keys) != NULL,
          "JWKS: keys nested 10000 deep, an error and no crash");
    CHECK(jwks(p, objects, &keys) != NULL, "JWKS: objects nested 10000 deep, an error and no crash");
}

void suite_provider(apr_pool_t *p)
{
    test_metadata(p);
    test_jwks(p);
    test_select(p);
    test_deep(p);
}
