/* jwt: ID token verification against real RS256 signatures made with cjose. */
#include "unit.h"
#include "../../src/jwt.h"
#include "../../src/util.h"

#include <apr_strings.h>
#include <stdio.h>

#define NOW 1700000000
#define SKEW 300
#define CLIENT "11111111-2222-3333-4444-555555555555"
#define TID "72f988bf-86f1-41af-91ab-2d7cd011db47"
#define TID2 "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
#define AUTHORITY "https://login.microsoftonline.com/"
#define ISSUER AUTHORITY TID "/v2.0"
#define TEMPLATE AUTHORITY "{tenantid}/v2.0"
#define NONCE "n-0S6_WzA2Mj"

/* ---- keys and signing, shared with the provider tests (see unit.h) ---- */

static cjose_jwk_t *rsa_keys[2];

cjose_jwk_t *unit_rsa_key(int n)
{
    static const uint8_t e[] = { 1, 0, 1 };
    cjose_err err;
    char kid[16];

    if (!rsa_keys[n]) {
        rsa_keys[n] = cjose_jwk_create_RSA_random(2048, e, sizeof(e), &err);
        snprintf(kid, sizeof(kid), "unit-key-%d", n);
        if (rsa_keys[n])
            cjose_jwk_set_kid(rsa_keys[n], kid, strlen(kid), &err);
    }
    return rsa_keys[n];
}

void unit_keys_release(void)
{
    int i;
    for (i = 0; i < 2; i++) {
        cjose_jwk_release(rsa_keys[i]);
        rsa_keys[i] = NULL;
    }
}

/* Signs `payload` with header `hdr` (a JSON object, consumed). */
static char *sign_hdr(apr_pool_t *p, const cjose_jwk_t *key, json_t *hdr, const char *payload)
{
    cjose_err err;
    const char *ser = NULL;
    char *out = NULL;
    cjose_jws_t *jws = cjose_jws_sign(key, (cjose_header_t *)hdr, (const uint8_t *)payload,
                                      strlen(payload), &err);

    if (jws && cjose_jws_export(jws, &ser, &err))
        out = apr_pstrdup(p, ser);
    cjose_jws_release(jws);
    json_decref(hdr);
    return out;
}

char *unit_sign(apr_pool_t *p, const cjose_jwk_t *key, const char *alg, const char *kid,
                const char *payload)
{
    json_t *hdr = json_pack("{s:s}", "alg", alg);

    if (kid)
        json_object_set_new(hdr, "kid", json_string(kid));
    return sign_hdr(p, key, hdr, payload);
}

/* ---- the key lookup the verifier calls ---- */

typedef struct {
    const char *kid;
    cjose_jwk_t *jwk;
    const char *issuer;     /* the key's `issuer` property */
} test_key;

typedef struct {
    test_key keys[2];
    int calls;
} test_jwks;

static cjose_jwk_t *lookup(void *ctx, const char *kid, const char **key_issuer)
{
    test_jwks *jwks = ctx;
    int i;

    jwks->calls++;
    for (i = 0; i < 2; i++) {
        if (kid && jwks->keys[i].jwk && strcmp(kid, jwks->keys[i].kid) == 0) {
            *key_issuer = jwks->keys[i].issuer;
            return jwks->keys[i].jwk;       /* borrowed (entra_key_lookup_fn) */
        }
    }
    return NULL;
}

/* ---- tokens ---- */

static json_t *claims(void)
{
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s}",
                     "iss", ISSUER, "aud", CLIENT, "exp", (json_int_t)NOW + 3600,
                     "nbf", (json_int_t)NOW - 60, "iat", (json_int_t)NOW - 60,
                     "nonce", NONCE, "tid", TID, "sub", "user-1", "name", "Ada");
}

/* Compact JSON text of `c` (consumed), in the pool. */
static char *json_dumps_tmp(apr_pool_t *p, json_t *c)
{
    char *text = json_dumps(c, JSON_COMPACT), *copy = apr_pstrdup(p, text);

    free(text);
    json_decref(c);
    return copy;
}

/* Signs `c` (consumed) with key 0, kid unit-key-0, RS256. */
static char *token(apr_pool_t *p, json_t *c)
{
    return unit_sign(p, unit_rsa_key(0), "RS256", "unit-key-0", json_dumps_tmp(p, c));
}

