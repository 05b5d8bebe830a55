/* The ghc-events-analyze state machine: one open table per window with nesting counts, GC
 * correction of open user ids, thread lifetimes and labels, and windows opened and closed by a
 * named user event. Intervals are folded into totals and (when bucketing is known) buckets as
 * they close, so memory grows with ids and buckets, never with events. */
#include "gea.h"

#include "arena.h"
#include "labelkey.h"
#include "outbuf.h"
#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct running {
    const gea_label_t *labels;
    bool running;
    uint32_t run_slot; /* index in run_tids while running */
} running_t;

struct gea {
    char *start_prefix, *stop_prefix; /* owned; `start` and `stop` borrow them */
    size_t start_len, stop_len;
    labelkey_prefix_t start, stop;
    bool has_window, bounds_only;
    const char *win_label;
    size_t win_len;
    int64_t win_sub;
    gea_buckets_t *buckets;
    size_t nbuckets;
    arena_t arena;
    gea_window_t **wins;
    size_t nwins, wins_cap;
    /* Threads known across windows (the old tool's runningThreads, plus "seen" for attach). */
    tidmap_t thread_map;
    uint32_t *run_tids; /* running threads, for window start/stop */
    size_t nrun, run_cap;
    running_t *threads;
    size_t nthreads, threads_cap;
    char *win_name;
    uint32_t user_tag; /* the last event's, see gea_pipe_tag */
};

/* ---- labels and ids ---------------------------------------------------------------------- */

void gea_parse_label(const char *s, size_t n, const char **label, size_t *len, int64_t *sub)
{
    size_t i = 0;
    bool neg = false;
    if (n > 1 && s[0] == '-' && s[1] >= '0' && s[1] <= '9') {
        neg = true;
        i = 1;
    }
    if (i >= n || s[i] < '0' || s[i] > '9') {
        *label = s;
        *len = n;
        *sub = 0;
        return;
    }
    uint64_t v = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        v = v * 10 + (uint64_t)(s[i++] - '0');
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f' ||
                     s[i] == '\v'))
        i++;
    *label = s + i;
    *len = n - i;
    *sub = neg ? -(int64_t)v : (int64_t)v;
}

static void reindex(gea_window_t *w)
{
    size_t cap = w->slots_cap ? w->slots_cap * 2 : 256;
    free(w->slots);
    w->slots = xcalloc(cap, sizeof *w->slots);
    w->slots_cap = cap;
    for (size_t i = 0; i < w->nids; i++) {
        gea_id_t *id = &w->ids[i];
        if (id->kind != GEA_USER) continue;
        size_t s = (size_t)labelkey_hash(id->label, id->label_len, id->sub) & (cap - 1);
        while (w->slots[s])
            s = (s + 1) & (cap - 1);
        w->slots[s] = (uint32_t)i + 1;
    }
}

/* Adds an id to the window (h: the user id's hash). Returns its index. */
static long new_id(gea_t *g, gea_window_t *w, gea_kind_t kind, uint32_t tid, const char *label,
                   size_t len, int64_t sub, uint64_t h)
{
    xgrow((void **)&w->ids, &w->ids_cap, w->nids + 1, sizeof *w->ids);
    gea_id_t *id = &w->ids[w->nids];
    memset(id, 0, sizeof *id);
    id->kind = kind;
    id->tid = tid;
    id->sub = sub;
    if (kind == GEA_USER) {
        id->label = arena_strndup(&g->arena, label, len);
        id->label_len = (uint32_t)len;
    }
    id->first_start = UINT64_MAX;
    id->open_slot = -1;
    long idx = (long)w->nids++;
    if (kind == GEA_GC) {
        w->gc_id = idx;
    } else if (kind == GEA_THREAD) {
        tidmap_put(&w->thread_ids, tid, (uint32_t)idx);
    } else if (++w->nusers * 4 > w->slots_cap) { /* at most a quarter full: few probes */
        reindex(w);
    } else {
        size_t s = (size_t)h & (w->slots_cap - 1);
        while (w->slots[s])
            s = (s + 1) & (w->slots_cap - 1);
        w->slots[s] = (uint32_t)idx + 1;
    }
    return idx;
}

