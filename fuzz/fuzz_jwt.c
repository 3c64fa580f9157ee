/* Token validation (entra_jwt_verify) as the callback uses it for ID tokens
 * and bearer mode for access tokens, with a fixed key set behind the kid
 * lookup. The first byte picks the expectations (bit 7: the callback's,
 * single tenant with a nonce; else bearer's, multi-tenant with v1 issuers
 * and the App ID URI) and what is fuzzed (the rest, modulo 5):
 *   0  the token text (seeds: real RS256 tokens made with the fixed key);
 *   1  "header\npayload": any header and payload bytes, validly RS256-signed
 *      with key 1 by the harness, to get past the signature;
 *   2  the same signed with key 2;
 *   3  the same "signed" HS256 with key 1's public key as the HMAC secret;
 *   4  payload only, under a fixed good header signed with key 1.
 * Keys: a JWKS read by entra_jwks_parse and looked up by entra_jwks_select.
 * Oracle: whatever is accepted says alg RS256 (no crit), was signed by the
 * key its kid names, is for this app, from the expected issuer and tenant,
 * within its times and (callback) with the login's nonce; and the same
 * token with one character changed in any part is refused. */
#include "fuzz_common.h"
#include "fuzz_keys.h"
#include "../src/jwt.h"
#include "../src/provider.h"
#include "../src/util.h"

#include <apr_strings.h>
#include <strings.h>
#include <string.h>

typedef struct {
    const char *kid;
    int key;                 /* fuzz_jwk(key) */
    const char *issuer;      /* the JWKS key's `issuer` property */
} fixed_key;

#define PINNED_ISSUER FUZZ_AUTHORITY "/" FUZZ_OTHER_TENANT "/v2.0"

static const fixed_key keys[] = {
    { "fuzz-key-1", 1, FUZZ_ISSUER_TEMPLATE },
    { "fuzz-key-2", 2, NULL },
    /* key 1 again, published for one other tenant only */
    { "fuzz-key-1-pinned", 1, PINNED_ISSUER },
};
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

/* The JWKS of `keys`, read by the module's own entra_jwks_parse; the
 * lookup is the module's entra_jwks_select, as the provider's. */
static apr_array_header_t *jwks;

static cjose_jwk_t *lookup(void *ctx, const char *kid, const char **key_issuer)
{
    const entra_jwk *k = entra_jwks_select(jwks, kid);
    (void)ctx;

    if (!k)
        return NULL;
    *key_issuer = k->issuer;
    return k->jwk;          /* borrowed (entra_key_lookup_fn) */
}

static void load_jwks(void)
{
    json_t *list = json_array(), *doc;
    char *text;
    size_t i;

    for (i = 0; i < N_KEYS; i++) {
        json_t *k = json_loads(keys[i].key == 1 ? FUZZ_KEY1_JWK : FUZZ_KEY2_JWK, 0, NULL);
        if (!k)
            abort();
        json_object_set_new(k, "kid", json_string(keys[i].kid));
        if (keys[i].issuer)
            json_object_set_new(k, "issuer", json_string(keys[i].issuer));
        json_array_append_new(list, k);
    }
    doc = json_pack("{s:o}", "keys", list);
    text = json_dumps(doc, JSON_COMPACT);
    if (!text || entra_jwks_parse(fuzz_root(), text, strlen(text), &jwks)
        || jwks->nelts != (int)N_KEYS)
        abort();
    free(text);
    json_decref(doc);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init();
    load_jwks();
    return 0;
}

static json_t *token_header(apr_pool_t *p, const char *token)
{
    const char *dot = strchr(token, '.');
    apr_size_t len;
    unsigned char *raw = dot ? entra_b64url_decode(p, token, (apr_size_t)(dot - token), &len)
                             : NULL;

    return raw ? entra_json_pool_own(p, json_loadb((const char *)raw, len, 0, NULL)) : NULL;
}

static int is_ours(const char *aud, int bearer)
{
    return aud && (strcmp(aud, FUZZ_CLIENT_ID) == 0
                   || (bearer && strcmp(aud, FUZZ_APP_ID_URI) == 0));
}

