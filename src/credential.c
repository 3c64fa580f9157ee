/* Client credentials for the token endpoint (see credential.h). OpenSSL is
 * used directly: cjose cannot read PEM keys or certificates. */
#include "credential.h"
#include "managed_identity.h"
#include "util.h"

#include <apr_strings.h>
#include <apr_file_io.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define ASSERTION_LIFETIME 300
#define ASSERTION_FILE_MAX (64 * 1024)
#define JWT_BEARER "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"

struct entra_credential {
    EVP_PKEY *key;
    const char *x5t;         /* base64url SHA-1 of the certificate (DER) */
    const char *x5t_s256;    /* base64url SHA-256 of the certificate */
};

static apr_status_t free_key(void *key)
{
    EVP_PKEY_free(key);
    return APR_SUCCESS;
}

static const char *thumbprint(apr_pool_t *p, X509 *cert, const EVP_MD *md)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    if (X509_digest(cert, md, digest, &len) != 1)
        return NULL;
    return entra_b64url_encode(p, digest, len);
}

static void *read_pem(const char *path, int is_cert)
{
    BIO *bio = BIO_new_file(path, "r");
    void *obj;

    if (!bio)
        return NULL;
    obj = is_cert ? (void *)PEM_read_bio_X509(bio, NULL, NULL, NULL)
                  : (void *)PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return obj;
}

/* errno of opening `path` for reading as uid/gid and the user's groups:
 * a child that takes that identity tries (the file's mode bits, its
 * directories, ACLs, all as the kernel sees them). -1: it could not tell. */
static int open_errno_as(const char *path, const char *user, uid_t uid, gid_t gid)
{
    int status = 0, fd;
    pid_t pid = fork();

    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (setgid(gid) != 0 || (user && initgroups(user, gid) != 0) || setuid(uid) != 0)
            _exit(255);
        fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
        _exit(fd < 0 ? (errno > 0 && errno < 255 ? errno : EACCES) : 0);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 255)
        return -1;
    return WEXITSTATUS(status);
}

const char *entra_credential_check_file(apr_pool_t *p, const entra_server_conf *sc,
                                        const char *run_user, long run_uid, long run_gid)
{
    const char *path = sc->client_assertion_file, *user = NULL;
    uid_t uid = geteuid();
    struct passwd *pw;
    struct stat st;
    int err;
    char buf[120];

    if (!path)
        return NULL;
    if (uid == 0) {
        /* root starts the server; its children run as User/Group */
        if (run_uid < 0 || run_uid == 0 || (uid_t)run_uid == (uid_t)-1)
            return NULL;        /* no User to run as (configtest without one), or root */
        uid = (uid_t)run_uid;
        user = run_user;
        err = open_errno_as(path, user && *user != '#' ? user : NULL, uid, (gid_t)run_gid);
    }
    else {
        int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
        err = fd < 0 ? errno : 0;
        if (fd >= 0)
            close(fd);
        user = (pw = getpwuid(uid)) ? pw->pw_name : NULL;
    }
    if (err <= 0)
        return NULL;
    return apr_psprintf(p, "EntraClientAssertionFile %s cannot be read by %s (uid %ld), the "
                        "user the server runs as: %s%s; the file is read at every token "
                        "request, so that user needs read access to it (and search access "
                        "to its directories)", path, user ? user : "the user", (long)uid,
                        apr_strerror(APR_FROM_OS_ERROR(err), buf, sizeof(buf)),
                        stat(path, &st) == 0
                            ? apr_psprintf(p, " (mode %04o, owner uid %ld, gid %ld)",
                                           (unsigned)(st.st_mode & 07777), (long)st.st_uid,
                                           (long)st.st_gid) : "");
}

const char *entra_credential_load(apr_pool_t *p, entra_server_conf *sc)
{
    entra_credential *cred;
    X509 *cert;
    EVP_PKEY *key;
    const char *why = NULL;

    if (!sc->client_cert_file)
        return NULL;
    if (!(cert = read_pem(sc->client_cert_file, 1)))
        return apr_pstrcat(p, "EntraClientCertificate: ", sc->client_cert_file,
                           " holds no PEM certificate", NULL);
    if (!(key = read_pem(sc->client_key_file, 0)))
        why = apr_pstrcat(p, "EntraClientKey: ", sc->client_key_file,
                          " holds no PEM private key (an encrypted key is not supported)", NULL);
    else if (EVP_PKEY_base_id(key) != EVP_PKEY_RSA)
        why = "EntraClientKey: Entra needs an RSA key";
    else if (X509_check_private_key(cert, key) != 1)
        why = "EntraClientKey: the key does not belong to EntraClientCertificate";
    if (why) {
        EVP_PKEY_free(key);
        X509_free(cert);
        return why;
    }
    cred = apr_pcalloc(p, sizeof(*cred));
    cred->key = key;
    apr_pool_cleanup_register(p, key, free_key, apr_pool_cleanup_null);
    cred->x5t = thumbprint(p, cert, EVP_sha1());
    cred->x5t_s256 = thumbprint(p, cert, EVP_sha256());
    X509_free(cert);
    sc->credential = cred;
    return NULL;
}