/* The index of user id (label, sub), created when absent and `create`; -1 if none. */
static inline long user_id(gea_t *g, gea_window_t *w, const char *label, size_t len, int64_t sub,
                           bool create)
{
    uint64_t h = labelkey_hash(label, len, sub);
    size_t mask = w->slots_cap - 1;
    if (w->slots_cap)
        for (size_t s = (size_t)h & mask;; s = (s + 1) & mask) {
            uint32_t v = w->slots[s];
            if (!v) break;
            const gea_id_t *id = &w->ids[v - 1];
            if (id->sub == sub && id->label_len == len && labelkey_eq(id->label, label, len))
                return (long)v - 1;
        }
    return create ? new_id(g, w, GEA_USER, 0, label, len, sub, h) : -1;
}

/* The index of thread tid's id, created when absent and `create`; -1 if none. */
static inline long thread_id(gea_t *g, gea_window_t *w, uint32_t tid, bool create)
{
    uint32_t v = tidmap_get(&w->thread_ids, tid);
    if (v != U32MAP_NONE) return (long)v;
    return create ? new_id(g, w, GEA_THREAD, tid, NULL, 0, 0, 0) : -1;
}

/* The index of the GC id, created when absent and `create`; -1 if none. */
static inline long gc_id(gea_t *g, gea_window_t *w, bool create)
{
    if (w->gc_id >= 0 || !create) return w->gc_id;
    return new_id(g, w, GEA_GC, 0, NULL, 0, 0, 0);
}

int gea_id_cmp(const gea_id_t *a, const gea_id_t *b)
{
    if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
    if (a->kind == GEA_THREAD) return a->tid < b->tid ? -1 : a->tid > b->tid;
    if (a->kind == GEA_GC) return 0;
    size_t n = a->label_len < b->label_len ? a->label_len : b->label_len;
    int c = memcmp(a->label, b->label, n);
    if (c) return c < 0 ? -1 : 1;
    if (a->label_len != b->label_len) return a->label_len < b->label_len ? -1 : 1;
    return a->sub < b->sub ? -1 : a->sub > b->sub;
}

/* ---- windows ------------------------------------------------------------------------------ */

static gea_window_t *new_window(gea_t *g)
{
    gea_window_t *w = xcalloc(1, sizeof *w);
    w->in_window = !g->has_window;
    w->gc_id = -1;
    tidmap_init(&w->thread_ids);
    tidmap_init(&w->thread_map);
    if (g->nwins < g->nbuckets) w->buckets = g->buckets[g->nwins];
    xgrow((void **)&g->wins, &g->wins_cap, g->nwins + 1, sizeof *g->wins);
    g->wins[g->nwins++] = w;
    return w;
}

static void free_window(gea_window_t *w)
{
    for (size_t i = 0; i < w->nids; i++) {
        free(w->ids[i].bval);
        free(w->ids[i].bset);
    }
    free(w->ids);
    free(w->slots);
    free(w->threads);
    free(w->open_users);
    tidmap_dispose(&w->thread_ids);
    tidmap_dispose(&w->thread_map);
    free(w);
}