/* The base claims with one claim set (value consumed) or, for NULL, removed. */
static char *token_with(apr_pool_t *p, const char *name, json_t *value)
{
    json_t *c = claims();

    if (value)
        json_object_set_new(c, name, value);
    else
        json_object_del(c, name);
    return token(p, c);
}

static const entra_jwt_expect want_default = {
    .issuer = ISSUER, .client_id = CLIENT, .nonce = NONCE, .now = NOW, .skew = SKEW
};

static test_jwks jwks;

static json_t *verify_as(apr_pool_t *p, const char *t, const entra_jwt_expect *want,
                         const char **why)
{
    *why = NULL;
    return entra_jwt_verify(p, t, want, lookup, &jwks, why);
}

#define ACCEPT(t, want, what) accept_token(p, (t), (want), (what), __LINE__)
#define REJECT(t, want, what) reject_token(p, (t), (want), (what), __LINE__)

static json_t *accept_token(apr_pool_t *p, const char *t, const entra_jwt_expect *want,
                            const char *what, int line)
{
    const char *why = NULL;
    json_t *c = t ? verify_as(p, t, want, &why) : NULL;

    unit_check(c != NULL, __FILE__, line, "accepted: %s%s%s", what, c ? "" : " -- why: ",
               c ? "" : why ? why : (t ? "(none)" : "could not make the token"));
    return c;
}

static void reject_token(apr_pool_t *p, const char *t, const entra_jwt_expect *want,
                         const char *what, int line)
{
    const char *why, *sig = t ? strrchr(t, '.') : NULL;
    json_t *c;

    /* A token the test failed to make would be "rejected" for nothing. */
    if (!unit_check(t != NULL, __FILE__, line, "made the token for: %s", what))
        return;
    c = verify_as(p, t, want, &why);

    unit_check(c == NULL && why != NULL, __FILE__, line, "rejected with a reason: %s (why: %s)",
               what, why ? why : "none");
    /* The reason is for the log: it must never carry the token. */
    if (sig && strlen(sig) > 10)
        unit_check(!why || !strstr(why, sig + 1), __FILE__, line,
                   "the reason does not quote the token: %s", what);
}

static const entra_jwt_expect *want_with(apr_pool_t *p, const char *issuer, const char *nonce)
{
    entra_jwt_expect *w = apr_pmemdup(p, &want_default, sizeof(*w));
    w->issuer = issuer;
    w->nonce = nonce;
    return w;
}

/* ---- cases ---- */

static void test_valid(apr_pool_t *p)
{
    const entra_jwt_expect *want = &want_default;
    json_t *c = ACCEPT(token(p, claims()), want, "a valid token");

    CHECK_STR(c ? json_string_value(json_object_get(c, "sub")) : NULL, "user-1",
              "the claims come back");
    CHECK_STR(c ? json_string_value(json_object_get(c, "name")) : NULL, "Ada", "all of them");
    ACCEPT(token_with(p, "nonce", NULL), want_with(p, ISSUER, NULL),
           "no nonce wanted, none present");
    ACCEPT(token(p, claims()), want_with(p, ISSUER, NULL), "no nonce wanted, one present");
    ACCEPT(token_with(p, "nbf", NULL), want, "no nbf (it is optional)");
    ACCEPT(token_with(p, "exp", json_real(NOW + 3600.5)), want, "exp as a real number");
}

static void test_audience(apr_pool_t *p)
{
    const entra_jwt_expect *want = &want_default;
    json_t *c;

    REJECT(token_with(p, "aud", json_string("22222222-2222-3333-4444-555555555555")), want,
           "aud is another application");
    REJECT(token_with(p, "aud", json_string(CLIENT "x")), want, "aud is our id plus a suffix");
    REJECT(token_with(p, "aud", json_string("")), want, "aud is empty");
    REJECT(token_with(p, "aud", NULL), want, "no aud");
    REJECT(token_with(p, "aud", json_integer(1)), want, "aud is a number");
    REJECT(token_with(p, "aud", json_pack("[]")), want, "aud is an empty array");
    REJECT(token_with(p, "aud", json_pack("[s,s]", "a", "b")), want, "aud array without us");
    REJECT(token_with(p, "aud", json_pack("[s,s]", CLIENT, "b")), want,
           "several aud with us, no azp");
    c = claims();
    json_object_set_new(c, "aud", json_pack("[s,s]", "b", CLIENT));
    json_object_set_new(c, "azp", json_string("b"));
    REJECT(token(p, c), want, "several aud with us, azp is another");
    c = claims();
    json_object_set_new(c, "aud", json_pack("[s,s]", "b", CLIENT));
    json_object_set_new(c, "azp", json_string(CLIENT));
    ACCEPT(token(p, c), want, "several aud with us, azp is us");
    ACCEPT(token_with(p, "aud", json_pack("[s]", CLIENT)), want, "aud array of just us");
}

