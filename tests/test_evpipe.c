/* The event pipe: a real log's events pushed from one thread reach the consumer thread in order,
 * with their payloads and decoded fields (or bare, when pushed without a payload) and their tags,
 * runs of events only counted arrive as counts with their first and last times, and resets
 * arrive between the same events; the test also runs under ThreadSanitizer in
 * `make test`. */
#include "test.h"

#include "evpipe.h"

#include <stdlib.h>
#include <string.h>

/* A digest of what a consumer reads of an event: header, tag, payload, and a message's text. */
static uint64_t digest(const evlog_event_t *ev, uint32_t tag)
{
    uint64_t h = 1469598103934665603ull;
#define MIX(v) h = (h ^ (uint64_t)(v)) * 1099511628211ull
    MIX(tag);
    MIX(ev->payload == NULL);
    MIX(ev->type);
    MIX(ev->ts);
    MIX(ev->offset);
    MIX((uint32_t)ev->cap);
    MIX(ev->size);
    MIX(ev->known);
    for (uint32_t i = 0; ev->payload && i < ev->size; i++)
        MIX(ev->payload[i]);
    if (ev->known && ev->type == EVLOG_USER_MSG)
        for (size_t i = 0; i < ev->f.msg.text.len; i++)
            MIX(ev->f.msg.text.p[i] + 7);
    if (ev->known && ev->type == EVLOG_RUN_THREAD) MIX(ev->f.thread.tid);
#undef MIX
    return h;
}

#define RESET_MARK 0 /* a reset in the sequences below */

/* A sequence of digests; counted events go in as one digest per run of them between events or
 * resets (the pipe may cut a run where a batch ends: both sides join what follows). */
typedef struct seq {
    uint64_t *v;
    size_t n, cap;
    uint64_t first, last, count; /* the run being counted */
} seq_t;

static void seq_put(seq_t *s, uint64_t v)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = v;
}

static void seq_add(seq_t *s, uint64_t v)
{
    if (s->count) { /* the run of counted events before this */
        seq_put(s, (s->first * 31 + s->last) * 131 + s->count + 1);
        s->count = 0;
    }
    seq_put(s, v);
}

static void seq_skip(seq_t *s, uint64_t first, uint64_t last, uint64_t n)
{
    if (!s->count) s->first = first;
    s->last = last;
    s->count += n;
}

typedef struct feed {
    evpipe_t *p;
    seq_t sent;
    uint64_t seen;
} feed_t;

/* The producer: every decoded event goes into the pipe (runs of 1 to 40 of them only counted),
 * a reset after every 5000th. */
static int feed_event(void *ctx, const evlog_event_t *ev)
{
    feed_t *f = ctx;
    if (ev->type == EVLOG_BLOCK_MARKER) return 0;
    f->seen++;
    if ((f->seen / 41) % 3 == 1 && f->seen % 41 < 1 + (f->seen / 123) % 40) {
        evpipe_skip_spsc(f->p, ev->ts);
        seq_skip(&f->sent, ev->ts, ev->ts, 1);
        return 0;
    }
    uint32_t tag = (uint32_t)f->sent.n * 2654435761u;
    bool bare = f->sent.n % 7 == 3;
    evpipe_push_spsc(f->p, ev, tag, bare);
    if (bare) { /* what the consumer gets of it */
        evlog_event_t e = *ev;
        e.payload = NULL;
        e.known = false;
        seq_add(&f->sent, digest(&e, tag));
    } else {
        seq_add(&f->sent, digest(ev, tag));
    }
    if (f->sent.n % 5000 == 0) {
        evpipe_reset_spsc(f->p);
        seq_add(&f->sent, RESET_MARK);
    }
    return 0;
}

static void got_event(void *ctx, const evlog_event_t *ev, uint32_t tag)
{
    seq_add(ctx, digest(ev, tag));
}

static void got_reset(void *ctx)
{
    seq_add(ctx, RESET_MARK);
}

static void got_skipped(void *ctx, uint64_t first, uint64_t last, uint64_t n)
{
    seq_skip(ctx, first, last, n);
}

TEST(evpipe_concurrent_order_payloads_resets)
{
    size_t n;
    uint8_t *b = tu_read_file(tu_data("eventlogs/heap.eventlog"), &n);
    REQUIRE(b);
    seq_t got = {0};
    feed_t f = {0};
    f.p = evpipe_create(&(evpipe_sink_t){got_event, got_reset, &got, got_skipped}, "test-evpipe");
    REQUIRE(f.p);
    evlog_t d;
    REQUIRE(evlog_init(&d, &(evlog_sink_t){.on_event = feed_event, .ctx = &f}) == 0);
    for (size_t off = 0; off < n; off += 3000) /* the decoder's events borrow its chunks */
        REQUIRE(evlog_feed(&d, b + off, n - off < 3000 ? n - off : 3000) == 0);
    evlog_dispose(&d);
    evpipe_destroy(f.p);
    seq_add(&f.sent, RESET_MARK); /* the runs counted last */
    seq_add(&got, RESET_MARK);
    CHECK(f.sent.n > 10000);
    CHECKF(f.seen > f.sent.n + 1000, "%llu events, %zu digests", (unsigned long long)f.seen,
           f.sent.n);
    CHECK_EQ_U64(got.n, f.sent.n);
    size_t same = 0;
    while (same < got.n && same < f.sent.n && got.v[same] == f.sent.v[same])
        same++;
    CHECKF(same == f.sent.n, "the consumer's events differ from event %zu of %zu", same, f.sent.n);
    evpipe_destroy(NULL);
    free(got.v);
    free(f.sent.v);
    free(b);
}
