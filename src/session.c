/* The signed-in session and its cookie form (see session.h). */
#include "session.h"

#include <apr_strings.h>
#include <string.h>

#define PURPOSE "entra-session-v1"
/* The seal writes these three first; claims follow. */
#define CREATED ":c"
#define EXPIRES ":x"
#define LAST_SEEN ":a"
#define TIMES 3

char *entra_session_seal(apr_pool_t *p, const entra_keyring *ring, const entra_session *s)
{
    apr_array_header_t *pairs = apr_array_make(p, s->claims->nelts + TIMES, sizeof(entra_pair));
    unsigned char *plain;
    apr_size_t len;

    entra_pairs_add(pairs, CREATED, apr_psprintf(p, "%" APR_INT64_T_FMT, s->created));
    entra_pairs_add(pairs, EXPIRES, apr_psprintf(p, "%" APR_INT64_T_FMT, s->expires));
    entra_pairs_add(pairs, LAST_SEEN, apr_psprintf(p, "%" APR_INT64_T_FMT,
                                                   s->last_seen ? s->last_seen : s->created));
    apr_array_cat(pairs, s->claims);
    plain = entra_pairs_serialize(p, pairs, &len);
    return entra_seal(p, ring, PURPOSE, plain, len);
}

static apr_int64_t time_field(const apr_array_header_t *pairs, int i, const char *name)
{
    const entra_pair *e = &APR_ARRAY_IDX(pairs, i, entra_pair);

    return strcmp(e->name, name) == 0 ? entra_parse_int(e->value) : -1;
}

entra_session *entra_session_open(apr_pool_t *p, const entra_keyring *ring,
                                  const char *cookie, apr_int64_t now, apr_int64_t inactivity)
{
    apr_array_header_t *pairs;
    unsigned char *plain;
    apr_size_t len;
    entra_session *s;

    plain = entra_open(p, ring, PURPOSE, cookie, &len);
    if (!plain || !(pairs = entra_pairs_parse(p, plain, len)) || pairs->nelts < TIMES)
        return NULL;
    s = apr_palloc(p, sizeof(*s));
    s->created = time_field(pairs, 0, CREATED);
    s->expires = time_field(pairs, 1, EXPIRES);
    s->last_seen = time_field(pairs, 2, LAST_SEEN);
    if (s->created < 0 || s->expires < 0 || s->last_seen < 0 || now >= s->expires
        || (inactivity > 0 && now - s->last_seen > inactivity))
        return NULL;
    /* The claims are the rest of the array, in place: no copy on the
     * signed-in fast path. */
    s->claims = pairs;
    s->claims->elts += TIMES * sizeof(entra_pair);
    s->claims->nelts -= TIMES;
    s->claims->nalloc -= TIMES;
    return s;
}