static void test_issuer(apr_pool_t *p)
{
    const entra_jwt_expect *want = &want_default, *multi = want_with(p, TEMPLATE, NONCE);
    json_t *c;

    REJECT(token_with(p, "iss", json_string("https://evil.example/" TID "/v2.0")), want,
           "iss from another host");
    REJECT(token_with(p, "iss", json_string(ISSUER "/")), want, "iss with a trailing /");
    REJECT(token_with(p, "iss", json_string(AUTHORITY TID2 "/v2.0")), want,
           "iss of another tenant");
    REJECT(token_with(p, "iss", NULL), want, "no iss");
    REJECT(token_with(p, "iss", json_integer(1)), want, "iss is a number");

    ACCEPT(token(p, claims()), multi, "multi-tenant: iss is the template filled with tid");
    c = claims();
    json_object_set_new(c, "tid", json_string(TID2));
    json_object_set_new(c, "iss", json_string(AUTHORITY TID2 "/v2.0"));
    ACCEPT(token(p, c), multi, "multi-tenant: a second tenant, consistent tid and iss");
    c = claims();
    json_object_set_new(c, "tid", json_string("contoso"));
    json_object_set_new(c, "iss", json_string(AUTHORITY "contoso/v2.0"));
    REJECT(token(p, c), multi, "multi-tenant: tid not a GUID");
    c = claims();
    json_object_set_new(c, "tid", json_string("../" TID));
    json_object_set_new(c, "iss", json_string(AUTHORITY "../" TID "/v2.0"));
    REJECT(token(p, c), multi, "multi-tenant: tid with a path in it");
    REJECT(token_with(p, "tid", json_string(TID2)), multi,
           "multi-tenant: iss names another tenant than tid");
    REJECT(token_with(p, "tid", NULL), multi, "multi-tenant: no tid");
    REJECT(token_with(p, "iss", json_string(TEMPLATE)), multi,
           "multi-tenant: iss is the template itself");

    jwks.keys[0].issuer = TEMPLATE;
    ACCEPT(token(p, claims()), want, "the key's issuer template matches iss");
    jwks.keys[0].issuer = ISSUER;
    ACCEPT(token(p, claims()), multi, "the key's fixed issuer matches iss");
    jwks.keys[0].issuer = AUTHORITY TID2 "/v2.0";
    REJECT(token(p, claims()), want, "the key's issuer is another tenant");
    REJECT(token(p, claims()), multi, "the key's issuer is another tenant (multi-tenant)");
    jwks.keys[0].issuer = NULL;

    CHECK_STR(entra_expected_issuer(p, TEMPLATE, TID), ISSUER, "expected issuer: template filled");
    CHECK(entra_expected_issuer(p, TEMPLATE, "common") == NULL, "expected issuer: tid not a GUID");
    CHECK(entra_expected_issuer(p, TEMPLATE, NULL) == NULL, "expected issuer: no tid");
    CHECK_STR(entra_expected_issuer(p, ISSUER, NULL), ISSUER, "expected issuer: fixed stays");
    CHECK_STR(entra_expected_issuer(p, "https://{tenantid}.ciamlogin.com/{tenantid}/v2.0", TID),
              apr_pstrcat(p, "https://", TID, ".ciamlogin.com/", TID, "/v2.0", NULL),
              "expected issuer: External ID's template filled as host and in the path");
}

