/* The discovery document, through the module's own code: entra_metadata_parse
 * on the bytes, then entra_provider_metadata fetching it (fuzz/http_stub.c
 * serves the input at the discovery URL and a JWKS with key 1 elsewhere),
 * entra_expected_issuer deriving each tenant's issuer, and
 * entra_id_token_verify checking tokens against it. Oracles:
 * - the parser accepts exactly the JSON objects (no duplicate names) with
 *   string issuer, authorization_endpoint, token_endpoint and jwks_uri, and
 *   every field it gives is exactly the document's string (NULL when the
 *   document has none): nothing cut short, nothing made up;
 * - the provider's cached copy is exactly what the parser gave;
 * - the derived issuer is the document's issuer with its first "{tenantid}"
 *   replaced by the tid, and nothing else; NULL for a tid that is no GUID;
 *   the issuer itself when there is no placeholder;
 * - a token signed with the JWKS's key, whose iss is the issuer derived for
 *   its tid, verifies through entra_id_token_verify (unless the issuer names
 *   another tenant in its path: Microsoft's tid rule); one whose tid is not
 *   the tenant its iss was derived for does not, for a templated issuer.
 * The module's rule for the endpoints' schemes is curl's (http.c: http and
 * https, so that a test IdP on http works); the parser itself takes any
 * string, so there is no scheme oracle here. */
#include "fuzz_common.h"
#include "fuzz_keys.h"
#include "http_stub.h"
#include "../src/config.h"
#include "../src/jwt.h"
#include "../src/provider.h"
#include "../src/token.h"
#include "../src/util.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <string.h>
#include <strings.h>

#define DISCOVERY_URL FUZZ_AUTHORITY "/organizations/v2.0/.well-known/openid-configuration"
#define UPPER_TENANT "4D3C2B1A-9E8F-4A7B-8C6D-5E4F3A2B1C0D"

static json_t *key1;     /* its n is key1_n; kept, as LeakSanitizer wants */
static const char *key1_n;

static const char *const fields[] = {
    "issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint",
    "end_session_endpoint", "msgraph_host", "cloud_instance_name", NULL
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init();
    key1 = json_loads(FUZZ_KEY1_JWK, 0, NULL);
    key1_n = json_string_value(json_object_get(key1, "n"));
    if (!key1_n)
        abort();
    return 0;
}

/* A JWKS with key 1 (kid fuzz-key-1) whose issuer property is `issuer`. */
static const char *jwks_for(apr_pool_t *p, const char *issuer)
{
    json_t *j = json_pack("{s:[{s:s, s:s, s:s, s:s, s:s, s:s}]}", "keys", "kty", "RSA", "use",
                          "sig", "kid", "fuzz-key-1", "n", key1_n, "e", "AQAB", "issuer", issuer);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    const char *copy;

    if (!text)
        abort();
    copy = apr_pstrdup(p, text);
    free(text);
    json_decref(j);
    return copy;
}

static const char **field_slots(entra_metadata *m, const char **slots[])
{
    slots[0] = &m->issuer;
    slots[1] = &m->authorization_endpoint;
    slots[2] = &m->token_endpoint;
    slots[3] = &m->jwks_uri;
    slots[4] = &m->userinfo_endpoint;
    slots[5] = &m->end_session_endpoint;
    slots[6] = &m->msgraph_host;
    slots[7] = &m->cloud_instance_name;
    return NULL;
}

/* Every field of `m` is exactly the document's string. */
static void check_fields(entra_metadata *m, json_t *doc, const char *whose)
{
    const char **slots[8];
    int i;

    field_slots(m, slots);
    for (i = 0; fields[i]; i++) {
        json_t *v = json_object_get(doc, fields[i]);
        const char *got = *slots[i];
        if (!json_is_string(v)) {
            FUZZ_CHECK(!got, "%s: %s made up from a non-string", whose, fields[i]);
            continue;
        }
        FUZZ_CHECK(got && strlen(got) == json_string_length(v)
                   && memcmp(got, json_string_value(v), json_string_length(v)) == 0,
                   "%s: %s is \"%s\", not the document's (%zu bytes)", whose, fields[i],
                   got ? got : "(none)", json_string_length(v));
    }
}

static int guid(const char *s)
{
    int i;

    if (!s || strlen(s) != 36)
        return 0;
    for (i = 0; i < 36; i++)
        if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-' : !apr_isxdigit(s[i]))
            return 0;
    return 1;
}

/* entra_expected_issuer against the rule, spelt out again. */
static const char *check_derived(apr_pool_t *p, const char *issuer, const char *tid)
{
    const char *got = entra_expected_issuer(p, issuer, tid);
    const char *at = strstr(issuer, "{tenantid}");

    if (!at) {
        FUZZ_CHECK(got && strcmp(got, issuer) == 0, "issuer %s changed for tid %s", issuer,
                   tid ? tid : "(none)");
        return got;
    }
    if (!guid(tid)) {
        FUZZ_CHECK(!got, "issuer derived for tid %s, no GUID: %s", tid ? tid : "(none)", got);
        return NULL;
    }
    {
        /* every "{tenantid}" filled (External ID names it as host and in the path) */
        const char *rest = issuer, *want = "";
        for (; at; rest = at + strlen("{tenantid}"), at = strstr(rest, "{tenantid}"))
            want = apr_pstrcat(p, want, apr_pstrndup(p, rest, (apr_size_t)(at - rest)), tid,
                               NULL);
        want = apr_pstrcat(p, want, rest, NULL);
        FUZZ_CHECK(got && strcmp(got, want) == 0 && !strstr(got, "{tenantid}"),
                   "issuer %s for tid %s derived as %s", issuer, tid, got ? got : "(none)");
    }
    return got;
}

