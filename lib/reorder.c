/* The reorder window: compact event copies in a fixed slot array, chained into sorted runs (each
 * capability appends to its main run while its timestamps do not go back, and puts events that
 * come too early, such as EndGC after GCStatsGHC, into a side run), merged through a min-heap of
 * runs keyed by each run's first event (ts, offset). Texts live in a byte ring allocated in arrival
 * order and freed in any order (its tail moves past a text once it and every older one are freed).
 */
#include "reorder.h"

#include "xmalloc.h"

#include <stdlib.h>
#include <string.h>

#define NO_REC UINT32_MAX
#define NO_RUN UINT32_MAX
#define MIN_POOL ((size_t)128 << 10)

/* One held event: the fields the consumers read, with its text (or spark counters) in the pool,
 * and the link to the next item of its run. One cache line, so releasing an event that was
 * copied long ago costs one miss. */
typedef struct item {
    uint64_t ts, off;
    uint64_t u;    /* bytes, residency, era */
    uint32_t a;    /* tid, cap, capset, prof id */
    uint32_t toff; /* text: physical pool offset */
    uint32_t tlen; /* text length */
    uint32_t rec;  /* pool record, or NO_REC */
    int32_t cap;
    uint32_t next; /* the next item of its run, or the next free slot */
    uint16_t b;    /* stop status, new cap */
    uint16_t type;
    uint8_t known;
    uint8_t pad[11];
} item_t;

_Static_assert(sizeof(item_t) == 64, "an item is one cache line");

/* A sorted chain of held items: first and last slot, and its place in the heap. */
typedef struct run {
    uint32_t head, tail; /* a drained run's head links the free runs */
    uint32_t prev;       /* the slot before tail, or NO_RUN when the run has one item */
    int32_t cap;
} run_t;

/* A run in the heap with its first item's key. */
typedef struct hent {
    uint64_t ts, off;
    uint32_t run;
} hent_t;

/* A capability's open runs: `main` takes its events while time does not go back; `side` takes
 * those that come too early for main (EndGC after GCStatsGHC), which are in order among
 * themselves. NO_RUN when absent. */
typedef struct run_pair {
    uint32_t main, side;
} run_pair_t;

/* A pool allocation in arrival order: where it ends (virtual offset) and whether it is freed. */
typedef struct prec {
    uint64_t end;
    uint8_t freed;
} prec_t;

struct reorder {
    reorder_fn fn;
    void *ctx;
    item_t *items;  /* max slots */
    uint32_t free;  /* first free slot, or NO_RUN */
    uint32_t fresh; /* slots [fresh, max) were never used */
    size_t n, max;  /* items held, slots */
    run_t *runs;    /* grows with the runs held at once (at most one per item) */
    size_t runs_cap;
    uint32_t free_run, nruns;
    hent_t *heap;
    size_t nheap, heap_cap;
    run_pair_t *cur; /* per capability + 1: its main and side runs */
    size_t ncur;
    uint8_t *pool;
    size_t psize;
    uint64_t phead, ptail; /* virtual offsets: physical = virtual % psize */
    prec_t *recs;
    uint64_t rhead, rtail; /* record numbers: index = number % max */
    uint64_t last_ts, last_off;
    bool any;
    uint64_t late, forced;
};

reorder_t *reorder_create(size_t max_events, size_t pool_bytes, reorder_fn fn, void *ctx)
{
    if (max_events < 2 || max_events > ((size_t)1 << 28) || !fn) return NULL;
    if (pool_bytes < MIN_POOL) pool_bytes = MIN_POOL;
    if (pool_bytes > ((size_t)1 << 31)) return NULL;
    reorder_t *r = xcalloc(1, sizeof *r);
    r->fn = fn;
    r->ctx = ctx;
    r->max = max_events;
    void *items = NULL;
    if (posix_memalign(&items, 64, max_events * sizeof *r->items) != 0) /* else unaligned */
        items = xmalloc(max_events * sizeof *r->items);
    r->items = items;
    r->free = NO_RUN; /* slots never used come from `fresh`: untouched pages stay unmapped */
    r->free_run = NO_RUN;
    r->recs = xmalloc(max_events * sizeof *r->recs);
    r->pool = xmalloc(pool_bytes);
    r->psize = pool_bytes;
    return r;
}

void reorder_destroy(reorder_t *r)
{
    if (!r) return;
    free(r->items);
    free(r->runs);
    free(r->heap);
    free(r->cur);
    free(r->recs);
    free(r->pool);
    free(r);
}

