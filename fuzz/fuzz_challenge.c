/* Claims challenges (src/challenge.c): what a backend sends in
 * WWW-Authenticate decides whether the browser is sent to Entra, with
 * what. First byte: 0 = the rest is a WWW-Authenticate value; 1 = the rest
 * is the claims JSON, in a well-formed challenge (standard base64). Any
 * claims found are one JSON object of at most ENTRA_CHALLENGE_MAX bytes
 * with access_token/id_token/userinfo objects only, come back the same
 * from a challenge made of them (a fixed point), and merge with cp1 into
 * one object. */
#include "fuzz_common.h"
#include "../src/challenge.h"

#include <apr_base64.h>
#include <apr_strings.h>
#include <jansson.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init();
    return 0;
}

static const char *challenge_of(apr_pool_t *p, const char *json, apr_size_t len)
{
    char *b64 = apr_palloc(p, apr_base64_encode_len((int)len));

    apr_base64_encode(b64, json, (int)len);
    return apr_pstrcat(p, "Bearer realm=\"\", error=\"insufficient_claims\", claims=\"", b64, "\"",
                       NULL);
}

static void check_claims(apr_pool_t *p, const char *claims)
{
    json_t *root = json_loads(claims, JSON_REJECT_DUPLICATES, NULL), *m;
    apr_array_header_t *caps = apr_array_make(p, 1, sizeof(const char *));
    const char *k, *why, *merged, *again;

    FUZZ_CHECK(strlen(claims) <= ENTRA_CHALLENGE_MAX, "claims of %zu bytes", strlen(claims));
    FUZZ_CHECK(json_is_object(root) && json_object_size(root) > 0, "claims not an object");
    json_object_foreach(root, k, m) {
        FUZZ_CHECK(json_is_object(m) && (!strcmp(k, "access_token") || !strcmp(k, "id_token")
                                         || !strcmp(k, "userinfo")), "claims member %s", k);
    }
    json_decref(root);
    again = entra_challenge_parse_value(p, challenge_of(p, claims, strlen(claims)), &why);
    FUZZ_CHECK(again && strcmp(again, claims) == 0, "claims are not a fixed point");
    APR_ARRAY_PUSH(caps, const char *) = "cp1";
    merged = entra_claims_request(p, claims, caps);
    FUZZ_CHECK(merged != NULL, "checked claims did not merge with cp1");
    root = merged ? json_loads(merged, JSON_REJECT_DUPLICATES, NULL) : NULL;
    FUZZ_CHECK(json_is_object(root) && json_is_object(json_object_get(root, "access_token"))
               && json_object_get(json_object_get(root, "access_token"), "xms_cc"),
               "merged claims without access_token.xms_cc");
    json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    const char *value, *why = NULL, *claims;

    if (size < 1) {
        fuzz_end(p);
        return 0;
    }
    if (data[0] % 2 == 0)
        value = apr_pstrndup(p, (const char *)data + 1, size - 1);
    else
        value = challenge_of(p, (const char *)data + 1, size - 1);
    claims = entra_challenge_parse_value(p, value, &why);
    if (claims) {
        FUZZ_CHECK(!why, "claims and a reason");
        check_claims(p, claims);
    }
    fuzz_end(p);
    return 0;
}