/* A token by key 1 with this iss and tid, through the ID-token path. */
static int verifies(apr_pool_t *p, const entra_server_conf *sc, const entra_metadata *m,
                    const char *iss, const char *tid, const char **why)
{
    static const char hdr[] = "{\"typ\":\"JWT\",\"alg\":\"RS256\",\"kid\":\"fuzz-key-1\"}";
    apr_int64_t now = apr_time_sec(apr_time_now());
    json_t *claims = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "iss", iss, "tid", tid,
                               "aud", FUZZ_CLIENT_ID, "sub", "fuzz-subject", "nonce", FUZZ_NONCE,
                               "iat", (json_int_t)now, "nbf", (json_int_t)now,
                               "exp", (json_int_t)(now + 600));
    char *body = json_dumps(claims, JSON_COMPACT);
    const char *token = fuzz_sign_rs256(p, 1, hdr, strlen(hdr), body, strlen(body));
    int unavailable = 0;
    json_t *got;

    free(body);
    json_decref(claims);
    got = entra_id_token_verify(p, sc, m, token, FUZZ_NONCE, why, &unavailable);
    FUZZ_SAY("fuzz_metadata: token iss %s tid %s: %s", iss, tid, got ? "verified" : *why);
    FUZZ_CHECK(!unavailable, "the JWKS could not be had: %s", *why);
    return got != NULL;
}

/* Whether Microsoft's tid rule lets tid sign under iss. */
static int tenant_fits(apr_pool_t *p, const char *iss, const char *tid)
{
    const char *seg = entra_url_guid_segment(p, iss);

    return !seg || strcasecmp(seg, tid) == 0;
}

static void check_tokens(apr_pool_t *p, entra_provider *pv, const entra_metadata *m)
{
    entra_server_conf sc;
    const char *iss_a = entra_expected_issuer(p, m->issuer, FUZZ_TENANT);
    const char *iss_b = entra_expected_issuer(p, m->issuer, FUZZ_OTHER_TENANT);
    const char *why = NULL;
    int templated = strstr(m->issuer, "{tenantid}") != NULL;

    memset(&sc, 0, sizeof(sc));
    sc.client_id = FUZZ_CLIENT_ID;
    sc.clock_skew = sc.http_timeout = -1;
    sc.token_auth = ENTRA_AUTH_UNSET;
    sc.provider = pv;
    if (tenant_fits(p, iss_a, FUZZ_TENANT))
        FUZZ_CHECK(verifies(p, &sc, m, iss_a, FUZZ_TENANT, &why),
                   "a token of tenant A with iss %s refused: %s", iss_a, why);
    if (tenant_fits(p, iss_b, FUZZ_OTHER_TENANT))
        FUZZ_CHECK(verifies(p, &sc, m, iss_b, FUZZ_OTHER_TENANT, &why),
                   "a token of tenant B with iss %s refused: %s", iss_b, why);
    if (templated)
        FUZZ_CHECK(!verifies(p, &sc, m, iss_a, FUZZ_OTHER_TENANT, &why),
                   "tenant B's token accepted with tenant A's iss %s", iss_a);
    else if (!tenant_fits(p, iss_b, FUZZ_OTHER_TENANT))
        FUZZ_CHECK(!verifies(p, &sc, m, iss_b, FUZZ_OTHER_TENANT, &why),
                   "tenant B's token accepted under %s", iss_b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    json_t *doc = entra_json_pool_own(p, json_loadb((const char *)data, size,
                                                    JSON_REJECT_DUPLICATES, NULL));
    entra_metadata meta, cached;
    entra_provider *pv;
    const char *why, *jwks;
    int usable = json_is_object(doc), i;

    for (i = 0; i < 4; i++)
        usable = usable && json_is_string(json_object_get(doc, fields[i]));
    memset(&meta, 0, sizeof(meta));
    why = entra_metadata_parse(p, (const char *)data, size, &meta);
    FUZZ_SAY("fuzz_metadata: %s", why ? why : "parsed");
    FUZZ_CHECK((why == NULL) == usable, "%s a document that %s", why ? "refused" : "accepted",
               usable ? "has everything" : "lacks something");
    if (why) {
        FUZZ_CHECK(*why, "an empty reason");
        goto done;
    }
    check_fields(&meta, doc, "entra_metadata_parse");

    /* The same document fetched and cached by the provider, with a JWKS
     * whose key 1 names this issuer (as Entra's keys do). */
    jwks = jwks_for(p, meta.issuer);
    fuzz_http_reset();
    fuzz_http_route(DISCOVERY_URL, 200, (const char *)data, size);
    fuzz_http_route(NULL, 200, jwks, strlen(jwks));
    pv = entra_provider_create(p, DISCOVERY_URL, NULL, NULL);
    memset(&cached, 0, sizeof(cached));
    why = entra_provider_metadata(pv, p, 5, &cached);
    FUZZ_CHECK(!why, "the provider refused what the parser took: %s", why);
    check_fields(&cached, doc, "entra_provider_metadata");

    /* Each tenant's issuer, and tokens checked against it. */
    check_derived(p, meta.issuer, FUZZ_TENANT);
    check_derived(p, meta.issuer, FUZZ_OTHER_TENANT);
    check_derived(p, meta.issuer, UPPER_TENANT);
    check_derived(p, meta.issuer, "organizations");
    check_derived(p, meta.issuer, FUZZ_TENANT "x");
    check_derived(p, meta.issuer, "");
    check_derived(p, meta.issuer, NULL);
    if (strcmp(meta.jwks_uri, DISCOVERY_URL) != 0)
        check_tokens(p, pv, &meta);
done:
    fuzz_end(p);
    return 0;
}