size_t reorder_len(const reorder_t *r)
{
    return r->n;
}

uint64_t reorder_late(const reorder_t *r)
{
    return r->late;
}

uint64_t reorder_forced(const reorder_t *r)
{
    return r->forced;
}

size_t reorder_memory(const reorder_t *r)
{
    return sizeof *r + r->max * (sizeof *r->items + sizeof *r->recs) + r->psize +
           r->runs_cap * sizeof *r->runs + r->heap_cap * sizeof *r->heap + r->ncur * sizeof *r->cur;
}

/* ---- pool --------------------------------------------------------------------------------- */

/* Reserves n (> 0) contiguous bytes; returns false when they do not fit now. */
static bool pool_alloc(reorder_t *r, uint32_t n, uint32_t *rec, uint32_t *toff)
{
    if (r->rhead - r->rtail >= r->max) return false;
    uint64_t phys = r->phead % r->psize;
    uint64_t pad = phys + n > r->psize ? r->psize - phys : 0;
    if (r->phead + pad + n - r->ptail > r->psize) return false;
    uint64_t start = r->phead + pad;
    r->phead = start + n;
    prec_t *p = &r->recs[r->rhead % r->max];
    p->end = r->phead;
    p->freed = 0;
    *rec = (uint32_t)(r->rhead % r->max);
    r->rhead++;
    *toff = (uint32_t)(start % r->psize);
    return true;
}

static void pool_free(reorder_t *r, uint32_t rec)
{
    r->recs[rec].freed = 1;
    while (r->rtail < r->rhead && r->recs[r->rtail % r->max].freed) {
        r->ptail = r->recs[r->rtail % r->max].end;
        r->rtail++;
    }
}

/* ---- runs -------------------------------------------------------------------------------- */

static inline bool before(const item_t *x, const item_t *y)
{
    return x->ts < y->ts || (x->ts == y->ts && x->off < y->off);
}

/* A heap entry: a run and the key of its first item, kept here so that sifting never touches
 * the (large, scattered) item array. */
static inline bool key_before(const hent_t *x, const hent_t *y)
{
    return x->ts < y->ts || (x->ts == y->ts && x->off < y->off);
}

static hent_t key_of(const reorder_t *r, uint32_t run)
{
    const item_t *h = &r->items[r->runs[run].head];
    return (hent_t){h->ts, h->off, run};
}

static void sift_up(reorder_t *r, size_t i)
{
    hent_t e = r->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!key_before(&e, &r->heap[p])) break;
        r->heap[i] = r->heap[p];
        i = p;
    }
    r->heap[i] = e;
}

static void sift_down(reorder_t *r, size_t i)
{
    hent_t e = r->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= r->nheap) break;
        if (c + 1 < r->nheap && key_before(&r->heap[c + 1], &r->heap[c])) c++;
        if (!key_before(&r->heap[c], &e)) break;
        r->heap[i] = r->heap[c];
        i = c;
    }
    r->heap[i] = e;
}

/* The open runs of a capability (the global stream and events outside blocks share one). */
static run_pair_t *cur_runs(reorder_t *r, int32_t cap)
{
    size_t i = cap < 0 || cap > 0xFFFF ? 0 : (size_t)cap + 1;
    if (i >= r->ncur) {
        size_t old = r->ncur;
        xgrow((void **)&r->cur, &r->ncur, i + 1, sizeof *r->cur);
        for (size_t k = old; k < r->ncur; k++)
            r->cur[k] = (run_pair_t){NO_RUN, NO_RUN};
    }
    return &r->cur[i];
}

