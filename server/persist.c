/* The segment writer thread (server/persist.h): a mutex-guarded FIFO of jobs from any thread,
 * executed in order on one thread, with a group commit (fdatasync of every target written since
 * the last one) every fsync interval or when a caller asks to flush. */
#include "persist.h"

#include "blockpool.h"
#include "err.h"
#include "server.h"
#include "xmalloc.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum job_kind { J_ADD, J_APPEND, J_RECORD, J_END, J_CLOSE, J_DROP, J_DROP_REMOVE };

/* Free blocks kept for reuse: what the soft bound (32 MiB by default) holds, plus one, so that
 * uploads that wait for room reuse mapped memory only. */
#define POOL_KEEP 18

typedef struct job {
    struct job *next;
    persist_target_t *t;
    int kind, type;
    size_t len;
    size_t raw_len; /* a record compressed by its caller: its size once decompressed (else 0) */
    uint8_t *data;  /* the copy: after the job, in its block or its heap chunk */
    uint8_t *block; /* the pool block the job heads (an append), or NULL (the heap) */
} job_t;

struct persist {
    persist_opts_t o;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv, done_cv;
    job_t *head, *tail;
    bool stop;
    uint64_t flush_asked, flush_done; /* flush generations (under mu) */
    bool flush_all;                   /* a flush asked for every target (under mu) */
    _Atomic uint64_t queued;          /* bytes in the queue (relaxed: a counter) */
    persist_target_t **targets;       /* targets with a writer (thread only) */
    blockpool_t *pool;                /* the appends' copies */
    size_t ntargets, targets_cap;
};

static void target_unref(persist_target_t *t)
{
    /* acq_rel: the last owner sees every write the other made before letting go */
    if (!t || atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1) return;
    seg_writer_destroy(t->w);
    seg_log_dispose(&t->log);
    free(t);
}

persist_target_t *persist_retain(persist_target_t *t)
{
    /* relaxed: the caller holds a reference already */
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    return t;
}

void persist_release(persist_target_t *t)
{
    target_unref(t);
}

uint64_t persist_durable(const persist_target_t *t)
{
    /* acquire: pairs with the thread's release after the fdatasync */
    return atomic_load_explicit(&t->durable, memory_order_acquire);
}

size_t persist_pool_blocks(persist_t *p)
{
    return blockpool_mapped(p->pool);
}

/* The room for bytes in a block after the job that heads it (16-byte aligned). */
#define JOB_HEAD ((sizeof(job_t) + 15) & ~(size_t)15)
#define BLOCK_DATA (BLOCKPOOL_BLOCK - JOB_HEAD)

/* A job with the target referenced: heading a pool block (an append's bytes follow it in the
 * block), or on the heap with room for n bytes after it. A big append's job never comes from the
 * heap: an upload chunk's copies, made on the HTTP thread and freed on the writer thread, would
 * split the HTTP thread's heap so that it grows chunk after chunk. A small one (a live unit)
 * does: a 2 MiB block for each would keep the pool's mappings for what a few pages hold. */
#define SMALL_APPEND (128u << 10)
static job_t *job_new(persist_target_t *t, int kind, int type, size_t n, uint8_t *block)
{
    job_t *j = block ? (job_t *)block : xmalloc(sizeof *j + n);
    /* relaxed: the caller holds a reference already; the job's keeps t alive until it ran */
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    j->next = NULL;
    j->t = t;
    j->kind = kind;
    j->type = type;
    j->len = n;
    j->raw_len = 0;
    j->block = block;
    j->data = block ? block + JOB_HEAD : (uint8_t *)(j + 1);
    return j;
}

