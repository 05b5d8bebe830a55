/* The footer index of one segment (format in lib/segment.h): built from the events of the
 * segment's bytes as the writer decodes them — block markers give time -> offset, and roaring
 * bitmaps record which 100 ms bins hold which event types, threads and labels — and read back to
 * pick the segments a time range needs. Thread sets are kept per second (a bitmap of thread ids
 * per bin), since a program may run many thousands of threads. */
#ifndef LP_SEG_INDEX_H
#define LP_SEG_INDEX_H

#include "bitmap.h"
#include "evlog.h"
#include "u32map.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEG_INDEX_TID_BITS 65536  /* thread ids below this: one bit each */
#define SEG_INDEX_TID_SEEN 4096   /* larger ids: a repeat cache; a power of two */
#define SEG_INDEX_LABEL_SEEN 1024 /* a power of two */

/* What an index being built holds back or skips (allocated by the first event): the thread ids
 * below SEG_INDEX_TID_BITS seen in the current thread bin and not yet added to its set, as bits,
 * with a bit per nonzero word of them (cleared as they are added, when the walk moves to another
 * thread bin or the index is flushed); larger ids, added at once, by the id's low bits as
 * thread_gen << 32 | id, so a repeat in the same thread bin is skipped; and labels by a hash of
 * their text: the text's first and last (up to) 8 bytes and length — the whole text for labels
 * of up to 16 bytes — with the map number + 1 and the bin marked for it last. */
typedef struct seg_index_seen {
    uint64_t tid_bits[SEG_INDEX_TID_BITS / 64];
    uint64_t tid_sum[SEG_INDEX_TID_BITS / 4096];
    uint64_t tid[SEG_INDEX_TID_SEEN];
    struct {
        uint64_t a, b;
        uint32_t n, map, last;
    } label[SEG_INDEX_LABEL_SEEN];
} seg_index_seen_t;

typedef struct seg_index_point {
    uint64_t ts, stream_off;
} seg_index_point_t;

typedef struct seg_index_map {
    uint8_t kind; /* seg_map_kind_t */
    uint32_t key;
    char *name; /* labels: the label text (owned); else NULL */
    bitmap_t *bins;
    uint32_t last_bin; /* the bin added last (skips repeats) */
    uint32_t name_len; /* labels: the length of `name` */
    bool any;
} seg_index_map_t;

/* An index being built or read, on caller storage. */
typedef struct seg_index {
    uint64_t stream_start, stream_end, first_ts, last_ts, bin_ns, events, thread_bin_ns;
    seg_index_point_t *points;
    size_t npoints, points_cap;
    seg_index_map_t *maps;
    size_t nmaps, maps_cap;
    u32map_t ix[3];         /* per seg_map_kind_t: key -> map number */
    uint32_t type_map[256]; /* event types below 256 -> map number + 1 (0: none yet) */
    uint32_t thread_map;    /* the map of the current thread bin + 1 (0: none yet) */
    uint32_t thread_bin;    /* the current thread bin, and its time range: */
    uint64_t thread_lo, thread_hi;
    uint32_t thread_gen; /* counts the moves to another thread bin */
    uint32_t bin;        /* the current type bin, and its time range [lo, hi): */
    uint64_t bin_lo, bin_hi;
    uint64_t in_lo, in_hi;  /* the times in both (an event outside moves the bins) */
    uint64_t bin_types[4];  /* the types below 256 seen in the type bin, not yet marked */
    seg_index_seen_t *seen; /* NULL until the first event */
} seg_index_t;

/* An empty index for a segment starting at stream offset `start`. */
void seg_index_init(seg_index_t *x, uint64_t start);
/* Frees it. Safe on a zeroed or disposed index. */
void seg_index_dispose(seg_index_t *x);
/* Adds one decoded event (borrowed; raw-mode events are enough) that starts at stream offset
 * `off`. Writer's thread. */
void seg_index_event(seg_index_t *x, const evlog_event_t *ev, uint64_t off);

/* seg_index_scan's answers: why it stopped. */
#define SEG_SCAN_MORE 0  /* the rest (less than one event) needs the next bytes */
#define SEG_SCAN_BLOCK 1 /* at a block marker (with `split`), not indexed */
/* at something only the decoder can read: an undeclared type, the end marker, a malformed block
 * marker */
#define SEG_SCAN_ODD 2
/* The whole size of the event at p (n bytes of it at hand) by table tt: 0 when more bytes are
 * needed to tell, -1 for what only the decoder reads (an undeclared type, the end marker). Pure. */
long seg_index_event_size(const evlog_types_t *tt, const uint8_t *p, size_t n);

/* Indexes the whole events of p[0..n), the events of a log whose header gave table `tt`, p
 * starting at an event at stream offset `off`, without a decoder: the writer's walk over a
 * clean stream (the same index as seg_index_event on the decoder's events). With `split` it
 * stops before the first block marker past the index's first byte. *used gets the bytes
 * indexed; returns SEG_SCAN_*. Writer's thread. */
int seg_index_scan(seg_index_t *x, const evlog_types_t *tt, const uint8_t *p, size_t n,
                   uint64_t off, bool split, size_t *used);
/* Marks what the index holds back (the types of the current bin, the thread ids of the current
 * thread set), so its maps are whole; seg_index_encode does it first. Writer's thread. */
void seg_index_flush(seg_index_t *x);
/* Encodes the index as an SEG_REC_INDEX payload: returns a malloc'd buffer, *len its size. */
uint8_t *seg_index_encode(seg_index_t *x, size_t *len);
/* Decodes an SEG_REC_INDEX payload into a fresh index. Returns 0 or LP_ECORRUPT (then the index
 * is disposed). Never reads past len. */
int seg_index_decode(seg_index_t *x, const uint8_t *p, size_t len);
/* The map of (kind, key), or NULL. */
const seg_index_map_t *seg_index_find(const seg_index_t *x, int kind, uint32_t key);
/* True when some event lies in [from, to) ns (to = 0: no upper bound). */
bool seg_index_overlaps(const seg_index_t *x, uint64_t from, uint64_t to);

#endif
