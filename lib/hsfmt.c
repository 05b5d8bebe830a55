/* Haskell-compatible fixed-point formatting: GHC's floatToDigits (Burger and Dybvig's free-format
 * algorithm on exact big integers) followed by showFFloat's roundTo, which rounds those decimal
 * digits half to even. A fast path rounds in binary when the value is far from a tie. */
#include "hsfmt.h"

#include "err.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

/* Unsigned big integers, little-endian 32-bit words. 1280 bits hold every intermediate value of
 * floatToDigits for an IEEE double (the largest is about 2^1140). */
enum { BN_WORDS = 40 };
typedef struct {
    uint32_t w[BN_WORDS];
    int n; /* words in use; w[n-1] != 0 unless n == 0 */
} bn_t;

static void bn_trim(bn_t *b)
{
    while (b->n > 0 && b->w[b->n - 1] == 0)
        b->n--;
}

static void bn_set(bn_t *b, uint64_t v)
{
    b->n = 0;
    while (v) {
        b->w[b->n++] = (uint32_t)v;
        v >>= 32;
    }
}

static void bn_mul_small(bn_t *b, uint32_t m)
{
    uint64_t carry = 0;
    for (int i = 0; i < b->n; i++) {
        uint64_t cur = (uint64_t)b->w[i] * m + carry;
        b->w[i] = (uint32_t)cur;
        carry = cur >> 32;
    }
    if (carry && b->n < BN_WORDS) b->w[b->n++] = (uint32_t)carry;
    bn_trim(b);
}

static void bn_mul_pow10(bn_t *b, int k)
{
    static const uint32_t p10[10] = {1,      10,      100,      1000,      10000,
                                     100000, 1000000, 10000000, 100000000, 1000000000};
    for (; k >= 9; k -= 9)
        bn_mul_small(b, p10[9]);
    if (k > 0) bn_mul_small(b, p10[k]);
}

/* b <<= k (multiplies by 2^k). */
static void bn_shl(bn_t *b, int k)
{
    int words = k / 32, bits = k % 32;
    if (b->n == 0) return;
    int n = b->n + words + 1;
    if (n > BN_WORDS) n = BN_WORDS;
    for (int i = n - 1; i >= 0; i--) {
        int src = i - words;
        uint64_t hi = (src >= 0 && src < b->n) ? b->w[src] : 0;
        uint64_t lo = (src - 1 >= 0 && src - 1 < b->n) ? b->w[src - 1] : 0;
        b->w[i] = bits ? (uint32_t)((hi << bits) | (lo >> (32 - bits))) : (uint32_t)hi;
    }
    b->n = n;
    bn_trim(b);
}

static void bn_add(bn_t *out, const bn_t *a, const bn_t *b)
{
    int n = a->n > b->n ? a->n : b->n;
    uint64_t carry = 0;
    for (int i = 0; i < n; i++) {
        uint64_t cur = carry + (i < a->n ? a->w[i] : 0) + (i < b->n ? b->w[i] : 0);
        out->w[i] = (uint32_t)cur;
        carry = cur >> 32;
    }
    out->n = n;
    if (carry && n < BN_WORDS) out->w[out->n++] = (uint32_t)carry;
}

static int bn_cmp(const bn_t *a, const bn_t *b)
{
    if (a->n != b->n) return a->n < b->n ? -1 : 1;
    for (int i = a->n - 1; i >= 0; i--)
        if (a->w[i] != b->w[i]) return a->w[i] < b->w[i] ? -1 : 1;
    return 0;
}

/* a -= b; requires a >= b. */
static void bn_sub(bn_t *a, const bn_t *b)
{
    int64_t borrow = 0;
    for (int i = 0; i < a->n; i++) {
        int64_t cur = (int64_t)a->w[i] - (i < b->n ? b->w[i] : 0) - borrow;
        borrow = cur < 0;
        a->w[i] = (uint32_t)(cur + (borrow ? ((int64_t)1 << 32) : 0));
    }
    bn_trim(a);
}

/* The scaled start values of floatToDigits: v = r/s, and the rounding interval reaches mdn
 * below and mup above (all over s). */
