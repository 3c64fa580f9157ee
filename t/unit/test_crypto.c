/* crypto: key ring, AEAD seal/open of cookies, rotation, PKCE hash. */
#include "unit.h"
#include "../../src/crypto.h"
#include "../../src/ct.h"
#include "../../src/util.h"

#include <apr_strings.h>

#define SECRET_OLD "0123456789abcdef0123456789abcdef-old"
#define SECRET_NEW "fedcba9876543210fedcba9876543210-new"

static entra_keyring *ring_of(apr_pool_t *p, const char *s1, const char *s2)
{
    entra_keyring *ring = entra_keyring_make(p);
    if (s1 && entra_keyring_add(ring, s1, strlen(s1)))
        return NULL;
    if (s2 && entra_keyring_add(ring, s2, strlen(s2)))
        return NULL;
    return ring;
}

static const char *open_text(apr_pool_t *p, const entra_keyring *ring, const char *purpose,
                             const char *sealed)
{
    apr_size_t len;
    return (const char *)entra_open(p, ring, purpose, sealed, &len);
}

static void test_keyring(apr_pool_t *p)
{
    entra_keyring *ring = entra_keyring_make(p);
    const char *err;

    err = entra_keyring_add(ring, "0123456789abcdef0123456789abcde", 31);
    CHECK(err != NULL && ring->nelts == 0, "key ring rejects a 31-byte secret");
    CHECK(entra_keyring_add(ring, "", 0) != NULL, "key ring rejects an empty secret");
    CHECK(entra_keyring_add(ring, "0123456789abcdef0123456789abcdef", 32) == NULL
          && ring->nelts == 1, "key ring takes a 32-byte secret");
    CHECK(entra_seal(p, entra_keyring_make(p), "t", (const unsigned char *)"x", 1) == NULL,
          "an empty key ring seals nothing");
}

