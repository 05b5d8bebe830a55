/* File ordering: pass 1 feeds the log through the streaming decoder (no field decoding) and
 * records runs (contiguous events of one capability, cut at block markers and every 64 Ki
 * events) with their smallest timestamp; pass 2 merges the runs by (timestamp, file offset),
 * which is exactly the stable sort by timestamp of the file order. A run's bytes are read (or,
 * in memory, pointed at) only while the merge needs them. A clean log skips pass 1: its blocks
 * are the runs, and each block's claim to start at its marker's time is checked as it loads. */
#include "order.h"

#include "err.h"
#include "xmalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RUN_MAX_EVENTS 65536
#define RUN_MAX_BYTES (64u << 20)
#define CHUNK (4u << 20)

typedef struct entry {
    uint64_t ts;
    uint32_t off; /* from the run's first byte */
    uint32_t pad;
} entry_t;

typedef struct run {
    uint64_t start, end; /* file offsets [start, end) */
    uint64_t min_ts;
    uint32_t count;
    int32_t cap;
    uint32_t gen;         /* which header's type table decodes it */
    const uint8_t *bytes; /* while loaded */
    uint8_t *owned;       /* bytes read from the file */
    size_t owned_cap, ents_cap;
    entry_t *ents; /* while loaded, unless `seq` */
    uint32_t pos;
    /* A fast-path run found in time order when loaded (GHC's blocks mostly are) is read in
     * place: `cur` is the offset of its next event, `cur_ts` that event's time, `cur_len` its
     * size. Otherwise it gets sorted entries like an exact-path run. */
    bool seq;
    uint32_t cur, cur_len;
    uint64_t cur_ts;
} run_t;

typedef struct indexer {
    evlog_t *d;
    run_t *runs;
    size_t nruns, runs_cap;
    evlog_types_t **tables;
    size_t ntables, tables_cap;
    int last_headers;
    evlog_sink_t user; /* the caller's sink, for warnings */
    /* Buffers of unloaded runs, kept for the next ones: fresh big allocations cost page faults. */
    struct pooled {
        void *p;
        size_t cap;
    } pool[16];
    size_t npool;
} indexer_t;

/* A buffer of at least `need` bytes from the pool (or new); *cap gets its size. */
static void *pool_get(indexer_t *x, size_t need, size_t *cap)
{
    for (size_t i = 0; i < x->npool; i++)
        if (x->pool[i].cap >= need) {
            void *p = x->pool[i].p;
            *cap = x->pool[i].cap;
            x->pool[i] = x->pool[--x->npool];
            return p;
        }
    /* a power of two, so that runs of a similar size reuse each other's buffers (a fresh
     * buffer costs page faults; its untouched tail costs nothing) */
    size_t c = 4096;
    while (c < need)
        c *= 2;
    *cap = c;
    return xmalloc(c);
}

static void pool_put(indexer_t *x, void *p, size_t cap)
{
    if (!p) return;
    if (x->npool < sizeof x->pool / sizeof x->pool[0]) {
        x->pool[x->npool].p = p;
        x->pool[x->npool++].cap = cap;
    } else {
        free(p);
    }
}

