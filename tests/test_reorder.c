/* Tests of the reorder window (lib/reorder.h): streams of several capabilities, in time order but
 * for small steps back and occasional far jumps, are released exactly as a simple model does it
 * (a plain list of held events, the oldest found by a scan, the text ring replayed record by
 * record): same order, late flags, forced releases and counters, and every field intact. */
#include "test.h"

#include "reorder.h"

#include <stdlib.h>
#include <string.h>

#define MIN_POOL ((size_t)128 << 10) /* the smallest pool, as reorder.h documents */
#define NO_TEXT UINT32_MAX

/* ---- events ----------------------------------------------------------------------------- */

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The events of one test, with their texts in one buffer. */
typedef struct evs {
    evlog_event_t *v;
    size_t n, cap;
    uint8_t *text;
    size_t tlen, tcap;
} evs_t;

static void evs_free(evs_t *e)
{
    free(e->v);
    free(e->text);
}

/* Appends an event of a type picked by `kind` with fields and a text derived from `seed`. Text
 * pointers are stored as offsets into e->text and fixed by evs_fix. */
static void evs_add(evs_t *e, uint64_t ts, uint64_t off, int32_t cap, uint64_t seed,
                    uint32_t max_text)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? 2 * e->cap : 1024;
        e->v = realloc(e->v, e->cap * sizeof *e->v);
    }
    evlog_event_t *ev = &e->v[e->n++];
    memset(ev, 0, sizeof *ev);
    ev->ts = ts;
    ev->offset = off;
    ev->cap = cap;
    ev->known = true;
    uint32_t len = max_text ? (uint32_t)(seed >> 20) % (max_text + 1) : 0;
    if (e->tlen + len > e->tcap) {
        e->tcap = 2 * (e->tlen + len) + 4096;
        e->text = realloc(e->text, e->tcap);
    }
    for (uint32_t i = 0; i < len; i++)
        e->text[e->tlen + i] = (uint8_t)('a' + (seed + i) % 26);
    evlog_bytes_t text = {(const uint8_t *)(uintptr_t)e->tlen, len};
    e->tlen += len;
    uint32_t x = (uint32_t)(seed >> 8);
    switch (seed % 13) {
    case 0:
        ev->type = EVLOG_RUN_THREAD;
        ev->f.thread.tid = x;
        break;
    case 1:
        ev->type = EVLOG_STOP_THREAD;
        ev->f.stop.tid = x;
        ev->f.stop.status = (uint16_t)(x >> 3);
        break;
    case 2:
        ev->type = EVLOG_THREAD_LABEL;
        ev->f.label.tid = x;
        ev->f.label.text = text;
        break;
    case 3:
        ev->type = EVLOG_USER_MSG;
        ev->f.msg.text = text;
        break;
    case 4:
        ev->type = EVLOG_HEAP_SIZE;
        ev->f.heap.capset = x;
        ev->f.heap.bytes = seed;
        break;
    case 5:
        ev->type = EVLOG_SPARK_COUNTERS;
        for (int i = 0; i < 7; i++)
            ev->f.spark_counters.v[i] = seed + (uint64_t)i;
        break;
    case 6:
        ev->type = EVLOG_HEAP_PROF_SAMPLE_STRING;
        ev->f.hp_sample_str.prof_id = (uint8_t)x;
        ev->f.hp_sample_str.residency = seed >> 3;
        ev->f.hp_sample_str.label = text;
        break;
    case 7:
        ev->type = EVLOG_MIGRATE_THREAD;
        ev->f.thread_cap.tid = x;
        ev->f.thread_cap.cap = (uint16_t)(x >> 5);
        break;
    case 8:
        ev->type = EVLOG_GC_START;
        break;
    case 9:
        ev->type = EVLOG_THREAD_WAKEUP; /* known to the decoder, not kept by the window */
        ev->f.thread_cap.tid = x;
        break;
    case 10:
        ev->type = EVLOG_CAP_CREATE;
        ev->f.cap.cap = (uint16_t)x;
        break;
    case 11:
        ev->type = EVLOG_HEAP_PROF_SAMPLE_BEGIN;
        ev->f.era.era = seed >> 2;
        break;
    default:
        ev->type = 250; /* unknown */
        ev->known = false;
        break;
    }
}

