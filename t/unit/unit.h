/* A tiny test framework for the C unit tests: CHECK(cond, "what", ...) counts
 * a pass or a failure (and prints where and what failed); main() in
 * test_unit.c runs each suite and ends with "N passed, N failed". */
#ifndef ENTRA_UNIT_H
#define ENTRA_UNIT_H

#include <apr_pools.h>
#include <cjose/cjose.h>
#include <string.h>

int unit_check(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int unit_check_str(const char *got, const char *want, const char *file, int line,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Both return whether the check passed, so a case can skip what depends on it. */
#define CHECK(cond, ...) unit_check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
/* String equality; NULL equals only NULL. Prints both on failure. */
#define CHECK_STR(got, want, ...) unit_check_str((got), (want), __FILE__, __LINE__, __VA_ARGS__)

/* True when s starts with prefix (for error texts naming their directive). */
#define STARTS_WITH(s, prefix) ((s) && strncmp((s), (prefix), strlen(prefix)) == 0)

/* The suites; each gets a fresh pool that is destroyed after it. */
void suite_util(apr_pool_t *p);
void suite_crypto(apr_pool_t *p);
void suite_state(apr_pool_t *p);
void suite_session(apr_pool_t *p);
void suite_session_opened(apr_pool_t *p);
void suite_jwt(apr_pool_t *p);
void suite_claims(apr_pool_t *p);
void suite_config(apr_pool_t *p);
void suite_provider(apr_pool_t *p);
void suite_authz(apr_pool_t *p);
void suite_ended(apr_pool_t *p);
void suite_parts(apr_pool_t *p);
void suite_challenge(apr_pool_t *p);

/* RSA-2048 signing keys made once per run (kid "unit-key-<n>"), n = 0 or 1;
 * freed by unit_keys_release() at the end. Defined in test_jwt.c. */
cjose_jwk_t *unit_rsa_key(int n);
void unit_keys_release(void);

/* A compact RS256 JWS of `payload` signed with `key`, header {alg, kid}
 * (kid omitted when NULL); NULL if cjose fails. Defined in test_jwt.c. */
char *unit_sign(apr_pool_t *p, const cjose_jwk_t *key, const char *alg, const char *kid,
                const char *payload);

#endif
