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

/* What a run's table says of an event type: declared, variable-size, fields wanted, and the
 * payload size of a fixed-size type; an event's entry keeps the last three for the merge. */
#define INFO_DECLARED (1u << 31)
#define INFO_WANT (1u << 17)
#define INFO_VAR (1u << 16)
#define INFO_SIZE 0xFFFFu

typedef struct entry {
    uint64_t ts;
    uint32_t off;  /* from the run's first byte */
    uint32_t meta; /* INFO_WANT | INFO_VAR | payload size */
} entry_t;

/* One header's type table as the merge reads it: INFO_* bits per type number. */
typedef struct info_table {
    uint32_t t[65536];
} info_table_t;

typedef struct run {
    uint64_t start, end; /* file offsets [start, end) */
    uint64_t min_ts;
    uint32_t count;
    int32_t cap;
    uint32_t gen;         /* which header's type table decodes it */
    const uint8_t *bytes; /* while loaded */
    uint8_t *owned;       /* bytes read from the file */
    size_t owned_cap, ents_cap;
    entry_t *ents; /* while loaded: its events in time order */
    uint32_t pos;  /* the next entry to emit */
} run_t;

typedef struct indexer {
    evlog_t *d;
    run_t *runs;
    size_t nruns, runs_cap;
    info_table_t **tables;
    size_t ntables, tables_cap;
    const uint64_t *fields; /* order_stats_t.fields */
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

/* Adds the info table of the decoder's current header. */
static void add_table(indexer_t *x, const evlog_types_t *tt)
{
    xgrow((void **)&x->tables, &x->tables_cap, x->ntables + 1, sizeof *x->tables);
    info_table_t *t = xmalloc(sizeof *t);
    const uint64_t *f = x->fields;
    for (uint32_t i = 0; i < 65536; i++) {
        int32_t size = tt->size[i];
        bool want = !f || (f[i >> 6] >> (i & 63) & 1);
        t->t[i] = size == EVLOG_UNDECLARED ? 0
                  : INFO_DECLARED | (want ? INFO_WANT : 0) |
                        (size == EVLOG_VAR_SIZE ? INFO_VAR : (uint32_t)size);
    }
    x->tables[x->ntables++] = t;
}

static int index_event(void *ctx, const evlog_event_t *ev)
{
    indexer_t *x = ctx;
    if (ev->type == EVLOG_BLOCK_MARKER) return 0;
    if (evlog_headers(x->d) != x->last_headers) {
        x->last_headers = evlog_headers(x->d);
        add_table(x, evlog_types(x->d));
    }
    uint32_t gen = (uint32_t)x->ntables - 1;
    uint64_t total = (x->tables[gen]->t[ev->type] & INFO_VAR ? 12 : 10) + ev->size;
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

/* Reads the run's bytes into a pooled buffer (reused buffers avoid fresh page faults; a file
 * mapping of each run measured slower). Returns 0 or LP_EIO. */
static int read_run(indexer_t *x, const order_source_t *src, run_t *r)
{
    size_t n = (size_t)(r->end - r->start);
    r->owned = pool_get(x, n, &r->owned_cap);
    r->bytes = r->owned;
    return read_at(src, r->owned, n, r->start);
}

/* Brings a run into memory and makes its entries (time, offset, size) in time order. A
 * fast-path run (count 0: claimed from its block marker) has every event's framing checked on
 * the way. Returns 0, LP_EIO, or LP_EBAD_EVENT for a malformed fast-path run. */
static int load_run(indexer_t *x, const order_source_t *src, run_t *r)
{
    size_t n = (size_t)(r->end - r->start);
    if (src->buf)
        r->bytes = src->buf + r->start;
    else if (read_run(x, src, r) < 0)
        return LP_EIO;
    const uint32_t *info = x->tables[r->gen]->t;
    const uint8_t *bytes = r->bytes;
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
            const uint8_t *p = bytes + off;
            size_t left = n - off;
            if (left < 10) return LP_EBAD_EVENT;
            uint16_t type = evlog_u16(p);
            uint32_t in = info[type];
            if (!(in & INFO_DECLARED) || type == EVLOG_BLOCK_MARKER ||
                ((in & INFO_VAR) && left < 12))
                return LP_EBAD_EVENT;
            uint32_t size = in & INFO_VAR ? evlog_u16(p + 10) : in & INFO_SIZE;
            size_t total = 10u + ((in & INFO_VAR) >> 15) + size;
            if (total > left) return LP_EBAD_EVENT;
            uint64_t ts = evlog_u64(p + 2);
            sorted &= ts >= prev;
            prev = ts;
            e[i].ts = ts;
            e[i].off = (uint32_t)off;
            e[i].meta = (in & (INFO_WANT | INFO_VAR)) | size;
            i++;
            off += total;
        }
        if (i == 0) return LP_EBAD_EVENT;
        r->count = i;
    } else { /* the decoder has checked the framing */
        for (; i < r->count; i++) {
            const uint8_t *p = bytes + off;
            uint32_t in = info[evlog_u16(p)];
            uint32_t size = in & INFO_VAR ? evlog_u16(p + 10) : in & INFO_SIZE;
            uint64_t ts = evlog_u64(p + 2);
            sorted &= ts >= prev;
            prev = ts;
            e[i].ts = ts;
            e[i].off = (uint32_t)off;
            e[i].meta = (in & (INFO_WANT | INFO_VAR)) | size;
            off += 10u + ((in & INFO_VAR) >> 15) + size;
        }
    }
    if (!sorted) sort_entries(r->ents, r->count);
    r->pos = 0;
    return 0;
}