/* Turns text offsets into pointers once the text buffer no longer moves. */
static void evs_fix(evs_t *e)
{
    for (size_t i = 0; i < e->n; i++) {
        evlog_event_t *ev = &e->v[i];
        evlog_bytes_t *b = ev->type == EVLOG_THREAD_LABEL              ? &ev->f.label.text
                           : ev->type == EVLOG_USER_MSG                ? &ev->f.msg.text
                           : ev->type == EVLOG_HEAP_PROF_SAMPLE_STRING ? &ev->f.hp_sample_str.label
                                                                       : NULL;
        if (b) b->p = e->text + (uintptr_t)b->p;
    }
}

/* Bytes the window keeps in its pool for ev. */
static uint32_t text_len(const evlog_event_t *ev)
{
    if (!ev->known) return 0;
    switch (ev->type) {
    case EVLOG_THREAD_LABEL:
        return ev->f.label.text.len;
    case EVLOG_USER_MSG:
        return ev->f.msg.text.len;
    case EVLOG_HEAP_PROF_SAMPLE_STRING:
        return ev->f.hp_sample_str.label.len;
    case EVLOG_SPARK_COUNTERS:
        return sizeof ev->f.spark_counters.v;
    default:
        return 0;
    }
}

/* How a generated stream goes wrong: GHC-like (small steps back, rare far jumps) or adversarial. */
typedef enum shape { GHC, DESCENDING, ZIGZAG, SAME_TS, OFFSETS_DOWN, MIXED } shape_t;

/* n events of `ncaps` capabilities (from caps[]) in bursts, shaped as asked. Offsets are unique. */
static void generate(evs_t *e, size_t n, const int32_t *caps, int ncaps, shape_t shape,
                     uint64_t seed, uint32_t max_text)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1, *clock = malloc((size_t)ncaps * sizeof *clock);
    for (int k = 0; k < ncaps; k++)
        clock[k] = 1000000 + rnd(&s) % 5000;
    int cur = 0;
    size_t left = 0;
    uint64_t off = 40;
    for (size_t i = 0; i < n; i++) {
        if (!left) {
            cur = (int)(rnd(&s) % (uint64_t)ncaps);
            left = 1 + rnd(&s) % 300;
        }
        left--;
        uint64_t r = rnd(&s), ts = clock[cur];
        switch (shape) {
        case GHC:
            if (r % 1000 < 3) /* a far jump back */
                ts -= rnd(&s) % (ts < 500000 ? ts : 500000);
            else if (r % 1000 < 60) /* EndGC after GCStatsGHC: a step or two back */
                ts -= rnd(&s) % 40;
            else
                ts = clock[cur] += rnd(&s) % 20; /* ties on ts happen too */
            break;
        case DESCENDING:
            ts = 10000000 - i;
            break;
        case ZIGZAG: /* each event falls between the ones before: far from both queue ends */
            ts = i % 2 ? 10000000 - i : 1000 + i;
            break;
        case SAME_TS:
        case OFFSETS_DOWN:
            ts = 777;
            break;
        case MIXED: /* half the capabilities go back in time all along */
            clock[cur] += 1 + r % 20;
            ts = cur % 2 ? 30000000 - clock[cur] : clock[cur];
            break;
        }
        off = shape == OFFSETS_DOWN ? 40 + 17 * (n - i) : off + 1 + rnd(&s) % 60;
        evs_add(e, ts, off, caps[cur], rnd(&s), max_text);
    }
    free(clock);
    evs_fix(e);
}

/* ---- the model ---------------------------------------------------------------------------- */

typedef struct out {
    uint64_t ts, off;
    bool late;
} out_t;

typedef struct mrec {
    uint64_t end;
    bool freed;
} mrec_t;

typedef struct held {
    uint64_t ts, off;
    uint32_t rec;
} held_t;

/* What the window must do: events held in a plain array, released smallest (ts, offset) first;
 * texts take pool records in arrival order, placed at the ring's head or, when they would cross
 * its end, at its start; the ring's tail passes a record once it and all older ones are freed. */
typedef struct model {
    held_t *held;
    size_t n, max;
    uint64_t psize, phead, ptail;
    mrec_t *recs;
    size_t rhead, rtail, rcap;
    out_t *out;
    size_t nout, ocap;
    uint64_t last_ts, last_off;
    bool any;
    uint64_t late, forced;
} model_t;

