/* Diagrams of the live aggregates as standalone SVG documents: the ghc-events-analyze grid (GC,
 * user labels, threads), a capability timeline, GC pauses, heap, heap profile bands and spark
 * counters, each with a time axis, <title> tooltips holding exact values and stable element ids
 * ("labels-fib-b12": series, row, absolute bin number at the drawn bin width). */
#ifndef LP_AGGR_SVG_H
#define LP_AGGR_SVG_H

#include "aggr.h"

#include <stdint.h>
#include <stdio.h>

#define AGGR_SVG_DEFAULT_WIDTH 1200 /* width used when 0 is asked */

/* Writes the diagram `kind` (grid caps gc heap heapprof sparks) of [from, to) (0 = the data's
 * range, as aggr_query) `width` pixels wide (0 = AGGR_SVG_DEFAULT_WIDTH, else 200..100000) to
 * `f`. Bins are chosen from the width (grid cells about 10 px, bars and lines about 3 px);
 * cells or bars from provisional_from_ns on (open intervals counted up to now) carry
 * class="p". Returns 0, LP_EARG (unknown kind), LP_ERANGE (bad range or width) or LP_EIO.
 * Reader thread, under the caller's lock (it queries `a`, borrowed). */
int aggr_svg(const aggr_t *a, const char *kind, uint64_t from, uint64_t to, uint32_t width,
             FILE *f);

#endif
