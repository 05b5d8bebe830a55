/* The ghc-events-analyze analysis, incremental: feed events in global time order, read the
 * windows' ids, totals, per-bucket values and thread lifetimes at any time. Semantics follow
 * ../shared/spec/ghc-events-analyze.md (pairing by global counting, GC correction, windows). */
#ifndef LP_GEA_H
#define LP_GEA_H

#include "evlog.h"
#include "tidmap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Id kinds, in the old tool's id order: GC < user < thread. */
typedef enum gea_kind { GEA_GC = 0, GEA_USER = 1, GEA_THREAD = 2 } gea_kind_t;

/* A node of a thread's label list (newest first; persistent, shared between windows). */
typedef struct gea_label {
    const struct gea_label *next;
    const char *text;
    uint32_t len;
} gea_label_t;

/* One event id of one window with everything recorded for it. */
typedef struct gea_id {
    gea_kind_t kind;
    uint32_t tid;      /* GEA_THREAD */
    int64_t sub;       /* GEA_USER subscript */
    const char *label; /* GEA_USER label (arena, NUL-terminated) */
    uint32_t label_len;
    uint64_t total;       /* sum of interval lengths, ns */
    uint64_t first_start; /* smallest interval start */
    uint64_t intervals;   /* number of recorded intervals */
    uint64_t open_start;  /* while open_count > 0 */
    uint32_t open_count;
    int32_t open_slot; /* index in the window's open-user list, or -1 */
    /* Bucket values for [blo, blo + bn); bset marks buckets an interval touched. */
    int64_t blo;
    uint32_t bn, bcap;
    double *bval;
    uint8_t *bset;
} gea_id_t;

/* What the window knows of a thread: lifetime and labels. */
typedef struct gea_thread {
    uint32_t tid;
    uint64_t created, finished;
    const gea_label_t *labels;
} gea_thread_t;

/* Bucketing of one window: startup and bucket size in ns (0 = no per-bucket values). */
typedef struct gea_buckets {
    uint64_t startup;
    uint64_t bs;
} gea_buckets_t;

/* One analysis (the whole log, or one window). Fields are read-only for consumers. */
typedef struct gea_window {
    bool has_startup, any_event, in_window;
    uint64_t startup;  /* first CapCreate/Startup, or the window's START */
    uint64_t end;      /* last event time */
    uint64_t first_ts; /* first event time (startup when none was set) */
    gea_buckets_t buckets;
    gea_id_t *ids; /* in creation order */
    size_t nids, ids_cap;
    uint32_t *slots; /* hash index of the user ids (id index + 1; 0 = empty) */
    size_t slots_cap, nusers;
    long gc_id;          /* index of the GC id, or -1 */
    tidmap_t thread_ids; /* tid -> index of its thread id */
    gea_thread_t *threads;
    size_t nthreads, threads_cap;
    tidmap_t thread_map;  /* tid -> threads[] index */
    uint32_t *open_users; /* ids of open user ids */
    size_t nopen, open_cap;
} gea_window_t;

/* Options: the old tool's --start/--stop prefixes and --window. */
typedef struct gea_opts {
    const char *start_prefix; /* default "START " */
    const char *stop_prefix;  /* default "STOP " */
    const char *window;       /* NULL: no windows */
    /* Per-window bucketing for a second pass, indexed by window creation order (may be NULL). */
    const gea_buckets_t *buckets;
    size_t nbuckets;
    /* Only the windows' bounds are wanted (the first pass that finds their buckets): each
     * window's startup, first and last time are exact, while no id, interval or thread is
     * recorded, so the pass costs little more than the ordering. */
    bool bounds_only;
} gea_opts_t;

typedef struct gea gea_t;

/* Creates an analysis. Strings in `o` are copied. Out of memory is fatal. Any thread; one
 * thread at a time uses the analysis. */
gea_t *gea_create(const gea_opts_t *o);
/* Frees the analysis and every window. NULL is a no-op. */
void gea_destroy(gea_t *g);
/* Feeds one event (borrowed), in the global order of spec §1. Block markers are ignored. */
void gea_event(gea_t *g, const evlog_event_t *ev);
/* Sets in `bits` (a bitmap of 65536 event types, 1024 words) the types whose fields gea_event
 * reads; it needs only the time of the others (see order_stats_t.fields). Any thread. */
