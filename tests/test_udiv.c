/* Tests of the division by a run-time constant (lib/udiv.h): the same quotient as the division
 * instruction for the divisors and dividends at the edges of the range and for random ones. */
#include "test.h"

#include "udiv.h"

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

TEST(udiv_matches_division)
{
    static const uint64_t edge[] = {1,
                                    2,
                                    3,
                                    7,
                                    10,
                                    641,
                                    1000,
                                    1000000,
                                    1000000000,
                                    6700417,
                                    (1ull << 32) + 1,
                                    1ull << 63,
                                    (1ull << 63) + 1,
                                    UINT64_MAX - 1,
                                    UINT64_MAX};
    uint64_t x = 88172645463325252ull;
    unsigned long bad = 0, n = 0;
    for (int r = 0; r < 100000; r++) {
        uint64_t v = xorshift(&x), d;
        if (r < (int)(sizeof edge / sizeof *edge))
            d = edge[r];
        else if (r % 3 == 0)
            d = v | 1;
        else if (r % 3 == 1)
            d = (v >> (v % 64)) | 1;
        else
            d = v % 100000 + 1;
        udiv_t u;
        udiv_init(&u, d);
        const uint64_t num[] = {0,          1,     d - 1,         d,
                                d + 1,      2 * d, 3 * d - 1,     UINT64_MAX - 1,
                                UINT64_MAX, v,     v >> (v % 64), xorshift(&x)};
        for (size_t j = 0; j < sizeof num / sizeof *num; j++, n++)
            if (udiv_apply(&u, num[j]) != num[j] / d) {
                if (bad < 5)
                    test_fail(__FILE__, __LINE__, "%llu / %llu: %llu, not %llu",
                              (unsigned long long)num[j], (unsigned long long)d,
                              (unsigned long long)udiv_apply(&u, num[j]),
                              (unsigned long long)(num[j] / d));
                bad++;
            }
    }
    CHECKF(bad == 0, "%lu of %lu quotients differ", bad, n);
}
