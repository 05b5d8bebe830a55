/* svgtext: the pixel coordinates the SVG writers print, against printf's "%.2f" with trailing
 * zeros dropped, for values of every size and sign, exact rounding ties, values a hair either
 * side of them, and NaN and infinities. */
#include "test.h"

#include "svgtext.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void) /* splitmix64: fixed seed, the same values on every run */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* What svgtext_px wrote before it had a fast path: snprintf, then the trimming. */
static int px_reference(char *b, size_t cap, double v)
{
    int n = snprintf(b, cap, "%.2f", v);
    while (n > 0 && b[n - 1] == '0')
        n--;
    if (n > 0 && b[n - 1] == '.') n--;
    if (n == 2 && b[0] == '-' && b[1] == '0') b[0] = '0', n = 1;
    return n;
}

/* Compares one value; returns whether it matched (the first mismatches are reported). */
static bool same(double v, int *reported)
{
    char want[400], got[SVGTEXT_PX_MAX];
    int nw = px_reference(want, sizeof want, v), ng = svgtext_px_fmt(got, v);
    bool ok = nw == ng && !memcmp(want, got, (size_t)nw);
    if (!ok && (*reported)++ < 5)
        CHECKF(false, "%.17g: printf gives \"%.*s\", svgtext_px \"%.*s\"", v, nw, want, ng, got);
    return ok;
}

TEST(svgtext_px_equals_printf)
{
    int reported = 0;
    size_t bad = 0, n = 0;
    static const double fixed[] = {
        0.0,     -0.0,  0.005,   -0.005,  0.125,    0.375,     2.675,
        1.005,   0.045, 999.995, -2.5e-3, 1e15,     -1e15,     999999999999999.9,
        1e16,    1e300, -1e300,  5e-324,  INFINITY, -INFINITY, NAN,
        1.0 / 3, 12.5,  12.25};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++, n++)
        bad += !same(fixed[i], &reported);
    /* exact ties: multiples of 1/8 and 1/64 have x.xx5 or exact two-decimal expansions */
    for (int i = -20000; i <= 20000; i++, n += 3) {
        bad += !same(i / 8.0, &reported);
        bad += !same(i / 64.0, &reported);
        bad += !same(i / 200.0, &reported); /* the decimal ties binary cannot hold */
    }
    /* a hair either side of ties and of whole cents */
    for (int i = 0; i < 20000; i++, n += 2) {
        double t = (double)(rnd() % 2000000) / 1000.0 + 0.005;
        bad += !same(nextafter(t, 0), &reported);
        bad += !same(nextafter(t, 1e9), &reported);
    }
    /* pixel-sized values, then every magnitude and random bit patterns */
    for (int i = 0; i < 200000; i++, n += 3) {
        bad += !same((double)(rnd() % 100000000) / 65536.0 - 500, &reported);
        bad += !same(ldexp((double)(rnd() >> 11), (int)(rnd() % 120) - 100), &reported);
        uint64_t bits = rnd();
        double d;
        memcpy(&d, &bits, sizeof d);
        bad += !same(d, &reported);
    }
    CHECKF(bad == 0, "%zu of %zu values differ", bad, n);
}
