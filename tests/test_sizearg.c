/* Byte sizes of command-line options: suffixes, bounds, and what is not a size. */
#include "test.h"

#include "err.h"
#include "sizearg.h"

#include <stdint.h>

TEST(sizearg_parse_sizes)
{
    uint64_t v = 7;
    CHECK(sizearg_parse("1", 10, &v) == 0 && v == 1);
    CHECK(sizearg_parse("64K", UINT64_MAX, &v) == 0 && v == 65536);
    CHECK(sizearg_parse("2m", UINT64_MAX, &v) == 0 && v == 2u << 20);
    CHECK(sizearg_parse("3G", UINT64_MAX, &v) == 0 && v == 3ull << 30);
    CHECK(sizearg_parse("1G", 1u << 30, &v) == 0 && v == 1u << 30);
    CHECK(sizearg_parse("17179869183G", UINT64_MAX, &v) == 0 && v == 17179869183ull << 30);
    v = 7;
    static const char *const bad[] = {
        "",   "0",   "0K", "-1",   "+1", " 1",           "1 ",
        "1x", "1KB", "K",  "1.5M", "1G", "17179869184G", "18446744073709551616"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECKF(sizearg_parse(bad[i], i == 11 ? (1u << 30) - 1 : UINT64_MAX, &v) == LP_EARG, "'%s'",
               bad[i]);
    CHECK(sizearg_parse(NULL, 1, &v) == LP_EARG);
    CHECK(v == 7); /* untouched by a refusal */
}
