/* claims: token claims to header-ready pairs, spoof stripping, publishing,
 * REMOTE_USER selection, the profile merged into the ID token's claims, and
 * the token endpoint's token_type. */
#include "unit.h"
#include "../../src/claims.h"
#include "../../src/token.h"
#include "../../src/userinfo.h"
#include "../../src/util.h"

#include <apr_base64.h>
#include <apr_strings.h>

static const char *get(const apr_array_header_t *pairs, const char *name)
{
    return entra_pairs_get(pairs, name);
}

static void test_from_json(apr_pool_t *p)
{
    static const char *const doc =
        "{\"name\":\"Ada\",\"n\":42,\"neg\":-7,\"big\":9007199254740993,\"f\":1.5,"
        "\"t\":true,\"fa\":false,\"roles\":[\"admin\",\"reader\"],\"mixed\":[1,\"x\",true],"
        "\"nested\":[[1,2],\"y\"],\"none\":[],\"obj\":{\"a\":1,\"b\":[\"c\"]},"
        "\"crlf\":\"a\\r\\nX-Evil: 1\",\"ctl\":\"t\\tb\\u0001e\\u007f\","
        "\"null\":null,\"bad name\":\"x\",\"bad:name\":\"x\",\"bad\\nname\":\"x\","
        "\"\":\"empty\",\"x-ok_1\":\"ok\",\"utf\":\"caf\\u00e9\","
        "\"long_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":\"x\"}";
    json_t *j = json_loads(doc, 0, NULL);
    apr_array_header_t *c;
    int i, n, names_ok = 1;

    if (!CHECK(j != NULL, "claims JSON fixture parses"))
        return;
    c = entra_claims_from_json(p, j);
    json_decref(j);

    CHECK_STR(get(c, "name"), "Ada", "claims: string");
    CHECK_STR(get(c, "n"), "42", "claims: integer");
    CHECK_STR(get(c, "neg"), "-7", "claims: negative integer");
    CHECK_STR(get(c, "big"), "9007199254740993", "claims: integer beyond 2^53 stays exact");
    CHECK_STR(get(c, "f"), "1.5", "claims: real");
    CHECK_STR(get(c, "t"), "true", "claims: true");
    CHECK_STR(get(c, "fa"), "false", "claims: false");
    CHECK_STR(get(c, "roles"), "admin,reader", "claims: array joined with ','");
    CHECK_STR(get(c, "mixed"), "1,x,true", "claims: mixed array");
    CHECK_STR(get(c, "nested"), "[1,2],y", "claims: nested array as JSON");
    CHECK_STR(get(c, "none"), "", "claims: empty array is empty");
    CHECK_STR(get(c, "obj"), "{\"a\":1,\"b\":[\"c\"]}", "claims: object as compact JSON");
    CHECK_STR(get(c, "crlf"), "a  X-Evil: 1", "claims: CR and LF become spaces");
    CHECK_STR(get(c, "ctl"), "t b e ", "claims: tab and other controls become spaces");
    CHECK_STR(get(c, "utf"), "caf\xc3\xa9", "claims: UTF-8 kept");
    CHECK_STR(get(c, "x-ok_1"), "ok", "claims: names with - and _ kept");
    CHECK(get(c, "null") == NULL, "claims: null dropped");
    CHECK(get(c, "bad name") == NULL && get(c, "bad:name") == NULL && get(c, "bad\nname") == NULL
          && get(c, "") == NULL, "claims: names with odd characters, or empty, dropped");
    CHECK(get(c, "long_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
          == NULL, "claims: a 77-character name dropped");
    for (i = 0, n = 0; i < c->nelts; i++) {
        const entra_pair *e = &APR_ARRAY_IDX(c, i, entra_pair);
        if (strcmp(e->name, ENTRA_CLAIMS_ARRAYS) == 0)
            continue;   /* the module's own record of which claims were arrays */
        n++;
        names_ok &= e->name[0] != ':' && strspn(e->name, "abcdefghijklmnopqrstuvwxyz"
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == strlen(e->name)
                    && !strpbrk(e->value, "\r\n");
    }
    CHECK(names_ok, "claims: every name is a header token, no value has CR/LF");
    CHECK(n == 16, "claims: exactly the 16 good claims (got %d)", n);

    /* A string with a comma is one value, an array is its elements. */
    j = json_loads("{\"department\":\"Research,Admin\",\"roles\":[\"Admin\",\"Reader\"]}",
                   0, NULL);
    c = entra_claims_from_json(p, j);
    json_decref(j);
    CHECK(entra_claims_has(c, "roles", "Admin") && entra_claims_has(c, "roles", "Reader"),
          "claims_has: each element of an array claim");
    CHECK(!entra_claims_has(c, "roles", "Adm") && !entra_claims_has(c, "roles", "Admin,Reader"),
          "claims_has: not a part of an element, nor the joined text");
    CHECK(entra_claims_has(c, "department", "Research,Admin"),
          "claims_has: a string claim by its whole value");
    CHECK(!entra_claims_has(c, "department", "Admin") && !entra_claims_has(c, "department", "Research"),
          "claims_has: never a comma-separated part of a string claim");
    CHECK(!entra_claims_has(c, "missing", "x"), "claims_has: an absent claim has nothing");

    j = json_object();
    c = entra_claims_from_json(p, j);
    json_decref(j);
    CHECK(c && c->nelts == 0, "claims: empty object, no pairs");
}

static int count_spoofed(void *ctx, const char *key, const char *value)
{
    (void)value;
    *(int *)ctx += entra_header_has_prefix(key, "x-entra-");
    return 1;
}

static void test_strip(apr_pool_t *p)
{
    apr_table_t *h = apr_table_make(p, 16);
    int left = 0, removed;

    apr_table_add(h, "Host", "app.example");
    apr_table_add(h, "X-Entra-Claim-oid", "spoof1");
    apr_table_add(h, "X-Entrance", "keep1");
    apr_table_add(h, "x-entra-claim-oid", "spoof2");
    apr_table_add(h, "X_ENTRA_CLAIM_ROLES", "admin");
    apr_table_add(h, "x_Entra-Claim-name", "spoof3");
    apr_table_add(h, "X-Entra-Access-Token", "spoof4");
    apr_table_add(h, "X-Other", "keep2");
    apr_table_add(h, "X-Entra-Claim-oid", "spoof5");
    apr_table_add(h, "X-Entra-Claim-oid", "spoof6");
    apr_table_add(h, "Cookie", "X-Entra-Claim-oid=keep3");
    apr_table_add(h, "X-MS-CLIENT-PRINCIPAL", "spoof7");
    apr_table_add(h, "x_ms_client_principal_name", "spoof8");
    apr_table_add(h, "X-Ms-Client-Principal-Id", "spoof9");
    apr_table_add(h, "x-ms-token-aad-access-token", "spoof10");
    apr_table_add(h, "X_MS_TOKEN_AAD_ID_TOKEN", "spoof11");
    apr_table_add(h, "X-MS-TOKEN-Anything", "spoof12");
    apr_table_add(h, "X-MS-Request-Id", "keep4");

    removed = entra_claims_strip_spoofed(p, h);
    apr_table_do(count_spoofed, &left, h, NULL);
    CHECK(left == 0, "strip: no x-entra- header left in any spelling (%d left)", left);
    CHECK(removed > 0, "strip: reports that it removed some");
    CHECK(apr_table_get(h, "X-Entra-Claim-oid") == NULL && apr_table_get(h, "X_ENTRA_CLAIM_ROLES")
          == NULL && apr_table_get(h, "X-Entra-Access-Token") == NULL,
          "strip: the named spoofs are gone");
    CHECK_STR(apr_table_get(h, "X-Entrance"), "keep1", "strip: X-Entrance stays");
    CHECK_STR(apr_table_get(h, "X-Other"), "keep2", "strip: X-Other stays");
    CHECK_STR(apr_table_get(h, "Host"), "app.example", "strip: Host stays");
    CHECK_STR(apr_table_get(h, "Cookie"), "X-Entra-Claim-oid=keep3", "strip: values are not names");
    CHECK(apr_table_get(h, "X-MS-CLIENT-PRINCIPAL") == NULL
          && apr_table_get(h, "x_ms_client_principal_name") == NULL
          && apr_table_get(h, "X-Ms-Client-Principal-Id") == NULL
          && apr_table_get(h, "x-ms-token-aad-access-token") == NULL
          && apr_table_get(h, "X_MS_TOKEN_AAD_ID_TOKEN") == NULL
          && apr_table_get(h, "X-MS-TOKEN-Anything") == NULL,
          "strip: App Service's X-MS-CLIENT-PRINCIPAL* and X-MS-TOKEN-* go in every spelling");
    CHECK_STR(apr_table_get(h, "X-MS-Request-Id"), "keep4", "strip: other X-MS-* headers stay");
    CHECK(apr_table_elts(h)->nelts == 5, "strip: exactly the five innocent headers stay");

    h = apr_table_make(p, 2);
    apr_table_add(h, "Accept", "*/*");
    CHECK(entra_claims_strip_spoofed(p, h) == 0 && apr_table_elts(h)->nelts == 1,
          "strip: a clean table is left alone");
}

static void test_publish(apr_pool_t *p)
{
    apr_array_header_t *claims = apr_array_make(p, 4, sizeof(entra_pair));
    apr_table_t *h = apr_table_make(p, 8), *env = apr_table_make(p, 8);
    const apr_array_header_t *arr;
    int i, private_seen = 0, name_count = 0;

    entra_pairs_add(claims, ":c", "1700000000");
    entra_pairs_add(claims, "name", "Ada");
    entra_pairs_add(claims, "roles", "admin,reader");
    entra_pairs_add(claims, ":x", "1700003600");
    apr_table_set(h, "X-Entra-Claim-name", "stale");

    entra_claims_publish(p, claims, h, env);
    CHECK_STR(apr_table_get(h, "X-Entra-Claim-name"), "Ada", "publish: X-Entra-Claim-name");
    CHECK_STR(apr_table_get(h, "X-Entra-Claim-roles"), "admin,reader", "publish: X-Entra-Claim-roles");
    CHECK_STR(apr_table_get(env, "ENTRA_CLAIM_name"), "Ada", "publish: ENTRA_CLAIM_name");
    CHECK_STR(apr_table_get(env, "ENTRA_CLAIM_roles"), "admin,reader", "publish: ENTRA_CLAIM_roles");
    arr = apr_table_elts(h);
    for (i = 0; i < arr->nelts; i++) {
        const char *k = APR_ARRAY_IDX(arr, i, apr_table_entry_t).key;
        private_seen += strchr(k, ':') != NULL;
        name_count += strcasecmp(k, "X-Entra-Claim-name") == 0;
    }
    arr = apr_table_elts(env);
    for (i = 0; i < arr->nelts; i++)
        private_seen += strchr(APR_ARRAY_IDX(arr, i, apr_table_entry_t).key, ':') != NULL;
    CHECK(private_seen == 0, "publish: names starting with ':' are not published");
    CHECK(name_count == 1, "publish: replaces a header of the same name, not adds");
    CHECK(apr_table_elts(env)->nelts == 2, "publish: two environment variables");

    /* A second pass on the same tables (an internal redirect that signs in
     * again): one entry a claim, none left from the first pass. */
    claims = apr_array_make(p, 2, sizeof(entra_pair));
    entra_pairs_add(claims, "name", "Bob");
    apr_table_set(env, "ENTRA_CLAIM_other", "set-earlier");
    apr_table_set(h, "X-Other", "kept");
    entra_claims_publish(p, claims, h, env);
    CHECK_STR(apr_table_get(h, "X-Entra-Claim-name"), "Bob", "publish again: the new value");
    CHECK(!apr_table_get(h, "X-Entra-Claim-roles"), "publish again: a claim of the first pass only is gone");
    CHECK(!apr_table_get(env, "ENTRA_CLAIM_roles") && !apr_table_get(env, "ENTRA_CLAIM_other"),
          "publish again: environment variables of the first pass are gone");
    CHECK(apr_table_elts(h)->nelts == 2 && apr_table_elts(env)->nelts == 1,
          "publish again: one header and one variable a claim, other headers kept");
}

/* The claim names a process keeps (what session images point to): one
 * pointer a name, known for what it is, and publishing with them gives
 * what publishing with any other copy of the names gives. */
static void test_kept_names(apr_pool_t *p)
{
    const char *name = entra_claim_name_kept("preferred_username");
    const char *again = entra_claim_name_kept(apr_pstrdup(p, "preferred_username"));
    apr_array_header_t *claims = apr_array_make(p, 2, sizeof(entra_pair));
    apr_table_t *h = apr_table_make(p, 4), *env = apr_table_make(p, 4);
    char fake[64];

    CHECK(name && strcmp(name, "preferred_username") == 0, "kept: the name");
    CHECK(again == name, "kept: the same pointer for the same name");
    CHECK(entra_claim_name_kept("oid") != name, "kept: another pointer for another name");
    CHECK(entra_claim_name_is_kept(name), "kept: known as kept");
    CHECK(!entra_claim_name_is_kept(apr_pstrdup(p, name)), "kept: a copy is not");
    CHECK(!entra_claim_name_is_kept(name + 1) && !entra_claim_name_is_kept(name - 1),
          "kept: nor a pointer just inside or before it");
    memset(fake, 0, sizeof(fake));
    CHECK(!entra_claim_name_is_kept(fake + 32), "kept: nor one outside the arena");

    entra_pairs_add(claims, name, "ada@example.com");
    entra_pairs_add(claims, apr_pstrdup(p, "oid"), "1234");
    entra_claims_publish(p, claims, h, env);
    CHECK_STR(apr_table_get(h, "X-Entra-Claim-preferred_username"), "ada@example.com",
              "kept: published under its header");
    CHECK_STR(apr_table_get(env, "ENTRA_CLAIM_preferred_username"), "ada@example.com",
              "kept: and its variable");
    CHECK_STR(apr_table_get(h, "X-Entra-Claim-oid"), "1234", "kept: a name not kept yet too");
    CHECK(apr_table_elts(h)->nelts == 2 && apr_table_elts(env)->nelts == 2,
          "kept: one header and one variable a claim");
}

/* Claims packed with their kept names (a session's image, a validated
 * token): back the same, names the kept pointers; a pointer that is not a
 * kept name leaves the name as written; a bad block refused. */
static void test_pack_kept(apr_pool_t *p)
{
    apr_array_header_t *claims = apr_array_make(p, 3, sizeof(entra_pair)), *back;
    const char *bogus = apr_pstrdup(p, "roles");
    unsigned char *block, *bad;
    apr_size_t len;
    apr_uint64_t huge = (apr_uint64_t)1 << 60;
    int i, same = 1, kept = 1;

    entra_pairs_add(claims, "oid", "1234");
    entra_pairs_add(claims, "roles", "admin,reader");
    entra_pairs_add(claims, "", "");
    block = entra_claims_pack_kept(p, claims, &len);
    back = entra_claims_unpack_kept(p, block, len);
    if (!CHECK(back && back->nelts == 3, "pack kept: three claims back"))
        return;
    for (i = 0; i < 3; i++) {
        const entra_pair *a = &APR_ARRAY_IDX(claims, i, entra_pair);
        const entra_pair *b = &APR_ARRAY_IDX(back, i, entra_pair);
        same &= strcmp(a->name, b->name) == 0 && strcmp(a->value, b->value) == 0;
        kept &= b->name == entra_claim_name_kept(a->name);
    }
    CHECK(same, "pack kept: the same names and values, in order");
    CHECK(kept, "pack kept: each name the process's kept pointer");
    CHECK(entra_claims_unpack_kept(p, block, len - 1) == NULL
          && entra_claims_unpack_kept(p, block, 4) == NULL
          && entra_claims_unpack_kept(p, NULL, 0) == NULL, "pack kept: a short block refused");
    bad = apr_pmemdup(p, block, len + 1);
    memcpy(bad, &huge, sizeof(huge));
    CHECK(entra_claims_unpack_kept(p, bad, len) == NULL,
          "pack kept: a count beyond the block refused");
    bad = apr_pmemdup(p, block, len + 1);
    memcpy(bad + sizeof(apr_uint64_t) + sizeof(const char *), &bogus, sizeof(bogus));
    back = entra_claims_unpack_kept(p, bad, len);
    CHECK(back && APR_ARRAY_IDX(back, 1, entra_pair).name != bogus
          && strcmp(APR_ARRAY_IDX(back, 1, entra_pair).name, "roles") == 0,
          "pack kept: a pointer that is no kept name is not used");
    {
        /* the kept names of two claims swapped: each keeps its own name */
        const char *first, *second;
        bad = apr_pmemdup(p, block, len + 1);
        memcpy(&first, bad + sizeof(apr_uint64_t), sizeof(first));
        memcpy(&second, bad + sizeof(apr_uint64_t) + sizeof(first), sizeof(second));
        memcpy(bad + sizeof(apr_uint64_t), &second, sizeof(second));
        memcpy(bad + sizeof(apr_uint64_t) + sizeof(first), &first, sizeof(first));
        back = entra_claims_unpack_kept(p, bad, len);
        CHECK(back && strcmp(APR_ARRAY_IDX(back, 0, entra_pair).name, "oid") == 0
              && strcmp(APR_ARRAY_IDX(back, 0, entra_pair).value, "1234") == 0
              && strcmp(APR_ARRAY_IDX(back, 1, entra_pair).name, "roles") == 0
              && strcmp(APR_ARRAY_IDX(back, 1, entra_pair).value, "admin,reader") == 0,
              "pack kept: another claim's kept name is not used (the text decides)");
    }
    {
        /* the session's own fields are not kept */
        apr_array_header_t *own = apr_array_make(p, 1, sizeof(entra_pair));
        const char *none;
        entra_pairs_add(own, ":arrays", "roles");
        block = entra_claims_pack_kept(p, own, &len);
        memcpy(&none, block + sizeof(apr_uint64_t), sizeof(none));
        back = entra_claims_unpack_kept(p, block, len);
        CHECK(none == NULL && back
              && strcmp(APR_ARRAY_IDX(back, 0, entra_pair).name, ":arrays") == 0,
              "pack kept: a ':' field keeps no name, and comes back as it was");
    }
}

static void test_pick(apr_pool_t *p)
{
    apr_array_header_t *claims = apr_array_make(p, 4, sizeof(entra_pair));
    apr_array_header_t *names = apr_array_make(p, 4, sizeof(const char *));

    entra_pairs_add(claims, "email", "ada@example.com");
    entra_pairs_add(claims, "upn", "");
    entra_pairs_add(claims, "preferred_username", "ada@contoso.com");
    APR_ARRAY_PUSH(names, const char *) = "oid";
    APR_ARRAY_PUSH(names, const char *) = "upn";
    APR_ARRAY_PUSH(names, const char *) = "preferred_username";
    APR_ARRAY_PUSH(names, const char *) = "email";
    CHECK_STR(entra_claims_pick(claims, names), "ada@contoso.com",
              "pick: first present non-empty in the order of names (absent and empty skipped)");
    apr_array_clear(names);
    APR_ARRAY_PUSH(names, const char *) = "email";
    APR_ARRAY_PUSH(names, const char *) = "preferred_username";
    CHECK_STR(entra_claims_pick(claims, names), "ada@example.com", "pick: names decide the order");
    apr_array_clear(names);
    APR_ARRAY_PUSH(names, const char *) = "oid";
    APR_ARRAY_PUSH(names, const char *) = "upn";
    CHECK(entra_claims_pick(claims, names) == NULL, "pick: none present non-empty is NULL");
    apr_array_clear(names);
    CHECK(entra_claims_pick(claims, names) == NULL, "pick: no names is NULL");
}

/* Userinfo / Graph /me: the ID token's claims win, the profile only adds
 * what the token lacks, and never who the user is or what the user may do. */
static void test_profile_merge(apr_pool_t *p)
{
    static const char *const refused[] = {
        "roles", "groups", "wids", "tid", "oid", "sub", "iss", "aud", "scp", "hasgroups",
        "acrs", "amr", "sid", "_claim_names", "_claim_sources", "email",
        "preferred_username", "upn", "unique_name", "azp", "appid", "idp", NULL
    };
    json_t *claims = json_pack("{s:s, s:s, s:s, s:s}", "sub", "user-1", "oid", "oid-1",
                               "preferred_username", "adele@contoso.test", "email",
                               "adele@contoso.test");
    json_t *profile = json_pack("{s:s, s:s, s:[s], s:s, s:s}", "preferred_username",
                                "ceo@contoso.test", "email", "ceo@contoso.test", "roles",
                                "Admin", "given_name", "Adele", "jobTitle", "Manager");
    json_t *lacking = json_pack("{s:s}", "sub", "user-1");
    int i, added;

    (void)p;
    added = entra_profile_merge(claims, profile);
    CHECK(added == 2, "merge: only given_name and jobTitle added (got %d)", added);
    CHECK_STR(json_string_value(json_object_get(claims, "preferred_username")),
              "adele@contoso.test", "merge: the token's preferred_username wins");
    CHECK_STR(json_string_value(json_object_get(claims, "email")), "adele@contoso.test",
              "merge: the token's email wins");
    CHECK(!json_object_get(claims, "roles"), "merge: the profile's roles are not added");
    CHECK_STR(json_string_value(json_object_get(claims, "given_name")), "Adele",
              "merge: a profile claim the token lacks is added");

    /* A token that lacks them all: still none of them from the profile. */
    for (i = 0; refused[i]; i++) {
        json_t *one = json_pack("{s:s, s:s}", refused[i], "from-the-profile", "locale", "en");
        added = entra_profile_merge(lacking, one);
        CHECK(!json_object_get(lacking, refused[i]) || !strcmp(refused[i], "sub"),
              "merge: %s never comes from the profile", refused[i]);
        CHECK_STR(json_string_value(json_object_get(lacking, "sub")), "user-1",
                  "merge: sub stays the token's (after %s)", refused[i]);
        json_decref(one);
    }
    CHECK_STR(json_string_value(json_object_get(lacking, "locale")), "en",
              "merge: the harmless claim next to them is added");
    json_decref(claims);
    json_decref(profile);
    json_decref(lacking);
}

static void test_token_type(apr_pool_t *p)
{
    static const struct { const char *json; int bearer; } cases[] = {
        { "{\"token_type\":\"Bearer\"}", 1 },
        { "{\"token_type\":\"bearer\"}", 1 },
        { "{\"token_type\":\"BEARER\"}", 1 },
        { "{}", 0 },
        { "{\"token_type\":null}", 0 },
        { "{\"token_type\":\"\"}", 0 },
        { "{\"token_type\":\"DPoP\"}", 0 },
        { "{\"token_type\":\"pop\"}", 0 },
        { "{\"token_type\":\"Bearer \"}", 0 },
        { "{\"token_type\":\"Bearerx\"}", 0 },
        { "{\"token_type\":[\"Bearer\"]}", 0 },
        { "{\"token_type\":1}", 0 },
    };
    size_t i;

    (void)p;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *answer = json_loads(cases[i].json, 0, NULL);
        CHECK(answer && entra_token_type_bearer(answer) == cases[i].bearer,
              "token_type of %s: %s", cases[i].json, cases[i].bearer ? "Bearer" : "refused");
        json_decref(answer);
    }
}

/* X-MS-CLIENT-PRINCIPAL: App Service's claim types, one entry per element,
 * every value a string, the session's fields left out; base64 with padding. */
static void test_easyauth_principal(apr_pool_t *p)
{
    static const char *const doc =
        "{\"oid\":\"o-1\",\"tid\":\"t-1\",\"name\":\"Ada L\",\"preferred_username\":\"ada@x.test\","
        "\"email\":\"ada@mail.test\",\"roles\":[\"Admin\",\"Reader\"],\"groups\":[\"g1\",\"g2\",\"g3\"],"
        "\"scp\":\"User.Read\",\"iat\":1700000000,\"upn\":\"ada@x.test\",\"sub\":\"s-1\","
        "\"hasgroups\":true,\"one\":[\"only\"]}";
    static const char *const want =
        "{\"auth_typ\":\"aad\",\"claims\":["
        "{\"typ\":\"http://schemas.microsoft.com/identity/claims/objectidentifier\",\"val\":\"o-1\"},"
        "{\"typ\":\"http://schemas.microsoft.com/identity/claims/tenantid\",\"val\":\"t-1\"},"
        "{\"typ\":\"name\",\"val\":\"Ada L\"},"
        "{\"typ\":\"preferred_username\",\"val\":\"ada@x.test\"},"
        "{\"typ\":\"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress\",\"val\":\"ada@mail.test\"},"
        "{\"typ\":\"roles\",\"val\":\"Admin\"},{\"typ\":\"roles\",\"val\":\"Reader\"},"
        "{\"typ\":\"groups\",\"val\":\"g1\"},{\"typ\":\"groups\",\"val\":\"g2\"},"
        "{\"typ\":\"groups\",\"val\":\"g3\"},"
        "{\"typ\":\"http://schemas.microsoft.com/identity/claims/scope\",\"val\":\"User.Read\"},"
        "{\"typ\":\"iat\",\"val\":\"1700000000\"},"
        "{\"typ\":\"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn\",\"val\":\"ada@x.test\"},"
        "{\"typ\":\"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier\",\"val\":\"s-1\"},"
        "{\"typ\":\"hasgroups\",\"val\":\"true\"},{\"typ\":\"one\",\"val\":\"only\"}],"
        "\"name_typ\":\"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress\","
        "\"role_typ\":\"http://schemas.microsoft.com/ws/2008/06/identity/claims/role\"}";
    json_t *j = json_loads(doc, 0, NULL);
    apr_array_header_t *c;
    const char *json, *b64;
    char *plain;
    int len;

    if (!CHECK(j != NULL, "principal: claims fixture parses"))
        return;
    c = entra_claims_from_json(p, j);
    json_decref(j);
    entra_pairs_add(c, ":at", "secret-access-token");
    entra_pairs_add(c, ":idt", "secret-id-token");
    entra_pairs_add(c, "groups-partial", "digest");
    json = entra_easyauth_principal_json(p, c);
    CHECK_STR(json, want, "principal: App Service's JSON");
    CHECK(json && !strstr(json, "secret") && !strstr(json, "digest"),
          "principal: no session field or module marker");
    b64 = entra_easyauth_principal(p, c);
    CHECK(b64 && strlen(b64) % 4 == 0 && !strchr(b64, '-') && !strchr(b64, '_'),
          "principal: standard base64 with padding");
    plain = apr_palloc(p, apr_base64_decode_len(b64 ? b64 : ""));
    len = apr_base64_decode(plain, b64 ? b64 : "");
    plain[len] = '\0';
    CHECK_STR(plain, want, "principal: base64 decodes to the JSON");

    CHECK_STR(entra_easyauth_claim_type("oid"),
              "http://schemas.microsoft.com/identity/claims/objectidentifier", "type: oid");
    CHECK_STR(entra_easyauth_claim_type("roles"), "roles", "type: roles keeps its name");
    CHECK_STR(entra_easyauth_claim_type("weird"), "weird", "type: unknown keeps its name");
    CHECK_STR(entra_easyauth_time(p, 1700000000), "2023-11-14T22:13:20.0000000Z",
              "expires-on: App Service's format");
    c = apr_array_make(p, 1, sizeof(entra_pair));
    CHECK_STR(entra_easyauth_principal_json(p, c),
              "{\"auth_typ\":\"aad\",\"claims\":[],\"name_typ\":"
              "\"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress\",\"role_typ\":"
              "\"http://schemas.microsoft.com/ws/2008/06/identity/claims/role\"}",
              "principal: no claims, an empty list");
}

void suite_claims(apr_pool_t *p)
{
    test_easyauth_principal(p);
    test_profile_merge(p);
    test_token_type(p);
    test_from_json(p);
    test_strip(p);
    test_publish(p);
    test_kept_names(p);
    test_pack_kept(p);
    test_pick(p);
}
