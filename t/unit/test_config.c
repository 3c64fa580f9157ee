/* config: directive handlers driven with a fake cmd_parms, merge, the
 * completeness check, effective values. */
#include "unit.h"
#include "../../src/config.h"
#include "../../src/crypto.h"

#include <http_log.h>
#include <apr_file_io.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <stdarg.h>

/* The handlers find their server config through the module's index. */
module AP_MODULE_DECLARE_DATA auth_entra_module;

/* Directive handlers warn with ap_log_perror; httpd is not linked here, so
 * the warnings are caught: the last one, and how many. */
static char last_warning[512];
static int warnings;

void ap_log_perror_(const char *file, int line, int module_index, int level,
                    apr_status_t status, apr_pool_t *p, const char *fmt, ...)
{
    va_list ap;

    (void)file; (void)line; (void)module_index; (void)status; (void)p;
    if (level != APLOG_WARNING)
        return;
    va_start(ap, fmt);
    vsnprintf(last_warning, sizeof(last_warning), fmt, ap);
    va_end(ap);
    warnings++;
}

typedef const char *(*take1_fn)(cmd_parms *, void *, const char *);

static apr_pool_t *pool;
static void *slots[1];
static server_rec server;
static command_rec command;
static cmd_parms cmd;
static entra_dir_conf *dir;

/* A new, empty server config in the module's slot. */
static entra_server_conf *fresh(void)
{
    slots[0] = entra_create_server_conf(pool, &server);
    dir = entra_create_dir_conf(pool, "/");
    return slots[0];
}

static const char *run(const char *directive, take1_fn fn, const char *arg)
{
    command.name = directive;
    return fn(&cmd, dir, arg);
}

/* Error texts must name their directive, so configtest points at the line. */
#define ACCEPTS(directive, fn, arg, what) accepts(directive, fn, arg, what, __LINE__)
#define REJECTS(directive, fn, arg, what) rejects(directive, fn, arg, what, __LINE__)

static int accepts(const char *directive, take1_fn fn, const char *arg, const char *what,
                   int line)
{
    const char *err = run(directive, fn, arg);
    return unit_check(err == NULL, __FILE__, line, "%s accepts %s%s%s", directive, what,
                      err ? " -- got: " : "", err ? err : "");
}

static int rejects(const char *directive, take1_fn fn, const char *arg, const char *what,
                   int line)
{
    const char *err = run(directive, fn, arg);
    return unit_check(err != NULL && STARTS_WITH(err, directive) && strlen(err) >
                      strlen(directive) + 5, __FILE__, line,
                      "%s rejects %s, naming the directive (got: %s)", directive, what,
                      err ? err : "no error");
}

static apr_status_t remove_file(void *path)
{
    apr_file_remove(path, pool);
    return APR_SUCCESS;
}

/* A temporary file holding `len` bytes of `content`, removed with the pool. */
static const char *temp_file(const char *content, apr_size_t len)
{
    char *path = apr_pstrdup(pool, "/tmp/entra_unit_XXXXXX");
    apr_file_t *f;
    apr_size_t written;

    if (apr_file_mktemp(&f, path, APR_FOPEN_CREATE | APR_FOPEN_WRITE | APR_FOPEN_EXCL, pool))
        return "/nonexistent/mktemp-failed";
    apr_file_write_full(f, content, len, &written);
    apr_file_close(f);
    apr_pool_cleanup_register(pool, path, remove_file, apr_pool_cleanup_null);
    return path;
}

static void test_tenant_and_client(void)
{
    entra_server_conf *c = fresh();
    static const char *const bad_tenant[] = {
        "", "a/b", "a b", "x?y", "x#y", "x@y", "x:1", "%2e%2e", "t\n", "a\\b",
    };
    static const char *const bad_client[] = { "", "id/x", "a b", "a.b", "a?b", "{guid}" };
    size_t i;

    ACCEPTS("EntraTenant", entra_set_tenant, "72f988bf-86f1-41af-91ab-2d7cd011db47", "a GUID");
    CHECK_STR(c->tenant, "72f988bf-86f1-41af-91ab-2d7cd011db47", "EntraTenant is stored");
    ACCEPTS("EntraTenant", entra_set_tenant, "contoso.onmicrosoft.com", "a verified domain");
    ACCEPTS("EntraTenant", entra_set_tenant, "organizations", "organizations");
    for (i = 0; i < sizeof(bad_tenant) / sizeof(bad_tenant[0]); i++)
        REJECTS("EntraTenant", entra_set_tenant, bad_tenant[i],
                apr_psprintf(pool, "\"%s\"", bad_tenant[i]));
    CHECK_STR(c->tenant, "organizations", "a rejected EntraTenant leaves the setting alone");

    ACCEPTS("EntraClientID", entra_set_client_id, "11111111-2222-3333-4444-555555555555", "a GUID");
    CHECK_STR(c->client_id, "11111111-2222-3333-4444-555555555555", "EntraClientID is stored");
    for (i = 0; i < sizeof(bad_client) / sizeof(bad_client[0]); i++)
        REJECTS("EntraClientID", entra_set_client_id, bad_client[i],
                apr_psprintf(pool, "\"%s\"", bad_client[i]));
}

