/* The sign-in callback's steps on what a browser (or an attacker) sends:
 * the query string (or form_post body) parsed, the state parameter checked,
 * the state cookie it names found among the Cookie headers and opened, an
 * Entra error shown escaped, the return path checked. Input: the query on
 * the first line, Cookie headers on the following ones. The seeds are real
 * callbacks: a sealed state cookie and the query that belongs to it.
 * Oracle: a state only opens for its own parameter, unexpired, the page text
 * for error_description carries no markup and its log text no control
 * characters. */
#include "fuzz_common.h"
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

static void check_log_safe(const char *out)
{
    const char *c;

    FUZZ_CHECK(strlen(out) <= 200, "log_safe gave %zu characters", strlen(out));
    for (c = out; *c; c++)
        FUZZ_CHECK((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f,
                   "log_safe let byte 0x%02x through", (unsigned char)*c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    char *query = fuzz_take_line(p, &data, &size);
    apr_table_t *headers = apr_table_make(p, 4);
    apr_table_t *params;
    const char *state, *cookie, *why = NULL, *error, *desc;
    entra_state *st = NULL;

    while (size) {
        char *line = fuzz_take_line(p, &data, &size);
        apr_table_add(headers, "Cookie", line);
    }
    params = entra_form_parse(p, query);
    if (!params)
        goto done;
    state = apr_table_get(params, "state");
    if (entra_state_param_ok(state)) {
        cookie = entra_cookie_get(p, headers, apr_pstrcat(p, ENTRA_STATE_COOKIE_PREFIX, state,
                                                          NULL));
        if (cookie) {
            st = entra_state_open(p, fuzz_ring(), cookie, state, FUZZ_NOW, &why);
            FUZZ_SAY("fuzz_callback: %s", st ? "state opened" : why);
            if (st) {
                FUZZ_CHECK(strcmp(st->state, state) == 0, "state opened for another parameter");
                FUZZ_CHECK(st->expires >= FUZZ_NOW, "an expired state opened");
                entra_safe_return_path(p, st->return_to, NULL);
            }
            else
                FUZZ_CHECK(why && *why, "refused without a reason");
        }
    }
    else
        FUZZ_CHECK(!state || strlen(state) < 16 || strlen(state) > 64
                   || strspn(state, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                    "0123456789-_") != strlen(state),
                   "a well-formed state parameter refused: %s", state);
    error = apr_table_get(params, "error");
    desc = apr_table_get(params, "error_description");
    if (st && error) {
        const char *first = desc ? apr_pstrmemdup(p, desc, strcspn(desc, "\r\n")) : "";
        const char *html = entra_html_escape(p, *first ? first : error);
        FUZZ_CHECK(!strpbrk(html, "<>\"'"), "markup in the error page: %s", html);
    }
    /* what reaches the log line about it */
    check_log_safe(entra_log_safe(p, error));
    check_log_safe(entra_log_safe(p, desc));
    (void)apr_table_get(params, "code");
done:
    fuzz_end(p);
    return 0;
}
