/* The callback's query string and form_post body (entra_form_parse), and
 * what is built from their values: percent-encoding for the authorize URL
 * (login_hint, domain_hint) and HTML escaping for the error page
 * (error_description from Entra, or from anyone who crafts a link). */
#include "fuzz_common.h"
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

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
           || c == '-' || c == '.' || c == '_' || c == '~';
}

static void check_url_encoded(const char *in, const char *enc)
{
    const char *c;

    for (c = enc; *c; c++) {
        if (*c == '%') {
            FUZZ_CHECK(strchr("0123456789ABCDEF", c[1]) && c[1] && strchr("0123456789ABCDEF", c[2])
                       && c[2], "url_encode wrote a bad escape: %s", enc);
            c += 2;
        }
        else
            FUZZ_CHECK(unreserved((unsigned char)*c), "url_encode let 0x%02x through",
                       (unsigned char)*c);
    }
    (void)in;
}

/* No markup, no attribute breakout, no control characters but newline;
 * '&' only as the start of one of the five entities. */
static void check_html_escaped(const char *out)
{
    const char *c;
    static const char *const entities[] = { "&amp;", "&lt;", "&gt;", "&quot;", "&#39;", NULL };

    for (c = out; *c; c++) {
        unsigned char u = (unsigned char)*c;
        FUZZ_CHECK(u != '<' && u != '>' && u != '"' && u != '\'', "html_escape let %c through", u);
        FUZZ_CHECK(u >= 0x20 || u == '\n', "html_escape let control 0x%02x through", u);
        FUZZ_CHECK(u != 0x7f, "html_escape let DEL through");
        if (u == '&') {
            int i, ok = 0;
            for (i = 0; entities[i]; i++)
                ok |= strncmp(c, entities[i], strlen(entities[i])) == 0;
            FUZZ_CHECK(ok, "html_escape left a bare '&'");
        }
    }
}

typedef struct {
    apr_pool_t *p;
    char *rebuilt;
} rebuild_ctx;

static int rebuild(void *ctx, const char *key, const char *value)
{
    rebuild_ctx *r = ctx;

    check_url_encoded(key, entra_url_encode(r->p, key));
    check_html_escaped(entra_html_escape(r->p, value));
    r->rebuilt = apr_pstrcat(r->p, r->rebuilt, *r->rebuilt ? "&" : "",
                             entra_url_encode(r->p, key), "=",
                             entra_url_encode(r->p, value), NULL);
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    char *text = fuzz_cstr(p, data, size);
    apr_table_t *t = entra_form_parse(p, text);

    if (t) {
        /* Encoding what was parsed and parsing that again gives the same. */
        rebuild_ctx r = { p, "" };
        apr_table_t *again;
        const apr_array_header_t *a, *b;
        int i;

        apr_table_do(rebuild, &r, t, NULL);
        again = entra_form_parse(p, r.rebuilt);
        FUZZ_CHECK(again != NULL, "re-encoded form does not parse: %s", r.rebuilt);
        a = apr_table_elts(t);
        b = apr_table_elts(again);
        FUZZ_CHECK(a->nelts == b->nelts, "%d fields, then %d", a->nelts, b->nelts);
        for (i = 0; i < a->nelts; i++) {
            const apr_table_entry_t *x = &APR_ARRAY_IDX(a, i, apr_table_entry_t);
            const apr_table_entry_t *y = &APR_ARRAY_IDX(b, i, apr_table_entry_t);
            FUZZ_CHECK(strcmp(x->key, y->key) == 0 && strcmp(x->val, y->val) == 0,
                       "field %d changed in the round trip", i);
        }
    }
    check_html_escaped(entra_html_escape(p, text));
    check_url_encoded(text, entra_url_encode(p, text));
    fuzz_end(p);
    return 0;
}
