/* The writer side of the live aggregates: state machines that turn events into spans, counts and
 * samples of series rows (user labels with the old tool's pairing and GC correction, threads,
 * capability states, GC pauses, heap, heap profile, sparks), stored in tiers, with the memory
 * bound enforced by dropping the oldest fine bins first. */
#include "aggr_state.h"

#include "gea.h"
#include "outbuf.h"
#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_CAP 1024 /* longest thread header kept (older labels are elided beyond) */

const char *const aggr_kind_names[AK_N] = {
    "user", "thread", "running", "gc",        "idle",    "pause", "count",
    "last", "min",    "max",     "residency", "counter", "other",
};
const char *const aggr_series_names[AS_N] = {"labels", "threads",  "caps",  "gc",
                                             "heap",   "heapprof", "sparks"};
static const char *const spark_names[AGGR_SPARK_ROWS] = {
    "created", "dud", "overflowed", "converted", "gcd", "fizzled", "remaining"};

/* ---- rows --------------------------------------------------------------------------------- */

static uint32_t add_row(aggr_t *a, int series, const char *name, size_t len, uint32_t key,
                        int64_t sub, uint8_t kind)
{
    aseries_t *s = &a->s[series];
    xgrow((void **)&s->rows, &s->rows_cap, (size_t)s->nrows + 1, sizeof *s->rows);
    arow_t *r = &s->rows[s->nrows];
    memset(r, 0, sizeof *r);
    r->name = xstrndup(name, len);
    r->name_len = (uint32_t)len;
    r->key = key;
    r->sub = sub;
    r->kind = kind;
    r->open_slot = -1;
    tiers_rows(&s->t, s->nrows + 1);
    return s->nrows++;
}

static void strix_insert(strix_t *x, const aseries_t *s, uint32_t row)
{
    const arow_t *r = &s->rows[row];
    size_t i = (size_t)labelkey_hash(r->name, r->name_len, r->sub) & (x->cap - 1);
    while (x->slots[i])
        i = (i + 1) & (x->cap - 1);
    x->slots[i] = row + 1;
}

/* The row of (p[0..n), sub) in series `series`, created when absent and `create`; -1 if none. */
static long text_row(aggr_t *a, strix_t *x, int series, const char *p, size_t n, int64_t sub,
                     uint8_t kind, bool create)
{
    aseries_t *s = &a->s[series];
    if (x->cap) {
        for (size_t i = (size_t)labelkey_hash(p, n, sub) & (x->cap - 1); x->slots[i];
             i = (i + 1) & (x->cap - 1)) {
            const arow_t *r = &s->rows[x->slots[i] - 1];
            if (r->sub == sub && r->name_len == n && labelkey_eq(r->name, p, n))
                return (long)x->slots[i] - 1;
        }
    }
    if (!create) return -1;
    uint32_t row = add_row(a, series, p, n, s->nrows, sub, kind);
    if (++x->n * 2 > x->cap) {
        free(x->slots);
        x->cap = x->cap ? x->cap * 2 : 64;
        x->slots = xcalloc(x->cap, sizeof *x->slots);
        for (uint32_t i = 0; i < s->nrows; i++)
            strix_insert(x, s, i);
    } else {
        strix_insert(x, s, row);
    }
    return row;
}

/* Builds index x over every row of s afresh. */
static void strix_rebuild(strix_t *x, const aseries_t *s)
{
    free(x->slots);
    x->cap = 64;
    while (x->cap < (size_t)s->nrows * 2 + 2)
        x->cap *= 2;
    x->slots = xcalloc(x->cap, sizeof *x->slots);
    x->n = s->nrows;
    for (uint32_t i = 0; i < s->nrows; i++)
        strix_insert(x, s, i);
}

void aggr_reindex(aggr_t *a)
{
    strix_rebuild(&a->labels_ix, &a->s[AS_LABELS]);
    strix_rebuild(&a->hp_ix, &a->s[AS_HEAPPROF]);
    tidmap_dispose(&a->tids);
    tidmap_init(&a->tids);
    const aseries_t *th = &a->s[AS_THREADS];
    for (uint32_t i = 0; i < th->nrows; i++)
        tidmap_put(&a->tids, th->rows[i].key, i);
}

