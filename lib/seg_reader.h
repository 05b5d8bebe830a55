/* Reading a session's stream bytes back from its segments: any byte range, as if the chunks were
 * one file (compressed chunks are inflated into a one-chunk cache). Used by the pump into the
 * live pass, the exact settle pass (as an order_source_t read callback), the download and
 * replay. One reader per thread; the log may grow meanwhile. */
#ifndef LP_SEG_READER_H
#define LP_SEG_READER_H

#include "seg_log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct seg_reader seg_reader_t;

/* A reader of log `l` (borrowed; it must outlive the reader). Out of memory is fatal. */
seg_reader_t *seg_reader_create(seg_log_t *l);
/* Frees it; NULL is a no-op. */
void seg_reader_destroy(seg_reader_t *r);
/* Direct mode (off at creation): stored chunks of closed segments are read with O_DIRECT through
 * an aligned window of the segment file instead of through the page cache, for a pass over bytes
 * that were written a while ago and will not be read again soon (the settle); the open segment
 * is still read through the cache, which holds it. Where the file system refuses direct reads,
 * the reader goes back to the page cache by itself. The reader's thread only. */
void seg_reader_set_direct(seg_reader_t *r, bool on);
/* Copies up to n stream bytes at `off` into buf. Returns the bytes copied (0 at the end of what
 * was written, or before the log's start), LP_EIO or LP_ECORRUPT (a chunk that does not inflate
 * or no longer verifies). */
ssize_t seg_reader_pread(seg_reader_t *r, void *buf, size_t n, uint64_t off);
/* Reads exactly n bytes at off: 0, or LP_EIO when they are not all there. The signature of
 * order_source_t's read callback (ctx = the reader). */
int seg_reader_read_full(void *ctx, void *buf, size_t n, uint64_t off);

#endif
