/* The session registry: sessions created, found, fed, deleted and restored, their metadata kept
 * in the database, and the worker pool they are spread over (server/session_worker.c). The HTTP
 * thread hands a session's bytes to the persist thread, which appends them to the session's
 * segments, so uploads never wait for the disk or the analysis. On start every session comes
 * back from its segments (server/persist.c scans and repairs them). */
#include "session_int.h"

#include "api.h"
#include "db.h"
#include "err.h"
#include "aggr.h"
#include "live.h"
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

#define TICK_MS 200                 /* the registry's tick (metadata, retention) */
#define HEAP_MMAP_MIN (64u << 20)   /* allocations from this size on get their own mapping */
#define HEAP_KEEP_FREE (128u << 20) /* free heap kept for reuse rather than returned */
#define COUNTERS_EVERY 25           /* ticks between writes of progress counters (5 s) */

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

void session_tell_watch(registry_t *reg, session_t *s)
{
    /* acquire: pairs with registry_watch */
    const session_watch_t *w = atomic_load_explicit(&reg->watch, memory_order_acquire);
    if (w) w->fn(w->ctx, s);
}

void session_forget_totals(session_t *s)
{
    for (int k = 0; k < 2; k++) {
        blob_unref(s->totals_doc[k]); /* a response may still hold it */
        s->totals_doc[k] = NULL;
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

/* The further of the live pass's counter and the settling pass's (relaxed: counters). */
static uint64_t further(const _Atomic uint64_t *live, const _Atomic uint64_t *settled)
{
    uint64_t a = atomic_load_explicit(live, memory_order_relaxed);
    uint64_t b = atomic_load_explicit(settled, memory_order_relaxed);
    return a > b ? a : b;
}

uint64_t session_analysed(const session_t *s)
{
    return further(&s->consumed, &s->settle_done);
}

uint64_t session_events_analysed(const session_t *s)
{
    return further(&s->events, &s->settle_events);
}

void session_sync_meta(session_t *s)
{
    session_state_t st = session_state(s);
    snprintf(s->meta.state, sizeof s->meta.state, "%s", session_state_name(st));
    uint64_t analysed = session_analysed(s);
    uint64_t durable = session_durable(s);
    /* never claim more than the disk holds */
    s->meta.bytes_ingested = analysed < durable ? analysed : durable;
    s->meta.events = session_events_analysed(s);
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
    int rc = persist_error(s->pt); /* its segments failed: nothing more is taken */
    if (rc == 0) rc = persist_append(reg->persist, s->pt, p, n, may_refuse);
    if (rc < 0) return rc;
    s->received += n;
    atomic_fetch_add_explicit(&server_stats(reg->srv)->bytes_received, n, memory_order_relaxed);
    return 0;
}

int session_append(registry_t *reg, session_t *s, const void *p, size_t n)
{
    return append(reg, s, p, n, true);
}

bool session_room(registry_t *reg, size_t n)
{
    return persist_room(reg->persist, n);
}

bool session_append_or_hold(registry_t *reg, http_req_t *r, http_handler_fn fn)
{
    if (session_room(reg, r->body_len)) return true;
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
    /* A session that failed before its input ended (its writes failed: a full disk, say) stays
     * failed: its input ends now (its upload takes no more) and it settles with the same error,
     * rather than waiting as `ingesting` for bytes after a hole. */
    bool failed = !l->ended && !strcmp(m->state, session_state_name(SESSION_FAILED));
    if (failed) {
        snprintf(s->failed_before, sizeof s->failed_before, "%s",
                 m->error[0] ? m->error : "the session had failed before the server restarted");
        persist_end(reg->persist, s->pt);
    }
    if (l->upload[0]) {
        upload_t *u = upload_restore(reg, s, l->upload);
        u->offset = s->received;
        u->finished = l->ended || failed;
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
    if (session_state(s) < SESSION_DONE && (l->ended || failed)) {
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
        pthread_create(&w->thread, NULL, session_worker_main, w);
    }
    reg->news = http_notifier_create(http, on_news, reg);
    reg->waiting = http_waitq_create(http);
    const server_opts_t *so = server_opts(srv);
    persist_opts_t po = {.fsync_ms = so->fsync_ms,
                         .soft_queued = (size_t)so->write_queue,
                         .max_queued = (size_t)so->write_queue * 8,
                         .seg = {.max_bytes = so->seg_bytes,
                                 .max_age_ns = so->seg_age_s * 1000000000ull,
                                 .zstd_level = so->zstd_level,
                                 .drop_closed = true},
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
