/* An event pipe: one thread's ordered events handed to a consumer on a thread of its own, in
 * batches with their payloads copied, so that two analyses of one pass over a log run on two
 * cores (the exact totals on the producer, the exact aggregates on the consumer) while the
 * log is ordered and decoded once. */
#ifndef LP_EVPIPE_H
#define LP_EVPIPE_H

#include "evlog.h"

/* The consumer's calls, on its thread: every event in the producer's order (borrowed for the
 * call; its fields decoded again from the copied payload, or, pushed without one, undecoded:
 * payload NULL, known false) with the tag the producer gave it, `reset` where the producer
 * called evpipe_reset_spsc, and `skipped` (may be NULL) for each run of events the producer
 * only counted (evpipe_skip_spsc): n of them, the first at time `first`, the last at `last`. */
typedef struct evpipe_sink {
    void (*event)(void *ctx, const evlog_event_t *ev, uint32_t tag);
    void (*reset)(void *ctx);
    void *ctx;
    void (*skipped)(void *ctx, uint64_t first, uint64_t last, uint64_t n);
} evpipe_sink_t;

typedef struct evpipe evpipe_t;

/* Starts the consumer thread (named `name`, batch-scheduled like its creator). Returns the pipe
 * or NULL when no thread could start (the caller then consumes the events itself). Any
 * thread; the caller becomes the producer. */
evpipe_t *evpipe_create(const evpipe_sink_t *sink, const char *name);
/* Copies ev (borrowed; its payload too unless `bare` or ev->payload is NULL) and a tag the
 * consumer gets with it (the pipe does not read it) into the current batch; hands full batches
 * over, waiting while the consumer holds every batch. Producer thread only. */
void evpipe_push_spsc(evpipe_t *p, const evlog_event_t *ev, uint32_t tag, bool bare);
/* Counts an event at time `ts` that the consumer needs only counted, not seen: events counted
 * one after the other reach it as one sink.skipped call (32 bytes in the batch for the run, not
 * a record each). Producer thread only. */
void evpipe_skip_spsc(evpipe_t *p, uint64_t ts);
/* The consumer calls sink.reset after the events pushed so far. Producer thread only. */
void evpipe_reset_spsc(evpipe_t *p);
/* Hands over what is left, waits until the consumer has had every event, joins it and frees
 * the pipe. NULL is a no-op. Producer thread only. */
void evpipe_destroy(evpipe_t *p);

#endif
