/* The signed-in session and its cookie form (see session.h). */
#include "session.h"
#include "claims.h"
#include "localcopy.h"

#include <apr_strings.h>
#include <string.h>
#include <zlib.h>

#define PURPOSE "entra-session-v1"
/* The seal writes these three first; claims follow. */
#define CREATED ":c"
#define EXPIRES ":x"
#define LAST_SEEN ":a"
#define TIMES 3
/* Sessions bigger than one cookie chunk are deflated first: a long list of
 * group ids shrinks by half, and small sessions, the common case, keep a
 * fast path without inflate. A compressed plaintext starts with 'Z' and its
 * length (4 bytes); a plain one with ':' (the first pair's name). */
#define COMPRESS_OVER 2600
#define COMPRESSED_MARK 'Z'
/* What a session may hold at most, plain: room for the 11,000 groups
 * Microsoft Graph lists at most (about 410 KB), with the other claims. A
 * session is never sealed bigger than it could be opened. */
#define INFLATED_MAX (1024 * 1024)

static const unsigned char *maybe_deflate(apr_pool_t *p, const unsigned char *plain,
                                          apr_size_t *len)
{
    uLongf packed_len = compressBound((uLong)*len);
    unsigned char *out;

    if (*len <= COMPRESS_OVER)
        return plain;
    out = apr_palloc(p, packed_len + 5);
    if (compress2(out + 5, &packed_len, plain, (uLong)*len, Z_BEST_COMPRESSION) != Z_OK
        || packed_len + 5 >= *len)
        return plain;
    out[0] = COMPRESSED_MARK;
    out[1] = (unsigned char)(*len >> 24);
    out[2] = (unsigned char)(*len >> 16);
    out[3] = (unsigned char)(*len >> 8);
    out[4] = (unsigned char)*len;
    *len = packed_len + 5;
    return out;
}

/* NULL when the compressed form is malformed or claims an absurd size. */
static unsigned char *maybe_inflate(apr_pool_t *p, unsigned char *plain, apr_size_t *len)
{
    uLongf want, got;
    unsigned char *out;

    if (*len == 0 || plain[0] != COMPRESSED_MARK)
        return plain;
    if (*len < 6)
        return NULL;
    want = ((uLongf)plain[1] << 24) | ((uLongf)plain[2] << 16) | ((uLongf)plain[3] << 8)
           | plain[4];
    if (want == 0 || want > INFLATED_MAX)
        return NULL;
    out = apr_palloc(p, want + 1);
    got = want;
    if (uncompress(out, &got, plain + 5, (uLong)(*len - 5)) != Z_OK || got != want)
        return NULL;
    out[got] = '\0';
    *len = got;
    return out;
}

/* Cookies this process opened lately, each with its plain text (a cookie
 * store's session kept parsed, a socache store's session id as it is): a
 * signed-in user's next request skips the base64 decoding and the AEAD
 * open, which were half of what the module cost a request. A sealed value
 * opens to one plain text only, so a copy is exact; it is found by the
 * whole sealed value and the names of the keys that opened it (each app
 * derives keys of its own: an app never finds another's), and times and
 * tenant are checked on every use as before. Holding it in this process's memory a while
 * adds nothing an attacker who can read that memory lacks: the keys are
 * there too. Made at child_init; NULL (no copies) in tools and tests. */
static entra_local_copies *opened;
/* Longer sealed values (big sessions, chunked) are opened every time. */
#define OPENED_SEALED_MAX 4096
/* A copy is exact whatever its age: this only bounds how long plain text
 * stays in memory after its last use. */
/* What the copies of session cookies are kept under: not a purpose, so
 * entra_open_kept never finds one (it keeps plain text, these are parsed). */
#define PARSED_SESSION PURPOSE " parsed"
#define OPENED_TTL apr_time_from_sec(30)

static apr_status_t opened_gone(void *data)
{
    (void)data;
    opened = NULL;
    return APR_SUCCESS;
}