static const char *rsa_sign(apr_pool_t *p, EVP_PKEY *key, int pss, const char *input)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    const char *out = NULL;

    if (ctx && EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, key) == 1
        && (!pss || (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1
                     && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1))
        && EVP_DigestSign(ctx, NULL, &sig_len, (const unsigned char *)input, strlen(input)) == 1
        && (sig = apr_palloc(p, sig_len))
        && EVP_DigestSign(ctx, sig, &sig_len, (const unsigned char *)input, strlen(input)) == 1)
        out = entra_b64url_encode(p, sig, sig_len);
    EVP_MD_CTX_free(ctx);
    return out;
}

static const char *b64url_text(apr_pool_t *p, const char *text)
{
    return entra_b64url_encode(p, (const unsigned char *)text, strlen(text));
}

const char *entra_credential_assertion(apr_pool_t *p, const entra_server_conf *sc,
                                       const char *token_endpoint, apr_int64_t now,
                                       const char **jwt)
{
    const entra_credential *cred = sc->credential;
    int pss = entra_conf_assertion_alg(sc) == ENTRA_ALG_PS256;
    const char *header, *claims, *input, *sig, *jti = entra_random_token(p, 16);

    if (!cred || !jti)
        return "no client certificate loaded";
    header = pss ? apr_psprintf(p, "{\"alg\":\"PS256\",\"typ\":\"JWT\",\"x5t#S256\":\"%s\"}",
                                cred->x5t_s256)
                 : apr_psprintf(p, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"x5t\":\"%s\"}",
                                cred->x5t);
    /* The values are a URL, a GUID and base64url: nothing to JSON-escape
     * but the URL's quotes and backslashes, which a configured URL lacks. */
    if (strpbrk(token_endpoint, "\"\\"))
        return "token endpoint URL cannot be put in an assertion";
    claims = apr_psprintf(p, "{\"aud\":\"%s\",\"iss\":\"%s\",\"sub\":\"%s\",\"jti\":\"%s\","
                          "\"nbf\":%" APR_INT64_T_FMT ",\"iat\":%" APR_INT64_T_FMT
                          ",\"exp\":%" APR_INT64_T_FMT "}", token_endpoint, sc->client_id,
                          sc->client_id, jti, now, now, now + ASSERTION_LIFETIME);
    input = apr_pstrcat(p, b64url_text(p, header), ".", b64url_text(p, claims), NULL);
    if (!(sig = rsa_sign(p, cred->key, pss, input)))
        return "signing the client assertion failed (OpenSSL)";
    *jwt = apr_pstrcat(p, input, ".", sig, NULL);
    return NULL;
}

/* The federated token, read afresh each time: the platform rotates it. */
static const char *read_assertion_file(apr_pool_t *p, const char *path, const char **token)
{
    char *buf = apr_palloc(p, ASSERTION_FILE_MAX + 1);
    apr_size_t len = ASSERTION_FILE_MAX + 1;
    apr_file_t *f;
    apr_status_t rv;
    char err[120];

    if ((rv = apr_file_open(&f, path, APR_FOPEN_READ, 0, p)) != APR_SUCCESS)
        return apr_psprintf(p, "cannot read EntraClientAssertionFile %s as uid %ld: %s", path,
                            (long)geteuid(), apr_strerror(rv, err, sizeof(err)));
    apr_file_read_full(f, buf, len, &len);
    apr_file_close(f);
    if (len > ASSERTION_FILE_MAX)
        return apr_pstrcat(p, "EntraClientAssertionFile ", path, " is too large", NULL);
    while (len > 0 && strchr(" \t\r\n", buf[len - 1]))
        len--;
    buf[len] = '\0';
    if (len == 0 || strlen(buf) != len)
        return apr_pstrcat(p, "EntraClientAssertionFile ", path, " holds no token", NULL);
    *token = buf;
    return NULL;
}

const char *entra_credential_fields(apr_pool_t *p, const entra_server_conf *sc,
                                    const char *token_endpoint, apr_int64_t now,
                                    const char **fields, entra_http_opts *opts,
                                    int *unavailable)
{
    const char *assertion = NULL, *why;

    *fields = "";
    *unavailable = 0;
    if (sc->client_secret && entra_conf_token_auth(sc) == ENTRA_AUTH_SECRET_BASIC) {
        opts->basic_user = sc->client_id;
        opts->basic_pass = sc->client_secret;
        return NULL;
    }
    if (sc->client_secret) {
        *fields = apr_pstrcat(p, "&client_secret=", entra_url_encode(p, sc->client_secret),
                              NULL);
        return NULL;
    }
    why = sc->managed_identity
              ? entra_mi_assertion(p, sc, opts->timeout, &assertion, unavailable)
          : sc->client_assertion_file
              ? read_assertion_file(p, sc->client_assertion_file, &assertion)
              : entra_credential_assertion(p, sc, token_endpoint, now, &assertion);
    if (why)
        return why;
    *fields = apr_pstrcat(p, "&client_assertion_type=" JWT_BEARER "&client_assertion=",
                          entra_url_encode(p, assertion), NULL);
    return NULL;
}
