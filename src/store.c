/* The session stores: cookie (chunked when needed) and socache (see store.h). */
#include "store.h"
#include "connkept.h"
#include "crypto.h"
#include "ended.h"
#include "log.h"
#include "parts.h"
#include "respond.h"
#include "socache.h"
#include "util.h"

#include <http_log.h>
#include <apr_strings.h>
#include <string.h>

APLOG_USE_MODULE(auth_entra);

/* The main cookie holds either the sealed session or "chunks:<n>"; chunk i
 * is named <session cookie>_<i>. */
#define CHUNKS_MARK "chunks:"
/* socache keys start with their random or hashed part: shmcb picks its
 * sub-cache by the key's first byte, and a common prefix would crowd every
 * session into one. The app's tag follows, so apps sharing a store (one
 * Redis for several vhosts) never see each other's keys. */
#define SESSION_KEY "s"
#define SID_KEY "sid"
/* One Entra sid may name several sessions (tabs, hosts sharing a store). */
#define SIDS_MAX 16
#define SESSION_ID_PURPOSE "entra-session-id-v1"

/* A head, "parts:<n>:<gen>:" and a piece, must come back from one lookup. */
#if ENTRA_PARTS_SIZE + 32 > ENTRA_SOCACHE_VALUE_MAX
#error "ENTRA_PARTS_SIZE: a piece and its head must fit ENTRA_SOCACHE_VALUE_MAX"
#endif

static const char *session_key(apr_pool_t *p, const entra_server_conf *sc, const char *id)
{
    return apr_pstrcat(p, id, ".", sc->app_tag, ".", SESSION_KEY, NULL);
}

/* Keys about an Entra sid hold its hash: fixed length, spread, and not the
 * sid itself. */
static const char *sid_key(apr_pool_t *p, const entra_server_conf *sc, const char *sid,
                           const char *kind)
{
    return apr_pstrcat(p, apr_pstrndup(p, entra_sha256_b64url(p, sid), 22), ".", sc->app_tag,
                       ".", kind, NULL);
}

static const char *chunk_prefix(apr_pool_t *p, const entra_server_conf *sc)
{
    return apr_pstrcat(p, sc->session_cookie, "_", NULL);
}

static const char *chunk_name(apr_pool_t *p, const entra_server_conf *sc, int i)
{
    return apr_psprintf(p, "%s_%d", sc->session_cookie, i);
}

typedef struct {
    apr_size_t prefix_len;      /* of the chunks' names */
    int count;                  /* chunks the browser sent */
    int highest;                /* highest chunk index seen */
} chunk_census;

static void count_chunk(void *ctx, const char *name, const char *value)
{
    chunk_census *c = ctx;
    apr_int64_t i = entra_parse_int(name + c->prefix_len);

    if (i >= 0 && i < ENTRA_COOKIE_CHUNKS_MAX) {
        c->count++;
        if (i > c->highest)
            c->highest = (int)i;
    }
}

/* Joins chunks 0..n-1. Any missing, or any beyond, means no session. */
static const char *join_chunks(request_rec *r, const entra_server_conf *sc, apr_int64_t n)
{
    const char *prefix = chunk_prefix(r->pool, sc);
    chunk_census census = { strlen(prefix), 0, -1 };
    const char *joined = "";
    int i;

    if (n < 2 || n > ENTRA_COOKIE_CHUNKS_MAX)
        return NULL;
    entra_cookie_each(r->pool, r->headers_in, prefix, count_chunk, &census);
    if (census.count != n || census.highest != n - 1)
        return NULL;
    for (i = 0; i < n; i++) {
        const char *part = entra_cookie_get(r->pool, r->headers_in, chunk_name(r->pool, sc, i));
        if (!part)
            return NULL;
        joined = apr_pstrcat(r->pool, joined, part, NULL);
    }
    return joined;
}

/* The pieces 1..n-1 of a record kept in parts (parts.h); NULL when one is
 * missing, or the store is down (*unavailable). */
