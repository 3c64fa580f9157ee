/* A sealed record in parts (see parts.h). */
#include "parts.h"

#include <apr_strings.h>
#include <string.h>

#define MARK "parts:"
#define MARK_LEN (sizeof(MARK) - 1)

int entra_parts_count(apr_size_t len)
{
    apr_size_t n = (len + ENTRA_PARTS_SIZE - 1) / ENTRA_PARTS_SIZE;

    return n <= 1 ? 1 : n <= ENTRA_PARTS_MAX ? (int)n : 0;
}

char *entra_parts_piece(apr_pool_t *p, const char *sealed, int i)
{
    apr_size_t len = strlen(sealed), at = (apr_size_t)i * ENTRA_PARTS_SIZE;

    if (i < 0 || at >= len)
        return apr_pstrdup(p, "");
    return apr_pstrmemdup(p, sealed + at, len - at < ENTRA_PARTS_SIZE ? len - at
                                                                     : ENTRA_PARTS_SIZE);
}

char *entra_parts_head(apr_pool_t *p, const char *sealed, int n, const char *gen)
{
    return apr_psprintf(p, MARK "%d:%s:%s", n, gen, entra_parts_piece(p, sealed, 0));
}

static int gen_ok(const char *gen)
{
    int i;

    for (i = 0; i < ENTRA_PARTS_GEN_LEN; i++) {
        char c = gen[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
              || c == '-' || c == '_'))
            return 0;
    }
    return gen[ENTRA_PARTS_GEN_LEN] == ':';
}

int entra_parts_parse(apr_pool_t *p, const char *value, int *n, const char **gen,
                      const char **first)
{
    const char *at = value + MARK_LEN;
    apr_int64_t count;
    char *end;

    /* sealed text is base64url: it never holds the mark's ':' */
    if (strncmp(value, MARK, MARK_LEN) != 0)
        return 0;
    count = apr_strtoi64(at, &end, 10);
    if (end == at || *end != ':' || count < 2 || count > ENTRA_PARTS_MAX || !gen_ok(end + 1))
        return -1;
    *n = (int)count;
    *gen = apr_pstrmemdup(p, end + 1, ENTRA_PARTS_GEN_LEN);
    *first = end + 1 + ENTRA_PARTS_GEN_LEN + 1;
    return 1;
}

char *entra_parts_key(apr_pool_t *p, const char *key, const char *gen, int i)
{
    /* 64 consecutive printable bytes ('0'..'o'): consecutive pieces land
     * in consecutive sub-cache numbers, whatever their count (a power of
     * two), and apart from the session key's for up to 16 sub-caches. */
    char spread = (char)('0' + (((unsigned char)key[0] + i) & 63));

    return apr_psprintf(p, "%c%s%d.%s", spread, gen, i, key);
}

char *entra_parts_join(apr_pool_t *p, const char *first, const char *const *pieces, int n)
{
    apr_size_t len[ENTRA_PARTS_MAX], total = 0, at = 0;
    char *joined;
    int i;

    if (n < 2 || n > ENTRA_PARTS_MAX)
        return NULL;
    for (i = 0; i < n; i++) {
        const char *piece = i ? pieces[i] : first;
        if (!piece || !(len[i] = strlen(piece)) || len[i] > ENTRA_PARTS_SIZE)
            return NULL;
        total += len[i];
    }
    joined = apr_palloc(p, total + 1);
    for (i = 0; i < n; i++) {
        memcpy(joined + at, i ? pieces[i] : first, len[i]);
        at += len[i];
    }
    joined[total] = '\0';
    return joined;
}