static int index_event(void *ctx, const evlog_event_t *ev)
{
    indexer_t *x = ctx;
    if (ev->type == EVLOG_BLOCK_MARKER) return 0;
    if (evlog_headers(x->d) != x->last_headers) {
        x->last_headers = evlog_headers(x->d);
        xgrow((void **)&x->tables, &x->tables_cap, x->ntables + 1, sizeof *x->tables);
        evlog_types_t *t = xmalloc(sizeof *t);
        memcpy(t, evlog_types(x->d), sizeof *t);
        x->tables[x->ntables++] = t;
    }
    uint32_t gen = (uint32_t)x->ntables - 1;
    uint64_t total = (x->tables[gen]->size[ev->type] == EVLOG_VAR_SIZE ? 12 : 10) + ev->size;
    run_t *r = x->nruns ? &x->runs[x->nruns - 1] : NULL;
    if (!r || r->end != ev->offset || r->cap != ev->cap || r->gen != gen ||
        r->count >= RUN_MAX_EVENTS || r->end - r->start >= RUN_MAX_BYTES) {
        xgrow((void **)&x->runs, &x->runs_cap, x->nruns + 1, sizeof *x->runs);
        r = &x->runs[x->nruns++];
        memset(r, 0, sizeof *r);
        r->start = ev->offset;
        r->min_ts = ev->ts;
        r->cap = ev->cap;
        r->gen = gen;
    }
    r->end = ev->offset + total;
    if (ev->ts < r->min_ts) r->min_ts = ev->ts;
    r->count++;
    return 0;
}

static void forward_warning(void *ctx, evlog_warning_t w, uint64_t off, uint64_t count)
{
    const indexer_t *x = ctx;
    if (x->user.on_warning) x->user.on_warning(x->user.ctx, w, off, count);
}

