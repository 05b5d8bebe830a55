/* The session registry and the worker pool. The HTTP thread hands a session's bytes to the persist
 * thread, which appends them to the session's segments; the owning worker reads them back from
 * there into the session's SPSC ring as the ring has room and drains the ring into the live
 * analysis, so uploads never wait for the disk or the analysis, the HTTP thread never reads
 * segments, and memory stays bounded; when the input has ended the worker settles the session
 * with the exact pass over the saved bytes (the same ordering and analysis as `liveprof
 * analyze`). On start every session comes back from its segments (server/persist.c scans and
 * repairs them). */
#include "session.h"

#include "api.h"
#include "db.h"
#include "err.h"
#include "aggr.h"
#include "gea.h"
#include "live.h"
#include "order.h"
#include "replay.h"
#include "ring.h"
#include "seg_reader.h"
#include "snapshot.h"
#include "script.h"
#include "server.h"
#include "xmalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FEED_MAX (64u << 10)        /* bytes fed per lock hold: keeps readers' waits under a ms */
#define TICK_MS 200                 /* the registry's tick (metadata, retention) */
#define REFILL_MAX (1u << 20)       /* bytes read from the segments into a ring per read */
#define REFILL_STEPS 4              /* reads per refill */
#define SETTLE_APART_MIN (1u << 20) /* logs from this size on settle their aggregates apart */
#define HEAP_MMAP_MIN (64u << 20)   /* allocations from this size on get their own mapping */
#define HEAP_KEEP_FREE (128u << 20) /* free heap kept for reuse rather than returned */
#define COUNTERS_EVERY 25           /* ticks between writes of progress counters (5 s) */

typedef struct worker {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    session_t *head;
    bool wake, stop;
    registry_t *reg;
} worker_t;

struct registry {
    server_t *srv;
    http_server_t *http;
    http_notifier_t *news; /* workers -> HTTP thread: ring room, state changes */
    http_waitq_t *waiting; /* upload chunks held until the segment writer has room */
    script_t *totals_script;
    worker_t *workers;
    int nworkers, next_worker;
    size_t ring_bytes;
    persist_t *persist;
    replays_t *replays;
    retention_t retention;
    session_t **sessions;
    size_t nsessions, sessions_cap;
    upload_t **uploads;
    size_t nuploads, uploads_cap;
    _Atomic(const session_watch_t *) watch; /* told when a session's analysis changed */
    uint64_t ticks;                         /* on_tick calls */
};

const char *session_state_name(session_state_t st)
{
    static const char *const names[] = {"ingesting", "live", "done", "failed"};
    return st <= SESSION_FAILED ? names[st] : "failed";
}

int session_mark_live(session_t *s)
{
    int expect = SESSION_INGESTING;
    /* acq_rel: publishes the state like the worker's own stores; fails once settled */
    return atomic_compare_exchange_strong_explicit(&s->state, &expect, SESSION_LIVE,
                                                   memory_order_acq_rel, memory_order_acquire)
               ? 0
               : -1;
}

session_state_t session_state(const session_t *s)
{
    /* acquire: pairs with the worker's release store after it wrote `error` and `final` */
    return (session_state_t)atomic_load_explicit(&s->state, memory_order_acquire);
}

/* ---- lifetime ------------------------------------------------------------------------------- */

