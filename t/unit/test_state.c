/* state: one login attempt, sealed in its own cookie. */
#include "unit.h"
#include "../../src/state.h"
#include "../../src/session.h"
#include "../../src/util.h"

#include <apr_strings.h>

#define NOW 1700000000
#define SECRET "0123456789abcdef0123456789abcdef-state"

static entra_keyring *ring_of(apr_pool_t *p, const char *secret)
{
    entra_keyring *ring = entra_keyring_make(p);
    return entra_keyring_add(ring, secret, strlen(secret)) ? NULL : ring;
}

/* The sealed text with one character in the middle changed. */
static char *tamper(apr_pool_t *p, const char *sealed)
{
    char *t = apr_pstrdup(p, sealed);
    size_t mid = strlen(t) / 2;
    t[mid] = t[mid] == 'A' ? 'B' : 'A';
    return t;
}

static void test_new(apr_pool_t *p)
{
    entra_state *a = entra_state_new(p, "/app?x=1", "https://app.example/cb", NOW);
    entra_state *b = entra_state_new(p, "/app?x=1", "https://app.example/cb", NOW);

    if (!CHECK(a && b, "state_new makes an attempt"))
        return;
    CHECK(strlen(a->state) >= 22 && entra_state_param_ok(a->state),
          "state parameter: 128 bits, and state_param_ok accepts it");
    CHECK(strlen(a->code_verifier) >= 43 && strlen(a->code_verifier) <= 128,
          "PKCE verifier has RFC 7636's length (43..128)");
    CHECK(strlen(a->nonce) >= 22, "nonce has 128 bits");
    CHECK(strcmp(a->state, b->state) && strcmp(a->nonce, b->nonce)
          && strcmp(a->code_verifier, b->code_verifier), "two attempts share no secret");
    CHECK(strcmp(a->state, a->nonce) && strcmp(a->state, a->code_verifier),
          "state, nonce and verifier are distinct values");
    CHECK(a->expires > NOW && a->expires <= NOW + 3600, "an attempt expires, within the hour");
}

static void test_open(apr_pool_t *p, entra_keyring *ring)
{
    entra_state *st = entra_state_new(p, "/app?x=1&y=2", "https://app.example/cb", NOW);
    const char *why = NULL, *cookie = entra_state_seal(p, ring, st);
    entra_state *got;

    if (!CHECK(cookie != NULL, "state seals"))
        return;
    got = entra_state_open(p, ring, cookie, st->state, NOW + 1, &why);
    if (CHECK(got != NULL, "state opens with its own state parameter")) {
        CHECK_STR(got->state, st->state, "state kept");
        CHECK_STR(got->nonce, st->nonce, "nonce kept");
        CHECK_STR(got->code_verifier, st->code_verifier, "PKCE verifier kept");
        CHECK_STR(got->return_to, "/app?x=1&y=2", "return path kept");
        CHECK_STR(got->redirect_uri, "https://app.example/cb", "redirect URI kept");
        CHECK(got->expires == st->expires, "expiry kept");
    }
    CHECK(entra_state_open(p, ring, cookie, st->state, st->expires, &why) != NULL,
          "state still opens at its expiry second");

    why = NULL;
    CHECK(!entra_state_open(p, ring, cookie, "AAAAAAAAAAAAAAAAAAAAAA", NOW, &why) && why,
          "another state parameter: refused, with a reason");
    why = NULL;
    CHECK(!entra_state_open(p, ring, cookie, apr_pstrcat(p, st->state, "x", NULL), NOW, &why)
          && why, "state parameter with a suffix: refused");
    why = NULL;
    CHECK(!entra_state_open(p, ring, cookie, "", NOW, &why) && why, "empty state parameter: refused");
    why = NULL;
    CHECK(!entra_state_open(p, ring, cookie, st->state, st->expires + 1, &why) && why,
          "expired attempt: refused, with a reason");
    why = NULL;
    CHECK(!entra_state_open(p, ring, tamper(p, cookie), st->state, NOW, &why) && why,
          "tampered cookie: refused, with a reason");
    why = NULL;
    CHECK(!entra_state_open(p, ring_of(p, SECRET "-other"), cookie, st->state, NOW, &why) && why,
          "cookie sealed with another key: refused");
    why = NULL;
    CHECK(!entra_state_open(p, ring, "garbage", st->state, NOW, &why) && why, "garbage: refused");
    why = NULL;
    CHECK(!entra_state_open(p, ring, "", st->state, NOW, &why) && why, "empty cookie: refused");
    {
        entra_session s = { NOW, NOW + 3600, NOW, apr_array_make(p, 1, sizeof(entra_pair)) };
        entra_pairs_add(s.claims, "s", st->state);
        why = NULL;
        CHECK(!entra_state_open(p, ring, entra_session_seal(p, ring, &s), st->state, NOW, &why)
              && why, "a session cookie does not open as a state cookie");
    }
}