static void model_init(model_t *m, size_t max, size_t pool)
{
    memset(m, 0, sizeof *m);
    m->max = max;
    m->held = malloc(max * sizeof *m->held);
    m->psize = pool < MIN_POOL ? MIN_POOL : pool;
}

static void model_dispose(model_t *m)
{
    free(m->held);
    free(m->recs);
    free(m->out);
}

static bool key_lt(uint64_t ts, uint64_t off, uint64_t ts2, uint64_t off2)
{
    return ts < ts2 || (ts == ts2 && off < off2);
}

static void model_emit(model_t *m, held_t h)
{
    bool late = m->any && key_lt(h.ts, h.off, m->last_ts, m->last_off);
    if (late) {
        m->late++;
    } else {
        m->last_ts = h.ts;
        m->last_off = h.off;
        m->any = true;
    }
    if (m->nout == m->ocap) {
        m->ocap = m->ocap ? 2 * m->ocap : 1024;
        m->out = realloc(m->out, m->ocap * sizeof *m->out);
    }
    m->out[m->nout++] = (out_t){h.ts, h.off, late};
    if (h.rec != NO_TEXT) {
        m->recs[h.rec].freed = true;
        while (m->rtail < m->rhead && m->recs[m->rtail].freed)
            m->ptail = m->recs[m->rtail++].end;
    }
}

static void model_pop_oldest(model_t *m)
{
    size_t best = 0;
    for (size_t i = 1; i < m->n; i++)
        if (key_lt(m->held[i].ts, m->held[i].off, m->held[best].ts, m->held[best].off)) best = i;
    held_t h = m->held[best];
    m->held[best] = m->held[--m->n];
    model_emit(m, h);
}

static bool model_pool_alloc(model_t *m, uint32_t len)
{
    if (m->rhead - m->rtail >= m->max) return false;
    uint64_t phys = m->phead % m->psize;
    uint64_t start = phys + len > m->psize ? m->phead + (m->psize - phys) : m->phead;
    if (start + len - m->ptail > m->psize) return false;
    m->phead = start + len;
    if (m->rhead == m->rcap) {
        m->rcap = m->rcap ? 2 * m->rcap : 1024;
        m->recs = realloc(m->recs, m->rcap * sizeof *m->recs);
    }
    m->recs[m->rhead++] = (mrec_t){m->phead, false};
    return true;
}

static void model_push(model_t *m, const evlog_event_t *ev)
{
    if (m->n == m->max) {
        m->forced++;
        model_pop_oldest(m);
    }
    uint32_t len = text_len(ev), rec = NO_TEXT;
    if (len) {
        while (!model_pool_alloc(m, len)) {
            m->forced++;
            model_pop_oldest(m);
        }
        rec = (uint32_t)(m->rhead - 1);
    }
    m->held[m->n++] = (held_t){ev->ts, ev->offset, rec};
}

static int held_cmp(const void *x, const void *y)
{
    const held_t *a = x, *b = y;
    return key_lt(a->ts, a->off, b->ts, b->off) ? -1 : key_lt(b->ts, b->off, a->ts, a->off);
}

static void model_release(model_t *m, uint64_t wm)
{
    size_t keep = 0, nrel = 0;
    held_t *rel = malloc((m->n + 1) * sizeof *rel);
    for (size_t i = 0; i < m->n; i++)
        if (m->held[i].ts <= wm)
            rel[nrel++] = m->held[i];
        else
            m->held[keep++] = m->held[i];
    m->n = keep;
    qsort(rel, nrel, sizeof *rel, held_cmp);
    for (size_t i = 0; i < nrel; i++)
        model_emit(m, rel[i]);
    free(rel);
}

/* ---- driving both ------------------------------------------------------------------------- */

typedef struct got {
    const evs_t *evs;
    const size_t *by_off; /* event indexes sorted by offset */
    out_t *out;
    size_t n, cap;
    size_t bad; /* released events whose fields differ from what was pushed */
    char note[200];
} got_t;

static const evs_t *sort_evs;

static int off_cmp(const void *x, const void *y)
{
    uint64_t a = sort_evs->v[*(const size_t *)x].offset, b = sort_evs->v[*(const size_t *)y].offset;
    return (a > b) - (a < b);
}

