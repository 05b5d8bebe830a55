/* The reorder window: each capability's events sit in a FIFO queue sorted by (timestamp, stream
 * offset), where a new event is placed by a short insertion from the tail (GHC writes a block in
 * time order but for a few events, such as EndGC after GCStatsGHC); a tiny heap merges the queue
 * heads. Events that would move far back, or whose capability has no queue, go to one binary heap
 * that joins the merge. Queues and that heap use fixed chunks of slots; texts live in a byte ring
 * allocated in arrival order and freed in any order (its tail moves past a text once it and every
 * older one are freed). */
#include "reorder.h"

#include "xmalloc.h"

#include <stdlib.h>
#include <string.h>

#define NO_REC UINT32_MAX
#define NONE UINT32_MAX
#define MIN_POOL ((size_t)128 << 10)
#define CHUNK 16     /* slots per chunk: a power of two */
#define NQUEUE 256   /* queue 0: no capability; queue c + 1: capability c */
#define STRAY NQUEUE /* the merge's id of the stray heap */
#define REACH 32     /* an event moves back at most this many items in its queue */

/* One held event: the fields the consumers read, with its text (or spark counters) in the pool.
 * One cache line, and a queue's items are consecutive within a chunk, so releasing in order
 * reads memory sequentially. */
typedef struct item {
    uint64_t ts, off;
    uint64_t u;    /* bytes, residency, era */
    uint32_t a;    /* tid, cap, capset, prof id */
    uint32_t toff; /* text: physical pool offset */
    uint32_t tlen; /* text length */
    uint32_t rec;  /* pool record, or NO_REC */
    int32_t cap;
    uint16_t b; /* stop status, new cap */
    uint16_t type;
    uint8_t known;
    uint8_t pad[15];
} item_t;

_Static_assert(sizeof(item_t) == 64, "an item is one cache line");

/* A capability's sorted items: slots [first, CHUNK) of chunk `head`, the chunks linked after it,
 * and slots [0, end) of chunk `tail` (a single chunk holds [first, end)). No chunk when empty. */
typedef struct queue {
    uint32_t head, tail;
    uint32_t first, end;
    uint32_t len;
} queue_t;

/* A merge entry: a queue (or STRAY) with the key of its first item, kept here so that sifting
 * never touches the items. */
typedef struct ment {
    uint64_t ts, off;
    uint32_t id;
} ment_t;

/* A pool allocation in arrival order: where it ends (virtual offset) and whether it is freed. */
typedef struct prec {
    uint64_t end;
    uint8_t freed;
} prec_t;

struct reorder {
    reorder_fn fn;
    void *ctx;
    size_t n, max;                /* items held, most items */
    item_t *items;                /* nchunks * CHUNK slots: slot s is in chunk s / CHUNK */
    uint32_t *next, *prev;        /* chunk links within a queue; `next` also links free chunks */
    uint32_t nchunks, free_chunk; /* free list, then chunks [fresh, nchunks) never used */
    uint32_t fresh;
    uint32_t *hchunk; /* the stray heap: item i is slot i % CHUNK of chunk hchunk[i / CHUNK] */
    size_t nheap;
    ment_t merge[NQUEUE + 1]; /* min-heap of the non-empty queues and stray heap */
    uint32_t nmerge;
    uint32_t pos[NQUEUE + 1]; /* place in `merge` */
    queue_t q[NQUEUE];
    uint8_t *pool;
    size_t psize;
    uint64_t phead, ptail; /* virtual offsets: physical = virtual % psize */
    prec_t *recs;
    uint64_t rhead, rtail; /* record numbers: index = number % max */
    uint64_t last_ts, last_off;
    bool any;
    uint64_t late, forced;
    evlog_event_t ev; /* the event handed to fn: zero but for what unpack writes */
};

/* A queue of m items spans at most m / CHUNK + 2 chunks (partly used ones at both ends), the
 * stray heap at most m / CHUNK + 1, and at most min(max, NQUEUE) queues hold items: this many
 * chunks always hold `max` items. */