static void test_times(apr_pool_t *p)
{
    const entra_jwt_expect *want = &want_default;

    REJECT(token_with(p, "exp", json_integer(NOW - SKEW - 1)), want, "expired beyond the skew");
    ACCEPT(token_with(p, "exp", json_integer(NOW - SKEW)), want, "expired, at the skew's edge");
    ACCEPT(token_with(p, "exp", json_integer(NOW - 10)), want, "expired within the skew");
    REJECT(token_with(p, "exp", NULL), want, "no exp");
    REJECT(token_with(p, "exp", json_string("9999999999")), want, "exp is a string");
    REJECT(token_with(p, "nbf", json_integer(NOW + SKEW + 1)), want, "nbf beyond the skew");
    ACCEPT(token_with(p, "nbf", json_integer(NOW + SKEW)), want, "nbf within the skew");
    REJECT(token_with(p, "iat", json_integer(NOW + SKEW + 1)), want, "iat in the future");
    REJECT(token_with(p, "iat", json_integer(NOW + 99999)), want, "iat far in the future");
    ACCEPT(token_with(p, "iat", json_integer(NOW + SKEW)), want, "iat within the skew");
    REJECT(token_with(p, "iat", NULL), want, "no iat");
    {
        entra_jwt_expect strict = want_default;
        strict.skew = 0;
        REJECT(token_with(p, "exp", json_integer(NOW - 1)), &strict, "skew 0: exp a second ago");
        ACCEPT(token_with(p, "exp", json_integer(NOW)), &strict, "skew 0: exp now");
    }
    /* the refusal says by how much, and what to check */
    {
        static const struct { const char *claim; apr_int64_t at; const char *says; } off[] = {
            { "exp", NOW - 1000, "token has expired (exp): in the past by 1000 s" },
            { "nbf", NOW + 700, "token is not yet valid (nbf): in the future by 700 s" },
            { "iat", NOW + 650, "token was issued in the future (iat) by 650 s" },
        };
        apr_size_t i;

        for (i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
            const char *why = NULL, *t = token_with(p, off[i].claim, json_integer(off[i].at));
            json_t *c = t ? verify_as(p, t, want, &why) : NULL;
            CHECK(!c && why && strstr(why, off[i].says) && strstr(why, "EntraClockSkew")
                  && strstr(why, "NTP"), "%s off: the reason gives the seconds, EntraClockSkew "
                  "and NTP (%s)", off[i].claim, why ? why : "(none)");
        }
    }
}

static void test_nonce(apr_pool_t *p)
{
    const entra_jwt_expect *want = &want_default;

    REJECT(token_with(p, "nonce", json_string("other-nonce")), want, "nonce mismatch");
    REJECT(token_with(p, "nonce", json_string(NONCE "x")), want, "nonce with a suffix");
    REJECT(token_with(p, "nonce", json_string("")), want, "empty nonce");
    REJECT(token_with(p, "nonce", json_integer(1)), want, "nonce is a number");
    REJECT(token_with(p, "nonce", NULL), want, "missing nonce");
}

static char *b64json(apr_pool_t *p, const char *json)
{
    return entra_b64url_encode(p, (const unsigned char *)json, strlen(json));
}

static void test_algorithms(apr_pool_t *p)
{
    const entra_jwt_expect *want = &want_default;
    const char *body = b64json(p, json_dumps_tmp(p, claims()));
    cjose_err err;
    char *pub = cjose_jwk_to_json(unit_rsa_key(0), false, &err);
    cjose_jwk_t *oct = pub ? cjose_jwk_create_oct_spec((const uint8_t *)pub, strlen(pub), &err)
                           : NULL;
    json_t *hdr;
    int calls;

    REJECT(apr_pstrcat(p, b64json(p, "{\"alg\":\"none\",\"kid\":\"unit-key-0\"}"), ".", body, ".",
                       NULL), want, "alg none with an empty signature");
    REJECT(apr_pstrcat(p, b64json(p, "{\"alg\":\"none\"}"), ".", body, ".", NULL), want,
           "alg none without kid");
    REJECT(apr_pstrcat(p, b64json(p, "{\"alg\":\"None\",\"kid\":\"unit-key-0\"}"), ".", body,
                       ".", NULL), want, "alg None");
    REJECT(apr_pstrcat(p, b64json(p, "{\"kid\":\"unit-key-0\"}"), ".", body, ".", NULL), want,
           "no alg at all");

    if (CHECK(oct != NULL, "an oct key from the RSA public key's bytes")) {
        calls = jwks.calls;
        REJECT(unit_sign(p, oct, "HS256", "unit-key-0", json_dumps_tmp(p, claims())), want,
               "HS256 keyed with the RSA public key");
        CHECK(jwks.calls == calls, "HS256 is refused before any key is looked up");
    }
    cjose_jwk_release(oct);
    free(pub);

    REJECT(unit_sign(p, unit_rsa_key(0), "RS384", "unit-key-0", json_dumps_tmp(p, claims())),
           want, "RS384 (not on the allow-list)");
    REJECT(unit_sign(p, unit_rsa_key(0), "PS256", "unit-key-0", json_dumps_tmp(p, claims())),
           want, "PS256 (not on the allow-list)");

    hdr = json_pack("{s:s, s:s, s:[s]}", "alg", "RS256", "kid", "unit-key-0", "crit", "exp");
    REJECT(sign_hdr(p, unit_rsa_key(0), hdr, json_dumps_tmp(p, claims())), want,
           "crit header (an array, as RFC 7515 4.1.11 has it)");
    hdr = json_pack("{s:s, s:s, s:s}", "alg", "RS256", "kid", "unit-key-0", "crit", "exp");
    REJECT(sign_hdr(p, unit_rsa_key(0), hdr, json_dumps_tmp(p, claims())), want,
           "crit header (a string)");
}