void entra_session_child_init(apr_pool_t *pchild)
{
    opened = entra_local_copies_create(pchild, OPENED_TTL, 0);
    /* registered after the copies' own cleanup, so it runs before it */
    apr_pool_cleanup_register(pchild, NULL, opened_gone, apr_pool_cleanup_null);
}

/* The copy's key (NULL: none is kept): what the copy is for (the seal's purpose, or
 * PARSED_SESSION), the names of the ring's keys, in order (what the cookie
 * opens with, whatever memory the ring is in), and the sealed value, each
 * part ended by a newline, which no cookie holds: a cookie that starts
 * with a key's name cannot make the key of a ring that has that key. */
static const char *opened_key(apr_pool_t *p, const char *purpose, const entra_keyring *ring,
                              const char *sealed)
{
    apr_size_t n, len, plen, i;
    char *key, *at;

    /* no copies (tools, tests), or a value too long to keep */
    if (!opened || !sealed || (len = strlen(sealed)) > OPENED_SEALED_MAX)
        return NULL;
    n = (apr_size_t)ring->nelts;
    plen = strlen(purpose);
    key = at = apr_palloc(p, plen + 1 + n * 33 + 1 + len + 1);
    memcpy(at, purpose, plen);
    at[plen] = '\n';
    at += plen + 1;
    for (i = 0; i < n; i++) {
        memcpy(at, APR_ARRAY_IDX(ring, i, entra_key).id, 32);
        at[32] = '.';
        at += 33;
    }
    *at++ = '\n';
    memcpy(at, sealed, len + 1);
    return key;
}

unsigned char *entra_open_kept(apr_pool_t *p, const entra_keyring *ring, const char *purpose,
                               const char *sealed, apr_size_t *len)
{
    const char *key = opened_key(p, purpose, ring, sealed);
    apr_time_t clock = apr_time_now();
    unsigned int kept_len;
    unsigned char *plain;

    if (key && (plain = (unsigned char *)entra_local_copy_get(opened, p, key, 0, clock,
                                                              &kept_len))) {
        *len = kept_len;
        return plain;
    }
    plain = entra_open(p, ring, purpose, sealed, len);
    if (plain && key)
        entra_local_copy_put(opened, p, key, plain, (unsigned int)*len, 0, clock);
    return plain;
}

char *entra_session_seal(apr_pool_t *p, const entra_keyring *ring, const entra_session *s)
{
    apr_array_header_t *pairs = apr_array_make(p, s->claims->nelts + TIMES, sizeof(entra_pair));
    const unsigned char *packed;
    unsigned char *plain;
    apr_size_t len;

    entra_pairs_add(pairs, CREATED, apr_psprintf(p, "%" APR_INT64_T_FMT, s->created));
    entra_pairs_add(pairs, EXPIRES, apr_psprintf(p, "%" APR_INT64_T_FMT, s->expires));
    entra_pairs_add(pairs, LAST_SEEN, apr_psprintf(p, "%" APR_INT64_T_FMT,
                                                   s->last_seen ? s->last_seen : s->created));
    apr_array_cat(pairs, s->claims);
    plain = entra_pairs_serialize(p, pairs, &len);
    if (len > INFLATED_MAX)
        return NULL;
    packed = maybe_deflate(p, plain, &len);
    return entra_seal(p, ring, PURPOSE, packed, len);
}

static apr_int64_t time_field(const apr_array_header_t *pairs, int i, const char *name)
{
    const entra_pair *e = &APR_ARRAY_IDX(pairs, i, entra_pair);

    return strcmp(e->name, name) == 0 ? entra_parse_int(e->value) : -1;
}

/* The session `sealed` holds, opened now: NULL when it does not open or is
 * malformed (its times are not checked here). */
