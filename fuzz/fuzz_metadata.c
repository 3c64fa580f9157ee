/* The discovery document (entra_metadata_parse) and the
 * issuer derived from it. Oracle: a document that
 * parses gives every required endpoint as a string. */
#include "fuzz_common.h"
#include "../src/jwt.h"
#include "../src/provider.h"
#include "../src/util.h"

#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    entra_metadata meta;
    const char *why;

    memset(&meta, 0, sizeof(meta));
    why = entra_metadata_parse(p, (const char *)data, size, &meta);
    if (!why) {
        FUZZ_CHECK(meta.issuer && meta.authorization_endpoint && meta.token_endpoint
                   && meta.jwks_uri, "a required endpoint is missing");
        /* what the module does with them: strlen, strchr, strstr */
        (void)strlen(meta.issuer);
        (void)strchr(meta.authorization_endpoint, '?');
        /* the issuer a token must carry, and its tenant (bearer's v1 issuer) */
        entra_expected_issuer(p, meta.issuer, FUZZ_TENANT);
        entra_expected_issuer(p, meta.issuer, "not-a-guid");
        entra_url_guid_segment(p, meta.issuer);
        if (meta.userinfo_endpoint)
            (void)strlen(meta.userinfo_endpoint);
        if (meta.end_session_endpoint)
            (void)strlen(meta.end_session_endpoint);
        if (meta.msgraph_host)
            (void)strlen(meta.msgraph_host);
        if (meta.cloud_instance_name)
            (void)strlen(meta.cloud_instance_name);
    }
    fuzz_end(p);
    return 0;
}
