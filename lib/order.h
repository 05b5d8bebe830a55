/* The global event order of a whole log file (a stable sort by timestamp of the file order),
 * produced in bounded memory: index the log into runs of consecutive same-capability events,
 * sort each run when it is needed, and k-way merge runs, loading each only when the merge
 * reaches its earliest timestamp. Memory is O(runs + capabilities x block size). */
#ifndef LP_ORDER_H
#define LP_ORDER_H

#include "evlog.h"

#include <stddef.h>
#include <stdint.h>

/* Receives each event (borrowed for the call) in global order; a negative return stops. */
typedef int (*order_event_fn)(void *ctx, const evlog_event_t *ev);
/* Hears progress: pass 1 (indexing) and 2 (merging), bytes or events done of total. */
typedef void (*order_progress_fn)(void *ctx, int pass, uint64_t done, uint64_t total);

/* Where the log is: a buffer in memory (buf != NULL), else `read` when set (exactly n bytes at
 * off into p, 0 or a negative code; e.g. a session's segments), else file descriptor fd read with
 * pread (regular files; len bytes from offset 0). With `prefetch` (not for buf), a reader thread
 * (named prefetch_name, may be NULL) reads the runs the merge loads next, up to that many bytes
 * ahead of it (and always the next one): a source that makes its caller wait (the disk) then
 * costs the merge nothing. Meanwhile `read` is called on that thread only, before and after it on
 * the caller's. */
/* A read-ahead for sources that come from the disk: a handful of GHC's 2 MiB blocks. */
#define ORDER_PREFETCH_DISK ((size_t)16 << 20)

typedef struct order_source {
    const uint8_t *buf;
    int fd;
    uint64_t len;
    int (*read)(void *ctx, void *p, size_t n, uint64_t off);
    void *read_ctx;
    size_t prefetch;
    const char *prefetch_name;
} order_source_t;

typedef struct order_stats {
    uint64_t events;      /* events emitted (block markers excluded) */
    uint64_t runs;        /* runs indexed */
    uint64_t peak_loaded; /* most bytes of runs and sort entries held at once */
    /* bytes of big buffers (2 MiB and more) mapped anew: the others came from the ordering's own
     * pool or were left by an earlier ordering (up to 48 MiB of them are kept for the next
     * one, in any thread: a fresh buffer's pages are faulted in and zeroed as it fills) */
    uint64_t fresh_bytes;
    bool fast;                  /* the runs came from block markers alone (see order_log) */
    order_progress_fn progress; /* set by the caller (may be NULL) */
    /* Set by a caller that can start over (may be NULL): then a log that is a clean chain of
     * blocks is indexed from its block markers alone, each block claimed to start at its
     * marker's time, and the merge checks the claim; if it fails, reset(progress_ctx) is called
     * and every event is emitted again in exact order. */
    void (*reset)(void *ctx);
    void *progress_ctx;
    /* Set by a caller that reads the fields of only some event types (may be NULL: all): a
     * bitmap of 65536 types; the others are emitted with ev->known = false and their payload
     * unread, which is cheaper. */
    const uint64_t *fields;
    /* Set with `fields` by a caller that needs only the times of the other types' events (then
     * they are not emitted at all, which is cheaper still): `skipped` counts them. */
    bool skip_others;
    uint64_t skipped;
    uint64_t min_ts, max_ts; /* the first and last time of all events (UINT64_MAX, 0: none) */
    /* events of a type in `fields` whose fields did not decode (a variable-size payload too
     * short for them): not emitted, though their times are in min_ts and max_ts */
    uint64_t dropped;
} order_stats_t;

/* Emits every event of the log `src` describes in global order. `d` must be a fresh decoder
 * from evlog_init, whose sink's on_warning (if any) hears the decoder's warnings; the caller
 * disposes it and reads its error text and offset. Returns 0, the decoder's error (then every
 * event before the bad byte was still emitted, in order), LP_EIO, or a callback's negative code.
 * `stats` may be NULL. Out of memory is fatal. Calling thread only. */
int order_log(evlog_t *d, const order_source_t *src, order_event_fn fn, void *ctx,
              order_stats_t *stats);

#endif
