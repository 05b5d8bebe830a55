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
    entry_t *ents;        /* while loaded */
    uint32_t pos;
} run_t;

typedef struct indexer {
    evlog_t *d;
    run_t *runs;
    size_t nruns, runs_cap;
    evlog_types_t **tables;
    size_t ntables, tables_cap;
    int last_headers;
    evlog_sink_t user; /* the caller's sink, for warnings */
} indexer_t;

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
static int read_at(int fd, uint8_t *p, size_t n, uint64_t off)
{
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
        if (!src->buf && read_at(src->fd, buf, n, off) < 0) {
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

/* Brings a run into memory and sorts its entries. Returns 0 or LP_EIO. */
static int load_run(const indexer_t *x, const order_source_t *src, run_t *r)
{
    size_t n = (size_t)(r->end - r->start);
    if (src->buf) {
        r->bytes = src->buf + r->start;
    } else {
        r->owned = xmalloc(n ? n : 1);
        if (read_at(src->fd, r->owned, n, r->start) < 0) {
            free(r->owned);
            r->owned = NULL;
            return LP_EIO;
        }
        r->bytes = r->owned;
    }
    r->ents = xmalloc(r->count * sizeof *r->ents);
    const evlog_types_t *tt = x->tables[r->gen];
    uint32_t off = 0;
    for (uint32_t i = 0; i < r->count; i++) {
        const uint8_t *p = r->bytes + off;
        uint16_t type = evlog_u16(p);
        uint32_t total = tt->size[type] == EVLOG_VAR_SIZE ? 12u + evlog_u16(p + 10)
                                                          : 10u + (uint32_t)tt->size[type];
        r->ents[i].ts = evlog_u64(p + 2);
        r->ents[i].off = off;
        off += total;
    }
    sort_entries(r->ents, r->count);
    r->pos = 0;
    return 0;
}

static uint64_t run_cost(const run_t *r)
{
    return (r->end - r->start) + (uint64_t)r->count * sizeof(entry_t);
}

static void unload_run(run_t *r)
{
    free(r->ents);
    free(r->owned);
    r->ents = NULL;
    r->owned = NULL;
    r->bytes = NULL;
}

/* ---- a binary min-heap of loaded runs keyed by (ts, file offset) of their head entry ------- */

static bool run_less(const run_t *a, const run_t *b)
{
    const entry_t *x = &a->ents[a->pos], *y = &b->ents[b->pos];
    return x->ts < y->ts || (x->ts == y->ts && a->start + x->off < b->start + y->off);
}

static void heap_push(run_t **h, size_t *n, run_t *r)
{
    size_t i = (*n)++;
    h[i] = r;
    while (i > 0 && run_less(h[i], h[(i - 1) / 2])) {
        run_t *t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static run_t *heap_pop(run_t **h, size_t *n)
{
    run_t *top = h[0];
    h[0] = h[--*n];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < *n && run_less(h[l], h[m])) m = l;
        if (l + 1 < *n && run_less(h[l + 1], h[m])) m = l + 1;
        if (m == i) break;
        run_t *t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
    return top;
}

static int pending_cmp(const void *a, const void *b)
{
    const run_t *x = *(run_t *const *)a, *y = *(run_t *const *)b;
    if (x->min_ts != y->min_ts) return x->min_ts < y->min_ts ? -1 : 1;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* The key (ts, file offset) of a run's next event. */
static void head_key(const run_t *r, uint64_t *ts, uint64_t *off)
{
    *ts = r->ents[r->pos].ts;
    *off = r->start + r->ents[r->pos].off;
}

static bool key_less(uint64_t ts, uint64_t off, uint64_t ts2, uint64_t off2)
{
    return ts < ts2 || (ts == ts2 && off < off2);
}

/* Pass 2. */
static int merge(const indexer_t *x, const order_source_t *src, order_event_fn fn, void *ctx,
                 order_stats_t *st)
{
    size_t n = x->nruns, next = 0, nheap = 0;
    run_t **pending = xmalloc((n ? n : 1) * sizeof *pending);
    run_t **heap = xmalloc((n ? n : 1) * sizeof *heap);
    for (size_t i = 0; i < n; i++) pending[i] = &x->runs[i];
    qsort(pending, n, sizeof *pending, pending_cmp);
    uint64_t loaded = 0, total_events = 0;
    for (size_t i = 0; i < n; i++) total_events += x->runs[i].count;
    int rc = 0;
    evlog_event_t ev;
    while (rc >= 0 && (next < n || nheap > 0)) {
        /* Load every pending run whose earliest key precedes the heap's head. */
        while (next < n) {
            uint64_t ts, off;
            if (nheap) head_key(heap[0], &ts, &off);
            if (nheap && !key_less(pending[next]->min_ts, pending[next]->start, ts, off)) break;
            run_t *r = pending[next++];
            if (load_run(x, src, r) < 0) {
                rc = LP_EIO;
                break;
            }
            loaded += run_cost(r);
            if (loaded > st->peak_loaded) st->peak_loaded = loaded;
            heap_push(heap, &nheap, r);
        }
        if (rc < 0) break;
        run_t *r = heap_pop(heap, &nheap);
        /* Emit from r while it stays ahead of both the heap and the next pending run. */
        uint64_t bts = UINT64_MAX, boff = UINT64_MAX;
        if (nheap) head_key(heap[0], &bts, &boff);
        if (next < n && key_less(pending[next]->min_ts, pending[next]->start, bts, boff)) {
            bts = pending[next]->min_ts;
            boff = pending[next]->start;
        }
        const evlog_types_t *tt = x->tables[r->gen];
        uint64_t ts, off;
        do {
            const entry_t *e = &r->ents[r->pos++];
            int k = evlog_decode_one(tt, r->bytes + e->off, (size_t)(r->end - r->start) - e->off,
                                     r->start + e->off, &ev);
            if (k > 0) {
                ev.cap = r->cap;
                st->events++;
                rc = fn(ctx, &ev);
            }
            if (r->pos == r->count) break;
            head_key(r, &ts, &off);
        } while (rc >= 0 && key_less(ts, off, bts, boff));
        if (r->pos < r->count) {
            heap_push(heap, &nheap, r);
        } else {
            loaded -= run_cost(r);
            unload_run(r);
            if (st->progress) st->progress(st->progress_ctx, 2, st->events, total_events);
        }
    }
    for (size_t i = 0; i < nheap; i++) unload_run(heap[i]);
    free(pending);
    free(heap);
    return rc;
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
    int derr = index_source(&x, src, st);
    st->runs = x.nruns;
    int rc = derr == LP_EIO ? LP_EIO : merge(&x, src, fn, ctx, st);
    for (size_t i = 0; i < x.nruns; i++) unload_run(&x.runs[i]);
    free(x.runs);
    for (size_t i = 0; i < x.ntables; i++) free(x.tables[i]);
    free(x.tables);
    return rc < 0 ? rc : derr;
}