static void test_secret(void)
{
    entra_server_conf *c = fresh();
    const char *file = temp_file("s3cret~from.file\r\n\n", 19);
    const char *empty = temp_file("\n", 1), *err;
    char *big = apr_palloc(pool, 9000);

    memset(big, 's', 9000);
    ACCEPTS("EntraClientSecret", entra_set_client_secret, "lit~eral.Secret_1", "a literal");
    CHECK_STR(c->client_secret, "lit~eral.Secret_1", "literal secret stored as is");
    ACCEPTS("EntraClientSecret", entra_set_client_secret, apr_pstrcat(pool, "file:", file, NULL),
            "file:/abs/path");
    CHECK_STR(c->client_secret, "s3cret~from.file", "secret read from the file, newlines dropped");

    err = run("EntraClientSecret", entra_set_client_secret, "file:/nonexistent/entra-secret");
    CHECK(STARTS_WITH(err, "EntraClientSecret") && strstr(err, "/nonexistent/entra-secret"),
          "a missing secret file is an error naming the directive and the path (got: %s)",
          err ? err : "no error");
    REJECTS("EntraClientSecret", entra_set_client_secret, "file:secret.txt", "a relative path");
    REJECTS("EntraClientSecret", entra_set_client_secret, "file:", "file: without a path");
    REJECTS("EntraClientSecret", entra_set_client_secret, apr_pstrcat(pool, "file:", empty, NULL),
            "an empty file");
    REJECTS("EntraClientSecret", entra_set_client_secret,
            apr_pstrcat(pool, "file:", temp_file(big, 9000), NULL), "a 9000-byte file");
    REJECTS("EntraClientSecret", entra_set_client_secret, "", "an empty literal");
    CHECK_STR(c->client_secret, "s3cret~from.file", "rejected secrets leave the setting alone");
}

static void test_scope(void)
{
    entra_server_conf *c = fresh();

    CHECK_STR(entra_conf_scope(c), "openid profile email", "EntraScope default");
    ACCEPTS("EntraScope", entra_set_scope, "openid offline_access", "openid offline_access");
    CHECK_STR(c->scope, "openid offline_access", "scope with openid kept as is");
    ACCEPTS("EntraScope", entra_set_scope, "profile", "a second word (a list given twice)");
    CHECK_STR(c->scope, "openid offline_access profile", "the words of both add up");
    ACCEPTS("EntraScope", entra_set_scope, "offline_access email", "a word again");
    CHECK_STR(c->scope, "openid offline_access profile email", "... kept once");
    c = fresh();
    ACCEPTS("EntraScope", entra_set_scope, "profile email", "scopes without openid");
    CHECK_STR(c->scope, "openid profile email", "openid added when missing");
    c = fresh();
    ACCEPTS("EntraScope", entra_set_scope, "api://11111111-2222-3333-4444-555555555555/.default",
            "an API scope");
    CHECK_STR(entra_conf_scope(c), "openid api://11111111-2222-3333-4444-555555555555/.default",
              "API scope with openid added");
    c = fresh();
    ACCEPTS("EntraScope", entra_set_scope, "  email \t openid   User.Read ", "extra spaces");
    CHECK_STR(c->scope, "email openid User.Read", "spaces collapsed, openid not added twice");
    REJECTS("EntraScope", entra_set_scope, "openid a\"b", "a quote");
    REJECTS("EntraScope", entra_set_scope, "openid a<b", "a <");
    REJECTS("EntraScope", entra_set_scope, "openid a,b", "a comma");
    REJECTS("EntraScope", entra_set_scope, "openid a&b=c", "& and =");
    REJECTS("EntraScope", entra_set_scope, "openid a%20b", "a %");
    REJECTS("EntraScope", entra_set_scope, "", "nothing");
    REJECTS("EntraScope", entra_set_scope, "   ", "only spaces");
}