/* The indexes of e's events sorted by offset (malloc'd), for find_pushed. */
static size_t *index_by_offset(const evs_t *e)
{
    size_t *by_off = malloc((e->n + 1) * sizeof *by_off);
    for (size_t i = 0; i < e->n; i++)
        by_off[i] = i;
    sort_evs = e;
    qsort(by_off, e->n, sizeof *by_off, off_cmp);
    return by_off;
}

static const evlog_event_t *find_pushed(const got_t *g, uint64_t off)
{
    size_t lo = 0, hi = g->evs->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (g->evs->v[g->by_off[mid]].offset < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < g->evs->n && g->evs->v[g->by_off[lo]].offset == off ? &g->evs->v[g->by_off[lo]]
                                                                    : NULL;
}

static bool same_text(evlog_bytes_t a, evlog_bytes_t b)
{
    return a.len == b.len && (!a.len || memcmp(a.p, b.p, a.len) == 0);
}

/* Whether a released event carries what the window promises to keep of the pushed one. */
static bool same_fields(const evlog_event_t *p, const evlog_event_t *r)
{
    bool kept = p->known && p->type != EVLOG_THREAD_WAKEUP;
    if (r->ts != p->ts || r->offset != p->offset || r->cap != p->cap || r->type != p->type ||
        r->known != kept)
        return false;
    if (!kept) return true;
    switch (p->type) {
    case EVLOG_RUN_THREAD:
        return r->f.thread.tid == p->f.thread.tid;
    case EVLOG_STOP_THREAD:
        return r->f.stop.tid == p->f.stop.tid && r->f.stop.status == p->f.stop.status;
    case EVLOG_THREAD_LABEL:
        return r->f.label.tid == p->f.label.tid && same_text(r->f.label.text, p->f.label.text);
    case EVLOG_USER_MSG:
        return same_text(r->f.msg.text, p->f.msg.text);
    case EVLOG_HEAP_SIZE:
        return r->f.heap.capset == p->f.heap.capset && r->f.heap.bytes == p->f.heap.bytes;
    case EVLOG_SPARK_COUNTERS:
        return memcmp(r->f.spark_counters.v, p->f.spark_counters.v, sizeof p->f.spark_counters.v) ==
               0;
    case EVLOG_HEAP_PROF_SAMPLE_STRING:
        return r->f.hp_sample_str.prof_id == p->f.hp_sample_str.prof_id &&
               r->f.hp_sample_str.residency == p->f.hp_sample_str.residency &&
               same_text(r->f.hp_sample_str.label, p->f.hp_sample_str.label);
    case EVLOG_MIGRATE_THREAD:
        return r->f.thread_cap.tid == p->f.thread_cap.tid &&
               r->f.thread_cap.cap == p->f.thread_cap.cap;
    case EVLOG_CAP_CREATE:
        return r->f.cap.cap == p->f.cap.cap;
    case EVLOG_HEAP_PROF_SAMPLE_BEGIN:
        return r->f.era.era == p->f.era.era;
    default:
        return true;
    }
}

static void on_release(void *ctx, const evlog_event_t *ev, bool late)
{
    got_t *g = ctx;
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 1024;
        g->out = realloc(g->out, g->cap * sizeof *g->out);
    }
    g->out[g->n++] = (out_t){ev->ts, ev->offset, late};
    const evlog_event_t *p = find_pushed(g, ev->offset);
    if (!p || !same_fields(p, ev)) {
        if (!g->bad++)
            snprintf(g->note, sizeof g->note, "offset %llu type %u", (unsigned long long)ev->offset,
                     ev->type);
    }
}

/* How releases interleave with pushes: every `every` pushes (0: never), a watermark `lag` behind
 * the newest time pushed, sometimes all (UINT64_MAX) or nothing (0). */
typedef struct plan {
    size_t window, pool;
    unsigned every;
    uint64_t lag;
} plan_t;

/* Runs the events through a window and the model under `p` (or, when `wms` is given, releasing
 * up to wms[i] after event i), checking counters after each step and the released sequences at
 * the end. Returns the window's forced count. */
