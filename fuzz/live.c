/* Fuzz target: one session's live pipeline as the server runs it on every upload and stream
 * (lib/live.c: decoder, bounded reorder window, incremental analysis, binned aggregates in
 * lib/aggr.c), fed in chunks whose sizes come from the input, then every series queried and every
 * diagram drawn. Small window and memory options make the bounds bite. Properties: no crash; the
 * pipeline's memory stays under a bound that does not depend on the input's length; no value is
 * NaN; a query's bins tile its range. */
#include "aggr.h"
#include "aggr_svg.h"
#include "err.h"
#include "live.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define MEMORY_BOUND (48u << 20) /* decoder tables, a 256-event window and 1 MiB of bins */

static FILE *sink_file;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sink_file = fopen("/dev/null", "w");
    return sink_file ? 0 : -1;
}

static void fail(const char *what, unsigned long long a)
{
    fprintf(stderr, "live: %s (%llu)\n", what, a);
    abort();
}

static void query_all(const live_t *l, uint64_t from, uint64_t to, uint32_t bins)
{
    static const char *const series[] = {"labels", "threads",  "caps",  "gc",
                                         "heap",   "heapprof", "sparks"};
    const aggr_t *a = live_aggr(l);
    for (size_t i = 0; i < sizeof series / sizeof series[0]; i++) {
        aggr_result_t r;
        if (aggr_query(a, series[i], from, to, bins, &r) < 0) continue;
        if (r.bins > bins || r.to_ns != r.from_ns + (uint64_t)r.bins * r.bin_ns)
            fail("a query's bins do not tile its range", r.bins);
        for (size_t k = 0; k < r.nrows; k++)
            for (uint32_t b = 0; b < r.bins; b++)
                if (isnan(r.rows[k].values[b])) fail("a NaN value", b);
        aggr_result_dispose(&r);
    }
    static const char *const kinds[] = {"grid", "caps", "gc", "heap", "heapprof", "sparks"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        aggr_svg(a, kinds[i], from, to, 64, sink_file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!sink_file) LLVMFuzzerInitialize(NULL, NULL);
    live_opts_t o = {.window_events = 256, .pool_bytes = 4096};
    o.aggr.fine_ns = 1000;
    o.aggr.bins_per_tier = 64;
    o.aggr.tiers = 3;
    o.aggr.max_memory = 1u << 20;
    o.aggr.max_rows = 20;
    live_t *l = live_create(&o);
    if (!l) abort();
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 0x100000001b3ull;
    size_t chunk = 1 + (size_t)(h % 4096), peak = 0;
    for (size_t at = 0; at < size; at += chunk) {
        size_t n = size - at < chunk ? size - at : chunk;
        live_feed(l, data + at, n);
        size_t m = live_memory(l);
        if (m > peak) peak = m;
    }
    live_finish(l);
    if (live_memory(l) > peak) peak = live_memory(l);
    if (peak > MEMORY_BOUND) fail("the pipeline holds too much memory", peak);
    if (live_pending(l) != 0) fail("events left in the window after finish", live_pending(l));
    query_all(l, 0, 0, 50);
    uint64_t last = live_last_ts(l);
    if (last > 10) query_all(l, last / 3, last - last / 5, 7);
    live_destroy(l);
    return 0;
}
