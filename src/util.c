/* Small pure helpers: base64url, cookies, URL-encoded forms, checks. */
#include "util.h"

#include <apr_strings.h>
#include <apr_lib.h>
#include <openssl/rand.h>
#include <string.h>

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *entra_b64url_encode(apr_pool_t *p, const unsigned char *data, apr_size_t len)
{
    char *out = apr_palloc(p, (len + 2) / 3 * 4 + 1);
    char *o = out;
    apr_size_t i;

    for (i = 0; i + 2 < len; i += 3) {
        unsigned long v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
        *o++ = b64url_alphabet[(v >> 18) & 63];
        *o++ = b64url_alphabet[(v >> 12) & 63];
        *o++ = b64url_alphabet[(v >> 6) & 63];
        *o++ = b64url_alphabet[v & 63];
    }
    if (len - i == 1) {
        unsigned long v = data[i] << 16;
        *o++ = b64url_alphabet[(v >> 18) & 63];
        *o++ = b64url_alphabet[(v >> 12) & 63];
    }
    else if (len - i == 2) {
        unsigned long v = (data[i] << 16) | (data[i + 1] << 8);
        *o++ = b64url_alphabet[(v >> 18) & 63];
        *o++ = b64url_alphabet[(v >> 12) & 63];
        *o++ = b64url_alphabet[(v >> 6) & 63];
    }
    *o = '\0';
    return out;
}

/* 0..63 for the base64url alphabet, 0xff for anything else. */
static const unsigned char b64url_values[256] = {
#define X 0xff
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, 62, X, X,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, X, X, X,
    X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, 63,
    X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
#undef X
};

/* Table-driven, four characters at a time: this runs on every signed-in
 * request, over the whole session cookie. */
unsigned char *entra_b64url_decode(apr_pool_t *p, const char *in, apr_size_t in_len,
                                   apr_size_t *out_len)
{
    const unsigned char *s = (const unsigned char *)in;
    unsigned char *out, *o;
    apr_size_t i, full = in_len / 4 * 4, rest = in_len - full;
    unsigned long v;
    unsigned bad = 0;

    if (rest == 1)
        return NULL;
    out = o = apr_palloc(p, in_len / 4 * 3 + 3);
    for (i = 0; i < full; i += 4) {
        unsigned a = b64url_values[s[i]], b = b64url_values[s[i + 1]];
        unsigned c = b64url_values[s[i + 2]], d = b64url_values[s[i + 3]];
        bad |= a | b | c | d;
        v = (a << 18) | (b << 12) | (c << 6) | d;
        *o++ = (unsigned char)(v >> 16);
        *o++ = (unsigned char)(v >> 8);
        *o++ = (unsigned char)v;
    }
    if (bad & 0x80)
        return NULL;
    if (rest) {
        unsigned a = b64url_values[s[i]], b = b64url_values[s[i + 1]];
        unsigned c = rest == 3 ? b64url_values[s[i + 2]] : 0;
        if ((a | b | c) & 0x80)
            return NULL;
        v = (a << 18) | (b << 12) | (c << 6);
        /* Leftover bits must be zero: one encoding per value, no malleability. */
        if ((rest == 2 && (v & 0xffff)) || (rest == 3 && (v & 0xff)))
            return NULL;
        *o++ = (unsigned char)(v >> 16);
        if (rest == 3)
            *o++ = (unsigned char)(v >> 8);
    }
    *out_len = (apr_size_t)(o - out);
    return out;
}

char *entra_random_token(apr_pool_t *p, apr_size_t len)
{
    unsigned char buf[64];

    if (len > sizeof(buf) || RAND_bytes(buf, (int)len) != 1)
        return NULL;
    return entra_b64url_encode(p, buf, len);
}

typedef struct {
    apr_pool_t *pool;
    const char *prefix;
    apr_size_t prefix_len;
    int exact;               /* prefix is a whole cookie name */
    entra_cookie_fn fn;
    void *fn_ctx;
    const char *found;
} cookie_walk;

