/* The session cookie: the sealed text a browser sends back on every
 * request (entra_open + entra_session_open). The first byte picks:
 *   0  the cookie text itself (seeds: real sealed sessions);
 *   1  what is inside the seal: sealed with the server's key, then opened,
 *      to reach the pairs parser, the times and the claims;
 *   2  the AEAD's promises on any plaintext: a cookie sealed with the key
 *      rotated away from still opens to the same bytes; any flipped bit or
 *      cut-off end, another server's key or another purpose never opens;
 *   3  entra_open of the text for each of the module's purposes.
 * Invariant: an opened session has not expired and its claims can be
 * published and sealed again. */
#include "fuzz_common.h"
#include "../src/claims.h"
#include "../src/session.h"
#include "../src/util.h"

#include <apr_strings.h>
#include <string.h>

#define INACTIVITY 3600

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init();
    return 0;
}

static void use_session(apr_pool_t *p, entra_session *s, apr_int64_t inactivity)
{
    FUZZ_SAY("fuzz_session: opened, %d claims", s->claims->nelts);
    apr_table_t *headers = apr_table_make(p, 4), *env = apr_table_make(p, 4);
    entra_session *again;
    char *sealed;
    int i;

    FUZZ_CHECK(s->expires > FUZZ_NOW, "an expired session opened");
    FUZZ_CHECK(s->created >= 0 && s->last_seen >= 0, "negative times");
    if (inactivity)
        FUZZ_CHECK(FUZZ_NOW - s->last_seen <= inactivity, "an idle session opened");
    entra_claims_publish(p, s->claims, headers, env);
    entra_pairs_get(s->claims, "preferred_username");
    /* the claims array grows (EntraClaimMap, access token) */
    entra_pairs_add(s->claims, "added", "value");
    FUZZ_CHECK(entra_pairs_get(s->claims, "added") != NULL, "an added claim is missing");
    /* sealed again (sliding inactivity), it opens to the same claims */
    s->last_seen = FUZZ_NOW;
    sealed = entra_session_seal(p, fuzz_ring(), s);
    FUZZ_CHECK(sealed != NULL, "an opened session does not seal again");
    again = entra_session_open(p, fuzz_ring(), sealed, FUZZ_NOW, inactivity);
    FUZZ_CHECK(again && again->claims->nelts == s->claims->nelts,
               "a sealed-again session does not open the same");
    for (i = 0; i < s->claims->nelts; i++) {
        const entra_pair *a = &APR_ARRAY_IDX(s->claims, i, entra_pair);
        const entra_pair *b = &APR_ARRAY_IDX(again->claims, i, entra_pair);
        FUZZ_CHECK(strcmp(a->name, b->name) == 0 && strcmp(a->value, b->value) == 0,
                   "claim %d changed", i);
    }
}

static void aead_properties(apr_pool_t *p, const uint8_t *data, size_t size)
{
    static const char purpose[] = "entra-session-v1";
    unsigned where = size >= 2 ? (unsigned)(data[0] << 8 | data[1]) : 0;
    char *sealed = entra_seal(p, fuzz_ring_old(), purpose, data, size), *bad;
    unsigned char *plain;
    apr_size_t len = 0, n;

    FUZZ_CHECK(sealed != NULL, "seal failed");
    plain = entra_open(p, fuzz_ring(), purpose, sealed, &len);
    FUZZ_CHECK(plain && len == size && memcmp(plain, data, size) == 0 && plain[len] == '\0',
               "a cookie sealed with the previous key does not open to its bytes");
    FUZZ_CHECK(!entra_open(p, fuzz_ring_other(), purpose, sealed, &len),
               "another server's key opened a cookie");
    FUZZ_CHECK(!entra_open(p, fuzz_ring_old(), "entra-state-v1", sealed, &len),
               "a session seal opened for another purpose");
    n = strlen(sealed);
    /* one character changed anywhere: the decoder refuses it or the tag does
     * (the last character's spare bits are refused by the decoder) */
    bad = apr_pstrdup(p, sealed);
    bad[where % n] = bad[where % n] == 'A' ? 'B' : 'A';
    FUZZ_CHECK(!entra_open(p, fuzz_ring(), purpose, bad, &len), "a changed cookie opened");
    /* cut short */
    bad = apr_pstrmemdup(p, sealed, where % n);
    FUZZ_CHECK(!entra_open(p, fuzz_ring(), purpose, bad, &len), "a truncated cookie opened");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    unsigned b = fuzz_take_byte(&data, &size);
    apr_int64_t inactivity = b & 0x80 ? 0 : INACTIVITY;
    entra_session *s;
    apr_size_t len;

    switch (b % 4) {
    case 0: {
        char *cookie = fuzz_cstr(p, data, size);
        if ((s = entra_session_open(p, fuzz_ring(), cookie, FUZZ_NOW, inactivity))) {
            /* no cookie opens under two servers' keys */
            FUZZ_CHECK(!entra_session_open(p, fuzz_ring_other(), cookie, FUZZ_NOW, 0),
                       "another server's key opened this server's session");
            use_session(p, s, inactivity);
        }
        break;
    }
    case 1: {
        char *sealed = entra_seal(p, fuzz_ring(), "entra-session-v1", data, size);
        FUZZ_CHECK(sealed != NULL, "seal failed");
        if ((s = entra_session_open(p, fuzz_ring(), sealed, FUZZ_NOW, inactivity)))
            use_session(p, s, inactivity);
        break;
    }
    case 2:
        aead_properties(p, data, size);
        break;
    default: {
        char *text = fuzz_cstr(p, data, size);
        entra_open(p, fuzz_ring(), "entra-session-v1", text, &len);
        entra_open(p, fuzz_ring(), "entra-state-v1", text, &len);
        entra_open(p, fuzz_ring(), "entra-session-id-v1", text, &len);
        break;
    }
    }
    fuzz_end(p);
    return 0;
}
