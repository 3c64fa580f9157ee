/* The session as src/store.c reads it from a request's Cookie headers: a
 * whole sealed session, "chunks:<n>" plus entra_session_0..n-1 (joined in
 * order; any missing, extra or repeated chunk means no session), or with a
 * socache store the sealed session id. store.c is linked as it is, with the
 * few httpd-facing functions it calls stubbed out below (log, Set-Cookie,
 * socache). The first byte picks:
 *   0/1  the input is the Cookie headers, one per line (cookie / socache store);
 *   2/3  the input is a little program that assembles Cookie headers out of
 *        real chunks of a real 3-chunk session, wrong counts, odd chunk
 *        names, repeats, halves and separators (cookie / socache store).
 * Invariant: a session loads only when it is the real one; saving and
 * clearing afterwards work whatever the browser sent (sessions of one to
 * four chunks; LimitRequestFieldSize 8190 allows two, 16380 four). */
#include "fuzz_common.h"
#include "../src/connkept.h"
#include "../src/session.h"
#include "../src/socache.h"
#include "../src/store.h"
#include "../src/ended.h"
#include "../src/util.h"

#include <http_log.h>
#include <apr_strings.h>
#include <stdarg.h>
#include <string.h>

#define SESSION_ID "fuzz-socache-session-id-0123456789"
#define SESSION_ID_DOWN "store-is-down"
#define ENDED_SID "ended-sid"

/* ---- stubs for what store.c calls outside the core library ---- */

static char log_line[8192];

void ap_log_rerror_(const char *file, int line, int module_index, int level,
                    apr_status_t status, const request_rec *r, const char *fmt, ...)
{
    va_list ap;
    (void)file; (void)line; (void)module_index; (void)level; (void)status; (void)r;

    va_start(ap, fmt);
    vsnprintf(log_line, sizeof(log_line), fmt, ap);
    va_end(ap);
}

void entra_cookie_set(request_rec *r, const entra_server_conf *sc, const char *name,
                      const char *value, const char *path, int max_age)
{
    (void)sc;
    apr_table_addn(r->err_headers_out, "Set-Cookie",
                   apr_psprintf(r->pool, "%s=%s; Path=%s; Max-Age=%d", name, value, path,
                                max_age));
}

static const char *small_sealed;    /* what the fake socache holds */
static const char *key_session, *key_session_down, *key_sid_live;

apr_status_t entra_socache_get(entra_socache *c, request_rec *r, const char *key,
                               const char **value)
{
    (void)c; (void)r;
    if (strcmp(key, key_session) == 0) {
        *value = small_sealed;
        return APR_SUCCESS;
    }
    if (strcmp(key, key_session_down) == 0)
        return APR_EGENERAL;
    if (strcmp(key, key_sid_live) == 0) {
        /* the ids a sid indexes: odd separators, more than the 16 kept */
        *value = ",," SESSION_ID ",,a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q," SESSION_ID_DOWN ",";
        return APR_SUCCESS;
    }
    return APR_NOTFOUND;
}

/* the fake store has no copies nor lookups under way to skip */
apr_status_t entra_socache_get_fresh(entra_socache *c, request_rec *r, const char *key,
                                     const char **value)
{
    return entra_socache_get(c, r, key, value);
}

/* The ended-sids table (socache.c): only ENDED_SID has been ended. */
int entra_ended_has(request_rec *r, const char *app_tag, const char *sid)
{
    (void)r; (void)app_tag;
    return strcmp(sid, ENDED_SID) == 0;
}

int entra_ended_add(request_rec *r, const char *app_tag, const char *sid, apr_int64_t expires)
{
    (void)r; (void)app_tag; (void)sid; (void)expires;
    return 1;
}

apr_status_t entra_socache_put(entra_socache *c, request_rec *r, const char *key,
                               const char *value, apr_int64_t expires)
{
    (void)c; (void)r; (void)key; (void)value; (void)expires;
    return APR_SUCCESS;
}

apr_status_t entra_socache_del(entra_socache *c, request_rec *r, const char *key)
{
    (void)c; (void)r; (void)key;
    return APR_SUCCESS;
}

/* A connection keeps nothing here (connkept.c needs a real one): every
 * load goes the whole way through the cookies. */
unsigned char *entra_conn_kept_get(request_rec *r, entra_kept_kind kind, const void *owner,
                                   const char *credential, apr_int64_t now, apr_size_t *len)
{
    (void)r; (void)kind; (void)owner; (void)credential; (void)now; (void)len;
    return NULL;
}

void entra_conn_kept_put(request_rec *r, entra_kept_kind kind, const void *owner,
                         const char *credential, const unsigned char *value, apr_size_t len,
                         apr_int64_t now, apr_int64_t valid_until)
{
    (void)r; (void)kind; (void)owner; (void)credential; (void)value; (void)len; (void)now;
    (void)valid_until;
}