static void check_accepted(apr_pool_t *p, const char *token, json_t *claims, int bearer,
                           int signer)
{
    json_t *hdr = token_header(p, token), *aud = json_object_get(claims, "aud"), *v;
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    const char *kid = json_string_value(json_object_get(hdr, "kid"));
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    const char *tid = json_string_value(json_object_get(claims, "tid"));
    const char *ver = json_string_value(json_object_get(claims, "ver"));
    const char *want_iss;
    size_t i;
    int found = 0, v1 = bearer && ver && strcmp(ver, "1.0") == 0;
    double exp, iat;

    FUZZ_CHECK(json_is_object(hdr), "accepted a token whose header is not a JSON object");
    FUZZ_CHECK(alg && strcmp(alg, "RS256") == 0, "accepted alg %s", alg ? alg : "(none)");
    FUZZ_CHECK(!json_object_get(hdr, "crit"), "accepted a token with crit");
    FUZZ_CHECK(kid, "accepted a token without a kid");
    for (i = 0; i < N_KEYS; i++) {
        if (strcmp(kid, keys[i].kid) == 0)
            FUZZ_CHECK(signer < 0 || keys[i].key == signer,
                       "kid %s names key %d, the token was signed with key %d", kid,
                       keys[i].key, signer);
    }
    /* the issuer */
    if (!bearer)
        want_iss = FUZZ_ISSUER;
    else {
        FUZZ_CHECK(entra_is_guid(tid), "multi-tenant token accepted without a GUID tid");
        want_iss = v1 ? apr_pstrcat(p, "https://sts.windows.net/", tid, "/", NULL)
                      : apr_pstrcat(p, FUZZ_AUTHORITY "/", tid, "/v2.0", NULL);
    }
    FUZZ_CHECK(iss && strcmp(iss, want_iss) == 0, "accepted iss %s (want %s)",
               iss ? iss : "(none)", want_iss);
    if (tid)
        FUZZ_CHECK(strcasestr(iss, tid) != NULL, "accepted tid %s with iss %s", tid, iss);
    if (!v1 && strcmp(kid, "fuzz-key-1-pinned") == 0)
        FUZZ_CHECK(strcmp(iss, PINNED_ISSUER) == 0, "a key pinned to %s accepted iss %s",
                   PINNED_ISSUER, iss);
    /* the audience */
    if (json_is_string(aud))
        found = is_ours(json_string_value(aud), bearer);
    else {
        FUZZ_CHECK(json_is_array(aud), "accepted a token without aud");
        for (i = 0; i < json_array_size(aud); i++)
            found |= is_ours(json_string_value(json_array_get(aud, i)), bearer);
        if (json_array_size(aud) > 1) {
            const char *azp = json_string_value(json_object_get(claims, "azp"));
            FUZZ_CHECK(azp && strcmp(azp, FUZZ_CLIENT_ID) == 0,
                       "accepted several audiences without azp = this app");
        }
    }
    FUZZ_CHECK(found, "accepted a token for another audience");
    /* the times */
    v = json_object_get(claims, "exp");
    FUZZ_CHECK(json_is_number(v), "accepted without exp");
    exp = json_number_value(v);
    FUZZ_CHECK(exp + FUZZ_SKEW >= (double)FUZZ_NOW, "accepted an expired token (exp %f)", exp);
    v = json_object_get(claims, "iat");
    FUZZ_CHECK(json_is_number(v), "accepted without iat");
    iat = json_number_value(v);
    FUZZ_CHECK(iat < (double)(FUZZ_NOW + FUZZ_SKEW + 1) && iat >= 0,
               "accepted a token issued at %f", iat);
    v = json_object_get(claims, "nbf");
    if (json_is_number(v) && json_number_value(v) >= 0 && json_number_value(v) < 9.5e10)
        FUZZ_CHECK(json_number_value(v) <= (double)(FUZZ_NOW + FUZZ_SKEW + 1),
                   "accepted a token not valid before %f", json_number_value(v));
    if (!bearer) {
        const char *nonce = json_string_value(json_object_get(claims, "nonce"));
        FUZZ_CHECK(nonce && strcmp(nonce, FUZZ_NONCE) == 0, "accepted another nonce");
    }
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* An accepted token with one character changed, in each of its three parts,
 * is refused: at a place the input picks, the sextet's top bit flipped (other
 * bytes); and the last character's lowest bit flipped, which in a part whose
 * length is no multiple of 4 only spells the same bytes another way. */
