/* The token endpoint's answer, as entra_token_call and the callback read
 * it: JSON (or not) with a 200 or an error status; an OAuth error becomes a
 * log line through entra_token_error_text; a success must carry an id_token.
 * The first byte picks the HTTP status. Oracle: the log text is bounded and
 * printable ASCII (no log injection: entra_log_safe, also on the raw body),
 * expires_in is never negative. */
#include "fuzz_common.h"
#include "../src/jwt.h"
#include "../src/token.h"
#include "../src/util.h"

#include <string.h>

static const long statuses[] = { 200, 400, 401, 500, 503, 200, 302, 0 };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init();
    return 0;
}

/* One line, at most 200 characters, printable ASCII. */
static void check_log_safe(const char *out, const char *in)
{
    const char *c;

    FUZZ_CHECK(strlen(out) <= 200, "log_safe gave %zu characters", strlen(out));
    FUZZ_CHECK(strlen(out) <= strcspn(in, "\r\n"), "log_safe went past the first line");
    for (c = out; *c; c++)
        FUZZ_CHECK((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f,
                   "log_safe let byte 0x%02x through", (unsigned char)*c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    long status = statuses[fuzz_take_byte(&data, &size) % 8];
    /* the HTTP client hands over a NUL-terminated copy */
    char *body = apr_palloc(p, size + 1);
    json_t *answer;

    memcpy(body, data, size);
    body[size] = '\0';
    answer = entra_json_pool_own(p, json_loadb(body, size, 0, NULL));
    if (json_is_object(answer) && status != 200
        && json_is_string(json_object_get(answer, "error"))) {
        const char *text = entra_token_error_text(p, answer), *c;
        FUZZ_CHECK(strlen(text) < 4 * 200 + 100, "a log text of %zu bytes", strlen(text));
        for (c = text; *c; c++)
            FUZZ_CHECK((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f,
                       "log text with byte 0x%02x", (unsigned char)*c);
        (void)strcmp(json_string_value(json_object_get(answer, "error")), "invalid_grant");
    }
    else if (json_is_object(answer) && status == 200) {
        const char *id_token = json_string_value(json_object_get(answer, "id_token"));
        FUZZ_CHECK(entra_token_expires_in(answer) >= 0, "a negative expires_in");
        if (id_token)
            (void)strlen(id_token);
        (void)json_string_value(json_object_get(answer, "access_token"));
        (void)json_string_value(json_object_get(answer, "refresh_token"));
    }
    /* an error text is asked of any object the module logs */
    if (json_is_object(answer))
        entra_token_error_text(p, answer);
    /* and any text at all goes through entra_log_safe on its way to a log */
    check_log_safe(entra_log_safe(p, body), body);
    fuzz_end(p);
    return 0;
}
