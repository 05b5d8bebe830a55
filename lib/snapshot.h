/* Aggregate snapshots of a session (proto/snapshot.fbs) in C: the totals report, counters,
 * coarse series and (version 2 on) the whole aggregate state, encoded to and decoded from
 * FlatBuffers by hand (lib/flatb.c, lib/snapshot_aggr.c). */
#ifndef LP_SNAPSHOT_H
#define LP_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNAPSHOT_IDENT "LPSN"
#define SNAPSHOT_VERSION 2u /* 2: the whole aggregate state of a settled session */

/* The whole aggregate state (proto/snapshot.fbs table Aggr; lib/aggr_state.h in C). Arrays are
 * owned after snapshot_decode; a writer may fill them with borrowed pointers (lib/aggr_snap.c)
 * and must clear them before snapshot_dispose. Cells and gauges have the layout of tiers_cell_t
 * and tiers_gauge_t. */
typedef struct snapshot_cell {
    uint32_t row, count;
    double sum;
} snapshot_cell_t;

typedef struct snapshot_gauge {
    double min, max, last;
    uint64_t last_ts;
} snapshot_gauge_t;

typedef struct snapshot_bin {
    int64_t bin;
    uint32_t n;
    snapshot_cell_t *cells;
    snapshot_gauge_t *gauges; /* NULL, or n of them */
} snapshot_bin_t;

typedef struct snapshot_level {
    uint64_t width;
    int64_t lo, hi;
    snapshot_bin_t *bins;
    size_t nbins;
} snapshot_level_t;

typedef struct snapshot_arow {
    char *name;
    uint32_t key, count, lab_len;
    int64_t sub;
    uint8_t kind;
    bool finished;
    uint64_t open_start, life_from, life_to, era;
    double last;
} snapshot_arow_t;

typedef struct snapshot_aseries {
    snapshot_arow_t *rows;
    size_t nrows;
    uint32_t *open;
    size_t nopen;
    uint64_t cover_end;
    snapshot_level_t *levels;
    size_t nlevels;
} snapshot_aseries_t;

typedef struct snapshot_cap {
    bool seen, alive, running, gc;
    uint8_t state;
    uint64_t since, alive_from;
    uint32_t row0;
} snapshot_cap_t;

#define SNAPSHOT_SPARKS 7
typedef struct snapshot_ctr {
    bool spark_set, alloc_set;
    uint64_t spark_ts, alloc_ts, alloc;
    uint64_t spark[SNAPSHOT_SPARKS];
} snapshot_ctr_t;

typedef struct snapshot_aggr {
    uint64_t fine_ns, max_memory;
    uint32_t bins_per_tier, tiers, max_rows, heapprof_top;
    char *start_prefix, *stop_prefix;
    snapshot_aseries_t *series;
    size_t nseries;
    snapshot_cap_t *caps;
    size_t ncaps;
    snapshot_ctr_t *ctrs;
    size_t nctrs;
    uint64_t spark_total[SNAPSHOT_SPARKS];
    uint64_t alloc_total, gc_start, hp_era, first, now, events, late;
    uint32_t gc_count;
    bool hp_open, any;
} snapshot_aggr_t;

typedef struct snapshot_row {
    uint8_t kind; /* report_kind_t */
    char *title;
    uint64_t total_ns;
} snapshot_row_t;

typedef struct snapshot_srow {
    char *name, *kind;
    double *values;
    size_t nvalues;
} snapshot_srow_t;

typedef struct snapshot_series {
    char *name;
    uint64_t from_ns, bin_ns;
    snapshot_srow_t *rows;
    size_t nrows;
} snapshot_series_t;

typedef struct snapshot {
    uint64_t stream_offset, events;
    uint8_t state;
    bool final;
    char *error; /* may be NULL */
    snapshot_row_t *totals;
    size_t ntotals;
    snapshot_series_t *series;
    size_t nseries;
    uint32_t version;      /* SNAPSHOT_VERSION when written now; 0 in older snapshots */
    snapshot_aggr_t *aggr; /* the whole aggregate state, or NULL */
} snapshot_t;

/* Encodes `s` (borrowed). Returns a malloc'd FlatBuffer (8-byte aligned) and its size in *len.
 * Out of memory is fatal. Any thread. */
uint8_t *snapshot_encode(const snapshot_t *s, size_t *len);
/* Decodes a snapshot into `s` (owning copies). Returns 0, or LP_ECORRUPT for a buffer that is
 * not a snapshot (then `s` is empty). Never reads outside [b, b + len). Any thread. */
int snapshot_decode(snapshot_t *s, const uint8_t *b, size_t len);
/* Frees what decode or a caller allocated with malloc. Safe on a zeroed snapshot. */
void snapshot_dispose(snapshot_t *s);
/* Frees an aggregate state that decode made (owned arrays); NULL is a no-op. Any thread. */
void snapshot_aggr_destroy(snapshot_aggr_t *a);

#endif
