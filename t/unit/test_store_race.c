/* A session kept in parts, read on this server while another server that
 * shares the networked store saves it again (a refresh, a sliding
 * timeout). The reader finds the head it read naming a piece that is gone,
 * and reads the head again (record_from_cache, store.c): that second read
 * must be an answer from the store sent after the piece was found gone.
 * Single flight (flight.h) must not hand it the answer of another lookup of
 * the head that this process sent before: that is the old head again, and
 * the user is signed out (ENTRA00421) though the new record is complete.
 *
 * src/socache.c, src/store.c and src/connkept.c are compiled in (their statics are what is
 * tested) against a fake networked provider, a key-value map; the few httpd
 * and module functions they call are stubbed. */
#include "../../src/socache.c"
/* http_log.h is in: store.c's own APLOG_USE_MODULE would define the
 * module index a second time */
#undef APLOG_USE_MODULE
#define APLOG_USE_MODULE(foo) extern module AP_MODULE_DECLARE_DATA foo##_module
#include "../../src/store.c"
#include "../../src/connkept.c"

#include <apr_general.h>
#include <apr_hash.h>
#include <apr_thread_proc.h>
#include <stdio.h>

module AP_MODULE_DECLARE_DATA auth_entra_module;

static int passed, failed;

static void check(int ok, const char *what)
{
    ok ? passed++ : failed++;
    if (!ok)
        printf("FAIL %s\n", what);
}

/* ---- httpd and the module's respond.c, stubbed */

static apr_uint32_t logged_421;

void ap_log_rerror_(const char *file, int line, int module_index, int level,
                    apr_status_t status, const request_rec *r, const char *fmt, ...)
{
    if (strstr(fmt, "ENTRA00421"))
        apr_atomic_inc32(&logged_421);
}

#include "socache_stubs.h"

void entra_cookie_set(request_rec *r, const entra_server_conf *sc, const char *name,
                      const char *value, const char *path, int max_age)
{
}

int entra_page(request_rec *r, int status, const char *title, const char *message)
{
    return DONE;
}

/* ---- the fake networked store: a map, and a hook on one key */

static apr_pool_t *kv_pool;
static apr_hash_t *kv;
static apr_thread_mutex_t *kv_lock;
static const char *gone_piece;          /* reading it runs the other server's save */
static const char *slow_key;            /* a lookup of it is held on the wire ... */
static int slow_started;                /* ... and says so */
static const char *failing_key;         /* lookups of it fail ... */
static int failing_left;                /* ... this many times */
static apr_uint32_t retrieved;          /* lookups the store answered or failed */

static void kv_set(const char *key, const char *value)
{
    apr_thread_mutex_lock(kv_lock);
    apr_hash_set(kv, apr_pstrdup(kv_pool, key), APR_HASH_KEY_STRING,
                 value ? apr_pstrdup(kv_pool, value) : NULL);
    apr_thread_mutex_unlock(kv_lock);
}

static const char *kv_get(const char *key)
{
    const char *v;

    apr_thread_mutex_lock(kv_lock);
    v = apr_hash_get(kv, key, APR_HASH_KEY_STRING);
    apr_thread_mutex_unlock(kv_lock);
    return v;
}

static const char *fake_create(ap_socache_instance_t **inst, const char *arg,
                               apr_pool_t *tmp, apr_pool_t *p)
{
    *inst = apr_pcalloc(p, 1);
    return NULL;
}

static apr_status_t fake_init(ap_socache_instance_t *inst, const char *ns,
                              const struct ap_socache_hints *h, server_rec *s, apr_pool_t *p)
{
    return APR_SUCCESS;
}

static void fake_destroy(ap_socache_instance_t *inst, server_rec *s)
{
}

static apr_status_t fake_store(ap_socache_instance_t *inst, server_rec *s,
                               const unsigned char *id, unsigned int idlen, apr_time_t expiry,
                               unsigned char *data, unsigned int len, apr_pool_t *p)
{
    kv_set(apr_pstrmemdup(p, (const char *)id, idlen), apr_pstrmemdup(p, (const char *)data, len));
    return APR_SUCCESS;
}

static void other_server_saves(apr_pool_t *p);

