/* Diagrams of the live aggregates as standalone SVG documents: the ghc-events-analyze grid (GC,
 * user labels, threads), a capability timeline, GC pauses, heap, heap profile bands and spark
 * counters, each with a time axis, exact values (chart <title> tooltips; grid data attributes)
 * and stable element ids ("caps-0-gc-b12": series, row, absolute bin number at the drawn bin
 * width; "labels-fib-o07-c0": a grid row's first 16 cells at opacity level 7). */
#ifndef LP_AGGR_SVG_H
#define LP_AGGR_SVG_H

#include "aggr.h"

#include <stdint.h>
#include <stdio.h>

#define AGGR_SVG_DEFAULT_WIDTH 1200 /* width used when 0 is asked */

/* Writes the diagram `kind` (grid caps gc heap heapprof sparks) of [from, to) (0 = the data's
 * range, as aggr_query) `width` pixels wide (0 = AGGR_SVG_DEFAULT_WIDTH, else 200..100000) to
 * `f`. The frame is [from, to) exactly (0s: the first and latest event, on the finest bins'
 * edges), the same for every kind, bins sticking out of it cut. Bins are chosen from the width
 * (grid cells about 10 px, bars and lines about 3 px); cells or bars from provisional_from_ns
 * on (open intervals counted up to now) carry class="p". Grid cells are drawn per row and
 * opacity level (0.3 + 0.7 q rounded to 1/20 of the span), 16 cells per <path>, with the exact
 * "bin:q" values in data-q (a row's total is their sum). Chart bins carry their exact values in
 * data attributes (data-q, data-n; data-v in the order of the names in "hover-rows"). A chart with
 * nothing in range says so in a centred text instead of a value axis. Returns 0, LP_EARG (unknown
 * kind), LP_ERANGE (bad range or width) or LP_EIO. Reader thread, under the caller's lock (it
 * queries `a`, borrowed). */
int aggr_svg(const aggr_t *a, const char *kind, uint64_t from, uint64_t to, uint32_t width,
             FILE *f);

/* The queries behind one diagram (aggr_svg_query), so that drawing can happen outside the
 * caller's lock. Owned by the caller; free with aggr_svg_data_dispose. */
typedef struct aggr_svg_data {
    int kind; /* index in grid caps gc heap heapprof sparks */
    uint32_t width;
    uint64_t from, to;
    aggr_result_t res[3];
    int nq;
} aggr_svg_data_t;

/* The queries of aggr_svg's diagram, with its arguments and returns (no LP_EIO). Reader
 * thread, under the caller's lock. */
int aggr_svg_query(const aggr_t *a, const char *kind, uint64_t from, uint64_t to, uint32_t width,
                   aggr_svg_data_t *d);
/* Draws queried data to `f` exactly as aggr_svg does. Returns 0 or LP_EIO. Any thread, no lock
 * (`d` borrowed). */
int aggr_svg_draw(const aggr_svg_data_t *d, FILE *f);
/* Frees the data's results (safe on a zeroed or disposed one). */
void aggr_svg_data_dispose(aggr_svg_data_t *d);

/* The `to` of the live view of `kind` at `width` (with from = 0, the data's first event): the
 * data's first bin plus the charts' bin count (the most of any kind, so that every kind follows
 * the same range) times the smallest bin width (the finest bins doubled as often as needed)
 * that reaches past the latest event. It changes only when the data
 * outgrows it, so successive renders keep their coordinates and element ids and differ only
 * where data changed. Returns 0, LP_EARG or LP_ERANGE. Reader thread, under the caller's lock. */
int aggr_svg_follow(const aggr_t *a, const char *kind, uint32_t width, uint64_t *to);

#endif