static uint64_t drive(const char *what, const evs_t *e, plan_t p, uint64_t seed,
                      const uint64_t *wms)
{
    size_t *by_off = index_by_offset(e);
    got_t g = {.evs = e, .by_off = by_off};
    reorder_t *w = reorder_create(p.window, p.pool, on_release, &g);
    REQUIRE(w);
    size_t mem = reorder_memory(w);
    model_t m;
    model_init(&m, p.window, p.pool);
    uint64_t s = seed | 1, newest = 0;
    size_t steps_bad = 0;
    for (size_t i = 0; i < e->n; i++) {
        reorder_push(w, &e->v[i]);
        model_push(&m, &e->v[i]);
        if (e->v[i].ts > newest) newest = e->v[i].ts;
        if (wms) {
            reorder_release(w, wms[i]);
            model_release(&m, wms[i]);
        } else if (p.every && rnd(&s) % p.every == 0) {
            uint64_t r = rnd(&s) % 64, wm = newest > p.lag ? newest - p.lag : 0;
            if (r == 0) wm = UINT64_MAX;
            if (r == 1) wm = 0;
            if (r == 2) wm = newest > 4 * p.lag ? newest - 4 * p.lag : 0; /* goes back */
            reorder_release(w, wm);
            model_release(&m, wm);
        }
        if (reorder_len(w) != m.n || reorder_forced(w) != m.forced || reorder_late(w) != m.late)
            steps_bad++;
    }
    reorder_flush(w);
    model_release(&m, UINT64_MAX);
    CHECKF(steps_bad == 0, "%s: counters differ from the model after %zu steps", what, steps_bad);
    CHECKF(g.n == m.nout && g.n == e->n, "%s: released %zu, model %zu, pushed %zu", what, g.n,
           m.nout, e->n);
    size_t first = SIZE_MAX;
    for (size_t i = 0; i < g.n && i < m.nout && first == SIZE_MAX; i++)
        if (g.out[i].off != m.out[i].off || g.out[i].ts != m.out[i].ts ||
            g.out[i].late != m.out[i].late)
            first = i;
    CHECKF(first == SIZE_MAX, "%s: release %zu: offset %llu late %d, model offset %llu late %d",
           what, first, first == SIZE_MAX ? 0ull : (unsigned long long)g.out[first].off,
           first == SIZE_MAX ? 0 : g.out[first].late,
           first == SIZE_MAX ? 0ull : (unsigned long long)m.out[first].off,
           first == SIZE_MAX ? 0 : m.out[first].late);
    CHECKF(g.bad == 0, "%s: %zu released events differ from the pushed ones, first %s", what, g.bad,
           g.note);
    CHECK_EQ_U64(reorder_forced(w), m.forced);
    CHECK_EQ_U64(reorder_late(w), m.late);
    CHECK(reorder_len(w) == 0);
    CHECKF(reorder_memory(w) == mem, "%s: memory went from %zu to %zu", what, mem,
           reorder_memory(w));
    uint64_t forced = reorder_forced(w);
    reorder_destroy(w);
    model_dispose(&m);
    free(g.out);
    free(by_off);
    return forced;
}

/* ---- tests -------------------------------------------------------------------------------- */

static const int32_t ghc_caps[] = {EVLOG_NO_CAP, 0, 1, 2, 3, 4, 5, 6};
static const int32_t wide_caps[] = {EVLOG_NO_CAP, 0, 1, 7, 253, 254, 255, 256, 4000, 65535};

TEST(reorder_flush_equals_sorted_pushes)
{
    for (int k = 0; k < 6; k++) {
        evs_t e = {0};
        const int32_t *caps = k % 2 ? wide_caps : ghc_caps;
        int ncaps = k % 2 ? 10 : 1 + 3 * (k / 2);
        generate(&e, 60000, caps, ncaps, GHC, 11 + (uint64_t)k, 40);
        /* the reference: a plain sort of what was pushed (offsets are unique, so it is stable) */
        held_t *ref = malloc(e.n * sizeof *ref);
        for (size_t i = 0; i < e.n; i++)
            ref[i] = (held_t){e.v[i].ts, e.v[i].offset, 0};
        qsort(ref, e.n, sizeof *ref, held_cmp);
        size_t *by_off = index_by_offset(&e);
        got_t g = {.evs = &e, .by_off = by_off};
        reorder_t *w = reorder_create(1 << 17, 8 << 20, on_release, &g);
        REQUIRE(w);
        for (size_t i = 0; i < e.n; i++)
            reorder_push(w, &e.v[i]);
        CHECK(reorder_len(w) == e.n);
        reorder_flush(w);
        REQUIRE(g.n == e.n);
        size_t bad = 0;
        for (size_t i = 0; i < e.n; i++)
            bad += g.out[i].off != ref[i].off || g.out[i].late;
        CHECKF(bad == 0, "run %d: %zu events out of place", k, bad);
        CHECKF(g.bad == 0, "run %d: %zu events changed, first %s", k, g.bad, g.note);
        CHECK(reorder_late(w) == 0 && reorder_forced(w) == 0 && reorder_len(w) == 0);
        reorder_destroy(w);
        free(g.out);
        free(by_off);
        free(ref);
        evs_free(&e);
    }
}

