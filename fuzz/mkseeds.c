/* Writes the seeds that need the fixed keys: sealed session, chunk and state
 * cookies and RS256 tokens, into fuzz/corpus/<target>/ (the directory given
 * as the only argument). The other seeds are plain files, committed as
 * they are. Run through `make -f fuzz/fuzz.mk seeds`; the output is
 * deterministic except for the AEAD nonces and is committed. */
#include "fuzz_common.h"
#include "fuzz_keys.h"
#include "../src/session.h"
#include "../src/state.h"
#include "../src/store.h"
#include "../src/util.h"

#include <apr_strings.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* fuzz_chunks.c's fixtures */
#define SESSION_ID "fuzz-socache-session-id-0123456789"
#define SESSION_ID_DOWN "store-is-down"

static const char *out_dir;
static apr_pool_t *pool;

static void put(const char *target, const char *name, const void *data, size_t len)
{
    const char *dir = apr_pstrcat(pool, out_dir, "/", target, NULL);
    const char *path = apr_pstrcat(pool, dir, "/", name, NULL);
    FILE *f;

    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        perror(dir);
        exit(1);
    }
    if (!(f = fopen(path, "wb")) || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* A text seed, no mode byte. */
static void put_text(const char *target, const char *name, const char *text)
{
    put(target, name, text, strlen(text));
}

/* A literal with its embedded NULs: LIT("a\0b") is the pointer and 3. */
#define LIT(s) s, sizeof(s) - 1

/* One mode byte, then text. */
static void put_mode(const char *target, const char *name, unsigned mode, const char *text)
{
    size_t n = strlen(text);
    char *buf = apr_palloc(pool, n + 1);

    buf[0] = (char)mode;
    memcpy(buf + 1, text, n);
    put(target, name, buf, n + 1);
}

/* One mode byte, then bytes. */
static void put_mode_bytes(const char *target, const char *name, unsigned mode,
                           const void *data, size_t len)
{
    char *buf = apr_palloc(pool, len + 1);

    buf[0] = (char)mode;
    memcpy(buf + 1, data, len);
    put(target, name, buf, len + 1);
}

/* ---------------------------------------------------------------- sessions */

/* The usual claims and, when blob > 0, a claim of that many pseudo-random
 * base64url characters: text that deflate cannot shrink much (as in
 * fuzz_chunks.c). */
static apr_array_header_t *claims(int blob, const char *sid)
{
    static const char b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    apr_array_header_t *c = apr_array_make(pool, 8, sizeof(entra_pair));
    char *text = apr_palloc(pool, (apr_size_t)blob + 1);
    unsigned long x = 12345;
    int i;

    entra_pairs_add(c, "preferred_username", "ada@contoso.example");
    entra_pairs_add(c, "oid", "00000000-0000-0000-66f3-3332eca7ea81");
    entra_pairs_add(c, "tid", FUZZ_TENANT);
    entra_pairs_add(c, "sid", sid);
    for (i = 0; i < blob; i++) {
        x = x * 6364136223846793005UL + 1442695040888963407UL;
        text[i] = b64u[(x >> 33) & 63];
    }
    text[blob] = '\0';
    if (blob)
        entra_pairs_add(c, "x_blob", text);
    return c;
}

static entra_session *session(apr_int64_t created, apr_int64_t expires, apr_int64_t seen,
                              apr_array_header_t *c)
{
    entra_session *s = apr_pcalloc(pool, sizeof(*s));

    s->created = created;
    s->expires = expires;
    s->last_seen = seen;
    s->claims = c;
    return s;
}

static void session_seeds(void)
{
    const char *t = "fuzz_session";
    entra_session *good = session(FUZZ_NOW - 60, FUZZ_NOW + 8 * 3600, FUZZ_NOW - 60,
                                  claims(0, "live-sid"));
    entra_keyring *old = fuzz_ring_old();
    apr_array_header_t *pairs;
    unsigned char *plain;
    apr_size_t len;

    entra_pairs_add(good->claims, "name", "Ada \"Countess\" <Lovelace>");
    entra_pairs_add(good->claims, "roles", "Task.Read,Admin");
    entra_pairs_add(good->claims, ENTRA_SESSION_REFRESH_TOKEN, "0.AXoA-refresh");
    put_mode(t, "cookie_valid", 0, entra_session_seal(pool, fuzz_ring(), good));
    put_mode(t, "cookie_rotated_key", 0, entra_session_seal(pool, old, good));
    put_mode(t, "cookie_other_server", 0, entra_session_seal(pool, fuzz_ring_other(), good));
    put_mode(t, "cookie_expired", 0,
             entra_session_seal(pool, fuzz_ring(), session(FUZZ_NOW - 9 * 3600, FUZZ_NOW - 3600,
                                                            FUZZ_NOW - 3700, claims(0, "s"))));
    put_mode(t, "cookie_idle", 0,
             entra_session_seal(pool, fuzz_ring(), session(FUZZ_NOW - 7300, FUZZ_NOW + 3600,
                                                            FUZZ_NOW - 7200, claims(0, "s"))));
    put_mode(t, "cookie_idle_no_limit", 0x80,
             entra_session_seal(pool, fuzz_ring(), session(FUZZ_NOW - 7300, FUZZ_NOW + 3600,
                                                            FUZZ_NOW - 7200, claims(0, "s"))));
    put_mode(t, "cookie_state_purpose", 0,
             entra_seal(pool, fuzz_ring(), "entra-state-v1", (const unsigned char *)"s\0x\0", 4));
    put_mode(t, "cookie_truncated", 0,
             apr_pstrndup(pool, entra_session_seal(pool, fuzz_ring(), good), 40));
    put_mode(t, "cookie_not_base64", 0, "AQ2KH5oQ+SPpq/E7X1v4Yd3J0Kx8vx==");

    /* inside the seal */
    pairs = apr_array_make(pool, 8, sizeof(entra_pair));
    entra_pairs_add(pairs, ":c", apr_psprintf(pool, "%" APR_INT64_T_FMT, FUZZ_NOW - 60));
    entra_pairs_add(pairs, ":x", apr_psprintf(pool, "%" APR_INT64_T_FMT, FUZZ_NOW + 3600));
    entra_pairs_add(pairs, ":a", apr_psprintf(pool, "%" APR_INT64_T_FMT, FUZZ_NOW - 60));
    entra_pairs_add(pairs, "preferred_username", "ada@contoso.example");
    entra_pairs_add(pairs, "groups", "a,b,c");
    plain = entra_pairs_serialize(pool, pairs, &len);
    put_mode_bytes(t, "plain_valid", 1, plain, len);
    put_mode_bytes(t, "plain_no_limit", 0x81, plain, len);
    put_mode_bytes(t, "plain_odd_pairs", 1, LIT(":c\0001\000:x\0009999999999\000:a"));
    put_mode_bytes(t, "plain_huge_times", 1,
                   LIT(":c\000999999999999999999\000:x\00099999999999999999999\000:a\000-1\000"));
    put_mode_bytes(t, "plain_times_out_of_order", 1,
                   LIT(":x\0009999999999\000:c\0001\000:a\0001700000000\000"));
    /* the deflated form session.c uses for big sessions: 'Z', the length
     * (4 bytes, big-endian), then zlib data */
    {
        apr_array_header_t *big = apr_array_make(pool, 8, sizeof(entra_pair));
        unsigned char *raw, *z;
        apr_size_t raw_len;
        uLongf z_len;
        int i;
        entra_pairs_add(big, ":c", apr_psprintf(pool, "%" APR_INT64_T_FMT, FUZZ_NOW - 60));
        entra_pairs_add(big, ":x", apr_psprintf(pool, "%" APR_INT64_T_FMT, FUZZ_NOW + 3600));
        entra_pairs_add(big, ":a", apr_psprintf(pool, "%" APR_INT64_T_FMT, FUZZ_NOW - 60));
        for (i = 0; i < 100; i++)
            entra_pairs_add(big, apr_psprintf(pool, "claim%d", i),
                            "2f6a4c1e-0000-4000-8001-000000000001,2f6a4c1e-0000-4000-8001");
        raw = entra_pairs_serialize(pool, big, &raw_len);
        z_len = compressBound((uLong)raw_len);
        z = apr_palloc(pool, z_len + 5);
        if (compress2(z + 5, &z_len, raw, (uLong)raw_len, Z_BEST_COMPRESSION) != Z_OK)
            exit(1);
        z[0] = 'Z';
        z[1] = (unsigned char)(raw_len >> 24);
        z[2] = (unsigned char)(raw_len >> 16);
        z[3] = (unsigned char)(raw_len >> 8);
        z[4] = (unsigned char)raw_len;
        put_mode_bytes(t, "plain_deflated", 1, z, z_len + 5);
        z[3] ^= 1;      /* a wrong length */
        put_mode_bytes(t, "plain_deflated_wrong_length", 1, z, z_len + 5);
        z[1] = 0x7f;    /* an absurd one */
        put_mode_bytes(t, "plain_deflated_absurd_length", 1, z, z_len + 5);
        /* 256 KB of zeros, claimed as such (the limit) and one byte more */
        raw_len = 256 * 1024;
        raw = apr_pcalloc(pool, raw_len + 1);
        z_len = compressBound((uLong)raw_len + 1);
        z = apr_palloc(pool, z_len + 5);
        if (compress2(z + 5, &z_len, raw, (uLong)raw_len + 1, Z_BEST_COMPRESSION) != Z_OK)
            exit(1);
        z[0] = 'Z';
        z[1] = 0;
        z[2] = 0x04;
        z[3] = 0;
        z[4] = 1;
        put_mode_bytes(t, "plain_deflated_bomb", 1, z, z_len + 5);
        put_mode(t, "cookie_big_deflated", 0,
                 entra_session_seal(pool, fuzz_ring(),
                                    session(FUZZ_NOW - 60, FUZZ_NOW + 3600, FUZZ_NOW - 60,
                                            claims(3000, "live-sid"))));
    }
    put_mode_bytes(t, "aead_any_bytes", 2, LIT("\x01\x02 any plaintext\0with NULs\0"));
    put_mode(t, "open_text", 3, entra_session_seal(pool, fuzz_ring(), good));
}

/* One Cookie header line with the chunked form of a big session. */
static void chunk_seeds(void)
{
    const char *t = "fuzz_chunks";
    const char *sealed = NULL;
    int blob;
    const char *c0, *c1, *c2;
    const char *small = entra_session_seal(pool, fuzz_ring(),
                                           session(FUZZ_NOW - 60, FUZZ_NOW + 3600,
                                                   FUZZ_NOW - 60, claims(0, "live-sid")));
    const char *id = entra_seal(pool, fuzz_ring(), "entra-session-id-v1",
                                (const unsigned char *)SESSION_ID, strlen(SESSION_ID));
    static const struct {
        const char *name;
        unsigned mode;
        const char *prog;
        size_t len;
    } progs[] = {
        { "prog_valid", 2, "\x03\x10\x11\x12", 4 },
        { "prog_two_headers", 2, "\x03\x10\x40\x11\x12", 5 },
        { "prog_missing", 2, "\x03\x10\x12", 3 },
        { "prog_extra", 2, "\x03\x10\x11\x12\x13", 5 },
        { "prog_repeated", 2, "\x03\x10\x11\x11\x12", 5 },
        { "prog_half", 2, "\x03\x10\x21\x12", 4 },
        { "prog_leading_zero", 2, "\x03\x70\x11\x12", 4 },
        { "prog_odd_counts", 2, "\xa0\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8\xa9\xaa\xab\xac\xad\xae\xaf"
                                "\x10\x11\x12", 19 },
        { "prog_beyond_max", 2, "\x0f\x90\x9f\x10\x11\x12", 6 },
        { "prog_whole", 2, "\x50", 1 },
        { "prog_ended", 2, "\x51", 1 },
        { "prog_spaces", 2, "\xc0\x03\xb1\x10\xe1\x12", 6 },
        { "prog_literal", 2, "\xf0;\xf0=\x03\xf0 \x10\x11\x12", 11 },
        { "prog_socache", 3, "\x60", 1 },
        { "prog_socache_down", 3, "\x61", 1 },
        { "prog_socache_chunks", 3, "\x03\x10\x11\x12\x60", 5 },
    };
    size_t i;

    /* three chunks, as fuzz_chunks.c's fixture */
    for (blob = 6000; blob < 20000; blob += 250) {
        sealed = entra_session_seal(pool, fuzz_ring(),
                                    session(FUZZ_NOW - 60, FUZZ_NOW + 3600, FUZZ_NOW - 60,
                                            claims(blob, "live-sid")));
        if (strlen(sealed) > 2 * ENTRA_COOKIE_CHUNK)
            break;
    }
    c0 = apr_pstrndup(pool, sealed, ENTRA_COOKIE_CHUNK);
    c1 = apr_pstrndup(pool, sealed + ENTRA_COOKIE_CHUNK, ENTRA_COOKIE_CHUNK);
    c2 = apr_pstrdup(pool, sealed + 2 * ENTRA_COOKIE_CHUNK);
    put_mode(t, "cookies_chunked", 0,
             apr_pstrcat(pool, "entra_session=chunks:3; entra_session_0=", c0,
                         "; entra_session_1=", c1, "; entra_session_2=", c2, NULL));
    put_mode(t, "cookies_chunked_three_headers", 0,
             apr_pstrcat(pool, "entra_session_2=", c2, "\nentra_session=chunks:3; other=1\n"
                         "entra_session_0=", c0, "; entra_session_1=", c1, NULL));
    put_mode(t, "cookies_whole", 0, apr_pstrcat(pool, "entra_session=", small, NULL));
    put_mode(t, "cookies_socache_id", 1, apr_pstrcat(pool, "entra_session=", id, NULL));
    put_mode(t, "cookies_stale_chunks", 0,
             apr_pstrcat(pool, "entra_session=", small, "; entra_session_0=", c0,
                         "; entra_session_15=x", NULL));
    for (i = 0; i < sizeof(progs) / sizeof(progs[0]); i++)
        put_mode_bytes(t, progs[i].name, progs[i].mode, progs[i].prog, progs[i].len);
}

/* ------------------------------------------------------------------- state */

static entra_state *state(const char *param, apr_int64_t expires, const char *return_to)
{
    entra_state *st = apr_pcalloc(pool, sizeof(*st));

    st->state = param;
    st->nonce = FUZZ_NONCE;
    st->code_verifier = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq";
    st->return_to = return_to;
    st->redirect_uri = "https://app.example.com/.auth/login/aad/callback";
    st->expires = expires;
    return st;
}

static void state_seeds(void)
{
    const char *t = "fuzz_state", *c = "fuzz_callback";
    const char *good = entra_state_seal(pool, fuzz_ring(), state(FUZZ_STATE, FUZZ_NOW + 540,
                                                                 "/app/page?x=1"));
    const char *expired = entra_state_seal(pool, fuzz_ring(),
                                           state(FUZZ_STATE, FUZZ_NOW - 1, "/"));
    const char *other = "b3RoZXItdGFiLXN0YXRlLXBhcmFt";
    const char *other_tab = entra_state_seal(pool, fuzz_ring(), state(other, FUZZ_NOW + 300,
                                                                      "//evil.example"));
    const char *rotated = entra_state_seal(pool, fuzz_ring_old(),
                                           state(FUZZ_STATE, FUZZ_NOW + 300, "/"));
    apr_array_header_t *pairs = apr_array_make(pool, 6, sizeof(entra_pair));
    apr_table_t *handed = apr_table_make(pool, 2);
    unsigned char *plain;
    apr_size_t len;

    put_mode(t, "cookie_valid", 0, apr_pstrcat(pool, "\n", good, NULL));
    put_mode(t, "cookie_expired", 0, apr_pstrcat(pool, "\n", expired, NULL));
    put_mode(t, "cookie_other_param", 0, apr_pstrcat(pool, other, "\n", good, NULL));
    put_mode(t, "cookie_rotated", 0, apr_pstrcat(pool, "\n", rotated, NULL));
    put_mode(t, "cookie_garbage", 0, "\nnot-a-sealed-cookie");
    entra_pairs_add(pairs, "s", FUZZ_STATE);
    entra_pairs_add(pairs, "n", FUZZ_NONCE);
    entra_pairs_add(pairs, "v", "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq");
    entra_pairs_add(pairs, "r", "/app");
    entra_pairs_add(pairs, "u", "https://app.example.com/.auth/login/aad/callback");
    entra_pairs_add(pairs, "x", apr_psprintf(pool, "%" APR_INT64_T_FMT, FUZZ_NOW + 600));
    plain = entra_pairs_serialize(pool, pairs, &len);
    put_mode_bytes(t, "plain_valid", 1, plain, len);
    put_mode_bytes(t, "plain_incomplete", 1, LIT("s\000" FUZZ_STATE "\000x\0009999999999\000"));
    put_mode_bytes(t, "pairs", 2, plain, len);
    put_mode_bytes(t, "pairs_no_final_nul", 2, LIT("a\000b\000c"));
    put_mode(t, "param_ok", 3, FUZZ_STATE);
    put_mode(t, "param_bad", 3, "c3RhdGUtZm9yLWZ1enppbmc=/+");

    put_text(c, "callback_valid",
             apr_pstrcat(pool, "code=1.AjwpZyBuVCeryZsl0RqTN-OXnaS5Bq4Kws3G&state=", FUZZ_STATE,
                         "&session_state=c2f1465e-b13f-4ba1-941a-83381379d569\nentra_state_",
                         FUZZ_STATE, "=", good, NULL));
    put_text(c, "callback_two_tabs",
             apr_pstrcat(pool, "code=x&state=", other, "\nentra_state_", FUZZ_STATE, "=", good,
                         "; entra_state_", other, "=", other_tab, NULL));
    put_text(c, "callback_entra_error",
             apr_pstrcat(pool, "error=access_denied&error_description=AADSTS65004%3A+User+"
                         "declined+%3Cb%3Econsent%3C%2Fb%3E.%0D%0ATrace+ID%3A+5d1a8f9c&state=",
                         FUZZ_STATE, "\nentra_state_", FUZZ_STATE, "=", good, NULL));
    put_text(c, "callback_expired",
             apr_pstrcat(pool, "code=x&state=", FUZZ_STATE, "\nentra_state_", FUZZ_STATE, "=",
                         expired, NULL));
    put_text(c, "callback_no_cookie", apr_pstrcat(pool, "code=x&state=", FUZZ_STATE, NULL));
    /* the GET of a form_post step-up: the attempt's hand-over named in the
     * query, the POST's parameters in its hand-over cookie */
    apr_table_setn(handed, "code", "1.AjwpZyBuVCeryZsl0RqTN-OXnaS5Bq4Kws3G");
    apr_table_setn(handed, "state", FUZZ_STATE);
    put_text(c, "callback_handover",
             apr_pstrcat(pool, "entra_handover=", FUZZ_STATE, "\nentra_state_", FUZZ_STATE,
                         "=", good, "; entra_state_handover.", FUZZ_STATE, "=",
                         entra_handover_seal(pool, fuzz_ring(), handed, FUZZ_NOW), NULL));
    put_text(c, "callback_bad_state",
             "code=x&state=../../etc/passwd%00\nentra_state_../../etc/passwd=x");
}

/* ------------------------------------------------------------------ tokens */

static char *dump(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    char *copy = apr_pstrdup(pool, s);

    free(s);
    json_decref(j);
    return copy;
}

static json_t *id_claims(void)
{
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[s,s],"
                     " s:[s,s]}",
                     "aud", FUZZ_CLIENT_ID, "iss", FUZZ_ISSUER,
                     "iat", (json_int_t)(FUZZ_NOW - 300), "nbf", (json_int_t)(FUZZ_NOW - 300),
                     "exp", (json_int_t)(FUZZ_NOW + 3600),
                     "nonce", FUZZ_NONCE, "sid", "c2f1465e-b13f-4ba1-941a-83381379d569",
                     "tid", FUZZ_TENANT, "ver", "2.0",
                     "oid", "00000000-0000-0000-66f3-3332eca7ea81",
                     "name", "Adele Vance", "preferred_username", "adele@contoso.test",
                     "email", "adele.vance@contoso.test",
                     "roles", "Task.Read", "Admin",
                     "groups", "2f6a4c1e-0000-4000-8000-00000000a001",
                     "2f6a4c1e-0000-4000-8000-00000000a002");
}