static entra_session *session_opened(apr_pool_t *p, const entra_keyring *ring,
                                     const char *sealed)
{
    apr_array_header_t *pairs;
    apr_size_t len;
    unsigned char *opened_text = entra_open(p, ring, PURPOSE, sealed, &len);
    entra_session *s;

    if (!opened_text || !(opened_text = maybe_inflate(p, opened_text, &len))
        || !(pairs = entra_pairs_parse(p, opened_text, len)) || pairs->nelts < TIMES)
        return NULL;
    s = apr_pcalloc(p, sizeof(*s));
    s->created = time_field(pairs, 0, CREATED);
    s->expires = time_field(pairs, 1, EXPIRES);
    s->last_seen = time_field(pairs, 2, LAST_SEEN);
    if (s->created < 0 || s->expires < 0 || s->last_seen < 0)
        return NULL;
    /* The claims are the rest of the array, in place: no copy. */
    s->claims = pairs;
    s->claims->elts += TIMES * sizeof(entra_pair);
    s->claims->nelts -= TIMES;
    s->claims->nalloc -= TIMES;
    return s;
}

/* What the copies keep of an opened cookie: its times, then its claims
 * packed with the names this process keeps (claims.h), so that a
 * signed-in request copies it in one piece, parses nothing again, and
 * publishes without looking names up. */
typedef struct {
    apr_int64_t created, expires, last_seen;
} opened_image;

unsigned char *entra_session_image(apr_pool_t *p, const entra_session *s, apr_size_t *len)
{
    opened_image times = { s->created, s->expires, s->last_seen };
    apr_size_t claims_len;
    const unsigned char *claims = entra_claims_pack_kept(p, s->claims, &claims_len);
    unsigned char *image;

    *len = sizeof(times) + claims_len;
    image = apr_palloc(p, *len);
    memcpy(image, &times, sizeof(times));
    memcpy(image + sizeof(times), claims, claims_len);
    return image;
}

/* the claims point into `image`, their names into the process's own */
static entra_session *session_of_image(apr_pool_t *p, const unsigned char *image,
                                       apr_size_t len)
{
    opened_image times;
    entra_session *s;

    if (!image || len < sizeof(times))
        return NULL;
    memcpy(&times, image, sizeof(times));
    s = apr_pcalloc(p, sizeof(*s));
    s->created = times.created;
    s->expires = times.expires;
    s->last_seen = times.last_seen;
    return (s->claims = entra_claims_unpack_kept(p, image + sizeof(times), len - sizeof(times)))
           ? s : NULL;
}

static void keep_opened(apr_pool_t *p, const char *key, const entra_session *s,
                        apr_time_t clock)
{
    apr_size_t len;
    unsigned char *image = entra_session_image(p, s, &len);

    if (len <= ENTRA_LOCAL_COPY_MAX)
        entra_local_copy_put(opened, p, key, image, (unsigned int)len, 0, clock);
}

/* The session from this process's copy of `key`, or NULL. */
static entra_session *session_kept(apr_pool_t *p, const char *key, apr_time_t clock)
{
    unsigned int size;
    const unsigned char *image = entra_local_copy_get(opened, p, key, 0, clock, &size);

    /* the copy is the request's own: the claims point into it */
    return session_of_image(p, image, size);
}

/* A session past its end, or unused for longer than `inactivity`, is no
 * session: checked on every use, whatever copy it came from. */
static entra_session *session_current(entra_session *s, apr_int64_t now,
                                      apr_int64_t inactivity)
{
    if (!s || now >= s->expires || (inactivity > 0 && now - s->last_seen > inactivity))
        return NULL;
    return s;
}

entra_session *entra_session_from_image(apr_pool_t *p, const unsigned char *image,
                                        apr_size_t len, apr_int64_t now, apr_int64_t inactivity)
{
    return session_current(session_of_image(p, image, len), now, inactivity);
}

entra_session *entra_session_open(apr_pool_t *p, const entra_keyring *ring,
                                  const char *cookie, apr_int64_t now, apr_int64_t inactivity)
{
    const char *key = opened_key(p, PARSED_SESSION, ring, cookie);
    apr_time_t clock = apr_time_now();
    entra_session *s = key ? session_kept(p, key, clock) : NULL;

    if (!s && cookie && (s = session_opened(p, ring, cookie)) && key)
        keep_opened(p, key, s, clock);
    /* times are checked on every use, as the copy is kept whatever they say */
    return session_current(s, now, inactivity);
}