static apr_status_t fake_retrieve(ap_socache_instance_t *inst, server_rec *s,
                                  const unsigned char *id, unsigned int idlen,
                                  unsigned char *dest, unsigned int *destlen, apr_pool_t *p)
{
    const char *key = apr_pstrmemdup(p, (const char *)id, idlen);
    const char *v = kv_get(key);

    apr_atomic_inc32(&retrieved);
    if (failing_key && strcmp(key, failing_key) == 0 && failing_left > 0) {
        failing_left--;
        return APR_EGENERAL;        /* a connection that broke */
    }
    if (gone_piece && strcmp(key, gone_piece) == 0) {
        gone_piece = NULL;
        other_server_saves(p);
        v = NULL;
    }
    else if (slow_key && strcmp(key, slow_key) == 0) {
        /* read now, answered later: a slow round trip */
        slow_key = NULL;
        __atomic_store_n(&slow_started, 1, __ATOMIC_RELEASE);
        apr_sleep(apr_time_from_msec(200));
    }
    if (!v)
        return APR_NOTFOUND;
    if (strlen(v) > *destlen)
        return APR_ENOMEM;
    memcpy(dest, v, strlen(v));
    *destlen = (unsigned int)strlen(v);
    return APR_SUCCESS;
}

static apr_status_t fake_remove(ap_socache_instance_t *inst, server_rec *s,
                                const unsigned char *id, unsigned int idlen, apr_pool_t *p)
{
    kv_set(apr_pstrmemdup(p, (const char *)id, idlen), NULL);
    return APR_SUCCESS;
}

static const ap_socache_provider_t fake = {
    "fake", 0, fake_create, fake_init, fake_destroy, fake_store, fake_retrieve, fake_remove,
    NULL, NULL
};

/* ---- the session, its two records, the two requests */

static entra_socache store;
static server_rec server;
static struct ap_logconf logconf = { NULL, APLOG_DEBUG };
static entra_server_conf conf;
static const char *head_key, *old_sealed, *new_sealed;

static char *sealed_text(apr_pool_t *p, char fill)
{
    apr_size_t len = ENTRA_PARTS_SIZE * 2 + 100;
    char *s = apr_palloc(p, len + 1);

    memset(s, fill, len);
    s[len] = '\0';
    return s;
}

static void write_record(apr_pool_t *p, const char *sealed, const char *gen)
{
    int n = entra_parts_count(strlen(sealed)), i;

    for (i = 1; i < n; i++)
        kv_set(entra_parts_key(p, head_key, gen, i), entra_parts_piece(p, sealed, i));
    kv_set(head_key, entra_parts_head(p, sealed, n, gen));
}