static const char *pieces_from_cache(request_rec *r, const entra_server_conf *sc,
                                     const char *key, int n, const char *gen,
                                     const char *first, int *unavailable)
{
    const char *pieces[ENTRA_PARTS_MAX] = { NULL };
    apr_status_t rv;
    int i;

    for (i = 1; i < n; i++) {
        rv = entra_socache_get(sc->session_cache, r, entra_parts_key(r->pool, key, gen, i),
                               &pieces[i]);
        *unavailable = rv != APR_SUCCESS && rv != APR_NOTFOUND;
        if (rv != APR_SUCCESS)
            return NULL;
    }
    return entra_parts_join(r->pool, first, pieces, n);
}

/* The sealed record under `key`: kept whole (one lookup, as for every
 * small session), or in parts. A record in parts is all there or is no
 * session, never a part of one (the seal covers the whole). */
static const char *record_from_cache(request_rec *r, const entra_server_conf *sc,
                                     const char *key, int *parts, const char **gen,
                                     int *unavailable)
{
    const char *value = NULL, *before = NULL, *first, *sealed;
    apr_status_t rv;
    int tries;

    *parts = 0;
    *gen = NULL;
    for (tries = 0; tries < 2; tries++) {
        /* the second look is sent now: an answer to a lookup sent before
         * the piece was found gone (single flight) is the old head again */
        rv = tries ? entra_socache_get_fresh(sc->session_cache, r, key, &value)
                   : entra_socache_get(sc->session_cache, r, key, &value);
        *unavailable = rv != APR_SUCCESS && rv != APR_NOTFOUND;
        if (rv != APR_SUCCESS)
            return NULL;
        switch (entra_parts_parse(r->pool, value, parts, gen, &first)) {
        case 0:
            *parts = 0;
            *gen = NULL;
            return value;
        case -1:
            return NULL;
        }
        /* a piece missing because the record was saved again meanwhile (a
         * refresh, a sliding timeout): the new one is complete */
        if (before && strcmp(before, value) == 0)
            break;
        if ((sealed = pieces_from_cache(r, sc, key, *parts, *gen, first, unavailable))
            || *unavailable)
            return sealed;
        before = value;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00421)
                  "a session kept in %d parts is missing one (evicted from the session "
                  "store?): not signed in", *parts);
    return NULL;
}

/* socache: the cookie holds the session id, sealed; the store holds the
 * sealed session under it. */
static const char *sealed_from_cache(request_rec *r, const entra_server_conf *sc,
                                     const char *cookie, const char **id, int *parts,
                                     const char **gen, int *unavailable)
{
    apr_size_t len;

    *id = (const char *)entra_open_kept(r->pool, sc->app_keys, SESSION_ID_PURPOSE, cookie, &len);
    if (!*id)
        return NULL;
    return record_from_cache(r, sc, session_key(r->pool, sc, *id), parts, gen, unavailable);
}

/* Cookie store: was this session ended by a front-channel logout? */
static int sid_ended(request_rec *r, const entra_server_conf *sc, const entra_session *s)
{
    const char *sid = sc->session_cache ? NULL : entra_pairs_get(s->claims, "sid");

    return sid && entra_ended_has(r, sc->app_tag, sid);
}

/* The app's tenant rules as configured now: a tenant taken out of
 * EntraAllowedTenants loses its sessions at the next restart. */
static int tenant_still_allowed(request_rec *r, const entra_server_conf *sc,
                                const entra_session *s)
{
    const char *tid = entra_pairs_get(s->claims, "tid");

    if (entra_conf_session_tenant_ok(sc, tid))
        return 1;
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ENTRALOG(00409)
                  "session of tenant %s is no longer admitted by EntraTenant/"
                  "EntraAllowedTenants: not signed in", entra_log_safe(r->pool, tid));
    return 0;
}

/* The session one value of the session cookie holds, or NULL. */
static entra_session *open_one(request_rec *r, const entra_server_conf *sc, const char *cookie,
                               int *unavailable)
{
    const char *id = NULL, *gen = NULL;
    entra_session *session;
    int parts = 0;

    if (sc->session_cache)
        cookie = sealed_from_cache(r, sc, cookie, &id, &parts, &gen, unavailable);
    else if (strncmp(cookie, CHUNKS_MARK, sizeof(CHUNKS_MARK) - 1) == 0)
        cookie = join_chunks(r, sc, entra_parse_int(cookie + sizeof(CHUNKS_MARK) - 1));
    session = cookie ? entra_session_open(r->pool, sc->app_keys, cookie,
                                          apr_time_sec(r->request_time),
                                          entra_conf_session_inactivity(sc)) : NULL;
    if (session) {
        session->id = id;
        session->parts = parts;
        session->parts_gen = gen;
    }
    if (session && (sid_ended(r, sc, session) || !tenant_still_allowed(r, sc, session)))
        session = NULL;
    return session;
}