static void test_keys_and_signature(apr_pool_t *p)
{
    const entra_jwt_expect *want = &want_default;
    char *good = token(p, claims()), *bad, *other;
    json_t *c, *embedded;
    cjose_err err;
    char *pub1;

    REJECT(unit_sign(p, unit_rsa_key(0), "RS256", "unknown-kid", json_dumps_tmp(p, claims())),
           want, "unknown kid");
    REJECT(unit_sign(p, unit_rsa_key(1), "RS256", "unit-key-0", json_dumps_tmp(p, claims())),
           want, "signed by another key under our kid");
    ACCEPT(unit_sign(p, unit_rsa_key(1), "RS256", "unit-key-1", json_dumps_tmp(p, claims())),
           want, "the second key of the JWKS, by its kid");

    bad = apr_pstrdup(p, good);
    bad[strlen(bad) - 10] = bad[strlen(bad) - 10] == 'A' ? 'B' : 'A';
    REJECT(bad, want, "signature with a byte changed");
    bad = apr_pstrdup(p, good);
    *strrchr(bad, '.') = '\0';
    REJECT(apr_pstrcat(p, bad, ".", NULL), want, "signature removed");
    bad = apr_pstrdup(p, good);
    bad[strchr(bad, '.') - bad + 5] ^= 0x01;
    REJECT(bad, want, "payload with a character changed");

    /* A valid signature of one token on the payload of another. */
    c = claims();
    json_object_set_new(c, "sub", json_string("admin"));
    other = token(p, c);
    bad = apr_pstrcat(p, apr_pstrndup(p, other, strrchr(other, '.') - other),
                      strrchr(good, '.'), NULL);
    REJECT(bad, want, "payload of another token under this signature");

    /* An attacker's own key embedded in the header is not trusted. */
    pub1 = cjose_jwk_to_json(unit_rsa_key(1), false, &err);
    embedded = json_pack("{s:s, s:s, s:o}", "alg", "RS256", "kid", "unit-key-0",
                         "jwk", json_loads(pub1, 0, NULL));
    free(pub1);
    REJECT(sign_hdr(p, unit_rsa_key(1), embedded, json_dumps_tmp(p, claims())), want,
           "signed by a key embedded in the header (jwk)");
}

/* OpenID Connect: an ID token names its user in sub. Access tokens are not
 * held to it here (require_sub off). */
static void test_subject(apr_pool_t *p)
{
    entra_jwt_expect *id = apr_pmemdup(p, &want_default, sizeof(*id));
    const char *why = NULL;

    id->require_sub = 1;
    ACCEPT(token(p, claims()), id, "ID token with sub");
    REJECT(token_with(p, "sub", NULL), id, "ID token without sub");
    REJECT(token_with(p, "sub", json_string("")), id, "ID token with an empty sub");
    REJECT(token_with(p, "sub", json_integer(42)), id, "ID token with a numeric sub");
    REJECT(token_with(p, "sub", json_null()), id, "ID token with sub null");
    REJECT(token_with(p, "sub", json_pack("[s]", "user-1")), id, "ID token with sub an array");
    CHECK(!verify_as(p, token_with(p, "sub", NULL), id, &why) && why && strstr(why, "sub"),
          "the reason names sub (got: %s)", why ? why : "none");
    ACCEPT(token_with(p, "sub", NULL), &want_default, "without require_sub, no sub is fine");
}

