/* Byte sizes of command-line options (lib/sizearg.h). */
#include "sizearg.h"

#include "err.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

int sizearg_parse(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !isdigit((unsigned char)s[0])) return LP_EARG; /* no sign, no blank */
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno) return LP_EARG;
    uint64_t mul = 1;
    if (*end == 'k' || *end == 'K') mul = 1u << 10;
    if (*end == 'm' || *end == 'M') mul = 1u << 20;
    if (*end == 'g' || *end == 'G') mul = 1u << 30;
    if (mul != 1) end++;
    if (*end || v == 0 || v > max / mul) return LP_EARG;
    *out = (uint64_t)v * mul;
    return 0;
}