static void test_round_trip(apr_pool_t *p, entra_keyring *ring)
{
    static const unsigned char binary[] = { 0, 1, 2, 0, 255, 'x', 0 };
    const char *sealed = entra_seal(p, ring, "test", (const unsigned char *)"hello", 5);
    unsigned char *plain;
    apr_size_t len = 0;

    CHECK(sealed && strspn(sealed, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789-_") == strlen(sealed),
          "sealed text is cookie-safe base64url");
    {
        apr_size_t raw_len = 0;
        unsigned char *raw = sealed ? entra_b64url_decode(p, sealed, strlen(sealed), &raw_len)
                                    : NULL;
        CHECK(raw && raw_len > 5 && !memmem(raw, raw_len, "hello", 5),
              "sealed bytes do not contain the plaintext");
    }
    plain = entra_open(p, ring, "test", sealed, &len);
    CHECK(plain && len == 5 && memcmp(plain, "hello", 6) == 0,
          "seal/open round trip (NUL-terminated result)");

    sealed = entra_seal(p, ring, "test", binary, sizeof(binary));
    plain = entra_open(p, ring, "test", sealed, &len);
    CHECK(plain && len == sizeof(binary) && memcmp(plain, binary, len) == 0,
          "seal/open round trip of binary data with NULs");

    sealed = entra_seal(p, ring, "test", (const unsigned char *)"", 0);
    plain = entra_open(p, ring, "test", sealed, &len);
    CHECK(plain && len == 0 && plain[0] == '\0', "seal/open of nothing");

    CHECK(strcmp(entra_seal(p, ring, "test", (const unsigned char *)"same", 4),
                 entra_seal(p, ring, "test", (const unsigned char *)"same", 4)) != 0,
          "two seals of the same plaintext differ (random nonce)");
}

static void test_tamper(apr_pool_t *p, entra_keyring *ring)
{
    const char *sealed = entra_seal(p, ring, "test", (const unsigned char *)"attack at dawn", 14);
    apr_size_t len, i;
    unsigned char *raw = entra_b64url_decode(p, sealed, strlen(sealed), &len);
    int flips_open = 0, cuts_open = 0, adds_open = 0;

    CHECK(raw != NULL, "sealed text decodes");
    if (!raw)
        return;
    CHECK_STR(open_text(p, ring, "test", entra_b64url_encode(p, raw, len)), "attack at dawn",
              "re-encoded sealed bytes still open (so the failures below are the edits)");
    for (i = 0; i < len; i++) {
        unsigned char *copy = apr_pmemdup(p, raw, len);
        copy[i] ^= 0x01;
        flips_open += open_text(p, ring, "test", entra_b64url_encode(p, copy, len)) != NULL;
        copy[i] ^= 0x81;
        flips_open += open_text(p, ring, "test", entra_b64url_encode(p, copy, len)) != NULL;
    }
    CHECK(flips_open == 0, "flipping any single byte (low or high bit) of %d: none opens (%d did)",
          (int)len, flips_open);
    for (i = 0; i < len; i++)
        cuts_open += open_text(p, ring, "test", entra_b64url_encode(p, raw, i)) != NULL;
    CHECK(cuts_open == 0, "truncating to any shorter length: none opens (%d did)", cuts_open);
    for (i = 1; i <= 17; i++) {
        unsigned char *longer = apr_pcalloc(p, len + i);
        memcpy(longer, raw, len);
        adds_open += open_text(p, ring, "test", entra_b64url_encode(p, longer, len + i)) != NULL;
    }
    CHECK(adds_open == 0, "appending 1..17 bytes: none opens (%d did)", adds_open);
    CHECK(open_text(p, ring, "test", apr_pstrcat(p, sealed, "A", NULL)) == NULL,
          "appending a character to the text: does not open");
    CHECK(open_text(p, ring, "tesT", sealed) == NULL, "wrong purpose: does not open");
    CHECK(open_text(p, ring, "test ", sealed) == NULL, "purpose with a suffix: does not open");
    CHECK(open_text(p, ring, "", sealed) == NULL, "empty purpose: does not open");
    CHECK(open_text(p, ring_of(p, SECRET_NEW, NULL), "test", sealed) == NULL,
          "another key: does not open");
    CHECK(open_text(p, entra_keyring_make(p), "test", sealed) == NULL,
          "empty key ring: does not open");
    CHECK(open_text(p, ring, "test", NULL) == NULL, "NULL: does not open");
    CHECK(open_text(p, ring, "test", "") == NULL, "empty text: does not open");
    CHECK(open_text(p, ring, "test", "not base64!") == NULL, "garbage: does not open");
    {
        char *huge = apr_palloc(p, 300 * 1024 + 1);
        memset(huge, 'A', 300 * 1024);
        huge[300 * 1024] = '\0';
        CHECK(open_text(p, ring, "test", huge) == NULL, "300 KiB of text: does not open");
    }
}

static void test_rotation(apr_pool_t *p)
{
    entra_keyring *old_only = ring_of(p, SECRET_OLD, NULL);
    entra_keyring *rotated = ring_of(p, SECRET_NEW, SECRET_OLD);
    entra_keyring *new_only = ring_of(p, SECRET_NEW, NULL);
    entra_keyring *same_old = ring_of(p, SECRET_OLD, NULL);
    const char *by_old = entra_seal(p, old_only, "s", (const unsigned char *)"v1", 2);
    const char *by_rotated = entra_seal(p, rotated, "s", (const unsigned char *)"v2", 2);

    CHECK_STR(open_text(p, same_old, "s", by_old), "v1",
              "the same secret derives the same key (a restart keeps sessions)");
    CHECK_STR(open_text(p, rotated, "s", by_old), "v1",
              "rotation: ring [new, old] opens what [old] sealed");
    CHECK_STR(open_text(p, new_only, "s", by_rotated), "v2",
              "rotation: ring [new, old] seals with new");
    CHECK(open_text(p, old_only, "s", by_rotated) == NULL,
          "rotation: [old] cannot open what [new, old] sealed");
    CHECK(open_text(p, new_only, "s", by_old) == NULL,
          "rotation: once old is dropped its cookies no longer open");
}

static void test_pkce(apr_pool_t *p)
{
    CHECK_STR(entra_sha256_b64url(p, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
              "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
              "PKCE S256 challenge of RFC 7636 appendix B");
    CHECK_STR(entra_sha256_b64url(p, ""), "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU",
              "SHA-256 of nothing, base64url");
}

/* Every length around the 16- and 8-byte steps, a difference at every
 * place (first, last, in the tail, in a word) and none. */
static void test_ct_equal(void)
{
    unsigned char a[72], b[72];
    size_t len, at;
    int wrong = 0;

    for (len = 0; len <= sizeof(a); len++) {
        memset(a, 'k', sizeof(a));
        memcpy(b, a, sizeof(b));
        if (!entra_ct_equal(a, b, len))
            wrong++;
        for (at = 0; at < len; at++) {
            b[at] ^= 0x80;
            if (entra_ct_equal(a, b, len))
                wrong++;
            b[at] ^= 0x80;
        }
    }
    CHECK(wrong == 0, "entra_ct_equal: equal when equal, different at any place, 0..72 bytes");
    CHECK(entra_ct_equal(a + 1, b + 3, 17) == 1, "entra_ct_equal: unaligned equal bytes");
    b[20] = 'x';
    CHECK(entra_ct_equal(a + 1, b + 3, 18) == 0, "entra_ct_equal: unaligned, one differs");
    CHECK(entra_ct_equal(a + 1, b + 3, 50) == 0, "entra_ct_equal: unaligned, 16-byte steps, one differs");
}

void suite_crypto(apr_pool_t *p)
{
    entra_keyring *ring = ring_of(p, SECRET_OLD, NULL);

    test_keyring(p);
    if (!CHECK(ring != NULL, "a key ring from a good secret"))
        return;
    test_round_trip(p, ring);
    test_tamper(p, ring);
    test_rotation(p);
    test_pkce(p);
    test_ct_equal();
}