static void float_setup(double v, bn_t *r, bn_t *s, bn_t *mup, bn_t *mdn)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint64_t frac = bits & ((UINT64_C(1) << 52) - 1);
    int bexp = (int)((bits >> 52) & 0x7ff);
    uint64_t f = bexp ? frac | (UINT64_C(1) << 52) : frac;
    int e = bexp ? bexp - 1075 : -1074;
    bool boundary = f == (UINT64_C(1) << 52); /* the gap below is half the gap above */
    if (e >= 0) {
        bn_set(r, f);
        bn_set(s, boundary ? 4 : 2);
        bn_set(mdn, 1);
        bn_shl(mdn, e);
        bn_set(mup, 1);
        bn_shl(mup, boundary ? e + 1 : e);
        bn_shl(r, boundary ? e + 2 : e + 1);
    } else if (e > -1074 && boundary) {
        bn_set(r, f * 4);
        bn_set(s, 1);
        bn_shl(s, -e + 2);
        bn_set(mup, 2);
        bn_set(mdn, 1);
    } else {
        bn_set(r, f * 2);
        bn_set(s, 1);
        bn_shl(s, -e + 1);
        bn_set(mup, 1);
        bn_set(mdn, 1);
    }
}

/* Smallest k >= GHC's estimate with (r + mup) / s <= 10^k, searched upwards as GHC does. */
static int float_exponent(double v, const bn_t *r, const bn_t *s, const bn_t *mup)
{
    int ex;
    frexp(v, &ex);
    int lx = ex - 1; /* floor(log2 v) */
    int k1 = (lx * 8651) / 28738;
    int k = lx >= 0 ? k1 + 1 : k1;
    bn_t high, t;
    bn_add(&high, r, mup);
    for (;; k++) {
        if (k >= 0) {
            t = *s;
            bn_mul_pow10(&t, k);
            if (bn_cmp(&high, &t) <= 0) return k;
        } else {
            t = high;
            bn_mul_pow10(&t, -k);
            if (bn_cmp(&t, s) <= 0) return k;
        }
    }
}

int hsfmt_float_digits(double v, uint8_t *digits, int *exp)
{
    if (!digits || !exp || !isfinite(v)) return LP_EARG;
    v = fabs(v);
    if (v == 0) {
        digits[0] = 0;
        *exp = 0;
        return 1;
    }
    bn_t r, s, mup, mdn, t;
    float_setup(v, &r, &s, &mup, &mdn);
    int k = float_exponent(v, &r, &s, &mup);
    if (k >= 0) {
        bn_mul_pow10(&s, k);
    } else {
        bn_mul_pow10(&r, -k);
        bn_mul_pow10(&mup, -k);
        bn_mul_pow10(&mdn, -k);
    }
    int n = 0;
    while (n < HSFMT_MAX_DIGITS) {
        bn_mul_small(&r, 10);
        bn_mul_small(&mup, 10);
        bn_mul_small(&mdn, 10);
        int dn = 0;
        while (bn_cmp(&r, &s) >= 0) {
            bn_sub(&r, &s);
            dn++;
        }
        bool low = bn_cmp(&r, &mdn) < 0;
        bn_add(&t, &r, &mup);
        bool high = bn_cmp(&t, &s) > 0;
        if (low && high) {
            bn_add(&t, &r, &r);
            high = bn_cmp(&t, &s) >= 0; /* ties round up, as GHC does */
        }
        if (high) {
            digits[n++] = (uint8_t)(dn + 1);
            break;
        }
        digits[n++] = (uint8_t)dn;
        if (low) break;
    }
    *exp = k;
    return n;
}

/* Writes src[0..len) to *p if it fits before end; returns false (and writes nothing) if not. */
static bool put(char **p, const char *end, const char *src, size_t len)
{
    if ((size_t)(end - *p) < len) return false;
    memcpy(*p, src, len);
    *p += len;
    return true;
}

static int finish(char *buf, char *p, const char *end, bool ok)
{
    if (!ok || p >= end) {
        buf[0] = '\0';
        return LP_ERANGE;
    }
    *p = '\0';
    return (int)(p - buf);
}

/* Fast path: when |v| * 10^decimals is far enough from a tie that both v and its shortest
 * digits round the same way, round in binary. Returns false if the slow path must decide. */
