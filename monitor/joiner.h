/* Late-joiner state of one program: what a consumer that starts reading mid-stream needs to
 * make sense of the rest (capsets, capabilities, process and RTS identity, wall clock, thread
 * labels, threads still running, START labels still open). Fed, in stream order, the bytes a
 * subscriber can no longer get (the header, then what leaves the backlog); written out as
 * eventlog events with their original timestamps. */
#ifndef LP_JOINER_H
#define LP_JOINER_H

#include "evlog.h"
#include "u32map.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct joiner_thread {
    uint32_t tid;
    bool alive;    /* created and not finished */
    bool finished; /* a ThreadFinished stop was seen */
    uint64_t created_ts;
    uint64_t label_ts;
    uint32_t label_at, label_len; /* in the text store; label_len 0 = none */
} joiner_thread_t;

typedef struct joiner_label {
    uint32_t text_at, text_len; /* "START x" message bytes in the text store */
    uint64_t ts;                /* the first still-open START */
    int32_t open;
} joiner_label_t;

typedef struct joiner {
    evlog_t dec;
    bool failed;   /* the stream stopped decoding: state is what was seen before */
    uint8_t *init; /* init events: u16 type, u64 ts, u32 len, payload */
    size_t init_len, init_cap;
    joiner_thread_t *threads;
    size_t nthreads, threads_cap;
    u32map_t by_tid;
    joiner_label_t *labels;
    size_t nlabels, labels_cap;
    uint8_t *text;
    size_t text_len, text_cap;
} joiner_t;

/* Sets up an empty tracker. Returns 0 or LP_ENOMEM. Owner thread only (the monitor's lock). */
int joiner_init(joiner_t *j);
void joiner_dispose(joiner_t *j);
/* Feeds stream bytes in order (header first). Bad bytes end tracking quietly. */
void joiner_feed(joiner_t *j, const uint8_t *p, size_t n);
/* Writes the state as events (no header, one global block) into a malloc'd buffer; *len gets
 * its size. NULL when there is nothing to say or out of memory. The caller frees it. */
uint8_t *joiner_events(const joiner_t *j, size_t *len);

#endif
