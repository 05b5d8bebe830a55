/* The internal state of the live aggregates, shared by the writer (lib/aggr.c: events into rows
 * and bins) and the reader (lib/aggr_query.c: rows and bins into query results). Not for other
 * modules: they use lib/aggr.h. */
#ifndef LP_AGGR_STATE_H
#define LP_AGGR_STATE_H

#include "aggr.h"
#include "labelkey.h"
#include "tidmap.h"
#include "tiers.h"

enum aggr_series_id {
    AS_LABELS,
    AS_THREADS,
    AS_CAPS,
    AS_GC,
    AS_HEAP,
    AS_HEAPPROF,
    AS_SPARKS,
    AS_N
};

/* Row kinds; aggr_kind_names holds their names. */
enum aggr_kind {
    AK_USER,
    AK_THREAD,
    AK_RUNNING,
    AK_GC,
    AK_IDLE,
    AK_PAUSE,
    AK_COUNT,
    AK_LAST,
    AK_MIN,
    AK_MAX,
    AK_RESIDENCY,
    AK_COUNTER,
    AK_OTHER,
    AK_N
};

/* Capability states; a capability's rows are row0 + state - 1 (running, gc, idle). */
enum aggr_cap_state { CS_NONE, CS_RUNNING, CS_GC, CS_IDLE };

/* Fixed rows of the gc, heap and sparks series. */
enum { GC_PAUSE, GC_COUNT };
enum { HEAP_SIZE_ROW, HEAP_LIVE_ROW, HEAP_ALLOC_ROW };
#define AGGR_SPARK_ROWS 7

/* One row of a series with the state that feeds it. */
typedef struct arow {
    char *name; /* owned, NUL-terminated */
    uint32_t name_len;
    uint32_t key;
    int64_t sub;
    uint8_t kind;
    bool finished;     /* threads */
    uint32_t count;    /* labels, threads: nesting count of the open interval */
    int32_t open_slot; /* index in the series' open list, or -1 */
    uint64_t open_start;
    uint32_t lab_len;            /* threads: length of the newest label at the start of name */
    uint64_t life_from, life_to; /* threads */
    uint64_t era;                /* heapprof: sample that last named it */
    double last;                 /* heapprof: its latest residency */
} arow_t;

typedef struct aseries {
    tiers_t t;
    arow_t *rows;
    uint32_t nrows;
    size_t rows_cap;
    uint32_t *open; /* rows with an open interval (labels, threads) */
    size_t nopen, open_cap;
} aseries_t;

typedef struct acap {
    bool seen, alive, running, gc;
    uint8_t state;
    uint64_t since, alive_from;
    uint32_t row0;
} acap_t;

/* Latest per-capability counters (sparks, allocated bytes); index = cap + 1 (0 = no cap). */
typedef struct acounters {
    bool spark_set, alloc_set;
    uint64_t spark_ts, alloc_ts;
    uint64_t spark[AGGR_SPARK_ROWS];
    uint64_t alloc;
} acounters_t;

/* A hash index from (text, subscript) to row numbers of one series. */
typedef struct strix {
    uint32_t *slots; /* row + 1; 0 = empty */
    size_t cap, n;
} strix_t;

struct aggr {
    aggr_opts_t o;
    char *start, *stop; /* owned; start_key and stop_key borrow them */
    labelkey_prefix_t start_key, stop_key;
    size_t start_len, stop_len;
    aseries_t s[AS_N];
    size_t bins_mem, shrink_at;
    tiers_spares_t spares; /* every series' spare cell arrays: bins and spares <= max_memory */
    strix_t labels_ix, hp_ix;
    uint32_t *tag_rows; /* aggr_event_tagged: a tag's id index -> its labels row, or UINT32_MAX */
    size_t tag_rows_cap;
    tidmap_t tids;
    acap_t *caps;
    size_t ncaps;
    acounters_t *ctr;
    size_t nctr;
    uint64_t spark_total[AGGR_SPARK_ROWS];
    uint64_t alloc_total;
    uint32_t gc_count;
    uint64_t gc_start;
    bool hp_open;
    uint64_t hp_era;
    bool any;
    uint64_t first, now, events, late;
};

/* Rebuilds the lookup indexes (labels and heap profile texts, thread ids) from the rows, after
 * the rows were restored from a snapshot (lib/aggr_snap.c). Writer thread. */
void aggr_reindex(aggr_t *a);

extern const char *const aggr_kind_names[AK_N];
extern const char *const aggr_series_names[AS_N];

#endif