/* Reads n bytes at off; returns 0 or LP_EIO. */
static int read_at(const order_source_t *src, uint8_t *p, size_t n, uint64_t off)
{
    if (src->read) return src->read(src->read_ctx, p, n, off) < 0 ? LP_EIO : 0;
    int fd = src->fd;
    while (n) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return LP_EIO;
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* Pass 1: decodes the whole source into runs. Returns the decoder's status or LP_EIO. */
static int index_source(indexer_t *x, const order_source_t *src, order_stats_t *st)
{
    evlog_t *d = x->d;
    x->user = d->sink;
    d->sink.on_event = index_event;
    d->sink.on_type = NULL;
    d->sink.on_warning = forward_warning;
    d->sink.ctx = x;
    evlog_set_raw(d, true);
    uint8_t *buf = src->buf ? NULL : xmalloc(CHUNK);
    int rc = 0;
    for (uint64_t off = 0; off < src->len && rc == 0; off += CHUNK) {
        size_t n = src->len - off < CHUNK ? (size_t)(src->len - off) : CHUNK;
        const uint8_t *p = src->buf ? src->buf + off : buf;
        if (!src->buf && read_at(src, buf, n, off) < 0) {
            rc = LP_EIO;
            break;
        }
        rc = evlog_feed(d, p, n);
        if (st->progress) st->progress(st->progress_ctx, 1, off + n, src->len);
    }
    if (rc == 0) rc = evlog_finish(d);
    free(buf);
    evlog_set_raw(d, false);
    d->sink = x->user;
    return rc;
}

static int entry_cmp(const void *a, const void *b)
{
    const entry_t *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Sorts nearly-sorted entries: insertion sort while cheap, qsort when the input is not. */
static void sort_entries(entry_t *e, size_t n)
{
    size_t work = 0, limit = 8 * n + 64;
    for (size_t i = 1; i < n; i++) {
        if (e[i].ts >= e[i - 1].ts) continue;
        entry_t v = e[i];
        size_t j = i;
        while (j > 0 && e[j - 1].ts > v.ts) {
            e[j] = e[j - 1];
            j--;
            if (++work > limit) {
                e[j] = v;
                qsort(e, n, sizeof *e, entry_cmp);
                return;
            }
        }
        e[j] = v;
    }
}

/* Size of the event at p in a run of type table tt (its header is known to be in). */
static inline uint32_t event_len(const evlog_types_t *tt, const uint8_t *p)
{
    int32_t size = tt->size[evlog_u16(p)];
    return size == EVLOG_VAR_SIZE ? 12u + evlog_u16(p + 10) : 10u + (uint32_t)size;
}

static bool run_done(const run_t *r)
{
    return r->seq ? r->cur == r->end - r->start : r->pos == r->count;
}

/* The run's next event: its time and its offset from the run's first byte. */
static inline void run_peek(const run_t *r, uint64_t *ts, uint32_t *off)
{
    if (r->seq) {
        *ts = r->cur_ts;
        *off = r->cur;
    } else {
        *ts = r->ents[r->pos].ts;
        *off = r->ents[r->pos].off;
    }
}

static inline void run_advance(const indexer_t *x, run_t *r)
{
    if (!r->seq) {
        r->pos++;
        return;
    }
    r->cur += r->cur_len;
    if (r->cur < r->end - r->start) {
        const uint8_t *p = r->bytes + r->cur;
        r->cur_ts = evlog_u64(p + 2);
        r->cur_len = event_len(x->tables[r->gen], p);
    }
}

/* Reads the run's bytes into a pooled buffer (reused buffers avoid fresh page faults; a file
 * mapping of each run measured slower). Returns 0 or LP_EIO. */
static int read_run(indexer_t *x, const order_source_t *src, run_t *r)
{
    size_t n = (size_t)(r->end - r->start);
    r->owned = pool_get(x, n, &r->owned_cap);
    r->bytes = r->owned;
    return read_at(src, r->owned, n, r->start);
}

/* Brings a run into memory and makes its entries (time, offset) in time order. A fast-path run
 * (count 0: claimed from its block marker) has every event's framing checked on the way, and
 * is read in place when already in order. Returns 0, LP_EIO, or LP_EBAD_EVENT for a malformed
 * fast-path run. */
static int load_run(indexer_t *x, const order_source_t *src, run_t *r)
{
    size_t n = (size_t)(r->end - r->start);
    if (src->buf)
        r->bytes = src->buf + r->start;
    else if (read_run(x, src, r) < 0)
        return LP_EIO;
    const evlog_types_t *tt = x->tables[r->gen];
    bool fast = r->count == 0;
    size_t max = fast ? n / 10 + 1 : r->count;
    r->ents = pool_get(x, max * sizeof *r->ents, &r->ents_cap);
    entry_t *e = r->ents;
    uint32_t i = 0;
    size_t off = 0;
    uint64_t prev = 0;
    bool sorted = true;
    if (fast) {
        while (off < n) {
            const uint8_t *p = r->bytes + off;
            size_t left = n - off;
            if (left < 10) return LP_EBAD_EVENT;
            uint16_t type = evlog_u16(p);
            int32_t size = tt->size[type];
            if (size == EVLOG_UNDECLARED || type == EVLOG_BLOCK_MARKER ||
                (size == EVLOG_VAR_SIZE && left < 12))
                return LP_EBAD_EVENT;
            size_t total = size == EVLOG_VAR_SIZE ? 12u + evlog_u16(p + 10) : 10u + (uint32_t)size;
            if (total > left) return LP_EBAD_EVENT;
            uint64_t ts = evlog_u64(p + 2);
            sorted &= ts >= prev;
            prev = ts;
            e[i].ts = ts;
            e[i].off = (uint32_t)off;
            i++;
            off += total;
        }
        if (i == 0) return LP_EBAD_EVENT;
        r->count = i;
    } else { /* the decoder has checked the framing */
        for (; i < r->count; i++) {
            const uint8_t *p = r->bytes + off;
            uint64_t ts = evlog_u64(p + 2);
            sorted &= ts >= prev;
            prev = ts;
            e[i].ts = ts;
            e[i].off = (uint32_t)off;
            off += event_len(tt, p);
        }
    }
    if (sorted) { /* read in place */
        r->seq = true;
        r->cur = 0;
        r->cur_ts = e[0].ts;
        r->cur_len = event_len(tt, r->bytes);
        pool_put(x, r->ents, r->ents_cap);
        r->ents = NULL;
        return 0;
    }
    sort_entries(r->ents, r->count);
    r->pos = 0;
    return 0;
}

/* The smallest time of a loaded run (its entries are sorted). */
static uint64_t run_min_ts(const run_t *r)
{
    return r->seq ? evlog_u64(r->bytes + 2) : r->ents[0].ts;
}

static uint64_t run_cost(const run_t *r)
{
    return (r->end - r->start) + (r->seq ? 0 : (uint64_t)r->count * sizeof(entry_t));
}

static void unload_run(indexer_t *x, run_t *r)
{
    pool_put(x, r->ents, r->ents_cap);
    pool_put(x, r->owned, r->owned_cap);
    r->ents = NULL;
    r->owned = NULL;
    r->bytes = NULL;
}

/* ---- a binary min-heap of loaded runs keyed by (ts, file offset) of their head entry ------- */

typedef struct head {
    uint64_t ts, off; /* the run's next event, cached so comparisons touch only the heap */
    run_t *r;
} head_t;

static bool head_less(const head_t *a, const head_t *b)
{
    return a->ts < b->ts || (a->ts == b->ts && a->off < b->off);
}

static void head_of(head_t *h, run_t *r)
{
    uint32_t off;
    run_peek(r, &h->ts, &off);
    h->r = r;
    h->off = r->start + off;
}

static void heap_push(head_t *h, size_t *n, run_t *r)
{
    size_t i = (*n)++;
    head_t v;
    head_of(&v, r);
    while (i > 0 && head_less(&v, &h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = v;
}

/* Moves v down from the root of a heap of n heads (the root slot is free). */
static void heap_sift_root(head_t *h, size_t n, head_t v)
{
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = l;
        if (l >= n) break;
        if (l + 1 < n && head_less(&h[l + 1], &h[l])) m = l + 1;
        if (!head_less(&h[m], &v)) break;
        h[i] = h[m];
        i = m;
    }
    h[i] = v;
}

static run_t *heap_pop(head_t *h, size_t *n)
{
    run_t *top = h[0].r;
    head_t v = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = l;
        if (l >= *n) break;
        if (l + 1 < *n && head_less(&h[l + 1], &h[l])) m = l + 1;
        if (!head_less(&h[m], &v)) break;
        h[i] = h[m];
        i = m;
    }
    if (*n) h[i] = v;
    return top;
}

static int pending_cmp(const void *a, const void *b)
{
    const run_t *x = *(run_t *const *)a, *y = *(run_t *const *)b;
    if (x->min_ts != y->min_ts) return x->min_ts < y->min_ts ? -1 : 1;
    return x->start < y->start ? -1 : x->start > y->start;
}

static bool key_less(uint64_t ts, uint64_t off, uint64_t ts2, uint64_t off2)
{
    return ts < ts2 || (ts == ts2 && off < off2);
}

#define ORDER_VIOLATION 1 /* merge's return when a marker-indexed run broke the order */

/* Pass 2. With `verify` (runs indexed from block markers), checks each run's claim as it loads
 * and returns ORDER_VIOLATION as soon as one is false, or when a run turns out malformed. */
static int merge(indexer_t *x, const order_source_t *src, order_event_fn fn, void *ctx,
                 order_stats_t *st, bool verify)
{
    size_t n = x->nruns, next = 0, nheap = 0;
    run_t **pending = xmalloc((n ? n : 1) * sizeof *pending);
    head_t *heap = xmalloc((n ? n : 1) * sizeof *heap);
    for (size_t i = 0; i < n; i++)
        pending[i] = &x->runs[i];
    qsort(pending, n, sizeof *pending, pending_cmp);
    uint64_t loaded = 0, total_bytes = 0, done_bytes = 0;
    for (size_t i = 0; i < n; i++)
        total_bytes += x->runs[i].end - x->runs[i].start;
    int rc = 0;
    evlog_event_t ev;
    const uint64_t *fields = st->fields;
    while (rc == 0 && (next < n || nheap > 0)) {
        /* Load every pending run whose earliest key precedes the heap's head. */
        while (next < n) {
            if (nheap &&
                !key_less(pending[next]->min_ts, pending[next]->start, heap[0].ts, heap[0].off))
                break;
            run_t *r = pending[next++];
            int lr = load_run(x, src, r);
            /* A marker-indexed run was claimed to start at its marker's time: when no event of
             * it is earlier, everything emitted so far precedes all of it, so the merge of the
             * sorted runs is the exact order; otherwise the exact path takes over. */
            if (lr == 0 && verify && run_min_ts(r) < r->min_ts) lr = LP_EBAD_EVENT;
            if (lr < 0) {
                rc = lr == LP_EIO ? LP_EIO : ORDER_VIOLATION;
                break;
            }
            loaded += run_cost(r);
            if (loaded > st->peak_loaded) st->peak_loaded = loaded;
            heap_push(heap, &nheap, r);
        }
        if (rc != 0) break;
        /* Emit from the heap's top run while it stays ahead of the next best run (a child of
         * the root) and of the next pending run; then sift it down in place. */
        run_t *r = heap[0].r;
        uint64_t bts = UINT64_MAX, boff = UINT64_MAX;
        for (size_t c = 1; c <= 2 && c < nheap; c++)
            if (key_less(heap[c].ts, heap[c].off, bts, boff)) {
                bts = heap[c].ts;
                boff = heap[c].off;
            }
        if (next < n && key_less(pending[next]->min_ts, pending[next]->start, bts, boff)) {
            bts = pending[next]->min_ts;
            boff = pending[next]->start;
        }
        const evlog_types_t *tt = x->tables[r->gen];
        uint64_t ets, emitted = 0;
        uint32_t eoff;
        run_peek(r, &ets, &eoff);
        do {
            const uint8_t *p = r->bytes + eoff;
            uint16_t type = evlog_u16(p);
            bool want = !fields || (fields[type >> 6] >> (type & 63) & 1);
            if (evlog_decode_framed(tt, p, r->start + eoff, want, &ev) == 0) {
                ev.cap = r->cap;
                emitted++;
                rc = fn(ctx, &ev);
            } else if (verify) { /* a malformed payload: let the exact path skip it */
                rc = ORDER_VIOLATION;
                break;
            }
            run_advance(x, r);
            if (run_done(r)) break;
            run_peek(r, &ets, &eoff);
        } while (rc == 0 && key_less(ets, r->start + eoff, bts, boff));
        st->events += emitted;
        if (rc > 0) break;
        if (!run_done(r)) {
            head_t v;
            head_of(&v, r);
            heap_sift_root(heap, nheap, v);
        } else {
            heap_pop(heap, &nheap);
            loaded -= run_cost(r);
            done_bytes += r->end - r->start;
            unload_run(x, r);
            if (st->progress) st->progress(st->progress_ctx, 2, done_bytes, total_bytes);
        }
    }
    for (size_t i = 0; i < nheap; i++)
        unload_run(x, heap[i].r);
    free(pending);
    free(heap);
    return rc;
}

/* Reads the header through the decoder (so junk before it is reported) and returns the offset
 * of the first event, or 0 when the header is not complete within the first chunk. */
static int first_event_stop(void *ctx, const evlog_event_t *ev)
{
    *(uint64_t *)ctx = ev->offset;
    return LP_ERANGE; /* stop: the header is done */
}

/* Fast pass 1: when the log is a clean chain of blocks (a header, block markers whose sizes
 * chain exactly to the end marker, nothing after it), its runs are the blocks, each claimed to
 * start at its marker's time; merge() verifies the claim. Returns true when it indexed. */
static bool index_blocks(indexer_t *x, const order_source_t *src)
{
    evlog_t *d = x->d;
    evlog_sink_t user = d->sink;
    uint64_t first = 0;
    d->sink.on_event = first_event_stop;
    d->sink.on_type = NULL;
    d->sink.ctx = &first;
    uint8_t head[1 << 16];
    size_t n = src->len < sizeof head ? (size_t)src->len : sizeof head;
    const uint8_t *p = src->buf;
    if (!p) {
        if (read_at(src, head, n, 0) < 0) n = 0;
        p = head;
    }
    if (n < 4 || memcmp(p, "hdrb", 4) != 0) return false; /* junk first: the exact path warns */
    int rc = evlog_feed(d, p, n);
    d->sink = user;
    if (rc != LP_ERANGE || evlog_headers(d) != 1) return false;
    xgrow((void **)&x->tables, &x->tables_cap, 1, sizeof *x->tables);
    x->tables[0] = xmalloc(sizeof **x->tables);
    memcpy(x->tables[0], evlog_types(d), sizeof **x->tables);
    x->ntables = 1;
    if (x->tables[0]->size[EVLOG_BLOCK_MARKER] != 14) return false;
    for (uint64_t off = first;;) {
        uint8_t m[24];
        if (src->len - off < 2) return false;
        size_t k = src->len - off < 24 ? (size_t)(src->len - off) : 24;
        if (src->buf)
            memcpy(m, src->buf + off, k);
        else if (read_at(src, m, k, off) < 0)
            return false;
        if (evlog_u16(m) == 0xFFFF) return off + 2 == src->len;
        if (k < 24 || evlog_u16(m) != EVLOG_BLOCK_MARKER) return false;
        uint32_t size = evlog_u32(m + 10);
        if (size < 24 || size > src->len - off) return false;
        if (size > 24) {
            xgrow((void **)&x->runs, &x->runs_cap, x->nruns + 1, sizeof *x->runs);
            run_t *r = &x->runs[x->nruns++];
            memset(r, 0, sizeof *r);
            r->start = off + 24;
            r->end = off + size;
            r->min_ts = evlog_u64(m + 2);
            r->cap = evlog_u16(m + 22) == 0xFFFF ? EVLOG_NO_CAP : evlog_u16(m + 22);
        }
        off += size;
    }
}

static void indexer_reset(indexer_t *x)
{
    for (size_t i = 0; i < x->nruns; i++)
        unload_run(x, &x->runs[i]);
    free(x->runs);
    for (size_t i = 0; i < x->ntables; i++)
        free(x->tables[i]);
    free(x->tables);
    for (size_t i = 0; i < x->npool; i++)
        free(x->pool[i].p);
    evlog_t *d = x->d;
    memset(x, 0, sizeof *x);
    x->d = d;
}

int order_log(evlog_t *d, const order_source_t *src, order_event_fn fn, void *ctx,
              order_stats_t *stats)
{
    order_stats_t local = {0};
    order_stats_t *st = stats ? stats : &local;
    st->events = st->runs = st->peak_loaded = 0;
    indexer_t x;
    memset(&x, 0, sizeof x);
    x.d = d;
    int rc = 1, derr = 0;
    if (st->reset) {
        /* A scratch decoder reads the header, so `d` stays fresh for the exact path. */
        evlog_t scratch;
        if (evlog_init(&scratch, NULL) == 0) {
            x.d = &scratch;
            if (index_blocks(&x, src)) {
                st->runs = x.nruns;
                st->fast = true;
                rc = merge(&x, src, fn, ctx, st, true);
            }
            evlog_dispose(&scratch);
        }
        indexer_reset(&x);
        x.d = d;
        if (rc == ORDER_VIOLATION && st->events) st->reset(st->progress_ctx);
    }
    if (rc == 1) { /* the exact path: index every event */
        st->fast = false;
        st->events = st->peak_loaded = 0;
        derr = index_source(&x, src, st);
        st->runs = x.nruns;
        rc = derr == LP_EIO ? LP_EIO : merge(&x, src, fn, ctx, st, false);
        indexer_reset(&x);
    }
    return rc < 0 ? rc : derr;
}
