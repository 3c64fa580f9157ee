/* The per-process caches under many threads at once, as mpm_event runs
 * them: 8 threads look keys up and verify good and forged tokens, and read
 * the discovery metadata, while another thread keeps publishing new JWKS
 * (as a key rollover or an unknown-kid refetch would). Built as it is for
 * `make unit`, and with ThreadSanitizer for `make unit-tsan`; ends with
 * "N passed, N failed". Any data race, double free or use after free of a
 * shared key fails it (TSan, ASan), and so does a wrong verdict. */
#include "unit.h"
#include "../../src/claims.h"
#include "../../src/crypto.h"
#include "../../src/flight.h"
#include "../../src/jwt.h"
#include "../../src/localcopy.h"
#include "../../src/provider.h"
#include "../../src/session.h"
#include "../../src/tokencache.h"

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_time.h>
#include <stdarg.h>
#include <stdio.h>

#define WORKERS 8
#define ROUNDS 150
#define REPUBLISH 60
#define ISSUER "https://issuer.example/tenant/v2.0"
#define CLIENT "client-id"

static int passed, failed;

/* The framework's checks, for the main thread only (the workers count
 * their verdicts themselves and main checks the totals). */
int unit_check(int ok, const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    if (ok) {
        passed++;
        return ok;
    }
    failed++;
    printf("FAIL %s:%d: ", file, line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    return ok;
}

int unit_check_str(const char *got, const char *want, const char *file, int line,
                   const char *fmt, ...)
{
    return unit_check((!got && !want) || (got && want && strcmp(got, want) == 0), file, line,
                      "%s", fmt);
}

/* config.c's handlers find their config through the module, and its
 * start-up warnings go to httpd's log: neither is linked here (the
 * sanitized build compiles every core file). */
module AP_MODULE_DECLARE_DATA auth_entra_module;

void ap_log_perror_(const char *file, int line, int module_index, int level,
                    apr_status_t status, apr_pool_t *p, const char *fmt, ...)
{
    (void)file; (void)line; (void)module_index; (void)level; (void)status; (void)p;
    (void)fmt;
}

typedef struct {
    entra_provider *provider;
    const char *good, *forged, *other_kid;
    int verified, refused, wrong, metadata_ok;
} worker;

static const char *metadata_json =
    "{\"issuer\":\"" ISSUER "\",\"authorization_endpoint\":\"http://127.0.0.1:9/a\","
    "\"token_endpoint\":\"http://127.0.0.1:9/t\",\"jwks_uri\":\"http://127.0.0.1:9/k\"}";

static char *jwks_json(apr_pool_t *p, int both)
{
    cjose_err err;
    char *k0 = cjose_jwk_to_json(unit_rsa_key(0), false, &err);
    char *k1 = both ? cjose_jwk_to_json(unit_rsa_key(1), false, &err) : NULL;
    char *out = apr_psprintf(p, "{\"keys\":[{\"use\":\"sig\",%s%s%s]}", k0 + 1,
                             both ? ",{\"use\":\"sig\"," : "", both ? k1 + 1 : "");

    free(k0);
    free(k1);
    return out;
}

static json_t *verify(apr_pool_t *p, entra_provider *pv, const char *token)
{
    entra_jwt_expect want = { .issuer = ISSUER, .client_id = CLIENT,
                              .now = apr_time_sec(apr_time_now()), .skew = 300 };
    entra_key_query query = { pv, p, 1, NULL };
    const char *why;

    return entra_jwt_verify(p, token, &want, entra_provider_key_lookup, &query, &why);
}

static void *APR_THREAD_FUNC work(apr_thread_t *thread, void *data)
{
    worker *w = data;
    apr_pool_t *root = NULL, *p;
    entra_metadata meta;
    int i;

    apr_pool_create_unmanaged_ex(&root, NULL, NULL);
    for (i = 0; i < ROUNDS; i++) {
        apr_pool_create(&p, root);
        if (verify(p, w->provider, w->good))
            w->verified++;
        else
            w->wrong++;
        if (verify(p, w->provider, w->forged) || verify(p, w->provider, w->other_kid))
            w->wrong++;
        else
            w->refused++;
        if (!entra_provider_metadata(w->provider, p, 1, &meta) && strcmp(meta.issuer, ISSUER) == 0)
            w->metadata_ok++;
        apr_pool_destroy(p);
    }
    apr_pool_destroy(root);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

/* Publishes the JWKS again and again, alternating one and two keys: the
 * keysets the workers hold must outlive the swap, and no other. */
static void *APR_THREAD_FUNC republish(apr_thread_t *thread, void *data)
{
    entra_provider *pv = data;
    apr_pool_t *p = NULL;
    int i;

    apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    for (i = 0; i < REPUBLISH; i++) {
        apr_pool_clear(p);
        entra_provider_seed(pv, p, metadata_json, jwks_json(p, i % 2));
        apr_sleep(apr_time_from_msec(2));
    }
    apr_pool_destroy(p);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

static void hammer(apr_pool_t *p)
{
    entra_provider *pv = entra_provider_create(p, "http://127.0.0.1:9/none", NULL, NULL);
    apr_int64_t now = apr_time_sec(apr_time_now());
    const char *claims = apr_psprintf(p, "{\"iss\":\"" ISSUER "\",\"aud\":\"" CLIENT "\","
                                      "\"exp\":%" APR_INT64_T_FMT ",\"iat\":%" APR_INT64_T_FMT
                                      ",\"sub\":\"s\"}", now + 3600, now);
    worker w[WORKERS];
    apr_thread_t *threads[WORKERS + 1];
    apr_status_t rv;
    int i, verified = 0, refused = 0, wrong = 0, metadata_ok = 0;

    if (!CHECK(entra_provider_seed(pv, p, metadata_json, jwks_json(p, 1)) == NULL,
               "the cache takes a discovery document and a JWKS"))
        return;
    for (i = 0; i < WORKERS; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].provider = pv;
        w[i].good = unit_sign(p, unit_rsa_key(0), "RS256", "unit-key-0", claims);
        /* signed by key 1 but naming key 0: a forgery with a real kid */
        w[i].forged = unit_sign(p, unit_rsa_key(1), "RS256", "unit-key-0", claims);
        /* a kid the cache does not know: the refetch fails (nothing listens) */
        w[i].other_kid = unit_sign(p, unit_rsa_key(1), "RS256", "made-up-kid", claims);
        apr_thread_create(&threads[i], NULL, work, &w[i], p);
    }
    apr_thread_create(&threads[WORKERS], NULL, republish, pv, p);
    for (i = 0; i <= WORKERS; i++)
        apr_thread_join(&rv, threads[i]);
    for (i = 0; i < WORKERS; i++) {
        verified += w[i].verified;
        refused += w[i].refused;
        wrong += w[i].wrong;
        metadata_ok += w[i].metadata_ok;
    }
    CHECK(verified == WORKERS * ROUNDS, "%d threads: every good token verified (%d of %d)",
          WORKERS, verified, WORKERS * ROUNDS);
    CHECK(refused == WORKERS * ROUNDS, "every forged or unknown-kid token refused (%d of %d)",
          refused, WORKERS * ROUNDS);
    CHECK(wrong == 0, "no wrong verdict (%d)", wrong);
    CHECK(metadata_ok == WORKERS * ROUNDS, "the metadata read the same by every thread (%d)",
          metadata_ok);
}

/* The cache of validated bearer tokens: 8 threads put and get 200 keys in
 * a cache of 64 (so it empties itself again and again); what comes out is
 * always what went in under that key. */
typedef struct {
    entra_token_cache *cache;
    int seed, hits, wrong;
} cacher;

static void *APR_THREAD_FUNC use_cache(apr_thread_t *thread, void *data)
{
    cacher *c = data;
    apr_pool_t *root = NULL, *p;
    int i;

    apr_pool_create_unmanaged_ex(&root, NULL, NULL);
    for (i = 0; i < 2000; i++) {
        /* each key twice in a row: a hit even when the threads happen to
         * run one after another (a repeat 200 puts later never hits) */
        int n = ((i / 2) * 7 + c->seed) % 200;
        const char *key = apr_psprintf(root, "key-%d", n);
        const char *value = apr_psprintf(root, "claims-of-%d", n);
        const unsigned char *got;
        apr_size_t len;
        apr_pool_create(&p, root);
        if ((got = entra_token_cache_get(c->cache, p, key, 1000, &len, NULL))) {
            c->hits++;
            c->wrong += len != strlen(value) || memcmp(got, value, len) != 0;
        }
        else
            entra_token_cache_put(c->cache, key, (const unsigned char *)value, strlen(value),
                                  2000);
        apr_pool_destroy(p);
    }
    apr_pool_destroy(root);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

static void token_cache(apr_pool_t *p)
{
    entra_token_cache *cache = entra_token_cache_create(p, 64);
    cacher c[WORKERS];
    apr_thread_t *threads[WORKERS];
    apr_status_t rv;
    apr_size_t len;
    apr_int64_t until = 0;
    int i, hits = 0, wrong = 0;

    entra_token_cache_put(cache, "expiring", (const unsigned char *)"x", 1, 1500);
    CHECK(entra_token_cache_get(cache, p, "expiring", 1499, &len, &until) != NULL
          && until == 1500, "token cache: kept until its time, which it says");
    CHECK(entra_token_cache_get(cache, p, "expiring", 1500, &len, NULL) == NULL,
          "token cache: not after");
    for (i = 0; i < WORKERS; i++) {
        c[i].cache = cache;
        c[i].seed = i * 31;
        c[i].hits = c[i].wrong = 0;
        apr_thread_create(&threads[i], NULL, use_cache, &c[i], p);
    }
    for (i = 0; i < WORKERS; i++) {
        apr_thread_join(&rv, threads[i]);
        hits += c[i].hits;
        wrong += c[i].wrong;
    }
    CHECK(hits > 0 && wrong == 0, "token cache under %d threads: %d hits, %d wrong", WORKERS,
          hits, wrong);
}

/* Cookies opened by 8 threads at once with two apps' keys in turn: each
 * thread keeps a cipher context of its own and keys it again when the app
 * changes; a cookie of one app never opens with the other's keys, a
 * tampered one never opens, and every good one opens to what was sealed. */
typedef struct {
    entra_keyring *ring[2];
    const char *sealed[2], *tampered;
    int opened, wrong;
} opener;

static void *APR_THREAD_FUNC open_cookies(apr_thread_t *thread, void *data)
{
    opener *o = data;
    apr_pool_t *p = NULL;
    int i;

    apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    for (i = 0; i < 3000; i++) {
        int app = i % 2;
        apr_size_t len;
        const unsigned char *plain = entra_open(p, o->ring[app], "threads", o->sealed[app], &len);
        o->opened += plain != NULL;
        o->wrong += !plain || len != 7 || memcmp(plain, app ? "app-one" : "app-two", 7) != 0;
        o->wrong += entra_open(p, o->ring[!app], "threads", o->sealed[app], &len) != NULL;
        o->wrong += entra_open(p, o->ring[app], "threads", o->tampered, &len) != NULL;
        if (i % 100 == 99)
            apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

static void cookies(apr_pool_t *p)
{
    entra_keyring *ring = entra_keyring_make(p);
    opener o[WORKERS];
    apr_thread_t *threads[WORKERS];
    apr_status_t rv;
    entra_keyring *two, *one;
    const char *sealed2, *sealed1;
    char *tampered;
    int i, opened = 0, wrong = 0;

    entra_keyring_add(ring, "0123456789abcdef0123456789abcdef", 32);
    two = entra_keyring_bind(p, ring, "app two");
    one = entra_keyring_bind(p, ring, "app one");
    sealed2 = entra_seal(p, two, "threads", (const unsigned char *)"app-two", 7);
    sealed1 = entra_seal(p, one, "threads", (const unsigned char *)"app-one", 7);
    tampered = apr_pstrdup(p, sealed1);
    tampered[20] = tampered[20] == 'A' ? 'B' : 'A';
    for (i = 0; i < WORKERS; i++) {
        o[i].ring[0] = two;
        o[i].ring[1] = one;
        o[i].sealed[0] = sealed2;
        o[i].sealed[1] = sealed1;
        o[i].tampered = tampered;
        o[i].opened = o[i].wrong = 0;
        apr_thread_create(&threads[i], NULL, open_cookies, &o[i], p);
    }
    for (i = 0; i < WORKERS; i++) {
        apr_thread_join(&rv, threads[i]);
        opened += o[i].opened;
        wrong += o[i].wrong;
    }
    CHECK(opened == WORKERS * 3000 && wrong == 0,
          "cookies under %d threads, two apps: %d opened, %d wrong", WORKERS, opened, wrong);
}

/* Sessions opened by 8 threads at once with this process's copies of
 * opened cookies (session.c): two apps sharing a key, each thread opening
 * both apps' cookies, each with the other's ring, and a changed one. */
typedef struct {
    entra_keyring *ring[2];
    const char *sealed[2], *changed;
    int opened, wrong;
} session_opener;

static void *APR_THREAD_FUNC open_sessions(apr_thread_t *thread, void *data)
{
    session_opener *o = data;
    apr_pool_t *p = NULL;
    int i;

    apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    for (i = 0; i < 3000; i++) {
        int app = i % 2;
        entra_session *s = entra_session_open(p, o->ring[app], o->sealed[app], 1000, 0);
        o->opened += s != NULL;
        o->wrong += !s || strcmp(entra_pairs_get(s->claims, "sub") ? entra_pairs_get(s->claims, "sub")
                                                                   : "", app ? "one" : "two") != 0;
        if (s) {
            /* what a request does to its session stays its own: the
             * copy the next one gets is as it was kept */
            entra_pairs_set(p, s->claims, "sub", "changed");
            entra_pairs_add(s->claims, "added", "by this request");
        }
        o->wrong += entra_session_open(p, o->ring[!app], o->sealed[app], 1000, 0) != NULL;
        o->wrong += entra_session_open(p, o->ring[app], o->changed, 1000, 0) != NULL;
        if (i % 100 == 99)
            apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

static void sessions(apr_pool_t *parent)
{
    apr_pool_t *p;
    entra_keyring *ring;
    session_opener o[WORKERS];
    apr_thread_t *threads[WORKERS];
    apr_status_t rv;
    entra_session s = { 900, 5000, 0, NULL, NULL, 0, NULL, 0 };
    const char *sealed[2];
    char *changed;
    int i, app, opened = 0, wrong = 0;

    apr_pool_create(&p, parent);
    entra_session_child_init(p);
    ring = entra_keyring_make(p);
    entra_keyring_add(ring, "0123456789abcdef0123456789abcdef", 32);
    for (app = 0; app < 2; app++) {
        o[0].ring[app] = entra_keyring_bind(p, ring, app ? "app one" : "app two");
        s.claims = apr_array_make(p, 1, sizeof(entra_pair));
        entra_pairs_add(s.claims, "sub", app ? "one" : "two");
        sealed[app] = entra_session_seal(p, o[0].ring[app], &s);
    }
    changed = apr_pstrdup(p, sealed[1]);
    changed[strlen(changed) / 2] = changed[strlen(changed) / 2] == 'A' ? 'B' : 'A';
    for (i = 0; i < WORKERS; i++) {
        o[i].ring[0] = o[0].ring[0];
        o[i].ring[1] = o[0].ring[1];
        o[i].sealed[0] = sealed[0];
        o[i].sealed[1] = sealed[1];
        o[i].changed = changed;
        o[i].opened = o[i].wrong = 0;
        apr_thread_create(&threads[i], NULL, open_sessions, &o[i], p);
    }
    for (i = 0; i < WORKERS; i++) {
        apr_thread_join(&rv, threads[i]);
        opened += o[i].opened;
        wrong += o[i].wrong;
    }
    CHECK(opened == WORKERS * 3000 && wrong == 0,
          "sessions under %d threads with kept copies, two apps: %d opened, %d wrong", WORKERS,
          opened, wrong);
    apr_pool_destroy(p);
}

/* Claims published by 8 threads at once (claims.c keeps every claim's
 * header and variable names, made once a process): 400 names, more than
 * the names kept, so some are made per request; every header and variable
 * holds its own claim's value. */
#define PUBLISHED_NAMES 400

typedef struct {
    int seed, wrong;
} publisher;

static void *APR_THREAD_FUNC publish_claims(apr_thread_t *thread, void *data)
{
    publisher *pb = data;
    apr_pool_t *p = NULL;
    int i, k;

    apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    for (i = 0; i < 300; i++) {
        apr_array_header_t *claims = apr_array_make(p, 8, sizeof(entra_pair));
        apr_table_t *h = apr_table_make(p, 8), *env = apr_table_make(p, 8);
        for (k = 0; k < 8; k++) {
            int n = (pb->seed * 131 + i * 17 + k * 53) % PUBLISHED_NAMES;
            const char *name = apr_psprintf(p, "claim%d", n), *kept = NULL;
            /* every other pass by the kept names (a session image's) */
            if (i % 2 && (kept = entra_claim_name_kept(name)))
                pb->wrong += strcmp(kept, name) != 0 || !entra_claim_name_is_kept(kept);
            entra_pairs_add(claims, kept ? kept : name, apr_psprintf(p, "v%d", n));
        }
        entra_claims_publish(p, claims, h, env);
        for (k = 0; k < 8; k++) {
            const entra_pair *c = &APR_ARRAY_IDX(claims, k, entra_pair);
            const char *hv = apr_table_get(h, apr_pstrcat(p, "X-Entra-Claim-", c->name, NULL));
            const char *ev = apr_table_get(env, apr_pstrcat(p, "ENTRA_CLAIM_", c->name, NULL));
            pb->wrong += !hv || !ev || strcmp(hv, c->value) != 0 || strcmp(ev, c->value) != 0;
        }
        pb->wrong += apr_table_elts(h)->nelts != 8 || apr_table_elts(env)->nelts != 8;
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

static void claims_published(apr_pool_t *p)
{
    publisher pb[WORKERS];
    apr_thread_t *threads[WORKERS];
    apr_status_t rv;
    int i, wrong = 0;

    for (i = 0; i < WORKERS; i++) {
        pb[i].seed = i;
        pb[i].wrong = 0;
        apr_thread_create(&threads[i], NULL, publish_claims, &pb[i], p);
    }
    for (i = 0; i < WORKERS; i++) {
        apr_thread_join(&rv, threads[i]);
        wrong += pb[i].wrong;
    }
    CHECK(wrong == 0, "claims published under %d threads, %d names: %d wrong", WORKERS,
          PUBLISHED_NAMES, wrong);
}

/* The arena of kept claim names (claims.c) filled by 8 threads at once,
 * every thread asking for the same long names in its own order: a name
 * kept is always itself (no two names ever share a block, none is written
 * over), one name is one pointer, and once the arena is full a name is
 * simply not kept. */
#define LONG_NAMES 300

typedef struct {
    int seed, wrong, kept;
    const char *got[LONG_NAMES];
} name_filler;

static const char *long_name(apr_pool_t *p, int n)
{
    return apr_psprintf(p, "extension_%0180d_%d", n, n);
}

static void *APR_THREAD_FUNC fill_names(apr_thread_t *thread, void *data)
{
    name_filler *f = data;
    apr_pool_t *p = NULL;
    int i;

    apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    for (i = 0; i < LONG_NAMES; i++) {
        int n = (i * 7 + f->seed * 37) % LONG_NAMES;
        const char *name = long_name(p, n), *kept = entra_claim_name_kept(name);
        f->got[n] = kept;
        if (kept) {
            f->kept++;
            f->wrong += strcmp(kept, name) != 0 || !entra_claim_name_is_kept(kept);
        }
    }
    apr_pool_destroy(p);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

static void names_filled(apr_pool_t *p)
{
    static name_filler f[WORKERS];
    apr_thread_t *threads[WORKERS];
    apr_status_t rv;
    int i, n, wrong = 0, kept = 0, split = 0, reused = 0;

    for (i = 0; i < WORKERS; i++) {
        f[i].seed = i;
        apr_thread_create(&threads[i], NULL, fill_names, &f[i], p);
    }
    for (i = 0; i < WORKERS; i++) {
        apr_thread_join(&rv, threads[i]);
        wrong += f[i].wrong;
    }
    for (n = 0; n < LONG_NAMES; n++) {
        const char *now = entra_claim_name_kept(long_name(p, n));
        kept += now != NULL;
        for (i = 0; i < WORKERS; i++)
            split += f[i].got[n] && f[i].got[n] != now;
        wrong += now && strcmp(now, long_name(p, n)) != 0;
        for (i = 0; now && i < n; i++)
            reused += f[0].got[i] == now;
    }
    CHECK(wrong == 0, "kept claim names under %d threads: each is its own name (%d wrong)",
          WORKERS, wrong);
    CHECK(split == 0 && reused == 0, "... one pointer a name, never another name's "
          "(%d split, %d reused)", split, reused);
    CHECK(kept > 0 && kept < LONG_NAMES, "... until the arena is full (%d of %d kept)", kept,
          LONG_NAMES);
}

/* Copies of a local store's values (localcopy.h): what was kept comes back
 * only at its generation and within its time; then 8 threads put and get
 * 600 keys over 256 slots while the generation moves, and what comes out
 * is always what went in under that key at that generation. */
typedef struct {
    entra_local_copies *lc;
    int seed, hits, wrong;
} copier;

static void *APR_THREAD_FUNC use_copies(apr_thread_t *thread, void *data)
{
    copier *c = data;
    apr_pool_t *p = NULL;
    int i;

    apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    for (i = 0; i < 4000; i++) {
        int n = ((i / 2) * 13 + c->seed) % 600;
        apr_uint64_t gen = (apr_uint64_t)(i / 500);
        const char *key = apr_psprintf(p, "%d.app.s", n);
        const char *want = apr_psprintf(p, "value-of-%d-at-%d", n, (int)gen);
        unsigned int len;
        const unsigned char *got = entra_local_copy_get(c->lc, p, key, gen, 1000, &len);
        if (got) {
            c->hits++;
            c->wrong += len != strlen(want) || memcmp(got, want, len) != 0;
        }
        else
            entra_local_copy_put(c->lc, p, key, (const unsigned char *)want,
                                 (unsigned int)strlen(want), gen, 1000);
        if (i % 100 == 99)
            apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

/* Many threads on one table; whether each copy they got was right. */
static void copies_under_threads(apr_pool_t *p, entra_local_copies *lc, const char *what)
{
    copier c[WORKERS];
    apr_thread_t *threads[WORKERS];
    apr_status_t rv;
    int i, hits = 0, wrong = 0;

    for (i = 0; i < WORKERS; i++) {
        c[i].lc = lc;
        c[i].seed = i * 37;
        c[i].hits = c[i].wrong = 0;
        apr_thread_create(&threads[i], NULL, use_copies, &c[i], p);
    }
    for (i = 0; i < WORKERS; i++) {
        apr_thread_join(&rv, threads[i]);
        hits += c[i].hits;
        wrong += c[i].wrong;
    }
    CHECK(hits > 0 && wrong == 0, "%s under %d threads: %d hits, %d wrong", what, WORKERS,
          hits, wrong);
}

/* A networked store's copies (socache.c): shared only by requests under
 * way together, each request a pool. */
static void copies_while_in_use(apr_pool_t *p)
{
    entra_local_copies *lc = entra_local_copies_create(p, 1000, 1);
    const unsigned char *v1 = (const unsigned char *)"v1";
    apr_pool_t *a, *b, *c;
    unsigned int len;

    apr_pool_create(&a, p);
    apr_pool_create(&b, p);
    apr_pool_create(&c, p);
    entra_local_copy_put(lc, a, "s.r", v1, 2, 7, 5000);
    CHECK(entra_local_copy_get(lc, b, "s.r", 7, 5500, &len) && len == 2,
          "copy in use: given to a request that comes while the first is under way");
    apr_pool_clear(a);
    CHECK(entra_local_copy_get(lc, c, "s.r", 7, 5600, &len) != NULL,
          "copy in use: ... while any request that used it is under way");
    apr_pool_clear(b);
    apr_pool_clear(c);
    CHECK(!entra_local_copy_get(lc, a, "s.r", 7, 5700, &len),
          "copy in use: not once every request that used it has ended");
    entra_local_copy_put(lc, a, "s.r", v1, 2, 7, 6000);
    CHECK(!entra_local_copy_get(lc, b, "s.r", 7, 7000, &len),
          "copy in use: not after its time, in use or not");
    entra_local_copy_put(lc, a, "s.r", v1, 2, 8, 8000);
    CHECK(!entra_local_copy_get(lc, b, "s.r", 9, 8100, &len),
          "copy in use: not once the store's generation moved");
    /* a holds uses of two copies of the slot: the replaced one's end must
     * not count against the new one (a count below zero would read as in use) */
    apr_pool_clear(a);
    CHECK(!entra_local_copy_get(lc, b, "s.r", 8, 8200, &len),
          "copy in use: a replaced copy's users are not the new one's");
    entra_local_copy_put(lc, a, "s.t", v1, 2, 7, 9000);
    CHECK(entra_local_copy_get(lc, b, "s.t", 7, 8500, &len) != NULL,
          "copy in use: good for a request that took the clock a little before the lookup");
    CHECK(!entra_local_copy_get(lc, b, "s.t", 7, 7000, &len),
          "copy in use: not for one a whole time before it (the clock was set back)");
    apr_pool_destroy(a);
    apr_pool_destroy(b);
    apr_pool_destroy(c);
}

/* Two processes' tables sharing the count of requests under way (the
 * words in shared memory): a copy of one process is given while a request
 * of the other is under way with the key, and not once none is. */
static void copies_in_use_across_processes(apr_pool_t *p)
{
    apr_uint64_t *words = apr_pcalloc(p, ENTRA_LOCAL_SHARED_SLOTS * sizeof(*words));
    entra_local_copies *one = entra_local_copies_create(p, 1000, 1);
    entra_local_copies *two = entra_local_copies_create(p, 1000, 1);
    const unsigned char *v1 = (const unsigned char *)"v1";
    apr_pool_t *a, *b;
    unsigned int len;
    int i, zero = 1;

    entra_local_copies_share(one, words);
    entra_local_copies_share(two, words);
    apr_pool_create(&a, p);
    apr_pool_create(&b, p);
    entra_local_copy_put(two, b, "s.x", v1, 2, 7, 5000);
    apr_pool_clear(b);
    CHECK(!entra_local_copy_get(two, b, "s.x", 7, 5100, &len),
          "shared use: process two's copy, none of its requests under way: not given");
    entra_local_copy_put(one, a, "s.x", v1, 2, 7, 5200);
    CHECK(entra_local_copy_get(two, b, "s.x", 7, 5300, &len) != NULL,
          "shared use: ... given while a request of process one is under way with the key");
    CHECK(!entra_local_copy_get(two, b, "s.y", 7, 5300, &len),
          "shared use: ... not for another key");
    apr_pool_clear(a);
    CHECK(entra_local_copy_get(two, a, "s.x", 7, 5400, &len) != NULL,
          "shared use: ... and while process two's own request that took it is under way");
    apr_pool_clear(a);
    apr_pool_clear(b);
    CHECK(!entra_local_copy_get(two, b, "s.x", 7, 5500, &len),
          "shared use: not once every request of both processes has ended");
    for (i = 0; i < ENTRA_LOCAL_SHARED_SLOTS; i++)
        zero &= words[i] == 0;
    CHECK(zero, "shared use: every count back to nothing");
    apr_pool_destroy(a);
    apr_pool_destroy(b);
}

/* A process killed with a request under way (a segfault, the SIGKILL
 * after a stop's grace) never ends its use: its key's word is left counted,
 * in memory kept across restarts. That must not make the key's copies
 * given for ever to requests that come alone (review of 412d4e1): a count
 * is believed for a while after its word was taken, not after. */
static void copies_after_a_process_died(apr_pool_t *p)
{
    apr_uint64_t *words = apr_pcalloc(p, ENTRA_LOCAL_SHARED_SLOTS * sizeof(*words));
    entra_local_copies *dead = entra_local_copies_create(p, 2000, 1);
    entra_local_copies *alive = entra_local_copies_create(p, 2000, 1);
    entra_local_copies *third = entra_local_copies_create(p, 2000, 1);
    const unsigned char *v1 = (const unsigned char *)"v1";
    apr_time_t later = apr_time_from_sec(60);
    apr_pool_t *killed, *b, *c;
    unsigned int len;

    entra_local_copies_share(dead, words);
    entra_local_copies_share(alive, words);
    entra_local_copies_share(third, words);
    apr_pool_create(&killed, p);
    apr_pool_create(&b, p);
    apr_pool_create(&c, p);
    /* the request of the dead process: its pool is never cleared */
    entra_local_copy_put(dead, killed, "s.k", v1, 2, 7, 1000);
    entra_local_copy_put(alive, b, "s.k", v1, 2, 7, later);
    apr_pool_clear(b);
    CHECK(!entra_local_copy_get(alive, b, "s.k", 7, later + 100, &len),
          "dead process: a minute later, a request of the key that comes alone asks the store");
    entra_local_copy_put(third, c, "s.k", v1, 2, 7, later + 200);
    CHECK(entra_local_copy_get(alive, b, "s.k", 7, later + 300, &len) != NULL,
          "dead process: ... and the key is counted again (given while a request of a "
          "third process is under way)");
    apr_pool_clear(b);
    apr_pool_clear(c);
    CHECK(!entra_local_copy_get(alive, b, "s.k", 7, later + 400, &len),
          "dead process: ... and not once it has ended");
    apr_pool_destroy(b);
    apr_pool_destroy(c);
    (void)killed;       /* left as a killed process leaves it */
}

/* Renewed ahead (entra_local_copies_refresh_after): of the requests that
 * find a copy past its renewal time, one gets none and looks it up again;
 * every other still gets the copy until its end. */
typedef struct {
    entra_local_copies *lc;
    apr_time_t now;
    int got;
} renewer;

static void *APR_THREAD_FUNC get_at(apr_thread_t *thread, void *data)
{
    renewer *w = data;
    apr_pool_t *q = NULL;
    unsigned int len;

    apr_pool_create_unmanaged_ex(&q, NULL, NULL);
    w->got = entra_local_copy_get(w->lc, q, "renew.s", 1, w->now, &len) != NULL;
    apr_pool_destroy(q);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

static void copies_renewed_ahead(apr_pool_t *p)
{
    entra_local_copies *lc = entra_local_copies_create(p, 4000, 1);
    renewer w[WORKERS];
    apr_thread_t *threads[WORKERS];
    apr_status_t rv;
    apr_pool_t *req;
    unsigned int len;
    int i, without = 0;

    entra_local_copies_refresh_after(lc, 2000);
    apr_pool_create(&req, p);       /* a request under way with the copy */
    entra_local_copy_put(lc, req, "renew.s", (const unsigned char *)"v1", 2, 1, 10000);
    CHECK(entra_local_copy_get(lc, req, "renew.s", 1, 11999, &len)
          && entra_local_copy_get(lc, req, "renew.s", 1, 11999, &len),
          "renewed ahead: a copy younger than its renewal time is given to all");
    for (i = 0; i < WORKERS; i++) {
        w[i].lc = lc;
        w[i].now = 12500;
        apr_thread_create(&threads[i], NULL, get_at, &w[i], p);
    }
    for (i = 0; i < WORKERS; i++) {
        apr_thread_join(&rv, threads[i]);
        without += !w[i].got;
    }
    CHECK(without == 1, "renewed ahead: of %d requests at once past it, %d looks it up again",
          WORKERS, without);
    CHECK(entra_local_copy_get(lc, req, "renew.s", 1, 13999, &len)
          && !entra_local_copy_get(lc, req, "renew.s", 1, 14000, &len),
          "renewed ahead: ... the others get the copy until its end, none after");
    entra_local_copy_put(lc, req, "renew.s", (const unsigned char *)"v2", 2, 1, 14100);
    CHECK(entra_local_copy_get(lc, req, "renew.s", 1, 16100, &len) == NULL
          && entra_local_copy_get(lc, req, "renew.s", 1, 16100, &len) != NULL,
          "renewed ahead: the copy put in its place is renewed in its turn");
    apr_pool_destroy(req);
}

/* What goes in and out of a slot besides get and put: a request that
 * joined a flight is counted without taking the renewal; one whose lookup
 * failed takes the copy without renewing it; a key the store no longer
 * has, or whose value grew too big to copy, is dropped; a slow lookup's
 * answer does not take a copy back. */
static void copies_kept_right(apr_pool_t *p)
{
    entra_local_copies *lc = entra_local_copies_create(p, 4000, 1);
    char *big = apr_pcalloc(p, ENTRA_LOCAL_COPY_MAX + 2);
    const unsigned char *got;
    apr_pool_t *req, *late;
    unsigned int len;

    entra_local_copies_refresh_after(lc, 2000);
    apr_pool_create(&req, p);
    entra_local_copy_put(lc, req, "kept.s", (const unsigned char *)"v1", 2, 1, 10000);
    apr_pool_create(&late, p);
    CHECK(entra_local_copy_count_use(lc, late, "kept.s", 1, 12100)
          && entra_local_copy_peek(lc, late, "kept.s", 1, 12100, &len)
          && !entra_local_copy_get(lc, late, "kept.s", 1, 12100, &len),
          "copy: counting a joiner's use, or a peek, leaves the renewal to a get");
    apr_pool_destroy(late);
    CHECK(entra_local_copy_peek(lc, p, "kept.s", 1, 12200, &len)
          && !entra_local_copy_count_use(lc, p, "kept.s", 1, 14000),
          "copy: a peek takes a copy being renewed, until its end");
    entra_local_copy_put(lc, req, "kept.s", (const unsigned char *)"v3", 2, 1, 15000);
    entra_local_copy_put(lc, req, "kept.s", (const unsigned char *)"v2", 2, 1, 14500);
    got = entra_local_copy_peek(lc, req, "kept.s", 1, 15100, &len);
    CHECK(got && len == 2 && memcmp(got, "v3", 2) == 0,
          "copy: a slower lookup's answer does not replace a later one's");
    entra_local_copy_drop(lc, "other.s");
    CHECK(entra_local_copy_peek(lc, req, "kept.s", 1, 15100, &len) != NULL,
          "copy: dropping another key leaves it");
    entra_local_copy_drop(lc, "kept.s");
    CHECK(!entra_local_copy_peek(lc, req, "kept.s", 1, 15100, &len),
          "copy: dropped when the store no longer has it");
    entra_local_copy_put(lc, req, "kept.s", (const unsigned char *)"v4", 2, 1, 16000);
    memset(big, 'x', ENTRA_LOCAL_COPY_MAX + 1);
    entra_local_copy_put(lc, req, "kept.s", (const unsigned char *)big, ENTRA_LOCAL_COPY_MAX + 1,
                         1, 16100);
    CHECK(!entra_local_copy_peek(lc, req, "kept.s", 1, 16200, &len),
          "copy: a value too big to copy drops the older, smaller one");
    apr_pool_destroy(req);
}

static void local_copies(apr_pool_t *p)
{
    entra_local_copies *lc = entra_local_copies_create(p, apr_time_from_sec(30), 0), *shared;
    apr_uint64_t *words = apr_pcalloc(p, ENTRA_LOCAL_SHARED_SLOTS * sizeof(*words));
    unsigned int len;
    char *big = apr_pcalloc(p, ENTRA_LOCAL_COPY_MAX + 2);
    int i, zero = 1;

    entra_local_copy_put(lc, p, "k.s", (const unsigned char *)"v1", 2, 7, 1000);
    CHECK(entra_local_copy_get(lc, p, "k.s", 7, 1000, &len) && len == 2, "local copy: kept");
    CHECK(!entra_local_copy_get(lc, p, "k.s", 8, 1000, &len),
          "local copy: not once the store's generation moved");
    CHECK(!entra_local_copy_get(lc, p, "k.s", 7, 1000 + apr_time_from_sec(30), &len),
          "local copy: not after its time");
    CHECK(!entra_local_copy_get(lc, p, "other.s", 7, 1000, &len), "local copy: not another key");
    memset(big, 'x', ENTRA_LOCAL_COPY_MAX + 1);
    entra_local_copy_put(lc, p, "big.s", (const unsigned char *)big, ENTRA_LOCAL_COPY_MAX + 1, 7,
                         1000);
    CHECK(!entra_local_copy_get(lc, p, "big.s", 7, 1000, &len), "local copy: none of a big value");
    copies_under_threads(p, lc, "local copies");
    copies_while_in_use(p);
    copies_in_use_across_processes(p);
    copies_after_a_process_died(p);
    copies_renewed_ahead(p);
    copies_kept_right(p);
    copies_under_threads(p, entra_local_copies_create(p, apr_time_from_sec(30), 1),
                         "copies shared while in use");
    shared = entra_local_copies_create(p, apr_time_from_sec(30), 1);
    entra_local_copies_share(shared, words);
    copies_under_threads(p, shared, "copies shared while in use in any process");
    for (i = 0; i < ENTRA_LOCAL_SHARED_SLOTS; i++)
        zero &= words[i] == 0;
    CHECK(zero, "copies shared while in use in any process: every count back to nothing");
}

/* ---- single-flight lookups (flight.h) */

typedef struct {
    entra_flights *fl;
    apr_time_t now;
    int joined;
    apr_status_t rv;
    char got[16];
} joiner;

static void *APR_THREAD_FUNC join_flight(apr_thread_t *thread, void *data)
{
    joiner *j = data;
    apr_pool_t *p = NULL;
    const unsigned char *v = NULL;
    unsigned int len = 0;
    entra_flight *led;

    apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    j->joined = entra_flight_join(j->fl, p, "sess.k", 1, j->now, &j->rv, &v, &len, &led);
    if (j->joined && j->rv == APR_SUCCESS && v)
        snprintf(j->got, sizeof(j->got), "%.*s", (int)len, (const char *)v);
    if (led)        /* came too late to wait: led one of its own */
        entra_flight_land(j->fl, led, APR_NOTFOUND, NULL, 0);
    apr_pool_destroy(p);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

/* WORKERS threads wait on a flight that lands with `rv`; how many of them
 * got `want` (or, for a failure, went on to ask the store themselves).
 * With `replace_gen`, a request of that store generation leads a flight
 * of its own in the slot while they wait. */
static int waiters_share(apr_pool_t *p, entra_flights *fl, entra_flight *led, apr_time_t now,
                         apr_status_t rv, const char *want, apr_uint64_t replace_gen)
{
    joiner j[WORKERS];
    apr_thread_t *threads[WORKERS];
    apr_status_t trv;
    const unsigned char *v;
    unsigned int len;
    entra_flight *next = NULL;
    int i, shared = 0;

    for (i = 0; i < WORKERS; i++) {
        memset(&j[i], 0, sizeof(j[i]));
        j[i].fl = fl;
        j[i].now = now;
        apr_thread_create(&threads[i], NULL, join_flight, &j[i], p);
    }
    apr_sleep(apr_time_from_sec(1));        /* all of them waiting by now, even under load */
    if (replace_gen && !entra_flight_join(fl, p, "sess.k", replace_gen, now, &trv, &v, &len,
                                          &next) && next)
        entra_flight_land(fl, next, APR_NOTFOUND, NULL, 0);
    entra_flight_land(fl, led, rv, (const unsigned char *)want, (unsigned int)strlen(want));
    for (i = 0; i < WORKERS; i++) {
        apr_thread_join(&trv, threads[i]);
        shared += rv == APR_SUCCESS ? j[i].joined && j[i].rv == rv && strcmp(j[i].got, want) == 0
                                    : !j[i].joined;
    }
    return replace_gen && !next ? 0 : shared;
}

/* A flight sent at `sent` (generation 1) in the slot; whether a request
 * of `gen` at `now` does not join it but leads one of its own. */
static int leads_its_own(apr_pool_t *p, entra_flights *fl, apr_uint64_t gen, apr_time_t sent,
                         apr_time_t now)
{
    const unsigned char *v;
    unsigned int len;
    entra_flight *first, *second = NULL;
    apr_status_t rv;
    int joined;

    if (entra_flight_join(fl, p, "sess.k", 1, sent, &rv, &v, &len, &first) || !first)
        return 0;
    joined = entra_flight_join(fl, p, "sess.k", gen, now, &rv, &v, &len, &second);
    if (second)
        entra_flight_land(fl, second, APR_NOTFOUND, NULL, 0);
    entra_flight_land(fl, first, APR_NOTFOUND, NULL, 0);
    return !joined && second && second != first;
}

static void flights(apr_pool_t *p)
{
    entra_flights *fl = entra_flights_create(p, 2000);
    const unsigned char *v;
    unsigned int len;
    entra_flight *led;
    apr_status_t rv;

    CHECK(!entra_flight_join(fl, p, "sess.k", 1, 10000, &rv, &v, &len, &led) && led,
          "flight: a lookup with none under way leads one");
    CHECK(waiters_share(p, fl, led, 10500, APR_SUCCESS, "v1", 0) == WORKERS,
          "flight: %d threads that came while it was under way share its answer", WORKERS);
    CHECK(!entra_flight_join(fl, p, "sess.k", 1, 10600, &rv, &v, &len, &led) && led,
          "flight: a lookup after the answer leads a new one");
    CHECK(waiters_share(p, fl, led, 10700, APR_ECONNREFUSED, "", 0) == WORKERS,
          "flight: ... and the waiters of one the store failed ask it themselves");
    CHECK(!entra_flight_join(fl, p, "sess.k", 1, 10800, &rv, &v, &len, &led) && led,
          "flight: ... and is not remembered");
    entra_flight_land(fl, led, APR_NOTFOUND, NULL, 0);
    CHECK(leads_its_own(p, fl, 2, 20000, 20100),
          "flight: not joined at another store generation: a flight of its own");
    CHECK(leads_its_own(p, fl, 1, 30000, 32000),
          "flight: not joined once older than its time: a flight of its own");
    CHECK(leads_its_own(p, fl, 1, 40000, 37000),
          "flight: not joined when sent a whole time after now (the clock was set back)");
    CHECK(!entra_flight_join(fl, p, "sess.k", 1, 50000, &rv, &v, &len, &led) && led
          && waiters_share(p, fl, led, 50500, APR_SUCCESS, "v2", 2) == WORKERS,
          "flight: its waiters still get its answer when a flight of another "
          "generation took its slot meanwhile");
    CHECK(entra_flights_alive(fl) == 0, "flight: every flight freed once all have ended");
}


/* Stress (review of 665d85c): 8 threads, each "request" a pool of its own
 * that gets or puts one of a few hot keys (and keys that share their
 * slots), at times that make copies expire and replace each other. Once
 * every request has ended, no copy is in use any more: a count that went
 * below zero, or a use that was never ended, would read as in use. */
/* one clock for all the threads: 300 us every 16 calls */
static apr_uint32_t hot_ticks;

static apr_time_t hot_now(int tick)
{
    apr_uint32_t t = tick ? __atomic_add_fetch(&hot_ticks, 1, __ATOMIC_RELAXED)
                          : __atomic_load_n(&hot_ticks, __ATOMIC_RELAXED);
    return 1000 + (apr_time_t)(t / 16) * 300;
}

static void *APR_THREAD_FUNC use_hot_copies(apr_thread_t *thread, void *data)
{
    copier *c = data;
    apr_pool_t *p = NULL;
    int i;

    for (i = 0; i < 6000; i++) {
        int n = (i * 7 + c->seed) % 5;
        const char *key, *want;
        apr_time_t now = hot_now(1);
        unsigned int len;
        const unsigned char *got;

        if (!p)
            apr_pool_create_unmanaged_ex(&p, NULL, NULL);      /* a request begins */
        key = apr_psprintf(p, "%d.hot.s", n);
        want = apr_psprintf(p, "value-of-%d", n);
        got = entra_local_copy_get(c->lc, p, key, 1, now, &len);

        if (got) {
            c->hits++;
            c->wrong += len != strlen(want) || memcmp(got, want, len) != 0;
        }
        else
            entra_local_copy_put(c->lc, p, key, (const unsigned char *)want,
                                 (unsigned int)strlen(want), 1, now);
        /* a request longer than a key's return (every 5th), so a thread's
         * own requests overlap too: hits however the threads are run */
        if ((i + c->seed) % 7 == 0) {
            apr_pool_destroy(p);        /* the request ends */
            p = NULL;
        }
    }
    if (p)
        apr_pool_destroy(p);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

static void copies_in_use_stress(apr_pool_t *p)
{
    entra_local_copies *lc = entra_local_copies_create(p, 2000, 1);
    copier c[WORKERS];
    apr_thread_t *threads[WORKERS];
    apr_status_t rv;
    apr_pool_t *q;
    unsigned int len;
    int i, hits = 0, wrong = 0, in_use = 0;

    for (i = 0; i < WORKERS; i++) {
        c[i].lc = lc;
        c[i].seed = i * 11;
        c[i].hits = c[i].wrong = 0;
        apr_thread_create(&threads[i], NULL, use_hot_copies, &c[i], p);
    }
    for (i = 0; i < WORKERS; i++) {
        apr_thread_join(&rv, threads[i]);
        hits += c[i].hits;
        wrong += c[i].wrong;
    }
    apr_pool_create(&q, p);
    for (i = 0; i < 5; i++)
        in_use += entra_local_copy_get(lc, q, apr_psprintf(q, "%d.hot.s", i), 1,
                                       hot_now(0), &len) != NULL;
    apr_pool_destroy(q);
    CHECK(hits > 0 && wrong == 0 && in_use == 0,
          "copies in use, stress: %d hits, %d wrong, %d still in use after every request ended",
          hits, wrong, in_use);
}

/* Stress: 8 threads lead and join flights of 3 keys that share slots with
 * others; every answer a joiner gets is its own key's, and every flight
 * lands (no slot is left taken, no waiter left behind). */
typedef struct {
    entra_flights *fl;
    int seed, joined, wrong;
} flyer;

static apr_time_t fake_now(void)
{
    static apr_uint32_t t;
    return 100000 + (apr_time_t)(__atomic_add_fetch(&t, 1, __ATOMIC_RELAXED) / 64);
}

static void *APR_THREAD_FUNC fly(apr_thread_t *thread, void *data)
{
    flyer *f = data;
    apr_pool_t *p = NULL;
    int i;

    apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    for (i = 0; i < 3000; i++) {
        int n = (i * 5 + f->seed) % 7;
        const char *key = apr_psprintf(p, "k%d.sess", n);
        const char *want = apr_psprintf(p, "value-of-k%d", n);
        const unsigned char *v = NULL;
        unsigned int len = 0;
        apr_status_t rv;
        entra_flight *led;

        if (entra_flight_join(f->fl, p, key, (apr_uint64_t)(i / 500), fake_now(), &rv, &v, &len,
                              &led)) {
            f->joined++;
            if (rv == APR_SUCCESS)
                f->wrong += len != strlen(want) || memcmp(v, want, len) != 0;
            else
                f->wrong += rv != APR_NOTFOUND && rv != APR_ECONNREFUSED;
        }
        else if (led) {
            if (i % 4 == 0)
                apr_sleep(50);
            else
                apr_thread_yield();
            entra_flight_land(f->fl, led, n == 6 ? APR_NOTFOUND : n == 5 ? APR_ECONNREFUSED
                                                                           : APR_SUCCESS,
                              (const unsigned char *)want, (unsigned int)strlen(want));
        }
        if (i % 50 == 49)
            apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

static void flights_stress(apr_pool_t *p)
{
    entra_flights *fl = entra_flights_create(p, 2000);
    flyer f[WORKERS];
    apr_thread_t *threads[WORKERS];
    apr_status_t rv;
    int i, joined = 0, wrong = 0;

    for (i = 0; i < WORKERS; i++) {
        f[i].fl = fl;
        f[i].seed = i * 3;
        f[i].joined = f[i].wrong = 0;
        apr_thread_create(&threads[i], NULL, fly, &f[i], p);
    }
    for (i = 0; i < WORKERS; i++) {
        apr_thread_join(&rv, threads[i]);
        joined += f[i].joined;
        wrong += f[i].wrong;
    }
    CHECK(joined > 0 && wrong == 0 && entra_flights_alive(fl) == 0,
          "flights, stress: %d joined, %d wrong answers, %d flights left after", joined,
          wrong, entra_flights_alive(fl));
}

int main(void)
{
    apr_pool_t *p;

    apr_initialize();
    apr_pool_create(&p, NULL);
    hammer(p);
    token_cache(p);
    cookies(p);
    sessions(p);
    claims_published(p);
    names_filled(p);
    local_copies(p);
    flights(p);
    copies_in_use_stress(p);
    flights_stress(p);
    apr_pool_destroy(p);
    unit_keys_release();
    apr_terminate();
    printf("threads   %d passed, %d failed\n", passed, failed);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
