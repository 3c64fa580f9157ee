/* A token's claims (or a userinfo / Graph answer's) on their way to the
 * backend: entra_claims_from_json, EntraClaimMap, the REMOTE_USER pick, the
 * X-Entra-Claim-* headers and ENTRA_CLAIM_* variables, and the round trip
 * through a sealed session. The input is JSON; its first byte chooses the
 * parser flags (the token payload is read with JSON_REJECT_DUPLICATES).
 * Oracle: only well-formed claim names, no control characters in values
 * (no header splitting), Require's membership test (entra_claims_has) finds
 * exactly the elements of array claims and whole string claims, and the
 * session gives back exactly the claims. */
#include "fuzz_common.h"
#include "../src/claims.h"
#include "../src/config.h"
#include "../src/session.h"
#include "../src/userinfo.h"
#include "../src/jwt.h"
#include "../src/util.h"

#include <apr_strings.h>
#include <string.h>

static apr_array_header_t *maps, *remote_user_claims;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_pool_t *p;
    entra_claim_map *m;

    (void)argc;
    (void)argv;
    fuzz_init();
    p = fuzz_root();
    maps = apr_array_make(p, 2, sizeof(entra_claim_map));
    m = apr_array_push(maps);
    m->name = "user";
    m->sources = apr_array_make(p, 3, sizeof(const char *));
    APR_ARRAY_PUSH(m->sources, const char *) = "preferred_username";
    APR_ARRAY_PUSH(m->sources, const char *) = "upn";
    APR_ARRAY_PUSH(m->sources, const char *) = "email";
    m = apr_array_push(maps);
    m->name = "roles";
    m->sources = apr_array_make(p, 1, sizeof(const char *));
    APR_ARRAY_PUSH(m->sources, const char *) = "wids";
    remote_user_claims = apr_array_make(p, 2, sizeof(const char *));
    APR_ARRAY_PUSH(remote_user_claims, const char *) = "preferred_username";
    APR_ARRAY_PUSH(remote_user_claims, const char *) = "oid";
    return 0;
}

static void check_pairs(const apr_array_header_t *pairs)
{
    int i;

    for (i = 0; i < pairs->nelts; i++) {
        const entra_pair *e = &APR_ARRAY_IDX(pairs, i, entra_pair);
        const char *c;
        size_t n = strlen(e->name);
        if (strcmp(e->name, ENTRA_CLAIMS_ARRAYS) == 0)   /* which claims were arrays */
            continue;
        FUZZ_CHECK(n > 0 && n <= 64, "claim name of %zu characters", n);
        FUZZ_CHECK(strspn(e->name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789_-") == n, "claim name \"%s\"", e->name);
        FUZZ_CHECK(strncmp(e->name, "_claim_", 7) != 0, "claim %s passed on", e->name);
        for (c = e->value; *c; c++)
            FUZZ_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f,
                       "claim %s has control character 0x%02x", e->name, (unsigned char)*c);
    }
}

static int plain_text(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

/* entra_claims_has (Require entra-role/-group/-claim): an element of an
 * array claim matches, the whole of a string claim matches, and a string
 * that merely contains a ',' is never taken apart. */
static void check_membership(apr_pool_t *p, const apr_array_header_t *pairs, json_t *json)
{
    const char *name;
    json_t *v;

    json_object_foreach(json, name, v) {
        if (!entra_pairs_get(pairs, name))
            continue;
        if (json_is_string(v) && plain_text(json_string_value(v))) {
            const char *s = json_string_value(v), *comma = strchr(s, ',');
            FUZZ_CHECK(!entra_claims_is_array(pairs, name), "string claim %s taken for an array",
                       name);
            if (*s)
                FUZZ_CHECK(entra_claims_has(pairs, name, s), "claim %s does not hold its value",
                           name);
            if (comma && comma > s)
                FUZZ_CHECK(!entra_claims_has(pairs, name,
                                             apr_pstrndup(p, s, (apr_size_t)(comma - s))),
                           "string claim %s split at a ','", name);
        }
        else if (json_is_array(v)) {
            size_t i;
            FUZZ_CHECK(entra_claims_is_array(pairs, name), "array claim %s not marked", name);
            for (i = 0; i < json_array_size(v); i++) {
                const char *e = json_string_value(json_array_get(v, i));
                if (e && *e && !strchr(e, ',') && plain_text(e))
                    FUZZ_CHECK(entra_claims_has(pairs, name, e),
                               "array claim %s does not hold its element %s", name, e);
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    unsigned b = fuzz_take_byte(&data, &size);
    json_t *json = json_loadb((const char *)data, size, b & 1 ? JSON_REJECT_DUPLICATES : 0, NULL);

    if (json)
        entra_json_pool_own(p, json);
    if (json_is_object(json)) {
        apr_array_header_t *pairs = entra_claims_from_json(p, json);
        apr_table_t *headers = apr_table_make(p, 8), *env = apr_table_make(p, 8);
        const apr_array_header_t *h;
        entra_session s = { 0 }, *back;
        const char *sealed;
        int i;

        check_pairs(pairs);
        check_membership(p, pairs, json);
        entra_groups_overage(json);
        entra_claims_apply_map(pairs, maps);
        entra_claims_pick(pairs, remote_user_claims);
        entra_claims_publish(p, pairs, headers, env);
        h = apr_table_elts(headers);
        for (i = 0; i < h->nelts; i++) {
            const apr_table_entry_t *e = &APR_ARRAY_IDX(h, i, apr_table_entry_t);
            FUZZ_CHECK(strncmp(e->key, "X-Entra-Claim-", 14) == 0, "header %s", e->key);
            FUZZ_CHECK(!strpbrk(e->val, "\r\n"), "header %s splits", e->key);
        }
        /* through a session cookie and back */
        s.created = FUZZ_NOW;
        s.expires = FUZZ_NOW + 3600;
        s.claims = pairs;
        sealed = entra_session_seal(p, fuzz_ring(), &s);
        FUZZ_CHECK(sealed != NULL, "claims do not seal");
        back = entra_session_open(p, fuzz_ring(), sealed, FUZZ_NOW, 0);
        FUZZ_CHECK(back && back->claims->nelts == pairs->nelts,
                   "claims do not come back from the session");
        for (i = 0; i < pairs->nelts; i++) {
            const entra_pair *x = &APR_ARRAY_IDX(pairs, i, entra_pair);
            const entra_pair *y = &APR_ARRAY_IDX(back->claims, i, entra_pair);
            FUZZ_CHECK(strcmp(x->name, y->name) == 0 && strcmp(x->value, y->value) == 0,
                       "claim %s changed in the session", x->name);
        }
    }
    fuzz_end(p);
    return 0;
}
