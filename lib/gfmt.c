/* printf's "%.Pg" without printf. A value that a power of ten up to 10^22 scales to its digits
 * is scaled exactly, in integers (its 53-bit mantissa times the power fits 128 bits); any other
 * times (or over) an exact power of ten in x87 extended precision is rounded once (a few times
 * for exponents past 10^27), so its error is below 2^-60 of the result; when the part below the
 * last digit is farther than that from one half, the rounding printf makes from the exact value
 * is known, and the digits follow. Everything else (exact and near ties, NaN and infinities, no
 * extended precision) is snprintf's. */
#include "gfmt.h"

#include "digits.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAST_PREC_MAX 15 /* digits the scaled value holds with room for the tie margin */
#define POW_MAX 27       /* 10^27 = 2^27 * 5^27 is the last power with an exact extended form */

static size_t fallback(char *dst, double v, int prec)
{
    int n = snprintf(dst, GFMT_MAX, "%.*g", prec, v);
    if (n < 0) {
        dst[0] = 0;
        return 0;
    }
    return (size_t)n < GFMT_MAX ? (size_t)n : GFMT_MAX - 1;
}

#if LDBL_MANT_DIG >= 64
static const long double pow10_tab[POW_MAX + 1] = {1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,
                                                   1e7L,  1e8L,  1e9L,  1e10L, 1e11L, 1e12L, 1e13L,
                                                   1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L, 1e20L,
                                                   1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};

/* a * 10^k, rounded once per power of the table it takes (at most SCALE_STEPS, which covers
 * every double's exponent); the extended exponent range neither overflows nor underflows here. */
static long double scale(long double a, int k)
{
    for (; k > POW_MAX; k -= POW_MAX)
        a *= pow10_tab[POW_MAX];
    for (; k < -POW_MAX; k += POW_MAX)
        a /= pow10_tab[POW_MAX];
    return k >= 0 ? a * pow10_tab[k] : a / pow10_tab[-k];
}

#define EXACT_POW_MAX 22 /* 10^22 < 2^74: times a 53-bit mantissa, below 2^128 */
#define POW10_19 10000000000000000000u
/* clang-format off */
static const unsigned __int128 pow10_int[EXACT_POW_MAX + 1] = {
    1u, 10u, 100u, 1000u, 10000u, 100000u, 1000000u, 10000000u, 100000000u, 1000000000u,
    10000000000u, 100000000000u, 1000000000000u, 10000000000000u, 100000000000000u,
    1000000000000000u, 10000000000000000u, 100000000000000000u, 1000000000000000000u, POW10_19,
    (unsigned __int128)POW10_19 * 10u, (unsigned __int128)POW10_19 * 100u,
    (unsigned __int128)POW10_19 * 1000u};
/* clang-format on */

/* The digits of normal a (mantissa m, a = m 2^-sh) rounded to prec of them, exactly: a 10^j for
 * j = prec - 1 - e (e its decimal exponent, maybe one off, corrected here) is the integer
 * m 10^j >> sh and the bits shifted out. Returns 1 with *d and *e, 0 when j is out of reach
 * (the extended path's), -1 for an exact tie (printf's). */
static int exact_digits(uint64_t m, int sh, int prec, int *e, uint64_t *d)
{
    const uint64_t lo = (uint64_t)pow10_int[prec - 1], hi = (uint64_t)pow10_int[prec];
    for (int tries = 0; tries < 3; tries++) {
        int j = prec - 1 - *e;
        if (j < 0 || j > EXACT_POW_MAX || sh < 1 || sh > 127) return 0;
        unsigned __int128 x = m * pow10_int[j];
        unsigned __int128 r = x >> sh, frac = x - (r << sh),
                          half = (unsigned __int128)1 << (sh - 1);
        if (r < lo) {
            (*e)--;
        } else if (r >= hi) {
            (*e)++;
        } else {
            if (frac == half) return -1;
            *d = (uint64_t)r + (frac > half);
            return 1;
        }
    }
    return 0;
}

/* The digits of a rounded to prec of them from one scaling in extended precision, with *e as
 * exact_digits; 0, or -1 when the value is too near a tie to know the side. */