/* Walks one Cookie header: "a=1; b=2". */
static int cookie_header_walk(void *ctx, const char *key, const char *header)
{
    cookie_walk *w = ctx;
    const char *s = header;
    (void)key;

    while (*s) {
        const char *name, *eq, *end;
        while (*s == ' ' || *s == '\t' || *s == ';')
            s++;
        name = s;
        end = strchr(s, ';');
        if (!end)
            end = s + strlen(s);
        eq = memchr(name, '=', (apr_size_t)(end - name));
        if (eq && (apr_size_t)(eq - name) >= w->prefix_len
            && strncmp(name, w->prefix, w->prefix_len) == 0) {
            apr_size_t name_len = (apr_size_t)(eq - name);
            const char *vend = end;
            while (vend > eq + 1 && (vend[-1] == ' ' || vend[-1] == '\t'))
                vend--;
            if (w->exact && name_len == w->prefix_len) {
                w->found = apr_pstrmemdup(w->pool, eq + 1, (apr_size_t)(vend - eq - 1));
                return 0;
            }
            if (!w->exact)
                w->fn(w->fn_ctx, apr_pstrmemdup(w->pool, name, name_len),
                      apr_pstrmemdup(w->pool, eq + 1, (apr_size_t)(vend - eq - 1)));
        }
        s = end;
    }
    return 1;
}

const char *entra_cookie_get(apr_pool_t *p, const apr_table_t *headers, const char *name)
{
    cookie_walk w = { p, name, strlen(name), 1, NULL, NULL, NULL };

    apr_table_do(cookie_header_walk, &w, headers, "Cookie", NULL);
    return w.found;
}

void entra_cookie_each(apr_pool_t *p, const apr_table_t *headers, const char *prefix,
                       entra_cookie_fn fn, void *ctx)
{
    cookie_walk w = { p, prefix, strlen(prefix), 0, fn, ctx, NULL };

    apr_table_do(cookie_header_walk, &w, headers, "Cookie", NULL);
}

/* `name` (`len` bytes) against one pattern (see entra_cookie_header_strip). */
static int cookie_name_matches(const char *name, apr_size_t len, const char *pattern)
{
    apr_size_t n = strlen(pattern);
    char last = n ? pattern[n - 1] : '\0';
    apr_size_t i;

    if (last == '=')
        return len == n - 1 && strncmp(name, pattern, n - 1) == 0;
    if (last == '#') {
        if (len < n || strncmp(name, pattern, n - 1) != 0)
            return 0;
        for (i = n - 1; i < len; i++) {
            if (name[i] < '0' || name[i] > '9')
                return 0;
        }
        return 1;
    }
    return len >= n && strncmp(name, pattern, n) == 0;
}

static int is_own_cookie(const char *name, apr_size_t len, const char *const *prefixes)
{
    for (; *prefixes; prefixes++) {
        if (cookie_name_matches(name, len, *prefixes))
            return 1;
    }
    return 0;
}

const char *entra_cookie_header_strip(apr_pool_t *p, const char *header,
                                      const char *const *prefixes, int *removed)
{
    apr_size_t len = strlen(header);
    const char *s = header, *stop = header + len;
    /* "a;b" comes out as "a; b": room for a space after every separator. */
    char *out = apr_palloc(p, 2 * len + 1), *o = out;

    while (s < stop) {
        const char *name, *end, *vend;
        apr_size_t name_len;
        while (*s == ' ' || *s == '\t' || *s == ';')
            s++;
        if (!*s)
            break;
        name = s;
        /* memchr, not strcspn: the session cookie is a few KB of one value */
        if (!(end = memchr(s, ';', (apr_size_t)(stop - s))))
            end = stop;
        s = end;
        name_len = strcspn(name, "=;");
        /* "name =v": parsers that trim names would give the backend "name" */
        while (name_len > 0 && (name[name_len - 1] == ' ' || name[name_len - 1] == '\t'))
            name_len--;
        if (is_own_cookie(name, name_len, prefixes)) {
            (*removed)++;
            continue;
        }
        vend = end;
        while (vend > name && (vend[-1] == ' ' || vend[-1] == '\t'))
            vend--;
        if (o != out) {
            *o++ = ';';
            *o++ = ' ';
        }
        memcpy(o, name, (apr_size_t)(vend - name));
        o += vend - name;
    }
    *o = '\0';
    return out;
}

