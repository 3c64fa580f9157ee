/* Authenticated encryption for the module's cookies (see crypto.h). */
#include "crypto.h"
#include "util.h"

#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SEAL_VERSION 1
#define NONCE_LEN 12
#define TAG_LEN 16
#define HEADER_LEN (2 + NONCE_LEN)
/* The most the module seals (a session of 1 MB, session.c, in base64url);
 * bigger input is refused unread, and nothing bigger is ever sealed. */
#define SEALED_MAX (1400 * 1024)

/* OpenSSL 3 looks the cipher up in its providers on every init with
 * EVP_aes_256_gcm(); fetched once here (at start-up, single-threaded), the
 * signed-in fast path skips that lookup. */
static EVP_CIPHER *fetched_gcm;
/* The same for SHA-256, which a bearer call or a server-side session
 * hashes on every request: SHA256() fetches it anew each time, under
 * OpenSSL's store lock. */
static EVP_MD *fetched_sha256;

static const EVP_CIPHER *gcm(void)
{
    return fetched_gcm ? fetched_gcm : EVP_aes_256_gcm();
}

static const EVP_MD *sha256_md(void)
{
    return fetched_sha256 ? fetched_sha256 : EVP_sha256();
}

void entra_crypto_init(void)
{
    if (!fetched_gcm)
        fetched_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    if (!fetched_sha256)
        fetched_sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL);
}

entra_keyring *entra_keyring_make(apr_pool_t *p)
{
    entra_crypto_init();
    return apr_array_make(p, 2, sizeof(entra_key));
}

/* HKDF-SHA256 of `secret` with `info`: a 32-byte key and its hint byte. */
/* HKDF-SHA256 of `secret` with `info`: a 32-byte key, its hint byte, and
 * 16 more bytes that name it (HKDF's later output reveals nothing of the
 * earlier: the key and hint are what they were before the name). */
static int derive(const unsigned char *secret, apr_size_t len, const char *info,
                  entra_key *key)
{
    static const char salt[] = "mod_auth_entra";
    static const char hex[] = "0123456789abcdef";
    unsigned char out[49];
    size_t out_len = sizeof(out);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    int ok = ctx && EVP_PKEY_derive_init(ctx) > 0
             && EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) > 0
             && EVP_PKEY_CTX_set1_hkdf_salt(ctx, (const unsigned char *)salt,
                                            sizeof(salt) - 1) > 0
             && EVP_PKEY_CTX_set1_hkdf_key(ctx, secret, (int)len) > 0
             && EVP_PKEY_CTX_add1_hkdf_info(ctx, (const unsigned char *)info,
                                            (int)strlen(info)) > 0
             && EVP_PKEY_derive(ctx, out, &out_len) > 0;
    int i;

    EVP_PKEY_CTX_free(ctx);
    if (ok) {
        memcpy(key->key, out, 32);
        key->hint = out[32];
        for (i = 0; i < 16; i++) {
            key->id[2 * i] = hex[out[33 + i] >> 4];
            key->id[2 * i + 1] = hex[out[33 + i] & 0xf];
        }
        key->id[32] = '\0';
    }
    OPENSSL_cleanse(out, sizeof(out));
    return ok;
}

const char *entra_keyring_add(entra_keyring *ring, const char *secret, apr_size_t len)
{
    entra_key key;

    if (len < ENTRA_KEY_MIN_SECRET)
        return apr_psprintf(ring->pool, "must be at least %d bytes long (has %" APR_SIZE_T_FMT ")",
                            ENTRA_KEY_MIN_SECRET, len);
    if (!derive((const unsigned char *)secret, len, "cookie-aead-v1", &key))
        return "key derivation failed (OpenSSL HKDF)";
    *(entra_key *)apr_array_push(ring) = key;
    OPENSSL_cleanse(&key, sizeof(key));
    return NULL;
}

