/* Authenticated encryption for the module's cookies (see crypto.h). */
#include "crypto.h"
#include "util.h"

#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <string.h>

#define SEAL_VERSION 1
#define NONCE_LEN 12
#define TAG_LEN 16
#define HEADER_LEN (2 + NONCE_LEN)
/* Nothing the module seals comes near this; bigger input is refused unread. */
#define SEALED_MAX (256 * 1024)

/* OpenSSL 3 looks the cipher up in its providers on every init with
 * EVP_aes_256_gcm(); fetched once here (at start-up, single-threaded), the
 * signed-in fast path skips that lookup. */
static EVP_CIPHER *fetched_gcm;

static const EVP_CIPHER *gcm(void)
{
    return fetched_gcm ? fetched_gcm : EVP_aes_256_gcm();
}

entra_keyring *entra_keyring_make(apr_pool_t *p)
{
    if (!fetched_gcm)
        fetched_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    return apr_array_make(p, 2, sizeof(entra_key));
}

/* HKDF-SHA256 of `secret` with `info`: a 32-byte key and its hint byte. */
static int derive(const unsigned char *secret, apr_size_t len, const char *info,
                  entra_key *key)
{
    static const char salt[] = "mod_auth_entra";
    unsigned char out[33];
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

    EVP_PKEY_CTX_free(ctx);
    if (ok) {
        memcpy(key->key, out, 32);
        key->hint = out[32];
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

    if (ring->nelts < 1)
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

static int open_with(const entra_key *key, const char *purpose, const unsigned char *buf,
                     apr_size_t buf_len, unsigned char *plain)
{
    apr_size_t ct_len = buf_len - HEADER_LEN - TAG_LEN;
    unsigned char aad_hdr[2];
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int out_len = 0, ok;

    seal_aad(aad_hdr, buf);
    ok = ctx && EVP_DecryptInit_ex(ctx, gcm(), NULL, key->key, buf + 2) == 1
         && EVP_DecryptUpdate(ctx, NULL, &out_len, (const unsigned char *)purpose,
                              (int)strlen(purpose)) == 1
         && EVP_DecryptUpdate(ctx, NULL, &out_len, aad_hdr, 2) == 1
         && EVP_DecryptUpdate(ctx, plain, &out_len, buf + HEADER_LEN, (int)ct_len) == 1
         && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
                                (void *)(buf + HEADER_LEN + ct_len)) == 1
         && EVP_DecryptFinal_ex(ctx, plain + out_len, &out_len) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
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

char *entra_sha256_b64url(apr_pool_t *p, const char *text)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];

    SHA256((const unsigned char *)text, strlen(text), digest);
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
    SHA256((const unsigned char *)text, strlen(text), digest);
    for (i = 0; i < nchars; i++)
        out[i] = hex[(digest[i / 2] >> (i % 2 ? 0 : 4)) & 0xf];
    out[nchars] = '\0';
    return out;
}