static const char *hdr(const char *alg, const char *kid)
{
    json_t *h = json_pack("{s:s, s:s}", "typ", "JWT", "alg", alg);

    if (kid)
        json_object_set_new(h, "kid", json_string(kid));
    return dump(h);
}

static const char *sign(int key, const char *header, const char *payload)
{
    return fuzz_sign_rs256(pool, key, header, strlen(header), payload, strlen(payload));
}

static void token_seeds(void)
{
    const char *t = "fuzz_jwt";
    const char *h1 = hdr("RS256", "fuzz-key-1"), *p;
    json_t *c;

    /* 0x80: the callback's expectations; 0x00: bearer's. (mode = (b & 0x7f) % 5) */
    p = dump(id_claims());
    put_mode(t, "id_token_valid", 0x80, sign(1, h1, p));
    put_mode(t, "id_token_key2_under_kid1", 0x80, sign(2, h1, p));
    put_mode(t, "id_token_kid2", 0x80, sign(2, hdr("RS256", "fuzz-key-2"), p));
    put_mode(t, "id_token_unknown_kid", 0x80, sign(1, hdr("RS256", "rotated-away"), p));
    put_mode(t, "id_token_kid_path", 0x80, sign(1, hdr("RS256", "../../../../etc/passwd"), p));
    put_mode(t, "id_token_no_kid", 0x80, sign(1, hdr("RS256", NULL), p));
    put_mode(t, "id_token_alg_none", 0x80,
             apr_pstrcat(pool, entra_b64url_encode(pool, (const unsigned char *)
                                                   "{\"typ\":\"JWT\",\"alg\":\"none\"}", 27),
                         ".", entra_b64url_encode(pool, (const unsigned char *)p, strlen(p)),
                         ".", NULL));
    put_mode(t, "id_token_hs256_public_key", 0x80,
             fuzz_sign_hs256(pool, FUZZ_KEY1_PUB_PEM, strlen(FUZZ_KEY1_PUB_PEM),
                             hdr("HS256", "fuzz-key-1"), strlen(hdr("HS256", "fuzz-key-1")), p,
                             strlen(p)));
    put_mode(t, "id_token_ps256", 0x80, sign(1, hdr("PS256", "fuzz-key-1"), p));
    put_mode(t, "id_token_crit", 0x80,
             sign(1, "{\"alg\":\"RS256\",\"kid\":\"fuzz-key-1\",\"crit\":[\"exp\"],\"exp\":1}", p));
    c = id_claims();
    json_object_set_new(c, "exp", json_integer(FUZZ_NOW - 3600));
    put_mode(t, "id_token_expired", 0x80, sign(1, h1, dump(c)));
    c = id_claims();
    json_object_set_new(c, "nbf", json_integer(FUZZ_NOW + 3600));
    json_object_set_new(c, "iat", json_integer(FUZZ_NOW + 3600));
    put_mode(t, "id_token_not_yet_valid", 0x80, sign(1, h1, dump(c)));
    c = id_claims();
    json_object_set_new(c, "aud", json_string("00000003-0000-0000-c000-000000000000"));
    put_mode(t, "id_token_other_app", 0x80, sign(1, h1, dump(c)));
    c = id_claims();
    json_object_set_new(c, "aud", json_pack("[s,s]", "other-app", FUZZ_CLIENT_ID));
    json_object_set_new(c, "azp", json_string(FUZZ_CLIENT_ID));
    put_mode(t, "id_token_aud_array_azp", 0x80, sign(1, h1, dump(c)));
    c = id_claims();
    json_object_set_new(c, "tid", json_string(FUZZ_OTHER_TENANT));
    json_object_set_new(c, "iss", json_string(FUZZ_AUTHORITY "/" FUZZ_OTHER_TENANT "/v2.0"));
    put_mode(t, "id_token_other_tenant", 0x80, sign(1, h1, dump(c)));
    c = id_claims();
    json_object_set_new(c, "iss", json_string(FUZZ_ISSUER_V1));
    json_object_set_new(c, "ver", json_string("1.0"));
    put_mode(t, "id_token_v1_issuer", 0x80, sign(1, h1, dump(c)));
    c = id_claims();
    json_object_set_new(c, "nonce", json_string("replayed-nonce"));
    put_mode(t, "id_token_other_nonce", 0x80, sign(1, h1, dump(c)));
    c = id_claims();
    json_object_set_new(c, "exp", json_real(1e300));
    put_mode(t, "id_token_absurd_exp", 0x80, sign(1, h1, dump(c)));
    put_mode(t, "not_a_jws", 0x80, "eyJhbGciOiJSUzI1NiJ9..");
    put_mode(t, "jwe_five_parts", 0x80,
             "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d");

    /* bearer: v2 access token for the App ID URI, a v1 one, another tenant */
    c = id_claims();
    json_object_del(c, "nonce");
    json_object_set_new(c, "aud", json_string(FUZZ_APP_ID_URI));
    json_object_set_new(c, "scp", json_string("Task.Read"));
    p = dump(c);
    put_mode(t, "access_token_v2", 0x00, sign(1, h1, p));
    c = id_claims();
    json_object_del(c, "nonce");
    json_object_set_new(c, "iss", json_string(FUZZ_ISSUER_V1));
    json_object_set_new(c, "ver", json_string("1.0"));
    put_mode(t, "access_token_v1", 0x00, sign(1, h1, dump(c)));
    c = id_claims();
    json_object_del(c, "nonce");
    json_object_set_new(c, "tid", json_string(FUZZ_OTHER_TENANT));
    json_object_set_new(c, "iss", json_string(FUZZ_AUTHORITY "/" FUZZ_OTHER_TENANT "/v2.0"));
    put_mode(t, "access_token_other_tenant_pinned", 0x00,
             sign(1, hdr("RS256", "fuzz-key-1-pinned"), dump(c)));

    /* harness-signed: "header\npayload" and payload only */
    p = dump(id_claims());
    put_mode(t, "signed_header_payload", 0x81, apr_pstrcat(pool, h1, "\n", p, NULL));
    put_mode(t, "signed_header_payload_key2", 0x82,
             apr_pstrcat(pool, hdr("RS256", "fuzz-key-2"), "\n", p, NULL));
    put_mode(t, "hs256_header_payload", 0x83,
             apr_pstrcat(pool, hdr("HS256", "fuzz-key-1"), "\n", p, NULL));
    put_mode(t, "signed_payload", 0x84, p);
    put_mode(t, "signed_payload_bearer", 0x04, p);
    put_mode(t, "signed_payload_deep", 0x84,
             "{\"aud\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
             "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];
    fuzz_init();
    pool = fuzz_root();
    session_seeds();
    chunk_seeds();
    state_seeds();
    token_seeds();
    return 0;
}