static void test_redirect_and_authority(void)
{
    entra_server_conf *c = fresh();

    CHECK_STR(entra_conf_redirect_uri(c), "/.auth/login/aad/callback", "EntraRedirectURI default");
    ACCEPTS("EntraRedirectURI", entra_set_redirect_uri, "/cb", "a path");
    CHECK_STR(entra_conf_redirect_uri(c), "/cb", "redirect path stored");
    ACCEPTS("EntraRedirectURI", entra_set_redirect_uri, "https://app.example/.auth/cb",
            "an absolute https URL");
    ACCEPTS("EntraRedirectURI", entra_set_redirect_uri, "http://localhost:8080/cb",
            "an absolute http URL with a port");
    CHECK_STR(c->redirect_uri, "http://localhost:8080/cb", "redirect URL stored");
    REJECTS("EntraRedirectURI", entra_set_redirect_uri, "cb", "a relative path");
    REJECTS("EntraRedirectURI", entra_set_redirect_uri, "/cb?x=1", "a path with a query");
    REJECTS("EntraRedirectURI", entra_set_redirect_uri, "/cb#frag", "a path with a fragment");
    REJECTS("EntraRedirectURI", entra_set_redirect_uri, "https://app.example/cb?x=1",
            "a URL with a query");
    REJECTS("EntraRedirectURI", entra_set_redirect_uri, "https://app.example",
            "a URL without a path");
    REJECTS("EntraRedirectURI", entra_set_redirect_uri, "ftp://app.example/cb", "an ftp URL");
    REJECTS("EntraRedirectURI", entra_set_redirect_uri, "", "nothing");
    REJECTS("EntraRedirectURI", entra_set_redirect_uri, "https:///cb", "a URL without a host");

    CHECK_STR(entra_conf_authority(c), "https://login.microsoftonline.com", "EntraAuthority default");
    ACCEPTS("EntraAuthority", entra_set_authority, "https://login.example.us/", "a trailing /");
    CHECK_STR(c->authority, "https://login.example.us", "authority: trailing slash trimmed");
    ACCEPTS("EntraAuthority", entra_set_authority, "http://127.0.0.1:8529//", "a test IdP");
    CHECK_STR(entra_conf_authority(c), "http://127.0.0.1:8529", "authority: all trailing / trimmed");
    REJECTS("EntraAuthority", entra_set_authority, "login.microsoftonline.com", "a bare host");
    REJECTS("EntraAuthority", entra_set_authority, "ftp://login.example", "an ftp URL");
    REJECTS("EntraAuthority", entra_set_authority, "https://login.example/?x=1", "a query");
    REJECTS("EntraAuthority", entra_set_authority, "https://login.example/#x", "a fragment");
    REJECTS("EntraAuthority", entra_set_authority, "", "nothing");
    REJECTS("EntraAuthority", entra_set_authority, "https://", "a scheme without a host");
    REJECTS("EntraAuthority", entra_set_authority,
            "https://login.microsoftonline.com/4d3c2b1a-9e8f-4a7b-8c6d-5e4f3a2b1c0d/v2.0",
            "a tenant path (pasted from the portal)");
    REJECTS("EntraAuthority", entra_set_authority, "https://login.microsoftonline.com/common",
            "a tenant name in the path");
}

static void test_session_key(void)
{
    entra_server_conf *c = fresh();
    static const char secret[] = "0123456789abcdef0123456789abcdef0123456789";
    const char *file = temp_file(secret, sizeof(secret) - 1), *err, *sealed;
    entra_keyring *literal = entra_keyring_make(pool);
    apr_size_t len;

    REJECTS("EntraSessionKey", entra_set_session_key, "0123456789abcdef0123456789abcde",
            "a 31-byte key");
    err = run("EntraSessionKey", entra_set_session_key, "short");
    CHECK(err && strstr(err, "32"), "the short-key error says how long it must be (got: %s)",
          err ? err : "no error");
    CHECK(!c->session_keys || c->session_keys->nelts == 0, "a rejected key is not kept");
    REJECTS("EntraSessionKey", entra_set_session_key, "", "an empty key");
    REJECTS("EntraSessionKey", entra_set_session_key, "file:/nonexistent/entra-key", "a missing file");
    REJECTS("EntraSessionKey", entra_set_session_key, "file:key", "a relative file");
    REJECTS("EntraSessionKey", entra_set_session_key,
            apr_pstrcat(pool, "file:", temp_file("short\n", 6), NULL), "a file with a short key");

    ACCEPTS("EntraSessionKey", entra_set_session_key, apr_pstrcat(pool, "file:", file, NULL),
            "file:/abs/path");
    ACCEPTS("EntraSessionKey", entra_set_session_key, "another-secret-of-32-bytes-or-more!",
            "a second (older) key");
    if (!CHECK(c->session_keys && c->session_keys->nelts == 2, "two keys in the ring"))
        return;
    {
        /* Binary key files (head -c 64 /dev/urandom) may hold NUL bytes: the
         * whole file must key the ring, or the file must be refused, never
         * the part before the first NUL. Two files alike up to a NUL: */
        static const char bin_a[] = "0123456789abcdef0123456789abcdef0123\0AAAAAAAAAAAAAAAA";
        static const char bin_b[] = "0123456789abcdef0123456789abcdef0123\0BBBBBBBBBBBBBBBB";
        entra_server_conf *save = c, *a, *b;
        const char *err_a, *err_b;
        a = fresh();
        err_a = run("EntraSessionKey", entra_set_session_key,
                    apr_pstrcat(pool, "file:", temp_file(bin_a, sizeof(bin_a) - 1), NULL));
        b = fresh();
        err_b = run("EntraSessionKey", entra_set_session_key,
                    apr_pstrcat(pool, "file:", temp_file(bin_b, sizeof(bin_b) - 1), NULL));
        sealed = err_a ? NULL : entra_seal(pool, a->session_keys, "t", (const unsigned char *)"x", 1);
        CHECK((err_a && err_b) || (!err_a && !err_b && !entra_open(pool, b->session_keys, "t",
                                                                   sealed, &len)),
              "EntraSessionKey file with a NUL byte: refused, or keyed by all of it "
              "(two files differing after the NUL give %s)",
              err_a || err_b ? "an error" : "the same key");
        slots[0] = c = save;
    }
    /* The key from the file is the key of its content: it seals, a ring of the
     * literal opens; and the second key opens cookies it sealed (rotation). */
    entra_keyring_add(literal, secret, sizeof(secret) - 1);
    sealed = entra_seal(pool, c->session_keys, "t", (const unsigned char *)"x", 1);
    CHECK(entra_open(pool, literal, "t", sealed, &len) != NULL,
          "EntraSessionKey file: seals with the file's content, first key first");
    literal = entra_keyring_make(pool);
    entra_keyring_add(literal, "another-secret-of-32-bytes-or-more!", 35);
    sealed = entra_seal(pool, literal, "t", (const unsigned char *)"x", 1);
    CHECK(entra_open(pool, c->session_keys, "t", sealed, &len) != NULL,
          "EntraSessionKey: the second key still opens (rotation)");
}