static void open_add(aseries_t *s, uint32_t row)
{
    xgrow((void **)&s->open, &s->open_cap, s->nopen + 1, sizeof *s->open);
    s->rows[row].open_slot = (int32_t)s->nopen;
    s->open[s->nopen++] = row;
}

static void open_remove(aseries_t *s, uint32_t row)
{
    int32_t slot = s->rows[row].open_slot;
    if (slot < 0) return;
    uint32_t last = s->open[--s->nopen];
    s->open[slot] = last;
    s->rows[last].open_slot = slot;
    s->rows[row].open_slot = -1;
}

/* Opens row's interval at t (nesting counted, as the old tool pairs). */
static void pair_start(aseries_t *s, uint32_t row, uint64_t t)
{
    arow_t *r = &s->rows[row];
    if (r->count++) return;
    r->open_start = t;
    open_add(s, row);
}

/* Closes one nesting level of row's interval at t; the outermost close records the span. */
static void pair_stop(aseries_t *s, uint32_t row, uint64_t t)
{
    arow_t *r = &s->rows[row];
    if (r->count == 0 || --r->count) return;
    open_remove(s, row);
    tiers_span(&s->t, row, r->open_start, t);
}

/* ---- threads ------------------------------------------------------------------------------ */

static uint32_t thread_row(aggr_t *a, uint32_t tid, uint64_t t, bool *created)
{
    uint32_t v = tidmap_get(&a->tids, tid);
    if (created) *created = v == U32MAP_NONE;
    if (v != U32MAP_NONE) return v;
    char num[20];
    size_t n = outbuf_fmt_u64(num, tid);
    v = add_row(a, AS_THREADS, num, n, tid, 0, AK_THREAD);
    arow_t *r = &a->s[AS_THREADS].rows[v];
    r->lab_len = (uint32_t)n;
    r->life_from = r->life_to = t;
    tidmap_put(&a->tids, tid, v);
    return v;
}

/* CreateThread: the old tool restarts the thread's labels with its decimal id. */
static void thread_create(aggr_t *a, uint32_t tid, uint64_t t)
{
    bool created;
    uint32_t v = thread_row(a, tid, t, &created); /* first: it may move the rows */
    arow_t *r = &a->s[AS_THREADS].rows[v];
    if (created) return;
    char num[20];
    size_t n = outbuf_fmt_u64(num, tid);
    free(r->name);
    r->name = xstrndup(num, n);
    r->name_len = r->lab_len = (uint32_t)n;
    r->life_from = r->life_to = t;
    r->finished = false;
}

/* ThreadLabel: the header is the labels newest first, consecutive duplicates collapsed. */
static void thread_label(aggr_t *a, uint32_t tid, const evlog_bytes_t *text)
{
    uint32_t v = tidmap_get(&a->tids, tid);
    if (v == U32MAP_NONE) return;
    arow_t *r = &a->s[AS_THREADS].rows[v];
    size_t n = text->len;
    if (n == r->lab_len && !memcmp(r->name, text->p, n)) return;
    size_t keep = r->name_len, total = n + 1 + keep;
    const char *tail = r->name;
    char num[24];
    if (total > NAME_CAP) { /* elide the older labels, keep the tid */
        int k = snprintf(num, sizeof num, "...:%u", r->key);
        tail = num;
        keep = (size_t)k;
        total = n + 1 + keep;
    }
    char *name = xmalloc(total + 1);
    memcpy(name, text->p, n);
    name[n] = ':';
    memcpy(name + n + 1, tail, keep);
    name[total] = 0;
    free(r->name);
    r->name = name;
    r->name_len = (uint32_t)total;
    r->lab_len = (uint32_t)n;
}

/* ---- capabilities ------------------------------------------------------------------------- */

static void cap_transition(aggr_t *a, acap_t *c, uint64_t t)
{
    uint8_t ns = c->gc ? CS_GC : c->running ? CS_RUNNING : c->alive ? CS_IDLE : CS_NONE;
    if (ns == c->state) return;
    if (c->state != CS_NONE && t > c->since)
        tiers_span(&a->s[AS_CAPS].t, c->row0 + c->state - 1u, c->since, t);
    c->state = ns;
    if (t > c->since) c->since = t;
}