static uint64_t run_cost(const run_t *r)
{
    return (r->end - r->start) + (uint64_t)r->count * sizeof(entry_t);
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

static inline bool key_less(uint64_t ts, uint64_t off, uint64_t ts2, uint64_t off2)
{
    return ts < ts2 || (ts == ts2 && off < off2);
}

static inline bool head_less(const head_t *a, const head_t *b)
{
    return key_less(a->ts, a->off, b->ts, b->off);
}

static inline head_t head_of(run_t *r)
{
    const entry_t *e = &r->ents[r->pos];
    return (head_t){e->ts, r->start + e->off, r};
}

static void heap_push(head_t *h, size_t *n, run_t *r)
{
    size_t i = (*n)++;
    head_t v = head_of(r);
    while (i > 0 && head_less(&v, &h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = v;
}

/* Moves v down from the root of a heap of n heads (the root slot is free). */
static inline void heap_sift_root(head_t *h, size_t n, head_t v)
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

static void heap_pop(head_t *h, size_t *n)
{
    --*n;
    if (*n) heap_sift_root(h, *n, h[*n]);
}

static int pending_cmp(const void *a, const void *b)
{
    const run_t *x = *(run_t *const *)a, *y = *(run_t *const *)b;
    if (x->min_ts != y->min_ts) return x->min_ts < y->min_ts ? -1 : 1;
    return x->start < y->start ? -1 : x->start > y->start;
}

#define ORDER_VIOLATION 1 /* merge's return when a marker-indexed run broke the order */

typedef struct emitter {
    order_event_fn fn;
    void *ctx;
    bool verify;
    uint64_t emitted;
    evlog_event_t ev;
} emitter_t;

/* Emits the events of run r from its next one on while their keys stay below (bts, boff) and
 * the run lasts. Returns fn's code, or ORDER_VIOLATION for a malformed payload under `verify`
 * (the exact path then skips it). */
static inline int emit_run(emitter_t *m, run_t *r, uint64_t bts, uint64_t boff)
{
    const entry_t *e = r->ents + r->pos, *end = r->ents + r->count;
    const uint8_t *bytes = r->bytes;
    uint64_t start = r->start;
    evlog_event_t *ev = &m->ev;
    ev->cap = r->cap;
    int rc = 0;
    for (;;) {
        const uint8_t *p = bytes + e->off;
        uint32_t meta = e->meta;
        bool var = meta & INFO_VAR;
        ev->type = evlog_u16(p);
        ev->ts = e->ts;
        ev->offset = start + e->off;
        ev->size = meta & INFO_SIZE;
        ev->payload = p + (var ? 12 : 10);
        ev->known = false;
        if (!(meta & INFO_WANT) || evlog_decode_fields(ev, var) == 0) {
            m->emitted++;
            rc = m->fn(m->ctx, ev);
        } else if (m->verify) {
            rc = ORDER_VIOLATION;
            break;
        }
        e++;
        if (rc != 0 || e == end || !key_less(e->ts, start + e->off, bts, boff)) break;
    }
    r->pos = (uint32_t)(e - r->ents);
    return rc;
}

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
    emitter_t m = {.fn = fn, .ctx = ctx, .verify = verify};
    /* the next pending run's key: a bound for every emission (UINT64_MAX when none is left) */
    uint64_t pts = n ? pending[0]->min_ts : UINT64_MAX, poff = n ? pending[0]->start : UINT64_MAX;
    while (rc == 0 && (next < n || nheap > 0)) {
        /* Load every pending run whose earliest key precedes the heap's head. */
        while (next < n) {
            if (nheap && !key_less(pts, poff, heap[0].ts, heap[0].off)) break;
            run_t *r = pending[next++];
            pts = next < n ? pending[next]->min_ts : UINT64_MAX;
            poff = next < n ? pending[next]->start : UINT64_MAX;
            int lr = load_run(x, src, r);
            /* A marker-indexed run was claimed to start at its marker's time: when no event of
             * it is earlier, everything emitted so far precedes all of it, so the merge of the
             * sorted runs is the exact order; otherwise the exact path takes over. */
            if (lr == 0 && verify && r->ents[0].ts < r->min_ts) lr = LP_EBAD_EVENT;
            if (lr < 0) {
                rc = lr == LP_EIO ? LP_EIO : ORDER_VIOLATION;
                break;
            }
            loaded += run_cost(r);
            if (loaded > st->peak_loaded) st->peak_loaded = loaded;
            heap_push(heap, &nheap, r);
        }
        if (rc != 0) break;
        run_t *r = heap[0].r;
        if (nheap == 2) {
            /* Two runs: emit from whichever is ahead, switching without the heap, until one
             * ends or the next pending run is due (the common case with two capabilities). */
            run_t *o = heap[1].r;
            uint64_t ots = heap[1].ts, ooff = heap[1].off;
            for (;;) {
                bool due = key_less(pts, poff, ots, ooff);
                rc = emit_run(&m, r, due ? pts : ots, due ? poff : ooff);
                if (rc != 0 || r->pos == r->count || due) break;
                const entry_t *e = &r->ents[r->pos];
                uint64_t rts = e->ts, roff = r->start + e->off;
                run_t *t = r;
                r = o;
                o = t;
                ots = rts;
                ooff = roff;
            }
            if (rc > 0) break;
            head_t ho = {ots, ooff, o};
            if (r->pos < r->count) {
                head_t hr = head_of(r);
                bool o_first = head_less(&ho, &hr);
                heap[0] = o_first ? ho : hr;
                heap[1] = o_first ? hr : ho;
                continue;
            }
            heap[0] = ho;
            nheap = 1;
        } else {
            /* Emit from the heap's top run while it stays ahead of the next best run (a child
             * of the root) and of the next pending run; then sift it down in place. */
            uint64_t bts = pts, boff = poff;
            for (size_t c = 1; c <= 2 && c < nheap; c++)
                if (key_less(heap[c].ts, heap[c].off, bts, boff)) {
                    bts = heap[c].ts;
                    boff = heap[c].off;
                }
            rc = emit_run(&m, r, bts, boff);
            if (rc > 0) break;
            if (r->pos < r->count) {
                heap_sift_root(heap, nheap, head_of(r));
                continue;
            }
            heap_pop(heap, &nheap);
        }
        /* r is done */
        loaded -= run_cost(r);
        done_bytes += r->end - r->start;
        unload_run(x, r);
        if (st->progress) st->progress(st->progress_ctx, 2, done_bytes, total_bytes);
    }
    st->events += m.emitted;
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
    if (evlog_types(d)->size[EVLOG_BLOCK_MARKER] != 14) return false;
    add_table(x, evlog_types(d));
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
    const uint64_t *fields = x->fields;
    memset(x, 0, sizeof *x);
    x->d = d;
    x->fields = fields;
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
    x.fields = st->fields;
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