gea_t *gea_create(const gea_opts_t *o)
{
    gea_t *g = xcalloc(1, sizeof *g);
    const char *sp = o && o->start_prefix ? o->start_prefix : "START ";
    const char *tp = o && o->stop_prefix ? o->stop_prefix : "STOP ";
    g->start_len = strlen(sp);
    g->stop_len = strlen(tp);
    g->start_prefix = xstrndup(sp, g->start_len);
    g->stop_prefix = xstrndup(tp, g->stop_len);
    g->start = labelkey_prefix(g->start_prefix, g->start_len);
    g->stop = labelkey_prefix(g->stop_prefix, g->stop_len);
    arena_init(&g->arena);
    tidmap_init(&g->thread_map);
    if (o && o->window) {
        g->has_window = true;
        g->win_name = xstrndup(o->window, strlen(o->window));
        gea_parse_label(g->win_name, strlen(g->win_name), &g->win_label, &g->win_len, &g->win_sub);
    }
    g->bounds_only = o && o->bounds_only;
    if (o && o->nbuckets) {
        g->buckets = xmalloc(o->nbuckets * sizeof *g->buckets);
        memcpy(g->buckets, o->buckets, o->nbuckets * sizeof *g->buckets);
        g->nbuckets = o->nbuckets;
    }
    new_window(g);
    return g;
}

void gea_destroy(gea_t *g)
{
    if (!g) return;
    for (size_t i = 0; i < g->nwins; i++)
        free_window(g->wins[i]);
    free(g->wins);
    free(g->start_prefix);
    free(g->stop_prefix);
    free(g->win_name);
    free(g->buckets);
    free(g->run_tids);
    free(g->threads);
    tidmap_dispose(&g->thread_map);
    arena_dispose(&g->arena);
    free(g);
}

size_t gea_windows(const gea_t *g)
{
    return g->nwins;
}

gea_window_t *gea_window(const gea_t *g, size_t i)
{
    return i < g->nwins ? g->wins[i] : NULL;
}

size_t gea_outputs(const gea_t *g)
{
    return g->nwins > 1 ? g->nwins - 1 : 1;
}

gea_window_t *gea_output(const gea_t *g, size_t i)
{
    return i < gea_outputs(g) ? g->wins[i] : NULL;
}

uint64_t gea_window_startup(const gea_window_t *w)
{
    return w->has_startup ? w->startup : w->first_ts;
}

uint64_t gea_window_bucket_size(const gea_window_t *w, uint32_t n, bool *clamped)
{
    uint64_t s = gea_window_startup(w);
    uint64_t d = w->end > s ? w->end - s : 0;
    uint64_t bs = n ? d / n : 0;
    if (clamped) *clamped = bs == 0;
    return bs ? bs : 1;
}

int64_t gea_window_bucket(const gea_window_t *w, uint64_t t)
{
    uint64_t s = w->buckets.bs ? w->buckets.startup : gea_window_startup(w);
    uint64_t bs = w->buckets.bs ? w->buckets.bs : 1;
    return t <= s ? 0 : (int64_t)((t - s) / bs);
}

/* ---- intervals ---------------------------------------------------------------------------- */

static void bucket_add(gea_id_t *id, int64_t b, double q)
{
    if (id->bn == 0) {
        id->blo = b;
    } else if (b < id->blo) {
        uint32_t shift = (uint32_t)(id->blo - b);
        size_t cap = id->bcap;
        xgrow((void **)&id->bval, &cap, id->bn + shift, sizeof *id->bval);
        cap = id->bcap;
        xgrow((void **)&id->bset, &cap, id->bn + shift, 1);
        id->bcap = (uint32_t)cap;
        memmove(id->bval + shift, id->bval, id->bn * sizeof *id->bval);
        memmove(id->bset + shift, id->bset, id->bn);
        memset(id->bval, 0, shift * sizeof *id->bval);
        memset(id->bset, 0, shift);
        id->bn += shift;
        id->blo = b;
    }
    uint32_t i = (uint32_t)(b - id->blo);
    if (i >= id->bn) {
        size_t cap = id->bcap;
        xgrow((void **)&id->bval, &cap, i + 1, sizeof *id->bval);
        cap = id->bcap;
        xgrow((void **)&id->bset, &cap, i + 1, 1);
        id->bcap = (uint32_t)cap;
        memset(id->bval + id->bn, 0, (i + 1 - id->bn) * sizeof *id->bval);
        memset(id->bset + id->bn, 0, i + 1 - id->bn);
        id->bn = i + 1;
    }
    id->bval[i] += q;
    id->bset[i] = 1;
}

