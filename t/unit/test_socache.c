/* A networked session store restarted again and again under many threads
 * (issue 10), against a fake socache provider that behaves as apr_redis
 * does: each instance pools its connections; a connection made before the
 * server's last restart fails its next call (broken pipe), and the instance
 * then marks the server dead and answers every later call APR_NOTFOUND
 * without asking it (apr_redis revives it after 5 s: never, here). 8
 * threads read a key that exists, write it, and read one that does not,
 * while another thread restarts the server. src/socache.c is compiled in
 * (its statics are what is tested); the few httpd functions it calls are
 * stubbed. Built as it is for `make unit`, and with ThreadSanitizer for
 * `make unit-tsan`. A wrong "not found" (a signed-in user sent to sign in),
 * a request that fails though no restart happened during it, more than one
 * replacement logged at info per restart, a client that is never destroyed,
 * or a data race fails it. */
#include "../../src/socache.c"

#include <apr_general.h>
#include <apr_thread_proc.h>
#include <sched.h>
#include <stdio.h>

#define WORKERS 8
#define ROUNDS 3000
#define RESTARTS 400

module AP_MODULE_DECLARE_DATA auth_entra_module;

static int passed, failed;

static void check(int ok, const char *what, long got)
{
    ok ? passed++ : failed++;
    if (!ok)
        printf("FAIL %s (%ld)\n", what, got);
}

/* ---- httpd, stubbed: only the log lines are counted */

static apr_uint32_t logged_info, logged_error;

void ap_log_rerror_(const char *file, int line, int module_index, int level,
                    apr_status_t status, const request_rec *r, const char *fmt, ...)
{
    if (strstr(fmt, "ENTRA00413"))
        apr_atomic_inc32(&logged_info);
    if ((level & APLOG_LEVELMASK) <= APLOG_ERR)
        apr_atomic_inc32(&logged_error);
}

#include "socache_stubs.h"

/* ---- the fake provider */

static apr_uint32_t server_epoch;       /* bumped by a restart */
static apr_uint32_t instances_alive;

#define POOLED 2

struct ap_socache_instance_t {
    apr_thread_mutex_t *lock;
    int dead;
    int idle;                           /* pooled connections ... */
    apr_uint32_t made_in[POOLED];       /* ... and the epoch each was made in */
};

static const char *fake_create(ap_socache_instance_t **inst, const char *arg,
                               apr_pool_t *tmp, apr_pool_t *p)
{
    *inst = apr_pcalloc(p, sizeof(**inst));
    return NULL;
}

static apr_status_t fake_init(ap_socache_instance_t *inst, const char *ns,
                              const struct ap_socache_hints *h, server_rec *s, apr_pool_t *p)
{
    apr_atomic_inc32(&instances_alive);
    return apr_thread_mutex_create(&inst->lock, APR_THREAD_MUTEX_DEFAULT, p);
}

static void fake_destroy(ap_socache_instance_t *inst, server_rec *s)
{
    apr_atomic_dec32(&instances_alive);
}

/* One call: a pooled connection (or a new one), the server's answer on it. */
static apr_status_t fake_call(ap_socache_instance_t *inst, int found)
{
    apr_uint32_t conn;
    apr_status_t rv;

    apr_thread_mutex_lock(inst->lock);
    if (inst->dead) {
        apr_thread_mutex_unlock(inst->lock);
        return APR_NOTFOUND;
    }
    conn = inst->idle ? inst->made_in[--inst->idle] : apr_atomic_read32(&server_epoch);
    apr_thread_mutex_unlock(inst->lock);
    sched_yield();                      /* on the wire */
    if (conn != apr_atomic_read32(&server_epoch)) {
        apr_thread_mutex_lock(inst->lock);
        inst->dead = 1;                 /* the connection is dropped */
        apr_thread_mutex_unlock(inst->lock);
        apr_sleep(200);                 /* others meet the dead server meanwhile */
        return APR_EPIPE;
    }
    rv = found ? APR_SUCCESS : APR_NOTFOUND;
    apr_thread_mutex_lock(inst->lock);
    if (inst->idle < POOLED)
        inst->made_in[inst->idle++] = conn;
    apr_thread_mutex_unlock(inst->lock);
    return rv;
}

static apr_status_t fake_store(ap_socache_instance_t *inst, server_rec *s,
                               const unsigned char *id, unsigned int idlen, apr_time_t expiry,
                               unsigned char *data, unsigned int len, apr_pool_t *p)
{
    return fake_call(inst, 1);
}

static apr_status_t fake_retrieve(ap_socache_instance_t *inst, server_rec *s,
                                  const unsigned char *id, unsigned int idlen,
                                  unsigned char *dest, unsigned int *destlen, apr_pool_t *p)
{
    apr_status_t rv = fake_call(inst, idlen == 1 && id[0] == 'k');

    if (rv == APR_SUCCESS) {
        dest[0] = 'v';
        *destlen = 1;
    }
    return rv;
}