static size_t chunks_for(size_t max)
{
    return max / CHUNK + 2 * (max < NQUEUE ? max : NQUEUE) + 1;
}

reorder_t *reorder_create(size_t max_events, size_t pool_bytes, reorder_fn fn, void *ctx)
{
    if (max_events < 2 || max_events > ((size_t)1 << 28) || !fn) return NULL;
    if (pool_bytes < MIN_POOL) pool_bytes = MIN_POOL;
    if (pool_bytes > ((size_t)1 << 31)) return NULL;
    reorder_t *r = xcalloc(1, sizeof *r);
    r->fn = fn;
    r->ctx = ctx;
    r->max = max_events;
    size_t nchunks = chunks_for(max_events);
    r->nchunks = (uint32_t)nchunks;
    /* the big arrays in mappings of their own: pages never touched (a small log's) cost nothing */
    r->items = xmap(nchunks * CHUNK * sizeof *r->items);
    r->next = xmalloc(nchunks * sizeof *r->next);
    r->prev = xmalloc(nchunks * sizeof *r->prev);
    r->free_chunk = NONE; /* chunks never used come from `fresh`: untouched pages stay unmapped */
    r->hchunk = xmalloc((max_events / CHUNK + 1) * sizeof *r->hchunk);
    r->recs = xmap(max_events * sizeof *r->recs);
    r->pool = xmap(pool_bytes);
    r->psize = pool_bytes;
    return r;
}

void reorder_destroy(reorder_t *r)
{
    if (!r) return;
    xunmap(r->items, r->nchunks * CHUNK * sizeof *r->items);
    free(r->next);
    free(r->prev);
    free(r->hchunk);
    xunmap(r->recs, r->max * sizeof *r->recs);
    xunmap(r->pool, r->psize);
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
    return sizeof *r + (size_t)r->nchunks * (CHUNK * sizeof *r->items + 2 * sizeof *r->next) +
           (r->max / CHUNK + 1) * sizeof *r->hchunk + r->max * sizeof *r->recs + r->psize;
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

/* ---- chunks and the merge ------------------------------------------------------------------- */

static inline bool before(uint64_t ts, uint64_t off, const item_t *y)
{
    return ts < y->ts || (ts == y->ts && off < y->off);
}

static inline bool ment_before(const ment_t *x, const ment_t *y)
{
    return x->ts < y->ts || (x->ts == y->ts && x->off < y->off);
}

/* A chunk off the free list, or one never used (the sizing in chunks_for ensures there is one). */
static uint32_t chunk_take(reorder_t *r)
{
    uint32_t c = r->free_chunk;
    if (c != NONE)
        r->free_chunk = r->next[c];
    else
        c = r->fresh++;
    r->next[c] = r->prev[c] = NONE;
    return c;
}

static void chunk_give(reorder_t *r, uint32_t c)
{
    r->next[c] = r->free_chunk;
    r->free_chunk = c;
}

static inline size_t slot_of(uint32_t chunk, uint32_t i)
{
    return (size_t)chunk * CHUNK + i;
}

/* The slot before `s` in its queue (s is not the queue's first). */
static inline size_t slot_before(const reorder_t *r, size_t s)
{
    return s % CHUNK ? s - 1 : slot_of(r->prev[s / CHUNK], CHUNK - 1);
}

static void merge_up(reorder_t *r, uint32_t i)
{
    ment_t e = r->merge[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (!ment_before(&e, &r->merge[p])) break;
        r->merge[i] = r->merge[p];
        r->pos[r->merge[i].id] = i;
        i = p;
    }
    r->merge[i] = e;
    r->pos[e.id] = i;
}

static void merge_down(reorder_t *r, uint32_t i)
{
    ment_t e = r->merge[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= r->nmerge) break;
        if (c + 1 < r->nmerge && ment_before(&r->merge[c + 1], &r->merge[c])) c++;
        if (!ment_before(&r->merge[c], &e)) break;
        r->merge[i] = r->merge[c];
        r->pos[r->merge[i].id] = i;
        i = c;
    }
    r->merge[i] = e;
    r->pos[e.id] = i;
}

