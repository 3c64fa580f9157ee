/* Comparing secrets (session cookies, store keys) in constant time. */
#ifndef ENTRA_CT_H
#define ENTRA_CT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__) && defined(__x86_64__)
#include <emmintrin.h>
#endif

/* 1 when the len bytes at a and b are the same, 0 otherwise, in a time
 * that depends on len only. Sixteen bytes a step (SSE2, which every x86-64
 * has), else eight: a cookie memo compares a few KB on every request, and
 * OpenSSL's CRYPTO_memcmp, a byte a step, was a third of a signed-in
 * request's cost to the module. Every step is an XOR and an OR, with no
 * branch on the data. */
static inline int entra_ct_equal(const void *a, const void *b, size_t len)
{
    const unsigned char *x = a, *y = b;
    uint64_t diff = 0, wx, wy;
    size_t i = 0;

#if defined(__SSE2__) && defined(__x86_64__)
    __m128i acc = _mm_setzero_si128();

    for (; i + 16 <= len; i += 16) {
        acc = _mm_or_si128(acc, _mm_xor_si128(_mm_loadu_si128((const __m128i *)(x + i)),
                                              _mm_loadu_si128((const __m128i *)(y + i))));
#if defined(__GNUC__)
        /* a value barrier: once acc is not zero, the rest cannot change
         * the result, and a compiler could stop early */
        __asm__("" : "+x"(acc));
#endif
    }
    diff = (uint64_t)_mm_cvtsi128_si64(acc)
           | (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(acc, acc));
#endif
    for (; i + 8 <= len; i += 8) {
        memcpy(&wx, x + i, 8);      /* unaligned loads, no early exit */
        memcpy(&wy, y + i, 8);
        diff |= wx ^ wy;
#if defined(__GNUC__)
        __asm__("" : "+r"(diff));   /* the same barrier */
#endif
    }
    for (; i < len; i++)
        diff |= (uint64_t)(x[i] ^ y[i]);
    return diff == 0;
}

#endif