static apr_status_t fake_remove(ap_socache_instance_t *inst, server_rec *s,
                                const unsigned char *id, unsigned int idlen, apr_pool_t *p)
{
    return fake_call(inst, 1);
}

static const ap_socache_provider_t fake = {
    "fake", 0, fake_create, fake_init, fake_destroy, fake_store, fake_retrieve, fake_remove,
    NULL, NULL
};

/* ---- the workers */

static entra_socache store;
static server_rec server;
static struct ap_logconf logconf = { NULL, APLOG_DEBUG };
static apr_uint32_t wrong_notfound, failed_clean, failed_spanning, done_workers;

static void one_request(request_rec *r)
{
    apr_uint32_t before = apr_atomic_read32(&server_epoch);
    const char *v;
    apr_status_t got = entra_socache_get(&store, r, "k", &v);
    apr_status_t put = entra_socache_put(&store, r, "k", "v", apr_time_sec(apr_time_now()) + 60);
    apr_status_t none = entra_socache_get(&store, r, "n", &v);
    int ok = got == APR_SUCCESS && put == APR_SUCCESS && none == APR_NOTFOUND;

    if (got == APR_NOTFOUND)
        apr_atomic_inc32(&wrong_notfound);
    if (!ok)
        apr_atomic_inc32(apr_atomic_read32(&server_epoch) == before ? &failed_clean
                                                                     : &failed_spanning);
}

static void *APR_THREAD_FUNC worker(apr_thread_t *t, void *data)
{
    apr_pool_t *p;
    request_rec r;
    int i;

    apr_pool_create(&p, NULL);
    memset(&r, 0, sizeof(r));
    r.server = &server;
    r.log = &logconf;
    for (i = 0; i < ROUNDS; i++) {
        r.pool = p;
        one_request(&r);
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    apr_atomic_inc32(&done_workers);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

static void *APR_THREAD_FUNC restarter(apr_thread_t *t, void *data)
{
    int i;

    for (i = 0; i < RESTARTS && apr_atomic_read32(&done_workers) < WORKERS; i++) {
        apr_sleep(1000);
        apr_atomic_inc32(&server_epoch);
    }
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

int main(void)
{
    apr_pool_t *pconf, *pchild;
    apr_thread_t *threads[WORKERS + 1];
    apr_status_t rv;
    int i;

    apr_initialize();
    apr_pool_create(&pconf, NULL);
    server.log = logconf;
    store.provider = &fake;
    store.spec = "fake:1";
    store.args = "1";
    fake_create(&store.instance, store.args, pconf, pconf);
    check(init_one(&store, 0, pconf, pconf, &server) == OK, "the post_config instance", 0);
    apr_pool_create(&pchild, pconf);
    child_init_networked(&store, pchild);
    check(store.lock && store.current && store.current->instance == store.instance,
          "child_init: the first client is the post_config instance", 0);

    for (i = 0; i < WORKERS; i++)
        apr_thread_create(&threads[i], NULL, worker, NULL, pchild);
    apr_thread_create(&threads[WORKERS], NULL, restarter, NULL, pchild);
    for (i = 0; i <= WORKERS; i++)
        apr_thread_join(&rv, threads[i]);

    check(apr_atomic_read32(&wrong_notfound) == 0,
          "a key that exists is never 'not found' (the dead server's answer)",
          (long)wrong_notfound);
    check(apr_atomic_read32(&failed_clean) == 0,
          "a request during which no restart happened never fails", (long)failed_clean);
    printf("  %u restarts; %u of %u requests spanning one failed; %u replacements logged at "
           "info; %u error lines\n", apr_atomic_read32(&server_epoch), failed_spanning,
           WORKERS * ROUNDS, logged_info, logged_error);
    check(logged_info >= 1 && logged_info <= apr_atomic_read32(&server_epoch),
          "at most one info line per restart", (long)logged_info);
    check(store.current->refs == 0, "no call holds the current client", 0);
    /* the post_config instance (pconf's) and the current one: every
     * replaced client was destroyed when its last call let go of it */
    check(apr_atomic_read32(&instances_alive) <= 2, "replaced clients are destroyed",
          (long)instances_alive);
    apr_pool_destroy(pchild);
    check(apr_atomic_read32(&instances_alive) == 1, "the child's clients go with it",
          (long)instances_alive);
    apr_pool_destroy(pconf);
    apr_terminate();
    printf("socache   %d passed, %d failed\n%d passed, %d failed\n", passed, failed, passed,
           failed);
    return failed ? 1 : 0;
}