/* Spreads [s, e] over the window's buckets as spec §6 says. */
static void quantize(const gea_window_t *w, gea_id_t *id, uint64_t s, uint64_t e)
{
    uint64_t st = w->buckets.startup, bs = w->buckets.bs;
    if (s < st) s = st; /* the old tool's unsigned wrap-around is not reproduced */
    if (e < s) e = s;
    int64_t sb = (int64_t)((s - st) / bs), eb = (int64_t)((e - st) / bs);
    double dbs = (double)bs;
    if (sb == eb) {
        bucket_add(id, sb, (double)(e - s) / dbs);
        return;
    }
    bucket_add(id, sb, (double)(st + (uint64_t)(sb + 1) * bs - s) / dbs);
    for (int64_t b = sb + 1; b < eb; b++)
        bucket_add(id, b, 1.0);
    bucket_add(id, eb, (double)(e - (st + (uint64_t)eb * bs)) / dbs);
}

static void record(gea_window_t *w, gea_id_t *id, uint64_t s, uint64_t e)
{
    id->total += e > s ? e - s : 0;
    if (s < id->first_start) id->first_start = s;
    id->intervals++;
    if (w->buckets.bs) quantize(w, id, s, e);
}

static void open_user_add(gea_window_t *w, uint32_t idx)
{
    if (w->nopen == w->open_cap)
        xgrow((void **)&w->open_users, &w->open_cap, w->nopen + 1, sizeof *w->open_users);
    w->ids[idx].open_slot = (int32_t)w->nopen;
    w->open_users[w->nopen++] = idx;
}

static void open_user_remove(gea_window_t *w, uint32_t idx)
{
    int32_t slot = w->ids[idx].open_slot;
    uint32_t last = w->open_users[--w->nopen];
    w->open_users[slot] = last;
    w->ids[last].open_slot = slot;
    w->ids[idx].open_slot = -1;
}

/* Opens one nesting level of id i (of `kind`) at t. */
static inline void event_start(gea_window_t *w, gea_kind_t kind, long i, uint64_t t)
{
    gea_id_t *id = &w->ids[i];
    if (id->open_count++) return;
    id->open_start = t;
    if (kind == GEA_USER) open_user_add(w, (uint32_t)i);
    if (kind == GEA_GC) /* user ids pretend to stop when GC starts */
        for (size_t k = 0; k < w->nopen; k++) {
            gea_id_t *u = &w->ids[w->open_users[k]];
            record(w, u, u->open_start, t);
        }
}

/* Closes one nesting level of id i (of `kind`, -1: none) at t. */
static inline void event_stop(gea_window_t *w, gea_kind_t kind, long i, uint64_t t)
{
    if (i < 0) return;
    gea_id_t *id = &w->ids[i];
    if (id->open_count == 0) return;
    if (--id->open_count) return;
    if (kind == GEA_USER) open_user_remove(w, (uint32_t)i);
    record(w, id, id->open_start, t);
    if (kind == GEA_GC) /* ... and to start again when it ends */
        for (size_t k = 0; k < w->nopen; k++)
            w->ids[w->open_users[k]].open_start = t;
}

/* ---- threads ------------------------------------------------------------------------------ */

static gea_thread_t *window_thread(gea_window_t *w, uint32_t tid, bool create)
{
    uint32_t v = tidmap_get(&w->thread_map, tid);
    if (v != U32MAP_NONE) return &w->threads[v];
    if (!create) return NULL;
    xgrow((void **)&w->threads, &w->threads_cap, w->nthreads + 1, sizeof *w->threads);
    tidmap_put(&w->thread_map, tid, (uint32_t)w->nthreads);
    gea_thread_t *th = &w->threads[w->nthreads++];
    memset(th, 0, sizeof *th);
    th->tid = tid;
    return th;
}

