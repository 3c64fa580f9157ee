/* Shared by the fuzz targets (see fuzz_common.h). */
#include "fuzz_common.h"
#include "fuzz_keys.h"

#include "../src/util.h"

#include <httpd.h>
#include <http_config.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <openssl/bio.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <string.h>

/* src/config.c (and the APLOG_USE_MODULE of store.c) refer to the module
 * record; mod_auth_entra.c, which defines it, is not linked here. */
module AP_MODULE_DECLARE_DATA auth_entra_module;

/* src/config.c warns from a directive handler (ap_log_perror); no directive
 * runs here, and a log line would say nothing to a fuzzer. */
void ap_log_perror_(const char *file, int line, int module_index, int level,
                    apr_status_t status, apr_pool_t *p, const char *fmt, ...)
{
    (void)file; (void)line; (void)module_index; (void)level; (void)status; (void)p;
    (void)fmt;
}

/* ------------------------------------------------------------------------
 * Pool memory that AddressSanitizer can see.
 *
 * APR hands out pool memory from 8 KB blocks it keeps and reuses, so ASan
 * would miss a write one byte past an apr_palloc'ed buffer (it lands in the
 * next allocation of the same block) and any use after apr_pool_destroy.
 * This apr_palloc, linked into the fuzz executables, takes precedence over
 * libapr's for the module's code and for libapr's own apr_pstrdup,
 * apr_pstrcat, apr_table_*, apr_array_* (they call apr_palloc through the
 * PLT): every allocation is its own malloc block with redzones, freed only
 * after the input's pool has been destroyed. apr_psprintf writes into pool
 * blocks directly and is not covered.
 * ---------------------------------------------------------------------- */

typedef struct {
    void **ptrs;
    size_t n, cap;
} ptr_list;

static ptr_list input_allocs;   /* since fuzz_begin: freed by fuzz_end */
static ptr_list lasting_allocs; /* at start-up: kept (and reachable) */
static int in_input;

static void ptr_list_add(ptr_list *l, void *ptr)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4096;
        void **grown = realloc(l->ptrs, cap * sizeof(void *));
        if (!grown)
            abort();
        l->ptrs = grown;
        l->cap = cap;
    }
    l->ptrs[l->n++] = ptr;
}

void *apr_palloc(apr_pool_t *pool, apr_size_t size)
{
    /* 8-byte alignment, as APR guarantees, comes with malloc. */
    void *mem = malloc(size ? size : 1);
    (void)pool;

    if (!mem)
        abort();
    ptr_list_add(in_input ? &input_allocs : &lasting_allocs, mem);
    return mem;
}

#undef apr_pcalloc
void *apr_pcalloc(apr_pool_t *pool, apr_size_t size);
void *apr_pcalloc(apr_pool_t *pool, apr_size_t size)
{
    return memset(apr_palloc(pool, size), 0, size);
}

/* ------------------------------------------------------------------------ */

static apr_pool_t *root;
static entra_keyring *ring_main, *ring_other, *ring_old;
static cjose_jwk_t *jwks[3];
static EVP_PKEY *pkeys[3];

static entra_keyring *ring_of(const char *first, const char *second)
{
    entra_keyring *ring = entra_keyring_make(root);

    if (entra_keyring_add(ring, first, strlen(first))
        || (second && entra_keyring_add(ring, second, strlen(second))))
        abort();
    return ring;
}

static EVP_PKEY *load_pem(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;

    BIO_free(bio);
    if (!key)
        abort();
    return key;
}

static cjose_jwk_t *load_jwk(const char *json)
{
    cjose_err err;
    cjose_jwk_t *jwk = cjose_jwk_import(json, strlen(json), &err);

    if (!jwk) {
        fprintf(stderr, "fuzz: cannot import a fixed JWK: %s\n", err.message);
        abort();
    }
    return jwk;
}

void fuzz_init(void)
{
    if (root)
        return;
    apr_initialize();
    if (apr_pool_create(&root, NULL) != APR_SUCCESS)
        abort();
    ring_main = ring_of(FUZZ_SECRET_MAIN, FUZZ_SECRET_OLD);
    ring_other = ring_of(FUZZ_SECRET_OTHER, NULL);
    ring_old = ring_of(FUZZ_SECRET_OLD, NULL);
    jwks[1] = load_jwk(FUZZ_KEY1_JWK);
    jwks[2] = load_jwk(FUZZ_KEY2_JWK);
    pkeys[1] = load_pem(FUZZ_KEY1_PEM);
    pkeys[2] = load_pem(FUZZ_KEY2_PEM);
}

