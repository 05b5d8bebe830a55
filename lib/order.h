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

typedef struct order_stats {
    uint64_t events;      /* events emitted (block markers excluded) */
    uint64_t runs;        /* runs indexed */
    uint64_t peak_loaded; /* most (ts, offset) entries held at once */
} order_stats_t;

/* Emits every event of the log in buf[0..len) (borrowed; a mapped file is ideal) in global
 * order. `d` must be a fresh decoder from evlog_init, whose sink's on_warning (if any) hears
 * the decoder's warnings; the caller disposes it and reads its error text and offset. Returns 0,
 * the decoder's error (then every event before the bad byte was still emitted, in order), or a
 * callback's negative code. Out of memory is fatal. Calling thread only. */
int order_file(evlog_t *d, const uint8_t *buf, size_t len, order_event_fn fn, void *ctx,
               order_stats_t *stats);

#endif
