/* Fuzz target: the segment writer's own walk over a log's events (seg_index_scan in
 * lib/seg_index.c), which indexes uploaded bytes without the decoder. The input is an eventlog:
 * the decoder reads its header, then the walk takes the events after it in pieces whose ends
 * derive from the input, carrying a partial event over as the writer does. Properties: no crash;
 * the walk never claims bytes it was not given, and stops only at an event whole in its piece;
 * over the bytes it took, the decoder's events in raw mode (seg_index_event) give the same index,
 * byte for byte once encoded; and the encoding decodes again. */
#include "err.h"
#include "evlog.h"
#include "seg_index.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT (1u << 16)

static void fail(const char *what)
{
    fprintf(stderr, "segindex: %s\n", what);
    abort();
}

typedef struct ref {
    seg_index_t x;
    uint64_t end; /* the events the walk took end here */
} ref_t;

static int ref_event(void *ctx, const evlog_event_t *ev)
{
    ref_t *r = ctx;
    if (ev->offset >= r->end) return LP_ERANGE; /* past the walk: stop */
    seg_index_event(&r->x, ev, ev->offset);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) return 0;
    /* the header, through the decoder, a byte at a time as far as the first event */
    evlog_t d;
    if (evlog_init(&d, &(evlog_sink_t){0}) != 0) return 0;
    size_t first = 0;
    while (first < size && !evlog_at_event(&d) && evlog_feed(&d, data + first, 1) == 0)
        first++;
    if (!evlog_at_event(&d)) {
        evlog_dispose(&d);
        return 0;
    }
    /* the walk, in pieces: each ends a few hundred bytes on (from the input's own bytes) */
    seg_index_t w;
    seg_index_init(&w, first);
    size_t at = first, piece_end = first;
    uint32_t seed = 2166136261u;
    for (size_t i = 0; i < size && i < 16; i++)
        seed = (seed ^ data[i]) * 16777619u;
    for (;;) {
        seed = seed * 1103515245u + 12345u;
        piece_end += 1 + (seed >> 16) % 700;
        if (piece_end > size) piece_end = size;
        size_t used = 0;
        int rc = seg_index_scan(&w, evlog_types(&d), data + at, piece_end - at, at, false, &used);
        if (used > piece_end - at) fail("the walk claimed bytes it was not given");
        at += used;
        if (rc == SEG_SCAN_ODD) break;
        if (rc != SEG_SCAN_MORE) fail("an answer the walk may not give without split");
        long whole = seg_index_event_size(evlog_types(&d), data + at, piece_end - at);
        if (whole > 0 && (size_t)whole <= piece_end - at)
            fail("the walk left a whole event in its piece");
        if (piece_end == size) break;
    }
    evlog_dispose(&d);
    /* the decoder's events over the same bytes */
    ref_t r = {.end = at};
    seg_index_init(&r.x, first);
    if (evlog_init(&d, &(evlog_sink_t){.on_event = ref_event, .ctx = &r}) != 0) fail("init");
    evlog_set_raw(&d, true);
    evlog_feed(&d, data, at);
    evlog_dispose(&d);
    w.stream_end = r.x.stream_end = at;
    size_t wn, rn;
    uint8_t *we = seg_index_encode(&w, &wn), *re = seg_index_encode(&r.x, &rn);
    if (wn != rn || memcmp(we, re, wn) != 0) fail("the walk's index is not the decoder's");
    seg_index_t back;
    if (seg_index_decode(&back, we, wn) != 0) fail("an encoded index does not decode");
    if (back.events != w.events || back.npoints != w.npoints || back.nmaps != w.nmaps)
        fail("a decoded index differs from the one encoded");
    seg_index_dispose(&back);
    free(we);
    free(re);
    seg_index_dispose(&w);
    seg_index_dispose(&r.x);
    return 0;
}
