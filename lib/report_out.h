/* The timed report's writers: the SVG diagram laid out like ghc-events-analyze's, our (not
 * garbled) timed.txt table, and the `liveprof analyze --json` document. Each streams a built
 * report_t (report.h) to a FILE* without holding the whole output in memory. */
#ifndef LP_REPORT_OUT_H
#define LP_REPORT_OUT_H

#include "report.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Geometry and timeline options of the SVG, named after the old tool's flags. */
typedef struct report_svg_opts {
    double bucket_width;  /* --bucket-width, default 14 */
    double bucket_height; /* --bucket-height, default 14 */
    double border_width;  /* --border-width, default 0.1 (0 = no cell borders) */
    uint32_t tick_every;  /* --tick-every, default 1 (0 is taken as 1) */
    bool ms;              /* --ms: timeline labels in ms instead of s */
} report_svg_opts_t;

/* Returns the old tool's defaults: 14 x 14 cells, border 0.1, a tick every bucket, seconds.
 * Pure; any thread. */
report_svg_opts_t report_svg_opts_default(void);

/* Writes the timed diagram of `r` (borrowed, built with per-bucket values) to `f` as a complete
 * SVG document: a timeline, then one `<g class="row" data-row="I">` per labelled row (header
 * `<text>`, `<rect class="bg">` lifetime cells, `<rect class="v">` value cells with tooltips, a set
 * bucket with q == 0 drawn transparent black as the old tool writes it) and one `<g
 * class="section">` per section title, in report order. `o` NULL means the defaults. Returns 0,
 * LP_EIO if writing failed or LP_ENOMEM. Any thread; one writer per FILE*. */
int report_write_svg(const report_t *r, const report_svg_opts_t *o, FILE *f);

/* Writes our timed.txt for `r` (borrowed) to `f`: each row is its header padded right to the
 * widest header, then Haskell's "%0.2f" of buckets 0 up to the row's last bucket with a value
 * (untouched buckets print 0.00), padded left to the widest number, all joined by one space; a
 * section is an empty line then its title. Returns 0, LP_EIO or LP_ENOMEM. Any thread. */
int report_write_timed_txt(const report_t *r, FILE *f);

/* Writes the `--json` document for `n` reports (borrowed) to `f`, followed by a newline: one
 * object {"startup_ns","end_ns","bucket_ns","buckets","rows":[...]} when `array` is false (then
 * n must be 1), else a JSON array of n such objects (one per window). Rows carry "kind", "name",
 * "subscript" (user), "tid" (thread), "total_ns" and "cells" ([bucket, q] pairs with q > 0, q in
 * its shortest round-trip form); sections carry only kind and name. Returns 0, LP_EARG, LP_EIO or
 * LP_ENOMEM. Any thread. */
int report_write_json(const report_t *const *reports, size_t n, bool array, FILE *f);

/* Writes the totals report `r` (borrowed) as the REST API's totals document:
 * {"rows":[{"kind","name","total_ns"}...],"final":B} (sections carry no total_ns; names as
 * JSON strings, invalid UTF-8 replaced by U+FFFD). Returns 0, LP_EARG, LP_EIO or LP_ENOMEM.
 * Any thread. */
int report_write_totals_json(const report_t *r, bool final, FILE *f);

#endif
