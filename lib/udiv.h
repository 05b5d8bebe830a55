/* Division of 64-bit unsigned integers by a divisor fixed at run time, as one multiplication and
 * shifts instead of a division instruction (Granlund and Montgomery, "Division by invariant
 * integers using multiplication", 1994, figure 4.1): exact for every dividend and divisor. */
#ifndef LP_UDIV_H
#define LP_UDIV_H

#include <stdint.h>

typedef struct udiv {
    uint64_t m;     /* the multiplier */
    uint8_t s1, s2; /* the shifts */
} udiv_t;

/* Prepares division by d (d >= 1). Any thread. */
static inline void udiv_init(udiv_t *u, uint64_t d)
{
    unsigned l = d > 1 ? 64u - (unsigned)__builtin_clzll(d - 1) : 0; /* ceil(log2 d) */
    unsigned __int128 two_l = (unsigned __int128)1 << l;
    u->m = (uint64_t)((((two_l - d) << 64) / d) + 1);
    u->s1 = l < 1 ? (uint8_t)l : 1;
    u->s2 = l > 1 ? (uint8_t)(l - 1) : 0;
}

/* n / d for the d of udiv_init. */
static inline uint64_t udiv_apply(const udiv_t *u, uint64_t n)
{
    uint64_t t = (uint64_t)(((unsigned __int128)u->m * n) >> 64);
    return (t + ((n - t) >> u->s1)) >> u->s2;
}

#endif
