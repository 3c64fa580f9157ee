/* REMOTE_USER, claim headers and environment, spoof stripping (see claims.h). */
#include "claims.h"
#include "session.h"
#include "util.h"

#include <apr_base64.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <stdint.h>
#include <stdlib.h>
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

int entra_claims_is_array(const apr_array_header_t *claims, const char *name)
{
    const char *arrays = entra_pairs_get(claims, ENTRA_CLAIMS_ARRAYS);

    return arrays && entra_list_has(arrays, name);
}

int entra_claims_has(const apr_array_header_t *claims, const char *name, const char *value)
{
    const char *have = entra_pairs_get(claims, name);

    if (!have)
        return 0;
    /* Elements are joined with ',': a value with one matches no element. */
    if (entra_claims_is_array(claims, name))
        return !strchr(value, ',') && entra_list_has(have, value);
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
    return strip_prefixed(p, headers, ENTRA_SPOOF_PREFIX)
           + strip_prefixed(p, headers, ENTRA_SPOOF_PREFIX_PRINCIPAL)
           + strip_prefixed(p, headers, ENTRA_SPOOF_PREFIX_TOKEN);
}

/* The header and variable names of a claim, made once a process: a
 * signed-in request publishes some twenty claims, and making two names for
 * each cost it as much as adding them. A name is kept in the first free of
 * a few slots its hash picks, set once (compare-and-swap) and immutable
 * until the process ends; one that finds them all taken, or no room left
 * in the arena, is made in the request's pool. Claim names come from
 * Entra's tokens and the configuration, a bounded set; the table and the
 * arena bound them anyway.
 *
 * Kept names live in one arena, claim first: a claim name that points
 * into it is a kept one, and its names are found without a lookup (the
 * claims of a session copied within the process, session.c). */
#define NAMES_KEPT 256
#define NAMES_PROBED 4
#define NAMES_ARENA_SIZE 65536
#define NAMES_ALIGN 16

typedef struct {
    const char *claim;
    const char *header;         /* ENTRA_HEADER_PREFIX + claim */
    const char *env;            /* ENTRA_ENV_PREFIX + claim */
} claim_names;

static claim_names *names_kept[NAMES_KEPT];
static char names_arena[NAMES_ARENA_SIZE] __attribute__((aligned(NAMES_ALIGN)));
static apr_size_t names_arena_used;     /* reserved atomically, never past the end */

/* The three names in one block: the struct, claim, header, env. */
static claim_names *names_make(void *(*alloc)(void *, apr_size_t), void *ctx, const char *claim)
{
    static const apr_size_t hlen = sizeof(ENTRA_HEADER_PREFIX) - 1;
    static const apr_size_t elen = sizeof(ENTRA_ENV_PREFIX) - 1;
    apr_size_t n = strlen(claim) + 1;
    claim_names *names = alloc(ctx, sizeof(*names) + hlen + elen + 3 * n);
    char *at;

    if (!names)
        return NULL;
    at = (char *)(names + 1);
    names->claim = memcpy(at, claim, n);
    at += n;
    names->header = at;
    memcpy(at, ENTRA_HEADER_PREFIX, hlen);
    memcpy(at + hlen, claim, n);
    at += hlen + n;
    names->env = at;
    memcpy(at, ENTRA_ENV_PREFIX, elen);
    memcpy(at + elen, claim, n);
    return names;
}

/* A block of the arena, never given back (a thread that loses the race
 * for a slot leaves one unused: bounded by the arena). Reserved by
 * compare-and-swap, never past the end: once full, a look and no write. */