entra_keyring *entra_keyring_bind(apr_pool_t *p, const entra_keyring *ring, const char *app)
{
    entra_keyring *bound = apr_array_make(p, ring->nelts, sizeof(entra_key));
    const char *info = apr_pstrcat(p, "app-v1\n", app, NULL);
    int i;

    for (i = 0; i < ring->nelts; i++) {
        const entra_key *key = &APR_ARRAY_IDX(ring, i, entra_key);
        if (!derive(key->key, sizeof(key->key), info, apr_array_push(bound)))
            return NULL;
    }
    return bound;
}

static void seal_aad(unsigned char *aad_hdr, const unsigned char *hdr)
{
    aad_hdr[0] = hdr[0];
    aad_hdr[1] = hdr[1];
}

char *entra_seal(apr_pool_t *p, const entra_keyring *ring, const char *purpose,
                 const unsigned char *plain, apr_size_t len)
{
    const entra_key *key = (const entra_key *)ring->elts;
    unsigned char *buf = apr_palloc(p, HEADER_LEN + len + TAG_LEN);
    unsigned char aad_hdr[2];
    EVP_CIPHER_CTX *ctx;
    int out_len = 0, fin_len = 0, ok;

    if (ring->nelts < 1 || (HEADER_LEN + len + TAG_LEN + 2) / 3 * 4 > SEALED_MAX)
        return NULL;
    buf[0] = SEAL_VERSION;
    buf[1] = key->hint;
    if (RAND_bytes(buf + 2, NONCE_LEN) != 1)
        return NULL;
    seal_aad(aad_hdr, buf);
    ctx = EVP_CIPHER_CTX_new();
    ok = ctx && EVP_EncryptInit_ex(ctx, gcm(), NULL, key->key, buf + 2) == 1
         && EVP_EncryptUpdate(ctx, NULL, &out_len, (const unsigned char *)purpose,
                              (int)strlen(purpose)) == 1
         && EVP_EncryptUpdate(ctx, NULL, &out_len, aad_hdr, 2) == 1
         && EVP_EncryptUpdate(ctx, buf + HEADER_LEN, &out_len, plain, (int)len) == 1
         && EVP_EncryptFinal_ex(ctx, buf + HEADER_LEN + out_len, &fin_len) == 1
         && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, buf + HEADER_LEN + len) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok ? entra_b64url_encode(p, buf, HEADER_LEN + len + TAG_LEN) : NULL;
}

/* Each thread opens cookies with a cipher context of its own, made once and
 * keyed once per key: making, keying and freeing one per cookie cost more
 * than the decryption itself. Only this thread ever touches it. */
typedef struct {
    EVP_CIPHER_CTX *ctx;
    unsigned char key[32];      /* the key the context holds, if keyed */
    int keyed;
} open_ctx;

static pthread_key_t open_ctx_key;
static pthread_once_t open_ctx_once = PTHREAD_ONCE_INIT;
static int open_ctx_ready;

static void open_ctx_free(void *data)
{
    open_ctx *oc = data;

    EVP_CIPHER_CTX_free(oc->ctx);
    OPENSSL_cleanse(oc, sizeof(*oc));
    free(oc);
}

static void open_ctx_key_make(void)
{
    open_ctx_ready = pthread_key_create(&open_ctx_key, open_ctx_free) == 0;
}

/* This thread's context, keyed with `key` and ready for `iv`; NULL when
 * out of memory. */
static EVP_CIPHER_CTX *thread_open_ctx(const entra_key *key, const unsigned char *iv)
{
    open_ctx *oc;

    pthread_once(&open_ctx_once, open_ctx_key_make);
    if (!open_ctx_ready)
        return NULL;
    if (!(oc = pthread_getspecific(open_ctx_key))) {
        if (!(oc = calloc(1, sizeof(*oc))) || !(oc->ctx = EVP_CIPHER_CTX_new())
            || pthread_setspecific(open_ctx_key, oc) != 0) {
            if (oc)
                EVP_CIPHER_CTX_free(oc->ctx);
            free(oc);
            return NULL;
        }
    }
    if (oc->keyed && memcmp(oc->key, key->key, sizeof(oc->key)) == 0)
        return EVP_DecryptInit_ex(oc->ctx, NULL, NULL, NULL, iv) == 1 ? oc->ctx : NULL;
    oc->keyed = EVP_DecryptInit_ex(oc->ctx, gcm(), NULL, key->key, iv) == 1;
    memcpy(oc->key, key->key, sizeof(oc->key));
    return oc->keyed ? oc->ctx : NULL;
}

