/* A bounded reorder window for live streams: decoded events are copied compactly (texts into a
 * fixed byte pool, no allocation per event) and released in (timestamp, stream offset) order up
 * to a watermark; when the window or its pool is full the oldest event is released anyway, and
 * an event released after a later one is counted as late. */
#ifndef LP_REORDER_H
#define LP_REORDER_H

#include "evlog.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Receives each released event (borrowed for the call). Released events carry the fields the
 * live consumers read (lib/gea.c, lib/aggr.c): thread ids and statuses, thread labels, user
 * messages and markers, capability numbers, heap sizes, spark counters and string heap-profile
 * samples, and the capability of their block; every other type arrives with known = false (type,
 * time, cap and offset only). `late` tells that an event with a larger (ts, offset) was already
 * released. It must not call back into the window. */
typedef void (*reorder_fn)(void *ctx, const evlog_event_t *ev, bool late);

typedef struct reorder reorder_t;

/* Creates a window of at most `max_events` events (2 .. 2^28) whose texts share a pool of
 * `pool_bytes` (raised to at least 128 KiB, so any event fits; at most 2 GiB). The slots and the
 * pool are allocated here, once (pages are touched only as they are used). Returns NULL for bad
 * sizes or a NULL fn; out of memory is fatal. Any thread; then one thread at a time uses the
 * window, and `fn` runs on that thread. */
reorder_t *reorder_create(size_t max_events, size_t pool_bytes, reorder_fn fn, void *ctx);
/* Frees the window without releasing what it holds. NULL is a no-op. */
void reorder_destroy(reorder_t *r);
/* Copies `ev` (borrowed; block markers are ignored) into the window. When the window or the pool
 * is full, the oldest events are released first to make room. */
void reorder_push(reorder_t *r, const evlog_event_t *ev);
/* Releases, in (ts, offset) order, every held event with ts <= watermark. */
void reorder_release(reorder_t *r, uint64_t watermark);
/* Releases everything held, in order. */
void reorder_flush(reorder_t *r);
/* Events held now. */
size_t reorder_len(const reorder_t *r);
/* Events released late so far (out of (ts, offset) order). */
uint64_t reorder_late(const reorder_t *r);
/* Events released because the window or the pool was full. */
uint64_t reorder_forced(const reorder_t *r);
/* Bytes the window allocated (fixed for its lifetime). */
size_t reorder_memory(const reorder_t *r);

#endif
