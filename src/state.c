/* One login attempt, sealed in its own cookie (see state.h). */
#include "state.h"
#include "util.h"

#include <apr_strings.h>
#include <string.h>

#define PURPOSE "entra-state-v1"

entra_state *entra_state_new(apr_pool_t *p, const char *return_to,
                             const char *redirect_uri, apr_int64_t now)
{
    entra_state *st = apr_pcalloc(p, sizeof(*st));

    st->state = entra_random_token(p, 16);
    st->nonce = entra_random_token(p, 16);
    /* 32 random bytes give a 43-character verifier, RFC 7636's minimum. */
    st->code_verifier = entra_random_token(p, 32);
    if (!st->state || !st->nonce || !st->code_verifier)
        return NULL;
    st->return_to = return_to;
    st->redirect_uri = redirect_uri;
    st->expires = now + ENTRA_STATE_TTL;
    st->max_age = -1;
    st->cookie_bytes = -1;
    return st;
}

char *entra_state_seal(apr_pool_t *p, const entra_keyring *ring, const entra_state *st)
{
    apr_array_header_t *pairs = apr_array_make(p, 6, sizeof(entra_pair));
    unsigned char *plain;
    apr_size_t len;

    entra_pairs_add(pairs, "s", st->state);
    entra_pairs_add(pairs, "n", st->nonce);
    entra_pairs_add(pairs, "v", st->code_verifier);
    entra_pairs_add(pairs, "r", st->return_to);
    entra_pairs_add(pairs, "u", st->redirect_uri);
    entra_pairs_add(pairs, "x", apr_psprintf(p, "%" APR_INT64_T_FMT, st->expires));
    if (st->acr)
        entra_pairs_add(pairs, "a", st->acr);
    if (st->max_age >= 0)
        entra_pairs_add(pairs, "m", apr_psprintf(p, "%" APR_INT64_T_FMT, st->max_age));
    if (st->oid && st->tid) {
        entra_pairs_add(pairs, "o", st->oid);
        entra_pairs_add(pairs, "t", st->tid);
    }
    if (st->claims_challenge)
        entra_pairs_add(pairs, "c", "1");
    if (st->oid && st->cookie_bytes >= 0)
        entra_pairs_add(pairs, "b", apr_psprintf(p, "%" APR_INT64_T_FMT, st->cookie_bytes));
    plain = entra_pairs_serialize(p, pairs, &len);
    return entra_seal(p, ring, PURPOSE, plain, len);
}

entra_state *entra_state_open(apr_pool_t *p, const entra_keyring *ring, const char *cookie,
                              const char *state_param, apr_int64_t now, const char **why)
{
    apr_array_header_t *pairs;
    unsigned char *plain;
    apr_size_t len;
    entra_state *st;

    plain = entra_open(p, ring, PURPOSE, cookie, &len);
    if (!plain || !(pairs = entra_pairs_parse(p, plain, len))) {
        *why = "state cookie does not open (tampered, or sealed with another key)";
        return NULL;
    }
    st = apr_pcalloc(p, sizeof(*st));
    st->state = entra_pairs_get(pairs, "s");
    st->nonce = entra_pairs_get(pairs, "n");
    st->code_verifier = entra_pairs_get(pairs, "v");
    st->return_to = entra_pairs_get(pairs, "r");
    st->redirect_uri = entra_pairs_get(pairs, "u");
    st->expires = entra_parse_int(entra_pairs_get(pairs, "x"));
    st->acr = entra_pairs_get(pairs, "a");
    st->max_age = entra_pairs_get(pairs, "m") ? entra_parse_int(entra_pairs_get(pairs, "m")) : -1;
    st->oid = entra_pairs_get(pairs, "o");
    st->tid = entra_pairs_get(pairs, "t");
    st->claims_challenge = entra_pairs_get(pairs, "c") != NULL;
    /* absent in a state sealed before it was kept: unknown */
    st->cookie_bytes = entra_pairs_get(pairs, "b") ? entra_parse_int(entra_pairs_get(pairs, "b"))
                                                   : -1;
    if (!st->state || !st->nonce || !st->code_verifier || !st->return_to
        || !st->redirect_uri || st->expires < 0 || (entra_pairs_get(pairs, "m") && st->max_age < 0)
        || !st->oid != !st->tid || (st->claims_challenge && !st->oid)
        || (entra_pairs_get(pairs, "b") && (st->cookie_bytes < 0 || !st->oid))) {
        *why = "state cookie is incomplete";
        return NULL;
    }
    if (!entra_str_equal_ct(st->state, state_param)) {
        *why = "state parameter does not match its cookie";
        return NULL;
    }
    if (now > st->expires) {
        *why = "login attempt expired";
        return NULL;
    }
    return st;
}

int entra_state_param_ok(const char *state_param)
{
    apr_size_t len = state_param ? strlen(state_param) : 0;
    const char *c;

    if (len < 16 || len > 64)
        return 0;
    for (c = state_param; *c; c++) {
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z')
              || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_'))
            return 0;
    }
    return 1;
}

/* ---- the hand-over of a form_post step-up's callback (state.h) ---- */

#define HANDOVER_PURPOSE "entra-handover-v1"
#define HANDOVER_EXPIRES ":x"       /* no parameter's name */

/* What the callback reads (login.c): nothing else rides along. */
static const char *const handover_params[] = {
    "state", "code", "error", "error_description", "error_uri", "error_codes",
    "trace_id", "correlation_id", NULL
};

char *entra_handover_seal(apr_pool_t *p, const entra_keyring *ring, apr_table_t *params,
                          apr_int64_t now)
{
    apr_array_header_t *pairs = apr_array_make(p, 9, sizeof(entra_pair));
    const char *const *name;
    unsigned char *plain;
    apr_size_t len;

    entra_pairs_add(pairs, HANDOVER_EXPIRES,
                    apr_psprintf(p, "%" APR_INT64_T_FMT, now + ENTRA_HANDOVER_TTL));
    for (name = handover_params; *name; name++) {
        const char *value = apr_table_get(params, *name);
        if (value)
            entra_pairs_add(pairs, *name, value);
    }
    plain = entra_pairs_serialize(p, pairs, &len);
    return entra_seal(p, ring, HANDOVER_PURPOSE, plain, len);
}

apr_table_t *entra_handover_open(apr_pool_t *p, const entra_keyring *ring, const char *sealed,
                                 apr_int64_t now, const char **why)
{
    apr_array_header_t *pairs;
    apr_table_t *params;
    unsigned char *plain;
    apr_size_t len;
    apr_int64_t expires;
    int i;

    plain = entra_open(p, ring, HANDOVER_PURPOSE, sealed, &len);
    if (!plain || !(pairs = entra_pairs_parse(p, plain, len))) {
        *why = "hand-over cookie does not open (tampered, or sealed with another key or "
               "for another app)";
        return NULL;
    }
    expires = entra_parse_int(entra_pairs_get(pairs, HANDOVER_EXPIRES));
    if (expires < 0 || now > expires) {
        *why = "hand-over cookie expired";
        return NULL;
    }
    params = apr_table_make(p, pairs->nelts);
    for (i = 0; i < pairs->nelts; i++) {
        const entra_pair *e = &APR_ARRAY_IDX(pairs, i, entra_pair);
        if (strcmp(e->name, HANDOVER_EXPIRES) != 0)
            apr_table_setn(params, e->name, e->value);
    }
    return params;
}