/* Queue or stray heap `id` got its first item `it`, or a new first item older than the old. */
static void merge_lower(reorder_t *r, uint32_t id, bool added, const item_t *it)
{
    uint32_t i = added ? r->nmerge++ : r->pos[id];
    r->merge[i] = (ment_t){it->ts, it->off, id};
    merge_up(r, i);
}

/* The first source (merge[0]) lost its first item: `it` follows it, or NULL when it is empty. */
static void merge_next(reorder_t *r, const item_t *it)
{
    if (it) {
        r->merge[0].ts = it->ts;
        r->merge[0].off = it->off;
    } else if (--r->nmerge) {
        r->merge[0] = r->merge[r->nmerge];
    } else {
        return;
    }
    merge_down(r, 0);
}

/* ---- the stray heap ------------------------------------------------------------------------ */

static inline item_t *stray_at(const reorder_t *r, size_t i)
{
    return &r->items[slot_of(r->hchunk[i / CHUNK], (uint32_t)(i % CHUNK))];
}

static void stray_push(reorder_t *r, const item_t *it)
{
    size_t i = r->nheap++;
    if (i % CHUNK == 0) r->hchunk[i / CHUNK] = chunk_take(r);
    while (i > 0) {
        size_t p = (i - 1) / 2;
        const item_t *up = stray_at(r, p);
        if (!before(it->ts, it->off, up)) break;
        *stray_at(r, i) = *up;
        i = p;
    }
    *stray_at(r, i) = *it;
    if (i == 0) merge_lower(r, STRAY, r->nheap == 1, it);
}

static item_t stray_take(reorder_t *r)
{
    item_t top = *stray_at(r, 0), e = *stray_at(r, --r->nheap);
    size_t n = r->nheap, i = 0;
    if (n % CHUNK == 0) chunk_give(r, r->hchunk[n / CHUNK]);
    if (!n) {
        merge_next(r, NULL);
        return top;
    }
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        item_t *x = stray_at(r, c);
        if (c + 1 < n) {
            item_t *y = stray_at(r, c + 1);
            if (before(y->ts, y->off, x)) {
                x = y;
                c++;
            }
        }
        if (!before(x->ts, x->off, &e)) break;
        *stray_at(r, i) = *x;
        i = c;
    }
    *stray_at(r, i) = e;
    merge_next(r, stray_at(r, 0));
    return top;
}

/* ---- queues -------------------------------------------------------------------------------- */

/* Room for one more item at the end of q; returns its slot. */
static size_t queue_grow(reorder_t *r, queue_t *q)
{
    if (q->end == CHUNK) {
        uint32_t c = chunk_take(r);
        r->next[q->tail] = c;
        r->prev[c] = q->tail;
        q->tail = c;
        q->end = 0;
    }
    q->len++;
    return slot_of(q->tail, q->end++);
}

/* Puts `it` first in non-empty queue `id`, before items that are all later. */
static void queue_front(reorder_t *r, uint32_t id, const item_t *it)
{
    queue_t *q = &r->q[id];
    if (q->first == 0) {
        uint32_t c = chunk_take(r);
        r->next[c] = q->head;
        r->prev[q->head] = c;
        q->head = c;
        q->first = CHUNK;
    }
    q->len++;
    r->items[slot_of(q->head, --q->first)] = *it;
    merge_lower(r, id, false, it);
}

/* Inserts `it` into queue `id` from its tail: it usually goes last or a step or two back; when
 * it goes before every item it becomes first; when it would move further back than REACH items
 * it goes to the stray heap. */
