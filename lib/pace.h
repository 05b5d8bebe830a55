/* Paced reading of a saved session for replay: a virtual stream made of the saved eventlog header
 * and the stream bytes of the segments that overlap a time range (the segment index skips the
 * others), handed out as fast as allowed or paced by the events' own timestamps (realtime, or N
 * times faster): bytes are released up to the first event whose time has not come yet. */
#ifndef LP_PACE_H
#define LP_PACE_H

#include "seg_log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pace pace_t;

/* A paced reader of log `l` (borrowed; it must outlive the reader) over events in [from, to)
 * (to = 0: to the end) at `speed` (0: as fast as possible; 1: real time; N: N times faster).
 * The whole log when from = to = 0. Returns NULL with a message when the range holds no segment.
 * Out of memory is fatal. One thread at a time. */
pace_t *pace_create(seg_log_t *l, uint64_t from, uint64_t to, double speed, char *err, size_t cap);
void pace_destroy(pace_t *p);
/* Bytes of the virtual stream in all, and handed out so far. */
uint64_t pace_len(const pace_t *p);
uint64_t pace_done(const pace_t *p);
/* Copies the next bytes that are due `elapsed_ns` after the start (at most cap) into buf and
 * returns how many: 0 when none is due yet (or at the end), LP_EIO when the segments cannot be
 * read. */
long pace_next(pace_t *p, uint64_t elapsed_ns, uint8_t *buf, size_t cap);
/* The elapsed time at which the next byte is due (now or earlier: it is due). */
uint64_t pace_due_ns(pace_t *p);

#endif