static void test_numbers(void)
{
    entra_server_conf *c = fresh();
    static const char *const junk[] = { "", "-1", "abc", "10s", " 10", "1e2", "0x10", "+5" };
    size_t i;

    CHECK(entra_conf_cookie_secure(c) == 1, "EntraCookieSecure default On");
    command.name = "EntraCookieSecure";
    CHECK(entra_set_cookie_secure(&cmd, dir, 0) == NULL && entra_conf_cookie_secure(c) == 0,
          "EntraCookieSecure Off");
    CHECK(entra_set_cookie_secure(&cmd, dir, 1) == NULL && entra_conf_cookie_secure(c) == 1,
          "EntraCookieSecure On");

    CHECK(entra_conf_clock_skew(c) == 300, "EntraClockSkew default 300");
    ACCEPTS("EntraClockSkew", entra_set_clock_skew, "0", "0");
    CHECK(entra_conf_clock_skew(c) == 0, "EntraClockSkew 0 is kept (not taken for unset)");
    ACCEPTS("EntraClockSkew", entra_set_clock_skew, "3600", "3600");
    CHECK(c->clock_skew == 3600, "EntraClockSkew stored");
    REJECTS("EntraClockSkew", entra_set_clock_skew, "3601", "3601");
    REJECTS("EntraClockSkew", entra_set_clock_skew, "99999999999999999999", "a huge number");
    for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
        REJECTS("EntraClockSkew", entra_set_clock_skew, junk[i], apr_psprintf(pool, "\"%s\"", junk[i]));
    CHECK(c->clock_skew == 3600, "rejected values leave EntraClockSkew alone");

    CHECK(entra_conf_http_timeout(c) == 10, "EntraHTTPTimeout default 10");
    REJECTS("EntraHTTPTimeout", entra_set_http_timeout, "0", "0 (no timeout)");
    ACCEPTS("EntraHTTPTimeout", entra_set_http_timeout, "1", "1");
    ACCEPTS("EntraHTTPTimeout", entra_set_http_timeout, "300", "300");
    CHECK(entra_conf_http_timeout(c) == 300, "EntraHTTPTimeout stored");
    REJECTS("EntraHTTPTimeout", entra_set_http_timeout, "301", "301");
    REJECTS("EntraHTTPTimeout", entra_set_http_timeout, "ten", "\"ten\"");

    CHECK(entra_conf_session_max_age(c) == 8 * 3600, "EntraSessionMaxAge default 8 h");
    REJECTS("EntraSessionMaxAge", entra_set_session_max_age, "9", "9");
    ACCEPTS("EntraSessionMaxAge", entra_set_session_max_age, "10", "10");
    ACCEPTS("EntraSessionMaxAge", entra_set_session_max_age, "2592000", "30 days");
    CHECK(entra_conf_session_max_age(c) == 2592000, "EntraSessionMaxAge stored");
    REJECTS("EntraSessionMaxAge", entra_set_session_max_age, "2592001", "30 days and a second");
    REJECTS("EntraSessionMaxAge", entra_set_session_max_age, "-60", "-60");

    CHECK(entra_conf_token_auth(c) == ENTRA_AUTH_SECRET_POST, "EntraTokenEndpointAuth default post");
    ACCEPTS("EntraTokenEndpointAuth", entra_set_token_auth, "client_secret_basic", "basic");
    CHECK(entra_conf_token_auth(c) == ENTRA_AUTH_SECRET_BASIC, "token auth basic stored");
    ACCEPTS("EntraTokenEndpointAuth", entra_set_token_auth, "client_secret_post", "post");
    CHECK(entra_conf_token_auth(c) == ENTRA_AUTH_SECRET_POST, "token auth post stored");
    REJECTS("EntraTokenEndpointAuth", entra_set_token_auth, "private_key_jwt", "private_key_jwt");
    REJECTS("EntraTokenEndpointAuth", entra_set_token_auth, "CLIENT_SECRET_POST", "upper case");
    REJECTS("EntraTokenEndpointAuth", entra_set_token_auth, "", "nothing");
}