int fuzz_verbose(void)
{
    static int verbose = -1;

    if (verbose < 0) {
        const char *v = getenv("FUZZ_VERBOSE");
        verbose = v && *v && strcmp(v, "0") != 0;
    }
    return verbose;
}

apr_pool_t *fuzz_root(void)
{
    return root;
}

apr_pool_t *fuzz_begin(void)
{
    apr_pool_t *p = NULL;

    in_input = 1;
    /* Its own allocator: destroying it gives every block back to malloc. */
    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS)
        abort();
    return p;
}

void fuzz_end(apr_pool_t *p)
{
    size_t i;

    apr_pool_destroy(p);
    for (i = 0; i < input_allocs.n; i++)
        free(input_allocs.ptrs[i]);
    input_allocs.n = 0;
    in_input = 0;
}

entra_keyring *fuzz_ring(void)
{
    return ring_main;
}

entra_keyring *fuzz_ring_other(void)
{
    return ring_other;
}

entra_keyring *fuzz_ring_old(void)
{
    return ring_old;
}

cjose_jwk_t *fuzz_jwk(int n)
{
    return jwks[n == 2 ? 2 : 1];
}

EVP_PKEY *fuzz_private_key(int n)
{
    return pkeys[n == 2 ? 2 : 1];
}

char *fuzz_cstr(apr_pool_t *p, const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);

    return apr_pstrmemdup(p, (const char *)data, nul ? (apr_size_t)(nul - data) : size);
}

char *fuzz_take_line(apr_pool_t *p, const uint8_t **data, size_t *size)
{
    const uint8_t *nl = memchr(*data, '\n', *size);
    size_t len = nl ? (size_t)(nl - *data) : *size;
    char *line = fuzz_cstr(p, *data, len);

    *data += nl ? len + 1 : len;
    *size -= nl ? len + 1 : len;
    return line;
}

unsigned fuzz_take_byte(const uint8_t **data, size_t *size)
{
    unsigned b;

    if (*size == 0)
        return 0;
    b = **data;
    (*data)++;
    (*size)--;
    return b;
}

apr_table_t *fuzz_headers(apr_pool_t *p, const char *text)
{
    apr_table_t *t = apr_table_make(p, 8);
    const char *s = text;

    while (*s) {
        const char *end = strchr(s, '\n'), *colon;
        if (!end)
            end = s + strlen(s);
        colon = memchr(s, ':', (size_t)(end - s));
        if (end > s) {
            const char *v = colon ? colon + 1 : end;
            while (v < end && *v == ' ')
                v++;
            apr_table_add(t, apr_pstrmemdup(p, s, (apr_size_t)((colon ? colon : end) - s)),
                          apr_pstrmemdup(p, v, (apr_size_t)(end - v)));
        }
        s = *end ? end + 1 : end;
    }
    return t;
}

static char *signing_input(apr_pool_t *p, const void *header, size_t header_len,
                           const void *payload, size_t payload_len)
{
    return apr_pstrcat(p, entra_b64url_encode(p, header, header_len), ".",
                       entra_b64url_encode(p, payload, payload_len), NULL);
}

char *fuzz_sign_rs256(apr_pool_t *p, int n, const void *header, size_t header_len,
                      const void *payload, size_t payload_len)
{
    char *input = signing_input(p, header, header_len, payload, payload_len);
    unsigned char sig[512];
    size_t sig_len = sizeof(sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, fuzz_private_key(n)) == 1
             && EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)input,
                               strlen(input)) == 1;

    EVP_MD_CTX_free(md);
    if (!ok)
        abort();
    return apr_pstrcat(p, input, ".", entra_b64url_encode(p, sig, sig_len), NULL);
}

char *fuzz_sign_hs256(apr_pool_t *p, const void *key, size_t key_len, const void *header,
                      size_t header_len, const void *payload, size_t payload_len)
{
    char *input = signing_input(p, header, header_len, payload, payload_len);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;

    if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)input, strlen(input),
              mac, &mac_len))
        abort();
    return apr_pstrcat(p, input, ".", entra_b64url_encode(p, mac, mac_len), NULL);
}