/* A browser may send the session cookie twice (a stale one left on another
 * path or domain comes first): the others are tried when the first does
 * not open, or a sign-in could never win over the stale cookie. */
#define SAME_NAME_MAX 4

typedef struct {
    const char *name;
    apr_array_header_t *values;
} same_name;

static void collect_same_name(void *ctx, const char *name, const char *value)
{
    same_name *sn = ctx;

    if (strcmp(name, sn->name) == 0 && sn->values->nelts < SAME_NAME_MAX)
        APR_ARRAY_PUSH(sn->values, const char *) = value;
}

/* ---- the connection's last Cookie header (connkept.h): what it opened,
 * kept as the session's image (session.h) and the header without the
 * module's cookies (what the backend gets, authn.c), one after the other. */
typedef struct {
    apr_uint32_t image_len, stripped_len;
} kept_head;

/* The session the request's Cookie header (`header`, all of it) opened
 * on this connection before, if it is still current and was not ended
 * since. The tenant rules need no second look: the header opened for
 * this virtual host, whose configuration has not changed since. The
 * cookie store only: a socache store's record can go, and is looked up on
 * every request. */
static entra_session *conn_session(request_rec *r, const entra_server_conf *sc,
                                   const char *header)
{
    apr_int64_t now = apr_time_sec(r->request_time);
    apr_size_t len;
    const unsigned char *kept = entra_conn_kept_get(r, ENTRA_KEPT_SESSION, sc, header, now,
                                                    &len);
    entra_session *session = NULL;
    kept_head head;

    if (kept && len >= sizeof(head)) {
        memcpy(&head, kept, sizeof(head));
        if ((apr_size_t)head.image_len + head.stripped_len + 1 == len - sizeof(head)
            && (session = entra_session_from_image(r->pool, kept + sizeof(head),
                                                   head.image_len, now,
                                                   entra_conf_session_inactivity(sc)))) {
            session->cookies_found = header;
            session->cookies_stripped = (const char *)kept + sizeof(head) + head.image_len;
        }
    }
    if (session && sid_ended(r, sc, session))
        session = NULL;
    if (kept && !session)
        entra_conn_kept_forget(r, ENTRA_KEPT_SESSION);
    return session;
}

static void conn_keep_session(request_rec *r, const entra_server_conf *sc, const char *header,
                              const entra_session *session)
{
    int removed = 0;
    const char *stripped = sc->own_cookies
                           ? entra_cookie_header_strip(r->pool, header, sc->own_cookies, &removed)
                           : header;
    apr_size_t image_len, stripped_len;
    const unsigned char *image;
    kept_head head;
    unsigned char *kept;

    /* as entra_cookies_strip leaves it */
    if (!removed)
        stripped = header;
    stripped_len = strlen(stripped);
    image = entra_session_image(r->pool, session, &image_len);
    head.image_len = (apr_uint32_t)image_len;
    head.stripped_len = (apr_uint32_t)stripped_len;
    kept = apr_palloc(r->pool, sizeof(head) + image_len + stripped_len + 1);
    memcpy(kept, &head, sizeof(head));
    memcpy(kept + sizeof(head), image, image_len);
    memcpy(kept + sizeof(head) + image_len, stripped, stripped_len + 1);
    entra_conn_kept_put(r, ENTRA_KEPT_SESSION, sc, header, kept,
                        sizeof(head) + image_len + stripped_len + 1,
                        apr_time_sec(r->request_time), session->expires);
}

/* The session the cookies hold: the first value of the session cookie,
 * then the others the browser sent. */