void entra_conn_kept_forget(request_rec *r, entra_kept_kind kind)
{
    (void)r; (void)kind;
}

/* ---- fixtures ---- */

static entra_server_conf *sc_cookie, *sc_cache;
static const char *chunk[3];
static const char *id_cookie, *id_cookie_down, *ended_sealed;
static int big_claims, small_claims, big_blob;
static server_rec server;
static struct ap_logconf logconf = { NULL, APLOG_TRACE8 };
static int fake_cache;

/* A session: four usual claims and, when blob > 0, a claim of `blob`
 * pseudo-random base64url characters (sessions are deflated before sealing:
 * only text that does not compress makes a session of several chunks). */
static entra_session *make_session(apr_pool_t *p, int blob, const char *sid)
{
    static const char b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    entra_session *s = apr_pcalloc(p, sizeof(*s));
    char *text = apr_palloc(p, (apr_size_t)blob + 1);
    unsigned long x = 12345;
    int i;

    s->created = FUZZ_NOW - 60;
    s->expires = FUZZ_NOW + 3600;
    s->last_seen = FUZZ_NOW - 60;
    s->claims = apr_array_make(p, 8, sizeof(entra_pair));
    entra_pairs_add(s->claims, "preferred_username", "ada@contoso.example");
    entra_pairs_add(s->claims, "oid", "00000000-0000-0000-66f3-3332eca7ea81");
    entra_pairs_add(s->claims, "tid", FUZZ_TENANT);
    entra_pairs_add(s->claims, "sid", sid);
    for (i = 0; i < blob; i++) {
        x = x * 6364136223846793005UL + 1442695040888963407UL;
        text[i] = b64u[(x >> 33) & 63];
    }
    text[blob] = '\0';
    if (blob)
        entra_pairs_add(s->claims, "x_blob", text);
    return s;
}

/* An app as entra_server_bind leaves it; the fuzz ring stands for its keys. */
#define APP_TAG "fuzzapp0"

static entra_server_conf *app_conf(apr_pool_t *p)
{
    entra_server_conf *sc = entra_create_server_conf(p, NULL);

    sc->tenant = FUZZ_TENANT;
    sc->session_keys = sc->app_keys = fuzz_ring();
    sc->app_tag = APP_TAG;
    sc->session_cookie = "entra_session";
    sc->state_cookie_prefix = "entra_session_state_";
    return sc;
}

static void fixtures(void)
{
    apr_pool_t *p = fuzz_root();
    const char *sealed = NULL;
    size_t len = 0;
    int blob, i;

    /* the smallest blob that makes three chunks */
    for (blob = 6000; blob < 20000; blob += 250) {
        sealed = entra_session_seal(p, fuzz_ring(), make_session(p, blob, "live-sid"));
        len = strlen(sealed);
        if (len > 2 * ENTRA_COOKIE_CHUNK)
            break;
    }
    if (len <= 2 * ENTRA_COOKIE_CHUNK || len > 3 * ENTRA_COOKIE_CHUNK) {
        fprintf(stderr, "fuzz_chunks: the fixture session is %zu bytes, not 3 chunks\n", len);
        abort();
    }
    big_blob = blob;
    for (i = 0; i < 3; i++)
        chunk[i] = apr_pstrndup(p, sealed + i * ENTRA_COOKIE_CHUNK, ENTRA_COOKIE_CHUNK);
    big_claims = 5;
    small_sealed = entra_session_seal(p, fuzz_ring(), make_session(p, 0, "live-sid"));
    small_claims = 4;
    ended_sealed = entra_session_seal(p, fuzz_ring(), make_session(p, 0, ENDED_SID));
    id_cookie = entra_seal(p, fuzz_ring(), "entra-session-id-v1",
                           (const unsigned char *)SESSION_ID, strlen(SESSION_ID));
    id_cookie_down = entra_seal(p, fuzz_ring(), "entra-session-id-v1",
                                (const unsigned char *)SESSION_ID_DOWN, strlen(SESSION_ID_DOWN));
    /* store.c's socache keys: "<id>.<app>.s", "<sha256(sid), 22 chars>.<app>.sid" */
    key_session = SESSION_ID "." APP_TAG ".s";
    key_session_down = SESSION_ID_DOWN "." APP_TAG ".s";
    key_sid_live = apr_pstrcat(p, apr_pstrndup(p, entra_sha256_b64url(p, "live-sid"), 22),
                               "." APP_TAG ".sid", NULL);
    sc_cookie = app_conf(p);
    sc_cache = app_conf(p);
    sc_cache->session_cache = (entra_socache *)&fake_cache;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init();
    fixtures();
    return 0;
}

/* ---- the cookie-assembling program ---- */

