/* Runs every suite and reports "N passed, N failed" as its last line; exit
 * status 1 on any failure. Everything goes to stdout, so failures stay next
 * to their suite. `test_unit -v` also lists the passing checks. */
#include "unit.h"

#include <apr_general.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int passed, failed, verbose;

static void report(int ok, const char *file, int line, const char *fmt, va_list ap)
{
    if (ok && !verbose)
        return;
    printf("%s %s:%d: ", ok ? "ok  " : "FAIL", file, line);
    vprintf(fmt, ap);
    putchar('\n');
}

int unit_check(int ok, const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    if (ok) passed++; else failed++;
    va_start(ap, fmt);
    report(ok, file, line, fmt, ap);
    va_end(ap);
    return ok;
}

int unit_check_str(const char *got, const char *want, const char *file, int line,
                   const char *fmt, ...)
{
    int ok = (!got && !want) || (got && want && strcmp(got, want) == 0);
    va_list ap;

    if (ok) passed++; else failed++;
    va_start(ap, fmt);
    report(ok, file, line, fmt, ap);
    va_end(ap);
    if (!ok)
        printf("     got:  %s%s%s\n     want: %s%s%s\n",
                got ? "\"" : "", got ? got : "NULL", got ? "\"" : "",
                want ? "\"" : "", want ? want : "NULL", want ? "\"" : "");
    return ok;
}

static void run(const char *name, void (*suite)(apr_pool_t *), apr_pool_t *parent)
{
    apr_pool_t *p;
    int before_p = passed, before_f = failed;

    apr_pool_create(&p, parent);
    suite(p);
    apr_pool_destroy(p);
    printf("%-9s %d passed, %d failed\n", name, passed - before_p, failed - before_f);
}

int main(int argc, char **argv)
{
    apr_pool_t *root;

    verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
    apr_initialize();
    apr_pool_create(&root, NULL);
    run("util", suite_util, root);
    run("crypto", suite_crypto, root);
    run("state", suite_state, root);
    run("session", suite_session, root);
    run("opened", suite_session_opened, root);
    run("jwt", suite_jwt, root);
    run("claims", suite_claims, root);
    run("config", suite_config, root);
    run("provider", suite_provider, root);
    run("authz", suite_authz, root);
    run("ended", suite_ended, root);
    run("parts", suite_parts, root);
    run("challenge", suite_challenge, root);
    unit_keys_release();
    apr_pool_destroy(root);
    apr_terminate();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
