/* challenge: claims challenges in WWW-Authenticate, and the claims parameter. */
#include "unit.h"
#include "../../src/challenge.h"

#include <apr_base64.h>
#include <apr_strings.h>

static const char *b64(apr_pool_t *p, const char *s)
{
    char *out = apr_palloc(p, apr_base64_encode_len((int)strlen(s)));
    apr_base64_encode(out, s, (int)strlen(s));
    return out;
}

#define CAE "{\"access_token\":{\"nbf\":{\"essential\":true,\"value\":\"1604106651\"}}}"

static void test_parse(apr_pool_t *p)
{
    const char *why, *got;
    apr_table_t *h = apr_table_make(p, 4);
    const char *enc = b64(p, CAE);

    got = entra_challenge_parse_value(p, apr_psprintf(p, "Bearer realm=\"\", authorization_uri="
                                      "\"https://login.microsoftonline.com/common/oauth2/"
                                      "authorize\", error=\"insufficient_claims\", claims=\"%s\"",
                                      enc), &why);
    CHECK_STR(got, CAE, "Graph's challenge: its claims JSON");
    got = entra_challenge_parse_value(p, apr_psprintf(p, "bEaReR CLAIMS=\"%s\",ERROR=insufficient_claims",
                                      enc), &why);
    CHECK_STR(got, CAE, "any case of scheme and names, any order, a token value");
    got = entra_challenge_parse_value(p, apr_psprintf(p, "Basic realm=\"x, error=\\\"a\\\"\", "
                                      "Bearer error=\"insufficient_claims\", claims=\"%s\"", enc),
                                      &why);
    CHECK_STR(got, CAE, "after another challenge whose quoted realm holds a comma and quotes");
    apr_table_add(h, "WWW-Authenticate", "Negotiate");
    apr_table_add(h, "WWW-Authenticate", apr_psprintf(p, "Bearer error=\"insufficient_claims\", "
                                                      "claims=\"%s\"", enc));
    CHECK_STR(entra_challenge_parse(p, h, &why), CAE, "in the second of two headers");
    {
        /* URL-safe, no padding */
        char *u = apr_pstrdup(p, enc), *c;
        for (c = u; *c; c++)
            *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
        while (*u && u[strlen(u) - 1] == '=')
            u[strlen(u) - 1] = '\0';
        got = entra_challenge_parse_value(p, apr_psprintf(p, "Bearer error=\"insufficient_claims\", "
                                          "claims=\"%s\"", u), &why);
        CHECK_STR(got, CAE, "URL-safe base64 without padding");
    }
    got = entra_challenge_parse_value(p, "Bearer realm=\"\", error=\"invalid_token\"", &why);
    CHECK(!got && !why, "another Bearer error: no challenge, nothing wrong");
    CHECK(!entra_challenge_parse(p, apr_table_make(p, 1), &why) && !why, "no header");
}

static void test_junk(apr_pool_t *p)
{
    const char *why;
    static const char *const bad_json[] = {
        "[1,2]", "\"x\"", "{}", "{\"access_token\":1}", "{\"evil\":{}}",
        "{\"access_token\":{\"a\":1},\"access_token\":{\"b\":2}}",
        "{\"access_token\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":1}}}}}}",
        "{\"access_token\":{}", "not json", NULL
    };
    int i;

    for (i = 0; bad_json[i]; i++)
        CHECK(!entra_challenge_parse_value(p, apr_psprintf(p, "Bearer error=\"insufficient_claims\", "
                                           "claims=\"%s\"", b64(p, bad_json[i])), &why) && why,
              "claims %s refused (%s)", bad_json[i], why ? why : "no reason");
    CHECK(!entra_challenge_parse_value(p, "Bearer error=\"insufficient_claims\", claims=\"%%%\"",
                                       &why) && why, "not base64");
    CHECK(!entra_challenge_parse_value(p, "Bearer error=\"insufficient_claims\"", &why) && why,
          "no claims");
    CHECK(!entra_challenge_parse_value(p, apr_psprintf(p, "Bearer error=\"insufficient_claims\", "
                                       "claims=\"%s\", claims=\"%s\"", b64(p, CAE),
                                       b64(p, "{\"id_token\":{}}")), &why) && why,
          "claims twice");
    CHECK(!entra_challenge_parse_value(p, apr_psprintf(p, "Bearer error=\"insufficient_claims\", "
                                       "claims=\"%s", b64(p, CAE)), &why) && why,
          "unterminated quote");
    CHECK(!entra_challenge_parse_value(p, apr_psprintf(p, "Bearer error=\"insufficient_claims\", "
                                       "claims=\"%s\", Bearer error=\"insufficient_claims\", "
                                       "claims=\"%s\"", b64(p, CAE),
                                       b64(p, "{\"id_token\":{\"x\":null}}")), &why) && why,
          "two challenges asking for different claims");
    {
        char *big = apr_palloc(p, 3000);
        memset(big, ' ', 2999);
        big[2999] = '\0';
        memcpy(big, "{\"access_token\":{}}", 19);
        CHECK(!entra_challenge_parse_value(p, apr_psprintf(p, "Bearer error=\"insufficient_claims\","
                                           " claims=\"%s\"", b64(p, big)), &why) && why,
              "claims over %d bytes", ENTRA_CHALLENGE_MAX);
    }
    CHECK(!entra_challenge_parse_value(p, apr_psprintf(p, "Bearer error=\"insufficient_claims\", "
                                       "claims=\"%s\"", b64(p, "{\"access_token\":{\"a\":\"\\u0000\"}}")),
                                       &why) && why, "a NUL in a string");
}