static entra_session *cookies_session(request_rec *r, const entra_server_conf *sc,
                                      int *unavailable)
{
    const char *cookie = entra_cookie_get(r->pool, r->headers_in, sc->session_cookie);
    same_name sn = { sc->session_cookie, NULL };
    entra_session *session;
    int i;

    if (!cookie || !*cookie)
        return NULL;
    session = open_one(r, sc, cookie, unavailable);
    if (!session && !*unavailable) {
        sn.values = apr_array_make(r->pool, SAME_NAME_MAX, sizeof(const char *));
        entra_cookie_each(r->pool, r->headers_in, sc->session_cookie, collect_same_name, &sn);
        /* the first value was tried already */
        for (i = 1; !session && !*unavailable && i < sn.values->nelts; i++) {
            const char *v = APR_ARRAY_IDX(sn.values, i, const char *);
            if (*v)
                session = open_one(r, sc, v, unavailable);
        }
    }
    if (!session)
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, ENTRALOG(00402)
                      "session cookie is incomplete, does not open or has expired: "
                      "not signed in");
    return session;
}

entra_session *entra_store_load_ex(request_rec *r, const entra_server_conf *sc,
                                   int *unavailable)
{
    const char *header = sc->session_cache ? NULL : entra_cookie_header_only(r->headers_in);
    entra_session *session;

    *unavailable = 0;
    if (header && (session = conn_session(r, sc, header))) {
        ap_log_rerror(APLOG_MARK, APLOG_TRACE2, 0, r, "session: the one this connection's "
                      "Cookie header opened before");
        return session;
    }
    session = cookies_session(r, sc, unavailable);
    if (header && session)
        conn_keep_session(r, sc, header, session);
    else if (header)
        entra_conn_kept_forget(r, ENTRA_KEPT_SESSION);
    return session;
}

entra_session *entra_store_load(request_rec *r, const entra_server_conf *sc)
{
    int unavailable;

    return entra_store_load_ex(r, sc, &unavailable);
}

/* Deletes chunk cookies from `from` up to the highest the browser sent. */
static void clear_chunks_from(request_rec *r, const entra_server_conf *sc, int from)
{
    const char *prefix = chunk_prefix(r->pool, sc);
    chunk_census census = { strlen(prefix), 0, -1 };
    int i;

    entra_cookie_each(r->pool, r->headers_in, prefix, count_chunk, &census);
    for (i = from; i <= census.highest; i++)
        entra_cookie_set(r, sc, chunk_name(r->pool, sc, i), "", "/", 0);
}

/* When the store should forget the session: its hard end, or sooner when
 * it goes unused. */
static apr_int64_t cache_expiry(const entra_server_conf *sc, const entra_session *s,
                                apr_int64_t now)
{
    apr_int64_t inactivity = entra_conf_session_inactivity(sc);

    return inactivity > 0 && now + inactivity < s->expires ? now + inactivity : s->expires;
}

/* Adds `add` to, or drops `drop` from, the ids kept under an Entra sid. */
static void index_sid(request_rec *r, const entra_server_conf *sc, const char *sid,
                      const char *add, const char *drop, apr_int64_t expires)
{
    const char *key = sid_key(r->pool, sc, sid, SID_KEY), *old = NULL, *id;
    char *list = NULL, *rest, *ids;
    int n = 0;

    /* read to be changed: from a lookup sent now (socache.h) */
    if (entra_socache_get_fresh(sc->session_cache, r, key, &old) != APR_SUCCESS)
        old = "";
    for (ids = apr_pstrdup(r->pool, old), id = apr_strtok(ids, ",", &rest); id;
         id = apr_strtok(NULL, ",", &rest)) {
        if ((add && strcmp(id, add) == 0) || (drop && strcmp(id, drop) == 0) || n >= SIDS_MAX - 1)
            continue;
        list = list ? apr_pstrcat(r->pool, list, ",", id, NULL) : apr_pstrdup(r->pool, id);
        n++;
    }
    if (add)
        list = list ? apr_pstrcat(r->pool, add, ",", list, NULL) : apr_pstrdup(r->pool, add);
    if (list)
        entra_socache_put(sc->session_cache, r, key, list, expires);
    else
        entra_socache_del(sc->session_cache, r, key);
}

/* Removes pieces 1..n-1 of a record kept in parts. */
static void forget_pieces(request_rec *r, const entra_server_conf *sc, const char *key,
                          int n, const char *gen)
{
    int i;

    for (i = 1; i < n; i++)
        entra_socache_del(sc->session_cache, r, entra_parts_key(r->pool, key, gen, i));
}

