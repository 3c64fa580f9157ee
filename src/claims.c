/* REMOTE_USER, claim headers and environment, spoof stripping (see claims.h). */
#include "claims.h"
#include "util.h"

#include <apr_strings.h>
#include <string.h>

#define CLAIM_NAME_MAX 64

static int claim_name_ok(const char *name)
{
    apr_size_t len = strlen(name);
    const char *c;

    if (len == 0 || len > CLAIM_NAME_MAX)
        return 0;
    for (c = name; *c; c++) {
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z')
              || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
            return 0;
    }
    return 1;
}

/* Header values must not carry CR, LF or other controls. */
static char *header_safe(apr_pool_t *p, const char *s)
{
    char *out = apr_pstrdup(p, s), *c;

    for (c = out; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
    }
    return out;
}

static char *json_text(apr_pool_t *p, json_t *v)
{
    char *dumped, *copy;

    if (json_is_string(v))
        return apr_pstrdup(p, json_string_value(v));
    if (json_is_true(v))
        return "true";
    if (json_is_false(v))
        return "false";
    if (json_is_integer(v))
        return apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)json_integer_value(v));
    dumped = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!dumped)
        return NULL;
    copy = apr_pstrdup(p, dumped);
    free(dumped);
    return copy;
}

static char *claim_value(apr_pool_t *p, json_t *v)
{
    char *joined = NULL;
    size_t i;

    if (!json_is_array(v))
        return json_text(p, v);
    for (i = 0; i < json_array_size(v); i++) {
        char *one = json_text(p, json_array_get(v, i));
        if (one)
            joined = joined ? apr_pstrcat(p, joined, ",", one, NULL) : one;
    }
    return joined ? joined : "";
}

apr_array_header_t *entra_claims_from_json(apr_pool_t *p, json_t *claims)
{
    apr_array_header_t *pairs = apr_array_make(p, 24, sizeof(entra_pair));
    const char *name, *arrays = NULL;
    json_t *v;

    json_object_foreach(claims, name, v) {
        char *value;
        /* _claim_names/_claim_sources point at the retired Azure AD Graph:
         * of no use to an app. */
        if (!claim_name_ok(name) || json_is_null(v) || strncmp(name, "_claim_", 7) == 0
            || !(value = claim_value(p, v)))
            continue;
        entra_pairs_add(pairs, apr_pstrdup(p, name), header_safe(p, value));
        if (json_is_array(v))
            arrays = arrays ? apr_pstrcat(p, arrays, ",", name, NULL) : apr_pstrdup(p, name);
    }
    if (arrays)
        entra_pairs_add(pairs, ENTRA_CLAIMS_ARRAYS, arrays);
    return pairs;
}

/* True when `value` is one of the ','-separated elements of `list`. */
static int list_has(const char *list, const char *value)
{
    apr_size_t n = strlen(value);
    const char *at;

    for (at = list; n && (at = strstr(at, value)); at++) {
        if ((at == list || at[-1] == ',') && (at[n] == '\0' || at[n] == ','))
            return 1;
    }
    return 0;
}

int entra_claims_is_array(const apr_array_header_t *claims, const char *name)
{
    const char *arrays = entra_pairs_get(claims, ENTRA_CLAIMS_ARRAYS);

    return arrays && list_has(arrays, name);
}

int entra_claims_has(const apr_array_header_t *claims, const char *name, const char *value)
{
    const char *have = entra_pairs_get(claims, name);

    if (!have)
        return 0;
    /* Elements are joined with ',': a value with one matches no element. */
    if (entra_claims_is_array(claims, name))
        return !strchr(value, ',') && list_has(have, value);
    return strcmp(have, value) == 0;
}

/* Removes, in one pass, every entry whose name starts with `prefix`
 * (compared as entra_header_has_prefix does: any case, '_' for '-'). */
static int strip_prefixed(apr_pool_t *p, apr_table_t *table, const char *prefix)
{
    const apr_array_header_t *arr = apr_table_elts(table);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    apr_array_header_t *doomed = NULL;
    int i;

    for (i = 0; i < arr->nelts; i++) {
        if (e[i].key && entra_header_has_prefix(e[i].key, prefix)) {
            if (!doomed)
                doomed = apr_array_make(p, 4, sizeof(const char *));
            APR_ARRAY_PUSH(doomed, const char *) = e[i].key;
        }
    }
    for (i = 0; doomed && i < doomed->nelts; i++)
        apr_table_unset(table, APR_ARRAY_IDX(doomed, i, const char *));
    return doomed ? doomed->nelts : 0;
}

int entra_claims_strip_spoofed(apr_pool_t *p, apr_table_t *headers)
{
    return strip_prefixed(p, headers, ENTRA_SPOOF_PREFIX);
}

/* apr_table_setn compares the new name with every entry that shares its
 * first four letters, and all claim headers share "X-En": one setn a claim
 * made publishing quadratic, the costliest step of a signed-in request.
 * Entries left by an earlier pass (an internal redirect or subrequest that
 * authenticates again shares or copies the tables) go in one sweep, then
 * each claim is added. */
void entra_claims_publish(apr_pool_t *p, const apr_array_header_t *claims,
                          apr_table_t *headers, apr_table_t *env)
{
    static const apr_size_t hlen = sizeof(ENTRA_HEADER_PREFIX) - 1;
    static const apr_size_t elen = sizeof(ENTRA_ENV_PREFIX) - 1;
    int i;

    strip_prefixed(p, headers, ENTRA_HEADER_PREFIX_LOWER);
    strip_prefixed(p, env, ENTRA_ENV_PREFIX_LOWER);
    for (i = 0; i < claims->nelts; i++) {
        const entra_pair *c = &APR_ARRAY_IDX(claims, i, entra_pair);
        apr_size_t n = strlen(c->name) + 1;
        char *names;
        if (c->name[0] == ':')      /* the session's own fields */
            continue;
        /* Both names in one allocation: this runs on every request. */
        names = apr_palloc(p, hlen + elen + 2 * n);
        memcpy(names, ENTRA_HEADER_PREFIX, hlen);
        memcpy(names + hlen, c->name, n);
        memcpy(names + hlen + n, ENTRA_ENV_PREFIX, elen);
        memcpy(names + hlen + n + elen, c->name, n);
        apr_table_addn(headers, names, c->value);
        apr_table_addn(env, names + hlen + n, c->value);
    }
}

const char *entra_claims_pick(const apr_array_header_t *claims,
                              const apr_array_header_t *names)
{
    int i;

    for (i = 0; i < names->nelts; i++) {
        const char *v = entra_pairs_get(claims, APR_ARRAY_IDX(names, i, const char *));
        if (v && *v)
            return v;
    }
    return NULL;
}

void entra_claims_apply_map(apr_array_header_t *claims, const apr_array_header_t *maps)
{
    int i, j;

    for (i = 0; maps && i < maps->nelts; i++) {
        const entra_claim_map *map = &APR_ARRAY_IDX(maps, i, entra_claim_map);
        const char *value = entra_claims_pick(claims, map->sources);
        if (!value)
            continue;
        for (j = 0; j < claims->nelts; j++) {
            entra_pair *c = &APR_ARRAY_IDX(claims, j, entra_pair);
            if (strcmp(c->name, map->name) == 0)
                break;
        }
        if (j < claims->nelts)
            APR_ARRAY_IDX(claims, j, entra_pair).value = value;
        else
            entra_pairs_add(claims, map->name, value);
    }
}