/* A token without kid: this lookup (two keys) has none to offer. */
static void test_no_kid(apr_pool_t *p)
{
    const char *why = NULL;
    char *t = unit_sign(p, unit_rsa_key(0), "RS256", NULL, json_dumps_tmp(p, claims()));

    REJECT(t, &want_default, "no kid, lookup finds no key");
    CHECK(t && !verify_as(p, t, &want_default, &why) && why && strstr(why, "no kid"),
          "the reason says the token has no kid (got: %s)", why ? why : "none");
}

static void test_garbage(apr_pool_t *p)
{
    static const char *const bad[] = {
        "", "abc", ".", "..", "...", "a.b", "a.b.c", "a.b.c.d", "a.b.c.d.e",
        "eyJhbGciOiJSUzI1NiJ9..", "!!.!!.!!", "eyJhbGciOiJSUzI1NiJ9.e30.e30.e30",
    };
    const entra_jwt_expect *want = &want_default;
    size_t i;
    json_t *c;
    char *huge, *deep;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        REJECT(bad[i], want, apr_psprintf(p, "garbage \"%s\"", bad[i]));
    {
        const char *why = NULL;
        CHECK(!entra_jwt_verify(p, NULL, want, lookup, &jwks, &why) && why,
              "rejected with a reason: no token");
    }
    /* '=' inside a part aborts libcjose's decoder (the process dies): these
     * must be refused before cjose sees them, with the module's reason;
     * t/51_hostile_requests.t sends the same through Apache. */
    {
        static const char *const padded[] = {
            "e=AA.e30.AAAA", "eyJhbGciOiJSUzI1NiJ9.e30=.AAAA", "eyJ=.eyJ=.AA==",
            "eyJhbGciOiJSUzI1NiJ9.e30.AA=A", "a+b.c/d.e",
        };
        for (i = 0; i < sizeof(padded) / sizeof(padded[0]); i++) {
            const char *why = NULL;
            CHECK(!entra_jwt_verify(p, padded[i], want, lookup, &jwks, &why) && why
                  && strcmp(why, "token is not a well-formed JWS") == 0,
                  "\"%s\": refused before cjose (not a well-formed JWS)", padded[i]);
        }
    }

    REJECT(unit_sign(p, unit_rsa_key(0), "RS256", "unit-key-0", "[1,2]"), want,
           "payload is an array");
    REJECT(unit_sign(p, unit_rsa_key(0), "RS256", "unit-key-0", "not json"), want,
           "payload is not JSON");
    REJECT(unit_sign(p, unit_rsa_key(0), "RS256", "unit-key-0",
                     apr_pstrcat(p, "{\"aud\":\"evil\",", json_dumps_tmp(p, claims()) + 1, NULL)),
           want, "payload with a duplicate aud");

    /* A signed, otherwise valid token of 70 KB. */
    huge = apr_palloc(p, 70001);
    memset(huge, 'x', 70000);
    huge[70000] = '\0';
    c = claims();
    json_object_set_new(c, "pad", json_string(huge));
    REJECT(token(p, c), want, "oversize token (70 KB)");

    /* JSON nested 10000 deep in a signed payload: no crash, just no. */
    deep = apr_palloc(p, 20001);
    memset(deep, '[', 10000);
    memset(deep + 10000, ']', 10000);
    deep[20000] = '\0';
    REJECT(unit_sign(p, unit_rsa_key(0), "RS256", "unit-key-0",
                     apr_pstrcat(p, "{\"deep\":", deep, ",", json_dumps_tmp(p, claims()) + 1,
                                 NULL)), want, "payload nested 10000 deep");
}

void suite_jwt(apr_pool_t *p)
{
    if (!CHECK(unit_rsa_key(0) && unit_rsa_key(1), "cjose makes two RSA-2048 keys"))
        return;
    CHECK(unit_sign(p, unit_rsa_key(0), "RS256", "unit-key-0", "{}") != NULL,
          "cjose signs RS256");
    memset(&jwks, 0, sizeof(jwks));
    jwks.keys[0].kid = "unit-key-0";
    jwks.keys[0].jwk = unit_rsa_key(0);
    jwks.keys[1].kid = "unit-key-1";
    jwks.keys[1].jwk = unit_rsa_key(1);

    test_valid(p);
    test_audience(p);
    test_issuer(p);
    test_times(p);
    test_nonce(p);
    test_algorithms(p);
    test_keys_and_signature(p);
    test_subject(p);
    test_no_kid(p);
    test_garbage(p);
}