static void test_remote_user(void)
{
    const apr_array_header_t *names;

    fresh();
    names = entra_conf_remote_user_claims(dir);
    CHECK(names->nelts == 1 && !strcmp(APR_ARRAY_IDX(names, 0, const char *), "preferred_username"),
          "EntraRemoteUserClaim default preferred_username");
    CHECK(entra_conf_remote_user_claims(NULL)->nelts == 1, "no dir config: the default too");
    ACCEPTS("EntraRemoteUserClaim", entra_set_remote_user_claim, "upn", "upn");
    ACCEPTS("EntraRemoteUserClaim", entra_set_remote_user_claim, "email", "email");
    ACCEPTS("EntraRemoteUserClaim", entra_set_remote_user_claim, "x-ms_id", "- and _");
    REJECTS("EntraRemoteUserClaim", entra_set_remote_user_claim, "", "nothing");
    REJECTS("EntraRemoteUserClaim", entra_set_remote_user_claim, ":c", "a session field");
    REJECTS("EntraRemoteUserClaim", entra_set_remote_user_claim, "a.b", "a dot");
    REJECTS("EntraRemoteUserClaim", entra_set_remote_user_claim, "oid a.b", "a dot in a quoted list");
    names = entra_conf_remote_user_claims(dir);
    CHECK(names->nelts == 4 && !strcmp(APR_ARRAY_IDX(names, 0, const char *), "upn")
          && !strcmp(APR_ARRAY_IDX(names, 1, const char *), "email")
          && !strcmp(APR_ARRAY_IDX(names, 2, const char *), "x-ms_id")
          && !strcmp(APR_ARRAY_IDX(names, 3, const char *), "oid"),
          "EntraRemoteUserClaim builds a list in order, without the default");
    fresh();
    ACCEPTS("EntraRemoteUserClaim", entra_set_remote_user_claim, "preferred_username oid",
            "a quoted list");
    names = entra_conf_remote_user_claims(dir);
    CHECK(names->nelts == 2 && !strcmp(APR_ARRAY_IDX(names, 0, const char *), "preferred_username")
          && !strcmp(APR_ARRAY_IDX(names, 1, const char *), "oid"),
          "EntraRemoteUserClaim \"preferred_username oid\": two claims, in order");
}

/* email is mutable and unverified in Entra: as the first claim it is
 * warned about (allowed: some apps key on it); anywhere else it is not. */
static void test_remote_user_email_warning(void)
{
    fresh();
    warnings = 0;
    ACCEPTS("EntraRemoteUserClaim", entra_set_remote_user_claim, "email", "email first");
    CHECK(warnings == 1 && strncmp(last_warning, "ENTRA00107: ", 12) == 0
          && strstr(last_warning, "EntraRemoteUserClaim email first")
          && strstr(last_warning, "mutable"),
          "email first: one warning with its id, naming the directive (got %d: %s)", warnings,
          last_warning);
    ACCEPTS("EntraRemoteUserClaim", entra_set_remote_user_claim, "preferred_username",
            "preferred_username after it");
    CHECK(warnings == 1, "email first: no second warning for the next claim");

    fresh();
    warnings = 0;
    ACCEPTS("EntraRemoteUserClaim", entra_set_remote_user_claim, "preferred_username",
            "preferred_username");
    ACCEPTS("EntraRemoteUserClaim", entra_set_remote_user_claim, "email", "email second");
    CHECK(warnings == 0, "email as a fallback (not first): no warning (got %d)", warnings);

    fresh();
    warnings = 0;
    ACCEPTS("EntraRemoteUserClaim", entra_set_remote_user_claim, "emails", "emails");
    ACCEPTS("EntraRemoteUserClaim", entra_set_remote_user_claim, "email_verified", "a look-alike");
    CHECK(warnings == 0, "other names that start with email: no warning (got %d)", warnings);
}

