/* gfmt against snprintf("%.*g"): the same bytes for integers, fractions, huge, tiny, negative and
 * signed zero values, values with 12 to 17 significant digits, exact and near rounding ties,
 * every bit pattern class, NaN and infinities; and the fast path decides almost every value. */
#include "test.h"

#include "gfmt.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void) /* splitmix64: fixed seed, the same values on every run */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double from_bits(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

typedef struct tally {
    size_t values, fast, bad;
} tally_t;

/* One value at one precision: gfmt_g and (when it decides) gfmt_g_fast equal snprintf. */
static void same(tally_t *t, double v, int prec)
{
    char want[64], got[GFMT_MAX + 8], fast[GFMT_MAX + 8];
    int wn = snprintf(want, sizeof want, "%.*g", prec, v);
    memset(got, 'x', sizeof got);
    size_t gn = gfmt_g(got, v, prec);
    int fn = gfmt_g_fast(fast, v, prec);
    t->values++;
    bool ok = (int)gn == wn && !strcmp(got, want) && got[gn] == 0;
    if (fn >= 0) {
        t->fast++;
        ok = ok && fn == wn && !strcmp(fast, want);
    }
    if (!ok && t->bad++ < 10)
        test_fail(__FILE__, __LINE__, "%%.%dg of %a: want '%s', gfmt_g '%s', fast '%s'", prec, v,
                  want, got, fn >= 0 ? fast : "(undecided)");
}

static void both_signs(tally_t *t, double v, int prec)
{
    same(t, v, prec);
    same(t, -v, prec);
}

TEST(gfmt_special_values)
{
    tally_t t = {0};
    double vals[] = {0.0,
                     -0.0,
                     NAN,
                     -NAN,
                     INFINITY,
                     -INFINITY,
                     DBL_MIN,
                     DBL_MAX,
                     DBL_TRUE_MIN,
                     DBL_EPSILON,
                     1.0,
                     0.1,
                     0.5,
                     1.5,
                     2.5,
                     1e-4,
                     9.99999e-5,
                     0.0001,
                     0.00009999999999995,
                     999999999999,
                     999999999999.5,
                     999999999999.4,
                     1e12,
                     1e11,
                     99999999999.95,
                     123456789012,
                     1234567890125,
                     1234567890135,
                     0.3,
                     1.0 / 3,
                     2.0 / 3,
                     1e15,
                     1e16,
                     1e21,
                     1e22,
                     1e23,
                     1e38,
                     1e39,
                     1e-16,
                     1e-17,
                     5e-324,
                     4.9406564584124654e-324};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        for (int prec = 1; prec <= 17; prec++)
            both_signs(&t, vals[i], prec);
    CHECK(t.bad == 0);
}

TEST(gfmt_integers_and_powers)
{
    tally_t t = {0};
    for (int i = -2000; i <= 2000; i++)
        same(&t, i, 12);
    for (int k = -30; k <= 45; k++) {
        double p = pow(10, k);
        double near[] = {p,
                         nextafter(p, 0),
                         nextafter(p, INFINITY),
                         p * (1 + 1e-12),
                         p * (1 - 1e-12),
                         p * 9.999999999995,
                         p * 9.9999999999949,
                         p * 9.9999999999951,
                         p * 1.00000000000049};
        for (size_t i = 0; i < sizeof near / sizeof near[0]; i++)
            for (int prec = 1; prec <= 17; prec++)
                both_signs(&t, near[i], prec);
    }
    CHECK(t.bad == 0);
}

/* Exact ties: the digit past the last kept one is a 5 with nothing after, in binary exactly (a
 * 13-digit odd-ended integer, or a half, quarter, eighth after 11 or 12 digits): printf rounds
 * them to even. */
TEST(gfmt_exact_ties)
{
    tally_t t = {0};
    for (int i = 0; i < 20000; i++) {
        uint64_t base = 100000000000ull + rnd() % 900000000000ull; /* 12 digits */
        both_signs(&t, (double)(base * 10 + 5), 12);
        both_signs(&t, (double)base + 0.5, 12);
        both_signs(&t, (double)(base / 10) + 0.25, 12);
        both_signs(&t, (double)(base / 10) + 0.75, 12);
        both_signs(&t, (double)(base / 100) + 0.125, 12);
        both_signs(&t, ((double)base + 0.5) / 1024, 12);
        /* at every precision the fast path takes: an integer of prec + 1 digits ending in 5,
         * and a half after prec digits */
        int prec = 1 + i % 15;
        uint64_t lo = 1;
        for (int k = 1; k < prec; k++)
            lo *= 10;
        uint64_t digits = lo + rnd() % (9 * lo);
        both_signs(&t, (double)(digits * 10 + 5), prec);
        both_signs(&t, (double)digits + 0.5, prec);
    }
    CHECK(t.bad == 0);
}

/* Near ties: decimal strings with 13 to 17 significant digits ending in 5 (or 49.., 50..), as
 * strtod reads them: the double is a hair off the tie either way. */
TEST(gfmt_near_ties)
{
    tally_t t = {0};
    for (int i = 0; i < 40000; i++) {
        char text[64];
        unsigned long long m = 100000000000ull + rnd() % 900000000000ull;
        int e = (int)(rnd() % 60) - 30;
        const char *tails[] = {"5", "49999", "50001", "4999999", "5000001", "51", "49"};
        snprintf(text, sizeof text, "%llu%se%d", m, tails[rnd() % 7], e);
        both_signs(&t, strtod(text, NULL), 12);
    }
    CHECK(t.bad == 0);
}

TEST(gfmt_random_values)
{
    tally_t t = {0}, typical = {0};
    size_t n = test_skip_slow() ? 40000 : 200000;
    for (size_t i = 0; i < n; i++) {
        uint64_t b = rnd();
        double v = from_bits(b); /* any bit pattern: subnormals, NaNs, infinities included */
        same(&t, v, 12);
        same(&t, v, (int)(1 + b % 17));
        /* what aggregates hold: fractions, means, sums over bins, at every scale */
        double u = (double)(rnd() >> 11) / 9007199254740992.0;
        double w = u * pow(10, (int)(rnd() % 45) - 15);
        same(&typical, w, 12);
        same(&typical, -w, 12);
        same(&typical, (double)(rnd() % 100000000) / 10000000, 12);
        same(&t, w, (int)(1 + rnd() % 17));
        same(&t, u * pow(10, (int)(rnd() % 700) - 350), 12); /* past the fast path's range */
    }
    CHECK(t.bad == 0);
    CHECK(typical.bad == 0);
    /* the point of the module: printf is the exception, not the rule */
    CHECKF(typical.fast * 1000 >= typical.values * 999, "fast path decided %zu of %zu",
           typical.fast, typical.values);
}