TEST(reorder_watermarks_match_model)
{
    static const plan_t plans[] = {
        {1 << 16, 8 << 20, 50, 2000}, {1 << 16, 8 << 20, 400, 100},  {5000, 8 << 20, 20, 20000},
        {4096, 8 << 20, 1, 0},        {1 << 16, 8 << 20, 7, 300000},
    };
    for (int k = 0; k < 5; k++) {
        for (int c = 0; c < 2; c++) {
            evs_t e = {0};
            generate(&e, 40000, c ? wide_caps : ghc_caps, c ? 10 : 5, GHC, 100 + (uint64_t)k, 30);
            char what[64];
            snprintf(what, sizeof what, "plan %d caps %d", k, c);
            drive(what, &e, plans[k], 7 + (uint64_t)k, NULL);
            evs_free(&e);
        }
    }
}

TEST(reorder_full_window_releases_oldest)
{
    static const size_t windows[] = {2, 3, 5, 16, 17, 33, 255, 256, 257, 1000};
    uint64_t forced = 0;
    for (int k = 0; k < 10; k++) {
        evs_t e = {0};
        generate(&e, windows[k] < 100 ? 8000 : 20000, k % 3 ? ghc_caps : wide_caps, k % 3 ? 8 : 10,
                 GHC, 300 + (uint64_t)k, 20);
        char what[64];
        snprintf(what, sizeof what, "window %zu", windows[k]);
        forced += drive(what, &e, (plan_t){windows[k], 8 << 20, k % 2 ? 0 : 97, 5000}, 1, NULL);
        evs_free(&e);
    }
    CHECKF(forced > 100000, "only %llu forced releases", (unsigned long long)forced);
}

TEST(reorder_full_pool_releases_oldest)
{
    uint64_t forced = 0;
    for (int k = 0; k < 4; k++) {
        evs_t e = {0};
        /* texts of up to 9 KB in the smallest pool (128 KiB): it fills every few dozen events */
        generate(&e, 6000, ghc_caps, 3 + k, GHC, 500 + (uint64_t)k, 9000);
        char what[64];
        snprintf(what, sizeof what, "pool run %d", k);
        forced +=
            drive(what, &e, (plan_t){k == 3 ? 64 : 1 << 14, 0, k % 2 ? 0 : 31, 3000}, 3, NULL);
        evs_free(&e);
    }
    CHECKF(forced > 3000, "only %llu forced releases", (unsigned long long)forced);
}

TEST(reorder_adversarial_orders_match_model)
{
    static const shape_t shapes[] = {DESCENDING, ZIGZAG, SAME_TS, OFFSETS_DOWN};
    static const char *const names[] = {"descending", "zigzag", "same ts", "offsets down"};
    for (int k = 0; k < 4; k++) {
        for (int c = 0; c < 3; c++) {
            evs_t e = {0};
            generate(&e, 20000, c == 2 ? wide_caps : ghc_caps,
                     c == 0   ? 1
                     : c == 1 ? 4
                              : 10,
                     shapes[k], 900 + (uint64_t)k, 16);
            char what[64];
            snprintf(what, sizeof what, "%s caps %d big", names[k], c);
            drive(what, &e, (plan_t){1 << 15, 8 << 20, c ? 500 : 0, 1000}, 5, NULL);
            snprintf(what, sizeof what, "%s caps %d small", names[k], c);
            drive(what, &e, (plan_t){300, 8 << 20, 0, 0}, 5, NULL);
            evs_free(&e);
        }
    }
}

