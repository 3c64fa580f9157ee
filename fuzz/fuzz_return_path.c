/* Where the module sends the browser after sign-in (the saved return URL)
 * and after logout (post_logout / the logout form's target):
 * entra_safe_return_path must only ever give a same-site path. The first
 * byte picks the site's origin (or none); the rest is the target. */
#include "fuzz_common.h"
#include "../src/util.h"

#include <strings.h>
#include <string.h>

static const char *const origins[] = {
    NULL,
    "https://app.example.com",
    "https://app.example.com:8443",
    "http://127.0.0.1:8080",
    "https://xn--bcher-kva.example",
};
#define N_ORIGINS (sizeof(origins) / sizeof(origins[0]))

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init();
    return 0;
}

/* What a browser (WHATWG URL parsing) would treat as leaving the site, or
 * what a proxy or app decoding once would turn into that. */
static void check_same_site(const char *target, const char *path)
{
    const char *c;

    FUZZ_CHECK(path[0] == '/', "\"%s\" gave \"%s\", not a path", target, path);
    FUZZ_CHECK(path[1] != '/' && path[1] != '\\',
               "\"%s\" gave \"%s\": network-path reference (another host)", target, path);
    for (c = path; *c; c++) {
        unsigned char u = (unsigned char)*c;
        /* browsers drop tab/CR/LF inside URLs: "/\t/evil" is "//evil" */
        FUZZ_CHECK(u >= 0x20 && u != 0x7f, "\"%s\" gave a path with control 0x%02x", target, u);
        FUZZ_CHECK(u != '\\', "\"%s\" gave a path with a backslash", target);
    }
    FUZZ_CHECK(strncasecmp(path, "/%2f", 4) != 0 && strncasecmp(path, "/%5c", 4) != 0,
               "\"%s\" gave \"%s\": an encoded second slash", target, path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    const char *origin = origins[fuzz_take_byte(&data, &size) % N_ORIGINS];
    char *target = fuzz_cstr(p, data, size);
    const char *path = entra_safe_return_path(p, target, origin);

    if (path) {
        check_same_site(target, path);
        /* Without an origin only a path comes back, and it is the target. */
        if (!origin)
            FUZZ_CHECK(strcmp(path, target) == 0, "\"%s\" came back changed", target);
        /* A safe path stays safe when checked again (logout checks twice). */
        FUZZ_CHECK(entra_safe_return_path(p, path, origin) != NULL,
                   "\"%s\" is safe once, not twice", path);
        /* An absolute URL is accepted only for exactly this origin. */
        if (target[0] != '/')
            FUZZ_CHECK(origin && strncasecmp(target, origin, strlen(origin)) == 0,
                       "absolute \"%s\" accepted for origin %s", target,
                       origin ? origin : "(none)");
    }
    fuzz_end(p);
    return 0;
}
