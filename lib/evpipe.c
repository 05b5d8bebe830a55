/* The event pipe (lib/evpipe.h): a few batches of events with their payloads circulate between
 * the producer, which fills one at a time, and the consumer thread, which drains them in order;
 * a mutex and two condition variables guard the hand-over, once per batch. */
#include "evpipe.h"

#include "xmalloc.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_BYTES (512u << 10) /* a batch's events; every event fits (payload <= 65535) */
/* 8 MiB in flight: the two sides' speeds vary along a log (stretches of messages, of GC events),
 * and a deeper queue lets the faster side run ahead instead of waiting (settling a 1 GB log, the
 * producer waited 0.17-0.35 s for room with 4 batches, 0.03-0.07 s with 16) */
#define BATCHES 16

/* An event in a batch: this header, then its payload (unless REC_BARE), padded to 8 bytes. */
typedef struct rec {
    uint64_t ts, offset;
    int32_t cap;
    uint32_t size;
    uint16_t type;
    uint16_t flags;
    uint32_t tag;
} rec_t;

#define REC_BARE 1u /* pushed without its payload */
/* A run of counted events: offset = the first one's time, ts = the last one's, size = how many */
#define REC_SKIP 2u
#define NO_SKIP SIZE_MAX

typedef struct batch {
    size_t used;    /* bytes of records */
    size_t skip_at; /* the last record when it is a run of counted events, else NO_SKIP */
    bool reset;     /* sink.reset before this batch's events */
    _Alignas(8) uint8_t bytes[BATCH_BYTES];
} batch_t;

struct evpipe {
    evpipe_sink_t sink;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t full_cv, free_cv; /* a batch was handed over; a batch was given back */
    batch_t *b[BATCHES];
    size_t head, queued; /* the queue of full batches: b[head], ... (queued of them) */
    size_t cur;          /* the producer's batch: b[(head + queued) % BATCHES] */
    bool done;           /* the producer has handed over its last batch */
};

static void *consumer_main(void *arg)
{
    evpipe_t *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->queued == 0 && !p->done)
            pthread_cond_wait(&p->full_cv, &p->mu);
        if (p->queued == 0) break;
        batch_t *b = p->b[p->head];
        pthread_mutex_unlock(&p->mu);
        if (b->reset && p->sink.reset) p->sink.reset(p->sink.ctx);
        evlog_event_t ev;
        for (size_t at = 0; at < b->used;) {
            rec_t r;
            memcpy(&r, b->bytes + at, sizeof r);
            ev.type = r.type;
            ev.ts = r.ts;
            ev.offset = r.offset;
            ev.cap = r.cap;
            ev.size = r.size;
            ev.known = false;
            if (r.flags & REC_SKIP) {
                at += sizeof r;
                if (p->sink.skipped) p->sink.skipped(p->sink.ctx, r.offset, r.ts, r.size);
                continue;
            }
            if (r.flags & REC_BARE) {
                ev.payload = NULL;
                at += sizeof r;
                p->sink.event(p->sink.ctx, &ev, r.tag);
                continue;
            }
            ev.payload = b->bytes + at + sizeof r;
            at += sizeof r + ((r.size + 7u) & ~7u);
            /* the fields again, from the copied payload (they pointed into the producer's) */
            if (evlog_decode_fields(&ev, false) == 0) p->sink.event(p->sink.ctx, &ev, r.tag);
        }
        pthread_mutex_lock(&p->mu);
        p->head = (p->head + 1) % BATCHES;
        p->queued--;
        pthread_cond_signal(&p->free_cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Frees a pipe whose consumer thread is gone (or never started). */
static void free_pipe(evpipe_t *p)
{
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->full_cv);
    pthread_cond_destroy(&p->free_cv);
    for (size_t i = 0; i < BATCHES; i++)
        free(p->b[i]);
    free(p);
}

evpipe_t *evpipe_create(const evpipe_sink_t *sink, const char *name)
{
    evpipe_t *p = xcalloc(1, sizeof *p);
    p->sink = *sink;
    for (size_t i = 0; i < BATCHES; i++)
        p->b[i] = xmalloc(sizeof *p->b[i]);
    p->b[0]->used = 0;
    p->b[0]->skip_at = NO_SKIP;
    p->b[0]->reset = false;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->full_cv, NULL);
    pthread_cond_init(&p->free_cv, NULL);
    if (pthread_create(&p->th, NULL, consumer_main, p) != 0) {
        free_pipe(p);
        return NULL;
    }
    if (name) pthread_setname_np(p->th, name);
    return p;
}

