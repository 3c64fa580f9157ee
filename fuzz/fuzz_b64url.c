/* base64url (every sealed cookie and every token part goes through it):
 * decoding never reads or writes out of bounds, accepts exactly one
 * spelling of each byte string, and encode/decode are inverses. */
#include "fuzz_common.h"
#include "../src/util.h"

#include <apr_strings.h>

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
    /* decode reads exactly `size` bytes: hand it a copy of that size, no NUL */
    char *text = size ? apr_pmemdup(p, data, size) : apr_palloc(p, 1);
    apr_size_t out_len = 0, back_len = 0;
    unsigned char *out = entra_b64url_decode(p, text, size, &out_len);
    char *enc;

    if (out) {
        FUZZ_CHECK(size % 4 != 1, "decoded %zu characters, an impossible length", size);
        FUZZ_CHECK(out_len == size * 3 / 4, "decoded %zu characters to %zu bytes", size,
                   (size_t)out_len);
        /* canonical: the only spelling of these bytes is the input itself */
        enc = entra_b64url_encode(p, out, out_len);
        FUZZ_CHECK(strlen(enc) == size && memcmp(enc, data, size) == 0,
                   "decode then encode does not give the input back");
    }
    /* the other way round: any bytes survive encode + decode */
    enc = entra_b64url_encode(p, data, size);
    FUZZ_CHECK(strlen(enc) == (size * 4 + 2) / 3, "encoded length %zu for %zu bytes",
               strlen(enc), size);
    out = entra_b64url_decode(p, enc, strlen(enc), &back_len);
    FUZZ_CHECK(out && back_len == size && memcmp(out, data, size) == 0,
               "encode then decode does not give the bytes back");
    fuzz_end(p);
    return 0;
}
