/* printf's "%.Pg" for doubles, byte for byte, without printf: the digits come from an exact
 * scaling in integers or one correctly rounded scaling in extended precision, and the rare value
 * at or too close to a rounding tie to decide that way goes to snprintf. */
#ifndef LP_GFMT_H
#define LP_GFMT_H

#include <stddef.h>

#define GFMT_MAX 32 /* bytes gfmt_g may write, with the terminating NUL */

/* Writes `v` as snprintf(dst, GFMT_MAX, "%.*g", prec, v) would (prec 1..17; "nan", "inf", "-0"
 * as printf spells them) and returns the length written before the NUL. `dst` is the caller's,
 * at least GFMT_MAX bytes. Pure: any thread. */
size_t gfmt_g(char *dst, double v, int prec);

/* The fast path of gfmt_g alone: the same text and length when it can decide the rounding
 * without printf, else -1 (a value at or near a tie, out of the scaling table's range, not finite,
 * or prec outside 1..15) and `dst` holds nothing useful. Pure: any thread. */
int gfmt_g_fast(char *dst, double v, int prec);

#endif