static void *APR_THREAD_FUNC second_request(apr_thread_t *t, void *data)
{
    apr_pool_t *p;
    request_rec r;
    const char *v;

    apr_pool_create(&p, NULL);
    memset(&r, 0, sizeof(r));
    r.server = &server;
    r.log = &logconf;
    r.pool = p;
    entra_socache_get(&store, &r, head_key, &v);
    apr_pool_destroy(p);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

static apr_thread_t *second;

/* While the reader finds piece 1 of the old record gone: another request of
 * the session on this process has just sent its lookup of the head (it
 * reaches the store first: the old head), and the other server saves the
 * record again (new pieces, new head, the old pieces removed). */
static void other_server_saves(apr_pool_t *p)
{
    slow_key = head_key;
    apr_thread_create(&second, NULL, second_request, NULL, kv_pool);
    while (!__atomic_load_n(&slow_started, __ATOMIC_ACQUIRE))
        apr_sleep(1000);
    write_record(p, new_sealed, "GEN2GEN2");
    kv_set(entra_parts_key(p, head_key, "GEN1GEN1", 1), NULL);
    kv_set(entra_parts_key(p, head_key, "GEN1GEN1", 2), NULL);
}

/* One request of a session on this process: its value, or NULL; *rv. */
static const char *request_get(apr_pool_t *p, const char *key, apr_status_t *rv)
{
    request_rec r;
    const char *v = NULL;

    memset(&r, 0, sizeof(r));
    r.server = &server;
    r.log = &logconf;
    r.pool = p;
    *rv = entra_socache_get(&store, &r, key, &v);
    return *rv == APR_SUCCESS ? v : NULL;
}

/* The copy's renewal (localcopy.h) as the store fails it, and as the
 * store says the session is gone (a logout on another server), while a
 * first request of the session is still under way. Copies good for 10 s,
 * renewed after 100 ms: the test does not depend on the machine's speed. */
static void renewals(apr_pool_t *pchild)
{
    apr_pool_t *first, *p;
    apr_status_t rv;
    apr_uint32_t asked;
    const char *v;

    store.copies = entra_local_copies_create(pchild, apr_time_from_sec(10), 1);
    entra_local_copies_refresh_after(store.copies, apr_time_from_msec(100));
    apr_pool_create(&first, NULL);
    apr_pool_create(&p, NULL);
    kv_set("renew.k", "v1");
    v = request_get(first, "renew.k", &rv);
    check(v && strcmp(v, "v1") == 0, "renewal: a first request looks the session up");
    apr_sleep(apr_time_from_msec(150));
    failing_key = "renew.k";
    failing_left = 2;               /* the call and its retry on a fresh client */
    asked = apr_atomic_read32(&retrieved);
    v = request_get(p, "renew.k", &rv);
    check(apr_atomic_read32(&retrieved) > asked && v && strcmp(v, "v1") == 0,
          "renewal failed by the store: that request takes the copy its peers take, "
          "rather than fail alone");
    failing_key = NULL;

    kv_set("ended.k", "v1");
    v = request_get(first, "ended.k", &rv);
    apr_sleep(apr_time_from_msec(150));
    kv_set("ended.k", NULL);        /* logged out on another server */
    v = request_get(p, "ended.k", &rv);
    check(!v && rv == APR_NOTFOUND, "renewal: the store no longer has the session");
    v = request_get(p, "ended.k", &rv);
    check(!v && rv == APR_NOTFOUND, "... nor has the next request, from the copy");
    apr_pool_destroy(p);
    apr_pool_destroy(first);
}

int main(void)
{
    apr_pool_t *pconf, *pchild, *p;
    request_rec r;
    const char *sealed, *gen;
    int parts, unavailable;
    apr_status_t rv;

    apr_initialize();
    apr_pool_create(&pconf, NULL);
    apr_pool_create(&kv_pool, NULL);
    kv = apr_hash_make(kv_pool);
    apr_thread_mutex_create(&kv_lock, APR_THREAD_MUTEX_DEFAULT, kv_pool);
    server.log = logconf;
    store.provider = &fake;
    store.spec = "fake:1";
    store.args = "1";
    fake_create(&store.instance, store.args, pconf, pconf);
    check(init_one(&store, 0, pconf, pconf, &server) == OK, "the post_config instance");
    apr_pool_create(&pchild, pconf);
    child_init_networked(&store, pchild);
    check(store.lock && store.flights, "child_init: a networked store has flights");
    /* the same flights, joinable for 10 s rather than 2 ms: the test does
     * not depend on how fast threads start here */
    store.flights = entra_flights_create(pchild, apr_time_from_sec(10));
    conf.session_cache = &store;
    conf.app_tag = "app1";

    apr_pool_create(&p, NULL);
    memset(&r, 0, sizeof(r));
    r.server = &server;
    r.log = &logconf;
    r.pool = p;
    /* (a session id whose head and first piece take different flight slots:
     * the second request could not lead a flight otherwise) */
    head_key = session_key(p, &conf, "Kq7fZ2pW9xLm");
    old_sealed = sealed_text(p, 'o');
    new_sealed = sealed_text(p, 'n');
    check(entra_parts_count(strlen(old_sealed)) == 3, "the record is kept in 3 parts");
    write_record(p, old_sealed, "GEN1GEN1");
    gone_piece = entra_parts_key(p, head_key, "GEN1GEN1", 1);

    sealed = record_from_cache(&r, &conf, head_key, &parts, &gen, &unavailable);
    check(sealed && strcmp(sealed, new_sealed) == 0,
          "a record saved again by another server while it was read: the new one, whole");
    check(!unavailable && apr_atomic_read32(&logged_421) == 0,
          "... not 'a session kept in parts is missing one' (a sign-out)");
    if (second)
        apr_thread_join(&rv, second);
    renewals(pchild);
    apr_pool_destroy(p);
    apr_pool_destroy(pchild);
    apr_pool_destroy(pconf);
    apr_pool_destroy(kv_pool);
    apr_terminate();
    printf("store race %d passed, %d failed\n%d passed, %d failed\n", passed, failed, passed,
           failed);
    return failed ? 1 : 0;
}
