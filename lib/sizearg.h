/* Byte sizes as the commands' options take them: a whole number of bytes with an optional
 * binary suffix, k or K (2^10), m or M (2^20), g or G (2^30). */
#ifndef LP_SIZEARG_H
#define LP_SIZEARG_H

#include <stdint.h>

/* Parses s (borrowed) into *out: 0, or LP_EARG when s is not such a size, is 0 or is over max.
 * Any thread. */
int sizearg_parse(const char *s, uint64_t max, uint64_t *out);

#endif
