/* The live pipeline of one session: stream bytes in arbitrary chunks are decoded, per-capability
 * events pass a bounded reorder window released in time order up to a watermark, and released
 * events feed an incremental ghc-events-analyze analysis and the binned aggregates.
 *
 * Threads: one thread feeds (live_feed, live_finish); everything else may be read from other
 * threads only under the caller's lock, the same lock the feeding thread holds around each
 * live_feed / live_finish call (e.g. the session mutex). Nothing here locks. */
#ifndef LP_LIVE_H
#define LP_LIVE_H

#include "aggr.h"
#include "gea.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LIVE_DEFAULT_WINDOW 262144 /* events held by the reorder window by default */

/* Options; a zero field takes its default. */
typedef struct live_opts {
    size_t window_events; /* reorder window size in events (default LIVE_DEFAULT_WINDOW) */
    size_t pool_bytes;    /* text pool of the window (default 32 bytes per event) */
    uint32_t caps;        /* capabilities the program runs with, when known (0 = learn) */
    aggr_opts_t aggr;     /* options of the aggregates */
} live_opts_t;

typedef struct live live_t;

/* Creates a pipeline (`o` may be NULL). Returns NULL for invalid options; out of memory is
 * fatal. Any thread. */
live_t *live_create(const live_opts_t *o);
/* Frees everything. NULL is a no-op. */
void live_destroy(live_t *l);
/* Decodes n bytes (borrowed for the call; any chunking) and moves what the watermark allows into
 * the analysis and aggregates. Decoder warnings (junk before the header, a repeated header,
 * bytes after the end marker) do not stop the stream. Returns 0, or the decoder's error (sticky;
 * the window is then flushed, so everything decoded before the bad byte stays analysed), or
 * LP_EARG after live_finish. Feeding thread. */
int live_feed(live_t *l, const uint8_t *p, size_t n);
/* Ends the input: flushes the window, then frees it and the decoder's tables (the pipeline keeps
 * its analysis, aggregates and counts). Returns 0 or the decoder's verdict, which also becomes the
 * sticky error: LP_ETRUNCATED when the stream stopped inside an event or a header, LP_ENO_HEADER
 * when no header came, or the earlier error. LP_EARG when called again. Feeding thread. */
int live_finish(live_t *l);

/* Events decoded, counted as summary.txt's total counts them (block markers excluded). */
uint64_t live_events(const live_t *l);
/* Bytes fed. */
uint64_t live_bytes(const live_t *l);
/* Events applied out of time order (released after a later event). */
uint64_t live_late(const live_t *l);
/* Events released before the watermark allowed, because the window was full. */
uint64_t live_forced(const live_t *l);
/* Events held in the window now. */
size_t live_pending(const live_t *l);
/* Largest event timestamp decoded so far (0 before any). */
uint64_t live_last_ts(const live_t *l);
/* Decoder warnings seen (junk, repeated header, trailing bytes, bad block size). */
uint64_t live_warnings(const live_t *l);
/* The sticky error (0 when the stream is fine), its message ("" when none) and the stream offset
 * of the bad event. The text is borrowed until live_destroy. */
int live_error(const live_t *l);
const char *live_error_text(const live_t *l);
uint64_t live_error_offset(const live_t *l);
/* The analysis (default options: whole log, "START "/"STOP " labels) fed with released events.
 * Borrowed; read under the caller's lock. */
const gea_t *live_gea(const live_t *l);
/* The aggregates fed with released events. Borrowed; read under the caller's lock. */
const aggr_t *live_aggr(const live_t *l);
/* Bytes held: reorder window, decoder, aggregates. */
size_t live_memory(const live_t *l);

#endif
