/* Live aggregates of one session: events fed in approximately time order are turned into binned
 * series on absolute time (ns since RTS start) at several resolutions — labels, threads,
 * capabilities, GC, heap, heap profile and spark counters — in memory bounded by the options,
 * and read back as dense rows over any time range. See docs/aggregates.md. */
#ifndef LP_AGGR_H
#define LP_AGGR_H

#include "evlog.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGGR_DEFAULT_BINS 1000 /* bins of a query that asks for 0 */
#define AGGR_MAX_BINS 100000   /* most bins a query may ask for */
/* Most cells (rows x bins) one query folds or returns: a query over more rows gets fewer bins,
 * at least one (then its cost is that of the rows it already holds). */
#define AGGR_MAX_CELLS (1u << 22)

/* Options; a zero field takes its default. */
typedef struct aggr_opts {
    uint64_t fine_ns;       /* width of the finest bins (default 1 ms) */
    uint32_t bins_per_tier; /* bins kept per tier (default 4096; even, >= 16) */
    uint32_t tiers;         /* tiers, each 16x coarser (default 5; 1..12) */
    size_t max_memory;      /* bound on the bins' bytes (default 64 MiB) */
    uint32_t max_rows;      /* labels/threads rows per query; the rest sum into "other" (1000) */
    uint32_t heapprof_top;  /* heap profile bands per query before "other" (default 10) */
    const char *start_prefix, *stop_prefix; /* user label prefixes ("START ", "STOP ") */
} aggr_opts_t;

typedef struct aggr aggr_t;

/* One row of a query result. Values per series:
 *   labels, threads, caps, gc "pause": the fraction of the bin covered (a label's fraction can
 *     exceed 1 where GC correction records overlapping pieces, as the old tool does);
 *   gc "count": GCs started in the bin;
 *   heap: bytes, kind "last" (latest sample at or before the bin's end), "min" and "max" (over the
 *     bin's samples, the carried value when it has none);
 *   heapprof: residency bytes of the latest sample at or before the bin's end (top bands, then
 *     "other", the sum of the rest); sparks: the latest counter values (summed over capabilities).
 */
typedef struct aggr_row {
    const char *name;   /* row name (label, thread header, "cap 0", "size", ...), owned */
    const char *kind;   /* static: user thread running gc idle pause count last min max
                           residency counter other */
    const char *id;     /* stable element id, e.g. "labels-fib", "threads-6", owned */
    int64_t sub;        /* labels: the subscript (rows with the same name differ by it) */
    uint32_t key;       /* threads: tid; caps: capability; others: row number */
    uint64_t life_from; /* threads: created (0 when unknown) */
    uint64_t life_to;   /* threads: finished, or the latest time while it lives */
    double total;       /* fractions: ns covered in the range; counts: their sum; else 0 */
    double *values;     /* `bins` values, owned by the result */
} aggr_row_t;

typedef struct aggr_result {
    const char *series;
    uint64_t from_ns, to_ns, bin_ns; /* to_ns = from_ns + bins * bin_ns */
    uint32_t bins;
    int tier;                     /* the tier the values were folded from */
    uint64_t now_ns;              /* latest event time seen */
    uint64_t provisional_from_ns; /* values from here on may still change: open intervals (an
                                     open START, a running thread, a GC in progress) are counted
                                     up to now_ns; equals now_ns when nothing is open */
    aggr_row_t *rows;
    size_t nrows;
    void *mem_; /* private */
} aggr_result_t;

/* A query: aggr_query's arguments plus knobs for tests and renderers. */
typedef struct aggr_query {
    const char *series; /* labels threads caps gc heap heapprof sparks */
    uint64_t from, to;  /* [from, to) in ns; 0 = the data's first event / just after the last */
    uint32_t bins;      /* at most this many output bins (0 = AGGR_DEFAULT_BINS) */
    int tier;           /* -1: choose; else fold from this tier */
    uint32_t max_rows;  /* 0: the option's max_rows / heapprof_top */
    bool closed_only;   /* leave open intervals out */
} aggr_query_t;

/* Creates empty aggregates (`o` may be NULL; strings are copied). Returns NULL for invalid
 * options. Out of memory is fatal. Any thread; then one writer at a time, and readers must be
 * synchronized with the writer by the caller (a mutex around aggr_event and aggr_query). */
