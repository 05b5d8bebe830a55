/* The session workers: each owns some sessions, reads their written bytes back from the segments
 * into their SPSC rings as the rings have room and drains the rings into the live analysis, so
 * the HTTP thread never reads segments and memory stays bounded; when a session's input has
 * ended the worker settles it with the exact pass over the saved bytes (the same ordering and
 * analysis as `liveprof analyze`). */
#include "session_int.h"

#include "aggr.h"
#include "err.h"
#include "evpipe.h"
#include "gea.h"
#include "live.h"
#include "order.h"
#include "ring.h"
#include "seg_reader.h"
#include "server.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define FEED_MAX (64u << 10)        /* bytes fed per lock hold: keeps readers' waits under a ms */
#define REFILL_MAX (1u << 20)       /* bytes read from the segments into a ring per read */
#define REFILL_STEPS 4              /* reads per refill */
#define SETTLE_APART_MIN (1u << 20) /* logs from this size on settle their aggregates apart */
#define LIVE_LAG_MAX (32u << 20)    /* an upload's live pass waits while this far behind, */
#define LIVE_LAG_FAST (4u << 20)    /* or this far while the bytes come twice as fast as it goes, */
#define LIVE_QUIET_NS (250000000u)  /* and bytes came within this time */
#define SETTLE_TELL_NS (250000000u) /* a settle's progress told to watchers at most this often */

typedef struct exact {
    gea_t *g;
    aggr_t *a;        /* the aggregates made in this pass, or NULL */
    evpipe_t *apart;  /* or made from the pass's events on a thread of their own */
    aggr_t *pipe_a;   /* (the consumer's aggregates) */
    aggr_opts_t ao;   /* (the default start and stop prefixes, as the totals' analysis) */
    uint32_t ids;     /* ids named down the pipe (gea_pipe_tag) */
    aggr_feed_t feed; /* what went down the pipe (events the aggregates only count do not) */
    session_t *s;     /* whose `settle_done` and `settle_events` the merge's progress moves */
    uint64_t events;  /* the events of this pass so far */
    registry_t *reg;  /* whose watcher hears of it */
    uint64_t told_ns; /* when it last did (server_mono_ns; 0: not yet) */
} exact_t;

static int exact_event(void *ctx, const evlog_event_t *ev)
{
    exact_t *x = ctx;
    x->events++;
    gea_event(x->g, ev);
    if (x->a) aggr_event(x->a, ev);
    if (!x->apart) return 0;
    if (aggr_feed_counts_only(&x->feed, ev)) {
        evpipe_skip_spsc(x->apart, ev->ts);
        return 0;
    }
    /* A user message the analysis has parsed goes down the pipe with its verdict, so that the
     * aggregates pair the label without parsing it again, and bare once its id was named. */
    bool bare;
    uint32_t tag = gea_pipe_tag(x->g, ev, &x->ids, &bare);
    evpipe_push_spsc(x->apart, ev, tag, bare);
    return 0;
}

static void exact_reset(void *ctx)
{
    exact_t *x = ctx;
    gea_destroy(x->g);
    x->g = gea_create(NULL);
    x->ids = 0;
    x->events = 0;
    memset(&x->feed, 0, sizeof x->feed);
    if (x->apart) evpipe_reset_spsc(x->apart);
    if (!x->a) return;
    aggr_destroy(x->a);
    x->a = aggr_create(&x->ao);
}

/* Raises counter c to v (one writer: the settling worker). */
static void raise_counter(_Atomic uint64_t *c, uint64_t v)
{
    if (v > atomic_load_explicit(c, memory_order_relaxed))
        atomic_store_explicit(c, v, memory_order_relaxed);
}

/* The merge's progress: the bytes of the log it has analysed and their events, for the session's
 * bytes_ingested and events while it settles (never back, when the ordering starts over), told
 * to the session's watcher (the WebSocket feeds' State) at its first step and then a few times a
 * second. */
static void exact_progress(void *ctx, int pass, uint64_t done, uint64_t total)
{
    exact_t *x = ctx;
    (void)total;
    if (pass != 2 || done <= atomic_load_explicit(&x->s->settle_done, memory_order_relaxed)) return;
    raise_counter(&x->s->settle_events, x->events);
    atomic_store_explicit(&x->s->settle_done, done, memory_order_relaxed);
    uint64_t now = server_mono_ns();
    if (x->told_ns && now - x->told_ns < SETTLE_TELL_NS) return; /* the first step at once */
    x->told_ns = now;
    session_tell_watch(x->reg, x->s);
}