/* The capability `cap`, alive from t when seen for the first time; NULL for no capability. */
static acap_t *cap_get(aggr_t *a, int64_t cap, uint64_t t)
{
    if (cap < 0 || cap > 0xFFFF) return NULL;
    if ((size_t)cap >= a->ncaps) {
        size_t old = a->ncaps;
        xgrow((void **)&a->caps, &a->ncaps, (size_t)cap + 1, sizeof *a->caps);
        memset(a->caps + old, 0, (a->ncaps - old) * sizeof *a->caps);
    }
    acap_t *c = &a->caps[cap];
    if (c->seen) return c;
    char name[16];
    int n = snprintf(name, sizeof name, "cap %u", (unsigned)cap);
    c->row0 = add_row(a, AS_CAPS, name, (size_t)n, (uint32_t)cap, 0, AK_RUNNING);
    add_row(a, AS_CAPS, name, (size_t)n, (uint32_t)cap, 0, AK_GC);
    add_row(a, AS_CAPS, name, (size_t)n, (uint32_t)cap, 0, AK_IDLE);
    c->seen = c->alive = true;
    c->since = c->alive_from = t;
    cap_transition(a, c, t);
    return c;
}

static void cap_alive(aggr_t *a, uint16_t cap, bool alive, uint64_t t)
{
    acap_t *c = cap_get(a, cap, t);
    if (alive && t < c->alive_from) { /* a late CapCreate: idle before its first event */
        tiers_span(&a->s[AS_CAPS].t, c->row0 + CS_IDLE - 1, t, c->alive_from);
        c->alive_from = t;
    }
    c->alive = alive;
    if (!alive) c->running = c->gc = false;
    cap_transition(a, c, t);
}

/* ---- GC, users ---------------------------------------------------------------------------- */

static void gc_start(aggr_t *a, uint64_t t)
{
    if (a->gc_count++) return;
    a->gc_start = t;
    tiers_add(&a->s[AS_GC].t, GC_COUNT, t, 1);
    aseries_t *u = &a->s[AS_LABELS];
    for (size_t i = 0; i < u->nopen; i++) /* user ids pretend to stop when GC starts */
        tiers_span(&u->t, u->open[i], u->rows[u->open[i]].open_start, t);
}

static void gc_end(aggr_t *a, uint64_t t)
{
    if (a->gc_count == 0 || --a->gc_count) return;
    tiers_span(&a->s[AS_GC].t, GC_PAUSE, a->gc_start, t);
    aseries_t *u = &a->s[AS_LABELS];
    for (size_t i = 0; i < u->nopen; i++)
        u->rows[u->open[i]].open_start = t; /* ... and restart */
}

/* A START or STOP message pairs its label's row; returns the row, or -1 when it touched none. */
static long user_message(aggr_t *a, const evlog_bytes_t *text, uint64_t t)
{
    const char *s = (const char *)text->p, *label;
    size_t n = text->len, len;
    int64_t sub;
    long row = -1;
    if (labelkey_has_prefix(s, n, &a->start_key)) {
        gea_parse_label(s + a->start_len, n - a->start_len, &label, &len, &sub);
        row = text_row(a, &a->labels_ix, AS_LABELS, label, len, sub, AK_USER, true);
        pair_start(&a->s[AS_LABELS], (uint32_t)row, t);
    } else if (labelkey_has_prefix(s, n, &a->stop_key)) {
        gea_parse_label(s + a->stop_len, n - a->stop_len, &label, &len, &sub);
        row = text_row(a, &a->labels_ix, AS_LABELS, label, len, sub, AK_USER, false);
        if (row >= 0) pair_stop(&a->s[AS_LABELS], (uint32_t)row, t);
    }
    return row;
}

/* A user message the producer's analysis resolved (see aggr_event_tagged): a known id pairs its
 * row at once; an id's first message (a start, with its text) makes the row and remembers it. */