static int open_with(const entra_key *key, const char *purpose, const unsigned char *buf,
                     apr_size_t buf_len, unsigned char *plain)
{
    apr_size_t ct_len = buf_len - HEADER_LEN - TAG_LEN;
    unsigned char aad_hdr[2];
    EVP_CIPHER_CTX *ctx = thread_open_ctx(key, buf + 2);
    int out_len = 0;

    seal_aad(aad_hdr, buf);
    return ctx
           && EVP_DecryptUpdate(ctx, NULL, &out_len, (const unsigned char *)purpose,
                                (int)strlen(purpose)) == 1
           && EVP_DecryptUpdate(ctx, NULL, &out_len, aad_hdr, 2) == 1
           && EVP_DecryptUpdate(ctx, plain, &out_len, buf + HEADER_LEN, (int)ct_len) == 1
           && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
                                  (void *)(buf + HEADER_LEN + ct_len)) == 1
           && EVP_DecryptFinal_ex(ctx, plain + out_len, &out_len) == 1;
}

unsigned char *entra_open(apr_pool_t *p, const entra_keyring *ring, const char *purpose,
                          const char *sealed, apr_size_t *len)
{
    apr_size_t sealed_len, buf_len;
    unsigned char *buf, *plain;
    int i;

    if (!sealed || (sealed_len = strlen(sealed)) > SEALED_MAX)
        return NULL;
    buf = entra_b64url_decode(p, sealed, sealed_len, &buf_len);
    if (!buf || buf_len < HEADER_LEN + TAG_LEN || buf[0] != SEAL_VERSION)
        return NULL;
    plain = apr_palloc(p, buf_len - HEADER_LEN - TAG_LEN + 1);
    for (i = 0; i < ring->nelts; i++) {
        const entra_key *key = &APR_ARRAY_IDX(ring, i, entra_key);
        if (key->hint == buf[1] && open_with(key, purpose, buf, buf_len, plain)) {
            *len = buf_len - HEADER_LEN - TAG_LEN;
            plain[*len] = '\0';
            return plain;
        }
    }
    return NULL;
}

int entra_sha256_parts(const char *const *parts, int n, unsigned char *digest)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, sha256_md(), NULL) == 1;
    int i;

    for (i = 0; ok && i < n; i++)
        ok = EVP_DigestUpdate(ctx, parts[i], strlen(parts[i])) == 1
             && (i == n - 1 || EVP_DigestUpdate(ctx, "\n", 1) == 1);
    ok = ok && EVP_DigestFinal_ex(ctx, digest, NULL) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* SHA-256 of one string. OpenSSL fails here only out of memory, which
 * Apache answers by aborting the child (ap_abort_on_oom): so does this,
 * rather than hand out a digest that two inputs could share. */
static void sha256_text(const char *text, unsigned char *digest)
{
    if (!entra_sha256_parts(&text, 1, digest))
        abort();
}

char *entra_sha256_b64url(apr_pool_t *p, const char *text)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];

    sha256_text(text, digest);
    return entra_b64url_encode(p, digest, sizeof(digest));
}

char *entra_sha256_hex(apr_pool_t *p, const char *text, int nchars)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char digest[SHA256_DIGEST_LENGTH];
    char *out;
    int i;

    if (nchars > 2 * SHA256_DIGEST_LENGTH)
        nchars = 2 * SHA256_DIGEST_LENGTH;
    out = apr_palloc(p, (apr_size_t)nchars + 1);
    sha256_text(text, digest);
    for (i = 0; i < nchars; i++)
        out[i] = hex[(digest[i / 2] >> (i % 2 ? 0 : 4)) & 0xf];
    out[nchars] = '\0';
    return out;
}