/* Removes the record under `key`, every piece of it. */
static void forget_record(request_rec *r, const entra_server_conf *sc, const char *key)
{
    const char *value = NULL, *gen, *first;
    int n;

    if (entra_socache_get_fresh(sc->session_cache, r, key, &value) == APR_SUCCESS
        && entra_parts_parse(r->pool, value, &n, &gen, &first) == 1)
        forget_pieces(r, sc, key, n, gen);
    entra_socache_del(sc->session_cache, r, key);
}

static int too_big(request_rec *r, apr_size_t len)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00410)
                  "a session of %" APR_SIZE_T_FMT " bytes is more than the session store "
                  "keeps (%d parts of %d bytes): not stored; pass fewer claims or tokens "
                  "(EntraPassAccessToken, EntraClaimMap)", len, ENTRA_PARTS_MAX,
                  ENTRA_PARTS_SIZE);
    return ENTRA_STORE_TOO_BIG;
}

static int no_room(request_rec *r, apr_size_t len)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00420)
                  "the session store has no room for a session of %" APR_SIZE_T_FMT " bytes "
                  "(up to %d in one value): not stored; with shmcb, give it more room, "
                  "EntraSessionStore socache shmcb:<file>(<bytes>), 10 MB or more for users "
                  "in thousands of groups", len, ENTRA_PARTS_SIZE);
    return ENTRA_STORE_TOO_BIG;
}

/* Puts `sealed` under `key`: whole when it fits one value, else in parts,
 * the pieces first, so that a head never names a piece not yet there.
 * Sets *n and *gen to what it wrote (0, NULL: whole). */
static apr_status_t put_record(request_rec *r, const entra_server_conf *sc, const char *key,
                               const char *sealed, int n, apr_int64_t expires,
                               const char **gen)
{
    apr_status_t rv = APR_SUCCESS;
    int i;

    *gen = NULL;
    if (n == 1)
        return entra_socache_put(sc->session_cache, r, key, sealed, expires);
    if (!(*gen = entra_random_token(r->pool, ENTRA_PARTS_GEN_LEN * 3 / 4)))
        return APR_EGENERAL;
    for (i = 1; i < n && rv == APR_SUCCESS; i++)
        rv = entra_socache_put(sc->session_cache, r, entra_parts_key(r->pool, key, *gen, i),
                               entra_parts_piece(r->pool, sealed, i), expires);
    if (rv == APR_SUCCESS)
        rv = entra_socache_put(sc->session_cache, r, key,
                               entra_parts_head(r->pool, sealed, n, *gen), expires);
    if (rv != APR_SUCCESS)
        forget_pieces(r, sc, key, i, *gen);
    return rv;
}

static int save_to_cache(request_rec *r, const entra_server_conf *sc, entra_session *s,
                         const char *sealed)
{
    apr_int64_t expires = cache_expiry(sc, s, apr_time_sec(r->request_time));
    const char *sid = entra_pairs_get(s->claims, "sid");
    apr_size_t len = strlen(sealed);
    int n = entra_parts_count(len);
    const char *cookie, *key, *gen;
    apr_status_t rv;

    if (!n)
        return too_big(r, len);
    if (!s->id && !(s->id = entra_random_token(r->pool, 32)))
        return 0;
    key = session_key(r->pool, sc, s->id);
    rv = put_record(r, sc, key, sealed, n, expires, &gen);
    if (rv == APR_ENOSPC)
        return no_room(r, len);
    if (rv != APR_SUCCESS)
        return 0;
    /* The pieces of the record this one replaces: no one asks for them
     * again (a reader that still does gets the new record, see
     * record_from_cache). */
    if (s->parts_gen && (!gen || strcmp(s->parts_gen, gen) != 0))
        forget_pieces(r, sc, key, s->parts, s->parts_gen);
    s->parts = gen ? n : 0;
    s->parts_gen = gen;
    /* Front-channel logout names the session by Entra's sid only. */
    if (sid)
        index_sid(r, sc, sid, s->id, NULL, expires);
    cookie = entra_seal(r->pool, sc->app_keys, SESSION_ID_PURPOSE,
                        (const unsigned char *)s->id, strlen(s->id));
    entra_cookie_set(r, sc, sc->session_cookie, cookie, "/", -1);
    clear_chunks_from(r, sc, 0);
    return 1;
}

/* A browser sends all its cookies in one Cookie header, which httpd refuses
 * beyond LimitRequestFieldSize: more chunks than fit would lock the user
 * out, logout included. Some room stays for the site's other cookies. */