/* No strcasecmp: asked of every header of every request of the vhost. */
static int is_cookie_header(const apr_table_entry_t *e)
{
    const char *k = e->key;

    return k && (k[0] | 0x20) == 'c' && (k[1] | 0x20) == 'o' && (k[2] | 0x20) == 'o'
           && (k[3] | 0x20) == 'k' && (k[4] | 0x20) == 'i' && (k[5] | 0x20) == 'e' && !k[6];
}

const char *entra_cookie_header_only(const apr_table_t *headers)
{
    const apr_array_header_t *arr = apr_table_elts(headers);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    const char *only = NULL;
    int i;

    for (i = 0; i < arr->nelts; i++) {
        if (!is_cookie_header(&e[i]))
            continue;
        if (only || !e[i].val)
            return NULL;
        only = e[i].val;
    }
    return only;
}

int entra_cookie_header_replace(apr_table_t *headers, const char *was, const char *now)
{
    const apr_array_header_t *arr = apr_table_elts(headers);
    apr_table_entry_t *e = (apr_table_entry_t *)arr->elts, *only = NULL;
    int i;

    for (i = 0; was && i < arr->nelts; i++) {
        if (!is_cookie_header(&e[i]))
            continue;
        if (only)
            return 0;
        only = &e[i];
    }
    if (!only || only->val != was)
        return 0;
    /* in place, as entra_cookies_strip: a table is indexed by names only */
    if (*now)
        only->val = (char *)now;
    else
        apr_table_unset(headers, "Cookie");
    return 1;
}

int entra_cookies_strip(apr_pool_t *p, apr_table_t *headers, const char *const *prefixes)
{
    /* The entries are rewritten in place: a table is indexed by its names,
     * never by its values, and this runs on every request. */
    const apr_array_header_t *arr = apr_table_elts(headers);
    apr_table_entry_t *e = (apr_table_entry_t *)arr->elts;
    apr_array_header_t *kept;
    int i, removed = 0, emptied = 0;

    for (i = 0; i < arr->nelts; i++) {
        int before = removed;
        const char *value;
        if (!is_cookie_header(&e[i]) || !e[i].val)
            continue;
        value = entra_cookie_header_strip(p, e[i].val, prefixes, &removed);
        if (removed == before)
            continue;
        e[i].val = (char *)value;
        emptied |= !*value;
    }
    if (!emptied)
        return removed;
    /* a header left empty goes: the others are set again after it */
    kept = apr_array_make(p, 1, sizeof(const char *));
    for (i = 0; i < arr->nelts; i++) {
        if (is_cookie_header(&e[i]) && e[i].val && *e[i].val)
            APR_ARRAY_PUSH(kept, const char *) = e[i].val;
    }
    apr_table_unset(headers, "Cookie");
    for (i = 0; i < kept->nelts; i++)
        apr_table_addn(headers, "Cookie", APR_ARRAY_IDX(kept, i, const char *));
    return removed;
}

typedef struct {
    apr_int64_t bytes;
} cookie_bytes;

static int add_cookie_bytes(void *ctx, const char *key, const char *value)
{
    cookie_bytes *cb = ctx;
    (void)key;

    if (value)
        cb->bytes += (apr_int64_t)strlen(value) + (cb->bytes ? 2 : 0);
    return 1;
}