static void user_tagged(aggr_t *a, const evlog_event_t *ev, uint32_t tag, uint64_t t)
{
    if (tag <= GEA_TAG_NONE) return;
    uint32_t i = gea_tag_index(tag);
    if (i >= a->tag_rows_cap) {
        size_t old = a->tag_rows_cap;
        xgrow((void **)&a->tag_rows, &a->tag_rows_cap, (size_t)i + 1, sizeof *a->tag_rows);
        memset(a->tag_rows + old, 0xff, (a->tag_rows_cap - old) * sizeof *a->tag_rows);
    }
    uint32_t row = a->tag_rows[i];
    if (row != UINT32_MAX) {
        if (gea_tag_stop(tag))
            pair_stop(&a->s[AS_LABELS], row, t);
        else
            pair_start(&a->s[AS_LABELS], row, t);
        return;
    }
    if (!ev->known) return; /* no text: not the id's first message, which always has it */
    long r = user_message(a, &ev->f.msg.text, t);
    if (r >= 0) a->tag_rows[i] = (uint32_t)r;
}

/* ---- heap, heap profile, sparks ----------------------------------------------------------- */

static acounters_t *counters(aggr_t *a, int32_t cap)
{
    size_t i = cap < 0 || cap > 0xFFFF ? 0 : (size_t)cap + 1;
    if (i >= a->nctr) {
        size_t old = a->nctr;
        xgrow((void **)&a->ctr, &a->nctr, i + 1, sizeof *a->ctr);
        memset(a->ctr + old, 0, (a->nctr - old) * sizeof *a->ctr);
    }
    return &a->ctr[i];
}

static void heap_allocated(aggr_t *a, const evlog_event_t *ev)
{
    acounters_t *c = counters(a, ev->cap);
    if (c->alloc_set && ev->ts < c->alloc_ts) return; /* a late sample is older news */
    a->alloc_total += ev->f.heap.bytes - (c->alloc_set ? c->alloc : 0);
    c->alloc = ev->f.heap.bytes;
    c->alloc_ts = ev->ts;
    c->alloc_set = true;
    tiers_sample(&a->s[AS_HEAP].t, HEAP_ALLOC_ROW, ev->ts, (double)a->alloc_total);
}

static void spark_counters(aggr_t *a, const evlog_event_t *ev)
{
    acounters_t *c = counters(a, ev->cap);
    if (c->spark_set && ev->ts < c->spark_ts) return;
    for (int i = 0; i < AGGR_SPARK_ROWS; i++) {
        uint64_t v = ev->f.spark_counters.v[i];
        /* payload order: created, dud, overflowed, converted, gcd, fizzled, remaining */
        a->spark_total[i] += v - (c->spark_set ? c->spark[i] : 0);
        c->spark[i] = v;
        tiers_sample(&a->s[AS_SPARKS].t, (uint32_t)i, ev->ts, (double)a->spark_total[i]);
    }
    c->spark_ts = ev->ts;
    c->spark_set = true;
}

/* Ends the current heap profile sample at t: bands it did not name drop to 0. */
static void hp_end(aggr_t *a, uint64_t t)
{
    if (!a->hp_open) return;
    a->hp_open = false;
    aseries_t *s = &a->s[AS_HEAPPROF];
    for (uint32_t i = 0; i < s->nrows; i++) {
        arow_t *r = &s->rows[i];
        if (r->era == a->hp_era || r->last == 0) continue;
        r->last = 0;
        tiers_sample(&s->t, i, t, 0);
    }
}

static void hp_begin(aggr_t *a, uint64_t t)
{
    hp_end(a, t);
    a->hp_open = true;
    a->hp_era++;
}

static void hp_string(aggr_t *a, const evlog_event_t *ev)
{
    if (!a->hp_open) hp_begin(a, ev->ts);
    const evlog_bytes_t *l = &ev->f.hp_sample_str.label;
    long row =
        text_row(a, &a->hp_ix, AS_HEAPPROF, (const char *)l->p, l->len, 0, AK_RESIDENCY, true);
    arow_t *r = &a->s[AS_HEAPPROF].rows[row];
    r->era = a->hp_era;
    r->last = (double)ev->f.hp_sample_str.residency;
    tiers_sample(&a->s[AS_HEAPPROF].t, (uint32_t)row, ev->ts, r->last);
}

/* ---- memory bound ------------------------------------------------------------------------- */

/* Drops the oldest quarter of the ring tier holding the most bytes until the bins fit, then
 * coarsens the all-time tier; when nothing helps, waits for more growth before trying again. */