aggr_t *aggr_create(const aggr_opts_t *o);
/* Frees everything. NULL is a no-op. */
void aggr_destroy(aggr_t *a);
/* Feeds one event (borrowed). Block markers are ignored; events older than one already fed are
 * applied to past bins and counted (aggr_late). Writer thread. */
void aggr_event(aggr_t *a, const evlog_event_t *ev);
/* aggr_event for events a gea analysis with the same start and stop prefixes, and no windows,
 * saw in the same order: `tag` is its gea_pipe_tag for a user message (0: none, as aggr_event),
 * so that the labels are paired without reading the text, which such a message may then lack
 * (payload NULL, known false) except for the first of each id. The state is the one aggr_event
 * gives. Writer thread. */
void aggr_event_tagged(aggr_t *a, const evlog_event_t *ev, uint32_t tag);

/* What a producer that feeds the aggregates from another thread (lib/evpipe.h) knows of the
 * events it sent or counted, so that it can leave out those the aggregates would only count:
 * zero it before the first event and after every reset. */
typedef struct aggr_feed {
    uint64_t caps[1024]; /* bit c: an event of capability c went (it makes the rows of c) */
    uint64_t last;       /* the latest time sent or counted */
} aggr_feed_t;

/* True when `ev` need only be counted (aggr_skipped): the aggregates take nothing from an
 * event of its type but its time once its capability has had an event with known fields (which
 * makes the capability's rows), its time is not before any other's so far, and its payload
 * cannot be one the event pipe's decoding refuses. Otherwise notes it as sent. Producer thread. */
bool aggr_feed_counts_only(aggr_feed_t *f, const evlog_event_t *ev);
/* Counts `n` events that aggr_feed_counts_only left out, the first at time `first`, the last
 * at `last`: the same state as feeding them. Writer thread. */
void aggr_skipped(aggr_t *a, uint64_t first, uint64_t last, uint64_t n);

/* The accessors below read counters; like queries, reader threads call them under the caller's
 * lock. Events fed (block markers excluded), and of those, late ones. */
uint64_t aggr_events(const aggr_t *a);
uint64_t aggr_late(const aggr_t *a);
/* First and latest event times fed (either pointer may be NULL); false when none was fed. */
bool aggr_range(const aggr_t *a, uint64_t *first, uint64_t *last);
/* Bytes held by the bins (bounded by max_memory, see docs/aggregates.md), and by everything:
 * bins, rows, names and indexes (which grow with the number of ids). */
size_t aggr_bins_memory(const aggr_t *a);
size_t aggr_memory(const aggr_t *a);
/* The options in effect (defaults filled in). Borrowed for the life of `a`. */
const aggr_opts_t *aggr_options(const aggr_t *a);

/* Reads `series` over [from, to) into `out` (zeroed by the call): rows of at most `bins` dense
 * values, folded exactly from one tier — the coarsest that covers `from` with bins no wider
 * than (to - from) / bins, else the finest that covers it — into output bins that are whole
 * multiples of its bin width, aligned on their width (so from_ns <= from, to_ns >= to and
 * `bins` may come out smaller). Labels and threads
 * give only rows with data in the range, at most max_rows of them (the largest totals, listed
 * in name / tid order) plus an "other" row for the rest. Bins are cut further so that rows x
 * bins stays within AGGR_MAX_CELLS (at least 1 bin). Returns 0, LP_EARG (unknown series) or
 * LP_ERANGE (to <= from, bins > AGGR_MAX_BINS); no data gives 0 rows and 0 bins. The result
 * owns its memory (aggr_result_dispose). Reader thread, under the caller's lock. */
int aggr_query(const aggr_t *a, const char *series, uint64_t from, uint64_t to, uint32_t bins,
               aggr_result_t *out);
/* aggr_query with every knob of aggr_query_t (`q` borrowed). Same returns and thread rule. */
int aggr_query_ex(const aggr_t *a, const aggr_query_t *q, aggr_result_t *out);
/* Frees a result (safe on a zeroed or disposed one). Any thread. */
void aggr_result_dispose(aggr_result_t *r);

#endif