static void *from_arena(void *ctx, apr_size_t size)
{
    apr_size_t at = __atomic_load_n(&names_arena_used, __ATOMIC_RELAXED);

    (void)ctx;
    if (size > NAMES_ARENA_SIZE)
        return NULL;
    size = (size + NAMES_ALIGN - 1) & ~(apr_size_t)(NAMES_ALIGN - 1);
    do {
        if (at > NAMES_ARENA_SIZE - size)
            return NULL;
    } while (!__atomic_compare_exchange_n(&names_arena_used, &at, at + size, 1,
                                          __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return names_arena + at;
}

static void *from_pool(void *ctx, apr_size_t size)
{
    return apr_palloc(ctx, size);
}

static unsigned int names_hash(const char *claim)
{
    unsigned int h = 2166136261u;

    for (; *claim; claim++)
        h = (h ^ (unsigned char)*claim) * 16777619u;
    return h;
}

/* A kept claim name starts a block's text: in the arena, right after an
 * aligned struct that points back to it. (Inline: asked for every claim
 * published.) */
static inline int name_is_kept(const char *name)
{
    uintptr_t at = (uintptr_t)name, arena = (uintptr_t)names_arena, off;

    if (at < arena + sizeof(claim_names) || at >= arena + NAMES_ARENA_SIZE)
        return 0;
    off = at - arena - sizeof(claim_names);
    return off % NAMES_ALIGN == 0 && ((const claim_names *)name - 1)->claim == name;
}

int entra_claim_name_is_kept(const char *name)
{
    return name_is_kept(name);
}

/* The kept names of a claim, or NULL. */
static const claim_names *names_kept_of(const char *claim)
{
    unsigned int h = names_hash(claim), i;
    claim_names *kept, *made = NULL;

    for (i = 0; i < NAMES_PROBED; i++) {
        claim_names **slot = &names_kept[(h + i) % NAMES_KEPT];
        kept = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
        if (!kept) {
            if (!made && !(made = names_make(from_arena, NULL, claim)))
                return NULL;
            if (__atomic_compare_exchange_n(slot, &kept, made, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE))
                return made;
        }
        /* kept is the slot's (another thread may just have set it) */
        if (strcmp(kept->claim, claim) == 0)
            return kept;
    }
    return NULL;
}

const char *entra_claim_name_kept(const char *claim)
{
    const claim_names *names = names_kept_of(claim);

    return names ? names->claim : NULL;
}

/* The block: how many claims, each one's kept name (a pointer, NULL for
 * one not kept), then the claims packed (entra_pairs_pack). */
unsigned char *entra_claims_pack_kept(apr_pool_t *p, const apr_array_header_t *claims,
                                      apr_size_t *len)
{
    apr_uint64_t count = (apr_uint64_t)claims->nelts;
    apr_size_t names_len = (apr_size_t)count * sizeof(const char *), packed_len;
    const unsigned char *packed = entra_pairs_pack(p, claims, &packed_len);
    unsigned char *block;
    const char *kept;
    int i;

    *len = sizeof(count) + names_len + packed_len;
    block = apr_palloc(p, *len + 1);
    memcpy(block, &count, sizeof(count));
    for (i = 0; i < claims->nelts; i++) {
        const char *name = APR_ARRAY_IDX(claims, i, entra_pair).name;
        /* the session's own fields are never published: not kept */
        kept = name[0] == ':' ? NULL : name_is_kept(name) ? name : entra_claim_name_kept(name);
        memcpy(block + sizeof(count) + (apr_size_t)i * sizeof(kept), &kept, sizeof(kept));
    }
    memcpy(block + sizeof(count) + names_len, packed, packed_len);
    block[*len] = '\0';
    return block;
}

apr_array_header_t *entra_claims_unpack_kept(apr_pool_t *p, const unsigned char *block,
                                             apr_size_t len)
{
    apr_uint64_t count;
    apr_size_t names_len;
    apr_array_header_t *claims;
    const char *kept;
    int i;

    if (!block || len < sizeof(count))
        return NULL;
    memcpy(&count, block, sizeof(count));
    if (count > (len - sizeof(count)) / sizeof(const char *))
        return NULL;
    names_len = (apr_size_t)count * sizeof(const char *);
    claims = entra_pairs_unpack(p, block + sizeof(count) + names_len,
                                len - sizeof(count) - names_len);
    if (!claims || (apr_uint64_t)claims->nelts != count)
        return NULL;
    for (i = 0; i < claims->nelts; i++) {
        entra_pair *c = &APR_ARRAY_IDX(claims, i, entra_pair);
        memcpy(&kept, block + sizeof(count) + (apr_size_t)i * sizeof(kept), sizeof(kept));
        /* only the kept name of this very claim: anything else leaves the
         * name as written (the text decides, never a pointer alone) */
        if (kept && name_is_kept(kept) && strcmp(kept, c->name) == 0)
            c->name = kept;
    }
    return claims;
}

static const claim_names *names_of(apr_pool_t *p, const char *claim)
{
    const claim_names *names;

    /* a kept claim name is its block's, right after the struct */
    if (name_is_kept(claim))
        return (const claim_names *)claim - 1;
    names = names_kept_of(claim);
    return names ? names : names_make(from_pool, p, claim);
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
    int i;

    strip_prefixed(p, headers, ENTRA_HEADER_PREFIX_LOWER);
    strip_prefixed(p, env, ENTRA_ENV_PREFIX_LOWER);
    for (i = 0; i < claims->nelts; i++) {
        const entra_pair *c = &APR_ARRAY_IDX(claims, i, entra_pair);
        const claim_names *names;
        if (c->name[0] == ':')      /* the session's own fields */
            continue;
        names = names_of(p, c->name);
        apr_table_addn(headers, names->header, c->value);
        apr_table_addn(env, names->env, c->value);
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

const char *entra_claims_pick_user(apr_pool_t *p, const apr_array_header_t *claims,
                                   const apr_array_header_t *names)
{
    int i;

    for (i = 0; i < names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        const char *v = entra_pairs_get(claims, name);
        if (!v || !*v)
            continue;
        /* an array (B2C's emails): its first element names the user */
        if (entra_claims_is_array(claims, name) && strchr(v, ','))
            return apr_pstrndup(p, v, strcspn(v, ","));
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

/* App Service's default claims mapping (that of .NET's JWT handler): the
 * token claims it renames, and to what. The rest keep their names (name,
 * preferred_username, roles, groups, ...). */
static const char *const easyauth_types[][2] = {
    { "oid", "http://schemas.microsoft.com/identity/claims/objectidentifier" },
    { "tid", "http://schemas.microsoft.com/identity/claims/tenantid" },
    { "scp", "http://schemas.microsoft.com/identity/claims/scope" },
    { "idp", "http://schemas.microsoft.com/identity/claims/identityprovider" },
    { "sub", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier" },
    { "email", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress" },
    { "upn", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn" },
    { "unique_name", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name" },
    { "given_name", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname" },
    { "family_name", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname" },
    { "amr", "http://schemas.microsoft.com/claims/authnmethodsreferences" },
    { "acr", "http://schemas.microsoft.com/claims/authnclassreference" },
    { "auth_time", "http://schemas.microsoft.com/ws/2008/06/identity/claims/authenticationinstant" },
};

#define EASYAUTH_NAME_TYPE "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
#define EASYAUTH_ROLE_TYPE "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"

const char *entra_easyauth_claim_type(const char *name)
{
    apr_size_t i;

    for (i = 0; i < sizeof(easyauth_types) / sizeof(easyauth_types[0]); i++) {
        if (strcmp(name, easyauth_types[i][0]) == 0)
            return easyauth_types[i][1];
    }
    return name;
}

static int easyauth_add(json_t *list, const char *typ, const char *val)
{
    return json_array_append_new(list, json_pack("{s:s, s:s}", "typ", typ, "val", val));
}

char *entra_easyauth_principal_json(apr_pool_t *p, const apr_array_header_t *claims)
{
    json_t *list = json_array(), *principal;
    char *dumped, *text = NULL;
    int i, failed = !list;

    for (i = 0; !failed && i < claims->nelts; i++) {
        const entra_pair *c = &APR_ARRAY_IDX(claims, i, entra_pair);
        const char *typ;
        char *rest, *one;
        /* the session's own fields; the module's marker of a partial list */
        if (c->name[0] == ':' || strcmp(c->name, ENTRA_GROUPS_PARTIAL) == 0)
            continue;
        typ = entra_easyauth_claim_type(c->name);
        if (!entra_claims_is_array(claims, c->name)) {
            failed = easyauth_add(list, typ, c->value) != 0;
            continue;
        }
        /* one entry per element, as App Service lists groups and roles */
        for (one = apr_strtok(apr_pstrdup(p, c->value), ",", &rest); one && !failed;
             one = apr_strtok(NULL, ",", &rest))
            failed = easyauth_add(list, typ, one) != 0;
    }
    if (failed) {
        json_decref(list);
        return NULL;
    }
    principal = json_pack("{s:s, s:o, s:s, s:s}", "auth_typ", "aad", "claims", list,
                          "name_typ", EASYAUTH_NAME_TYPE, "role_typ", EASYAUTH_ROLE_TYPE);
    if (!principal)
        return NULL;
    dumped = json_dumps(principal, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(principal);
    if (dumped) {
        text = apr_pstrdup(p, dumped);
        free(dumped);
    }
    return text;
}

char *entra_easyauth_principal(apr_pool_t *p, const apr_array_header_t *claims)
{
    char *json = entra_easyauth_principal_json(p, claims), *b64;
    int len;

    if (!json)
        return NULL;
    len = (int)strlen(json);
    b64 = apr_palloc(p, apr_base64_encode_len(len));
    apr_base64_encode(b64, json, len);
    return b64;
}

/* App Service's own spelling, as its front end sends it to an app: UTC,
 * seconds, and seven zero digits of fraction (.NET's round-trip "o"
 * format), e.g. "X-MS-TOKEN-AAD-EXPIRES-ON: 2020-05-10T17:05:01.0000000Z"
 * in a raw capture of the headers App Service hands a backend. */
char *entra_easyauth_time(apr_pool_t *p, apr_int64_t secs)
{
    apr_time_exp_t t;

    if (apr_time_exp_gmt(&t, apr_time_from_sec(secs)) != APR_SUCCESS)
        return NULL;
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02d.0000000Z", t.tm_year + 1900,
                        t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec);
}