static void check_changed(apr_pool_t *p, const char *token, const entra_jwt_expect *want,
                          const uint8_t *data, size_t size)
{
    const char *part = token, *why = NULL;
    unsigned seed = size ? data[size / 2] : 0;
    int n, flip;

    for (n = 0; n < 3 && part; n++) {
        size_t len = strcspn(part, ".");
        for (flip = 0; flip < 2 && len; flip++) {
            char *bad = apr_pstrdup(p, token);
            size_t at = (size_t)(part - token)
                        + (flip ? len - 1 : (seed * 31u + (unsigned)n * 7u) % len);
            bad[at] = b64[(strchr(b64, bad[at]) - b64) ^ (flip ? 1 : 32)];
            FUZZ_CHECK(!entra_jwt_verify(p, bad, want, lookup, NULL, &why),
                       "part %d (%zu characters) changed at %zu (%s) and still accepted", n,
                       len, at, flip ? "last character, lowest bit" : "top bit");
        }
        part = part[len] ? part + len + 1 : NULL;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char good_header[] = "{\"typ\":\"JWT\",\"alg\":\"RS256\",\"kid\":\"fuzz-key-1\"}";
    apr_pool_t *p = fuzz_begin();
    unsigned b = fuzz_take_byte(&data, &size);
    int bearer = !(b & 0x80), signer = -1;
    entra_jwt_expect want = { 0 };
    const char *why = NULL, *token;
    json_t *claims;

    want.client_id = FUZZ_CLIENT_ID;
    want.now = FUZZ_NOW;
    want.skew = FUZZ_SKEW;
    if (bearer) {
        want.issuer = FUZZ_ISSUER_TEMPLATE;
        want.issuer_v1 = "https://sts.windows.net/{tenantid}/";
        want.app_id_uri = FUZZ_APP_ID_URI;
    }
    else {
        want.issuer = FUZZ_ISSUER;
        want.nonce = FUZZ_NONCE;
    }
    switch ((b & 0x7f) % 5) {
    case 0:
        token = fuzz_cstr(p, data, size);
        break;
    case 1:
    case 2:
    case 3: {
        const uint8_t *nl = memchr(data, '\n', size);
        size_t hlen = nl ? (size_t)(nl - data) : size;
        const uint8_t *payload = nl ? nl + 1 : data + size;
        size_t plen = nl ? size - hlen - 1 : 0;
        if ((b & 0x7f) % 5 == 3)
            token = fuzz_sign_hs256(p, FUZZ_KEY1_PUB_PEM, strlen(FUZZ_KEY1_PUB_PEM), data, hlen,
                                    payload, plen);
        else {
            signer = (b & 0x7f) % 5;
            token = fuzz_sign_rs256(p, signer, data, hlen, payload, plen);
        }
        break;
    }
    default:
        signer = 1;
        token = fuzz_sign_rs256(p, 1, good_header, strlen(good_header), data, size);
        break;
    }
    claims = entra_jwt_verify(p, token, &want, lookup, NULL, &why);
    FUZZ_SAY("fuzz_jwt: %s mode %u: %s", bearer ? "bearer" : "callback", (b & 0x7f) % 5,
             claims ? "accepted" : why);
    if (claims) {
        FUZZ_CHECK((b & 0x7f) % 5 != 3, "accepted an HS256 token keyed with the public key");
        check_accepted(p, token, claims, bearer, signer);
        check_changed(p, token, &want, data, size);
    }
    else
        FUZZ_CHECK(why && *why, "refused without a reason");
    fuzz_end(p);
    return 0;
}