static void test_param_ok(void)
{
    static const char *const yes[] = {
        "AAAAAAAAAAAAAAAA", "abcdefghijklmnopqrstuvwxyz-_0123",
        "0123456789012345678901234567890123456789012345678901234567890123",
    };
    static const char *const no[] = {
        "", "AAAAAAAAAAAAAAA", "01234567890123456789012345678901234567890123456789012345678901234",
        "AAAAAAAAAAAAAAAA=", "AAAAAAAA+AAAAAAA", "AAAAAAAA/AAAAAAA", "AAAAAAAA.AAAAAAA",
        "AAAAAAAA AAAAAAA", "AAAAAAAA;AAAAAAA", "AAAAAAAA%AAAAAAA", "../../../../etc/passwd",
        "AAAAAAAA\nAAAAAAA",
    };
    size_t i;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        CHECK(entra_state_param_ok(yes[i]), "state param ok: %s", yes[i]);
    for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        CHECK(!entra_state_param_ok(no[i]), "state param refused: \"%s\"", no[i]);
    CHECK(!entra_state_param_ok(NULL), "state param refused: NULL");
}

/* A step-up's requirements travel sealed with the attempt: what was asked
 * for (acr, max_age) and whose session it is for (oid + tid). */
static void test_stepup(apr_pool_t *p, entra_keyring *ring)
{
    entra_state *st = entra_state_new(p, "/admin", "https://app.example/cb", NOW);
    entra_state *plain = entra_state_new(p, "/", "https://app.example/cb", NOW);
    const char *why = NULL, *cookie;
    entra_state *got;

    if (!CHECK(st && plain, "attempts"))
        return;
    CHECK(!plain->acr && plain->max_age == -1 && !plain->oid && !plain->tid,
          "a fresh attempt asks for nothing more and names no user");
    got = entra_state_open(p, ring, entra_state_seal(p, ring, plain), plain->state, NOW, &why);
    CHECK(got && !got->acr && got->max_age == -1 && !got->oid && !got->tid,
          "a plain sign-in's state opens as one");
    st->acr = "c1";
    st->max_age = 600;
    st->oid = "00000000-0000-0000-66f3-3332eca7ea81";
    st->tid = "4d3c2b1a-9e8f-4a7b-8c6d-5e4f3a2b1c0d";
    cookie = entra_state_seal(p, ring, st);
    got = cookie ? entra_state_open(p, ring, cookie, st->state, NOW, &why) : NULL;
    if (CHECK(got != NULL, "a step-up's state opens")) {
        CHECK_STR(got->acr, "c1", "the authentication context kept");
        CHECK(got->max_age == 600, "max_age kept");
        CHECK_STR(got->oid, st->oid, "the user's oid kept");
        CHECK_STR(got->tid, st->tid, "the user's tid kept");
        CHECK(got->cookie_bytes == -1, "no Cookie header size: unknown (-1)");
    }
    CHECK(plain->cookie_bytes == -1, "a fresh attempt: Cookie header size unknown");
    st->cookie_bytes = 7313;
    got = entra_state_open(p, ring, entra_state_seal(p, ring, st), st->state, NOW, &why);
    CHECK(got && got->cookie_bytes == 7313, "a step-up's start Cookie header size kept");
    st->cookie_bytes = 0;
    got = entra_state_open(p, ring, entra_state_seal(p, ring, st), st->state, NOW, &why);
    CHECK(got && got->cookie_bytes == 0, "... 0 kept as 0");
    plain->cookie_bytes = 100;
    got = entra_state_open(p, ring, entra_state_seal(p, ring, plain), plain->state, NOW, &why);
    CHECK(got && got->cookie_bytes == -1, "a plain sign-in keeps no Cookie header size");
    plain->cookie_bytes = -1;
    st->cookie_bytes = -1;
    st->acr = NULL;
    st->max_age = 0;
    got = entra_state_open(p, ring, entra_state_seal(p, ring, st), st->state, NOW, &why);
    CHECK(got && !got->acr && got->max_age == 0, "max_age 0 is kept as 0, not as none");
    CHECK(got && !got->claims_challenge, "not a claims challenge's unless it says so");
    st->max_age = -1;
    st->claims_challenge = 1;
    got = entra_state_open(p, ring, entra_state_seal(p, ring, st), st->state, NOW, &why);
    CHECK(got && got->claims_challenge && got->oid && !got->acr && got->max_age == -1,
          "a claims challenge's step-up: kept, with its user");
    plain->claims_challenge = 1;
    why = NULL;
    CHECK(!entra_state_open(p, ring, entra_state_seal(p, ring, plain), plain->state, NOW, &why)
          && why, "a claims challenge's state without a user: refused");
    why = NULL;
    CHECK(!entra_state_open(p, ring, tamper(p, cookie), st->state, NOW, &why) && why,
          "a tampered step-up state: refused");
}