static const char *const odd_counts[16] = {
    "", "-1", "+3", " 3", "3 ", "03", "3x", "0x3", "2", "4", "16", "17",
    "99999999999999999999", "9223372036854775807", "1", "0"
};

/* At most this many steps: more only makes huge headers (a browser sends
 * at most a few KB, httpd takes 8 KB a header line by default). */
#define PROGRAM_MAX 64

static char *program(apr_pool_t *p, const uint8_t *data, size_t size)
{
    char *all = "", *cur = "";
    size_t i;

    if (size > PROGRAM_MAX)
        size = PROGRAM_MAX;
#define EMIT(...) cur = apr_pstrcat(p, cur, *cur ? "; " : "", apr_psprintf(p, __VA_ARGS__), NULL)
    for (i = 0; i < size; i++) {
        unsigned op = data[i] >> 4, arg = data[i] & 15;
        switch (op) {
        case 0: EMIT("entra_session=chunks:%u", arg); break;
        case 1: EMIT("entra_session_%u=%s", arg, chunk[arg % 3]); break;
        case 2: EMIT("entra_session_%u=%.*s", arg, ENTRA_COOKIE_CHUNK / 2, chunk[arg % 3]); break;
        case 3: EMIT("entra_session_%u=", arg); break;
        case 4:     /* the next Cookie header */
            all = apr_pstrcat(p, all, cur, "\n", NULL);
            cur = "";
            break;
        case 5: EMIT("entra_session=%s", arg & 1 ? ended_sealed : small_sealed); break;
        case 6: EMIT("entra_session=%s", arg & 1 ? id_cookie_down : id_cookie); break;
        case 7: EMIT("entra_session_0%u=%s", arg, chunk[arg % 3]); break;
        case 8: EMIT("entra_session_-%u=%s", arg, chunk[arg % 3]); break;
        case 9: EMIT("entra_session_%u=x", arg + 16); break;
        case 10: EMIT("entra_session=chunks:%s", odd_counts[arg]); break;
        case 11: cur = apr_pstrcat(p, cur, arg & 1 ? " ;\t; " : ";", NULL); break;
        case 12: EMIT("entra_session =chunks:3"); break;
        case 13: EMIT("entra_session%c=%s", "X_-. "[arg % 5], chunk[arg % 3]); break;
        case 14: EMIT("entra_session_%u=%s  ", arg, chunk[arg % 3]); break;
        default:    /* a literal byte */
            if (i + 1 < size && data[i + 1] >= 0x20 && data[i + 1] < 0x7f) {
                cur = apr_pstrcat(p, cur, apr_pstrndup(p, (const char *)data + i + 1, 1), NULL);
                i++;
            }
            break;
        }
    }
#undef EMIT
    return apr_pstrcat(p, all, cur, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    unsigned mode = fuzz_take_byte(&data, &size) % 4;
    const entra_server_conf *sc = mode & 1 ? sc_cache : sc_cookie;
    char *text = mode < 2 ? fuzz_cstr(p, data, size) : program(p, data, size);
    request_rec *r = apr_pcalloc(p, sizeof(*r));
    entra_session *s;
    int unavailable = 0;
    char *line;

    r->pool = p;
    r->headers_in = apr_table_make(p, 4);
    r->headers_out = apr_table_make(p, 4);
    r->err_headers_out = apr_table_make(p, 4);
    r->request_time = apr_time_from_sec(FUZZ_NOW);
    r->log = &logconf;
    r->server = &server;
    /* httpd's default LimitRequestFieldSize lets two chunks back; twice that four */
    server.limit_req_fieldsize = size & 1 ? 8190 : 16380;
    for (line = text; *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        apr_table_add(r->headers_in, "Cookie", line);
        line = nl ? nl + 1 : line + strlen(line);
    }

    s = entra_store_load_ex(r, sc, &unavailable);
    FUZZ_SAY("fuzz_chunks: %s", s ? "session loaded" : unavailable ? "store unavailable"
                                                       : "no session");
    if (s) {
        FUZZ_CHECK(!unavailable, "a session and an unavailable store at once");
        FUZZ_CHECK(s->claims->nelts == big_claims || s->claims->nelts == small_claims,
                   "a session with %d claims loaded", s->claims->nelts);
        FUZZ_CHECK(strcmp(entra_pairs_get(s->claims, "sid"), ENDED_SID) != 0,
                   "a session ended by front-channel logout loaded");
        FUZZ_CHECK(!(sc == sc_cache) || (s->id && strcmp(s->id, SESSION_ID) == 0),
                   "a socache session without its id");
    }
    else {
        /* what the callback and the refresh do after: a new session */
        s = make_session(p, (int)(size % 4) * big_blob / 2, "live-sid");
    }
    entra_store_save(r, sc, s);
    entra_store_clear(r, sc, s);
    entra_store_end_sid(r, sc, ENDED_SID);
    fuzz_end(p);
    return 0;
}