static int extended_digits(double a, int prec, int *e, uint64_t *d)
{
    const long double lo = pow10_tab[prec - 1], hi = pow10_tab[prec];
    long double s = 0;
    for (int tries = 0;; tries++) {
        if (tries > 2) return -1;
        s = scale(a, prec - 1 - *e);
        if (s < lo)
            (*e)--;
        else if (s >= hi)
            (*e)++;
        else
            break;
    }
    long double r = floorl(s), frac = s - r; /* both exact: s < 2^50 keeps 14 fraction bits */
    /* at most 14 roundings of 2^-64 each: a margin of 2^-58 is safe */
    if (fabsl(frac - 0.5L) <= s * 0x1p-58L) return -1; /* too near a tie to know the side */
    *d = (uint64_t)r + (frac > 0.5L);
    return 0;
}

int gfmt_g_fast(char *dst, double v, int prec)
{
    if (prec < 1 || prec > FAST_PREC_MAX || !isfinite(v)) return -1;
    char *p = dst;
    if (signbit(v)) *p++ = '-';
    double a = fabs(v);
    if (a == 0) {
        *p++ = '0';
        *p = 0;
        return (int)(p - dst);
    }
    uint64_t bits, d = 0;
    memcpy(&bits, &a, sizeof bits);
    int e2 = (int)(bits >> 52) - 1023, e, ex = 0;
    if (e2 > -1023) {           /* normal */
        e = (e2 * 78913) >> 18; /* floor(e2 log10(2)): the decimal exponent, maybe one too low */
        ex = exact_digits((bits & ((1ull << 52) - 1)) | 1ull << 52, 52 - e2, prec, &e, &d);
        if (ex < 0) return -1; /* an exact tie: printf's rounding */
    } else {
        e = (int)floor(log10(a));
    }
    if (!ex && extended_digits(a, prec, &e, &d) < 0) return -1;
    if (d == (uint64_t)pow10_int[prec]) { /* 9.99..95 rounded up to the next power of ten */
        d = (uint64_t)pow10_int[prec - 1];
        e++;
    }
    /* the trailing zeros go first (%g drops them), so only the digits that stay are written */
    int nz = 0;
    if (d % 100000000 == 0) d /= 100000000, nz += 8;
    if (d % 10000 == 0) d /= 10000, nz += 4;
    if (d % 100 == 0) d /= 100, nz += 2;
    if (d % 10 == 0) d /= 10, nz += 1;
    int nd = prec - nz; /* d has nd digits now (d >= 10^(prec-1) had at most prec-1 zeros) */
    char dig[FAST_PREC_MAX + 1];
    int k = nd;
    for (; k >= 2; k -= 2, d /= 100)
        memcpy(dig + k - 2, digits_pairs + 2 * (d % 100), 2);
    if (k) dig[0] = (char)('0' + d);
    if (e < -4 || e >= prec) { /* d.ddde+XX */
        *p++ = dig[0];
        if (nd > 1) {
            *p++ = '.';
            memcpy(p, dig + 1, (size_t)nd - 1);
            p += nd - 1;
        }
        *p++ = 'e';
        *p++ = e < 0 ? '-' : '+';
        int x = abs(e);
        if (x >= 100) {
            *p++ = (char)('0' + x / 100);
            x %= 100;
        }
        *p++ = (char)('0' + x / 10);
        *p++ = (char)('0' + x % 10);
    } else if (e >= 0) { /* ddd.ddd, or ddd000 when the digits end before the point */
        int ni = nd < e + 1 ? nd : e + 1;
        memcpy(p, dig, (size_t)ni);
        p += ni;
        for (int i = ni; i < e + 1; i++)
            *p++ = '0';
        if (nd > e + 1) {
            *p++ = '.';
            memcpy(p, dig + e + 1, (size_t)(nd - e - 1));
            p += nd - e - 1;
        }
    } else { /* 0.000ddd */
        *p++ = '0';
        *p++ = '.';
        for (int i = 0; i < -e - 1; i++)
            *p++ = '0';
        memcpy(p, dig, (size_t)nd);
        p += nd;
    }
    *p = 0;
    return (int)(p - dst);
}
#else
int gfmt_g_fast(char *dst, double v, int prec)
{
    (void)dst;
    (void)v;
    (void)prec;
    return -1; /* no extended precision: every value is printf's */
}
#endif

size_t gfmt_g(char *dst, double v, int prec)
{
    int n = gfmt_g_fast(dst, v, prec);
    return n >= 0 ? (size_t)n : fallback(dst, v, prec);
}
