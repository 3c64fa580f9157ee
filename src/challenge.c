/* Claims challenges and the claims parameter (see challenge.h). */
#include "challenge.h"

#include <apr_base64.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One challenge of a WWW-Authenticate header: its scheme, and the two
 * parameters that matter here. `bad`: a parameter repeated, a value that
 * is not a token or a quoted string, a token68. */
typedef struct {
    const char *scheme;
    const char *error;
    const char *claims;
    int bad;
} challenge;

/* RFC 7230 tchar */
static int tchar(int c)
{
    return c && (apr_isalnum(c) || strchr("!#$%&'*+-.^_`|~", c));
}

static const char *token(apr_pool_t *p, const char **at)
{
    const char *start = *at;

    while (tchar((unsigned char)**at))
        (*at)++;
    return apr_pstrmemdup(p, start, (apr_size_t)(*at - start));
}

static void skip_ows(const char **at)
{
    while (**at == ' ' || **at == '\t')
        (*at)++;
}

/* A quoted-string at *at (on its opening quote): its value, unescaped;
 * NULL when unterminated or holding a control character. */
static const char *quoted(apr_pool_t *p, const char **at)
{
    const char *c = *at + 1, *end = c;
    char *out, *o;

    /* the value's own length first: a header of many short quoted values
     * must not cost a copy of its whole rest for each */
    while (*end && *end != '"')
        end += *end == '\\' && end[1] ? 2 : 1;
    out = o = apr_palloc(p, (apr_size_t)(end - c) + 1);
    for (; *c && *c != '"'; c++) {
        if (*c == '\\' && c[1])
            c++;
        if ((unsigned char)*c < 0x20 && *c != '\t')
            return NULL;
        if (*c == 0x7f)
            return NULL;
        *o++ = *c;
    }
    if (*c != '"')
        return NULL;
    *o = '\0';
    *at = c + 1;
    return out;
}

static void set_param(challenge *ch, const char *name, const char *value)
{
    const char **slot = strcasecmp(name, "error") == 0 ? &ch->error
                        : strcasecmp(name, "claims") == 0 ? &ch->claims : NULL;

    if (!slot)
        return;
    if (*slot)
        ch->bad = 1;      /* a parameter twice: which one counts is anyone's guess */
    *slot = value;
}

/* The challenges of a header value; NULL when it does not parse at all. */
static apr_array_header_t *challenges(apr_pool_t *p, const char *value)
{
    apr_array_header_t *all = apr_array_make(p, 2, sizeof(challenge));
    challenge *cur = NULL;
    const char *at = value;

    for (;;) {
        const char *name, *v;
        while (*at == ' ' || *at == '\t' || *at == ',')
            at++;
        if (!*at)
            return all;
        name = token(p, &at);
        if (!*name)
            return NULL;
        skip_ows(&at);
        if (*at != '=') {
            cur = apr_array_push(all);
            memset(cur, 0, sizeof(*cur));
            cur->scheme = name;
            continue;
        }
        if (!cur)
            return NULL;
        at++;
        skip_ows(&at);
        if (*at == '"') {
            if (!(v = quoted(p, &at)))
                return NULL;
        }
        else if (!*(v = token(p, &at))) {
            /* a token68 ("abc=="): not Bearer's way */
            cur->bad = 1;
            while (*at == '=')
                at++;
            continue;
        }
        set_param(cur, name, v);
    }
}

static int is_claims_challenge(const challenge *ch)
{
    return strcasecmp(ch->scheme, "Bearer") == 0 && ch->error
           && strcmp(ch->error, "insufficient_claims") == 0;
}

/* Nested no deeper than `depth` objects/arrays. */
static int shallow(json_t *v, int depth)
{
    const char *k;
    json_t *m;
    size_t i;

    if (!json_is_object(v) && !json_is_array(v))
        return 1;
    if (depth <= 0)
        return 0;
    if (json_is_object(v)) {
        json_object_foreach(v, k, m) {
            if (!shallow(m, depth - 1))
                return 0;
        }
    }
    else {
        json_array_foreach(v, i, m) {
            if (!shallow(m, depth - 1))
                return 0;
        }
    }
    return 1;
}

/* The claims JSON a request may carry (challenge.h): compact, or NULL. */
static const char *checked_json(apr_pool_t *p, const char *text, apr_size_t len,
                                const char **why)
{
    json_error_t err;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err), *m;
    const char *k, *out = NULL;
    char *dumped;

    *why = "claims is not a JSON object";
    if (json_is_object(root) && json_object_size(root) > 0) {
        *why = NULL;
        json_object_foreach(root, k, m) {
            if ((strcmp(k, "access_token") != 0 && strcmp(k, "id_token") != 0
                 && strcmp(k, "userinfo") != 0) || !json_is_object(m))
                *why = "claims holds a member other than access_token, id_token or userinfo "
                       "objects";
        }
        if (!*why && !shallow(root, 5))
            *why = "claims is nested too deep";
        if (!*why && (dumped = json_dumps(root, JSON_COMPACT))) {
            /* re-serialized, numbers can grow (0.1 prints with 17 digits):
             * the bound holds for what goes out too */
            if (strlen(dumped) > ENTRA_CHALLENGE_MAX)
                *why = "the claims grow too big once re-serialized";
            else
                out = apr_pstrdup(p, dumped);
            free(dumped);
        }
        else if (!*why)
            *why = "out of memory";
    }
    json_decref(root);
    return out;
}