static void shrink(aggr_t *a)
{
    uint32_t levels = a->o.tiers;
    for (int guard = 0; a->bins_mem > a->o.max_memory && guard < 256; guard++) {
        int best = -1;
        size_t best_mem = 0;
        for (uint32_t k = 0; k + 1 < levels; k++) {
            size_t m = 0;
            bool can = false;
            for (int i = 0; i < AS_N; i++) {
                const tiers_level_t *L = &a->s[i].t.lv[k];
                m += L->mem;
                can |= L->hi > L->lo;
            }
            if (can && m > best_mem) {
                best_mem = m;
                best = (int)k;
            }
        }
        if (best >= 0) {
            for (int i = 0; i < AS_N; i++) {
                const tiers_level_t *L = &a->s[i].t.lv[best];
                if (L->hi <= L->lo) continue;
                int64_t drop = (L->hi - L->lo + 1) / 4;
                tiers_trim(&a->s[i].t, (uint32_t)best, L->lo + (drop ? drop : 1));
            }
            continue;
        }
        size_t before = a->bins_mem;
        for (int i = 0; i < AS_N; i++)
            if (a->s[i].t.lv[levels - 1].hi > 0) tiers_coarsen(&a->s[i].t);
        if (a->bins_mem >= before) break;
    }
    a->shrink_at = a->o.max_memory;
    if (a->bins_mem > a->shrink_at) a->shrink_at = a->bins_mem + a->o.max_memory / 8;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

aggr_t *aggr_create(const aggr_opts_t *o)
{
    aggr_opts_t d = o ? *o : (aggr_opts_t){0};
    if (!d.fine_ns) d.fine_ns = 1000000;
    if (!d.bins_per_tier) d.bins_per_tier = 4096;
    if (!d.tiers) d.tiers = 5;
    if (!d.max_memory) d.max_memory = (size_t)64 << 20;
    if (!d.max_rows) d.max_rows = 1000;
    if (!d.heapprof_top) d.heapprof_top = 10;
    if (d.bins_per_tier < 16 || d.bins_per_tier > (1u << 20) || d.bins_per_tier % 2 ||
        d.tiers > TIERS_MAX_LEVELS)
        return NULL;
    uint64_t w = d.fine_ns;
    for (uint32_t k = 1; k < d.tiers; k++) {
        if (w > UINT64_MAX / TIERS_FACTOR / d.bins_per_tier) return NULL;
        w *= TIERS_FACTOR;
    }
    aggr_t *a = xcalloc(1, sizeof *a);
    const char *sp = d.start_prefix ? d.start_prefix : "START ";
    const char *tp = d.stop_prefix ? d.stop_prefix : "STOP ";
    a->start_len = strlen(sp);
    a->stop_len = strlen(tp);
    a->start = xstrndup(sp, a->start_len);
    a->stop = xstrndup(tp, a->stop_len);
    a->start_key = labelkey_prefix(a->start, a->start_len);
    a->stop_key = labelkey_prefix(a->stop, a->stop_len);
    d.start_prefix = a->start;
    d.stop_prefix = a->stop;
    a->o = d;
    a->shrink_at = d.max_memory;
    tiers_opts_t to = {.fine_ns = d.fine_ns, .bins = d.bins_per_tier, .levels = d.tiers};
    a->spares.max_bytes = d.max_memory;
    for (int i = 0; i < AS_N; i++) {
        tiers_init(&a->s[i].t, &to, i == AS_HEAP || i == AS_HEAPPROF || i == AS_SPARKS,
                   &a->bins_mem);
        tiers_use_spares(&a->s[i].t, &a->spares);
    }
    tidmap_init(&a->tids);
    add_row(a, AS_GC, "GC", 2, GC_PAUSE, 0, AK_PAUSE);
    add_row(a, AS_GC, "GC", 2, GC_COUNT, 0, AK_COUNT);
    add_row(a, AS_HEAP, "size", 4, HEAP_SIZE_ROW, 0, AK_LAST);
    add_row(a, AS_HEAP, "live", 4, HEAP_LIVE_ROW, 0, AK_LAST);
    add_row(a, AS_HEAP, "allocated", 9, HEAP_ALLOC_ROW, 0, AK_LAST);
    for (uint32_t i = 0; i < AGGR_SPARK_ROWS; i++)
        add_row(a, AS_SPARKS, spark_names[i], strlen(spark_names[i]), i, 0, AK_COUNTER);
    return a;
}

void aggr_destroy(aggr_t *a)
{
    if (!a) return;
    for (int i = 0; i < AS_N; i++) {
        aseries_t *s = &a->s[i];
        for (uint32_t r = 0; r < s->nrows; r++)
            free(s->rows[r].name);
        free(s->rows);
        free(s->open);
        tiers_dispose(&s->t);
    }
    tiers_spares_dispose(&a->spares);
    free(a->labels_ix.slots);
    free(a->hp_ix.slots);
    free(a->tag_rows);
    tidmap_dispose(&a->tids);
    free(a->caps);
    free(a->ctr);
    free(a->start);
    free(a->stop);
    free(a);
}

/* ---- events ------------------------------------------------------------------------------- */

void aggr_event(aggr_t *a, const evlog_event_t *ev)
{
    aggr_event_tagged(a, ev, 0);
}

void aggr_event_tagged(aggr_t *a, const evlog_event_t *ev, uint32_t tag)
{
    if (ev->type == EVLOG_BLOCK_MARKER) return;
    uint64_t t = ev->ts;
    a->events++;
    if (!a->any) {
        a->any = true;
        a->first = a->now = t;
    } else if (t < a->now) {
        a->late++;
        if (t < a->first) a->first = t;
    } else {
        a->now = t;
    }
    bool tagged = tag && ev->type == EVLOG_USER_MSG;
    if (!ev->known && !tagged) return;
    acap_t *c = cap_get(a, ev->cap, t);
    if (tagged)
        user_tagged(a, ev, tag, t);
    else
        switch (ev->type) { /* the types here are aggr_reads's: a new case goes there too */
        case EVLOG_CREATE_THREAD:
            thread_create(a, ev->f.thread.tid, t);
            break;
        case EVLOG_RUN_THREAD:
            pair_start(&a->s[AS_THREADS], thread_row(a, ev->f.thread.tid, t, NULL), t);
            if (c) c->running = true;
            break;
        case EVLOG_STOP_THREAD: {
            uint32_t row = thread_row(a, ev->f.stop.tid, t, NULL);
            pair_stop(&a->s[AS_THREADS], row, t);
            arow_t *r = &a->s[AS_THREADS].rows[row];
            if (ev->f.stop.status == 5) { /* ThreadFinished */
                r->finished = true;
                r->life_to = t;
            }
            if (c) c->running = false;
            break;
        }
        case EVLOG_THREAD_LABEL:
            thread_label(a, ev->f.label.tid, &ev->f.label.text);
            break;
        case EVLOG_GC_START:
            gc_start(a, t);
            if (c) c->gc = true;
            break;
        case EVLOG_GC_END:
            gc_end(a, t);
            if (c) c->gc = false;
            break;
        case EVLOG_USER_MSG:
            user_message(a, &ev->f.msg.text, t);
            break;
        case EVLOG_CAP_CREATE:
        case EVLOG_CAP_ENABLE:
            cap_alive(a, ev->f.cap.cap, true, t);
            break;
        case EVLOG_CAP_DELETE:
        case EVLOG_CAP_DISABLE:
            cap_alive(a, ev->f.cap.cap, false, t);
            break;
        case EVLOG_HEAP_SIZE:
            tiers_sample(&a->s[AS_HEAP].t, HEAP_SIZE_ROW, t, (double)ev->f.heap.bytes);
            break;
        case EVLOG_HEAP_LIVE:
            tiers_sample(&a->s[AS_HEAP].t, HEAP_LIVE_ROW, t, (double)ev->f.heap.bytes);
            break;
        case EVLOG_HEAP_ALLOCATED:
            heap_allocated(a, ev);
            break;
        case EVLOG_SPARK_COUNTERS:
            spark_counters(a, ev);
            break;
        case EVLOG_HEAP_PROF_SAMPLE_BEGIN:
            hp_begin(a, t);
            break;
        case EVLOG_HEAP_PROF_SAMPLE_STRING:
            hp_string(a, ev);
            break;
        case EVLOG_HEAP_PROF_SAMPLE_END:
            hp_end(a, t);
            break;
        default:
            break;
        }
    /* cap_alive above may have moved a->caps (another capability's first event): index anew */
    if (c) cap_transition(a, &a->caps[ev->cap], t);
    if (a->bins_mem > a->shrink_at) shrink(a);
}

/* The types aggr_event_tagged reads beyond their time and capability: its switch's cases (an
 * event of any other type goes to the pipe only as a count, aggr_feed_counts_only). */
static bool aggr_reads(uint16_t type)
{
    switch (type) {
    case EVLOG_BLOCK_MARKER: /* not even counted */
    case EVLOG_CREATE_THREAD:
    case EVLOG_RUN_THREAD:
    case EVLOG_STOP_THREAD:
    case EVLOG_THREAD_LABEL:
    case EVLOG_GC_START:
    case EVLOG_GC_END:
    case EVLOG_USER_MSG:
    case EVLOG_CAP_CREATE:
    case EVLOG_CAP_ENABLE:
    case EVLOG_CAP_DELETE:
    case EVLOG_CAP_DISABLE:
    case EVLOG_HEAP_SIZE:
    case EVLOG_HEAP_LIVE:
    case EVLOG_HEAP_ALLOCATED:
    case EVLOG_SPARK_COUNTERS:
    case EVLOG_HEAP_PROF_SAMPLE_BEGIN:
    case EVLOG_HEAP_PROF_SAMPLE_STRING:
    case EVLOG_HEAP_PROF_SAMPLE_END:
        return true;
    default:
        return false;
    }
}

bool aggr_feed_counts_only(aggr_feed_t *f, const evlog_event_t *ev)
{
    uint64_t t = ev->ts;
    bool in_order = t >= f->last;
    if (in_order) f->last = t;
    /* cap_get makes a capability's rows at its first event with known fields (of any type), as
     * the consumer decodes it: until then every event of it goes */
    if (ev->cap >= 0 && ev->cap <= 0xFFFF) {
        uint64_t bit = 1ull << (ev->cap & 63), *w = &f->caps[ev->cap >> 6];
        if (!(*w & bit)) {
            evlog_event_t e = *ev;
            if (ev->known || (evlog_decode_fields(&e, false) == 0 && e.known)) *w |= bit;
            return false;
        }
    }
    return in_order && !aggr_reads(ev->type) && !evlog_fields_may_fail(ev->type);
}

void aggr_skipped(aggr_t *a, uint64_t first, uint64_t last, uint64_t n)
{
    if (n == 0) return;
    /* as aggr_event_tagged's bookkeeping for n events in order, none before a->now */
    if (!a->any) {
        a->any = true;
        a->first = first;
    }
    a->now = last;
    a->events += n;
}

/* ---- accessors ---------------------------------------------------------------------------- */

uint64_t aggr_events(const aggr_t *a)
{
    return a->events;
}

uint64_t aggr_late(const aggr_t *a)
{
    return a->late;
}

bool aggr_range(const aggr_t *a, uint64_t *first, uint64_t *last)
{
    if (first) *first = a->first;
    if (last) *last = a->now;
    return a->any;
}

size_t aggr_bins_memory(const aggr_t *a)
{
    return a->bins_mem;
}

size_t aggr_memory(const aggr_t *a)
{
    size_t m = sizeof *a + a->bins_mem + a->spares.bytes + a->ncaps * sizeof *a->caps +
               a->nctr * sizeof *a->ctr;
    m += (a->labels_ix.cap + a->hp_ix.cap + a->tag_rows_cap) * sizeof(uint32_t);
    m += a->tids.dense_cap * sizeof(uint32_t) + a->tids.sparse.cap * 2 * sizeof(uint32_t);
    for (int i = 0; i < AS_N; i++) {
        const aseries_t *s = &a->s[i];
        m += s->rows_cap * sizeof *s->rows + s->open_cap * sizeof *s->open;
        m += (size_t)s->t.rows_cap * s->t.o.levels * sizeof(tiers_newest_t);
        m += (size_t)s->t.rows_cap * sizeof(uint32_t);
        for (uint32_t r = 0; r < s->nrows; r++)
            m += s->rows[r].name_len + 1;
    }
    return m;
}

const aggr_opts_t *aggr_options(const aggr_t *a)
{
    return &a->o;
}
