/* session: the sealed session cookie. */
#include "unit.h"
#include "../../src/claims.h"
#include "../../src/session.h"
#include "../../src/state.h"

#include <apr_strings.h>

#define NOW 1700000000
#define SECRET "0123456789abcdef0123456789abcdef-session"

static entra_keyring *ring_of(apr_pool_t *p, const char *secret)
{
    entra_keyring *ring = entra_keyring_make(p);
    return entra_keyring_add(ring, secret, strlen(secret)) ? NULL : ring;
}

static entra_session *make(apr_pool_t *p)
{
    entra_session *s = apr_pcalloc(p, sizeof(*s));

    s->created = NOW;
    s->expires = NOW + 3600;
    s->claims = apr_array_make(p, 4, sizeof(entra_pair));
    entra_pairs_add(s->claims, "sub", "abc123");
    entra_pairs_add(s->claims, "name", "Ada Lovelace");
    entra_pairs_add(s->claims, "roles", "admin,reader");
    entra_pairs_add(s->claims, "empty", "");
    entra_pairs_add(s->claims, "email", "ada@example.com");
    return s;
}

void suite_session(apr_pool_t *p)
{
    entra_keyring *ring = ring_of(p, SECRET);
    entra_session *s = make(p), *got;
    const char *cookie;
    int i, same = 1;

    if (!CHECK(ring != NULL, "a key ring"))
        return;
    cookie = entra_session_seal(p, ring, s);
    if (!CHECK(cookie != NULL, "session seals"))
        return;
    got = entra_session_open(p, ring, cookie, NOW + 10, 0);
    if (CHECK(got != NULL, "session round trip opens")) {
        CHECK(got->created == NOW && got->expires == NOW + 3600, "created and expires kept");
        CHECK(got->claims->nelts == 5, "all five claims back, nothing added (got %d)",
              got->claims->nelts);
        for (i = 0; i < 5 && i < got->claims->nelts; i++)
            same &= !strcmp(APR_ARRAY_IDX(got->claims, i, entra_pair).name,
                            APR_ARRAY_IDX(s->claims, i, entra_pair).name)
                    && !strcmp(APR_ARRAY_IDX(got->claims, i, entra_pair).value,
                               APR_ARRAY_IDX(s->claims, i, entra_pair).value);
        CHECK(same, "claims come back with their values, in order");
        CHECK_STR(entra_pairs_get(got->claims, "roles"), "admin,reader", "pairs_get on the claims");
        entra_pairs_add(got->claims, "added", "later");
        CHECK_STR(entra_pairs_get(got->claims, "added"), "later",
                  "the opened claims array can grow");
        CHECK_STR(entra_pairs_get(got->claims, "sub"), "abc123", "and keeps its claims then");
    }

    s->claims = apr_array_make(p, 1, sizeof(entra_pair));
    got = entra_session_open(p, ring, entra_session_seal(p, ring, s), NOW, 0);
    CHECK(got && got->claims->nelts == 0, "a session without claims round trips");

    CHECK(entra_session_open(p, ring, cookie, NOW + 3599, 0) != NULL, "open one second before expiry");
    CHECK(entra_session_open(p, ring, cookie, NOW + 3600, 0) == NULL, "expired at its expiry: NULL");
    CHECK(entra_session_open(p, ring, cookie, NOW + 99999, 0) == NULL, "long expired: NULL");
    CHECK(entra_session_open(p, ring_of(p, SECRET "-other"), cookie, NOW, 0) == NULL,
          "cookie from another key: NULL");
    CHECK(entra_session_open(p, ring, "garbage", NOW, 0) == NULL, "garbage: NULL");
    CHECK(entra_session_open(p, ring, "", NOW, 0) == NULL, "empty cookie: NULL");
    CHECK(entra_session_open(p, ring, NULL, NOW, 0) == NULL, "no cookie: NULL");
    CHECK(entra_session_open(p, ring, apr_pstrndup(p, cookie, strlen(cookie) - 4), NOW, 0) == NULL,
          "truncated cookie: NULL");
    /* Big sessions are deflated before sealing, and come back the same. */
    {
        entra_session *big = make(p);
        const char *groups = "", *sealed_big, *raw;
        entra_session *back;
        int i;
        for (i = 0; i < 150; i++)
            groups = apr_psprintf(p, "%s%s%08x-5c4f-4e0d-9a1b-%012x", groups, i ? "," : "",
                                  (unsigned)(i * 2654435761u), (unsigned)(i * 40503u));
        entra_pairs_add(big->claims, "groups", groups);
        sealed_big = entra_session_seal(p, ring, big);
        CHECK(sealed_big && strlen(sealed_big) < strlen(groups),
              "a session of 150 groups is sealed smaller than its groups (deflated)");
        back = entra_session_open(p, ring, sealed_big, NOW, 0);
        CHECK_STR(back ? entra_pairs_get(back->claims, "groups") : NULL, groups,
                  "... and opens to the same groups");
        raw = entra_seal(p, ring, "entra-session-v1", (const unsigned char *)"Z\xff\xff\xff\xffxx", 10);
        CHECK(entra_session_open(p, ring, raw, NOW, 0) == NULL,
              "a compressed session claiming 4 GB is refused");
        raw = entra_seal(p, ring, "entra-session-v1", (const unsigned char *)"Z\0\0\1\0garbage", 12);
        CHECK(entra_session_open(p, ring, raw, NOW, 0) == NULL,
              "a compressed session that does not inflate is refused");
    }

    /* EntraSessionInactivityTimeout: last_seen slides, the hard end does not. */
    CHECK(entra_session_open(p, ring, cookie, NOW + 600, 600) != NULL,
          "used within the inactivity limit: open");
    CHECK(entra_session_open(p, ring, cookie, NOW + 601, 600) == NULL,
          "unused beyond the inactivity limit: NULL");
    s = make(p);
    s->last_seen = NOW + 3000;
    cookie = entra_session_seal(p, ring, s);
    got = entra_session_open(p, ring, cookie, NOW + 3500, 600);
    CHECK(got && got->last_seen == NOW + 3000, "a touched session slides: open, last_seen kept");
    CHECK(entra_session_open(p, ring, cookie, NOW + 3600, 600) == NULL,
          "sliding never passes the hard expiry");
    {
        /* a socache store keeps sessions far over one cookie (11,000 groups
         * from Graph is ~410 KB): what seals, opens; what could not open,
         * is never sealed */
        apr_size_t n = 600 * 1024, i;
        char *text = apr_palloc(p, n + 1);
        for (i = 0; i < n; i++)
            text[i] = "0123456789abcdef,-"[(i * 2654435761u >> 7) % 18];
        text[n] = '\0';
        s = make(p);
        entra_pairs_add(s->claims, "groups", text);
        cookie = entra_session_seal(p, ring, s);
        got = cookie ? entra_session_open(p, ring, cookie, NOW, 0) : NULL;
        CHECK_STR(got ? entra_pairs_get(got->claims, "groups") : NULL, text,
                  "a session of 600 KB seals and opens");
        s = make(p);
        text = apr_palloc(p, 1024 * 1024 + 1);
        memset(text, 'g', 1024 * 1024);
        text[1024 * 1024] = '\0';
        entra_pairs_add(s->claims, "groups", text);
        CHECK(entra_session_seal(p, ring, s) == NULL,
              "a session of more than 1 MB is not sealed (it would never open)");
    }
    {
        entra_state *st = entra_state_new(p, "/", "https://app.example/cb", NOW);
        const char *state_cookie = st ? entra_state_seal(p, ring, st) : NULL;
        CHECK(state_cookie && entra_session_open(p, ring, state_cookie, NOW, 0) == NULL,
              "a state cookie does not open as a session (purpose binding)");
    }
}

