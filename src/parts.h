/* A sealed session record too big for one socache value, kept in parts.
 * The session's own key holds "parts:<n>:<gen>:" and the first piece of
 * the sealed text; pieces 1..n-1 have keys of their own, made from the
 * session's key, the record's generation (random, new at every save) and
 * their index. The pieces are of the sealed text: the record opens only
 * when every piece is there and untouched. Pure string work, no httpd:
 * store.c does the lookups, the unit tests check this. */
#ifndef ENTRA_PARTS_H
#define ENTRA_PARTS_H

#include <apr_pools.h>

/* A piece is at most this much of the sealed text: with its head, under
 * the 64 KB a lookup gives back (ENTRA_SOCACHE_VALUE_MAX), and under the
 * data area of one shmcb sub-cache at shmcb's default size (about 60 KB). */
#define ENTRA_PARTS_SIZE (48 * 1024)
/* At most 16 pieces: 768 KB of sealed text, more than the 11,000 groups
 * Microsoft Graph lists at most. */
#define ENTRA_PARTS_MAX 16
/* base64url characters of a record's generation (6 random bytes) */
#define ENTRA_PARTS_GEN_LEN 8

/* How many pieces `len` bytes of sealed text need: 1 (kept whole, as
 * always), up to ENTRA_PARTS_MAX; 0 when more than that. */
int entra_parts_count(apr_size_t len);

/* The value of the session's key for `sealed` in n > 1 pieces:
 * "parts:<n>:<gen>:" and piece 0. */
char *entra_parts_head(apr_pool_t *p, const char *sealed, int n, const char *gen);

/* Piece i (0..n-1) of `sealed`. */
char *entra_parts_piece(apr_pool_t *p, const char *sealed, int i);

/* Reads the value of a session's key: 0 for a record kept whole (the value
 * is the sealed text), 1 for a head (*n, *gen and *first, piece 0, set),
 * -1 for a head that is malformed (no session). */
int entra_parts_parse(apr_pool_t *p, const char *value, int *n, const char **gen,
                      const char **first);

/* The key of piece i (1..n-1) of the record under `key`. Its first byte
 * differs from the session key's and from the other pieces': shmcb picks a
 * key's sub-cache by its first byte, and pieces crowded into one would
 * push each other out. */
char *entra_parts_key(apr_pool_t *p, const char *key, const char *gen, int i);

/* `first` and pieces[1..n-1] joined; NULL when one is missing, empty or
 * longer than a piece can be. */
char *entra_parts_join(apr_pool_t *p, const char *first, const char *const *pieces, int n);

#endif