const gea_thread_t *gea_window_thread(const gea_window_t *w, uint32_t tid)
{
    return window_thread((gea_window_t *)w, tid, false);
}

static const gea_label_t *cons_label(gea_t *g, const char *s, size_t n, const gea_label_t *next)
{
    gea_label_t *l = arena_alloc(&g->arena, sizeof *l);
    l->text = arena_strndup(&g->arena, s, n);
    l->len = (uint32_t)n;
    l->next = next;
    return l;
}

static running_t *new_global_thread(gea_t *g, uint32_t tid)
{
    xgrow((void **)&g->threads, &g->threads_cap, g->nthreads + 1, sizeof *g->threads);
    tidmap_put(&g->thread_map, tid, (uint32_t)g->nthreads);
    running_t *r = &g->threads[g->nthreads++];
    r->labels = NULL;
    r->running = false;
    return r;
}

static inline running_t *global_thread(gea_t *g, uint32_t tid, bool create)
{
    uint32_t v = tidmap_get(&g->thread_map, tid);
    if (v != U32MAP_NONE) return &g->threads[v];
    return create ? new_global_thread(g, tid) : NULL;
}

static void thread_create(gea_t *g, gea_window_t *w, uint32_t tid, uint64_t t)
{
    char num[20];
    const gea_label_t *l = cons_label(g, num, outbuf_fmt_u64(num, tid), NULL);
    if (w->in_window) {
        gea_thread_t *th = window_thread(w, tid, true);
        th->created = th->finished = t;
        th->labels = l;
    }
    running_t *r = global_thread(g, tid, true);
    r->labels = l;
    if (!r->running) {
        r->running = true;
        xgrow((void **)&g->run_tids, &g->run_cap, g->nrun + 1, sizeof *g->run_tids);
        r->run_slot = (uint32_t)g->nrun;
        g->run_tids[g->nrun++] = tid;
    }
}

static void running_remove(gea_t *g, uint32_t tid)
{
    running_t *r = global_thread(g, tid, false);
    if (!r || !r->running) return;
    r->running = false;
    uint32_t last = g->run_tids[--g->nrun];
    g->run_tids[r->run_slot] = last;
    global_thread(g, last, false)->run_slot = r->run_slot;
}

/* A thread seen running or stopping without a CreateThread (a capture that attached late):
 * created on first sight, as spec §9 says. */
static void thread_seen(gea_t *g, gea_window_t *w, uint32_t tid, uint64_t t)
{
    if (!global_thread(g, tid, false)) thread_create(g, w, tid, t);
}

/* ---- events ------------------------------------------------------------------------------- */

static bool is_window(const gea_t *g, const char *label, size_t len, int64_t sub)
{
    return g->has_window && sub == g->win_sub && len == g->win_len &&
           memcmp(label, g->win_label, len) == 0;
}

static void window_start(gea_t *g, gea_window_t *w, uint64_t t)
{
    w->startup = t;
    w->has_startup = true;
    w->in_window = true;
    for (size_t i = 0; i < g->nrun; i++) {
        gea_thread_t *th = window_thread(w, g->run_tids[i], true);
        th->created = th->finished = t;
        th->labels = global_thread(g, g->run_tids[i], false)->labels;
    }
}

static gea_window_t *window_stop(gea_t *g, gea_window_t *w, uint64_t t)
{
    w->in_window = false;
    if (t > w->end) w->end = t;
    for (size_t i = 0; i < g->nrun; i++) {
        gea_thread_t *th = window_thread(w, g->run_tids[i], false);
        if (th) th->finished = t;
    }
    return new_window(g);
}

/* gea_parse_label, with the common case (no subscript) inline. */
static inline void parse_label(const char *s, size_t n, const char **label, size_t *len,
                               int64_t *sub)
{
    if (n == 0 || ((s[0] < '0' || s[0] > '9') && s[0] != '-')) {
        *label = s;
        *len = n;
        *sub = 0;
        return;
    }
    gea_parse_label(s, n, label, len, sub);
}

