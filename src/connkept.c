/* What a kept-alive connection keeps (see connkept.h). */
#include "connkept.h"
#include "ct.h"

#include <http_config.h>
#include <apr_strings.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

extern module AP_MODULE_DECLARE_DATA auth_entra_module;

typedef struct {
    const void *owner;
    char *credential;               /* malloc'd, as is the value */
    apr_size_t credential_len;
    unsigned char *value;
    apr_size_t value_len;
    apr_int64_t valid_until;
    apr_int64_t last_used;
} kept_one;

typedef struct {
    kept_one kinds[ENTRA_KEPT_KINDS];
} conn_kept;

static void kept_clear(kept_one *k)
{
    if (k->credential) {
        OPENSSL_cleanse(k->credential, k->credential_len);
        free(k->credential);
    }
    if (k->value) {
        OPENSSL_cleanse(k->value, k->value_len);
        free(k->value);
    }
    memset(k, 0, sizeof(*k));
}

static apr_status_t conn_kept_gone(void *data)
{
    conn_kept *ck = data;
    int i;

    for (i = 0; i < ENTRA_KEPT_KINDS; i++)
        kept_clear(&ck->kinds[i]);
    return APR_SUCCESS;
}

/* The request's connection's kept credential of `kind`, made (empty) with
 * `make`; NULL on an HTTP/2 stream, or when there is none. */
static kept_one *kept_of(request_rec *r, entra_kept_kind kind, int make)
{
    conn_rec *c = r->connection;
    conn_kept *ck;

    if (!c || c->master || (unsigned int)kind >= ENTRA_KEPT_KINDS)
        return NULL;
    if (!(ck = ap_get_module_config(c->conn_config, &auth_entra_module)) && make) {
        ck = apr_pcalloc(c->pool, sizeof(*ck));
        apr_pool_cleanup_register(c->pool, ck, conn_kept_gone, apr_pool_cleanup_null);
        ap_set_module_config(c->conn_config, &auth_entra_module, ck);
    }
    return ck ? &ck->kinds[kind] : NULL;
}

unsigned char *entra_conn_kept_get(request_rec *r, entra_kept_kind kind, const void *owner,
                                   const char *credential, apr_int64_t now, apr_size_t *len)
{
    kept_one *k = kept_of(r, kind, 0);
    apr_size_t credential_len;

    if (!k || !k->credential || k->owner != owner)
        return NULL;
    if (now >= k->valid_until || now - k->last_used > ENTRA_CONN_KEPT_IDLE) {
        kept_clear(k);              /* expired, or unused too long: kept no longer */
        return NULL;
    }
    credential_len = strlen(credential);
    if (credential_len != k->credential_len
        || !entra_ct_equal(k->credential, credential, credential_len))
        return NULL;
    k->last_used = now;
    *len = k->value_len;
    return apr_pmemdup(r->pool, k->value, k->value_len + 1);
}

void entra_conn_kept_put(request_rec *r, entra_kept_kind kind, const void *owner,
                         const char *credential, const unsigned char *value, apr_size_t len,
                         apr_int64_t now, apr_int64_t valid_until)
{
    kept_one *k = kept_of(r, kind, 1);
    apr_size_t credential_len = strlen(credential);

    if (!k)
        return;
    kept_clear(k);
    if (credential_len > ENTRA_CONN_KEPT_MAX || len > ENTRA_CONN_KEPT_MAX)
        return;
    if (!(k->credential = malloc(credential_len + 1)) || !(k->value = malloc(len + 1))) {
        kept_clear(k);
        return;
    }
    memcpy(k->credential, credential, credential_len + 1);
    k->credential_len = credential_len;
    memcpy(k->value, value, len);
    k->value[len] = '\0';
    k->value_len = len;
    k->owner = owner;
    k->valid_until = valid_until;
    k->last_used = now;
}

void entra_conn_kept_forget(request_rec *r, entra_kept_kind kind)
{
    kept_one *k = kept_of(r, kind, 0);

    if (k)
        kept_clear(k);
}
