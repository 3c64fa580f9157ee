/* Small pure helpers: base64url, cookies, URL-encoded forms, checks.
 * Nothing here talks to httpd, so the unit tests link it directly. */
#ifndef ENTRA_UTIL_H
#define ENTRA_UTIL_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

/* base64url without padding. decode returns NULL on any invalid input. */
char *entra_b64url_encode(apr_pool_t *p, const unsigned char *data, apr_size_t len);
unsigned char *entra_b64url_decode(apr_pool_t *p, const char *in, apr_size_t in_len,
                                   apr_size_t *out_len);

/* `len` random bytes as base64url text (used for state, nonce, PKCE verifier). */
char *entra_random_token(apr_pool_t *p, apr_size_t len);

/* The value of cookie `name` in the request headers (every Cookie header),
 * or NULL. The first occurrence wins. */
const char *entra_cookie_get(apr_pool_t *p, const apr_table_t *headers, const char *name);

/* The request's Cookie header when it has exactly one (as browsers send
 * them, and mod_http2 joins them), else NULL: all the cookies it sent. */
const char *entra_cookie_header_only(const apr_table_t *headers);

/* The request's only Cookie header, if it is still `was` (the same
 * string), becomes `now` (dropped when empty): 1, or 0 with nothing done. */
int entra_cookie_header_replace(apr_table_t *headers, const char *was, const char *now);

/* Calls fn(ctx, name, value) for each cookie whose name starts with prefix. */
typedef void (*entra_cookie_fn)(void *ctx, const char *name, const char *value);
void entra_cookie_each(apr_pool_t *p, const apr_table_t *headers, const char *prefix,
                       entra_cookie_fn fn, void *ctx);

/* `header` (one Cookie header's value) without the cookies whose names
 * match one of `prefixes` (NULL-terminated); adds their count to *removed.
 * A pattern matches names that start with it, except: "name=" matches the
 * name exactly, and "name#" matches the name followed by one or more
 * digits (cookie chunks). What is kept is re-joined with "; "; nothing kept
 * gives "". */
const char *entra_cookie_header_strip(apr_pool_t *p, const char *header,
                                      const char *const *prefixes, int *removed);

/* The same over every Cookie header in `headers`, which are rewritten only
 * when something was removed (and dropped when nothing is left). Returns
 * how many cookies went. */
int entra_cookies_strip(apr_pool_t *p, apr_table_t *headers, const char *const *prefixes);

/* The bytes of the Cookie header(s) in `headers`, as one header holds them. */
apr_int64_t entra_cookie_header_bytes(const apr_table_t *headers);

/* Parses application/x-www-form-urlencoded text into a table. Keys and values
 * are percent-decoded ('+' is a space). Returns NULL on a malformed escape. */
apr_table_t *entra_form_parse(apr_pool_t *p, const char *text);

/* Percent-encodes everything but RFC 3986 unreserved characters. */
char *entra_url_encode(apr_pool_t *p, const char *s);

/* HTML-escapes &, <, >, ", ' and drops control characters other than newline. */
char *entra_html_escape(apr_pool_t *p, const char *s);

/* True when s is a GUID in 8-4-4-4-12 hex form. */
int entra_is_guid(const char *s);

/* The first path segment of a URL that is a GUID (an issuer's tenant), or NULL. */
const char *entra_url_guid_segment(apr_pool_t *p, const char *url);

/* A redirect target that stays on this site: a path starting with one '/'
 * (not '//' or '/\'), no control characters or backslashes, no encoded
 * slash/backslash right after the first '/'. `origin` ("https://host:port",
 * may be NULL) also admits absolute URLs of exactly that origin, which are
 * returned as their path. Returns the safe path or NULL. */
const char *entra_safe_return_path(apr_pool_t *p, const char *target, const char *origin);

/* Case-insensitive compare that treats '_' and '-' alike. True when `name`
 * starts with `prefix` under that rule (prefix given lowercase with '-'). */
int entra_header_has_prefix(const char *name, const char *prefix);

/* Printable, bounded text from untrusted input, fit for a log line: its
 * first line, at most 200 characters, other bytes shown as '?'; "-" for NULL. */
const char *entra_log_safe(apr_pool_t *p, const char *s);

/* Constant-time equality of two NUL-terminated strings. */
int entra_str_equal_ct(const char *a, const char *b);


/* A name/value pair; sealed cookies hold a list of them, NUL-separated,
 * so opening one needs no parser beyond a walk over the bytes. */
typedef struct {
    const char *name;
    const char *value;
} entra_pair;

/* "name\0value\0name\0value\0..." from an array of entra_pair. */
unsigned char *entra_pairs_serialize(apr_pool_t *p, const apr_array_header_t *pairs,
                                     apr_size_t *len);

/* The reverse, pointing into `buf` (not copied). NULL when malformed. */
apr_array_header_t *entra_pairs_parse(apr_pool_t *p, const unsigned char *buf, apr_size_t len);

/* The pairs packed to be read back without a scan (what this process keeps
 * between requests: opened sessions, validated tokens): their count, each
 * one's offsets, then "name\0value\0..." */
unsigned char *entra_pairs_pack(apr_pool_t *p, const apr_array_header_t *pairs,
                                apr_size_t *len);

/* The pairs of a packed block, pointing into it (not copied), with room to
 * add a few. NULL when malformed. */
apr_array_header_t *entra_pairs_unpack(apr_pool_t *p, const unsigned char *packed,
                                       apr_size_t len);

void entra_pairs_add(apr_array_header_t *pairs, const char *name, const char *value);
const char *entra_pairs_get(const apr_array_header_t *pairs, const char *name);
/* Sets `name` to a copy of `value`: the first pair of that name, else a new one. */
void entra_pairs_set(apr_pool_t *p, apr_array_header_t *pairs, const char *name,
                     const char *value);
/* True when `value` is one of the ','-separated elements of `list`. */
int entra_list_has(const char *list, const char *value);

/* Parses a non-negative decimal integer; -1 when s is not one. */
apr_int64_t entra_parse_int(const char *s);

/* The module's clock for expiry decisions: apr_time_now(). A test build
 * (configure --enable-test-clock, used only by scripts/test.sh) adds the
 * offset in seconds that the Apache::Test suite writes into the file named
 * by $ENTRA_TEST_CLOCK_FILE (EntraTest::advance_clock), so that expiry tests
 * move time instead of sleeping; in any other build the offset is the
 * constant 0 and no code reads a file or the environment. */
#ifdef ENTRA_TEST_BUILD
apr_time_t entra_clock_offset(void);
#else
#define entra_clock_offset() ((apr_time_t)0)
#endif
#define entra_now() (apr_time_now() + entra_clock_offset())

#endif