/* A CapCreate or Startup: the window's startup, when it has none yet. */
static void note_startup(gea_window_t *w, uint64_t t)
{
    if (!w->has_startup) {
        w->has_startup = true;
        w->startup = t;
    }
}

/* A user message: pairing (not for an analysis of the bounds only) and windows. */
static void user_message(gea_t *g, gea_window_t *w, const evlog_bytes_t *text, uint64_t t)
{
    const char *s = (const char *)text->p, *label;
    size_t n = text->len, len;
    int64_t sub;
    long id = -1;
    bool stop = false;
    if (labelkey_has_prefix(s, n, &g->start)) {
        parse_label(s + g->start_len, n - g->start_len, &label, &len, &sub);
        if (w->in_window && !g->bounds_only)
            event_start(w, GEA_USER, id = user_id(g, w, label, len, sub, true), t);
        if (is_window(g, label, len, sub)) window_start(g, w, t);
    } else if (labelkey_has_prefix(s, n, &g->stop)) {
        parse_label(s + g->stop_len, n - g->stop_len, &label, &len, &sub);
        if (is_window(g, label, len, sub)) w = window_stop(g, w, t);
        if (w->in_window && !g->bounds_only)
            event_stop(w, GEA_USER, id = user_id(g, w, label, len, sub, false), t);
        stop = true;
    }
    if (!g->has_window && id < (1l << 30))
        g->user_tag = id < 0 ? GEA_TAG_NONE : gea_tag_of((uint32_t)id, stop);
}

void gea_fields(uint64_t bits[1024])
{
    static const uint16_t used[] = {EVLOG_CAP_CREATE,  EVLOG_STARTUP,      EVLOG_CREATE_THREAD,
                                    EVLOG_STOP_THREAD, EVLOG_THREAD_LABEL, EVLOG_RUN_THREAD,
                                    EVLOG_GC_START,    EVLOG_GC_END,       EVLOG_USER_MSG};
    for (size_t i = 0; i < sizeof used / sizeof used[0]; i++)
        bits[used[i] >> 6] |= 1ull << (used[i] & 63);
}

/* The part of gea_event for events whose fields it reads (kept out of line, so that the many
 * events it only times cost a short call). */
static __attribute__((noinline)) void known_event(gea_t *g, gea_window_t *w,
                                                  const evlog_event_t *ev)
{
    uint64_t t = ev->ts;
    switch (ev->type) {
    case EVLOG_CAP_CREATE:
    case EVLOG_STARTUP:
        note_startup(w, t);
        break;
    case EVLOG_CREATE_THREAD:
        thread_create(g, w, ev->f.thread.tid, t);
        break;
    case EVLOG_STOP_THREAD: {
        uint32_t tid = ev->f.stop.tid;
        thread_seen(g, w, tid, t);
        if (ev->f.stop.status == 5) { /* ThreadFinished */
            if (w->in_window) {
                event_stop(w, GEA_THREAD, thread_id(g, w, tid, false), t);
                gea_thread_t *th = window_thread(w, tid, false);
                if (th) th->finished = t;
            }
            running_remove(g, tid);
        } else if (w->in_window) {
            event_stop(w, GEA_THREAD, thread_id(g, w, tid, false), t);
        }
        break;
    }
    case EVLOG_THREAD_LABEL: {
        uint32_t tid = ev->f.label.tid;
        const char *s = (const char *)ev->f.label.text.p;
        size_t n = ev->f.label.text.len;
        running_t *r = global_thread(g, tid, false);
        if (r && r->running) r->labels = cons_label(g, s, n, r->labels);
        gea_thread_t *th = window_thread(w, tid, false);
        if (th) th->labels = cons_label(g, s, n, th->labels);
        break;
    }
    case EVLOG_RUN_THREAD:
        thread_seen(g, w, ev->f.thread.tid, t);
        if (w->in_window) event_start(w, GEA_THREAD, thread_id(g, w, ev->f.thread.tid, true), t);
        break;
    case EVLOG_GC_START:
        if (w->in_window) event_start(w, GEA_GC, gc_id(g, w, true), t);
        break;
    case EVLOG_GC_END:
        if (w->in_window) event_stop(w, GEA_GC, gc_id(g, w, false), t);
        break;
    case EVLOG_USER_MSG:
        user_message(g, w, &ev->f.msg.text, t);
        break;
    default:
        break;
    }
}