/* A form_post step-up's hand-over: the callback's parameters, sealed for a
 * minute, bound to the app, never taken for a state (nor one for it). */
static void test_handover(apr_pool_t *p, entra_keyring *ring)
{
    apr_table_t *params = entra_form_parse(p, "state=abcdefghijklmnop0123&code=0.AX-code%2B1"
                                              "&error_description=line%0Atwo&extra=dropped");
    entra_keyring *app = entra_keyring_bind(p, ring, "client-a|tenant|authority");
    entra_keyring *other = entra_keyring_bind(p, ring, "client-b|tenant|authority");
    entra_state *st = entra_state_new(p, "/", "https://app.example/cb", NOW);
    const char *why = NULL, *sealed = entra_handover_seal(p, app, params, NOW);
    apr_table_t *got;

    if (!CHECK(sealed && app && other && st, "a hand-over seals"))
        return;
    got = entra_handover_open(p, app, sealed, NOW + ENTRA_HANDOVER_TTL, &why);
    if (CHECK(got != NULL, "it opens within ENTRA_HANDOVER_TTL (%s)", why ? why : "")) {
        CHECK_STR(apr_table_get(got, "state"), "abcdefghijklmnop0123", "state kept");
        CHECK_STR(apr_table_get(got, "code"), "0.AX-code+1", "code kept");
        CHECK_STR(apr_table_get(got, "error_description"), "line\ntwo", "Entra's error text kept");
        CHECK(!apr_table_get(got, "extra") && !apr_table_get(got, ":x"),
              "nothing the callback does not read, nor the expiry, comes out");
    }
    why = NULL;
    CHECK(!entra_handover_open(p, app, sealed, NOW + ENTRA_HANDOVER_TTL + 1, &why) && why,
          "expired a minute later");
    why = NULL;
    CHECK(!entra_handover_open(p, other, sealed, NOW, &why) && why,
          "another app's (the same EntraSessionKey) does not open");
    why = NULL;
    CHECK(!entra_handover_open(p, app, tamper(p, sealed), NOW, &why) && why, "tampered: refused");
    CHECK(!entra_state_open(p, app, sealed, "abcdefghijklmnop0123", NOW, &why),
          "a hand-over never passes for a state");
    CHECK(!entra_handover_open(p, app, entra_state_seal(p, app, st), NOW, &why),
          "nor a state for a hand-over");
}

void suite_state(apr_pool_t *p)
{
    entra_keyring *ring = ring_of(p, SECRET);

    test_new(p);
    if (CHECK(ring != NULL, "a key ring"))
        test_open(p, ring);
    if (ring) {
        test_stepup(p, ring);
        test_handover(p, ring);
    }
    test_param_ok();
}