session_t *session_ref(session_t *s)
{
    /* relaxed: a new reference orders nothing; only the last release does */
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void registry_watch(registry_t *reg, const session_watch_t *w)
{
    /* release: the watcher's state is set up before workers can call it */
    atomic_store_explicit(&reg->watch, w, memory_order_release);
}

static void tell_watch(registry_t *reg, session_t *s)
{
    /* acquire: pairs with registry_watch */
    const session_watch_t *w = atomic_load_explicit(&reg->watch, memory_order_acquire);
    if (w) w->fn(w->ctx, s);
}

void session_forget_totals(session_t *s)
{
    for (int k = 0; k < 2; k++) {
        free(s->totals_doc[k]);
        s->totals_doc[k] = NULL;
        s->totals_len[k] = 0;
    }
}

void session_unref(session_t *s)
{
    /* acq_rel: the last owner sees every write the others made before they let go */
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) return;
    live_destroy(s->live);
    aggr_destroy(s->final_aggr);
    ring_destroy(s->ring);
    report_dispose(&s->final);
    session_forget_totals(s);
    if (s->snap) snapshot_dispose(s->snap);
    free(s->snap);
    seg_reader_destroy(s->pump_rd);
    persist_release(s->pt);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

bool session_deleted(const session_t *s)
{
    /* acquire: pairs with session_delete's release */
    return atomic_load_explicit(&s->deleted, memory_order_acquire);
}

static void worker_wake(worker_t *w)
{
    pthread_mutex_lock(&w->mu);
    w->wake = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* ---- worker ------------------------------------------------------------------------------- */

typedef struct exact {
    gea_t *g;
    aggr_t *a;
    aggr_opts_t ao;
} exact_t;

static int exact_event(void *ctx, const evlog_event_t *ev)
{
    exact_t *x = ctx;
    gea_event(x->g, ev);
    if (x->a) aggr_event(x->a, ev);
    return 0;
}

static int aggr_only_event(void *ctx, const evlog_event_t *ev)
{
    aggr_event(((exact_t *)ctx)->a, ev);
    return 0;
}

static void aggr_only_reset(void *ctx)
{
    exact_t *x = ctx;
    aggr_destroy(x->a);
    x->a = aggr_create(&x->ao);
}

/* The exact aggregates of a settling session, made on a thread of their own while the worker
 * redoes the totals: two passes over the saved bytes at once, so that settling takes the longer
 * of the two rather than their sum. */
typedef struct aggr_pass {
    seg_log_t *log;
    uint64_t len;
    exact_t x; /* x.a only */
} aggr_pass_t;

static void *aggr_pass_main(void *arg)
{
    aggr_pass_t *p = arg;
    pthread_setname_np(pthread_self(), "lp-settle-aggr"); /* batch and nice as its worker */
    evlog_t d;
    if (evlog_init(&d, NULL) == 0) {
        seg_reader_t *rd = seg_reader_create(p->log);
        order_source_t src = {
            .fd = -1, .read = seg_reader_read_full, .read_ctx = rd, .len = p->len};
        order_stats_t st = {.reset = aggr_only_reset, .progress_ctx = &p->x};
        order_log(&d, &src, aggr_only_event, &p->x, &st); /* an error: the totals pass has it */
        seg_reader_destroy(rd);
    }
    evlog_dispose(&d);
    return NULL;
}

static void exact_reset(void *ctx)
{
    exact_t *x = ctx;
    gea_destroy(x->g);
    x->g = gea_create(NULL);
    if (!x->a) return;
    aggr_destroy(x->a);
    x->a = aggr_create(&x->ao);
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
    order_source_t src = {.fd = -1, .read = seg_reader_read_full, .read_ctx = rd};
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
    exact_t x = {.g = gea_create(NULL), .ao = {.max_memory = server_opts(reg->srv)->aggr_bytes}};
    /* the aggregates on a thread of their own when the log is worth it (else in this pass) */
    aggr_pass_t ap = {.log = &s->pt->log, .len = src.len, .x = {.ao = x.ao}};
    pthread_t ath;
    bool apart = false;
    if (!keep_live && start == 0 && src.len >= SETTLE_APART_MIN) {
        ap.x.a = aggr_create(&ap.x.ao);
        apart = pthread_create(&ath, NULL, aggr_pass_main, &ap) == 0;
        if (!apart) aggr_destroy(ap.x.a);
    }
    if (!keep_live && !apart) x.a = aggr_create(&x.ao);
    evlog_t d;
    int rc = evlog_init(&d, NULL);
    if (start > 0) { /* retention dropped the head: the live pass's results are final */
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
        order_stats_t st = {.reset = exact_reset, .progress_ctx = &x};
        if (keep_live || apart) {
            gea_fields(gea_only);
            st.fields = gea_only;
        }
        rc = order_log(&d, &src, exact_event, &x, &st);
        if (rc < 0)
            snprintf(err, sizeof err, "%s at byte %llu", evlog_error_text(&d),
                     (unsigned long long)evlog_error_offset(&d));
        atomic_store_explicit(&s->events, st.events, memory_order_relaxed);
        atomic_store_explicit(&s->consumed, src.len, memory_order_relaxed);
    }
    seg_reader_destroy(rd);
    evlog_dispose(&d);
    if (apart) {
        pthread_join(ath, NULL);
        x.a = ap.x.a;
    }
    pthread_mutex_lock(&s->lock);
    report_dispose(&s->final);
    session_forget_totals(s);
    report_build(&s->final, gea_output(x.g, 0), reg->totals_script, false, 1000);
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
    } else if (n > 0 && s->live) {
        if (n > FEED_MAX) n = FEED_MAX;
        pthread_mutex_lock(&s->lock);
        live_feed(s->live, p, n);
        uint64_t evs = live_events(s->live);
        pthread_mutex_unlock(&s->lock);
        ring_consume_spsc(s->ring, n);
        atomic_fetch_add_explicit(&s->consumed, n, memory_order_relaxed);
        atomic_store_explicit(&s->events, evs, memory_order_relaxed);
        did = true;
        tell_watch(reg, s);
    }
    session_state_t st = session_state(s);
    if (!did && ring_eof_spsc(s->ring) && (st == SESSION_INGESTING || st == SESSION_LIVE)) {
        pthread_mutex_lock(&s->lock);
        if (s->live && !s->skip_live && atomic_load_explicit(&s->consumed, memory_order_relaxed))
            live_finish(s->live);
        pthread_mutex_unlock(&s->lock);
        settle(reg, s);
        http_notify(reg->news); /* persist the new state */
        tell_watch(reg, s);
        did = true;
    }
    return did;
}

static void *worker_main(void *arg)
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

/* ---- HTTP thread: news from the workers ---------------------------------------------------- */

static void save_meta(registry_t *reg, bool counters);

/* A worker settled a session: its new state goes to the database now. */
static void on_news(void *ctx)
{
    save_meta(ctx, false);
}

/* The persist thread wrote bytes of a session owned by worker `tag`: it moves them on. */
static void on_written(void *ctx, int tag)
{
    registry_t *reg = ctx;
    if (tag >= 0 && tag < reg->nworkers) worker_wake(&reg->workers[tag]);
}

/* The segment writer has room again: held chunks go on. Writer thread. */
static void on_room(void *ctx)
{
    http_waitq_wake(((registry_t *)ctx)->waiting);
}

static void on_tick(void *ctx)
{
    registry_t *reg = ctx;
    http_waitq_wake(reg->waiting); /* a chunk held just as the room came is not forgotten */
    /* Progress counters reach the database every COUNTERS_EVERY ticks only: each commit syncs
     * the database on this thread, which would otherwise delay every request several times a
     * second during an ingest (a restart analyses the sessions again anyway). */
    save_meta(reg, ++reg->ticks % COUNTERS_EVERY == 0);
    retention_tick(ctx);
}

/* ---- registry ----------------------------------------------------------------------------- */

void session_sync_meta(session_t *s)
{
    session_state_t st = session_state(s);
    snprintf(s->meta.state, sizeof s->meta.state, "%s", session_state_name(st));
    uint64_t consumed = atomic_load_explicit(&s->consumed, memory_order_relaxed);
    uint64_t durable = session_durable(s);
    /* never claim more than the disk holds */
    s->meta.bytes_ingested = consumed < durable ? consumed : durable;
    s->meta.events = atomic_load_explicit(&s->events, memory_order_relaxed);
    if (st == SESSION_FAILED) snprintf(s->meta.error, sizeof s->meta.error, "%s", s->error);
}

const script_t *registry_totals_script(const registry_t *reg)
{
    return reg->totals_script;
}

/* Writes the sessions whose metadata changed, all in one transaction (one commit, so one sync of
 * the database for any number of sessions). With `counters`, a change of the progress counters
 * alone (bytes, events) is written too; without, only other changes (state, name, error...). */
static void save_meta(registry_t *reg, bool counters)
{
    db_t *db = server_db(reg->srv);
    /* What the worker derives (state, error, progress counters) commits without waiting for the
     * disk: a restart derives it again from the segments and snapshots, and the HTTP thread does
     * not stall on a sync while a busy disk takes an ingest's segments and a settled session's
     * snapshot. What a user set (name, visibility) syncs. */
    bool any = false, sync = false;
    for (size_t i = 0; i < reg->nsessions; i++) {
        session_t *s = reg->sessions[i];
        session_sync_meta(s);
        s->saving = false;
        if (memcmp(&s->meta, &s->saved, sizeof s->meta) == 0) continue;
        session_meta_t m = s->meta;
        m.bytes_ingested = s->saved.bytes_ingested;
        m.events = s->saved.events;
        bool only_counters = memcmp(&m, &s->saved, sizeof m) == 0;
        if (only_counters && !counters) continue;
        s->saving = true;
        any = true;
        sync |= strcmp(s->meta.name, s->saved.name) != 0 || s->meta.is_public != s->saved.is_public;
    }
    if (!any) return;
    if ((sync ? db_begin(db) : db_begin_lazy(db)) < 0) {
        for (size_t i = 0; i < reg->nsessions; i++)
            reg->sessions[i]->saving = false;
        return;
    }
    for (size_t i = 0; i < reg->nsessions; i++) {
        session_t *s = reg->sessions[i];
        if (s->saving) s->saving = session_meta_update(db, &s->meta) == 0;
    }
    if (db_commit(db) < 0) { /* nothing was written: the next call tries again */
        db_rollback(db);
        return;
    }
    for (size_t i = 0; i < reg->nsessions; i++)
        if (reg->sessions[i]->saving) reg->sessions[i]->saved = reg->sessions[i]->meta;
}

void registry_persist(registry_t *reg)
{
    save_meta(reg, true);
}

static char *session_dir(registry_t *reg, const char *id, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/sessions/%s", server_opts(reg->srv)->data_dir, id);
    return buf;
}

/* Builds the in-memory session for `m`: its segments are scanned (and repaired) or created. */
static session_t *session_new(registry_t *reg, const session_meta_t *m, char *err, size_t cap)
{
    char dir[PATH_MAX + 64], who[64];
    session_dir(reg, m->id, dir, sizeof dir);
    snprintf(who, sizeof who, "session %s", m->id);
    persist_target_t *pt = persist_open(reg->persist, dir, who, err, cap);
    if (!pt) return NULL;
    session_t *s = xcalloc(1, sizeof *s);
    s->meta = *m;
    s->saved = *m;
    s->pt = pt;
    s->pump_rd = seg_reader_create(&pt->log);
    s->received = seg_log_end(&pt->log);
    pthread_mutex_init(&s->lock, NULL);
    live_opts_t lo = {.aggr = {.max_memory = server_opts(reg->srv)->aggr_bytes}};
    s->live = live_create(&lo);
    s->ring = ring_create(reg->ring_bytes);
    atomic_init(&s->state, SESSION_INGESTING);
    atomic_init(&s->refs, 2);
    s->worker = reg->next_worker++ % reg->nworkers;
    pt->tag = s->worker;
    xgrow((void **)&reg->sessions, &reg->sessions_cap, reg->nsessions + 1, sizeof *reg->sessions);
    reg->sessions[reg->nsessions++] = s;
    return s;
}

/* Hands a session that is set up to its worker (the worker's list holds one reference). */
static void session_start(registry_t *reg, session_t *s)
{
    worker_t *w = &reg->workers[s->worker];
    pthread_mutex_lock(&w->mu);
    s->next_in_worker = w->head;
    w->head = s;
    w->wake = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

session_t *session_create(registry_t *reg, const auth_t *owner, const char *name, char *err,
                          size_t cap)
{
    session_meta_t m;
    memset(&m, 0, sizeof m);
    uint8_t rnd[16];
    randombytes_buf(rnd, sizeof rnd);
    for (int i = 0; i < 16; i++)
        snprintf(m.id + 2 * i, 3, "%02x", rnd[i]);
    snprintf(m.name, sizeof m.name, "%s", name && *name ? name : m.id);
    m.owner = owner->user_id;
    m.is_public = owner->role == AUTH_GUEST;
    snprintf(m.state, sizeof m.state, "ingesting");
    m.created = (int64_t)time(NULL);
    if (session_meta_insert(server_db(reg->srv), &m) < 0) {
        snprintf(err, cap, "cannot record the session");
        return NULL;
    }
    session_t *s = session_new(reg, &m, err, cap);
    if (!s)
        session_meta_delete(server_db(reg->srv), m.id);
    else
        session_start(reg, s);
    atomic_fetch_add_explicit(&server_stats(reg->srv)->sessions_created, 1, memory_order_relaxed);
    return s;
}

session_t *session_find(registry_t *reg, const char *id)
{
    for (size_t i = 0; i < reg->nsessions; i++)
        if (!strcmp(reg->sessions[i]->meta.id, id)) return reg->sessions[i];
    return NULL;
}

session_t **session_all(registry_t *reg, size_t *n)
{
    *n = reg->nsessions;
    return reg->sessions;
}

static int append(registry_t *reg, session_t *s, const void *p, size_t n, bool may_refuse)
{
    int rc = persist_append(reg->persist, s->pt, p, n, may_refuse);
    if (rc < 0) return rc;
    s->received += n;
    atomic_fetch_add_explicit(&server_stats(reg->srv)->bytes_received, n, memory_order_relaxed);
    return 0;
}

int session_append(registry_t *reg, session_t *s, const void *p, size_t n)
{
    return append(reg, s, p, n, true);
}

bool session_append_or_hold(registry_t *reg, http_req_t *r, http_handler_fn fn)
{
    if (persist_room(reg->persist, r->body_len)) return true;
    http_waitq_hold(reg->waiting, r, fn);
    atomic_fetch_add_explicit(&server_stats(reg->srv)->chunks_held, 1, memory_order_relaxed);
    return false;
}

uint64_t session_durable(const session_t *s)
{
    return persist_durable(s->pt);
}

uint64_t session_flush(registry_t *reg, session_t *s)
{
    if (session_durable(s) < s->received) persist_flush_target(reg->persist, s->pt, 2000);
    return session_durable(s);
}

replays_t *registry_replays(registry_t *reg)
{
    return reg->replays;
}

server_t *registry_server(registry_t *reg)
{
    return reg->srv;
}

retention_t *registry_retention(registry_t *reg)
{
    return &reg->retention;
}

persist_t *registry_persister(registry_t *reg)
{
    return reg->persist;
}

const aggr_t *session_aggr(const session_t *s)
{
    if (s->settled && s->final_aggr) return s->final_aggr;
    return s->live ? live_aggr(s->live) : NULL;
}

int session_store_whole(registry_t *reg, session_t *s, const void *p, size_t n)
{
    /* release: pairs with the worker's acquire in refill */
    atomic_store_explicit(&s->direct, true, memory_order_release);
    int rc = append(reg, s, p, n, false); /* the body is in memory already: never refused */
    session_end_input(reg, s);
    return rc;
}

void session_end_input(registry_t *reg, session_t *s)
{
    if (!s->input_done) persist_end(reg->persist, s->pt);
    s->input_done = true;
}

void session_delete(registry_t *reg, session_t *s)
{
    persist_drop(reg->persist, s->pt, true); /* the persist thread removes the directory */
    session_meta_delete(server_db(reg->srv), s->meta.id);
    for (size_t i = 0; i < reg->nuploads;)
        if (reg->uploads[i]->session == s) {
            free(reg->uploads[i]);
            reg->uploads[i] = reg->uploads[--reg->nuploads];
        } else {
            i++;
        }
    for (size_t i = 0; i < reg->nsessions; i++)
        if (reg->sessions[i] == s) {
            memmove(reg->sessions + i, reg->sessions + i + 1,
                    (reg->nsessions - i - 1) * sizeof *reg->sessions);
            reg->nsessions--;
            break;
        }
    /* release: the worker that sees the flag also sees everything before it */
    atomic_store_explicit(&s->deleted, true, memory_order_release);
    worker_wake(&reg->workers[s->worker]);
    session_unref(s);
}

static upload_t *upload_restore(registry_t *reg, session_t *s, const char *id)
{
    upload_t *u = xcalloc(1, sizeof *u);
    snprintf(u->id, sizeof u->id, "%s", id);
    u->session = s;
    xgrow((void **)&reg->uploads, &reg->uploads_cap, reg->nuploads + 1, sizeof *reg->uploads);
    reg->uploads[reg->nuploads++] = u;
    return u;
}

upload_t *upload_create(registry_t *reg, session_t *s)
{
    char id[33];
    uint8_t rnd[16];
    randombytes_buf(rnd, sizeof rnd);
    for (int i = 0; i < 16; i++)
        snprintf(id + 2 * i, 3, "%02x", rnd[i]);
    persist_record(reg->persist, s->pt, SEG_REC_UPLOAD, id, 32);
    persist_flush_target(reg->persist, s->pt, 2000); /* the id survives a crash first */
    return upload_restore(reg, s, id);
}

upload_t *session_upload(registry_t *reg, session_t *s)
{
    for (size_t i = 0; i < reg->nuploads; i++)
        if (reg->uploads[i]->session == s) return reg->uploads[i];
    return NULL;
}

/* A session directory of an older version holds raw.eventlog: its bytes move into segments. */
static void migrate_raw(registry_t *reg, session_t *s)
{
    char path[PATH_MAX + 96];
    snprintf(path, sizeof path, "%s/raw.eventlog", s->pt->log.dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    uint8_t *buf = xmalloc(SEG_CHUNK_MAX);
    ssize_t k;
    while ((k = read(fd, buf, SEG_CHUNK_MAX)) > 0) {
        append(reg, s, buf, (size_t)k, false);
        if (session_durable(s) + (64u << 20) < s->received) session_flush(reg, s);
    }
    close(fd);
    free(buf);
    persist_end(reg->persist, s->pt); /* older versions analysed every session as finished */
    while (session_durable(s) < s->received || !s->pt->log.ended)
        if (!persist_flush(reg->persist, 2000) && atomic_load(&s->pt->failed)) break;
    if (session_durable(s) == s->received) unlink(path);
    fprintf(stderr, "serve: session %s: raw.eventlog moved into segments (%llu bytes)\n",
            s->meta.id, (unsigned long long)s->received);
}

upload_t *upload_find(registry_t *reg, const char *id)
{
    for (size_t i = 0; i < reg->nuploads; i++)
        if (!strcmp(reg->uploads[i]->id, id)) return reg->uploads[i];
    return NULL;
}

/* Brings one session back from its segments (and a data directory of an older version, with a
 * raw.eventlog file, into segments). */
static void load_one(void *ctx, const session_meta_t *m)
{
    registry_t *reg = ctx;
    char err[256];
    session_t *s = session_new(reg, m, err, sizeof err);
    if (!s) {
        fprintf(stderr, "serve: session %s not restored: %s\n", m->id, err);
        return;
    }
    seg_log_t *l = &s->pt->log;
    if (s->received == 0 && !l->ended) migrate_raw(reg, s);
    if (l->upload[0]) {
        upload_t *u = upload_restore(reg, s, l->upload);
        u->offset = s->received;
        u->finished = l->ended;
    }
    server_stats_t *st = server_stats(reg->srv);
    if (session_restore_snapshot(reg, s)) {
        if (l->start == 0)
            atomic_fetch_add_explicit(&st->sessions_resumed, 1, memory_order_relaxed);
    } else if (s->received > l->start) { /* analysed again from the segments */
        atomic_fetch_add_explicit(&st->sessions_reanalysed, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&st->reanalysed_bytes, s->received - l->start,
                                  memory_order_relaxed);
    }
    if (session_state(s) < SESSION_DONE && l->ended) {
        s->input_done = true;
        atomic_store_explicit(&s->direct, true, memory_order_relaxed); /* before session_start */
    }
    session_start(reg, s);
}

registry_t *registry_create(server_t *srv, http_server_t *http, int workers, size_t ring_bytes)
{
    /* Every upload chunk passes through large buffers (the request body, its copy for the
     * persist thread). By default glibc maps each one afresh and unmaps it when freed, so every
     * page of every chunk faults on first touch, which costs more than the copies themselves;
     * served from the heap and kept there once freed, they reuse the same pages (the memory kept
     * is bounded by HEAP_KEEP_FREE plus what is in use). */
    mallopt(M_MMAP_THRESHOLD, HEAP_MMAP_MIN);
    mallopt(M_TRIM_THRESHOLD, HEAP_KEEP_FREE);
    registry_t *reg = xcalloc(1, sizeof *reg);
    reg->srv = srv;
    reg->http = http;
    reg->ring_bytes = ring_bytes;
    reg->totals_script = script_create();
    script_parse_default(reg->totals_script, SCRIPT_DEFAULT_TOTALS);
    reg->nworkers = workers > 0 ? workers : 1;
    reg->workers = xcalloc((size_t)reg->nworkers, sizeof *reg->workers);
    for (int i = 0; i < reg->nworkers; i++) {
        worker_t *w = &reg->workers[i];
        w->reg = reg;
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
        pthread_create(&w->thread, NULL, worker_main, w);
    }
    reg->news = http_notifier_create(http, on_news, reg);
    reg->waiting = http_waitq_create(http);
    const server_opts_t *so = server_opts(srv);
    persist_opts_t po = {.fsync_ms = so->fsync_ms,
                         .soft_queued = (size_t)so->write_queue,
                         .seg = {.max_bytes = so->seg_bytes,
                                 .max_age_ns = so->seg_age_s * 1000000000ull,
                                 .zstd_level = so->zstd_level},
                         .notify = on_written,
                         .notify_ctx = reg,
                         .room = on_room,
                         .room_ctx = reg};
    reg->persist = persist_create(&po);
    reg->retention =
        (retention_t){so->retain_age_s, so->retain_session_bytes, so->retain_total_bytes};
    retention_load(reg);
    http_every(http, TICK_MS, on_tick, reg);
    reg->replays = replays_create(reg, http);
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/sessions", server_opts(srv)->data_dir);
    mkdir(dir, 0700);
    session_meta_load_all(server_db(srv), load_one, reg);
    return reg;
}

void registry_destroy(registry_t *reg)
{
    if (!reg) return;
    replays_destroy(reg->replays);
    for (int i = 0; i < reg->nworkers; i++) {
        worker_t *w = &reg->workers[i];
        pthread_mutex_lock(&w->mu);
        w->stop = true;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
        for (session_t *s = w->head, *n; s; s = n) {
            n = s->next_in_worker;
            session_unref(s);
        }
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
    }
    persist_destroy(reg->persist); /* everything queued is written and synced */
    registry_persist(reg);
    for (size_t i = 0; i < reg->nsessions; i++)
        session_unref(reg->sessions[i]);
    for (size_t i = 0; i < reg->nuploads; i++)
        free(reg->uploads[i]);
    http_notifier_destroy(reg->news);
    http_waitq_destroy(reg->waiting);
    script_destroy(reg->totals_script);
    free(reg->sessions);
    free(reg->uploads);
    free(reg->workers);
    free(reg->retention.sessions);
    free(reg);
}