static int max_chunks(request_rec *r)
{
    int fit = (r->server->limit_req_fieldsize - 256) / (ENTRA_COOKIE_CHUNK + 24);

    return fit < 1 ? 1 : fit > ENTRA_COOKIE_CHUNKS_MAX ? ENTRA_COOKIE_CHUNKS_MAX : fit;
}

int entra_store_cookie_fits(request_rec *r, const entra_server_conf *sc, const entra_session *s)
{
    const char *sealed;

    if (sc->session_cache || !(sealed = entra_session_seal(r->pool, sc->app_keys, s)))
        return 1;
    return (int)((strlen(sealed) + ENTRA_COOKIE_CHUNK - 1) / ENTRA_COOKIE_CHUNK) <= max_chunks(r);
}

int entra_store_save(request_rec *r, const entra_server_conf *sc, entra_session *s)
{
    const char *sealed = entra_session_seal(r->pool, sc->app_keys, s);
    apr_size_t len = sealed ? strlen(sealed) : 0;
    int n, i;

    if (!sealed)
        return 0;
    if (sc->session_cache)
        return save_to_cache(r, sc, s, sealed);
    if (len <= ENTRA_COOKIE_CHUNK) {
        entra_cookie_set(r, sc, sc->session_cookie, sealed, "/", -1);
        clear_chunks_from(r, sc, 0);
        return 1;
    }
    n = (int)((len + ENTRA_COOKIE_CHUNK - 1) / ENTRA_COOKIE_CHUNK);
    if (n > max_chunks(r)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ENTRALOG(00405)
                      "a session of %" APR_SIZE_T_FMT " bytes needs %d cookies, more than "
                      "LimitRequestFieldSize %d lets a browser send back: use EntraSessionStore "
                      "socache, raise LimitRequestFieldSize, or pass fewer claims/tokens", len, n,
                      r->server->limit_req_fieldsize);
        return ENTRA_STORE_TOO_BIG;
    }
    for (i = 0; i < n; i++)
        entra_cookie_set(r, sc, chunk_name(r->pool, sc, i),
                         apr_pstrmemdup(r->pool, sealed + (apr_size_t)i * ENTRA_COOKIE_CHUNK,
                                        i < n - 1 ? ENTRA_COOKIE_CHUNK
                                                  : len - (apr_size_t)i * ENTRA_COOKIE_CHUNK),
                         "/", -1);
    entra_cookie_set(r, sc, sc->session_cookie, apr_psprintf(r->pool, CHUNKS_MARK "%d", n),
                     "/", -1);
    clear_chunks_from(r, sc, n);
    return 1;
}

void entra_store_clear(request_rec *r, const entra_server_conf *sc, const entra_session *s)
{
    const char *sid = s ? entra_pairs_get(s->claims, "sid") : NULL;

    if (sc->session_cache && s && s->id) {
        forget_record(r, sc, session_key(r->pool, sc, s->id));
        if (sid)
            index_sid(r, sc, sid, NULL, s->id, s->expires);
    }
    entra_cookie_set(r, sc, sc->session_cookie, "", "/", 0);
    clear_chunks_from(r, sc, 0);
}

int entra_store_end_sid(request_rec *r, const entra_server_conf *sc, const char *sid)
{
    const char *key = sid_key(r->pool, sc, sid, SID_KEY), *ids = NULL, *id;
    char *rest;

    /* Remembered as long as any cookie of that session could live. */
    if (!sc->session_cache) {
        int ended = entra_ended_add(r, sc->app_tag, sid, apr_time_sec(r->request_time)
                                                         + entra_conf_session_max_age(sc));
        return ended == ENTRA_ENDED_REFUSED ? ENTRA_STORE_RATE_LIMITED
               : ended == ENTRA_ENDED_ENDED;
    }
    if (entra_socache_get_fresh(sc->session_cache, r, key, &ids) != APR_SUCCESS)
        return 0;
    for (id = apr_strtok(apr_pstrdup(r->pool, ids), ",", &rest); id;
         id = apr_strtok(NULL, ",", &rest))
        forget_record(r, sc, session_key(r->pool, sc, id));
    entra_socache_del(sc->session_cache, r, key);
    return 1;
}