static void queue_push(reorder_t *r, uint32_t id, const item_t *it)
{
    queue_t *q = &r->q[id];
    if (q->len == 0) {
        q->head = q->tail = chunk_take(r);
        q->first = 0;
        q->end = 1;
        q->len = 1;
        r->items[slot_of(q->head, 0)] = *it;
        merge_lower(r, id, true, it);
        return;
    }
    size_t last = slot_of(q->tail, q->end - 1);
    if (!before(it->ts, it->off, &r->items[last])) {
        r->items[queue_grow(r, q)] = *it;
        return;
    }
    size_t s = last; /* the items from s to the end are later than it */
    uint32_t d = 1;
    for (; d < q->len && d < REACH; d++) {
        size_t p = slot_before(r, s);
        if (!before(it->ts, it->off, &r->items[p])) { /* it goes at s: shift d items up */
            size_t dst = queue_grow(r, q), src = last;
            for (uint32_t k = 0; k < d; k++) {
                r->items[dst] = r->items[src];
                dst = src;
                if (k + 1 < d) src = slot_before(r, src);
            }
            r->items[s] = *it;
            return;
        }
        s = p;
    }
    if (d == q->len || before(it->ts, it->off, &r->items[slot_of(q->head, q->first)]))
        queue_front(r, id, it);
    else
        stray_push(r, it);
}

/* Takes the first item of queue `id` (the merge's first source). */
static item_t queue_take(reorder_t *r, uint32_t id)
{
    queue_t *q = &r->q[id];
    item_t it = r->items[slot_of(q->head, q->first)];
    if (--q->len == 0) {
        chunk_give(r, q->head);
        merge_next(r, NULL);
        return it;
    }
    uint32_t after = r->next[q->head];
    if (after != NONE) /* the item a chunk ahead: read soon */
        __builtin_prefetch(&r->items[slot_of(after, q->first)]);
    if (++q->first == CHUNK) {
        chunk_give(r, q->head);
        q->head = after;
        r->prev[after] = NONE;
        q->first = 0;
    }
    merge_next(r, &r->items[slot_of(q->head, q->first)]);
    return it;
}

/* unpack writes at most the first UNPACKED bytes of an event's fields (the spark counters are the
 * largest it fills), so the rest of r->ev stays zero from reorder_create on. */
#define UNPACKED sizeof(((evlog_event_t *)0)->f.spark_counters)
#define FITS(m) _Static_assert(sizeof(((evlog_event_t *)0)->f.m) <= UNPACKED, #m " fits")
FITS(thread);
FITS(stop);
FITS(thread_cap);
FITS(label);
FITS(msg);
FITS(cap);
FITS(heap);
FITS(era);
FITS(hp_sample_str);

/* Rebuilds the event of an item for the consumer in r->ev: the same bytes as a zeroed event with
 * the item's fields set, without clearing the whole event each time. */
static const evlog_event_t *unpack(reorder_t *r, const item_t *it)
{
    evlog_event_t *ev = &r->ev;
    memset(&ev->f, 0, UNPACKED);
    ev->ts = it->ts;
    ev->offset = it->off;
    ev->cap = it->cap;
    ev->type = it->type;
    ev->known = it->known;
    const uint8_t *text = it->rec == NO_REC ? NULL : r->pool + it->toff;
    /* an empty text is "" (as the decoder's are never NULL), not NULL, for the consumers' copies */
    evlog_bytes_t bytes = {text ? text : (const uint8_t *)"", it->tlen};
    ev->payload = text;
    ev->size = it->tlen;
    if (!it->known) return ev;
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
    return ev;
}

/* Removes the oldest item and hands it to the consumer. */
static void pop(reorder_t *r)
{
    uint32_t id = r->merge[0].id;
    item_t it = id == STRAY ? stray_take(r) : queue_take(r, id);
    r->n--;
    bool late = r->any && (it.ts < r->last_ts || (it.ts == r->last_ts && it.off < r->last_off));
    if (late) {
        r->late++;
    } else {
        r->last_ts = it.ts;
        r->last_off = it.off;
        r->any = true;
    }
    r->fn(r->ctx, unpack(r, &it), late);
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
    r->n++;
    if (it.cap >= NQUEUE - 1)
        stray_push(r, &it);
    else
        queue_push(r, it.cap < 0 ? 0 : (uint32_t)it.cap + 1, &it);
}

void reorder_release(reorder_t *r, uint64_t watermark)
{
    while (r->nmerge && r->merge[0].ts <= watermark)
        pop(r);
}

void reorder_flush(reorder_t *r)
{
    while (r->nmerge)
        pop(r);
}
