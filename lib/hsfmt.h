/* Number formatting that matches GHC's base byte for byte: Text.Printf's "%0.Nf" rounds the
 * shortest round-trip decimal digits of a double (GHC.Float.floatToDigits) half to even, which
 * differs from C's printf on inputs such as 0.015 ("0.02" here, "0.01" in glibc). */
#ifndef LP_HSFMT_H
#define LP_HSFMT_H

#include <stddef.h>
#include <stdint.h>

/* Most digits hsfmt_float_digits can return (a double needs at most 17; GHC's open rounding
 * interval can add one). */
#define HSFMT_MAX_DIGITS 24

/* Formats v as GHC 9.0 base's `printf "%0.<decimals>f" v` does into buf (NUL-terminated):
 * optional '-' (also for -0.0), the integer part ("0" if none), and when decimals > 0 a '.' and
 * exactly `decimals` digits; NaN, Infinity and -Infinity print as those words. Returns the
 * length written (without the NUL), LP_EARG if decimals < 0 or buf is NULL, LP_ERANGE if the
 * text and its NUL do not fit in cap (buf then holds ""). Borrows buf; any thread. */
int hsfmt_fixed(char *buf, size_t cap, double v, int decimals);

/* GHC's floatToDigits 10 for a finite v (its sign is ignored): writes the shortest digits d1..dn
 * (each 0..9, d1 != 0 unless v == 0) to digits and sets *exp so that |v| = 0.d1..dn * 10^exp;
 * 0 gives ([0], 0). Returns n (1..HSFMT_MAX_DIGITS), or LP_EARG for NaN/infinite v.
 * Borrows digits (room for HSFMT_MAX_DIGITS); any thread. */
int hsfmt_float_digits(double v, uint8_t *digits, int *exp);

/* Formats a signed integer as Haskell's printf "%d" does (plain decimal, '-' if negative).
 * Returns the length written, LP_ERANGE if it does not fit in cap (buf then holds ""), LP_EARG
 * for a NULL buf. Borrows buf; any thread. */
int hsfmt_i64(char *buf, size_t cap, int64_t v);

/* Same as hsfmt_i64 for an unsigned value (timestamps, totals in ns). */
int hsfmt_u64(char *buf, size_t cap, uint64_t v);

#endif
