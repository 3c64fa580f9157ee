/* The signed-in session and its cookie form (see session.h). */
#include "session.h"

#include <apr_strings.h>
#include <string.h>

#define PURPOSE "entra-session-v1"
#define CREATED ":c"
#define EXPIRES ":x"

char *entra_session_seal(apr_pool_t *p, const entra_keyring *ring, const entra_session *s)
{
    apr_array_header_t *pairs = apr_array_make(p, s->claims->nelts + 2, sizeof(entra_pair));
    unsigned char *plain;
    apr_size_t len;

    entra_pairs_add(pairs, CREATED, apr_psprintf(p, "%" APR_INT64_T_FMT, s->created));
    entra_pairs_add(pairs, EXPIRES, apr_psprintf(p, "%" APR_INT64_T_FMT, s->expires));
    apr_array_cat(pairs, s->claims);
    plain = entra_pairs_serialize(p, pairs, &len);
    return entra_seal(p, ring, PURPOSE, plain, len);
}

entra_session *entra_session_open(apr_pool_t *p, const entra_keyring *ring,
                                  const char *cookie, apr_int64_t now)
{
    apr_array_header_t *pairs;
    unsigned char *plain;
    apr_size_t len;
    entra_session *s;

    plain = entra_open(p, ring, PURPOSE, cookie, &len);
    if (!plain || !(pairs = entra_pairs_parse(p, plain, len)) || pairs->nelts < 2)
        return NULL;
    /* The seal writes the two times first; anything else is not ours. */
    if (strcmp(APR_ARRAY_IDX(pairs, 0, entra_pair).name, CREATED) != 0
        || strcmp(APR_ARRAY_IDX(pairs, 1, entra_pair).name, EXPIRES) != 0)
        return NULL;
    s = apr_palloc(p, sizeof(*s));
    s->created = entra_parse_int(APR_ARRAY_IDX(pairs, 0, entra_pair).value);
    s->expires = entra_parse_int(APR_ARRAY_IDX(pairs, 1, entra_pair).value);
    if (s->created < 0 || s->expires < 0 || now >= s->expires)
        return NULL;
    /* The claims are the rest of the array, in place: no copy. */
    s->claims = pairs;
    s->claims->elts += 2 * sizeof(entra_pair);
    s->claims->nelts -= 2;
    s->claims->nalloc -= 2;
    return s;
}