static void test_request(apr_pool_t *p)
{
    apr_array_header_t *caps = apr_array_make(p, 1, sizeof(const char *));

    CHECK(!entra_claims_request(p, NULL, NULL), "nothing to ask");
    CHECK_STR(entra_claims_request(p, CAE, NULL), CAE, "a challenge alone, as it is");
    APR_ARRAY_PUSH(caps, const char *) = "cp1";
    CHECK_STR(entra_claims_request(p, NULL, caps),
              "{\"access_token\":{\"xms_cc\":{\"values\":[\"cp1\"]}}}", "cp1 alone");
    CHECK_STR(entra_claims_request(p, "{\"id_token\":{\"acrs\":{\"essential\":true,\"value\":\"c1\"}}}",
                                   caps),
              "{\"id_token\":{\"acrs\":{\"essential\":true,\"value\":\"c1\"}},"
              "\"access_token\":{\"xms_cc\":{\"values\":[\"cp1\"]}}}",
              "a step-up's id_token claims and cp1: one object");
    CHECK_STR(entra_claims_request(p, CAE, caps),
              "{\"access_token\":{\"nbf\":{\"essential\":true,\"value\":\"1604106651\"},"
              "\"xms_cc\":{\"values\":[\"cp1\"]}}}", "a challenge's access_token and cp1 merged");
    CHECK(!entra_claims_request(p, "{\"access_token\":3}", caps), "access_token not an object");
}

/* Within the bound decoded, past it once re-serialized (0.1 prints with 17
 * digits): refused, so what goes to Entra keeps the bound; and a header of
 * many short quoted values. */
static void test_growth(apr_pool_t *p)
{
    const char *why = NULL, *got, *json;
    char *numbers = apr_pcalloc(p, 2048), *hdr;
    int i, n = 0;

    for (i = 0; i < 480; i++)
        n += apr_snprintf(numbers + n, 2048 - (apr_size_t)n, i ? ",0.1" : "0.1");
    json = apr_psprintf(p, "{\"access_token\":{\"x\":{\"values\":[%s]}}}", numbers);
    CHECK(strlen(json) <= ENTRA_CHALLENGE_MAX, "the claims fit the bound decoded (%d bytes)",
          (int)strlen(json));
    got = entra_challenge_parse_value(p, apr_psprintf(p, "Bearer error=\"insufficient_claims\", "
                                      "claims=\"%s\"", b64(p, json)), &why);
    CHECK(!got, "but not re-serialized (0.1 as 0.10000000000000001): refused");
    hdr = apr_pcalloc(p, 8200);
    for (i = 0, n = 0; n < 8000; i++)
        n += apr_snprintf(hdr + n, 8200 - (apr_size_t)n, "%sa=\"\"", i ? ", " : "Bearer ");
    CHECK(!entra_challenge_parse_value(p, hdr, &why),
          "8 KB of empty quoted values: no claims challenge (and each value costs its own size)");
}

void suite_challenge(apr_pool_t *p)
{
    test_growth(p);
    test_parse(p);
    test_junk(p);
    test_request(p);
}
