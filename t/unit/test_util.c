/* util: base64url, forms, return paths, header prefixes, GUIDs, cookies,
 * pairs, HTML escaping, small parsers. */
#include "unit.h"
#include "../../src/util.h"

#include <apr_strings.h>

static const char *b64(apr_pool_t *p, const char *s)
{
    return entra_b64url_encode(p, (const unsigned char *)s, strlen(s));
}

/* Decodes a NUL-terminated text; NULL when rejected. */
static const char *unb64(apr_pool_t *p, const char *s)
{
    apr_size_t len;
    unsigned char *out = entra_b64url_decode(p, s, strlen(s), &len);
    return out ? apr_pstrmemdup(p, (const char *)out, len) : NULL;
}

static void test_b64url(apr_pool_t *p)
{
    static const char *const bad[] = {
        "Zm9v=", "Zg==", "Zm+v", "Zm/v", "Zm9 v", " Zm9v", "Zm9v\n", "Z", "Zm9vY", "Zm9\x80",
        "Zh", "Zm9", "Zm9vYg-", "____B",
    };
    unsigned char data[64];
    apr_size_t i, n;

    CHECK_STR(b64(p, ""), "", "b64url encode of nothing is empty");
    CHECK_STR(b64(p, "f"), "Zg", "b64url \"f\" (RFC 4648 vector, unpadded)");
    CHECK_STR(b64(p, "fo"), "Zm8", "b64url \"fo\"");
    CHECK_STR(b64(p, "foo"), "Zm9v", "b64url \"foo\"");
    CHECK_STR(b64(p, "foobar"), "Zm9vYmFy", "b64url \"foobar\"");
    CHECK_STR(entra_b64url_encode(p, (const unsigned char *)"\xfb\xff\xbf", 3), "-_-_",
              "b64url uses - and _ instead of + and /");
    CHECK_STR(unb64(p, "-_-_"), "\xfb\xff\xbf", "b64url decodes - and _");

    for (i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 37 + 255);   /* includes 0x00 and 0xff */
    for (n = 0; n <= 64; n++) {
        char *enc = entra_b64url_encode(p, data, n);
        apr_size_t out_len = 9999;
        unsigned char *dec = entra_b64url_decode(p, enc, strlen(enc), &out_len);
        CHECK(strlen(enc) == (n * 4 + 2) / 3 && strspn(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
              "abcdefghijklmnopqrstuvwxyz0123456789-_") == strlen(enc),
              "b64url encode of %d bytes: unpadded, url alphabet only", (int)n);
        CHECK(dec && out_len == n && memcmp(dec, data, n) == 0,
              "b64url round trip of %d bytes", (int)n);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(unb64(p, bad[i]) == NULL, "b64url decode rejects \"%s\"", bad[i]);
    {
        apr_size_t len;
        CHECK(entra_b64url_decode(p, "Zm\0v", 4, &len) == NULL, "b64url rejects an embedded NUL");
    }
}

static void test_form(apr_pool_t *p)
{
    apr_table_t *t;
    int count = 0;
    const apr_array_header_t *arr;
    int i;

    t = entra_form_parse(p, "code=abc&state=xyz");
    CHECK(t && apr_table_elts(t)->nelts == 2, "form: two fields");
    CHECK_STR(t ? apr_table_get(t, "code") : NULL, "abc", "form: code");
    CHECK_STR(t ? apr_table_get(t, "state") : NULL, "xyz", "form: state");

    t = entra_form_parse(p, "q=hello+world%21&%41%62=%7e%2B%2b&x=a%3Db");
    CHECK_STR(t ? apr_table_get(t, "q") : NULL, "hello world!", "form: + is a space, %%21 is !");
    CHECK_STR(t ? apr_table_get(t, "Ab") : NULL, "~++", "form: keys decoded; %%2B and %%2b are +");
    CHECK_STR(t ? apr_table_get(t, "x") : NULL, "a=b", "form: %%3D in a value");

    t = entra_form_parse(p, "a=b=c&flag&&empty=&");
    CHECK_STR(t ? apr_table_get(t, "a") : NULL, "b=c", "form: value runs to the next &");
    CHECK_STR(t ? apr_table_get(t, "flag") : NULL, "", "form: key without = has an empty value");
    CHECK_STR(t ? apr_table_get(t, "empty") : NULL, "", "form: key= has an empty value");
    CHECK(t && apr_table_elts(t)->nelts == 3, "form: empty fields between && are skipped");

    t = entra_form_parse(p, "");
    CHECK(t && apr_table_elts(t)->nelts == 0, "form: empty text is an empty table");
    t = entra_form_parse(p, NULL);
    CHECK(t && apr_table_elts(t)->nelts == 0, "form: NULL text is an empty table");

    CHECK(entra_form_parse(p, "a=%") == NULL, "form: lone %% rejected");
    CHECK(entra_form_parse(p, "a=%4") == NULL, "form: %%4 at the end rejected");
    CHECK(entra_form_parse(p, "a=%4&b=1") == NULL, "form: %%4 before & rejected");
    CHECK(entra_form_parse(p, "a=%zz") == NULL, "form: %%zz rejected");
    CHECK(entra_form_parse(p, "a=%4g") == NULL, "form: %%4g rejected");
    CHECK(entra_form_parse(p, "a%=1") == NULL, "form: bad escape in a key rejected");
    CHECK(entra_form_parse(p, "a=x%00y") == NULL, "form: %%00 in a value rejected");
    CHECK(entra_form_parse(p, "a%00b=1") == NULL, "form: %%00 in a key rejected");
    CHECK(entra_form_parse(p, "state=ok&code=%00") == NULL, "form: a later %%00 rejects all");

    t = entra_form_parse(p, "state=first&code=c&state=second");
    CHECK_STR(t ? apr_table_get(t, "state") : NULL, "first", "form: repeated key, first value first");
    if (t) {
        arr = apr_table_elts(t);
        for (i = 0; i < arr->nelts; i++)
            count += strcmp(APR_ARRAY_IDX(arr, i, apr_table_entry_t).key, "state") == 0;
    }
    CHECK(count == 2, "form: repeated key keeps both values (the caller can refuse)");
}

static void test_return_path(apr_pool_t *p)
{
    static const char *const origin = "https://app.example";
    static const struct { const char *target; const char *origin; } bad[] = {
        { "https://evil.example/", NULL },
        { "https://evil.example/", "https://app.example" },
        { "http://evil.example", NULL },
        { "//evil.example", NULL },
        { "//evil.example/path", "https://app.example" },
        { "/\\evil.example", NULL },
        { "\\\\evil.example", NULL },
        { "/%2F%2Fevil.example", NULL },
        { "/%2f%2fevil.example", NULL },
        { "/%2Fevil.example", NULL },
        { "/%5Cevil.example", NULL },
        { "/%5cevil.example", NULL },
        { "/a\\b", NULL },
        { "/a/b\\", NULL },
        { "/a\tb", NULL },
        { "/\t/evil.example", NULL },
        { "/a\nb", NULL },
        { "/a\rLocation: x", NULL },
        { "/a\x01", NULL },
        { "/a\x7f", NULL },
        { "", NULL },
        { "", "https://app.example" },
        { "relative/path", NULL },
        { "relative", "https://app.example" },
        { " /leading-space", NULL },
        { "javascript:alert(1)", NULL },
        { "https://app.example:8443/x", "https://app.example" },
        { "http://app.example/x", "https://app.example" },
        { "https://app.example.evil.example/x", "https://app.example" },
        { "https://app.example@evil.example/x", "https://app.example" },
        { "https://app.example//evil.example", "https://app.example" },
        { "https://app.example/\\evil.example", "https://app.example" },
        { "https://app.example/%2F%2Fevil.example", "https://app.example" },
        { "https://app.example/x", NULL },
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(entra_safe_return_path(p, bad[i].target, bad[i].origin) == NULL,
              "return path rejects \"%s\" (origin %s)", bad[i].target,
              bad[i].origin ? bad[i].origin : "none");
    CHECK(entra_safe_return_path(p, NULL, origin) == NULL, "return path rejects NULL");

    CHECK_STR(entra_safe_return_path(p, "/", NULL), "/", "return path: / accepted");
    CHECK_STR(entra_safe_return_path(p, "/app/page?x=1&y=%2F#top", NULL),
              "/app/page?x=1&y=%2F#top", "return path: path, query, fragment kept");
    CHECK_STR(entra_safe_return_path(p, "/a/%2F/b", origin), "/a/%2F/b",
              "return path: an encoded slash later in the path is fine");
    CHECK_STR(entra_safe_return_path(p, "https://app.example/x?y=1", origin), "/x?y=1",
              "return path: same-origin absolute URL becomes its path");
    CHECK_STR(entra_safe_return_path(p, "https://app.example", origin), "/",
              "return path: the bare origin becomes /");
    CHECK_STR(entra_safe_return_path(p, "HTTPS://APP.EXAMPLE/x", origin), "/x",
              "return path: scheme and host compare case-insensitively");
    CHECK_STR(entra_safe_return_path(p, "https://app.example:8443/x", "https://app.example:8443"),
              "/x", "return path: origin with a port");
}

static void test_header_prefix(void)
{
    static const char *const yes[] = {
        "x-entra-", "X-Entra-Claim-oid", "x-entra-claim-oid", "X_ENTRA_CLAIM_ROLES",
        "x_Entra-Claim-name", "X-ENTRA-Access-Token", "x_entra_",
    };
    static const char *const no[] = {
        "", "x", "X-Entra", "X-Entrance", "X-Other", "Y-Entra-Claim", "X Entra-Claim",
        "XX-Entra-", "x.entra-claim",
    };
    size_t i;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        CHECK(entra_header_has_prefix(yes[i], "x-entra-"), "header prefix matches \"%s\"", yes[i]);
    for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        CHECK(!entra_header_has_prefix(no[i], "x-entra-"), "header prefix refuses \"%s\"", no[i]);
}

static void test_guid(void)
{
    static const char *const yes[] = {
        "72f988bf-86f1-41af-91ab-2d7cd011db47", "72F988BF-86F1-41AF-91AB-2D7CD011DB47",
        "00000000-0000-0000-0000-000000000000",
    };
    static const char *const no[] = {
        "", "common", "72f988bf86f141af91ab2d7cd011db47", "72f988bf-86f1-41af-91ab-2d7cd011db4",
        "72f988bf-86f1-41af-91ab-2d7cd011db477", "72f988bf-86f1-41af-91ab_2d7cd011db47",
        "72f988b-f86f1-41af-91ab-2d7cd011db47", "g2f988bf-86f1-41af-91ab-2d7cd011db47",
        "{2f988bf-86f1-41af-91ab-2d7cd011db4}", "72f988bf-86f1-41af-91ab-2d7cd011db4 ",
        "72f988bf-86f1-41af-91ab-2d7cd011db47/", "72f988bf-86f1-41af-91ab-2d7cd011db4G",
        "72f988bf-86f1-41af-91ab-2d7cd011db4@", "72f988bf-86f1-41af-91ab-2d7cd011db4`",
        "72f988bf-86f1-41af-91ab-2d7cd011db4g", "72f988bf-86f1-41af-91ab-2d7cd011db4\xc1",
    };
    size_t i;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        CHECK(entra_is_guid(yes[i]), "GUID accepted: %s", yes[i]);
    for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        CHECK(!entra_is_guid(no[i]), "not a GUID: \"%s\"", no[i]);
    CHECK(!entra_is_guid(NULL), "NULL is not a GUID");
}

typedef struct {
    apr_pool_t *p;
    const char *seen;
} cookie_seen;

static void collect(void *ctx, const char *name, const char *value)
{
    cookie_seen *c = ctx;
    c->seen = apr_pstrcat(c->p, c->seen, name, "=", value, ";", NULL);
}

static apr_table_t *cookies(apr_pool_t *p, const char *h1, const char *h2)
{
    apr_table_t *t = apr_table_make(p, 4);
    apr_table_add(t, "Host", "app.example");
    if (h1)
        apr_table_add(t, "Cookie", h1);
    apr_table_add(t, "X-Other", "entra_session=not-a-cookie");
    if (h2)
        apr_table_add(t, "cookie", h2);   /* header names are case-insensitive */
    return t;
}

static void test_cookies(apr_pool_t *p)
{
    apr_table_t *t;
    cookie_seen c = { p, "" };

    t = cookies(p, "a=1; entra_session=abc; b=2", NULL);
    CHECK_STR(entra_cookie_get(p, t, "entra_session"), "abc", "cookie among several");
    CHECK_STR(entra_cookie_get(p, t, "a"), "1", "cookie: first of the header");
    CHECK_STR(entra_cookie_get(p, t, "b"), "2", "cookie: last of the header");
    CHECK(entra_cookie_get(p, t, "c") == NULL, "cookie: absent is NULL");

    t = cookies(p, "a=1", "entra_session=xyz");
    CHECK_STR(entra_cookie_get(p, t, "entra_session"), "xyz", "cookie in a second Cookie header");
    t = cookies(p, "entra_session=one", "entra_session=two");
    CHECK_STR(entra_cookie_get(p, t, "entra_session"), "one", "cookie: first header wins");
    t = cookies(p, "entra_session=one; entra_session=two", NULL);
    CHECK_STR(entra_cookie_get(p, t, "entra_session"), "one", "cookie: first occurrence wins");

    t = cookies(p, "  a=1 ;b=2;   entra_session=abc  ;  c=3  ", NULL);
    CHECK_STR(entra_cookie_get(p, t, "entra_session"), "abc", "cookie: spaces around are ignored");
    CHECK_STR(entra_cookie_get(p, t, "c"), "3", "cookie: trailing spaces trimmed");
    CHECK_STR(entra_cookie_get(p, t, "a"), "1", "cookie: leading spaces skipped");

    t = cookies(p, "entra_session_x=evil; entra_sessionX=evil; xentra_session=evil", NULL);
    CHECK(entra_cookie_get(p, t, "entra_session") == NULL,
          "cookie: names that merely start or end like the wanted one do not match");
    t = cookies(p, "entra_session_x=evil; entra_session=good", NULL);
    CHECK_STR(entra_cookie_get(p, t, "entra_session"), "good",
              "cookie: a longer name first does not shadow the real one");

    t = cookies(p, "flag; entra_session=v=with=eq; empty=", NULL);
    CHECK_STR(entra_cookie_get(p, t, "entra_session"), "v=with=eq", "cookie: value keeps its =");
    CHECK_STR(entra_cookie_get(p, t, "empty"), "", "cookie: empty value");
    CHECK(entra_cookie_get(p, t, "flag") == NULL, "cookie: a name without = has no value");
    CHECK(entra_cookie_get(p, cookies(p, NULL, NULL), "entra_session") == NULL,
          "cookie: no Cookie header (another header's text is not read)");
    CHECK(entra_cookie_get(p, cookies(p, "", " ; ;; "), "a") == NULL, "cookie: empty headers");

    t = cookies(p, "entra_state_abc=1; other=2; entra_statex=3", "entra_state_def=4");
    entra_cookie_each(p, t, "entra_state_", collect, &c);
    CHECK_STR(c.seen, "entra_state_abc=1;entra_state_def=4;",
              "cookie_each visits every cookie with the prefix, in order");
}

static void test_cookie_strip(apr_pool_t *p)
{
    static const char *const own[] = { "entra_session", "entra_state_", NULL };
    apr_table_t *t;
    int removed = 0;

    CHECK_STR(entra_cookie_header_strip(p, "a=1; entra_session=x; b=2", own, &removed),
              "a=1; b=2", "strip: the session cookie goes, the others stay in order");
    CHECK(removed == 1, "strip: counted");
    CHECK_STR(entra_cookie_header_strip(p, "  entra_session_0=x ;a=1 ;entra_session_1=y;"
                                           "entra_state_q=z;  b = 2 ", own, &removed),
              "a=1; b = 2", "strip: chunks and state cookies, odd spacing");
    CHECK(removed == 4, "strip: counted across calls");
    CHECK_STR(entra_cookie_header_strip(p, "entra_session=x; entra_state_a=y", own, &removed),
              "", "strip: nothing left");
    CHECK_STR(entra_cookie_header_strip(p, "flag; xentra_session=1; entra_statex=2;;", own,
                                        &removed),
              "flag; xentra_session=1; entra_statex=2", "strip: look-alike names and flags stay");
    CHECK_STR(entra_cookie_header_strip(p, "", own, &removed), "", "strip: empty header");
    CHECK_STR(entra_cookie_header_strip(p, "a;b;c;d;e;f;g;h", own, &removed),
              "a; b; c; d; e; f; g; h", "strip: the re-joined header may be longer than it was");

    {
        static const char *const exact[] = { "sess=", "sess_#", "sess_pending=", "sess_state_",
                                             NULL };
        CHECK_STR(entra_cookie_header_strip(p, "sess=1; sess_0=2; sess_12=3; sess_pending=4; "
                                               "sess_state_x=5; sessX=6; sess_1a=7; sess_=8; "
                                               "session=9; sess_pendingX=10", exact, &removed),
                  "sessX=6; sess_1a=7; sess_=8; session=9; sess_pendingX=10",
                  "strip: exact names (=), chunks (# digits), prefixes; look-alikes stay");
    }

    t = cookies(p, "a=1; entra_session=x", "entra_session_0=y");
    CHECK(entra_cookies_strip(p, t, own) == 2, "strip table: two cookies in two headers");
    CHECK_STR(apr_table_get(t, "Cookie"), "a=1", "strip table: what is left");
    CHECK(apr_is_empty_table(t) == 0 && apr_table_get(t, "X-Other") != NULL,
          "strip table: other headers untouched");
    t = cookies(p, "entra_session=x", NULL);
    CHECK(entra_cookies_strip(p, t, own) == 1 && apr_table_get(t, "Cookie") == NULL,
          "strip table: a Cookie header with nothing left is dropped");
    CHECK_STR(entra_cookie_header_strip(p, "a=1; entra_session =x; entra_session_0\t=y; b=2",
                                        own, &removed),
              "a=1; b=2", "strip: a name with blanks before its '=' (parsers trim them)");
    t = cookies(p, "entra_session=x", "b=2; entra_session_1=y; c=3");
    CHECK(entra_cookies_strip(p, t, own) == 2 && apr_table_get(t, "Cookie")
          && strcmp(apr_table_get(t, "Cookie"), "b=2; c=3") == 0
          && apr_table_elts(t)->nelts == 3,
          "strip table: one header emptied (dropped), the other kept in part");
    t = cookies(p, "a=1; entra_session=x", "b=2");
    CHECK(entra_cookies_strip(p, t, own) == 1
          && strcmp(((const apr_table_entry_t *)apr_table_elts(t)->elts)[1].val, "a=1") == 0
          && strcmp(((const apr_table_entry_t *)apr_table_elts(t)->elts)[3].val, "b=2") == 0,
          "strip table: a header kept in part stays where it was; the untouched one too");
    t = cookies(p, "a=1 ;  b=2", NULL);
    CHECK(entra_cookies_strip(p, t, own) == 0
          && strcmp(apr_table_get(t, "Cookie"), "a=1 ;  b=2") == 0,
          "strip table: untouched (byte for byte) when none of ours is there");
}

/* What a connection's kept session is keyed on, and how its stripped
 * header is put back (store.c, authn.c). */
static void test_cookie_header_only(apr_pool_t *p)
{
    apr_table_t *t = cookies(p, "a=1; entra_session=x", NULL);
    const char *only = entra_cookie_header_only(t);

    CHECK_STR(only, "a=1; entra_session=x", "only: the one Cookie header");
    CHECK(entra_cookie_header_only(cookies(p, "a=1", "b=2")) == NULL,
          "only: none when there are two");
    t = apr_table_make(p, 2);
    apr_table_setn(t, "X-Other", "1");
    CHECK(entra_cookie_header_only(t) == NULL, "only: none when there is none");
    apr_table_setn(t, "cOOKIE", "c=3");
    CHECK_STR(entra_cookie_header_only(t), "c=3", "only: the name in any case");

    t = cookies(p, "a=1; entra_session=x", NULL);
    only = entra_cookie_header_only(t);
    CHECK(entra_cookie_header_replace(t, apr_pstrdup(p, only), "a=1") == 0
          && apr_table_get(t, "Cookie") == only,
          "replace: not when the header is another string, even with the same text");
    CHECK(entra_cookie_header_replace(t, NULL, "a=1") == 0, "replace: not without a header");
    CHECK(entra_cookie_header_replace(t, only, "a=1") == 1
          && strcmp(apr_table_get(t, "Cookie"), "a=1") == 0
          && apr_table_elts(t)->nelts == 3,
          "replace: the very header found becomes the stripped one, in place");
    only = entra_cookie_header_only(t);
    CHECK(entra_cookie_header_replace(t, only, "") == 1 && apr_table_get(t, "Cookie") == NULL,
          "replace: an empty one is dropped");
    t = cookies(p, "a=1", "b=2");
    CHECK(entra_cookie_header_replace(t, apr_table_get(t, "Cookie"), "x") == 0
          && apr_table_elts(t)->nelts == 4,
          "replace: nothing when there are two Cookie headers");
}

static void test_pairs(apr_pool_t *p)
{
    apr_array_header_t *in = apr_array_make(p, 4, sizeof(entra_pair)), *out;
    unsigned char *buf;
    apr_size_t len;

    entra_pairs_add(in, "name", "Ada Lovelace");
    entra_pairs_add(in, "empty", "");
    entra_pairs_add(in, "", "nameless");
    entra_pairs_add(in, "roles", "a,b");
    buf = entra_pairs_serialize(p, in, &len);
    out = entra_pairs_parse(p, buf, len);
    CHECK(out && out->nelts == 4, "pairs round trip keeps the count");
    if (out && out->nelts == 4) {
        CHECK_STR(APR_ARRAY_IDX(out, 0, entra_pair).name, "name", "pairs: first name");
        CHECK_STR(APR_ARRAY_IDX(out, 0, entra_pair).value, "Ada Lovelace", "pairs: first value");
        CHECK_STR(APR_ARRAY_IDX(out, 1, entra_pair).value, "", "pairs: empty value");
        CHECK_STR(APR_ARRAY_IDX(out, 2, entra_pair).name, "", "pairs: empty name");
        CHECK_STR(APR_ARRAY_IDX(out, 3, entra_pair).name, "roles", "pairs: order kept");
    }
    CHECK_STR(out ? entra_pairs_get(out, "roles") : NULL, "a,b", "pairs_get finds a value");
    CHECK(out && entra_pairs_get(out, "missing") == NULL, "pairs_get: absent is NULL");

    buf = entra_pairs_serialize(p, apr_array_make(p, 1, sizeof(entra_pair)), &len);
    out = entra_pairs_parse(p, buf, len);
    CHECK(len == 0 && out && out->nelts == 0, "pairs: empty list round trip");

    CHECK(entra_pairs_parse(p, (const unsigned char *)"a\0b", 3) == NULL,
          "pairs: missing final NUL rejected");
    CHECK(entra_pairs_parse(p, (const unsigned char *)"a\0", 2) == NULL,
          "pairs: name without value rejected");
    CHECK(entra_pairs_parse(p, (const unsigned char *)"a\0b\0c\0", 6) == NULL,
          "pairs: odd number of strings rejected");
    CHECK(entra_pairs_parse(p, (const unsigned char *)"\0", 1) == NULL,
          "pairs: a lone NUL rejected");

    /* packed: the same pairs back without a scan; anything cut or grown is refused */
    buf = entra_pairs_pack(p, in, &len);
    out = entra_pairs_unpack(p, buf, len);
    CHECK(out && out->nelts == 4 && out->nalloc >= 12, "packed pairs: the count, room to grow");
    if (out && out->nelts == 4) {
        CHECK_STR(APR_ARRAY_IDX(out, 0, entra_pair).value, "Ada Lovelace", "packed: a value");
        CHECK_STR(APR_ARRAY_IDX(out, 1, entra_pair).value, "", "packed: an empty value");
        CHECK_STR(APR_ARRAY_IDX(out, 2, entra_pair).name, "", "packed: an empty name");
        CHECK_STR(APR_ARRAY_IDX(out, 3, entra_pair).name, "roles", "packed: order kept");
        CHECK_STR(entra_pairs_get(out, "roles"), "a,b", "packed: pairs_get");
    }
    {
        apr_size_t cut;
        unsigned char *longer;
        int refused = 0;
        for (cut = 0; cut < len; cut++)
            refused += entra_pairs_unpack(p, buf, cut) == NULL;
        CHECK(refused == (int)len, "packed: every shorter length refused (%d of %d)", refused,
              (int)len);
        longer = apr_palloc(p, len + 1);
        memcpy(longer, buf, len);
        longer[len] = '\0';
        CHECK(entra_pairs_unpack(p, longer, len + 1) == NULL, "packed: a longer block refused");
        buf[len - 1] = 'x';
        CHECK(entra_pairs_unpack(p, buf, len) == NULL, "packed: text without its last NUL refused");
    }
    buf = entra_pairs_pack(p, apr_array_make(p, 1, sizeof(entra_pair)), &len);
    out = entra_pairs_unpack(p, buf, len);
    CHECK(out && out->nelts == 0, "packed: an empty list round trip");
}

static void test_html_escape(apr_pool_t *p)
{
    CHECK_STR(entra_html_escape(p, "<script>alert(\"x\" & 'y')</script>"),
              "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;",
              "html escape of markup and quotes");
    CHECK_STR(entra_html_escape(p, "a\x01" "b\tc\nd\x7f" "e\x1b"), "abc\nde",
              "html escape drops control characters but keeps newline");
    CHECK_STR(entra_html_escape(p, "caf\xc3\xa9 &amp;"), "caf\xc3\xa9 &amp;amp;",
              "html escape keeps UTF-8 and escapes an existing entity again");
    CHECK_STR(entra_html_escape(p, ""), "", "html escape of nothing");
}

static void test_small(apr_pool_t *p)
{
    char *a = entra_random_token(p, 16), *b = entra_random_token(p, 16);

    CHECK(a && b && strlen(a) == 22 && strcmp(a, b) != 0, "random tokens: 16 bytes, 22 chars, differ");
    CHECK(entra_random_token(p, 65) == NULL, "random token: more than 64 bytes refused");
    CHECK_STR(entra_url_encode(p, "a b&c=d/é~-._"), "a%20b%26c%3Dd%2F%C3%A9~-._",
              "url encode keeps only unreserved characters");
    CHECK(entra_str_equal_ct("abc", "abc"), "ct equal: same");
    CHECK(!entra_str_equal_ct("abc", "abd"), "ct equal: last char differs");
    CHECK(!entra_str_equal_ct("abc", "abcd"), "ct equal: prefix is not equal");
    CHECK(!entra_str_equal_ct("", "a"), "ct equal: empty vs one");
    CHECK(entra_parse_int("0") == 0 && entra_parse_int("1700000000") == 1700000000,
          "parse_int of plain numbers");
    CHECK(entra_parse_int("999999999999999999") == 999999999999999999LL, "parse_int: 18 digits");
    CHECK(entra_parse_int("9999999999999999999") == -1, "parse_int: 19 digits refused");
    CHECK(entra_parse_int("") == -1 && entra_parse_int(NULL) == -1, "parse_int: empty");
    CHECK(entra_parse_int("-1") == -1 && entra_parse_int("+1") == -1 && entra_parse_int(" 1") == -1
          && entra_parse_int("1 ") == -1 && entra_parse_int("1e3") == -1 && entra_parse_int("0x1") == -1,
          "parse_int: signs, spaces, exponents, hex refused");
}

void suite_util(apr_pool_t *p)
{
    test_b64url(p);
    test_form(p);
    test_return_path(p);
    test_header_prefix();
    test_guid();
    test_cookies(p);
    test_cookie_strip(p);
    test_cookie_header_only(p);
    test_pairs(p);
    test_html_escape(p);
    test_small(p);
}