apr_int64_t entra_cookie_header_bytes(const apr_table_t *headers)
{
    cookie_bytes cb = { 0 };

    apr_table_do(add_cookie_bytes, &cb, headers, "Cookie", NULL);
    return cb.bytes;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes [s, end) in place into a new string; NULL on a bad escape. */
static char *form_decode(apr_pool_t *p, const char *s, const char *end)
{
    char *out = apr_palloc(p, (apr_size_t)(end - s) + 1), *o = out;

    while (s < end) {
        if (*s == '+') {
            *o++ = ' ';
            s++;
        }
        else if (*s == '%') {
            int hi, lo;
            if (end - s < 3 || (hi = hex_value(s[1])) < 0 || (lo = hex_value(s[2])) < 0)
                return NULL;
            *o++ = (char)(hi * 16 + lo);
            s += 3;
        }
        else
            *o++ = *s++;
    }
    *o = '\0';
    /* An encoded NUL would silently truncate the value: refuse it. */
    if ((apr_size_t)(o - out) != strlen(out))
        return NULL;
    return out;
}

apr_table_t *entra_form_parse(apr_pool_t *p, const char *text)
{
    apr_table_t *t = apr_table_make(p, 8);
    const char *s = text ? text : "";

    while (*s) {
        const char *end = strchr(s, '&'), *eq;
        char *key, *val;
        if (!end)
            end = s + strlen(s);
        if (end > s) {
            eq = memchr(s, '=', (apr_size_t)(end - s));
            key = form_decode(p, s, eq ? eq : end);
            val = eq ? form_decode(p, eq + 1, end) : apr_pstrdup(p, "");
            if (!key || !val)
                return NULL;
            apr_table_add(t, key, val);
        }
        s = *end ? end + 1 : end;
    }
    return t;
}

char *entra_url_encode(apr_pool_t *p, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = apr_palloc(p, strlen(s) * 3 + 1), *o = out;

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (apr_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
            *o++ = (char)c;
        else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}

char *entra_html_escape(apr_pool_t *p, const char *s)
{
    char *out = apr_palloc(p, strlen(s) * 6 + 1), *o = out;

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        const char *rep = NULL;
        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: break;
        }
        if (rep) {
            strcpy(o, rep);
            o += strlen(rep);
        }
        else if (c >= 0x20 && c != 0x7f)
            *o++ = (char)c;
        else if (c == '\n')
            *o++ = '\n';
    }
    *o = '\0';
    return out;
}

/* What a GUID's characters are: 1 a hex digit, 2 the dash (not
 * isxdigit(): a locale lookup per character, and this runs on every
 * signed-in request). */
static const unsigned char guid_char[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['-'] = 2,
};
static const unsigned char guid_shape[36] = {
    1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 2, 1, 1, 1, 1,
    2, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

int entra_is_guid(const char *s)
{
    unsigned int wrong = 0;
    int i;

    if (!s || strlen(s) != 36)
        return 0;
    for (i = 0; i < 36; i++)
        wrong |= guid_char[(unsigned char)s[i]] ^ guid_shape[i];
    return wrong == 0;
}

const char *entra_url_guid_segment(apr_pool_t *p, const char *url)
{
    const char *s = strstr(url, "://");

    for (s = s ? s + 3 : url; (s = strchr(s, '/')); s++) {
        const char *seg = apr_pstrmemdup(p, s + 1, strcspn(s + 1, "/"));
        if (entra_is_guid(seg))
            return seg;
    }
    return NULL;
}

const char *entra_safe_return_path(apr_pool_t *p, const char *target, const char *origin)
{
    const char *path = target;
    const char *c;

    if (!target || !*target)
        return NULL;
    if (origin) {
        apr_size_t olen = strlen(origin);
        if (strncasecmp(target, origin, olen) == 0
            && (target[olen] == '/' || target[olen] == '\0'))
            path = target[olen] ? target + olen : "/";
    }
    if (path[0] != '/' || path[1] == '/' || path[1] == '\\')
        return NULL;
    for (c = path; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '\\')
            return NULL;
    }
    /* "/%2F..." or "/%5C..." turn into "//" or "/\" once a proxy or app decodes them. */
    if (path[1] == '%' && path[2] == '2' && (path[3] == 'f' || path[3] == 'F'))
        return NULL;
    if (path[1] == '%' && path[2] == '5' && (path[3] == 'c' || path[3] == 'C'))
        return NULL;
    return apr_pstrdup(p, path);
}

