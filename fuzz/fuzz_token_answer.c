/* The token endpoint's answer, through the module's own entra_token_call
 * (src/http.c replaced by fuzz/http_stub.c, which answers with the input):
 * the first byte picks the HTTP status (low 3 bits) and the client
 * authentication (bit 3: client_secret_basic, else client_secret_post);
 * the rest is the body. Oracles:
 * - the request carries the grant, this client id and (post) the secret,
 *   each reading back exactly through entra_form_parse;
 * - the verdict is exactly the rule of token.h: an OAuth error object with
 *   a 4xx is REFUSED ("HTTP <status>"), with a 5xx UNAVAILABLE; anything
 *   but a 200 JSON object is UNAVAILABLE; a 200 object is OK exactly when
 *   token_type is "Bearer" in any case;
 * - OK gives exactly the answer's id_token, access_token, refresh_token;
 *   entra_token_expires_in is v2's positive integer or v1's digit string
 *   (below 10^18 both), 0 otherwise, and small enough that the callers' now + expires_in
 *   cannot overflow;
 * - every reason and log text is one line of printable ASCII (no log
 *   injection), entra_log_safe bounded. */
#include "fuzz_common.h"
#include "http_stub.h"
#include "../src/config.h"
#include "../src/jwt.h"
#include "../src/token.h"
#include "../src/util.h"

#include <apr_strings.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

static const long statuses[] = { 200, 400, 401, 500, 503, 200, 302, 0 };

#define TOKEN_URL FUZZ_AUTHORITY "/" FUZZ_TENANT "/oauth2/v2.0/token"
#define GRANT "grant_type=authorization_code&code=0.AX-fuzz-code&redirect_uri=" \
              "https%3A%2F%2Fapp.example.com%2F.auth%2Fcallback&code_verifier=v"
/* a secret with characters that must be percent-encoded */
#define SECRET "fz~8Q+a/b=c&d%e f?g#h"
/* the latest second the callers' now + expires_in may describe: the
 * module's own limit for NumericDates (jwt.c: before the year 5000) */
#define TIME_LIMIT ((apr_int64_t)95617584000LL)

static entra_server_conf sc;
static entra_metadata meta;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init();
    sc.client_id = FUZZ_CLIENT_ID;
    sc.client_secret = SECRET;
    sc.clock_skew = sc.http_timeout = -1;
    meta.issuer = FUZZ_ISSUER;
    meta.token_endpoint = TOKEN_URL;
    meta.authorization_endpoint = FUZZ_AUTHORITY "/" FUZZ_TENANT "/oauth2/v2.0/authorize";
    meta.jwks_uri = FUZZ_AUTHORITY "/" FUZZ_TENANT "/discovery/v2.0/keys";
    return 0;
}