/* The same checks with this process's copies of opened cookies (made at
 * child_init in Apache), and what the copies must never do: open a cookie
 * for another app's ring, or a changed cookie, because its plain text was
 * kept. */
/* A session's image (what a process and a connection keep of it): the
 * same times and claims back, the claim names the process's kept ones, a
 * bad image refused. */
static void test_image(apr_pool_t *p)
{
    entra_session *s = make(p), *back;
    apr_size_t len;
    unsigned char *image;
    int i, same = 1, kept = 1;

    entra_pairs_add(s->claims, ":arrays", "roles");
    image = entra_session_image(p, s, &len);
    back = entra_session_from_image(p, image, len, NOW, 0);
    if (!CHECK(back != NULL, "image: a session back"))
        return;
    CHECK(back->created == s->created && back->expires == s->expires
          && back->last_seen == s->last_seen, "image: the same times");
    same = back->claims->nelts == s->claims->nelts;
    for (i = 0; same && i < s->claims->nelts; i++) {
        const entra_pair *a = &APR_ARRAY_IDX(s->claims, i, entra_pair);
        const entra_pair *b = &APR_ARRAY_IDX(back->claims, i, entra_pair);
        same = strcmp(a->name, b->name) == 0 && strcmp(a->value, b->value) == 0;
        if (a->name[0] != ':')
            kept &= b->name == entra_claim_name_kept(a->name) && entra_claim_name_is_kept(b->name);
        else
            kept &= !entra_claim_name_is_kept(b->name);
    }
    CHECK(same, "image: the same claims, in order");
    CHECK(kept, "image: every claim's name is the process's kept pointer for it (its own "
          "fields' are not kept)");
    CHECK(entra_session_from_image(p, image, len, NOW + 3600, 0) == NULL,
          "image: expiry checked");
    CHECK(entra_session_from_image(p, image, len, NOW, 0) != NULL
          && entra_session_from_image(p, image, len - 1, NOW, 0) == NULL
          && entra_session_from_image(p, image, 10, NOW, 0) == NULL
          && entra_session_from_image(p, NULL, 0, NOW, 0) == NULL,
          "image: a short or missing one refused");
    {
        /* more names than the rest could hold */
        unsigned char *bad = apr_pmemdup(p, image, len);
        apr_uint64_t huge = (apr_uint64_t)1 << 60;
        memcpy(bad + 3 * sizeof(apr_int64_t), &huge, sizeof(huge));
        CHECK(entra_session_from_image(p, bad, len, NOW, 0) == NULL,
              "image: a count of names beyond its length refused");
    }
}

