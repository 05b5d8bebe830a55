/* File ordering: pass 1 feeds the log through the streaming decoder (no field decoding) and
 * records runs (contiguous events of one capability, cut at block markers and every 64 Ki
 * events) with their smallest timestamp; pass 2 merges the runs by (timestamp, file offset),
 * which is exactly the stable sort by timestamp of the file order. A run's bytes are read (or,
 * in memory, pointed at) only while the merge needs them. */
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
#define WINDOW 16

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
    entry_t *ents; /* while loaded (exact path) */
    uint32_t pos;
    /* Fast path: the run is decoded in file order through a small sorted window (a ring), as
     * GHC's blocks are sorted but for a few events (EndGC) a step or two out of place. An event
     * further out of place makes the merge's order check fail, and the exact path takes over. */
    bool windowed, bad;
    uint32_t scan; /* offset of the next event not yet in the window */
    uint32_t wstart, wlen;
    entry_t win[WINDOW];
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
    *cap = need ? need : 1;
    return xmalloc(*cap);
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

/* Adds events to a windowed run's ring until it holds WINDOW or the run is scanned; a
 * malformed event marks the run bad. */
static void window_fill(const indexer_t *x, run_t *r)
{
    const evlog_types_t *tt = x->tables[r->gen];
    size_t n = (size_t)(r->end - r->start);
    while (r->wlen < WINDOW && r->scan < n) {
        const uint8_t *p = r->bytes + r->scan;
        size_t left = n - r->scan;
        int32_t size = left >= 10 ? tt->size[evlog_u16(p)] : EVLOG_UNDECLARED;
        if (size == EVLOG_UNDECLARED || evlog_u16(p) == EVLOG_BLOCK_MARKER ||
            (size == EVLOG_VAR_SIZE && left < 12)) {
            r->bad = true;
            return;
        }
        size_t total = size == EVLOG_VAR_SIZE ? 12u + evlog_u16(p + 10) : 10u + (uint32_t)size;
        if (total > left) {
            r->bad = true;
            return;
        }
        entry_t e = {.ts = evlog_u64(p + 2), .off = r->scan};
        uint32_t i = r->wlen++;
        while (i > 0 && r->win[(r->wstart + i - 1) % WINDOW].ts > e.ts) {
            r->win[(r->wstart + i) % WINDOW] = r->win[(r->wstart + i - 1) % WINDOW];
            i--;
        }
        r->win[(r->wstart + i) % WINDOW] = e;
        r->scan += (uint32_t)total;
    }
}

static bool run_done(const run_t *r)
{
    return r->windowed ? r->wlen == 0 : r->pos == r->count;
}

static const entry_t *run_peek(const run_t *r)
{
    return r->windowed ? &r->win[r->wstart] : &r->ents[r->pos];
}

static void run_advance(const indexer_t *x, run_t *r)
{
    if (!r->windowed) {
        r->pos++;
        return;
    }
    r->wstart = (r->wstart + 1) % WINDOW;
    r->wlen--;
    window_fill(x, r);
}

/* Brings a run into memory. An exact-path run's entries are made (the bytes read in pieces and
 * walked right after each piece, while still in cache) and sorted; a fast-path run (count 0)
 * only gets its window. Returns 0, LP_EIO, or LP_EBAD_EVENT for a malformed fast-path run. */
static int load_run(indexer_t *x, const order_source_t *src, run_t *r)
{
    size_t n = (size_t)(r->end - r->start), have = n;
    if (src->buf) {
        r->bytes = src->buf + r->start;
    } else {
        r->owned = pool_get(x, n, &r->owned_cap);
        r->bytes = r->owned;
        have = 0;
    }
    if (r->count == 0) {
        if (have < n && read_at(src, r->owned, n, r->start) < 0) return LP_EIO;
        r->windowed = true;
        r->scan = r->wstart = r->wlen = 0;
        window_fill(x, r);
        return r->bad || r->wlen == 0 ? LP_EBAD_EVENT : 0;
    }
    const evlog_types_t *tt = x->tables[r->gen];
    r->ents = pool_get(x, r->count * sizeof *r->ents, &r->ents_cap);
    uint32_t i = 0;
    size_t off = 0;
    for (;;) {
        if (have < n) { /* read the next piece */
            size_t k = n - have < (256u << 10) ? n - have : (256u << 10);
            if (read_at(src, r->owned + have, k, r->start + have) < 0) return LP_EIO;
            have += k;
        }
        /* walk every event whose header is in */
        while (i < r->count && (have == n || have >= off + 12)) {
            const uint8_t *p = r->bytes + off;
            int32_t size = tt->size[evlog_u16(p)];
            r->ents[i].ts = evlog_u64(p + 2);
            r->ents[i].off = (uint32_t)off;
            i++;
            off += size == EVLOG_VAR_SIZE ? 12u + evlog_u16(p + 10) : 10u + (uint32_t)size;
        }
        if (have == n) break;
    }
    sort_entries(r->ents, r->count);
    r->pos = 0;
    return 0;
}

static uint64_t run_cost(const run_t *r)
{
    return (r->end - r->start) + (r->windowed ? 0 : (uint64_t)r->count * sizeof(entry_t));
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
    const entry_t *e = run_peek(r);
    h->r = r;
    h->ts = e->ts;
    h->off = r->start + e->off;
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

/* Pass 2. */
#define ORDER_VIOLATION 1 /* merge's return when a marker-indexed run broke the order */

/* Pass 2. With `verify` (runs indexed from block markers), checks that the output is in order
 * and returns ORDER_VIOLATION as soon as it is not, or when a run turns out malformed. */
static int merge(indexer_t *x, const order_source_t *src, order_event_fn fn, void *ctx,
                 order_stats_t *st, bool verify)
{
    uint64_t last_ts = 0, last_off = 0;
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
    while (rc == 0 && (next < n || nheap > 0)) {
        /* Load every pending run whose earliest key precedes the heap's head. */
        while (next < n) {
            if (nheap &&
                !key_less(pending[next]->min_ts, pending[next]->start, heap[0].ts, heap[0].off))
                break;
            run_t *r = pending[next++];
            int lr = load_run(x, src, r);
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
        const entry_t *e;
        do {
            e = run_peek(r);
            uint64_t ets = e->ts;
            uint32_t eoff = e->off;
            int k = evlog_decode_one(tt, r->bytes + eoff, (size_t)(r->end - r->start) - eoff,
                                     r->start + eoff, &ev);
            if (verify) {
                if (k <= 0 || key_less(ets, r->start + eoff, last_ts, last_off)) {
                    rc = ORDER_VIOLATION;
                    break;
                }
                last_ts = ets;
                last_off = r->start + eoff;
            }
            if (k > 0) {
                ev.cap = r->cap;
                st->events++;
                rc = fn(ctx, &ev);
            }
            run_advance(x, r);
            if (r->bad) rc = ORDER_VIOLATION;
            if (run_done(r)) break;
            e = run_peek(r);
        } while (rc == 0 && key_less(e->ts, r->start + e->off, bts, boff));
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
