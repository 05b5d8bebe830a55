/* Deterministic synthetic eventlog generator: simulates a GHC -threaded program (threads
 * scheduled on capabilities, START/STOP labels, GC, heap, sparks, tasks, heap profile) and
 * writes the log as the RTS does, each capability's 2 MiB buffer flushed when full and the
 * global block last. Same arguments, same bytes; memory does not grow with output size. */
#include "err.h"
#include "evlog.h"
#include "evwrite.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK_BYTES ((size_t)2 << 20) /* GHC's per-capability event buffer */
#define STEP_ROOM 8192                /* most bytes one step writes into one buffer at once */
#define MAX_DEPTH 4
#define NURSERY (1u << 20) /* allocation area per capability */
#define GLOBAL 0xFFFF
#define SAMPLE_NS 10000000 /* heap profile interval, as -i0.01 */

enum shape { MIXED, MANY_THREADS, MANY_LABELS, GEA };
enum state { T_FREE, T_RUNNABLE, T_BLOCKED };
enum role { R_RANDOM, R_MAIN, R_WORKER };
enum phase { P_SETUP, P_ROUND, P_WAIT, P_TEARDOWN, P_EXIT };

typedef struct thread {
    uint64_t ready; /* its latest event: it cannot run before that on any capability */
    uint32_t tid, home, worker, iter;
    uint32_t stack[MAX_DEPTH]; /* label pool indexes of the open STARTs */
    uint16_t cap;
    uint8_t state, depth, role;
    bool finish, labelled;
} thread_t;

typedef struct cap {
    evwrite_t w; /* the capability's current block */
    uint64_t ts; /* this capability's clock (ns) */
    uint32_t *q; /* run queue: ring of slot indexes */
    uint32_t qhead, qlen;
    uint64_t alloc, nursery;
    uint64_t sparks[7]; /* created, dud, overflowed, converted, gcd, fizzled, remaining */
    uint16_t no;
} cap_t;

typedef struct gen {
    /* options */
    int shape;
    uint64_t target_bytes, target_events, target, seed;
    uint32_t ncaps, max_threads, nlabels, workers, iters, fibn, rounds;
    size_t block_bytes;
    /* state */
    uint64_t rng, produced;
    cap_t *caps;
    evwrite_t out, global;
    uint64_t gts, next_sample, era, gcs, tasks;
    thread_t *slots;
    uint32_t nslots, hint, live, created, finishing;
    uint32_t *blocked, bhead, blen;
    char *label_blob; /* label texts, NUL-separated */
    uint32_t *label_off;
    uint8_t *label_used;
    uint32_t labels_used;
    bool heap_prof;
    /* GEA mode */
    int phase;
    uint32_t round, wait_idx, main_slot;
    uint8_t *done;
    bool main_blocked;
} gen_t;