/* Base64 (standard or URL-safe; padding optional) of at most
 * ENTRA_CHALLENGE_MAX bytes, decoded; NULL otherwise. */
static const char *decode(apr_pool_t *p, const char *b64, apr_size_t *len)
{
    apr_size_t n = strlen(b64), i, pad = 0;
    char *std;
    unsigned char *out;

    if (n == 0 || n > (ENTRA_CHALLENGE_MAX + 2) / 3 * 4)
        return NULL;
    while (n > 0 && b64[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    if (n % 4 == 1 || (pad && (n + pad) % 4 != 0))
        return NULL;
    std = apr_palloc(p, n + 3);
    for (i = 0; i < n; i++) {
        char c = b64[i];
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!apr_isalnum(c) && c != '+' && c != '/')
            return NULL;
        std[i] = c;
    }
    while (i % 4)
        std[i++] = '=';
    std[i] = '\0';
    out = apr_palloc(p, (apr_size_t)apr_base64_decode_len(std) + 1);
    *len = (apr_size_t)apr_base64_decode_binary(out, std);
    if (*len == 0 || *len > ENTRA_CHALLENGE_MAX || memchr(out, '\0', *len))
        return NULL;
    out[*len] = '\0';
    return (const char *)out;
}

const char *entra_challenge_parse_value(apr_pool_t *p, const char *value, const char **why)
{
    apr_array_header_t *all;
    const char *claims = NULL, *json;
    apr_size_t len;
    int i;

    *why = NULL;
    if (!value || !(all = challenges(p, value))) {
        /* not ours to judge unless it names insufficient_claims */
        if (value && strstr(value, "insufficient_claims"))
            *why = "WWW-Authenticate does not parse";
        return NULL;
    }
    for (i = 0; i < all->nelts; i++) {
        const challenge *ch = &APR_ARRAY_IDX(all, i, challenge);
        if (!is_claims_challenge(ch))
            continue;
        if (ch->bad || !ch->claims) {
            *why = ch->bad ? "the insufficient_claims challenge repeats a parameter or holds "
                             "a token68"
                           : "the insufficient_claims challenge has no claims";
            return NULL;
        }
        if (claims && strcmp(claims, ch->claims) != 0) {
            *why = "several insufficient_claims challenges that ask for different claims";
            return NULL;
        }
        claims = ch->claims;
    }
    if (!claims)
        return NULL;
    if (!(json = decode(p, claims, &len))) {
        *why = "claims is not base64 of at most " APR_STRINGIFY(ENTRA_CHALLENGE_MAX) " bytes";
        return NULL;
    }
    return checked_json(p, json, len, why);
}

typedef struct {
    apr_pool_t *p;
    const char *all;
    apr_size_t len;
} gather;

static int gather_one(void *rec, const char *key, const char *value)
{
    gather *g = rec;
    (void)key;

    g->len += strlen(value) + 2;
    g->all = g->all ? apr_pstrcat(g->p, g->all, ", ", value, NULL) : value;
    return g->len <= ENTRA_CHALLENGE_HEADERS_MAX;
}

const char *entra_challenge_parse(apr_pool_t *p, const apr_table_t *headers, const char **why)
{
    gather g = { p, NULL, 0 };

    *why = NULL;
    if (!headers)
        return NULL;
    apr_table_do(gather_one, &g, headers, "WWW-Authenticate", NULL);
    if (g.len > ENTRA_CHALLENGE_HEADERS_MAX) {
        if (strstr(g.all, "insufficient_claims"))
            *why = "WWW-Authenticate is longer than " APR_STRINGIFY(ENTRA_CHALLENGE_HEADERS_MAX)
                   " bytes";
        return NULL;
    }
    return g.all ? entra_challenge_parse_value(p, g.all, why) : NULL;
}

const char *entra_claims_request(apr_pool_t *p, const char *claims,
                                 const apr_array_header_t *caps)
{
    json_t *root, *at, *values;
    const char *out = NULL;
    char *dumped;
    int i;

    if (!claims && (!caps || !caps->nelts))
        return NULL;
    if (!caps || !caps->nelts)
        return claims;
    root = claims ? json_loads(claims, JSON_REJECT_DUPLICATES, NULL) : json_object();
    at = json_object_get(root, "access_token");
    if (!json_is_object(root) || (at && !json_is_object(at))) {
        json_decref(root);
        return NULL;
    }
    if (!at) {
        at = json_object();
        json_object_set_new(root, "access_token", at);
    }
    values = json_array();
    for (i = 0; i < caps->nelts; i++)
        json_array_append_new(values, json_string(APR_ARRAY_IDX(caps, i, const char *)));
    json_object_set_new(at, "xms_cc", json_pack("{s:o}", "values", values));
    if ((dumped = json_dumps(root, JSON_COMPACT))) {
        out = apr_pstrdup(p, dumped);
        free(dumped);
    }
    json_decref(root);
    return out;
}