/* The consumer's side of the settling pass: the exact aggregates, on their own thread. */
static void pipe_event(void *ctx, const evlog_event_t *ev, uint32_t tag)
{
    aggr_event_tagged(((exact_t *)ctx)->pipe_a, ev, tag);
}

static void pipe_skipped(void *ctx, uint64_t first, uint64_t last, uint64_t n)
{
    aggr_skipped(((exact_t *)ctx)->pipe_a, first, last, n);
}

static void pipe_reset(void *ctx)
{
    exact_t *x = ctx;
    aggr_destroy(x->pipe_a);
    x->pipe_a = aggr_create(&x->ao);
}

/* Ends a session whose oldest bytes are gone with what the live pass knows. */
static void settle_from_live(registry_t *reg, session_t *s)
{
    pthread_mutex_lock(&s->lock);
    report_dispose(&s->final);
    session_forget_totals(s);
    if (s->live)
        report_build(&s->final, gea_output(live_gea(s->live), 0), reg->totals_script, false, 1000);
    s->settled = true;
    pthread_mutex_unlock(&s->lock);
    /* release: `final` is written before readers can see the new state */
    atomic_store_explicit(&s->state, SESSION_DONE, memory_order_release);
    session_save_snapshot(reg, s);
    persist_close(reg->persist, s->pt);
}

/* The exact pass over the saved bytes: the same totals as `liveprof analyze`. When the live pass
 * saw every byte in the exact order without an error its aggregates stay (they are binned sums
 * of the same events), and the exact pass only redoes the totals, reading just the fields they
 * need. */
static void settle(registry_t *reg, session_t *s)
{
    uint64_t gea_only[1024] = {0};
    seg_reader_t *rd = seg_reader_create(&s->pt->log);
    /* The writer has dropped closed segments from the page cache: their bytes come from the disk
     * past it (filling it anew costs more CPU than the analysis itself on some machines), the open
     * segment's through it, read ahead of the merge on a thread of their own. */
    seg_reader_set_direct(rd, true);
    order_source_t src = {.fd = -1,
                          .read = seg_reader_read_full,
                          .read_ctx = rd,
                          .prefetch = ORDER_PREFETCH_DISK,
                          .prefetch_name = "lp-settle-read"};
    char err[256] = "";
    pthread_mutex_lock(&s->pt->log.mu);
    uint64_t start = s->pt->log.start;
    src.len = s->pt->log.end;
    pthread_mutex_unlock(&s->pt->log.mu);
    /* The live aggregates equal the exact ones only when the live pass saw every byte, in the
     * exact order: no event was applied late (the exact order is by time, then file offset,
     * which is the order the reorder window releases in when nothing is late). */
    bool keep_live = s->live && !atomic_load_explicit(&s->direct, memory_order_acquire) &&
                     live_error(s->live) == 0 && live_bytes(s->live) == src.len &&
                     live_late(s->live) == 0;
    exact_t x = {.g = gea_create(NULL),
                 .ao = {.max_memory = server_opts(reg->srv)->aggr_bytes},
                 .s = s,
                 .reg = reg,
                 .told_ns = 0};
    /* The aggregates on a thread of their own when the log is worth it (else in this pass): the
     * pass orders and decodes the log once for both. */
    if (!keep_live && start == 0 && src.len >= SETTLE_APART_MIN) {
        x.pipe_a = aggr_create(&x.ao);
        x.apart = evpipe_create(&(evpipe_sink_t){pipe_event, pipe_reset, &x, pipe_skipped},
                                "lp-settle-aggr");
        if (!x.apart) {
            aggr_destroy(x.pipe_a);
            x.pipe_a = NULL;
        }
    }
    if (!keep_live && !x.apart) x.a = aggr_create(&x.ao);
    evlog_t d;
    int rc = evlog_init(&d, NULL);
    if (start > 0) { /* retention dropped the head: the live pass's results are final */
        evpipe_destroy(x.apart);
        aggr_destroy(x.pipe_a);
        seg_reader_destroy(rd);
        evlog_dispose(&d);
        gea_destroy(x.g);
        aggr_destroy(x.a);
        settle_from_live(reg, s);
        return;
    }
    if (rc < 0) {
        snprintf(err, sizeof err, "cannot start the decoder");
    } else {
        order_stats_t st = {.reset = exact_reset, .progress = exact_progress, .progress_ctx = &x};
        if (keep_live || x.apart) { /* only the totals' fields (the pipe decodes its own) */
            gea_fields(gea_only);
            st.fields = gea_only;
        }
        rc = order_log(&d, &src, exact_event, &x, &st);
        uint8_t head[8];
        const char *packed = rc == LP_ENO_HEADER && src.len >= sizeof head &&
                                     src.read(src.read_ctx, head, sizeof head, 0) == 0
                                 ? evlog_compression(head, sizeof head, NULL)
                                 : NULL;
        if (packed) /* a compressed log: say so, rather than only that no header was found */
            snprintf(err, sizeof err,
                     "%s at byte 0: the upload is %s-compressed; decompress it, then upload it",
                     evlog_error_text(&d), packed);
        else if (rc < 0)
            snprintf(err, sizeof err, "%s at byte %llu", evlog_error_text(&d),
                     (unsigned long long)evlog_error_offset(&d));
        atomic_store_explicit(&s->events, st.events, memory_order_relaxed);
        atomic_store_explicit(&s->consumed, src.len, memory_order_relaxed);
    }
    seg_reader_destroy(rd);
    evlog_dispose(&d);
    /* the totals while the aggregates' thread finishes what is queued for it (a report of many
     * threads takes tens of ms) */
    report_t final;
    report_build(&final, gea_output(x.g, 0), reg->totals_script, false, 1000);
    if (x.apart) { /* wait for the aggregates */
        evpipe_destroy(x.apart);
        x.a = x.pipe_a;
    }
    int io = persist_error(s->pt);
    if (io < 0) { /* the stored log stops where writing failed: that is the error to tell */
        snprintf(err, sizeof err,
                 "the server could not store the whole eventlog: %s; the results cover its "
                 "first %llu bytes",
                 lp_strerror(io), (unsigned long long)src.len);
        rc = io;
    } else if (s->failed_before[0]) { /* as before the restart */
        snprintf(err, sizeof err, "%s", s->failed_before);
        if (rc >= 0) rc = LP_ETRUNCATED;
    }
    pthread_mutex_lock(&s->lock);
    report_dispose(&s->final);
    session_forget_totals(s);
    s->final = final;
    aggr_destroy(s->final_aggr);
    s->final_aggr = x.a;
    s->settled = true;
    if (!keep_live) { /* the exact pass replaces everything the live one knew */
        live_destroy(s->live);
        s->live = NULL;
    }
    if (rc < 0) snprintf(s->error, sizeof s->error, "%s", err);
    pthread_mutex_unlock(&s->lock);
    gea_destroy(x.g);
    /* release: `final` and `error` are written before readers can see the new state */
    atomic_store_explicit(&s->state, rc < 0 ? SESSION_FAILED : SESSION_DONE, memory_order_release);
    session_save_snapshot(reg, s);
    persist_close(reg->persist, s->pt); /* the last segment gets its index */
}

