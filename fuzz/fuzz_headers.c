/* Request headers a client controls completely:
 * - entra_claims_strip_spoofed: after it, no header that could pose as one
 *   the module sets (X-Entra-*, in any case, '_' for '-', repeated) is
 *   left, and every other header is left alone;
 * - the Cookie parser (entra_cookie_get / entra_cookie_each) the session,
 *   its chunks and the state cookies are read with;
 * - entra_cookies_strip, which hides those cookies from the backend: after
 *   it the parser finds none of them, a second pass removes nothing, and
 *   every other cookie is still there.
 * Input: "Name: value" lines. */
#include "fuzz_common.h"
#include "../src/claims.h"
#include "../src/util.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init();
    return 0;
}

/* An independent spelling of the rule: lowercase, '_' read as '-'. */
static int poses_as_ours(const char *name)
{
    static const char prefix[] = "x-entra-";
    size_t i;

    for (i = 0; i < sizeof(prefix) - 1; i++) {
        char c = (char)apr_tolower((unsigned char)name[i]);
        if (c == '_')
            c = '-';
        if (c != prefix[i])
            return 0;
    }
    return 1;
}

typedef struct {
    const char *prefix;
    int seen;
} cookie_ctx;

static void each_cookie(void *ctx, const char *name, const char *value)
{
    cookie_ctx *c = ctx;

    FUZZ_CHECK(strncmp(name, c->prefix, strlen(c->prefix)) == 0,
               "cookie \"%s\" does not start with %s", name, c->prefix);
    FUZZ_CHECK(!strchr(name, ';') && !strchr(value, ';'), "a ';' inside cookie %s", name);
    FUZZ_CHECK(!strchr(name, '='), "a '=' inside cookie name %s", name);
    c->seen++;
}

static void ignore_cookie(void *ctx, const char *name, const char *value)
{
    (void)value;
    FUZZ_CHECK(0, "cookie %s survived the stripping (%s)", name, (const char *)ctx);
}

static void count_cookie(void *ctx, const char *name, const char *value)
{
    (void)name;
    (void)value;
    ++*(int *)ctx;
}

/* Cookies with a value (the parser skips flags), ours or not. */
static int cookie_count(apr_pool_t *p, const apr_table_t *headers)
{
    int n = 0;

    entra_cookie_each(p, headers, "", count_cookie, &n);
    return n;
}

static void check_cookie_strip(apr_pool_t *p, apr_table_t *headers)
{
    static const char *const own[] = { "entra_session", "entra_state_", NULL };
    int before = cookie_count(p, headers), ours = 0, removed;

    entra_cookie_each(p, headers, "entra_session", count_cookie, &ours);
    entra_cookie_each(p, headers, "entra_state_", count_cookie, &ours);
    removed = entra_cookies_strip(p, headers, own);

    FUZZ_CHECK(removed >= 0, "negative count");
    FUZZ_CHECK(entra_cookie_get(p, headers, "entra_session") == NULL, "entra_session survived");
    entra_cookie_each(p, headers, "entra_session", ignore_cookie, "session prefix");
    entra_cookie_each(p, headers, "entra_state_", ignore_cookie, "state prefix");
    FUZZ_CHECK(entra_cookies_strip(p, headers, own) == 0, "a second strip removed more");
    FUZZ_CHECK(removed >= ours, "removed %d, %d of ours were there", removed, ours);
    FUZZ_CHECK(cookie_count(p, headers) == before - ours, "%d cookies left of %d, %d ours",
               cookie_count(p, headers), before, ours);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    apr_table_t *headers = fuzz_headers(p, fuzz_cstr(p, data, size));
    const apr_array_header_t *arr = apr_table_elts(headers);
    int before = arr->nelts, spoofed = 0, removed, i;
    const char *session, *v;
    cookie_ctx cc = { "entra_state_", 0 };
    apr_table_t *copy = apr_table_copy(p, headers);

    /* Cookies first: the module reads them after the stripping, which
     * never touches Cookie headers. */
    session = entra_cookie_get(p, headers, "entra_session");
    if (session)
        FUZZ_CHECK(!strchr(session, ';'), "a ';' inside the session cookie");
    entra_cookie_each(p, headers, "entra_state_", each_cookie, &cc);
    cc.prefix = "entra_session_";
    entra_cookie_each(p, headers, "entra_session_", each_cookie, &cc);

    for (i = 0; i < arr->nelts; i++)
        spoofed += poses_as_ours(APR_ARRAY_IDX(arr, i, apr_table_entry_t).key);
    removed = entra_claims_strip_spoofed(p, headers);
    FUZZ_CHECK(removed == spoofed, "removed %d header(s), %d pose as the module's", removed,
               spoofed);
    arr = apr_table_elts(headers);
    FUZZ_CHECK(arr->nelts == before - spoofed, "%d headers left of %d, %d spoofed", arr->nelts,
               before, spoofed);
    for (i = 0; i < arr->nelts; i++) {
        const apr_table_entry_t *e = &APR_ARRAY_IDX(arr, i, apr_table_entry_t);
        FUZZ_CHECK(!poses_as_ours(e->key), "header \"%s\" survived the stripping", e->key);
        /* ...and what is left is what the client sent */
        v = apr_table_get(copy, e->key);
        FUZZ_CHECK(v != NULL, "header \"%s\" appeared from nowhere", e->key);
    }
    /* A second pass finds nothing more. */
    FUZZ_CHECK(entra_claims_strip_spoofed(p, headers) == 0, "stripping twice removed more");
    check_cookie_strip(p, headers);
    fuzz_end(p);
    return 0;
}