static bool fixed_fast(double a, int decimals, uint64_t *scaled)
{
    static const double p10[16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    if (decimals > 15) return false;
    double y = a * p10[decimals];
    if (!(y < 0x1p50)) return false;
    double fl = floor(y), fr = y - fl;
    /* y and the scaled shortest digits differ by at most about y * 2^-52. */
    if (!(fabs(fr - 0.5) > y * 0x1p-50)) return false;
    *scaled = (uint64_t)fl + (fr > 0.5);
    return true;
}

static int fixed_from_scaled(char *buf, const char *end, bool neg, uint64_t scaled, int decimals)
{
    char tmp[24];
    int len = 0;
    do {
        tmp[len++] = (char)('0' + scaled % 10);
        scaled /= 10;
    } while (scaled);
    char *p = buf;
    bool ok = !neg || put(&p, end, "-", 1);
    int width = len > decimals ? len : decimals + 1; /* at least one integer digit */
    for (int i = width - 1; ok && i >= 0; i--) {
        if (i == decimals - 1 && decimals > 0) ok = put(&p, end, ".", 1);
        char c = i < len ? tmp[i] : '0';
        ok = ok && put(&p, end, &c, 1);
    }
    return finish(buf, p, end, ok);
}

/* GHC's roundTo 10 n on the digit sequence zeros(z) ++ ds: rounds to n digits, half to even only
 * when the dropped part is exactly one half. Writes the n digits to out and returns the carry
 * out of the first digit (0 or 1). */
static int round_to(const uint8_t *ds, int nds, int z, int n, char *out)
{
    int total = z + nds;
    for (int j = 0; j < n; j++)
        out[j] = (char)(j >= z && j < total ? ds[j - z] : 0);
    if (n >= total) return 0;
    int x = n >= z ? ds[n - z] : 0;
    bool prev_even = n == 0 || out[n - 1] % 2 == 0;
    bool rest_zero = true;
    for (int j = (n + 1 > z ? n + 1 : z); j < total; j++)
        rest_zero = rest_zero && ds[j - z] == 0;
    int carry = (x == 5 && prev_even && rest_zero) ? 0 : x >= 5;
    for (int j = n - 1; j >= 0 && carry; j--) {
        out[j] = (char)(out[j] + 1);
        carry = out[j] == 10;
        if (carry) out[j] = 0;
    }
    return carry;
}

int hsfmt_fixed(char *buf, size_t cap, double v, int decimals)
{
    if (!buf || decimals < 0) return LP_EARG;
    if (cap == 0) return LP_ERANGE;
    const char *end = buf + cap;
    char *p = buf;
    if (isnan(v)) return finish(buf, p, end, put(&p, end, "NaN", 3));
    if (isinf(v))
        return finish(buf, p, end,
                      v < 0 ? put(&p, end, "-Infinity", 9) : put(&p, end, "Infinity", 8));
    bool neg = signbit(v);
    double a = fabs(v);
    uint64_t scaled;
    if (fixed_fast(a, decimals, &scaled)) return fixed_from_scaled(buf, end, neg, scaled, decimals);

    uint8_t ds[HSFMT_MAX_DIGITS];
    int e;
    int nds = hsfmt_float_digits(a, ds, &e);
    int z = e < 0 ? -e : 0;
    long n = (long)decimals + (e > 0 ? e : 0);
    /* Longest text: sign, carry digit, n digits, '.', NUL. */
    if ((size_t)n + 4 > cap) return finish(buf, p, end, false);
    char *digits = buf + 2; /* rounded digits are built in place, then moved into position */
    int carry = round_to(ds, nds, z, (int)n, digits);
    int int_len = e > 0 ? e + carry : carry; /* digits before the point */
    if (neg) *p++ = '-';
    if (int_len == 0) {
        *p++ = '0';
    } else if (carry) {
        *p++ = '1';
        int_len--;
    }
    for (int i = 0; i < int_len; i++)
        *p++ = (char)('0' + digits[i]);
    if (decimals > 0) {
        /* Move the fraction digits down before the '.' overwrites any of them. */
        memmove(p + 1, digits + int_len, (size_t)decimals);
        *p++ = '.';
        for (int i = 0; i < decimals; i++)
            p[i] = (char)('0' + p[i]);
        p += decimals;
    }
    return finish(buf, p, end, true);
}

static int fmt_u64(char *buf, size_t cap, bool neg, uint64_t v)
{
    if (!buf) return LP_EARG;
    if (cap == 0) return LP_ERANGE;
    char tmp[24];
    int len = 0;
    do {
        tmp[len++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (neg) tmp[len++] = '-';
    if ((size_t)len + 1 > cap) {
        buf[0] = '\0';
        return LP_ERANGE;
    }
    for (int i = 0; i < len; i++)
        buf[i] = tmp[len - 1 - i];
    buf[len] = '\0';
    return len;
}

int hsfmt_i64(char *buf, size_t cap, int64_t v)
{
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    return fmt_u64(buf, cap, v < 0, mag);
}

int hsfmt_u64(char *buf, size_t cap, uint64_t v)
{
    return fmt_u64(buf, cap, false, v);
}