/* Rebuilds the event of an item for the consumer. */
static void unpack(const reorder_t *r, const item_t *it, evlog_event_t *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->ts = it->ts;
    ev->offset = it->off;
    ev->cap = it->cap;
    ev->type = it->type;
    ev->known = it->known;
    const uint8_t *text = it->rec == NO_REC ? NULL : r->pool + it->toff;
    evlog_bytes_t bytes = {text, it->tlen};
    ev->payload = text;
    ev->size = it->tlen;
    if (!it->known) return;
    switch (it->type) {
    case EVLOG_CREATE_THREAD:
    case EVLOG_RUN_THREAD:
    case EVLOG_THREAD_RUNNABLE:
        ev->f.thread.tid = it->a;
        break;
    case EVLOG_STOP_THREAD:
        ev->f.stop.tid = it->a;
        ev->f.stop.status = it->b;
        break;
    case EVLOG_MIGRATE_THREAD:
        ev->f.thread_cap.tid = it->a;
        ev->f.thread_cap.cap = it->b;
        break;
    case EVLOG_THREAD_LABEL:
        ev->f.label.tid = it->a;
        ev->f.label.text = bytes;
        break;
    case EVLOG_USER_MSG:
    case EVLOG_USER_MARKER:
        ev->f.msg.text = bytes;
        break;
    case EVLOG_STARTUP:
    case EVLOG_CAP_CREATE:
    case EVLOG_CAP_DELETE:
    case EVLOG_CAP_DISABLE:
    case EVLOG_CAP_ENABLE:
        ev->f.cap.cap = (uint16_t)it->a;
        break;
    case EVLOG_HEAP_ALLOCATED:
    case EVLOG_HEAP_SIZE:
    case EVLOG_HEAP_LIVE:
        ev->f.heap.capset = it->a;
        ev->f.heap.bytes = it->u;
        break;
    case EVLOG_SPARK_COUNTERS:
        if (text) memcpy(ev->f.spark_counters.v, text, sizeof ev->f.spark_counters.v);
        break;
    case EVLOG_HEAP_PROF_SAMPLE_BEGIN:
    case EVLOG_HEAP_PROF_SAMPLE_END:
        ev->f.era.era = it->u;
        break;
    case EVLOG_HEAP_PROF_SAMPLE_STRING:
        ev->f.hp_sample_str.prof_id = (uint8_t)it->a;
        ev->f.hp_sample_str.residency = it->u;
        ev->f.hp_sample_str.label = bytes;
        break;
    default:
        break;
    }
}

/* Removes the oldest item and hands it to the consumer. */
static void pop(reorder_t *r)
{
    uint32_t run = r->heap[0].run, slot = r->runs[run].head;
    item_t it = r->items[slot];
    r->runs[run].head = r->items[slot].next;
    if (r->runs[run].prev == slot) r->runs[run].prev = NO_RUN;
    r->items[slot].next = r->free;
    r->free = slot;
    r->n--;
    if (r->runs[run].head == NO_RUN) { /* the run is drained: drop it */
        run_pair_t *cur = cur_runs(r, r->runs[run].cap);
        if (cur->main == run) cur->main = NO_RUN;
        if (cur->side == run) cur->side = NO_RUN;
        r->runs[run].head = r->free_run;
        r->free_run = run;
        r->nruns--;
        if (--r->nheap) {
            r->heap[0] = r->heap[r->nheap];
            sift_down(r, 0);
        }
    } else {
        r->heap[0] = key_of(r, run);
        sift_down(r, 0);
    }
    bool late = r->any && (it.ts < r->last_ts || (it.ts == r->last_ts && it.off < r->last_off));
    if (late) {
        r->late++;
    } else {
        r->last_ts = it.ts;
        r->last_off = it.off;
        r->any = true;
    }
    evlog_event_t ev;
    unpack(r, &it, &ev);
    r->fn(r->ctx, &ev, late);
    if (it.rec != NO_REC) pool_free(r, it.rec);
}

