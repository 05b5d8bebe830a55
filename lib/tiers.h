/* Multi-resolution binned storage of one series on absolute time (ns since RTS start): levels
 * of bins, each 16 times coarser than the one before, all but the last a ring of the most recent
 * bins, the last covering all time from 0 (its bin width doubles when time outgrows it). Each bin
 * holds a sparse list of (row, cell) entries, so memory grows with the rows active per bin, never
 * with events. Bins are aligned on multiples of their width from time 0, so a coarse bin is
 * exactly the fold of the finer bins it covers; that is how coarse bins are filled: a write goes
 * to the finest level, and the newest bin of each ring level is folded into the next level when
 * the level moves on to a newer bin (writes to bins folded already go through to the coarser
 * levels at once). Readers see the newest bins folded in on the fly. */
#ifndef LP_TIERS_H
#define LP_TIERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "udiv.h"

#define TIERS_FACTOR 16 /* width ratio between consecutive levels */
#define TIERS_MAX_LEVELS 12

typedef struct tiers_opts {
    uint64_t fine_ns; /* width of a level-0 bin (>= 1) */
    uint32_t bins;    /* bins per level (even, >= 16) */
    uint32_t levels;  /* 1..TIERS_MAX_LEVELS */
} tiers_opts_t;

/* One row's data in one bin. Spans: sum = ns covered, count = pieces. Counts: sum of the added
 * values. Gauges: sum and count of the samples (mean = sum / count). */
typedef struct tiers_cell {
    uint32_t row, count;
    double sum;
} tiers_cell_t;

/* Gauge extras of a cell: extremes and the latest sample (by time) of the bin. */
typedef struct tiers_gauge {
    double min, max, last;
    uint64_t last_ts;
} tiers_gauge_t;

/* One bin: its index on its level (-1 when unused) and its entries. */
typedef struct tiers_slot {
    int64_t bin;
    uint32_t n, cap;
    tiers_cell_t *c;
    tiers_gauge_t *g; /* parallel to c, gauge series only */
} tiers_slot_t;

typedef struct tiers_level {
    uint64_t width;      /* ns per bin */
    int64_t lo, hi;      /* retained bins [lo, hi]; none while hi < lo */
    tiers_slot_t *slots; /* `cap` slots, allocated on first use and grown as the bins in use
                            need, up to `bins`: a short run holds a few, not thousands */
    uint32_t cap;
    size_t mem; /* bytes held by this level */
} tiers_level_t;

/* Storage of one series, on caller storage. Fields are read-only for callers. */
/* Cell arrays let go by trimmed and folded bins, kept for the bins that come next, so that a
 * series held at its memory bound does not go through malloc and free for every bin: one list
 * per capacity (4 << k entries), kept while the storages' bytes (their shared counter) and the
 * spares stay within max_bytes together (spares are not counted as the storages' bytes). Shared
 * by the storages of one owner; one thread at a time, as they are. */
#define TIERS_SPARE_CLASSES 24
typedef struct tiers_spares {
    void *cells[TIERS_SPARE_CLASSES], *gauges[TIERS_SPARE_CLASSES];
    size_t bytes, max_bytes;
} tiers_spares_t;

/* A row's newest entry on one level: the highest bin it has an entry in and that entry's index
 * (UINT32_MAX: unknown); both in one line of the cache, as every write reads both. */
typedef struct tiers_newest {
    int64_t bin;
    uint32_t pos;
} tiers_newest_t;

typedef struct tiers {
    tiers_opts_t o;
    tiers_spares_t *spares; /* may be NULL: arrays go straight back to malloc */
    bool gauge;
    tiers_level_t lv[TIERS_MAX_LEVELS];
    int8_t shift[TIERS_MAX_LEVELS]; /* width = fine_ns << shift, or -1: divide by the width */
    udiv_t fine_div;                /* divides by o.fine_ns */
    uint64_t cover_end;             /* times below it fall inside the last level */
    uint64_t reach_end; /* writes below it leave every level's extent as it is (0: unknown) */
    uint32_t nrows, rows_cap;
    tiers_newest_t *newest; /* per row and level (row * levels + level) */
    uint32_t *scratch;
    size_t *mem_total; /* a counter shared with other series (may be NULL) */
    size_t mem;
    struct tiers_view *view; /* readers' scratch bin: a bin with the newest finer bins folded in */
} tiers_t;