static inline uint64_t rnd(gen_t *g)
{
    uint64_t z = (g->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static inline uint32_t below(gen_t *g, uint32_t n)
{
    return (uint32_t)(((rnd(g) >> 32) * n) >> 32);
}

static inline uint64_t tick(gen_t *g, cap_t *c, uint32_t max)
{
    return c->ts += 60 + below(g, max);
}

/* Sets g->produced to the events or bytes produced so far (buffered ones included); true once
 * that reaches the target. */
static bool reached(gen_t *g)
{
    uint64_t (*count)(const evwrite_t *) = g->target_events ? evwrite_events : evwrite_bytes;
    g->produced = count(&g->out) + count(&g->global);
    for (uint32_t i = 0; i < g->ncaps; i++)
        g->produced += count(&g->caps[i].w);
    return g->produced >= g->target;
}

/* Closes a full buffer and starts the next block, as the RTS does when one fills up. */
static void room(gen_t *g, evwrite_t *w, uint16_t cap, uint64_t ts)
{
    if (evwrite_block_len(w) + STEP_ROOM <= g->block_bytes) return;
    evwrite_block_end(w, ts);
    evwrite_splice(&g->out, w);
    evwrite_block_begin(w, cap, ts);
}

static void cap_room(gen_t *g, cap_t *c)
{
    room(g, &c->w, c->no, c->ts);
}

/* A timestamp for the next global event, never before the previous one. */
static uint64_t gtick(gen_t *g, uint64_t ts)
{
    g->gts = (ts > g->gts ? ts : g->gts) + 40 + below(g, 400);
    room(g, &g->global, GLOBAL, g->gts);
    return g->gts;
}

static const char *const label_bases[] = {
    "parse",  "compute", "render",   "io-wait",     "db-query", "serialize", "http-request",
    "fib",    "job",     "primes",   "sumSquares",  "sleep",    "compress",  "cache-lookup",
    "résumé", "index",   "validate", "send-result", "decode",   "schedule",
};
#define NBASES (sizeof label_bases / sizeof label_bases[0])

/* -hT sample labels, NUL-separated. */
static const char closure_types[] =
    "ghc-prim:GHC.Types.:\0ghc-prim:GHC.Types.I#\0base:GHC.MVar.MVar\0base:GHC.STRef.STRef\0"
    "ghc-prim:GHC.Tuple.(,)\0base:GHC.Maybe.Just\0THUNK_0_1\0THUNK_1_0\0FUN_1_0\0FUN\0"
    "ARR_WORDS\0MUT_ARR_PTRS_FROZEN_CLEAN\0MVAR_CLEAN\0MUT_VAR_CLEAN\0TSO\0STACK\0WEAK\0"
    "BLACKHOLE\0integer-gmp:GHC.Integer.Type.Jp#\0base:GHC.Conc.Sync.ThreadId\0";

/* Builds the label pool: `nlabels` distinct texts, every fourth one subscripted. */
static int make_labels(gen_t *g)
{
    size_t cap = (size_t)g->nlabels * 40 + 64, len = 0;
    g->label_blob = malloc(cap);
    g->label_off = malloc(((size_t)g->nlabels + 1) * sizeof *g->label_off);
    g->label_used = calloc((size_t)g->nlabels / 8 + 1, 1);
    if (!g->label_blob || !g->label_off || !g->label_used) return LP_ENOMEM;
    for (uint32_t i = 0; i < g->nlabels; i++) {
        const char *base = label_bases[i % NBASES];
        uint32_t gen = i / NBASES;
        char *o = g->label_blob + len;
        int n;
        if (i % 4 == 3 && g->shape != GEA)
            n = gen ? sprintf(o, "%u %s-%u", 1 + i % 7, base, gen)
                    : sprintf(o, "%u %s", 1 + i % 7, base);
        else
            n = gen ? sprintf(o, "%s-%u", base, gen) : sprintf(o, "%s", base);
        g->label_off[i] = (uint32_t)len;
        len += (size_t)n + 1;
    }
    g->label_off[g->nlabels] = (uint32_t)len;
    return 0;
}

/* Writes "START <label i>" or "STOP <label i>" on cap c. */
static void user_msg(gen_t *g, cap_t *c, bool start, uint32_t i)
{
    char buf[96];
    const char *text = g->label_blob + g->label_off[i];
    size_t pre = start ? 6 : 5, n = g->label_off[i + 1] - g->label_off[i] - 1;
    memcpy(buf, start ? "START " : "STOP ", pre);
    memcpy(buf + pre, text, n);
    evwrite_msg(&c->w, EVLOG_USER_MSG, tick(g, c, 800), buf, pre + n);
    if (start && !(g->label_used[i / 8] & (1u << i % 8))) {
        g->label_used[i / 8] |= (uint8_t)(1u << i % 8);
        g->labels_used++;
    }
}

/* Queues slot s on cap c, runnable from `ready` (ns) on. */
static void push_runq(gen_t *g, cap_t *c, uint32_t s, uint64_t ready)
{
    c->q[(c->qhead + c->qlen++) % g->nslots] = s;
    g->slots[s].state = T_RUNNABLE;
    if (ready > g->slots[s].ready) g->slots[s].ready = ready;
}

static bool pop_runq(gen_t *g, cap_t *c, uint32_t *s)
{
    if (!c->qlen) return false;
    *s = c->q[c->qhead];
    c->qhead = (c->qhead + 1) % g->nslots;
    c->qlen--;
    return true;
}

/* Wakes the longest-blocked thread from cap c. */
static void wake_one(gen_t *g, cap_t *c)
{
    if (!g->blen) return;
    uint32_t s = g->blocked[g->bhead];
    g->bhead = (g->bhead + 1) % g->nslots;
    g->blen--;
    thread_t *t = &g->slots[s];
    evwrite_thread_cap(&c->w, EVLOG_THREAD_WAKEUP, tick(g, c, 300), t->tid, t->cap);
    push_runq(g, &g->caps[t->cap], s, c->ts);
}

/* Creates a thread on cap c, possibly pushing it to another capability. */
static uint32_t create_thread(gen_t *g, cap_t *c, int role, uint16_t to)
{
    uint32_t s = g->hint; /* the next free slot, round robin */
    while (g->slots[s].state != T_FREE)
        s = (s + 1) % g->nslots;
    g->hint = (s + 1) % g->nslots;
    thread_t *t = &g->slots[s];
    memset(t, 0, sizeof *t);
    cap_room(g, c);
    t->tid = ++g->created;
    t->role = (uint8_t)role;
    t->home = below(g, g->nlabels);
    t->cap = to;
    g->live++;
    evwrite_thread(&c->w, EVLOG_CREATE_THREAD, tick(g, c, 300), t->tid);
    if (role == R_RANDOM && below(g, 16) == 0) {
        static const char sparky[] = "spark evaluator";
        evwrite_thread_label(&c->w, tick(g, c, 300), t->tid, sparky, sizeof sparky - 1);
        evwrite_thread(&c->w, EVLOG_CREATE_SPARK_THREAD, tick(g, c, 300), t->tid);
        t->labelled = true;
    }
    if (to != c->no) evwrite_thread_cap(&c->w, EVLOG_MIGRATE_THREAD, tick(g, c, 300), t->tid, to);
    push_runq(g, &g->caps[to], s, c->ts);
    return s;
}

static void spark_counters(gen_t *g, cap_t *c)
{
    uint64_t *k = c->sparks, used = k[3] + k[4] + k[5];
    k[6] = k[0] > used ? k[0] - used : 0;
    evwrite_spark_counters(&c->w, tick(g, c, 300), k);
}

/* One stop-the-world collection requested by cap c, on every capability when parallel. */
static void gc(gen_t *g, cap_t *c)
{
    bool par = g->ncaps > 1 && below(g, 16) != 0;
    bool major = ++g->gcs % 11 == 0;
    uint64_t t0 = c->ts;
    cap_room(g, c);
    evwrite_empty(&c->w, par ? EVLOG_REQUEST_PAR_GC : EVLOG_REQUEST_SEQ_GC, tick(g, c, 2000));
    for (uint32_t i = 0; par && i < g->ncaps; i++)
        if (g->caps[i].ts > t0) t0 = g->caps[i].ts;
    uint64_t t_end = 0;
    for (uint32_t i = 0; i < g->ncaps; i++) {
        cap_t *k = &g->caps[i];
        if (k != c && !par) continue;
        cap_room(g, k);
        k->ts = (k->ts > t0 ? k->ts : t0) + below(g, 3000);
        evwrite_empty(&k->w, EVLOG_GC_START, tick(g, k, 1000));
        evwrite_empty(&k->w, EVLOG_GC_WORK, tick(g, k, major ? 400000 : 40000));
        for (uint32_t r = 1 + below(g, par ? 3 : 1); r > 0; r--) {
            evwrite_empty(&k->w, EVLOG_GC_IDLE, tick(g, k, 30000));
            evwrite_empty(&k->w, EVLOG_GC_DONE, tick(g, k, 200));
        }
        k->alloc += k->nursery;
        evwrite_heap(&k->w, EVLOG_HEAP_ALLOCATED, tick(g, k, 3000), 0, k->alloc);
        k->nursery = 0;
        if (k->ts > t_end) t_end = k->ts;
    }
    c->ts = t_end;
    evwrite_empty(&c->w, EVLOG_GC_GLOBAL_SYNC, tick(g, c, 1000));
    uint64_t copied = 1000 + below(g, 60000), st = tick(g, c, 100);
    evwrite_gc_stats(&c->w, st, 0, major, copied, 10000 + below(g, 10000),
                     800000 + below(g, 100000), par ? g->ncaps : 1, copied / 2 + below(g, 1000),
                     copied, copied / 4);
    evwrite_empty(&c->w, EVLOG_GC_END, st - 100 - below(g, 400)); /* earlier, as GHC posts it */
    if (major) evwrite_heap(&c->w, EVLOG_HEAP_LIVE, tick(g, c, 300), 0, 30000 + below(g, 1 << 20));
    evwrite_heap(&c->w, EVLOG_HEAP_SIZE, tick(g, c, 300), 0, (3u + g->ncaps) << 20);
    spark_counters(g, c);
    for (uint32_t i = 0; par && i < g->ncaps; i++) {
        cap_t *k = &g->caps[i];
        if (k == c) continue;
        k->ts = c->ts + below(g, 2000);
        evwrite_empty(&k->w, EVLOG_GC_END, tick(g, k, 500));
        spark_counters(g, k);
    }
}

/* Spark activity of a running thread: events and the counters behind SparkCounters. */
static void sparks(gen_t *g, cap_t *c)
{
    /* event and the counter it bumps: created, dud, overflowed, converted, gcd, fizzled */
    static const uint8_t kinds[8][2] = {{EVLOG_SPARK_DUD, 1},    {EVLOG_SPARK_OVERFLOW, 2},
                                        {EVLOG_SPARK_CREATE, 0}, {EVLOG_SPARK_RUN, 3},
                                        {EVLOG_SPARK_RUN, 3},    {EVLOG_SPARK_STEAL, 3},
                                        {EVLOG_SPARK_FIZZLE, 5}, {EVLOG_SPARK_GC, 4}};
    uint64_t *k = c->sparks;
    uint32_t r = below(g, 8);
    if (r > 2 && k[0] == k[3] + k[4] + k[5]) r = 2; /* none left to use: create one */
    if (r == 5 && g->ncaps == 1) r = 4;
    if (r == 5)
        evwrite_cap(&c->w, EVLOG_SPARK_STEAL, tick(g, c, 500), (uint16_t)((c->no + 1) % g->ncaps));
    else
        evwrite_empty(&c->w, kinds[r][0], tick(g, c, 500));
    k[kinds[r][1]]++;
}

/* One scheduling quantum of a random thread on cap c; returns the stop status. */
static uint16_t run_random(gen_t *g, cap_t *c, thread_t *t)
{
    if (!t->labelled && below(g, 4)) {
        static const char *const names[] = {"worker", "http-handler", "db-pool", "cache", "log"};
        char buf[64];
        int n = sprintf(buf, "%s-%u", names[t->tid % 5], t->tid);
        evwrite_thread_label(&c->w, tick(g, c, 1500), t->tid, buf, (size_t)n);
        t->labelled = true;
    }
    for (uint32_t n = 1 + below(g, 7); n > 0 && c->nursery < NURSERY; n--) {
        uint32_t r = below(g, 100);
        c->ts += below(g, 30000);
        c->nursery += below(g, 64 << 10);
        if (r < 70) {
            bool push = t->depth == 0 || (t->depth < MAX_DEPTH && below(g, 2));
            if (push) {
                /* mostly from the thread's home range, so labels overlap across threads */
                uint32_t l = (t->home + below(g, 8)) % g->nlabels;
                if (g->shape == MANY_LABELS || below(g, 4) == 0) l = below(g, g->nlabels);
                for (int d = 0; d < t->depth; d++)
                    if (t->stack[d] == l) l = (l + 1) % g->nlabels;
                t->stack[t->depth++] = l;
                user_msg(g, c, true, l);
            } else {
                user_msg(g, c, false, t->stack[--t->depth]);
            }
        } else if (r < 76) {
            char buf[48];
            int k = sprintf(buf, "tick %u", below(g, 64));
            evwrite_msg(&c->w, EVLOG_USER_MARKER, tick(g, c, 500), buf, (size_t)k);
        } else if (r < 77) {
            static const char note[] = "cache miss; retrying";
            evwrite_msg(&c->w, EVLOG_USER_MSG, tick(g, c, 500), note, sizeof note - 1);
        } else if (r < 87) {
            sparks(g, c);
        } else if (r < 95) {
            wake_one(g, c);
        } else if (r < 96) {
            uint64_t ts = gtick(g, c->ts), task = 0x7f0000000000ull + (g->tasks++ << 13);
            evwrite_task_create(&g->global, ts, task, c->no, 9000 + g->tasks);
            if (below(g, 2) && g->ncaps > 1)
                evwrite_task_migrate(&g->global, gtick(g, ts), task, c->no,
                                     (uint16_t)((c->no + 1) % g->ncaps));
            evwrite_task_delete(&g->global, gtick(g, ts + 5000), task);
        }
    }
    if (t->finish) {
        while (t->depth)
            user_msg(g, c, false, t->stack[--t->depth]);
        return 5;
    }
    if (c->nursery >= NURSERY) return 1;
    static const uint16_t statuses[] = {3, 3, 3, 3, 3, 6, 6, 7, 7, 7, 8, 11, 12, 20, 16, 2, 4};
    return statuses[below(g, sizeof statuses / sizeof statuses[0])];
}

/* A Gen.hs worker: label, "START i job", iterations of parse/compute/render/io-wait. */
static uint16_t run_worker(gen_t *g, cap_t *c, thread_t *t)
{
    if (!t->labelled) {
        char buf[48];
        int n = sprintf(buf, "worker-%u-%u", g->round, t->worker);
        evwrite_thread_label(&c->w, tick(g, c, 1500), t->tid, buf, (size_t)n);
        t->labelled = true;
        n = sprintf(buf, "START %u job", t->worker);
        evwrite_msg(&c->w, EVLOG_USER_MSG, tick(g, c, 800), buf, (size_t)n);
        t->iter = 1;
    }
    for (uint32_t k = 0; k < 48 && t->iter <= g->iters; k++) {
        uint32_t j = t->iter++, l = (t->worker + j) % 4;
        user_msg(g, c, true, l);
        /* work: heavier for "compute" (fibn + 10) and by j mod 5 */
        uint32_t ns = 28000 + g->fibn * 25 + (j % 5) * 800 + (l == 1 ? 5000 : 0);
        c->ts += ns - ns / 10 + below(g, ns / 5);
        user_msg(g, c, false, l);
        c->nursery += 64000 + below(g, 32000);
        if (j % 97 == 0) return 3;
        if (c->nursery >= NURSERY) return 1;
    }
    if (t->iter <= g->iters) return 3; /* end of the time slice: context switch */
    char buf[48];
    int n = sprintf(buf, "STOP %u job", t->worker);
    evwrite_msg(&c->w, EVLOG_USER_MSG, tick(g, c, 800), buf, (size_t)n);
    g->done[t->worker - 1] = 1; /* putMVar done () */
    if (g->main_blocked && g->wait_idx == t->worker - 1) {
        thread_t *m = &g->slots[g->main_slot];
        evwrite_thread_cap(&c->w, EVLOG_THREAD_WAKEUP, tick(g, c, 300), m->tid, m->cap);
        g->main_blocked = false;
        push_runq(g, &g->caps[m->cap], g->main_slot, c->ts);
    }
    return 5;
}

static void gea_msg(gen_t *g, cap_t *c, const char *msg)
{
    evwrite_msg(&c->w, EVLOG_USER_MSG, tick(g, c, 800), msg, strlen(msg));
}

/* Gen.hs main: setup, rounds of forked workers it waits for, teardown. */
static uint16_t run_main(gen_t *g, cap_t *c, thread_t *t)
{
    if (!t->labelled) {
        evwrite_thread_label(&c->w, tick(g, c, 1500), t->tid, "main", 4);
        t->labelled = true;
    }
    switch (g->phase) {
    case P_SETUP:
    case P_TEARDOWN: {
        bool setup = g->phase == P_SETUP;
        gea_msg(g, c, setup ? "START setup" : "START teardown");
        c->ts += (setup ? 2000000 : 1200000) + below(g, 200000); /* work 5000 / work 3000 */
        gea_msg(g, c, setup ? "STOP setup" : "STOP teardown");
        g->phase = setup ? P_ROUND : P_EXIT;
        return setup ? 3 : 5;
    }
    case P_ROUND:
        g->round++;
        gea_msg(g, c, "START round");
        memset(g->done, 0, g->workers);
        for (uint32_t i = 1; i <= g->workers; i++) {
            uint32_t s = create_thread(g, c, R_WORKER, (uint16_t)(i % g->ncaps));
            g->slots[s].worker = i;
        }
        gea_msg(g, c, "START main-wait");
        g->wait_idx = 0;
        g->phase = P_WAIT;
        /* fall through */
    default: /* P_WAIT */
        while (g->wait_idx < g->workers && g->done[g->wait_idx])
            g->wait_idx++;
        if (g->wait_idx < g->workers) {
            g->main_blocked = true;
            return 7;
        }
        gea_msg(g, c, "STOP main-wait");
        gea_msg(g, c, "STOP round");
        g->phase = (g->rounds ? g->round >= g->rounds : reached(g)) ? P_TEARDOWN : P_ROUND;
        return 3;
    }
}

/* Random shapes: creates the threads due by now (spread evenly over the run), retiring old
 * ones to make room. */
static void schedule_threads(gen_t *g, cap_t *c)
{
    reached(g);
    unsigned __int128 due = (unsigned __int128)g->produced * g->max_threads / g->target + 1;
    while (g->created < due && g->created < g->max_threads) {
        if (g->live < g->nslots) {
            uint16_t to = c->no;
            if (g->ncaps > 1 && below(g, 3) == 0) to = (uint16_t)below(g, g->ncaps);
            create_thread(g, c, R_RANDOM, to);
            continue;
        }
        /* slot 0 (the first thread, like main) stays; mark others to finish */
        uint32_t want = (uint32_t)(due - g->created);
        for (uint32_t k = 0; k < 4 && g->finishing < want && g->finishing + 1 < g->live; k++) {
            thread_t *v = &g->slots[1 + below(g, g->nslots - 1)];
            if (!v->finish) {
                v->finish = true;
                g->finishing++;
            }
        }
        return;
    }
}

/* Heap profile samples (-hT) in the global block, every SAMPLE_NS of program time. */
static void heap_sample(gen_t *g, uint64_t now)
{
    if (!g->heap_prof || now < g->next_sample) return;
    g->next_sample = now + SAMPLE_NS;
    evwrite_era(&g->global, EVLOG_HEAP_PROF_SAMPLE_BEGIN, gtick(g, now), g->era);
    for (const char *l = closure_types; *l; l += strlen(l) + 1)
        if (below(g, 4))
            evwrite_hp_sample_string(&g->global, gtick(g, now), 0,
                                     16 + 8 * (uint64_t)below(g, 40000), l);
    evwrite_era(&g->global, EVLOG_HEAP_PROF_SAMPLE_END, gtick(g, now), g->era++);
}

/* One step: the capability furthest behind runs one thread for a quantum. */
static void step(gen_t *g)
{
    cap_t *c = g->caps;
    for (uint32_t i = 1; i < g->ncaps; i++)
        if (g->caps[i].ts < c->ts) c = &g->caps[i];
    cap_room(g, c);
    heap_sample(g, c->ts);
    if (g->shape != GEA) schedule_threads(g, c);
    uint32_t s = 0;
    if (!pop_runq(g, c, &s)) {
        cap_t *busy = NULL;
        for (uint32_t i = 0; i < g->ncaps; i++)
            if (g->caps[i].qlen > 1 && (!busy || g->caps[i].qlen > busy->qlen)) busy = &g->caps[i];
        if (busy && below(g, 2)) { /* the busy capability pushes work here */
            cap_room(g, busy);
            pop_runq(g, busy, &s);
            g->slots[s].cap = c->no;
            evwrite_thread_cap(&busy->w, EVLOG_MIGRATE_THREAD, tick(g, busy, 300), g->slots[s].tid,
                               c->no);
            if (busy->ts > c->ts) c->ts = busy->ts;
            push_runq(g, c, s, c->ts);
        } else if (g->blen && (!busy || below(g, 2))) {
            wake_one(g, c); /* e.g. the timer or IO manager */
        } else {
            c->ts += 2000 + below(g, 40000); /* idle */
        }
        return;
    }
    thread_t *t = &g->slots[s];
    if (c->ts < t->ready) c->ts = t->ready;
    evwrite_thread(&c->w, EVLOG_RUN_THREAD, tick(g, c, 3000), t->tid);
    uint16_t st = t->role == R_MAIN     ? run_main(g, c, t)
                  : t->role == R_WORKER ? run_worker(g, c, t)
                                        : run_random(g, c, t);
    uint32_t owner = st == 8 ? 1 + below(g, g->created) : 0;
    evwrite_stop_thread(&c->w, tick(g, c, 600), t->tid, st,
                        owner == t->tid ? owner % g->created + 1 : owner);
    if (st == 5) {
        g->finishing -= t->finish;
        t->state = T_FREE;
        g->live--;
    } else if (st == 7 && t->role == R_MAIN) {
        t->state = T_BLOCKED; /* woken by the worker it waits for */
        t->ready = c->ts;
    } else if (st >= 4 && st != 6) { /* into the blocked queue */
        g->blocked[(g->bhead + g->blen++) % g->nslots] = s;
        t->state = T_BLOCKED;
        t->ready = c->ts;
    } else if (g->ncaps > 1 && t->role == R_RANDOM && below(g, 24) == 0) {
        uint16_t to = (uint16_t)((c->no + 1 + below(g, g->ncaps - 1)) % g->ncaps);
        evwrite_thread_cap(&c->w, EVLOG_MIGRATE_THREAD, tick(g, c, 300), t->tid, to);
        t->cap = to;
        push_runq(g, &g->caps[to], s, c->ts);
    } else {
        push_runq(g, c, s, c->ts);
    }
    if (st == 1) gc(g, c);
}

/* The RTS start: the global block's init events and each capability's first block. */
static void start(gen_t *g)
{
    uint64_t t0 = 200000 + below(g, 20000);
    evwrite_header(&g->out, NULL, 0);
    evwrite_block_begin(&g->global, GLOBAL, t0);
    g->gts = t0;
    evwrite_capset_create(&g->global, gtick(g, t0), 0, 2);
    evwrite_capset_create(&g->global, gtick(g, t0), 1, 3);
    for (uint32_t i = 0; i < g->ncaps; i++) {
        evwrite_cap(&g->global, EVLOG_CAP_CREATE, gtick(g, t0), (uint16_t)i);
        evwrite_capset_cap(&g->global, EVLOG_CAPSET_ASSIGN_CAP, gtick(g, t0), 0, (uint16_t)i);
        evwrite_capset_cap(&g->global, EVLOG_CAPSET_ASSIGN_CAP, gtick(g, t0), 1, (uint16_t)i);
    }
    uint32_t pid = 1000 + (uint32_t)(g->seed % 60000);
    evwrite_wall_clock(&g->global, gtick(g, t0), 1, 1700000000 + g->seed % 100000000,
                       below(g, 1000000) * 1000);
    evwrite_pid(&g->global, EVLOG_OSPROCESS_PID, gtick(g, t0), 0, pid);
    evwrite_pid(&g->global, EVLOG_OSPROCESS_PPID, gtick(g, t0), 0, pid - 3);
    static const char rts[] = "GHC-9.0.2 rts_thr_l";
    evwrite_capset_text(&g->global, EVLOG_RTS_IDENTIFIER, gtick(g, t0), 0, rts, sizeof rts - 1);
    char ncap[16];
    snprintf(ncap, sizeof ncap, "-N%u", g->ncaps);
    const char *args[] = {
        "./bench-program", "+RTS", ncap, "-l", g->heap_prof ? "-hT" : "-RTS", "-RTS"};
    evwrite_capset_strings(&g->global, EVLOG_PROGRAM_ARGS, gtick(g, t0), 0, args,
                           g->heap_prof ? 6 : 5);
    evwrite_heap_info(&g->global, gtick(g, t0), 0, 2, 0, 1 << 20, 1 << 20, 4096);
    if (g->heap_prof) {
        evwrite_hp_begin(&g->global, gtick(g, t0), 0, SAMPLE_NS, 7, NULL);
        g->next_sample = t0 + SAMPLE_NS;
    }
    for (uint32_t i = 0; i < g->ncaps; i++) {
        cap_t *c = &g->caps[i];
        evwrite_task_create(&g->global, gtick(g, t0), 0x7f0000000000ull + (g->tasks++ << 13),
                            (uint16_t)i, pid + i);
        c->ts = t0 + 100 + below(g, 2000);
        evwrite_block_begin(&c->w, (uint16_t)i, c->ts);
        spark_counters(g, c);
    }
    if (g->shape == GEA) {
        g->main_slot = create_thread(g, &g->caps[0], R_MAIN, 0);
        g->phase = P_SETUP;
    }
}

/* Program exit: remaining threads finish, capabilities and capsets go, buffers flush. */
static void finish(gen_t *g)
{
    uint64_t last = 0;
    for (uint32_t s = 0; s < g->nslots; s++) {
        thread_t *t = &g->slots[s];
        if (t->state == T_FREE) continue;
        cap_t *c = &g->caps[t->cap];
        cap_room(g, c);
        if (c->ts < t->ready) c->ts = t->ready;
        if (t->state == T_BLOCKED)
            evwrite_thread_cap(&c->w, EVLOG_THREAD_WAKEUP, tick(g, c, 300), t->tid, t->cap);
        evwrite_thread(&c->w, EVLOG_RUN_THREAD, tick(g, c, 3000), t->tid);
        while (t->depth)
            user_msg(g, c, false, t->stack[--t->depth]);
        evwrite_stop_thread(&c->w, tick(g, c, 600), t->tid, 5, 0);
        t->state = T_FREE;
    }
    for (uint32_t i = 0; i < g->ncaps; i++)
        if (g->caps[i].ts > last) last = g->caps[i].ts;
    for (uint64_t k = 0; k < g->ncaps; k++) /* the capabilities' own tasks */
        evwrite_task_delete(&g->global, gtick(g, last), 0x7f0000000000ull + (k << 13));
    for (uint32_t i = 0; i < g->ncaps; i++) {
        evwrite_capset_cap(&g->global, EVLOG_CAPSET_REMOVE_CAP, gtick(g, last), 0, (uint16_t)i);
        evwrite_capset_cap(&g->global, EVLOG_CAPSET_REMOVE_CAP, gtick(g, last), 1, (uint16_t)i);
        evwrite_cap(&g->global, EVLOG_CAP_DELETE, gtick(g, last), (uint16_t)i);
    }
    evwrite_capset_delete(&g->global, gtick(g, last), 0);
    evwrite_capset_delete(&g->global, gtick(g, last), 1);
    for (uint32_t i = 0; i < g->ncaps; i++) {
        evwrite_block_end(&g->caps[i].w, g->caps[i].ts);
        evwrite_splice(&g->out, &g->caps[i].w);
    }
    evwrite_block_end(&g->global, g->gts);
    evwrite_splice(&g->out, &g->global);
    evwrite_end(&g->out);
    evwrite_flush(&g->out);
}

#include "gen_args.h"

static int setup(gen_t *g, int fd)
{
    g->rng = g->seed * 0x2545F4914F6CDD1Dull + 1;
    g->caps = calloc(g->ncaps, sizeof *g->caps);
    g->slots = calloc(g->nslots, sizeof *g->slots);
    g->blocked = calloc(g->nslots, sizeof *g->blocked);
    g->done = calloc(g->workers, 1);
    if (!g->caps || !g->slots || !g->blocked || !g->done || make_labels(g)) return LP_ENOMEM;
    if (evwrite_init_fd(&g->out, fd, 0) || evwrite_init(&g->global)) return LP_ENOMEM;
    for (uint32_t i = 0; i < g->ncaps; i++) {
        g->caps[i].no = (uint16_t)i;
        g->caps[i].q = calloc(g->nslots, sizeof *g->caps[i].q);
        if (!g->caps[i].q || evwrite_init(&g->caps[i].w)) return LP_ENOMEM;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static gen_t g;
    const char *path = NULL;
    int rc = parse_args(&g, argc, argv, &path);
    if (rc) return rc;
    bool to_stdout = !strcmp(path, "-");
    int fd = to_stdout ? STDOUT_FILENO : open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        fprintf(stderr, "bench-gen: %s: %s\n", path, strerror(errno));
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (setup(&g, fd)) {
        fprintf(stderr, "bench-gen: out of memory\n");
        return 1;
    }
    start(&g);
    while (g.shape == GEA ? g.phase != P_EXIT : !reached(&g))
        step(&g);
    finish(&g);
    rc = evwrite_error(&g.out);
    if (!to_stdout && close(fd) != 0 && !rc) rc = LP_EIO;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (rc) {
        fprintf(stderr, "bench-gen: %s: %s\n", path, lp_strerror(rc));
    } else {
        uint64_t bytes = evwrite_bytes(&g.out);
        fprintf(
            stderr,
            "bench-gen: %s bytes=%llu events=%llu threads=%u labels=%u seconds=%.2f MB/s=%.0f\n",
            path, (unsigned long long)bytes, (unsigned long long)evwrite_events(&g.out), g.created,
            g.labels_used + (g.shape == GEA ? 4 + g.workers : 0), secs,
            secs > 0 ? (double)bytes / secs / 1e6 : 0.0);
    }
    return rc ? 1 : 0; /* the process exit releases the buffers */
}