static void test_merge(void)
{
    entra_server_conf *base = fresh(), *vhost, *m;
    entra_dir_conf *dbase, *dadd, *dm;

    run("EntraTenant", entra_set_tenant, "contoso.onmicrosoft.com");
    run("EntraClientID", entra_set_client_id, "11111111-2222-3333-4444-555555555555");
    run("EntraClientSecret", entra_set_client_secret, "base-secret");
    run("EntraSessionKey", entra_set_session_key, "0123456789abcdef0123456789abcdef");
    run("EntraClockSkew", entra_set_clock_skew, "60");
    run("EntraAuthority", entra_set_authority, "https://login.example");
    command.name = "EntraCookieSecure";
    entra_set_cookie_secure(&cmd, dir, 0);

    vhost = fresh();
    run("EntraClientID", entra_set_client_id, "99999999-2222-3333-4444-555555555555");
    run("EntraHTTPTimeout", entra_set_http_timeout, "5");
    command.name = "EntraCookieSecure";
    entra_set_cookie_secure(&cmd, dir, 1);
    run("EntraSessionMaxAge", entra_set_session_max_age, "600");

    m = entra_merge_server_conf(pool, base, vhost);
    CHECK_STR(m->tenant, "contoso.onmicrosoft.com", "merge: tenant inherited");
    CHECK_STR(m->client_id, "99999999-2222-3333-4444-555555555555", "merge: vhost client id wins");
    CHECK_STR(m->client_secret, "base-secret", "merge: secret inherited");
    CHECK(m->session_keys == base->session_keys, "merge: session keys inherited");
    CHECK(entra_conf_clock_skew(m) == 60, "merge: clock skew inherited");
    CHECK(entra_conf_http_timeout(m) == 5, "merge: vhost timeout");
    CHECK(entra_conf_cookie_secure(m) == 1, "merge: vhost On overrides base Off");
    CHECK_STR(entra_conf_authority(m), "https://login.example", "merge: authority inherited");
    CHECK(entra_conf_session_max_age(m) == 600, "merge: vhost max age");
    CHECK_STR(entra_conf_scope(m), "openid profile email", "merge: unset in both is the default");
    CHECK(entra_conf_token_auth(m) == ENTRA_AUTH_SECRET_POST, "merge: token auth default");
    CHECK(entra_server_check(pool, m) == NULL, "merge: the merged vhost is complete");

    vhost = fresh();
    run("EntraClockSkew", entra_set_clock_skew, "0");
    m = entra_merge_server_conf(pool, base, vhost);
    CHECK(entra_conf_clock_skew(m) == 0, "merge: a vhost's explicit 0 is not taken for unset");
    CHECK(entra_conf_cookie_secure(m) == 0, "merge: base Off inherited");

    dbase = entra_create_dir_conf(pool, "/");
    dadd = entra_create_dir_conf(pool, "/app");
    dbase->remote_user_claims = apr_array_make(pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(dbase->remote_user_claims, const char *) = "upn";
    dm = entra_merge_dir_conf(pool, dbase, dadd);
    CHECK(entra_conf_remote_user_claims(dm)->nelts == 1
          && !strcmp(APR_ARRAY_IDX(entra_conf_remote_user_claims(dm), 0, const char *), "upn"),
          "dir merge: a location inherits the claim list");
    dadd->remote_user_claims = apr_array_make(pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(dadd->remote_user_claims, const char *) = "email";
    dm = entra_merge_dir_conf(pool, dbase, dadd);
    CHECK(!strcmp(APR_ARRAY_IDX(entra_conf_remote_user_claims(dm), 0, const char *), "email"),
          "dir merge: a location's own list wins");
}

static void test_check(void)
{
    entra_server_conf *c = fresh();
    const char *why;

    CHECK(!entra_server_enabled(c), "an empty server is not enabled");
    why = entra_server_check(pool, c);
    CHECK(STARTS_WITH(why, "EntraTenant"), "check names EntraTenant first (got: %s)", why);
    run("EntraTenant", entra_set_tenant, "common");
    CHECK(entra_server_enabled(c), "a server with a tenant is enabled (must be complete)");
    why = entra_server_check(pool, c);
    CHECK(why && strstr(why, "EntraClientID"), "check names EntraClientID (got: %s)", why);
    run("EntraClientID", entra_set_client_id, "11111111-2222-3333-4444-555555555555");
    why = entra_server_check(pool, c);
    CHECK(why && strstr(why, "EntraClientSecret"), "check names EntraClientSecret (got: %s)", why);
    run("EntraClientSecret", entra_set_client_secret, "secret");
    why = entra_server_check(pool, c);
    CHECK(why && strstr(why, "EntraSessionKey"), "check names EntraSessionKey (got: %s)", why);
    run("EntraSessionKey", entra_set_session_key, "0123456789abcdef0123456789abcdef");
    why = entra_server_check(pool, c);
    CHECK(why == NULL, "a complete server passes the check (got: %s)", why ? why : "NULL");

    c = fresh();
    run("EntraSessionKey", entra_set_session_key, "0123456789abcdef0123456789abcdef");
    CHECK(!entra_server_enabled(c), "a session key alone is no app (set in the main server, "
                                    "inherited by the vhosts)");
    why = entra_server_check(pool, c);
    CHECK(why && strstr(why, "EntraTenant") && !strstr(why, "EntraSessionKey"),
          "check names what is missing, not what is there (got: %s)", why);
}

/* Conditional Access: EntraClientCapabilities, EntraSessionRevalidate. */
static void test_conditional_access(void)
{
    entra_server_conf *c = fresh();
    const apr_array_header_t *caps;
    const char *why;

    CHECK(!entra_conf_client_caps(c) && !entra_conf_session_revalidate(c),
          "no capabilities, no revalidation by default");
    ACCEPTS("EntraClientCapabilities", entra_set_client_capabilities, "cp1", "cp1");
    ACCEPTS("EntraClientCapabilities", entra_set_client_capabilities, "cp1 llt",
            "a list (as httpd hands a quoted one over), a repeat dropped");
    caps = entra_conf_client_caps(c);
    CHECK(caps && caps->nelts == 2 && !strcmp(APR_ARRAY_IDX(caps, 0, const char *), "cp1")
          && !strcmp(APR_ARRAY_IDX(caps, 1, const char *), "llt"), "capabilities: cp1, llt");
    REJECTS("EntraClientCapabilities", entra_set_client_capabilities, "cp\"1", "a quote");
    REJECTS("EntraClientCapabilities", entra_set_client_capabilities, "cp1]}", "JSON");
    REJECTS("EntraClientCapabilities", entra_set_client_capabilities,
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "33 characters");
    REJECTS("EntraClientCapabilities", entra_set_client_capabilities, "", "nothing");

    c = fresh();
    ACCEPTS("EntraSessionRevalidate", entra_set_session_revalidate, "300", "300");
    CHECK(entra_conf_session_revalidate(c) == 300, "revalidate: 300 s");
    ACCEPTS("EntraSessionRevalidate", entra_set_session_revalidate, "Off", "Off");
    CHECK(entra_conf_session_revalidate(c) == 0, "revalidate: Off");
    REJECTS("EntraSessionRevalidate", entra_set_session_revalidate, "59", "under a minute");
    REJECTS("EntraSessionRevalidate", entra_set_session_revalidate, "86401", "over a day");
    REJECTS("EntraSessionRevalidate", entra_set_session_revalidate, "5m", "a unit");

    run("EntraTenant", entra_set_tenant, "common");
    run("EntraClientID", entra_set_client_id, "11111111-2222-3333-4444-555555555555");
    run("EntraClientSecret", entra_set_client_secret, "secret");
    run("EntraSessionKey", entra_set_session_key, "0123456789abcdef0123456789abcdef");
    run("EntraSessionRevalidate", entra_set_session_revalidate, "300");
    why = entra_server_check(pool, c);
    CHECK(why && strstr(why, "EntraSessionRevalidate") && strstr(why, "offline_access"),
          "revalidate without offline_access: refused, naming both (got: %s)", why ? why : "NULL");
    run("EntraScope", entra_set_scope, "openid profile offline_access");
    CHECK(entra_server_check(pool, c) == NULL, "with offline_access: accepted");
}

static void test_discovery_url(void)
{
    entra_server_conf *c = fresh();

    run("EntraTenant", entra_set_tenant, "contoso.onmicrosoft.com");
    CHECK_STR(entra_conf_discovery_url(pool, c),
              "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/"
              ".well-known/openid-configuration", "discovery URL with the default authority");
    run("EntraAuthority", entra_set_authority, "http://127.0.0.1:8529/");
    run("EntraTenant", entra_set_tenant, "organizations");
    CHECK_STR(entra_conf_discovery_url(pool, c),
              "http://127.0.0.1:8529/organizations/v2.0/.well-known/openid-configuration",
              "discovery URL with another authority (no double slash)");
}

/* A complete app: tenant, client id, secret and the shared key. */
static entra_server_conf *app(const char *tenant, const char *client_id, const char *authority)
{
    entra_server_conf *c = fresh();

    run("EntraTenant", entra_set_tenant, tenant);
    run("EntraClientID", entra_set_client_id, client_id);
    run("EntraClientSecret", entra_set_client_secret, "secret");
    run("EntraSessionKey", entra_set_session_key, "0123456789abcdef0123456789abcdef-shared");
    if (authority)
        run("EntraAuthority", entra_set_authority, authority);
    return c;
}

static const char *sealed_by(entra_server_conf *c)
{
    return entra_seal(pool, c->app_keys, "entra-session-v1", (const unsigned char *)"s", 1);
}

static int opens_at(entra_server_conf *c, const char *sealed)
{
    apr_size_t len;
    return sealed && entra_open(pool, c->app_keys, "entra-session-v1", sealed, &len) != NULL;
}

#define CID_A "6731de76-14a6-49ae-97bc-6eba6914391e"
#define CID_B "0f1e2d3c-4b5a-4697-8877-665544332211"
#define TID_A "4d3c2b1a-9e8f-4a7b-8c6d-5e4f3a2b1c0d"
#define TID_B "7c2e9a41-5b3d-4f6e-9a8b-0c1d2e3f4a5b"
#define TID_MSA "9188040d-6c67-4c5b-b112-36a304b66dad"

static void test_app_binding(void)
{
    entra_server_conf *a = app(TID_A, CID_A, NULL), *twin, *other;
    const char *by_a;

    CHECK(entra_server_bind(pool, a) == NULL && a->app_keys && a->app_tag, "an app binds");
    by_a = sealed_by(a);
    CHECK(opens_at(a, by_a), "what an app seals opens at that app");
    twin = app(TID_A, "6731DE76-14A6-49AE-97BC-6EBA6914391E", "https://login.microsoftonline.com/");
    entra_server_bind(pool, twin);
    CHECK(opens_at(twin, by_a) && strcmp(twin->app_tag, a->app_tag) == 0,
          "the same app spelled otherwise (case, trailing slash): same keys and names "
          "(two servers of one app share sessions)");
    other = app(TID_A, CID_B, NULL);
    entra_server_bind(pool, other);
    CHECK(!opens_at(other, by_a) && !opens_at(a, sealed_by(other)),
          "another client id with the same key: nothing opens across");
    CHECK(strcmp(other->session_cookie, a->session_cookie) != 0, "... and other cookie names");
    other = app("common", CID_A, NULL);
    entra_server_bind(pool, other);
    CHECK(!opens_at(other, by_a), "another tenant (common), same client and key: refused");
    other = app(TID_A, CID_A, "https://login.microsoftonline.us");
    entra_server_bind(pool, other);
    CHECK(!opens_at(other, by_a), "another authority (cloud): refused");
    other = app(TID_A, CID_A, NULL);
    run("EntraEndpointVersion", entra_set_endpoint_version, "1");
    entra_server_bind(pool, other);
    CHECK(!opens_at(other, by_a), "the v1 endpoints of the same app: refused");
    CHECK(entra_open(pool, a->session_keys, "entra-session-v1", by_a, &(apr_size_t){ 0 }) == NULL,
          "the unbound key ring opens nothing an app sealed");
}

static void test_cookie_names(void)
{
    entra_server_conf *c = app(TID_A, CID_A, NULL);

    entra_server_bind(pool, c);
    CHECK(STARTS_WITH(c->session_cookie, "__Host-entra_session_")
          && strlen(c->session_cookie) == strlen("__Host-entra_session_") + 8,
          "Secure (default): __Host-entra_session_<8 hex> (got %s)", c->session_cookie);
    CHECK(STARTS_WITH(c->state_cookie_prefix, "__Secure-entra_state_"),
          "Secure: state cookies __Secure-entra_state_<tag>_ (got %s)", c->state_cookie_prefix);
    c = app(TID_A, CID_A, NULL);
    run("EntraCookieName", entra_set_cookie_name, "myapp");
    entra_server_bind(pool, c);
    CHECK_STR(c->session_cookie, "__Host-myapp", "EntraCookieName names the session cookie");
    CHECK_STR(c->state_cookie_prefix, "__Secure-myapp_state_", "... and the state cookies");
    c = app(TID_A, CID_A, NULL);
    c->cookie_secure = 0;
    entra_server_bind(pool, c);
    CHECK(STARTS_WITH(c->session_cookie, "entra_session_"), "Secure Off: no prefix");
    {
        entra_server_conf *a = app(TID_A, CID_A, NULL), *b = app(TID_A, CID_B, NULL);
        entra_server_conf *twin = app(TID_A, CID_A, NULL), *scoped = app(TID_A, CID_A, NULL);
        run("EntraScope", entra_set_scope, "openid api://payments/.default");
        entra_server_bind(pool, a);
        entra_server_bind(pool, b);
        entra_server_bind(pool, twin);
        entra_server_bind(pool, scoped);
        CHECK(strcmp(scoped->app_tag, twin->app_tag) != 0,
              "another EntraScope makes another app (the session holds other tokens)");
        CHECK(entra_conf_cookie_clash(pool, a, twin) == NULL, "the same app twice: no clash");
        CHECK(entra_conf_cookie_clash(pool, a, b) == NULL, "derived names: no clash");
        a->session_cookie = b->session_cookie = "__Host-shared";
        CHECK(entra_conf_cookie_clash(pool, a, b) != NULL, "two apps, one name: a clash");
        b->session_cookie = "__Host-shared_1";
        CHECK(entra_conf_cookie_clash(pool, a, b) != NULL,
              "one app's name is another's chunk name: a clash");
    }
    REJECTS("EntraCookieName", entra_set_cookie_name, "__Host-x", "a name with a prefix");
    REJECTS("EntraCookieName", entra_set_cookie_name, "a;b", "a name with ';'");
    REJECTS("EntraCookieName", entra_set_cookie_name, "", "an empty name");
}

static void test_group_known(void)
{
    entra_server_conf *c = app(TID_A, CID_A, NULL);
    const char *digest;

    c->named_groups = apr_hash_make(pool);
    apr_hash_set(c->named_groups, "g1", APR_HASH_KEY_STRING, "");
    entra_server_bind(pool, c);
    digest = c->named_groups_digest;
    CHECK(entra_conf_group_known(c, NULL, "g9"), "a full list knows every group");
    CHECK(entra_conf_group_known(c, digest, "G1"), "a partial list knows a named group (any case)");
    CHECK(!entra_conf_group_known(c, digest, "g9"), "... not an unnamed one (.htaccess)");
    CHECK(!entra_conf_group_known(c, "0123456789abcdef", "g1"),
          "a list kept by another configuration knows nothing it does not hold");
    apr_hash_set(c->named_groups, "g2", APR_HASH_KEY_STRING, "");
    entra_server_bind(pool, c);
    CHECK(strcmp(digest, c->named_groups_digest) != 0, "another list, another digest");
}

static void test_session_tenant(void)
{
    entra_server_conf *c = app(TID_A, CID_A, NULL);

    CHECK(entra_conf_session_tenant_ok(c, TID_A), "GUID tenant: its own tid");
    CHECK(entra_conf_session_tenant_ok(c, "4D3C2B1A-9E8F-4A7B-8C6D-5E4F3A2B1C0D"),
          "... in any case");
    CHECK(!entra_conf_session_tenant_ok(c, TID_B), "GUID tenant: another tid refused");
    CHECK(!entra_conf_session_tenant_ok(c, NULL), "no tid refused");
    CHECK(!entra_conf_session_tenant_ok(c, "contoso"), "a tid that is no GUID refused");
    c = app("common", CID_A, NULL);
    CHECK(entra_conf_session_tenant_ok(c, TID_B) && entra_conf_session_tenant_ok(c, TID_MSA),
          "common: any tenant");
    run("EntraAllowedTenants", entra_set_allowed_tenants, TID_A);
    CHECK(entra_conf_session_tenant_ok(c, TID_A) && !entra_conf_session_tenant_ok(c, TID_B),
          "common + EntraAllowedTenants: only the listed ones");
    c = app("organizations", CID_A, NULL);
    CHECK(!entra_conf_session_tenant_ok(c, TID_MSA) && entra_conf_session_tenant_ok(c, TID_B),
          "organizations: no personal accounts");
    c = app("consumers", CID_A, NULL);
    CHECK(entra_conf_session_tenant_ok(c, TID_MSA) && !entra_conf_session_tenant_ok(c, TID_A),
          "consumers: personal accounts only");
}

void suite_config(apr_pool_t *p)
{
    pool = p;
    auth_entra_module.module_index = 0;
    server.module_config = (struct ap_conf_vector_t *)slots;
    cmd.pool = p;
    cmd.temp_pool = p;
    cmd.server = &server;
    cmd.cmd = &command;

    test_tenant_and_client();
    test_secret();
    test_scope();
    test_redirect_and_authority();
    test_session_key();
    test_numbers();
    test_remote_user();
    test_remote_user_email_warning();
    test_merge();
    test_check();
    test_conditional_access();
    test_discovery_url();
    test_app_binding();
    test_cookie_names();
    test_session_tenant();
    test_group_known();
}