TEST(reorder_many_caps_match_model)
{
    int32_t caps[301];
    caps[0] = EVLOG_NO_CAP;
    for (int i = 1; i < 301; i++)
        caps[i] = i - 1;
    static const size_t windows[] = {257, 600, 5000};
    for (int k = 0; k < 6; k++) {
        evs_t e = {0};
        generate(&e, 30000, caps, 301, k % 2 ? MIXED : GHC, 1200 + (uint64_t)k, 8);
        char what[64];
        snprintf(what, sizeof what, "%s window %zu", k % 2 ? "mixed" : "ghc", windows[k / 2]);
        drive(what, &e, (plan_t){windows[k / 2], 8 << 20, k < 4 ? 0 : 13, 50}, 9, NULL);
        evs_free(&e);
    }
}

TEST(reorder_every_queue_ragged_and_full)
{
    /* 256 capabilities each hold 18 events whose first sits where 15 released ones were: as
     * ragged as queues get, with the window full; then one more event forces a release */
    enum { NQ = 256, W = NQ * 18 };
    evs_t e = {0};
    uint64_t *wms = calloc(NQ * 33 + 1, sizeof *wms), off = 40;
    for (int q = 0; q < NQ; q++) {
        for (int j = 0; j < 15; j++)
            evs_add(&e, 100 + (uint64_t)j, off += 20, q - 1, (uint64_t)(q * 31 + j), 4);
        evs_add(&e, 1000000 + (uint64_t)q * 100, off += 20, q - 1, (uint64_t)q, 4);
    }
    wms[e.n - 1] = 999;
    for (int q = 0; q < NQ; q++)
        for (int j = 1; j < 18; j++)
            evs_add(&e, 1000000 + (uint64_t)(q * 100 + j), off += 20, q - 1, (uint64_t)j, 4);
    evs_add(&e, 5, off += 20, 1000, 77, 4);
    evs_fix(&e);
    CHECK(drive("ragged", &e, (plan_t){W, 8 << 20, 0, 0}, 1, wms) == 1);
    free(wms);
    evs_free(&e);
}

static void count_release(void *ctx, const evlog_event_t *ev, bool late)
{
    (void)ev;
    (void)late;
    ++*(size_t *)ctx;
}

TEST(reorder_create_limits_and_counters)
{
    size_t n = 0;
    CHECK(!reorder_create(1, 0, count_release, &n));
    CHECK(!reorder_create(((size_t)1 << 28) + 1, 0, count_release, &n));
    CHECK(!reorder_create(16, ((size_t)1 << 31) + 1, count_release, &n));
    CHECK(!reorder_create(16, 0, NULL, &n));
    reorder_destroy(NULL);
    reorder_t *w = reorder_create(2, 0, count_release, &n);
    REQUIRE(w);
    CHECK(reorder_memory(w) >= MIN_POOL + 2 * 64);
    evlog_event_t ev = {.ts = 5, .offset = 100, .cap = 0, .type = EVLOG_GC_START, .known = true};
    evlog_event_t marker = ev;
    marker.type = EVLOG_BLOCK_MARKER;
    reorder_push(w, &marker); /* ignored */
    CHECK(reorder_len(w) == 0);
    reorder_push(w, &ev);
    ev.ts = 3;
    ev.offset = 120;
    reorder_push(w, &ev);
    CHECK(reorder_len(w) == 2 && n == 0);
    reorder_release(w, 2);
    CHECK(n == 0);
    ev.ts = 4;
    ev.offset = 140;
    reorder_push(w, &ev); /* full: ts 3 goes first */
    CHECK(n == 1 && reorder_forced(w) == 1 && reorder_len(w) == 2);
    ev.ts = 1;
    ev.offset = 160;
    reorder_push(w, &ev); /* full: ts 1 is now the oldest, but ts 4 goes first */
    CHECK(n == 2 && reorder_forced(w) == 2 && reorder_late(w) == 0);
    reorder_release(w, 4); /* ts 1 after ts 4: late; ts 5 stays */
    CHECK(n == 3 && reorder_late(w) == 1 && reorder_len(w) == 1);
    reorder_flush(w);
    CHECK(n == 4 && reorder_len(w) == 0 && reorder_late(w) == 1);
    reorder_destroy(w);
}