/* known_event for an analysis of the windows' bounds only: startup times and window starts and
 * stops (no thread is running for window_start to enter, as none is tracked). */
static __attribute__((noinline)) void bounds_event(gea_t *g, gea_window_t *w,
                                                   const evlog_event_t *ev)
{
    if (ev->type == EVLOG_CAP_CREATE || ev->type == EVLOG_STARTUP)
        note_startup(w, ev->ts);
    else if (ev->type == EVLOG_USER_MSG)
        user_message(g, w, &ev->f.msg.text, ev->ts);
}

void gea_event(gea_t *g, const evlog_event_t *ev)
{
    gea_window_t *w = g->wins[g->nwins - 1];
    uint64_t t = ev->ts;
    if (ev->type == EVLOG_BLOCK_MARKER) return;
    if (!w->any_event) {
        w->any_event = true;
        w->first_ts = t;
    }
    if (t > w->end) w->end = t;
    g->user_tag = 0;
    if (ev->known) {
        if (g->bounds_only)
            bounds_event(g, w, ev);
        else
            known_event(g, w, ev);
    }
}

uint32_t gea_pipe_tag(const gea_t *g, const evlog_event_t *ev, uint32_t *ids, bool *bare)
{
    *bare = false;
    if (ev->type != EVLOG_USER_MSG || !ev->known) return 0;
    uint32_t tag = g->user_tag;
    if (tag <= GEA_TAG_NONE) return tag;
    uint32_t i = gea_tag_index(tag);
    if (i < *ids)
        *bare = true;
    else
        *ids = i + 1; /* a new id is the newest: its index is the highest so far */
    return tag;
}

void gea_bounds_fields(uint64_t bits[1024])
{
    static const uint16_t used[] = {EVLOG_CAP_CREATE, EVLOG_STARTUP, EVLOG_USER_MSG,
                                    EVLOG_THREAD_LABEL};
    for (size_t i = 0; i < sizeof used / sizeof used[0]; i++)
        bits[used[i] >> 6] |= 1ull << (used[i] & 63);
}

void gea_skipped(gea_t *g, uint64_t first, uint64_t last)
{
    gea_window_t *w0 = g->wins[0], *w = g->wins[g->nwins - 1];
    if (first > last) return;
    if (!w0->any_event || first < w0->first_ts) w0->first_ts = first;
    w0->any_event = true;
    if (last > w->end) w->end = last;
}

bool gea_bounds_exact(const gea_t *g)
{
    for (size_t i = 1; i < gea_outputs(g); i++)
        if (!g->wins[i]->has_startup) return false;
    return true;
}

size_t gea_thread_header(const gea_window_t *w, uint32_t tid, char *buf, size_t cap)
{
    const gea_thread_t *th = gea_window_thread(w, tid);
    size_t n = 0;
    if (!th || !th->labels) return (size_t)snprintf(buf, cap, "%u", tid);
    const gea_label_t *prev = NULL;
    for (const gea_label_t *l = th->labels; l; l = l->next) {
        if (prev && prev->len == l->len && memcmp(prev->text, l->text, l->len) == 0) continue;
        if (prev) {
            if (n + 1 < cap) buf[n] = ':';
            n++;
        }
        for (uint32_t i = 0; i < l->len; i++, n++)
            if (n + 1 < cap) buf[n] = l->text[i];
        prev = l;
    }
    if (cap) buf[n < cap ? n : cap - 1] = 0;
    return n;
}