/* Hands the producer's batch over and takes the next free one (waiting for it). */
static void hand_over(evpipe_t *p)
{
    pthread_mutex_lock(&p->mu);
    p->queued++;
    pthread_cond_signal(&p->full_cv);
    while (p->queued == BATCHES)
        pthread_cond_wait(&p->free_cv, &p->mu);
    p->cur = (p->head + p->queued) % BATCHES;
    pthread_mutex_unlock(&p->mu);
    batch_t *b = p->b[p->cur];
    b->used = 0;
    b->skip_at = NO_SKIP;
    b->reset = false;
}

/* Writes a record's header at d field by field: built on the stack first, its narrow field
 * stores could not forward to the wide loads that copied it, and that stall was most of the
 * producer's cost per event. */
static inline void rec_put(uint8_t *d, uint64_t ts, uint64_t offset, int32_t cap, uint32_t size,
                           uint16_t type, uint16_t flags, uint32_t tag)
{
    memcpy(d + offsetof(rec_t, ts), &ts, sizeof ts);
    memcpy(d + offsetof(rec_t, offset), &offset, sizeof offset);
    memcpy(d + offsetof(rec_t, cap), &cap, sizeof cap);
    memcpy(d + offsetof(rec_t, size), &size, sizeof size);
    memcpy(d + offsetof(rec_t, type), &type, sizeof type);
    memcpy(d + offsetof(rec_t, flags), &flags, sizeof flags);
    memcpy(d + offsetof(rec_t, tag), &tag, sizeof tag);
}

void evpipe_push_spsc(evpipe_t *p, const evlog_event_t *ev, uint32_t tag, bool bare)
{
    batch_t *b = p->b[p->cur];
    uint32_t size = ev->size;
    bare |= !ev->payload;
    uint16_t flags = bare ? REC_BARE : 0;
    size_t need = sizeof(rec_t) + (bare ? 0 : ((size + 7u) & ~7u));
    if (b->used + need > BATCH_BYTES) {
        hand_over(p);
        b = p->b[p->cur];
    }
    uint8_t *d = b->bytes + b->used;
    rec_put(d, ev->ts, ev->offset, ev->cap, size, ev->type, flags, tag);
    if (!bare && size) memcpy(d + sizeof(rec_t), ev->payload, size);
    b->used += need;
    b->skip_at = NO_SKIP;
}

void evpipe_skip_spsc(evpipe_t *p, uint64_t ts)
{
    batch_t *b = p->b[p->cur];
    if (b->skip_at != NO_SKIP) {
        uint8_t *d = b->bytes + b->skip_at;
        uint32_t n;
        memcpy(&n, d + offsetof(rec_t, size), sizeof n);
        if (n < UINT32_MAX) {
            n++;
            memcpy(d + offsetof(rec_t, size), &n, sizeof n);
            memcpy(d + offsetof(rec_t, ts), &ts, sizeof ts);
            return;
        }
    }
    if (b->used + sizeof(rec_t) > BATCH_BYTES) {
        hand_over(p);
        b = p->b[p->cur];
    }
    rec_put(b->bytes + b->used, ts, ts, EVLOG_NO_CAP, 1, 0, REC_SKIP, 0);
    b->skip_at = b->used;
    b->used += sizeof(rec_t);
}

void evpipe_reset_spsc(evpipe_t *p)
{
    batch_t *b = p->b[p->cur];
    if (b->used) {
        hand_over(p);
        b = p->b[p->cur];
    }
    b->reset = true;
}

void evpipe_destroy(evpipe_t *p)
{
    if (!p) return;
    batch_t *b = p->b[p->cur];
    pthread_mutex_lock(&p->mu);
    if (b->used || b->reset) p->queued++; /* the last batch, whole or not */
    p->done = true;
    pthread_cond_signal(&p->full_cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->th, NULL);
    free_pipe(p);
}