void gea_fields(uint64_t bits[1024]);
/* The types an analysis with gea_opts_t.bounds_only reads, in `bits` as above: besides the
 * startups and user messages, the thread labels, so that a malformed one is dropped by the
 * ordering as it is for the whole analysis (order_stats_t.dropped). Any thread. */
void gea_bounds_fields(uint64_t bits[1024]);
/* Accounts for events of the other types that were not fed (order_stats_t.skip_others): first
 * and last are the first and last time of all events of the log, fed or not (first > last:
 * none), given to the first window and the last. That is the same as feeding them for an
 * analysis without windows; with windows, only for the bounds of a bounds_only analysis, and
 * only when gea_bounds_exact says so (else they must be fed). */
void gea_skipped(gea_t *g, uint64_t first, uint64_t last);
/* Whether the bounds of every window gea_output reports are exact although the events of other
 * types were skipped: each closed window after the first ends at its STOP and must have a
 * startup of its own (its START, or a CapCreate or Startup in it), as its first event's time is
 * not known. Any thread that owns `g`. */
bool gea_bounds_exact(const gea_t *g);
/* For a consumer of the same events on another thread (aggr_event_tagged behind an event pipe)
 * that pairs labels with the same start and stop prefixes: what the event just fed (ev) did to
 * the user ids, so that the consumer need not parse its text. Returns 0 when that cannot be told
 * (not a user message, windows on, an id index past 2^30), GEA_TAG_NONE when it started or
 * stopped no id (no prefix, or the stop of an id never started), else gea_tag_of(index, stop),
 * the index being the id's place among the analysis' ids (dense, in order of creation, so the
 * first tag of an index is its creating start). *bare tells whether the text can be left out, as
 * an earlier tag named the same id; *ids is the caller's count of ids named so far: 0 at the
 * start and after every reset of the consumer. gea_event's thread, right after it. */
uint32_t gea_pipe_tag(const gea_t *g, const evlog_event_t *ev, uint32_t *ids, bool *bare);
#define GEA_TAG_NONE 1u
static inline uint32_t gea_tag_of(uint32_t index, bool stop)
{
    return 2u + 2u * index + (stop ? 1u : 0u);
}
static inline uint32_t gea_tag_index(uint32_t tag)
{
    return (tag - 2u) >> 1;
}
static inline bool gea_tag_stop(uint32_t tag)
{
    return tag & 1u;
}
/* The analyses to report, per spec §4: every closed window, or the single analysis when no
 * window closed. Pointers stay valid until the next gea_event or gea_destroy. */
size_t gea_outputs(const gea_t *g);
gea_window_t *gea_output(const gea_t *g, size_t i);
/* All analyses created so far (windows and the trailing one), in creation order. */
size_t gea_windows(const gea_t *g);
gea_window_t *gea_window(const gea_t *g, size_t i);

/* The window's effective startup (startup, or the first event time when none was set). */
uint64_t gea_window_startup(const gea_window_t *w);
/* Bucket size for `n` buckets: (end - startup) div n, clamped to >= 1 (see spec §6).
 * `*clamped` (may be NULL) tells whether it was clamped. */
uint64_t gea_window_bucket_size(const gea_window_t *w, uint32_t n, bool *clamped);
/* Bucket of time t (times before startup fall in bucket 0). */
int64_t gea_window_bucket(const gea_window_t *w, uint64_t t);
/* The thread record of `tid` in this window, or NULL. */
const gea_thread_t *gea_window_thread(const gea_window_t *w, uint32_t tid);
/* Writes the thread's row header ("worker-1:6": labels newest first, consecutive duplicates
 * collapsed, joined by ':') into buf (NUL-terminated, truncated to cap). Returns its length
 * untruncated. A thread without a record is its decimal tid. */
size_t gea_thread_header(const gea_window_t *w, uint32_t tid, char *buf, size_t cap);
/* Compares two ids in the old tool's "by name" order. */
int gea_id_cmp(const gea_id_t *a, const gea_id_t *b);
/* Parses a user label the old tool's way ("3 job" -> ("job", 3)): points label and len into s. */
void gea_parse_label(const char *s, size_t n, const char **label, size_t *len, int64_t *sub);

#endif