/* True while an upload outruns its live pass: bytes still coming, and more than LIVE_LAG_MAX
 * bytes written beyond what the pass has taken, or more than LIVE_LAG_FAST while they come more
 * than twice as fast as the pass takes them (an upload from this machine, say: it is over before
 * a view would matter, and following its first 32 MiB took a core from the writer and from the
 * settle that replaces the view). The pass then waits instead of taking a core from the upload
 * for a view that the exact pass redoes from the first byte once the upload ends; when the bytes
 * pause it catches up, so a slow or interrupted upload is followed as before. Both rates are over
 * the whole burst, never over one chunk: a chunk lands at once, so a browser's 4 MiB chunks over a
 * network each seem fast for a moment. A link's live session never waits: its live view is the
 * point of it. */
static bool live_waits(registry_t *reg, session_t *s, session_state_t st)
{
    uint64_t taken = atomic_load_explicit(&s->consumed, memory_order_relaxed);
    uint64_t lag = s->seen_end > taken ? s->seen_end - taken : 0;
    uint64_t came = s->seen_end - s->burst_from, went = taken - s->burst_taken;
    bool fast = lag > LIVE_LAG_FAST && came / 2 > went;
    bool wait = st == SESSION_INGESTING && (lag > LIVE_LAG_MAX || fast) &&
                server_mono_ns() - s->seen_grew_ns < LIVE_QUIET_NS;
    if (wait && !s->live_waiting)
        atomic_fetch_add_explicit(&server_stats(reg->srv)->live_waits, 1, memory_order_relaxed);
    s->live_waiting = wait;
    return wait;
}

/* Moves the session's written bytes from its segments into its ring, as far as the ring has room
 * (the worker is the ring's producer as well as its consumer: reading the segments never blocks
 * the HTTP thread). Once the input has ended, or for a whole log stored at once, the exact pass
 * over the saved bytes settles everything: the live pass does not catch up first. The ring is
 * closed when every byte is in. True when it moved something. */