/* An output grid on one level: output bin i folds level bins [first + i*fold, first + (i+1)*fold).
 */
typedef struct tiers_grid {
    uint32_t level;
    uint64_t width; /* the level's bin width */
    uint32_t fold;
    int64_t first;
    uint32_t n;
} tiers_grid_t;

/* Sets up empty storage. `o` must be valid (see tiers_opts_t); `gauge` selects gauge cells;
 * `mem_total` (may be NULL) is kept up to date with this storage's byte count. Out of memory is
 * fatal. Like every function here: one thread at a time per storage, readers included (they
 * share a scratch bin); readers must not run while a writer does. */
void tiers_init(tiers_t *t, const tiers_opts_t *o, bool gauge, size_t *mem_total);
/* Frees everything (its arrays go to its spares, if any, as far as they take them). Safe on
 * zeroed or disposed storage. */
void tiers_dispose(tiers_t *t);
/* Lets storage t keep the arrays it lets go in `sp` (borrowed; NULL: none) and take its new ones
 * from there. Its results are the same either way. */
void tiers_use_spares(tiers_t *t, tiers_spares_t *sp);
/* Frees the arrays `sp` keeps. */
void tiers_spares_dispose(tiers_spares_t *sp);
/* Makes rows [0, n) usable. */
void tiers_rows(tiers_t *t, uint32_t n);
/* Adds the span [s, e) of `row`: each bin of each level gets the ns it overlaps. */
void tiers_span(tiers_t *t, uint32_t row, uint64_t s, uint64_t e);
/* Adds v to `row`'s bin at time ts on each level. */
void tiers_add(tiers_t *t, uint32_t row, uint64_t ts, double v);
/* Records a gauge sample v of `row` at time ts on each level. */
void tiers_sample(tiers_t *t, uint32_t row, uint64_t ts, double v);
/* Drops bins below `lo` from ring level `level` (never the last level, never its newest bin).
 * Returns the bytes freed. */
size_t tiers_trim(tiers_t *t, uint32_t level, int64_t lo);
/* Doubles the bin width of the last level, folding pairs of bins. */
void tiers_coarsen(tiers_t *t);
/* True when `level` holds every bin from time `from` on (always for the last level). */
bool tiers_covers(const tiers_t *t, uint32_t level, uint64_t from);
/* The grid for [from, to) (to > from) in at most `bins` (>= 1) output bins: on `level` when it is
 * >= 0, else on the coarsest covering level whose bins are no wider than (to - from) / bins (the
 * finest covering level when none is). Output bins are aligned on multiples of their width. */
void tiers_pick(const tiers_t *t, uint64_t from, uint64_t to, uint32_t bins, int level,
                tiers_grid_t *g);
/* The bin `bin` of `level` when it is retained and has entries, else NULL. Borrowed: valid until
 * the next call on this storage. */
const tiers_slot_t *tiers_slot(const tiers_t *t, uint32_t level, int64_t bin);
/* The same bin as stored on its level, without the finer levels' newest bins folded in (what a
 * snapshot saves), or NULL. Borrowed: valid until the next write. */
const tiers_slot_t *tiers_stored(const tiers_t *t, uint32_t level, int64_t bin);
/* The latest sample of gauge `row` in a bin before `bin` of `level` (searching that level back
 * to its oldest retained bin, then coarser levels): true and *v, or false when there is none. */
bool tiers_last_before(const tiers_t *t, uint32_t level, uint32_t row, int64_t bin, double *v);

/* Restoring storage set up by tiers_init (rows made usable by tiers_rows) from a snapshot
 * (lib/aggr_snap.c): tiers_load_level sets level k's bin width, retained extent [lo, hi] and,
 * for the last level, cover_end; tiers_load_bin then gives it bin `bin` with n entries (c, and
 * g for gauge storage: malloc'd arrays that the storage takes over on success). Both return 0,
 * or LP_ECORRUPT for values that writes could not have produced (then nothing was taken). */
int tiers_load_level(tiers_t *t, uint32_t k, uint64_t width, int64_t lo, int64_t hi,
                     uint64_t cover_end);
int tiers_load_bin(tiers_t *t, uint32_t k, int64_t bin, tiers_cell_t *c, tiers_gauge_t *g,
                   uint32_t n);

#endif
