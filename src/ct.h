/* Comparing secrets (session cookies, store keys) in constant time. */
#ifndef ENTRA_CT_H
#define ENTRA_CT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* 1 when the len bytes at a and b are the same, 0 otherwise, in a time
 * that depends on len only. Eight bytes a step: a cookie memo compares a
 * few KB on every request, and OpenSSL's CRYPTO_memcmp, a byte a step,
 * was a third of a signed-in request's cost to the module. */
static inline int entra_ct_equal(const void *a, const void *b, size_t len)
{
    const unsigned char *x = a, *y = b;
    uint64_t diff = 0, wx, wy;
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        memcpy(&wx, x + i, 8);      /* unaligned loads, no early exit */
        memcpy(&wy, y + i, 8);
        diff |= wx ^ wy;
#if defined(__GNUC__)
        /* a value barrier: once diff is not zero, the rest cannot change
         * the result, and a compiler could stop early */
        __asm__("" : "+r"(diff));
#endif
    }
    for (; i < len; i++)
        diff |= (uint64_t)(x[i] ^ y[i]);
    return diff == 0;
}

#endif
