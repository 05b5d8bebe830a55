/* The leech's memory between the RTS and the monitor: the writer callback appends each RTS
 * buffer as one entry (never blocking on I/O), the drain thread takes entries in order. Total
 * bytes are capped: beyond the cap the oldest whole entries not in flight are dropped, which
 * leaves a jump in the stream offsets the sender reports as a gap. One mutex guards all. */
#ifndef LP_LEECH_QUEUE_H
#define LP_LEECH_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LQ_SPARE 4

typedef struct lq_entry lq_entry_t;
struct lq_entry {
    lq_entry_t *next;
    uint64_t offset; /* stream offset (repaired entries); raw entries: the writer's tag */
    size_t len;
    size_t cap;       /* bytes data[] can hold */
    bool block_start; /* the bytes start an RTS buffer */
    uint8_t data[];
};

/* Two lists under one lock: `raw` (straight from the RTS, in call order) and `out` (repaired,
 * with stream offsets, waiting to be sent). */
typedef struct leech_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    lq_entry_t *raw_head, *raw_tail, *out_head, *out_tail;
    size_t bytes, cap;
    lq_entry_t *in_flight;  /* the out entry being sent (never dropped) */
    uint64_t raw_dropped;   /* raw bytes dropped before repair (the drain thread adds a gap) */
    uint64_t dropped_total; /* every byte ever dropped */
    uint64_t puts;          /* RTS buffers handed over: put_raw and claim_empty count them */
    bool raw_droppable;     /* the drain thread has the header: raw entries may be dropped */
    bool stop;
    bool kick;                   /* leech_queue_wake was called: the drain thread's wait ends */
    lq_entry_t *spare[LQ_SPARE]; /* freed entries kept for the next buffers (fresh memory
                                    costs the host program page faults) */
    size_t nspare;
} leech_queue_t;

/* Sets up an empty queue capped at `cap` bytes. Returns 0 or a negative code. */
int leech_queue_init(leech_queue_t *q, size_t cap);
/* Frees every entry. No thread may use the queue any more. */
void leech_queue_dispose(leech_queue_t *q);
/* Copies one RTS buffer in as a raw entry (`tag` goes to its offset field) and counts it,
 * dropping the oldest entries beyond the cap. Returns false only when out of memory (the buffer is
 * then counted as dropped). Any thread (the RTS writer); takes the lock briefly, never waits for
 * I/O. */
bool leech_queue_put_raw(leech_queue_t *q, const void *p, size_t n, uint64_t tag);
/* Takes the oldest raw entry, waiting up to `ms` milliseconds; NULL when none (or stopping).
 * *dropped gets the raw bytes dropped since the last call. The caller owns the entry. Drain
 * thread. */
lq_entry_t *leech_queue_take_raw(leech_queue_t *q, int ms, uint64_t *dropped);
/* Waits up to `ms` milliseconds until a raw entry is there (or stopping), without taking it.
 * Drain thread. */
void leech_queue_wait_raw(leech_queue_t *q, int ms);
/* Wakes the drain thread's wait (an out entry came from another thread). Any thread. */
void leech_queue_wake(leech_queue_t *q);
/* When the queue holds nothing (no raw entry, no out entry, none in flight, no drop not yet
 * reported), counts one RTS buffer the caller sends itself and returns true with *puts = the
 * buffers counted so far, its own included (every one of them is then sent when the caller's
 * is). Otherwise false, nothing counted. Any thread; the caller must exclude the drain thread
 * from sending meanwhile. */
bool leech_queue_claim_empty(leech_queue_t *q, uint64_t *puts);
/* RTS buffers counted so far (put_raw and claim_empty). Any thread. */
uint64_t leech_queue_puts(leech_queue_t *q);
/* Makes every take_raw return at once from now on (the process exits: the drain thread sends
 * what is left without waiting for more). Any thread. */
void leech_queue_stop(leech_queue_t *q);
/* Appends a repaired entry (owned by the queue from now on), then enforces the cap. The
 * thread that repairs or sends (the drain thread, or a writer sending for it). */
void leech_queue_put_out(leech_queue_t *q, lq_entry_t *e);
/* The oldest out entry, marked in flight (it stays queued); NULL when none. Entries dropped
 * before it show as a jump in offsets. Drain thread. */
lq_entry_t *leech_queue_peek_out(leech_queue_t *q);
/* Ends the in-flight entry: `sent` frees it, otherwise it stays first for a resend. Drain
 * thread. */
void leech_queue_done_out(leech_queue_t *q, bool sent);
/* Counts the raw and out entries, up to 2 each (enough to tell none, one, more). Any thread. */
void leech_queue_pending(leech_queue_t *q, size_t *raw, size_t *out);
/* An entry of n bytes: one of q's spares that is big enough, else new (malloc); NULL when out
 * of memory. q may be NULL (always new). The caller owns it until it hands it to q. Any
 * thread. */
lq_entry_t *leech_queue_entry(leech_queue_t *q, size_t n);
/* Gives an entry the caller owns back: to q's spares while there is room, else free. q may be
 * NULL (free); e may be NULL. Any thread. */
void leech_queue_free(leech_queue_t *q, lq_entry_t *e);

#endif