int entra_header_has_prefix(const char *name, const char *prefix)
{
    for (; *prefix; name++, prefix++) {
        char c = (char)apr_tolower(*name);
        if (c == '_')
            c = '-';
        if (c != *prefix)
            return 0;
    }
    return 1;
}

int entra_str_equal_ct(const char *a, const char *b)
{
    apr_size_t la = strlen(a), lb = strlen(b), i;
    unsigned char diff = (unsigned char)(la != lb);

    for (i = 0; i < la && i < lb; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

unsigned char *entra_pairs_serialize(apr_pool_t *p, const apr_array_header_t *pairs,
                                     apr_size_t *len)
{
    apr_size_t total = 0, n;
    unsigned char *buf, *o;
    int i;

    for (i = 0; i < pairs->nelts; i++) {
        const entra_pair *e = &APR_ARRAY_IDX(pairs, i, entra_pair);
        total += strlen(e->name) + strlen(e->value) + 2;
    }
    buf = o = apr_palloc(p, total + 1);
    for (i = 0; i < pairs->nelts; i++) {
        const entra_pair *e = &APR_ARRAY_IDX(pairs, i, entra_pair);
        n = strlen(e->name) + 1;
        memcpy(o, e->name, n);
        o += n;
        n = strlen(e->value) + 1;
        memcpy(o, e->value, n);
        o += n;
    }
    *len = total;
    return buf;
}

apr_array_header_t *entra_pairs_parse(apr_pool_t *p, const unsigned char *buf, apr_size_t len)
{
    apr_array_header_t *pairs = apr_array_make(p, 24, sizeof(entra_pair));
    const char *s = (const char *)buf, *end = s + len;

    if (len > 0 && buf[len - 1] != '\0')
        return NULL;
    while (s < end) {
        entra_pair *e;
        const char *value = s + strlen(s) + 1;
        if (value >= end)
            return NULL;
        e = apr_array_push(pairs);
        e->name = s;
        e->value = value;
        s = value + strlen(value) + 1;
    }
    return pairs;
}

/* entra_pairs_pack's layout: a header, an offset pair for each pair, the text */
typedef struct {
    apr_uint32_t count;
    apr_uint32_t text_len;
} packed_head;

typedef struct {
    apr_uint32_t name, value;
} packed_pair;

unsigned char *entra_pairs_pack(apr_pool_t *p, const apr_array_header_t *pairs,
                                apr_size_t *len)
{
    apr_size_t n = (apr_size_t)pairs->nelts, text_len;
    unsigned char *text = entra_pairs_serialize(p, pairs, &text_len), *out;
    packed_head head = { (apr_uint32_t)n, (apr_uint32_t)text_len };
    packed_pair at;
    apr_size_t i, pos = 0;

    *len = sizeof(head) + n * sizeof(at) + text_len;
    out = apr_palloc(p, *len + 1);
    memcpy(out, &head, sizeof(head));
    for (i = 0; i < n; i++) {
        at.name = (apr_uint32_t)pos;
        pos += strlen((const char *)text + pos) + 1;
        at.value = (apr_uint32_t)pos;
        pos += strlen((const char *)text + pos) + 1;
        memcpy(out + sizeof(head) + i * sizeof(at), &at, sizeof(at));
    }
    memcpy(out + sizeof(head) + n * sizeof(at), text, text_len);
    out[*len] = '\0';
    return out;
}

apr_array_header_t *entra_pairs_unpack(apr_pool_t *p, const unsigned char *packed,
                                       apr_size_t len)
{
    packed_head head;
    packed_pair at;
    const char *text;
    apr_array_header_t *pairs;
    entra_pair *e;
    apr_uint32_t i;

    if (len < sizeof(head))
        return NULL;
    memcpy(&head, packed, sizeof(head));
    if ((len - sizeof(head)) / sizeof(at) < head.count
        || len - sizeof(head) - (apr_size_t)head.count * sizeof(at) != head.text_len
        || (head.text_len && packed[len - 1] != '\0'))
        return NULL;
    text = (const char *)packed + sizeof(head) + (apr_size_t)head.count * sizeof(at);
    pairs = apr_array_make(p, (int)head.count + 8, sizeof(entra_pair));
    e = (entra_pair *)pairs->elts;
    for (i = 0; i < head.count; i++) {
        memcpy(&at, packed + sizeof(head) + (apr_size_t)i * sizeof(at), sizeof(at));
        /* the text ends with '\0': every offset in it starts a string */
        if (at.name >= head.text_len || at.value >= head.text_len)
            return NULL;
        e[i].name = text + at.name;
        e[i].value = text + at.value;
    }
    pairs->nelts = (int)head.count;
    return pairs;
}

void entra_pairs_add(apr_array_header_t *pairs, const char *name, const char *value)
{
    entra_pair *e = apr_array_push(pairs);
    e->name = name;
    e->value = value;
}

const char *entra_pairs_get(const apr_array_header_t *pairs, const char *name)
{
    int i;

    for (i = 0; i < pairs->nelts; i++) {
        const entra_pair *e = &APR_ARRAY_IDX(pairs, i, entra_pair);
        /* the first letters first: a session has dozens of claims, looked
         * up several times a request */
        if (e->name[0] == name[0] && strcmp(e->name, name) == 0)
            return e->value;
    }
    return NULL;
}

void entra_pairs_set(apr_pool_t *p, apr_array_header_t *pairs, const char *name,
                     const char *value)
{
    int i;

    for (i = 0; i < pairs->nelts; i++) {
        entra_pair *c = &APR_ARRAY_IDX(pairs, i, entra_pair);
        if (strcmp(c->name, name) == 0) {
            c->value = apr_pstrdup(p, value);
            return;
        }
    }
    entra_pairs_add(pairs, name, apr_pstrdup(p, value));
}

int entra_list_has(const char *list, const char *value)
{
    apr_size_t n = strlen(value);
    const char *at;

    for (at = list; n && (at = strstr(at, value)); at++) {
        if ((at == list || at[-1] == ',') && (at[n] == '\0' || at[n] == ','))
            return 1;
    }
    return 0;
}

apr_int64_t entra_parse_int(const char *s)
{
    apr_int64_t v = 0;

    if (!s || !*s || strlen(s) > 18)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

const char *entra_log_safe(apr_pool_t *p, const char *s)
{
    apr_size_t i, n;
    char *out;

    if (!s)
        return "-";
    n = strcspn(s, "\r\n");
    out = apr_pstrmemdup(p, s, n > 200 ? 200 : n);
    for (i = 0; out[i]; i++) {
        if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7f)
            out[i] = '?';
    }
    return out;
}

#ifdef ENTRA_TEST_BUILD
#include <stdio.h>
#include <stdlib.h>

/* Test builds only: see util.h. The suite replaces the file by a rename, so
 * a read sees one whole number; no variable or no file is offset 0. */
apr_time_t entra_clock_offset(void)
{
    const char *path = getenv("ENTRA_TEST_CLOCK_FILE");
    char buf[64];
    size_t n;
    FILE *f;

    if (!path || !*path || !(f = fopen(path, "r")))
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return (apr_time_t)(strtod(buf, NULL) * APR_USEC_PER_SEC);
}
#endif
