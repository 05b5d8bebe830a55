/* XML text and numbers as the SVG writers put them (lib/aggr_svg.c): escaped character data,
 * exact times, byte sizes, compact pixel coordinates, values and round axis steps. */
#ifndef LP_SVGTEXT_H
#define LP_SVGTEXT_H

#include <stdint.h>
#include <stdio.h>

/* Writes s as XML character data (also fit for attribute values): markup characters as
 * entities, other control characters, invalid UTF-8 and U+FFFE/U+FFFF as U+FFFD. Any thread. */
void svgtext_esc(FILE *f, const char *s);
/* Writes a time in ns exactly, in the largest unit it reaches: "1.5 s", "250 ms", "12 µs".
 * Any thread. */
void svgtext_time(FILE *f, uint64_t ns);
/* Writes a byte count: "512 B", else one decimal in the largest binary unit ("1.5 KiB").
 * Any thread. */
void svgtext_bytes(FILE *f, double b);
/* Writes v with at most two decimals and no trailing zeros ("12", "12.5", "12.25"). Any
 * thread. */
void svgtext_px(FILE *f, double v);
#define SVGTEXT_PX_MAX 330 /* bytes svgtext_px_fmt may write (the widest %.2f of a double) */
/* The text svgtext_px writes, into b (the caller's, SVGTEXT_PX_MAX bytes, not NUL-terminated):
 * printf's "%.2f" rounding, without printf for |v| < 1e15. Returns its length. Any thread. */
int svgtext_px_fmt(char *b, double v);
/* Writes sep (at most 8 bytes of it), then v as "%.*g" would (prec 1..17), without printf for
 * almost every value (lib/gfmt.c). Any thread. */
void svgtext_g(FILE *f, const char *sep, double v, int prec);
/* Writes sep (at most 8 bytes of it) and a data-q pair "BIN:Q", as "%s%llu:%.6g" would. Any
 * thread. */
void svgtext_q(FILE *f, const char *sep, uint64_t bin, double q);
/* Returns the smallest 1, 2 or 5 times a power of ten that is >= v (v > 0). Any thread. */
double svgtext_nice(double v);

#endif