void suite_session_opened(apr_pool_t *p)
{
    entra_keyring *ring = ring_of(p, SECRET), *one, *two;
    entra_session *s = make(p);
    const char *sealed;
    char *changed;
    int i;

    entra_session_child_init(p);
    suite_session(p);
    test_image(p);
    if (!CHECK(ring != NULL, "a key ring"))
        return;
    one = entra_keyring_bind(p, ring, "app one");
    two = entra_keyring_bind(p, ring, "app two");
    sealed = entra_session_seal(p, one, s);
    for (i = 0; i < 2; i++) {
        CHECK(entra_session_open(p, one, sealed, NOW, 0) != NULL, "opens for its app (%s)",
              i ? "kept" : "first");
        CHECK(entra_session_open(p, two, sealed, NOW, 0) == NULL,
              "never for another app sharing the key (%s)", i ? "kept" : "first");
        CHECK(entra_session_open(p, one, sealed, NOW + 3600, 0) == NULL,
              "expiry checked on a kept copy too (%s)", i ? "kept" : "first");
    }
    changed = apr_pstrdup(p, sealed);
    changed[strlen(changed) / 2] = changed[strlen(changed) / 2] == 'A' ? 'B' : 'A';
    CHECK(entra_session_open(p, one, changed, NOW, 0) == NULL,
          "a cookie changed in the middle (same first and last bytes) does not open");
    {
        /* a socache store's session id, opened with the same copies: for
         * its app and purpose only */
        const char *id = entra_seal(p, one, "entra-session-id-v1", (const unsigned char *)"abc", 3);
        unsigned char *got;
        apr_size_t len = 0;
        for (i = 0; i < 2; i++) {
            got = entra_open_kept(p, one, "entra-session-id-v1", id, &len);
            CHECK(got && len == 3 && strcmp((char *)got, "abc") == 0,
                  "an id opens, NUL-terminated (%s)", i ? "kept" : "first");
            CHECK(!entra_open_kept(p, two, "entra-session-id-v1", id, &len),
                  "an id never opens for another app (%s)", i ? "kept" : "first");
            CHECK(!entra_open_kept(p, one, "entra-session-v1", id, &len)
                  && !entra_session_open(p, one, id, NOW, 0),
                  "an id never opens for another purpose, nor as a session (%s)",
                  i ? "kept" : "first");
        }
        CHECK(!entra_open_kept(p, one, "entra-session-id-v1", sealed, &len),
              "a session cookie, kept, never opens as an id");
        got = entra_open_kept(p, one, "entra-session-v1", sealed, &len);
        CHECK(got && len > 3 && memcmp(got, ":c", 3) == 0,
              "entra_open_kept gives a session cookie's plain text, never the parsed copy "
              "entra_session_open keeps of it");
    }
    {
        /* a ring freed and another app's made in the same memory (the
         * allocator hands the same block back): the copies know keys, not
         * addresses */
        apr_pool_t *p1, *p2;
        entra_keyring *a, *b;
        const char *sealed_a;
        apr_pool_create(&p1, p);
        a = entra_keyring_bind(p1, ring, "app A");
        sealed_a = apr_pstrdup(p, entra_session_seal(p1, a, s));
        CHECK(entra_session_open(p, a, sealed_a, NOW, 0) != NULL, "app A's cookie opens for A");
        apr_pool_destroy(p1);
        apr_pool_create(&p2, p);
        b = entra_keyring_bind(p2, ring, "app B");
        CHECK(entra_session_open(p, b, sealed_a, NOW, 0) == NULL,
              "and not for app B's ring made where A's was (%s address)",
              (void *)a == (void *)b ? "same" : "another");
        apr_pool_destroy(p2);
    }
    {
        /* rings [k1, k2] and [k1]: a cookie of k2 opens only where k2 is */
        entra_keyring *both = ring_of(p, SECRET "-one"), *first = ring_of(p, SECRET "-one");
        entra_keyring *second = ring_of(p, SECRET "-two");
        const char *by_second = entra_session_seal(p, second, s);
        entra_keyring_add(both, SECRET "-two", strlen(SECRET "-two"));
        CHECK(entra_session_open(p, both, by_second, NOW, 0) != NULL, "a ring of two keys opens the second's cookie");
        CHECK(entra_session_open(p, first, by_second, NOW, 0) == NULL,
              "a ring of the first key alone does not, after the two-key ring kept a copy");
        /* the second key's name put before the cookie: the first ring's
         * key for it must not be the two-key ring's for the cookie */
        CHECK(entra_session_open(p, first, apr_pstrcat(p, APR_ARRAY_IDX(both, 1, entra_key).id,
                                                       ".", by_second, NULL), NOW, 0) == NULL,
              "nor a cookie that starts with the second key's name");
    }
}
