/* parts: a sealed record too big for one socache value, in pieces. */
#include "unit.h"
#include "../../src/parts.h"
#include "../../src/session.h"

#include <apr_strings.h>

#define NOW 1700000000
#define SECRET "0123456789abcdef0123456789abcdef-parts"
#define GEN "Ab3-_x9Z"

/* n pieces of `sealed` as store.c writes them: the head's piece 0, then 1..n-1 */
static char *round_trip(apr_pool_t *p, const char *sealed, int n)
{
    const char *pieces[ENTRA_PARTS_MAX] = { NULL }, *gen, *first;
    char *head = entra_parts_head(p, sealed, n, GEN);
    int got_n, i;

    if (entra_parts_parse(p, head, &got_n, &gen, &first) != 1 || got_n != n
        || strcmp(gen, GEN) != 0)
        return NULL;
    for (i = 1; i < n; i++)
        pieces[i] = entra_parts_piece(p, sealed, i);
    return entra_parts_join(p, first, pieces, n);
}

static void counts(void)
{
    CHECK(entra_parts_count(0) == 1 && entra_parts_count(100) == 1, "a small record: whole");
    CHECK(entra_parts_count(ENTRA_PARTS_SIZE) == 1, "exactly one part's worth: whole");
    CHECK(entra_parts_count(ENTRA_PARTS_SIZE + 1) == 2, "one byte more: two pieces");
    CHECK(entra_parts_count((apr_size_t)ENTRA_PARTS_SIZE * ENTRA_PARTS_MAX) == ENTRA_PARTS_MAX,
          "the most it keeps: %d pieces", ENTRA_PARTS_MAX);
    CHECK(entra_parts_count((apr_size_t)ENTRA_PARTS_SIZE * ENTRA_PARTS_MAX + 1) == 0,
          "beyond that: too big (0)");
}

static void heads(apr_pool_t *p)
{
    const char *gen = NULL, *first = NULL;
    int n = 0;

    CHECK(entra_parts_parse(p, "AbC-_dEf", &n, &gen, &first) == 0,
          "sealed text (base64url) is a record kept whole");
    CHECK(entra_parts_parse(p, "parts:3:" GEN ":xyz", &n, &gen, &first) == 1 && n == 3,
          "a head: three pieces");
    CHECK_STR(gen, GEN, "... its generation");
    CHECK_STR(first, "xyz", "... and piece 0");
    CHECK(entra_parts_parse(p, "parts:1:" GEN ":xyz", &n, &gen, &first) == -1,
          "a head of one piece is malformed");
    CHECK(entra_parts_parse(p, "parts:17:" GEN ":xyz", &n, &gen, &first) == -1,
          "a head of more than %d pieces is malformed", ENTRA_PARTS_MAX);
    CHECK(entra_parts_parse(p, "parts:x:" GEN ":xyz", &n, &gen, &first) == -1,
          "a head without a count is malformed");
    CHECK(entra_parts_parse(p, "parts:3:short:xyz", &n, &gen, &first) == -1,
          "a head with a short generation is malformed");
    CHECK(entra_parts_parse(p, "parts:3:Ab3-_x9Z!xyz", &n, &gen, &first) == -1,
          "a head without ':' after the generation is malformed");
    CHECK(entra_parts_parse(p, "parts:3:Ab3 _x9Z:xyz", &n, &gen, &first) == -1,
          "a generation of other characters is malformed");
}

static void keys(apr_pool_t *p)
{
    const char *key = "q8Zk.app.s";
    int seen[8] = { 0 }, i, distinct = 1;
    char *k1 = entra_parts_key(p, key, GEN, 1);

    CHECK(strstr(k1, GEN "1." "q8Zk.app.s") == k1 + 1, "a piece's key: <byte><gen><i>.<session key> (%s)",
          k1);
    CHECK(strcmp(k1, entra_parts_key(p, key, GEN, 2)) != 0, "pieces have keys of their own");
    CHECK(strcmp(k1, entra_parts_key(p, key, "Zz3-_x9Z", 1)) != 0, "... per generation");
    /* shmcb's default size has 8 sub-caches, chosen by the first byte */
    seen[(unsigned char)key[0] & 7] = 1;
    for (i = 1; i < 8; i++) {
        unsigned char b = (unsigned char)entra_parts_key(p, key, GEN, i)[0];
        distinct &= !seen[b & 7];
        seen[b & 7] = 1;
        CHECK(b >= '0' && b <= 'o', "piece %d's key starts with a printable byte (%c)", i, b);
    }
    CHECK(distinct, "the session key and pieces 1..7 fall into 8 different sub-caches");
    {
        int seen16[16] = { 0 }, ok = 1;
        seen16[(unsigned char)key[0] & 15] = 1;
        for (i = 1; i < 16; i++) {
            unsigned char b = (unsigned char)entra_parts_key(p, key, GEN, i)[0];
            ok &= !seen16[b & 15];
            seen16[b & 15] = 1;
        }
        CHECK(ok, "... and 16 pieces into 16 of 16");
    }
}