/* Links the chain first..last at the queue's tail, at once, and wakes the thread. */
static void link_jobs(persist_t *p, job_t *first, job_t *last)
{
    pthread_mutex_lock(&p->mu);
    if (p->tail)
        p->tail->next = first;
    else
        p->head = first;
    p->tail = last;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* Queues a job with a copy of n bytes at b (raw_len: see job_t). */
static void enqueue(persist_t *p, persist_target_t *t, int kind, int type, const void *b, size_t n,
                    size_t raw_len)
{
    job_t *j = job_new(t, kind, type, n, NULL);
    if (n) memcpy(j->data, b, n);
    j->raw_len = raw_len;
    link_jobs(p, j, j);
}

bool persist_room(const persist_t *p, size_t n)
{
    uint64_t q = atomic_load_explicit(&p->queued, memory_order_relaxed);
    return q == 0 || q + n <= p->o.soft_queued;
}

int persist_append(persist_t *p, persist_target_t *t, const void *b, size_t n, bool may_refuse)
{
    if (may_refuse &&
        atomic_load_explicit(&p->queued, memory_order_relaxed) + n > p->o.max_queued &&
        atomic_load_explicit(&p->queued, memory_order_relaxed) > 0)
        return LP_ERANGE;
    if (n == 0) return 0;
    atomic_fetch_add_explicit(&p->queued, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->queued, n, memory_order_relaxed);
    if (n < SMALL_APPEND) {
        enqueue(p, t, J_APPEND, 0, b, n, 0);
        return 0;
    }
    /* the copy goes to pool blocks (mapped already, mostly), one job each, linked as one; a
     * small tail to the heap, as a small append does: a 2 MiB chunk fills a block but for the
     * job's head, and a second block for those few bytes doubled the blocks a queue held, past
     * what the pool keeps, so that blocks were unmapped and mapped afresh on the HTTP thread */
    job_t *first = NULL, *last = NULL;
    for (size_t off = 0; off < n; off += BLOCK_DATA) {
        size_t k = n - off < BLOCK_DATA ? n - off : BLOCK_DATA;
        bool tail = off > 0 && k < SMALL_APPEND;
        job_t *j = job_new(t, J_APPEND, 0, k, tail ? NULL : blockpool_get(p->pool));
        memcpy(j->data, (const uint8_t *)b + off, k);
        if (last)
            last->next = j;
        else
            first = j;
        last = j;
    }
    link_jobs(p, first, last);
    return 0;
}

void persist_record(persist_t *p, persist_target_t *t, int type, const void *b, size_t n)
{
    enqueue(p, t, J_RECORD, type, b, n, 0);
}

void persist_record_packed(persist_t *p, persist_target_t *t, int type, const void *z, size_t n,
                           size_t raw_len)
{
    enqueue(p, t, J_RECORD, type, z, n, raw_len);
}

void persist_end(persist_t *p, persist_target_t *t)
{
    enqueue(p, t, J_END, 0, NULL, 0, 0);
}

void persist_close(persist_t *p, persist_target_t *t)
{
    enqueue(p, t, J_CLOSE, 0, NULL, 0, 0);
}

void persist_drop(persist_t *p, persist_target_t *t, bool remove)
{
    enqueue(p, t, remove ? J_DROP_REMOVE : J_DROP, 0, NULL, 0, 0);
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char path[PATH_MAX + 300];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (e->d_type == DT_DIR)
                remove_tree(path);
            else
                unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* Notes the target's first write error and says it once. The target is then given up: its log
 * ends where it stands (seg_writer_abandon), so that its session settles with what it holds and
 * the error, whether or not its input ever ends. */
static void io_failed(persist_target_t *t, const char *what, int rc)
{
    int none = 0;
    if (!atomic_compare_exchange_strong_explicit(&t->failed, &none, rc, memory_order_relaxed,
                                                 memory_order_relaxed))
        return;
    fprintf(stderr, "serve: %s: %s failed: %s; nothing more of this session is stored\n",
            t->log.dir, what, lp_strerror(rc));
    seg_writer_abandon(t->w);
}

int persist_error(const persist_target_t *t)
{
    return atomic_load_explicit(&t->failed, memory_order_relaxed);
}

static void run_job(persist_t *p, job_t *j)
{
    persist_target_t *t = j->t;
    int rc = 0;
    if (!t->w && j->kind != J_DROP && j->kind != J_DROP_REMOVE) { /* dropped already */
        if (j->kind == J_APPEND) {
            atomic_fetch_sub_explicit(&t->queued, j->len, memory_order_relaxed);
            atomic_fetch_sub_explicit(&p->queued, j->len, memory_order_relaxed);
        }
        return;
    }
    switch (j->kind) {
    case J_ADD:
        xgrow((void **)&p->targets, &p->targets_cap, p->ntargets + 1, sizeof *p->targets);
        p->targets[p->ntargets++] = t;
        break;
    case J_APPEND: /* after a failure, never: the stored stream would have a hole */
        if (!persist_error(t) && (rc = seg_writer_append(t->w, j->data, j->len)) < 0)
            io_failed(t, "writing a chunk", rc);
        atomic_fetch_sub_explicit(&t->queued, j->len, memory_order_relaxed);
        atomic_fetch_sub_explicit(&p->queued, j->len, memory_order_relaxed);
        if (p->o.notify) p->o.notify(p->o.notify_ctx, t->tag);
        break;
    case J_RECORD:
        if (!persist_error(t) &&
            (rc = j->raw_len ? seg_writer_record_packed(t->w, j->type, j->data, j->len, j->raw_len)
                             : seg_writer_record(t->w, j->type, j->data, j->len)) < 0)
            io_failed(t, "writing a record", rc);
        break;
    case J_END:
        if (!persist_error(t) && (rc = seg_writer_end(t->w)) < 0)
            io_failed(t, "writing the end", rc);
        if (p->o.notify) p->o.notify(p->o.notify_ctx, t->tag);
        break;
    case J_CLOSE:
        if ((rc = seg_writer_close(t->w)) < 0) io_failed(t, "closing a segment", rc);
        break;
    case J_DROP:
    case J_DROP_REMOVE:
        for (size_t i = 0; i < p->ntargets; i++)
            if (p->targets[i] == t) {
                p->targets[i] = p->targets[--p->ntargets];
                break;
            }
        if (j->kind == J_DROP_REMOVE) {
            seg_writer_destroy(t->w);
            t->w = NULL;
            remove_tree(t->log.dir);
        } else {
            seg_writer_sync(t->w);
        }
        target_unref(t);
        break;
    }
}

/* The group commit: every target written since the last one (or, with `marked`, only those a
 * flush asked for). */
static void sync_all(persist_t *p, bool marked)
{
    for (size_t i = 0; i < p->ntargets; i++) {
        persist_target_t *t = p->targets[i];
        /* relaxed: the flag travels with the flush request, under the queue's mutex */
        bool asked = atomic_exchange_explicit(&t->want_sync, false, memory_order_relaxed);
        if (marked && !asked) continue;
        if (!t->w || !seg_writer_dirty(t->w)) continue;
        uint64_t off = seg_writer_offset(t->w);
        int rc = seg_writer_sync(t->w);
        if (rc < 0) {
            io_failed(t, "fdatasync", rc);
            if (p->o.notify) p->o.notify(p->o.notify_ctx, t->tag); /* its log has ended */
            continue;
        }
        /* release: the bytes below `off` are on disk before anyone acknowledges them */
        atomic_store_explicit(&t->durable, off, memory_order_release);
    }
}

static void *persist_main(void *arg)
{
    persist_t *p = arg;
    /* Not a batch thread, unlike the analysis: the writer must keep up with what arrives. At
     * nice 10 it fell far behind a fast live link, whose appends are never held, and every
     * 2 MiB block queued past the pool's spares was a fresh mapping the HTTP thread faulted in:
     * that zeroing took 40 % of the server's CPU while a monitor link ran at 150 MB/s. */
    pthread_setname_np(pthread_self(), "lp-segments");
    blockpool_prefault(p->pool, POOL_KEEP); /* the first upload's first block */
    uint64_t next_sync = server_mono_ns() / 1000000 + p->o.fsync_ms;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->head) {
            job_t *j = p->head;
            p->head = j->next;
            if (!p->head) p->tail = NULL;
            pthread_mutex_unlock(&p->mu);
            run_job(p, j);
            target_unref(j->t);
            bool appended = j->kind == J_APPEND;
            if (j->block)
                blockpool_put(p->pool, j->block); /* the job with it */
            else
                free(j);
            /* once uploads come, the blocks are mapped here rather than on the HTTP thread */
            if (appended) blockpool_prefault(p->pool, POOL_KEEP);
            if (appended && p->o.room &&
                atomic_load_explicit(&p->queued, memory_order_relaxed) <= p->o.soft_queued)
                p->o.room(p->o.room_ctx);
            if (p->o.fsync_ms == 0) sync_all(p, false);
            pthread_mutex_lock(&p->mu);
        }
        uint64_t now = server_mono_ns() / 1000000;
        bool flush = p->flush_asked > p->flush_done;
        if (now >= next_sync || flush || p->stop) {
            uint64_t gen = p->flush_asked;
            /* a flush for some targets only syncs those: an upload's resume point does not wait
             * for the other sessions' bytes */
            bool all = now >= next_sync || p->stop || p->flush_all;
            p->flush_all = false;
            pthread_mutex_unlock(&p->mu);
            sync_all(p, !all);
            if (all) {
                uint64_t t = now * 1000000ull;
                for (size_t i = 0; i < p->ntargets; i++)
                    if (p->targets[i]->w) seg_writer_tick(p->targets[i]->w, t);
            }
            pthread_mutex_lock(&p->mu);
            p->flush_done = gen;
            pthread_cond_broadcast(&p->done_cv);
            if (all) next_sync = now + (p->o.fsync_ms ? p->o.fsync_ms : 1000);
            if (p->stop && !p->head) break;
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t wait = next_sync - now;
        ts.tv_sec += (time_t)(wait / 1000);
        ts.tv_nsec += (long)(wait % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (!p->head && !p->stop && p->flush_asked == p->flush_done)
            pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Asks for a flush (of every target, or of those marked want_sync) and waits for it. */
static bool flush(persist_t *p, bool all, int timeout_ms)
{
    pthread_mutex_lock(&p->mu);
    if (all) p->flush_all = true;
    uint64_t gen = ++p->flush_asked;
    pthread_cond_signal(&p->cv);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    while (p->flush_done < gen && rc == 0)
        rc = pthread_cond_timedwait(&p->done_cv, &p->mu, &ts);
    bool ok = p->flush_done >= gen;
    pthread_mutex_unlock(&p->mu);
    return ok;
}

bool persist_flush(persist_t *p, int timeout_ms)
{
    return flush(p, true, timeout_ms);
}

bool persist_flush_target(persist_t *p, persist_target_t *t, int timeout_ms)
{
    /* relaxed: the flush request that follows is made under the queue's mutex */
    atomic_store_explicit(&t->want_sync, true, memory_order_relaxed);
    return flush(p, false, timeout_ms);
}

typedef struct say_ctx {
    const char *who;
} say_ctx_t;

static void say(void *ctx, const char *msg)
{
    fprintf(stderr, "serve: recovery: %s: %s\n", ((say_ctx_t *)ctx)->who, msg);
}

persist_target_t *persist_open(persist_t *p, const char *dir, const char *who, char *err,
                               size_t cap)
{
    persist_target_t *t = xcalloc(1, sizeof *t);
    say_ctx_t sc = {who};
    if (seg_log_open(&t->log, dir, true, say, &sc) < 0) {
        snprintf(err, cap, "cannot read %s: %s", dir, strerror(errno));
        seg_log_dispose(&t->log);
        free(t);
        return NULL;
    }
    t->w = seg_writer_create(&t->log, &p->o.seg, err, cap);
    if (!t->w) {
        seg_log_dispose(&t->log);
        free(t);
        return NULL;
    }
    atomic_init(&t->durable, seg_log_end(&t->log));
    atomic_init(&t->want_sync, false);
    atomic_init(&t->refs, 2);
    enqueue(p, t, J_ADD, 0, NULL, 0, 0); /* the list of targets is the thread's alone */
    return t;
}

persist_t *persist_create(const persist_opts_t *o)
{
    persist_t *p = xcalloc(1, sizeof *p);
    p->o = *o;
    if (!p->o.max_queued) p->o.max_queued = 256u << 20;
    if (!p->o.soft_queued) p->o.soft_queued = 32u << 20;
    p->pool = blockpool_create(POOL_KEEP);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    pthread_create(&p->thread, NULL, persist_main, p);
    return p;
}

void persist_destroy(persist_t *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    for (size_t i = 0; i < p->ntargets; i++)
        target_unref(p->targets[i]);
    free(p->targets);
    blockpool_destroy(p->pool);
    pthread_cond_destroy(&p->cv);
    pthread_cond_destroy(&p->done_cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