/* One line, printable ASCII; at most `max` characters when max > 0. */
static void check_log_text(const char *what, const char *out, size_t max)
{
    const char *c;

    FUZZ_CHECK(out != NULL, "no %s", what);
    FUZZ_CHECK(max == 0 || strlen(out) <= max, "%s of %zu characters", what, strlen(out));
    for (c = out; *c; c++)
        FUZZ_CHECK((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f,
                   "%s with byte 0x%02x", what, (unsigned char)*c);
}

static void check_request(apr_pool_t *p, int basic)
{
    apr_table_t *form = entra_form_parse(p, fuzz_http_last_form());
    const char *v;

    FUZZ_CHECK(fuzz_http_calls() == 1, "%d requests for one token call", fuzz_http_calls());
    FUZZ_CHECK(strcmp(fuzz_http_last_url(), TOKEN_URL) == 0, "request to %s",
               fuzz_http_last_url());
    FUZZ_CHECK(form, "the request body does not parse: %s", fuzz_http_last_form());
    FUZZ_CHECK((v = apr_table_get(form, "grant_type")) && strcmp(v, "authorization_code") == 0,
               "grant_type lost");
    FUZZ_CHECK((v = apr_table_get(form, "client_id")) && strcmp(v, FUZZ_CLIENT_ID) == 0,
               "client_id %s", v ? v : "(none)");
    if (basic)
        FUZZ_CHECK(!apr_table_get(form, "client_secret"), "the secret in the body with Basic");
    else
        FUZZ_CHECK((v = apr_table_get(form, "client_secret")) && strcmp(v, SECRET) == 0,
                   "client_secret reads back as %s", v ? v : "(none)");
}

/* the same string member in both, byte for byte (or absent/not a string in both) */
static void check_same_string(json_t *got, json_t *want, const char *name)
{
    json_t *a = json_object_get(got, name), *b = json_object_get(want, name);

    if (!json_is_string(b)) {
        FUZZ_CHECK(!json_is_string(a), "%s appeared", name);
        return;
    }
    FUZZ_CHECK(json_is_string(a) && json_string_length(a) == json_string_length(b)
               && memcmp(json_string_value(a), json_string_value(b), json_string_length(b)) == 0,
               "%s is not the answer's", name);
}

/* v2: a positive JSON integer; v1: a string of 1-18 digits; else 0. */
static void check_expires_in(json_t *answer)
{
    json_t *v = json_object_get(answer, "expires_in");
    apr_int64_t got = entra_token_expires_in(answer), want = 0;

    FUZZ_CHECK(got >= 0, "a negative expires_in");
    FUZZ_CHECK(got <= INT64_MAX - TIME_LIMIT,
               "expires_in %" APR_INT64_T_FMT ": now + expires_in overflows in the callers", got);
    if (json_is_integer(v) && json_integer_value(v) > 0
        && json_integer_value(v) < 1000000000000000000LL)
        want = (apr_int64_t)json_integer_value(v);
    else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = strlen(s);
        if (n >= 1 && n <= 18 && strspn(s, "0123456789") == n)
            want = (apr_int64_t)strtoll(s, NULL, 10);
    }
    FUZZ_CHECK(got == want, "expires_in %" APR_INT64_T_FMT ", want %" APR_INT64_T_FMT,
               got, want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    unsigned b = fuzz_take_byte(&data, &size);
    long status = statuses[b % 8];
    int basic = (b & 8) != 0;
    char *body = apr_palloc(p, size + 1);
    json_t *answer = NULL, *want;
    const char *why = NULL, *type;
    entra_token_status got, expect;

    memcpy(body, data, size);
    body[size] = '\0';
    sc.token_auth = basic ? ENTRA_AUTH_SECRET_BASIC : ENTRA_AUTH_SECRET_POST;
    fuzz_http_reset();
    fuzz_http_route(TOKEN_URL, status, body, size);
    got = entra_token_call(p, &sc, &meta, GRANT, &answer, &why);
    check_request(p, basic);

    /* what token.h says the verdict is */
    want = entra_json_pool_own(p, json_loadb(body, size, 0, NULL));
    type = json_string_value(json_object_get(want, "token_type"));
    if (json_is_object(want) && status >= 400 && json_is_string(json_object_get(want, "error")))
        expect = status < 500 ? ENTRA_TOKEN_REFUSED : ENTRA_TOKEN_UNAVAILABLE;
    else if (!json_is_object(want) || status != 200)
        expect = ENTRA_TOKEN_UNAVAILABLE;
    else
        expect = type && strcasecmp(type, "Bearer") == 0 ? ENTRA_TOKEN_OK
                                                          : ENTRA_TOKEN_UNAVAILABLE;
    FUZZ_SAY("fuzz_token_answer: HTTP %ld %s: %s", status, basic ? "basic" : "post",
             got == ENTRA_TOKEN_OK ? "OK" : why);
    FUZZ_CHECK(got == expect, "HTTP %ld: verdict %d, want %d (%s)", status, (int)got,
               (int)expect, why ? why : "");
    if (got == ENTRA_TOKEN_OK) {
        FUZZ_CHECK(json_is_object(answer), "OK without the answer");
        FUZZ_CHECK(entra_token_type_bearer(answer), "OK for token_type %s", type);
        check_same_string(answer, want, "id_token");
        check_same_string(answer, want, "access_token");
        check_same_string(answer, want, "refresh_token");
        check_same_string(answer, want, "token_type");
        check_expires_in(answer);
    }
    else {
        check_log_text("reason", why, 0);
        if (got == ENTRA_TOKEN_REFUSED) {
            FUZZ_CHECK(strcmp(why, apr_psprintf(p, "HTTP %ld", status)) == 0,
                       "refused with reason %s", why);
            /* what the callers log about it */
            check_log_text("error text", entra_token_error_text(p, answer), 4 * 200 + 100);
        }
        else if (status == 200 && json_is_object(want))
            FUZZ_CHECK(strstr(why, "not Bearer"), "a 200 object refused for: %s", why);
    }
    /* any object the module logs, and any text at all on its way to a log */
    if (json_is_object(want)) {
        check_log_text("error text", entra_token_error_text(p, want), 4 * 200 + 100);
        (void)entra_token_expires_in(want);
    }
    check_log_text("log_safe", entra_log_safe(p, body), 200);
    FUZZ_CHECK(strlen(entra_log_safe(p, body)) <= strcspn(body, "\r\n"),
               "log_safe went past the first line");
    fuzz_end(p);
    return 0;
}