static bool refill(session_t *s)
{
    if (s->ring_closed) return false;
    seg_log_t *l = &s->pt->log;
    pthread_mutex_lock(&l->mu);
    uint64_t start = l->start, end = l->end;
    bool ended = l->ended;
    pthread_mutex_unlock(&l->mu);
    if (end != s->seen_end) {
        uint64_t now = server_mono_ns();
        if (!s->seen_end || now - s->seen_grew_ns >= LIVE_QUIET_NS) { /* a burst begins */
            s->burst_from = end; /* the first bytes seen landed at some time before now */
            s->burst_taken = atomic_load_explicit(&s->consumed, memory_order_relaxed);
        }
        s->seen_end = end;
        s->seen_grew_ns = now;
    }
    /* acquire: pairs with session_store_whole's release */
    bool direct = atomic_load_explicit(&s->direct, memory_order_acquire);
    session_state_t st = session_state(s);
    if (st == SESSION_DONE || st == SESSION_FAILED) return false; /* settled (a snapshot) */
    bool moved = false;
    if ((direct || ended) && s->fed < end) {
        s->fed = end;
        /* the exact pass replaces the live one (it does not see every byte): what is still in
         * the ring is not worth analysing, unless the live pass is all there will be (the head of
         * the log was dropped) */
        s->skip_live = start == 0;
    }
    for (size_t steps = 0; s->fed < end && steps < REFILL_STEPS; steps++) {
        uint8_t *span;
        size_t room;
        ring_reserve_spsc(s->ring, &span, &room);
        if (room == 0) break;
        size_t want = end - s->fed < room ? (size_t)(end - s->fed) : room;
        if (want > REFILL_MAX) want = REFILL_MAX;
        ssize_t r = seg_reader_pread(s->pump_rd, span, want, s->fed);
        if (r <= 0) break;
        ring_commit_spsc(s->ring, (size_t)r);
        s->fed += (uint64_t)r;
        moved = true;
    }
    if (ended && s->fed == end) {
        ring_close_spsc(s->ring);
        s->ring_closed = true;
        moved = true;
    }
    return moved;
}

/* One step on one session; true when it did something. */
static bool work_on(registry_t *reg, session_t *s)
{
    const uint8_t *p;
    size_t n;
    bool did = refill(s);
    ring_peek_spsc(s->ring, &p, &n);
    if (n > 0 && s->live && s->skip_live) {
        ring_consume_spsc(s->ring, n);
        atomic_fetch_add_explicit(&s->consumed, n, memory_order_relaxed);
        did = true;
    } else if (n > 0 && s->live && !live_waits(reg, s, session_state(s))) {
        if (n > FEED_MAX) n = FEED_MAX;
        pthread_mutex_lock(&s->lock);
        live_feed(s->live, p, n);
        uint64_t evs = live_events(s->live);
        pthread_mutex_unlock(&s->lock);
        ring_consume_spsc(s->ring, n);
        atomic_fetch_add_explicit(&s->consumed, n, memory_order_relaxed);
        atomic_store_explicit(&s->events, evs, memory_order_relaxed);
        did = true;
        session_tell_watch(reg, s);
    }
    session_state_t st = session_state(s);
    if (!did && ring_eof_spsc(s->ring) && (st == SESSION_INGESTING || st == SESSION_LIVE)) {
        pthread_mutex_lock(&s->lock);
        if (s->live && !s->skip_live && atomic_load_explicit(&s->consumed, memory_order_relaxed))
            live_finish(s->live);
        pthread_mutex_unlock(&s->lock);
        settle(reg, s);
        ring_drop_pages_idle(s->ring); /* ended and drained: this worker is both its sides */
        http_notify(reg->news);        /* persist the new state */
        session_tell_watch(reg, s);
        did = true;
    }
    return did;
}

void *session_worker_main(void *arg)
{
    worker_t *w = arg;
    /* The analysis is batch work: the scheduler lets the HTTP and WebSocket threads preempt it
     * when they wake, so requests are answered at once even while every core ingests (the
     * workers keep their full share of the processor). */
    server_thread_batch("lp-worker");
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        for (session_t **pp = &w->head; *pp;) {
            session_t *s = *pp;
            if (atomic_load_explicit(&s->deleted, memory_order_acquire)) {
                *pp = s->next_in_worker;
                session_unref(s);
            } else {
                pp = &s->next_in_worker;
            }
        }
        /* Walking the list without the lock is safe: only this thread unlinks nodes, and the
         * HTTP thread only pushes new ones at the head. */
        session_t *first = w->head;
        w->wake = false;
        pthread_mutex_unlock(&w->mu);
        bool did = false;
        for (session_t *s = first; s; s = s->next_in_worker)
            did |= work_on(w->reg, s);
        pthread_mutex_lock(&w->mu);
        if (!did && !w->wake && !w->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}