/* Fills an item from a decoded event: its numbers, and what to copy into the pool. */
static void pack(const evlog_event_t *ev, item_t *it, const void **src, uint32_t *len)
{
    memset(it, 0, sizeof *it);
    it->ts = ev->ts;
    it->off = ev->offset;
    it->cap = ev->cap;
    it->type = ev->type;
    it->rec = NO_REC;
    it->known = ev->known;
    *src = NULL;
    *len = 0;
    if (!ev->known) return;
    switch (ev->type) {
    case EVLOG_CREATE_THREAD:
    case EVLOG_RUN_THREAD:
    case EVLOG_THREAD_RUNNABLE:
        it->a = ev->f.thread.tid;
        break;
    case EVLOG_STOP_THREAD:
        it->a = ev->f.stop.tid;
        it->b = ev->f.stop.status;
        break;
    case EVLOG_MIGRATE_THREAD:
        it->a = ev->f.thread_cap.tid;
        it->b = ev->f.thread_cap.cap;
        break;
    case EVLOG_THREAD_LABEL:
        it->a = ev->f.label.tid;
        *src = ev->f.label.text.p;
        *len = ev->f.label.text.len;
        break;
    case EVLOG_USER_MSG:
    case EVLOG_USER_MARKER:
        *src = ev->f.msg.text.p;
        *len = ev->f.msg.text.len;
        break;
    case EVLOG_STARTUP:
    case EVLOG_CAP_CREATE:
    case EVLOG_CAP_DELETE:
    case EVLOG_CAP_DISABLE:
    case EVLOG_CAP_ENABLE:
        it->a = ev->f.cap.cap;
        break;
    case EVLOG_HEAP_ALLOCATED:
    case EVLOG_HEAP_SIZE:
    case EVLOG_HEAP_LIVE:
        it->a = ev->f.heap.capset;
        it->u = ev->f.heap.bytes;
        break;
    case EVLOG_SPARK_COUNTERS:
        *src = ev->f.spark_counters.v;
        *len = sizeof ev->f.spark_counters.v;
        break;
    case EVLOG_HEAP_PROF_SAMPLE_BEGIN:
    case EVLOG_HEAP_PROF_SAMPLE_END:
        it->u = ev->f.era.era;
        break;
    case EVLOG_HEAP_PROF_SAMPLE_STRING:
        it->a = ev->f.hp_sample_str.prof_id;
        it->u = ev->f.hp_sample_str.residency;
        *src = ev->f.hp_sample_str.label.p;
        *len = ev->f.hp_sample_str.label.len;
        break;
    case EVLOG_GC_START:
    case EVLOG_GC_END:
        break;
    default:
        it->known = 0;
        break; /* no consumer reads its fields */
    }
}

/* Adds held slot `slot` to run `run` if it keeps the run sorted: at the end, or just before the
 * last item when it is older than that one only. */
static bool append(reorder_t *r, uint32_t run_no, uint32_t slot)
{
    run_t *run = &r->runs[run_no];
    const item_t *it = &r->items[slot];
    if (!before(it, &r->items[run->tail])) {
        r->items[run->tail].next = slot;
        run->prev = run->tail;
        run->tail = slot;
        return true;
    }
    if (run->prev != NO_RUN && !before(it, &r->items[run->prev])) {
        r->items[run->prev].next = slot;
        r->items[slot].next = run->tail;
        run->prev = slot;
        return true;
    }
    return false;
}

void reorder_push(reorder_t *r, const evlog_event_t *ev)
{
    if (ev->type == EVLOG_BLOCK_MARKER) return;
    item_t it;
    const void *src;
    uint32_t len;
    pack(ev, &it, &src, &len);
    if (r->n == r->max) {
        r->forced++;
        pop(r);
    }
    if (len) {
        while (!pool_alloc(r, len, &it.rec, &it.toff)) {
            /* the pool holds at least one whole event, so releasing everything makes room */
            r->forced++;
            pop(r);
        }
        memcpy(r->pool + it.toff, src, len);
        it.tlen = len;
    }
    uint32_t slot = r->free;
    if (slot == NO_RUN)
        slot = r->fresh++;
    else
        r->free = r->items[slot].next;
    r->items[slot] = it;
    r->items[slot].next = NO_RUN;
    r->n++;
    run_pair_t *cur = cur_runs(r, it.cap);
    if (cur->main != NO_RUN && append(r, cur->main, slot)) return;
    if (cur->side != NO_RUN && append(r, cur->side, slot)) return;
    uint32_t nr = r->free_run;
    if (nr == NO_RUN) {
        xgrow((void **)&r->runs, &r->runs_cap, (size_t)r->nruns + 1, sizeof *r->runs);
        nr = r->nruns; /* every run below nruns is in use when the free list is empty */
    } else {
        r->free_run = r->runs[nr].head;
    }
    r->nruns++;
    r->runs[nr] = (run_t){.head = slot, .tail = slot, .prev = NO_RUN, .cap = it.cap};
    xgrow((void **)&r->heap, &r->heap_cap, r->nheap + 1, sizeof *r->heap);
    r->heap[r->nheap++] = key_of(r, nr);
    sift_up(r, r->nheap - 1);
    if (cur->main == NO_RUN)
        cur->main = nr;
    else
        cur->side = nr; /* a side run that could not take it is left to drain */
}

void reorder_release(reorder_t *r, uint64_t watermark)
{
    while (r->n && r->heap[0].ts <= watermark)
        pop(r);
}

void reorder_flush(reorder_t *r)
{
    while (r->n)
        pop(r);
}
