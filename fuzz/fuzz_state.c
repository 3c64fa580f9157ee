/* The login state: its sealed cookie and the `state` parameter that names
 * it. The first byte picks what is fuzzed:
 *   0  a state cookie as the browser sends it (entra_state_open on the
 *      text; the committed seeds are real sealed cookies);
 *   1  what is inside the seal: the input is sealed with the server's key
 *      and opened, so the fuzzer reaches the pairs parser and the checks
 *      behind the AEAD;
 *   2  entra_pairs_parse straight on the bytes;
 *   3  entra_state_param_ok;
 *   4  (first byte % 8) the round trip: "return_to\nredirect_uri" into a
 *      fresh attempt (entra_state_new), sealed (entra_state_seal) and
 *      opened again: exactly the same fields, a state parameter that can
 *      name its cookie; refused for another parameter, one second after its
 *      lifetime, under another server's key, as a session, and with any one
 *      character of the cookie changed.
 * Invariant: an opened state always belongs to the state parameter and has
 * not expired. */
#include "fuzz_common.h"
#include "../src/session.h"
#include "../src/state.h"
#include "../src/util.h"

#include <apr_strings.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init();
    return 0;
}

static void check_state(const entra_state *st, const char *param, const char *why)
{
    FUZZ_SAY("fuzz_state: %s", st ? "opened" : why);
    if (!st) {
        FUZZ_CHECK(why && *why, "refused without a reason");
        return;
    }
    FUZZ_CHECK(strcmp(st->state, param) == 0, "state \"%s\" opened for parameter \"%s\"",
               st->state, param);
    FUZZ_CHECK(st->expires >= FUZZ_NOW, "an expired state opened");
    FUZZ_CHECK(st->nonce && st->code_verifier && st->return_to && st->redirect_uri,
               "an incomplete state opened");
}

static void check_pairs(const apr_array_header_t *pairs, const unsigned char *buf, size_t len)
{
    int i;

    for (i = 0; i < pairs->nelts; i++) {
        const entra_pair *e = &APR_ARRAY_IDX(pairs, i, entra_pair);
        FUZZ_CHECK((const unsigned char *)e->name >= buf
                   && (const unsigned char *)e->value + strlen(e->value) < buf + len,
                   "pair %d points outside the buffer", i);
    }
}

static int param_shape(const char *s)
{
    size_t n = strlen(s), i;

    if (n < 16 || n > 64)
        return 0;
    for (i = 0; i < n; i++) {
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", s[i]))
            return 0;
    }
    return 1;
}

static void check_round_trip(apr_pool_t *p, const uint8_t *data, size_t size)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *return_to = fuzz_take_line(p, &data, &size);
    char *redirect_uri = fuzz_cstr(p, data, size);
    entra_state *st = entra_state_new(p, return_to, redirect_uri, FUZZ_NOW), *back;
    const char *why = NULL;
    char *sealed, *other;
    apr_size_t at, len;

    FUZZ_CHECK(st, "no fresh state");
    FUZZ_CHECK(entra_state_param_ok(st->state), "state parameter %s cannot name a cookie",
               st->state);
    sealed = entra_state_seal(p, fuzz_ring(), st);
    FUZZ_CHECK(sealed, "a state does not seal");
    back = entra_state_open(p, fuzz_ring(), sealed, st->state, FUZZ_NOW + ENTRA_STATE_TTL, &why);
    FUZZ_CHECK(back, "a sealed state does not open: %s", why);
    FUZZ_CHECK(strcmp(back->state, st->state) == 0 && strcmp(back->nonce, st->nonce) == 0
               && strcmp(back->code_verifier, st->code_verifier) == 0
               && strcmp(back->return_to, return_to) == 0
               && strcmp(back->redirect_uri, redirect_uri) == 0 && back->expires == st->expires,
               "the state came back changed");
    FUZZ_SAY("fuzz_state: round trip of return_to \"%s\"", return_to);
    FUZZ_CHECK(!entra_state_open(p, fuzz_ring(), sealed, st->state,
                                 FUZZ_NOW + ENTRA_STATE_TTL + 1, &why),
               "a state opened after its lifetime");
    FUZZ_CHECK(!entra_state_open(p, fuzz_ring_other(), sealed, st->state, FUZZ_NOW, &why),
               "another server's key opened a state");
    FUZZ_CHECK(!entra_session_open(p, fuzz_ring(), sealed, FUZZ_NOW, 0),
               "a state opened as a session");
    other = apr_pstrdup(p, st->state);
    other[0] = other[0] == 'A' ? 'B' : 'A';
    FUZZ_CHECK(!entra_state_open(p, fuzz_ring(), sealed, other, FUZZ_NOW, &why),
               "a state opened for another parameter");
    len = strlen(sealed);
    at = (size > 0 ? data[0] * 257u + size : 0) % len;
    sealed[at] = b64[(strchr(b64, sealed[at]) - b64) ^ 1];
    FUZZ_CHECK(!entra_state_open(p, fuzz_ring(), sealed, st->state, FUZZ_NOW, &why),
               "a state cookie changed at %zu opened", (size_t)at);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    unsigned b = fuzz_take_byte(&data, &size), mode = b % 8 == 4 ? 4 : b % 4;
    const char *why = NULL;
    entra_state *st;

    switch (mode) {
    case 0: {
        /* "param\ncookie" */
        char *param = fuzz_take_line(p, &data, &size);
        char *cookie = fuzz_cstr(p, data, size);
        if (!*param)
            param = FUZZ_STATE;
        st = entra_state_open(p, fuzz_ring(), cookie, param, FUZZ_NOW, &why);
        check_state(st, param, why);
        /* no cookie opens under two servers' keys */
        if (st)
            FUZZ_CHECK(!entra_state_open(p, fuzz_ring_other(), cookie, param, FUZZ_NOW, &why),
                       "another server's key opened this server's state");
        break;
    }
    case 1: {
        char *sealed = entra_seal(p, fuzz_ring(), "entra-state-v1", data, size);
        FUZZ_CHECK(sealed != NULL, "seal failed");
        st = entra_state_open(p, fuzz_ring(), sealed, FUZZ_STATE, FUZZ_NOW, &why);
        check_state(st, FUZZ_STATE, why);
        /* a session cookie's seal is never a state */
        sealed = entra_seal(p, fuzz_ring(), "entra-session-v1", data, size);
        FUZZ_CHECK(!entra_state_open(p, fuzz_ring(), sealed, FUZZ_STATE, FUZZ_NOW, &why),
                   "a session seal opened as a state");
        break;
    }
    case 2: {
        /* exactly `size` bytes, as entra_open hands them over (plus its NUL) */
        unsigned char *buf = apr_palloc(p, size + 1);
        apr_array_header_t *pairs;
        memcpy(buf, data, size);
        buf[size] = '\0';
        pairs = entra_pairs_parse(p, buf, size);
        if (pairs)
            check_pairs(pairs, buf, size);
        break;
    }
    case 4:
        check_round_trip(p, data, size);
        break;
    default: {
        char *s = fuzz_cstr(p, data, size);
        FUZZ_CHECK(entra_state_param_ok(s) == param_shape(s), "state_param_ok(\"%s\") is wrong", s);
        break;
    }
    }
    fuzz_end(p);
    return 0;
}
