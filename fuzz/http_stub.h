/* A stand-in for src/http.c in the fuzz targets that drive the module's
 * fetching and token code (fuzz_metadata, fuzz_jwks, fuzz_token_answer):
 * entra_http_call answers from routes the target sets for the input, so
 * entra_provider_metadata, entra_provider_key_lookup and entra_token_call
 * run as they are, with the fuzzer's bytes as Entra's answer. Linked in
 * place of src/http.c (fuzz/fuzz.mk, HTTP_STUB_TARGETS). */
#ifndef FUZZ_HTTP_STUB_H
#define FUZZ_HTTP_STUB_H

#include <stddef.h>

/* Forgets every route and the calls seen (fuzz_begin does not: call it
 * first in each input). */
void fuzz_http_reset(void);

/* Answers `url` (NULL: any URL no other route names) with this status and
 * body; the body is used in place (keep it alive for the input). */
void fuzz_http_route(const char *url, long status, const char *body, size_t len);

/* Requests made since the reset; the last one's URL and form body (NULL
 * for a GET). */
int fuzz_http_calls(void);
const char *fuzz_http_last_url(void);
const char *fuzz_http_last_form(void);

#endif