static void joins(apr_pool_t *p)
{
    apr_size_t len = (apr_size_t)ENTRA_PARTS_SIZE * 3 + 123, i;
    char *sealed = apr_palloc(p, len + 1), *copy;
    const char *pieces[ENTRA_PARTS_MAX] = { NULL };

    for (i = 0; i < len; i++)
        sealed[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[(i * 7 + i / 64) % 64];
    sealed[len] = '\0';
    CHECK(entra_parts_count(len) == 4, "3 parts and a bit: 4 pieces");
    CHECK(strlen(entra_parts_piece(p, sealed, 3)) == 123, "the last piece is the rest");
    CHECK(strlen(entra_parts_head(p, sealed, 4, GEN)) < 64 * 1024,
          "a head fits what a lookup gives back (64 KB)");
    CHECK_STR(round_trip(p, sealed, 4), sealed, "4 pieces join to the record");
    copy = apr_pstrmemdup(p, sealed, ENTRA_PARTS_SIZE + 1);
    CHECK_STR(round_trip(p, copy, 2), copy, "2 pieces, the second of one byte");

    pieces[1] = entra_parts_piece(p, sealed, 1);
    pieces[2] = NULL;
    pieces[3] = entra_parts_piece(p, sealed, 3);
    CHECK(entra_parts_join(p, entra_parts_piece(p, sealed, 0), pieces, 4) == NULL,
          "a piece missing: nothing");
    pieces[2] = "";
    CHECK(entra_parts_join(p, entra_parts_piece(p, sealed, 0), pieces, 4) == NULL,
          "an empty piece: nothing");
    pieces[2] = apr_pstrcat(p, entra_parts_piece(p, sealed, 2), "x", NULL);
    CHECK(entra_parts_join(p, entra_parts_piece(p, sealed, 0), pieces, 4) == NULL,
          "a piece longer than a part: nothing");
    CHECK(entra_parts_join(p, "abc", pieces, 1) == NULL, "one piece is no record in parts");
}

/* The seal covers the whole: a piece of another record of the same key
 * (the same session saved again) or a piece altered makes no session. */
static void sealed_whole(apr_pool_t *p)
{
    entra_keyring *ring = entra_keyring_make(p);
    entra_session s = { 0 };
    const char *pieces[ENTRA_PARTS_MAX] = { NULL };
    char *one, *two, *groups = apr_palloc(p, 5000 * 37), *joined;
    apr_size_t at = 0;
    int i, n;

    if (!CHECK(!entra_keyring_add(ring, SECRET, strlen(SECRET)), "a key ring"))
        return;
    s.created = NOW;
    s.expires = NOW + 3600;
    s.claims = apr_array_make(p, 4, sizeof(entra_pair));
    /* 5,000 group ids that do not deflate away */
    for (i = 0; i < 5000; i++)
        at += (apr_size_t)apr_snprintf(groups + at, 5000 * 37 - at, "%s%08x-%04x-4%03x-8%03x-%012x",
                                       i ? "," : "", (unsigned)(i * 2654435761u),
                                       (unsigned)(i * 40503u) & 0xffff, (unsigned)(i * 97u) & 0xfff,
                                       (unsigned)(i * 13u) & 0xfff, (unsigned)(i * 2246822519u));
    entra_pairs_add(s.claims, "sub", "abc");
    entra_pairs_add(s.claims, "groups", groups);
    one = entra_session_seal(p, ring, &s);
    two = entra_session_seal(p, ring, &s);
    if (!CHECK(one && two, "a session of 5,000 groups seals"))
        return;
    n = entra_parts_count(strlen(one));
    CHECK(n >= 2 && n <= 6, "... into %d pieces (%u bytes)", n, (unsigned)strlen(one));
    joined = round_trip(p, one, n);
    CHECK(joined && entra_session_open(p, ring, joined, NOW + 1, 0) != NULL,
          "all its pieces: the session opens");
    for (i = 1; i < n; i++)
        pieces[i] = entra_parts_piece(p, one, i);
    pieces[n - 1] = entra_parts_piece(p, two, n - 1);
    joined = entra_parts_join(p, entra_parts_piece(p, one, 0), pieces, n);
    CHECK(!joined || !entra_session_open(p, ring, joined, NOW + 1, 0),
          "the last piece of another seal: no session");
}

void suite_parts(apr_pool_t *p)
{
    counts();
    heads(p);
    keys(p);
    joins(p);
    sealed_whole(p);
}
