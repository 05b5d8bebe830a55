/* File ordering: pass 1 feeds the log through the streaming decoder (no field decoding) and
 * records runs (contiguous events of one capability, cut at block markers and every 64 Ki
 * events) with their smallest timestamp; pass 2 merges the runs by (timestamp, file offset),
 * which is exactly the stable sort by timestamp of the file order, with a winner tree over the
 * loaded runs. A run's bytes are read (or, in memory, pointed at) only while the merge needs
 * them. A clean log skips pass 1: its blocks are the runs, and each block's claim to start at
 * its marker's time is checked as it loads. */
#include "order.h"

#include "err.h"
#include "xmalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RUN_MAX_EVENTS 65536
#define RUN_MAX_BYTES (64u << 20)
#define CHUNK (4u << 20)
#define HUGE_PAGE ((size_t)2 << 20)

/* What a run's table says of an event type: declared, variable-size, fields wanted, and the
 * payload size of a fixed-size type; an event's entry keeps the last three for the merge. */
#define INFO_DECLARED (1u << 31)
#define INFO_KEEP (1u << 18) /* merged and emitted (else only its time is noted) */
#define INFO_WANT (1u << 17)
#define INFO_VAR (1u << 16)
#define INFO_SIZE 0xFFFFu

typedef struct entry {
    uint64_t ts;
    uint32_t off;  /* from the run's first byte */
    uint32_t meta; /* INFO_WANT | INFO_VAR | payload size */
} entry_t;

/* One header's type table as the merge reads it: INFO_* bits per type number (0 for an undeclared
 * type, and for block markers, which never belong to a run). */
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
    uint64_t low;  /* once loaded: the smallest time of its events, emitted or skipped */
    int fetched;   /* read ahead: 0 or LP_EIO */
} run_t;

typedef struct indexer {
    evlog_t *d;
    run_t *runs;
    size_t nruns, runs_cap;
    info_table_t **tables;
    size_t ntables, tables_cap;
    const uint64_t *fields;           /* order_stats_t.fields */
    bool skip;                        /* order_stats_t.skip_others */
    uint64_t skipped, min_ts, max_ts; /* events skipped; times of all events */
    uint64_t fresh;                   /* order_stats_t.fresh_bytes */
    int last_headers;
    evlog_sink_t user; /* the caller's sink, for warnings */
    /* Buffers of unloaded runs, kept for the next ones: fresh big allocations cost page faults. */
    struct pooled {
        void *p;
        size_t cap;
    } pool[16];
    size_t npool;
    pthread_mutex_t *pool_mu; /* while runs are read ahead: the pool is shared with the reader */
} indexer_t;

static void pool_lock(indexer_t *x)
{
    if (x->pool_mu) pthread_mutex_lock(x->pool_mu);
}

static void pool_unlock(indexer_t *x)
{
    if (x->pool_mu) pthread_mutex_unlock(x->pool_mu);
}

/* Big buffers of finished orderings, kept for the next ones (at most SPARE_BYTES in all, for every
 * thread): a fresh buffer's pages are faulted in and zeroed as it fills, and on some machines
 * memory the kernel has not used lately costs more than the ordering that fills it (for a 50 MB
 * log, zeroing took 7 % of a settling server's CPU time). */
#define SPARE_BYTES ((size_t)48 << 20)
#define SPARE_MAX 24
static struct {
    pthread_mutex_t mu;
    struct pooled b[SPARE_MAX];
    size_t n, bytes;
} spare = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* The smallest spare buffer of `need` to 2 x `need` bytes (its size in *cap), or NULL. */
static void *spare_take(size_t need, size_t *cap)
{
    pthread_mutex_lock(&spare.mu);
    size_t best = SPARE_MAX;
    for (size_t i = 0; i < spare.n; i++)
        if (spare.b[i].cap >= need && spare.b[i].cap / 2 <= need &&
            (best == SPARE_MAX || spare.b[i].cap < spare.b[best].cap))
            best = i;
    void *p = NULL;
    if (best < SPARE_MAX) {
        p = spare.b[best].p;
        *cap = spare.b[best].cap;
        spare.bytes -= *cap;
        spare.b[best] = spare.b[--spare.n];
    }
    pthread_mutex_unlock(&spare.mu);
    return p;
}

/* Frees p (of cap bytes), or keeps it as a spare when it is big and there is room. */
static void spare_give(void *p, size_t cap)
{
    if (!p) return;
    if (cap >= HUGE_PAGE) {
        pthread_mutex_lock(&spare.mu);
        bool keep = spare.n < SPARE_MAX && spare.bytes + cap <= SPARE_BYTES;
        if (keep) {
            spare.b[spare.n].p = p;
            spare.b[spare.n++].cap = cap;
            spare.bytes += cap;
        }
        pthread_mutex_unlock(&spare.mu);
        if (keep) return;
    }
    free(p);
}

/* A buffer of at least `need` bytes from the pool (or new); *cap gets its size. */
static void *pool_get(indexer_t *x, size_t need, size_t *cap)
{
    pool_lock(x);
    for (size_t i = 0; i < x->npool; i++)
        if (x->pool[i].cap >= need) {
            void *p = x->pool[i].p;
            *cap = x->pool[i].cap;
            x->pool[i] = x->pool[--x->npool];
            pool_unlock(x);
            return p;
        }
    pool_unlock(x);
    /* a power of two, so that runs of a similar size reuse each other's buffers (a fresh
     * buffer costs page faults; its untouched tail costs nothing) */
    size_t c = 4096;
    while (c < need)
        c *= 2;
    *cap = c;
    if (c < HUGE_PAGE) return xmalloc(c);
    void *p = spare_take(c, cap);
    if (p) return p;
    /* whole huge pages: fewer faults while the buffer fills, fewer TLB misses while the merge
     * reads a handful of runs at once */
    if (posix_memalign(&p, HUGE_PAGE, c) != 0) xoom(c);
    madvise(p, c, MADV_HUGEPAGE);
    pool_lock(x);
    x->fresh += c;
    pool_unlock(x);
    return p;
}

static void pool_put(indexer_t *x, void *p, size_t cap)
{
    if (!p) return;
    pool_lock(x);
    if (x->npool < sizeof x->pool / sizeof x->pool[0]) {
        x->pool[x->npool].p = p;
        x->pool[x->npool++].cap = cap;
        p = NULL;
    }
    pool_unlock(x);
    spare_give(p, cap);
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
        uint32_t flags =
            INFO_DECLARED | (want ? INFO_WANT : 0) | (want || !x->skip ? INFO_KEEP : 0);
        t->t[i] = size == EVLOG_UNDECLARED || i == EVLOG_BLOCK_MARKER /* never inside a run */
                      ? 0
                      : flags | (size == EVLOG_VAR_SIZE ? INFO_VAR : (uint32_t)size);
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

/* ---- runs read ahead of the merge, on a thread of their own (order_source_t.prefetch) ------ */

/* The merge loads runs in an order known in advance (the pending list), so a reader thread can
 * read them ahead, up to a byte bound, while the merge works: it then finds each run's bytes in
 * memory instead of waiting for the source. */
typedef struct fetcher {
    indexer_t *x;
    const order_source_t *src;
    run_t **order; /* the merge's load order (borrowed) */
    size_t n;
    pthread_t th;
    pthread_mutex_t mu; /* guards the fields below and, meanwhile, the indexer's buffer pool */
    pthread_cond_t cv;  /* a run was read or taken, or the reader is asked to stop */
    size_t read, taken; /* runs [0, read) are read (or failed), [0, taken) went to the merge */
    uint64_t ahead;     /* bytes read and not yet taken */
    bool stop;
} fetcher_t;

static void *fetch_main(void *arg)
{
    fetcher_t *f = arg;
    pthread_mutex_lock(&f->mu);
    while (!f->stop && f->read < f->n) {
        run_t *r = f->order[f->read];
        uint64_t size = r->end - r->start;
        /* the run the merge takes next is always read, the ones after it while they fit */
        if (f->read > f->taken && f->ahead + size > f->src->prefetch) {
            pthread_cond_wait(&f->cv, &f->mu);
            continue;
        }
        pthread_mutex_unlock(&f->mu);
        int rc = read_run(f->x, f->src, r);
        pthread_mutex_lock(&f->mu);
        r->fetched = rc;
        f->ahead += size;
        f->read++;
        pthread_cond_broadcast(&f->cv);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

/* Starts the reader over the load order; false (then the merge reads for itself) when the source
 * is in memory, asks for no read-ahead, or no thread can start. */
static bool fetch_start(fetcher_t *f, indexer_t *x, const order_source_t *src, run_t **order,
                        size_t n)
{
    if (src->buf || !src->prefetch || n < 2) return false;
    memset(f, 0, sizeof *f);
    f->x = x;
    f->src = src;
    f->order = order;
    f->n = n;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    x->pool_mu = &f->mu;
    if (pthread_create(&f->th, NULL, fetch_main, f) != 0) {
        x->pool_mu = NULL;
        pthread_mutex_destroy(&f->mu);
        pthread_cond_destroy(&f->cv);
        return false;
    }
    if (src->prefetch_name) pthread_setname_np(f->th, src->prefetch_name);
    return true;
}

/* Waits for run r, the next of the load order, and hands it to the merge: 0 or LP_EIO. */
static int fetch_take(fetcher_t *f, const run_t *r)
{
    pthread_mutex_lock(&f->mu);
    while (f->read <= f->taken)
        pthread_cond_wait(&f->cv, &f->mu);
    f->taken++;
    f->ahead -= r->end - r->start;
    pthread_cond_signal(&f->cv); /* there may be room for the reader again */
    int rc = r->fetched;
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static void unload_run(indexer_t *x, run_t *r);

/* Stops and joins the reader and gives back the buffers of the runs it read that the merge never
 * took. */
static void fetch_stop(fetcher_t *f)
{
    pthread_mutex_lock(&f->mu);
    f->stop = true;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->th, NULL);
    for (size_t i = f->taken; i < f->read; i++)
        unload_run(f->x, f->order[i]);
    f->x->pool_mu = NULL;
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
}

/* Brings a run into memory and makes the entries (time, offset, size) of its kept events in
 * time order; the others are only counted. Notes the smallest and largest time of all. A fast-path
 * run (count 0: claimed from its block marker) has every event's framing checked on the way.
 * Runs read ahead come from the reader `f` (NULL: none). Returns 0, LP_EIO, or LP_EBAD_EVENT for a
 * malformed fast-path run. */
static int load_run(indexer_t *x, const order_source_t *src, fetcher_t *f, run_t *r)
{
    size_t n = (size_t)(r->end - r->start);
    if (src->buf)
        r->bytes = src->buf + r->start;
    else if ((f ? fetch_take(f, r) : read_run(x, src, r)) < 0)
        return LP_EIO;
    const uint32_t *info = x->tables[r->gen]->t;
    const uint8_t *bytes = r->bytes;
    bool fast = r->count == 0;
    size_t max = fast ? n / 10 + 1 : r->count;
    r->ents = pool_get(x, max * sizeof *r->ents, &r->ents_cap);
    entry_t *e = r->ents;
    uint32_t i = 0, nev = 0; /* entries kept, events seen */
    size_t off = 0;
    uint64_t prev = 0, low = UINT64_MAX, high = 0;
    uint32_t sorted = 1;
    /* Every event's entry is written; a skipped one is overwritten by the next (no branch). */
#define ADD_EVENT(p, in, size)                                                                     \
    do {                                                                                           \
        uint64_t ts = evlog_u64((p) + 2);                                                          \
        uint32_t keep = (in) >> 18 & 1; /* INFO_KEEP */                                            \
        low = ts < low ? ts : low;                                                                 \
        high = ts > high ? ts : high;                                                              \
        sorted &= (keep ^ 1) | (ts >= prev);                                                       \
        prev = keep ? ts : prev;                                                                   \
        e[i].ts = ts;                                                                              \
        e[i].off = (uint32_t)off;                                                                  \
        e[i].meta = ((in) & (INFO_WANT | INFO_VAR)) | (size);                                      \
        i += keep;                                                                                 \
        nev++;                                                                                     \
    } while (0)
    if (fast) {
        /* far enough from the end any event fits: only its type needs checking */
        size_t safe = n > EVLOG_MAX_EVENT ? n - EVLOG_MAX_EVENT : 0;
        while (off < safe) {
            const uint8_t *p = bytes + off;
            uint32_t in = info[evlog_u16(p)];
            if (!(in & INFO_DECLARED)) return LP_EBAD_EVENT;
            /* both sizes read, one chosen: fixed and variable sizes interleave unpredictably */
            uint32_t var_size = evlog_u16(p + 10);
            uint32_t size = in & INFO_VAR ? var_size : in & INFO_SIZE;
            ADD_EVENT(p, in, size);
            off += 10u + ((in & INFO_VAR) >> 15) + size;
        }
        while (off < n) {
            const uint8_t *p = bytes + off;
            size_t left = n - off;
            if (left < 10) return LP_EBAD_EVENT;
            uint32_t in = info[evlog_u16(p)];
            if (!(in & INFO_DECLARED) || ((in & INFO_VAR) && left < 12)) return LP_EBAD_EVENT;
            uint32_t size = in & INFO_VAR ? evlog_u16(p + 10) : in & INFO_SIZE;
            size_t total = 10u + ((in & INFO_VAR) >> 15) + size;
            if (total > left) return LP_EBAD_EVENT;
            ADD_EVENT(p, in, size);
            off += total;
        }
        if (nev == 0) return LP_EBAD_EVENT;
    } else { /* the decoder has checked the framing */
        for (uint32_t j = 0; j < r->count; j++) {
            const uint8_t *p = bytes + off;
            uint32_t in = info[evlog_u16(p)];
            uint32_t var_size = off + 12 <= n ? evlog_u16(p + 10) : 0; /* as above */
            uint32_t size = in & INFO_VAR ? var_size : in & INFO_SIZE;
            ADD_EVENT(p, in, size);
            off += 10u + ((in & INFO_VAR) >> 15) + size;
        }
    }
#undef ADD_EVENT
    r->count = i;
    r->low = low;
    x->skipped += nev - i;
    if (low < x->min_ts) x->min_ts = low;
    if (high > x->max_ts) x->max_ts = high;
    if (!sorted) sort_entries(r->ents, r->count);
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

/* ---- a loser tree of loaded runs keyed by (ts, file offset) of their next event ----------- */

/* A key (ts, file offset) as one number: keys compare with one branch-free comparison, so that
 * picking among finely interleaved runs costs no mispredicted branches. */
typedef unsigned __int128 okey_t;
#define KEY_NONE (~(okey_t)0) /* an empty leaf, or no pending run */
#define SENTINEL 0            /* the leaf holding the next pending run's key */

static inline okey_t key_of(uint64_t ts, uint64_t off)
{
    return (okey_t)ts << 64 | off;
}

/* A tournament over `k` leaves (a power of two), kept as a winner tree: win[1] is the leaf with
 * the smallest key, win[i] (1 <= i < k) the winner below inner node i, whose children are the
 * nodes 2i and 2i + 1, the leaves being nodes k .. 2k - 1. Any leaf's key may change; replaying
 * it costs one comparison per level. */
/* Where a leaf's run stands: its next entry and what an event of it needs, so that the merge
 * reaches an event from its leaf in one load rather than through the run. */
typedef struct cursor {
    const entry_t *e, *end; /* the next entry; the run's entries end */
    const uint8_t *bytes;   /* the run's bytes */
    uint64_t start;         /* the run's file offset */
    int32_t cap;
} cursor_t;

typedef struct tree {
    size_t k;
    uint32_t *win;
    okey_t *key;   /* per leaf */
    run_t **run;   /* per leaf: its run, NULL when empty (or the sentinel) */
    cursor_t *cur; /* per leaf with a run */
    uint32_t *free_leaves;
    size_t nfree;
} tree_t;

/* Sets leaf w's key to kw and plays it up to the root; returns the leaf with the smallest key,
 * that key in *root (so the merge has its next event without reading the tree again). */
static inline uint32_t tree_play(tree_t *t, uint32_t w, okey_t kw, okey_t *root)
{
    t->key[w] = kw;
    okey_t ks = t->key[w ^ 1];
    uint32_t s = w ^ 1;
    bool take = ks < kw;
    w = take ? s : w;
    kw = take ? ks : kw;
    size_t i = (t->k + w) >> 1;
    t->win[i] = w;
    for (; i > 1; i >>= 1) {
        s = t->win[i ^ 1];
        ks = t->key[s];
        take = ks < kw;
        w = take ? s : w;
        kw = take ? ks : kw;
        t->win[i >> 1] = w;
    }
    *root = kw;
    return w;
}

/* Builds the tree over k leaves whose keys are set. */
static void tree_build(tree_t *t)
{
    size_t k = t->k;
    for (size_t i = k - 1; i >= 1; i--) {
        uint32_t a = 2 * i >= k ? (uint32_t)(2 * i - k) : t->win[2 * i];
        uint32_t b = 2 * i + 1 >= k ? (uint32_t)(2 * i + 1 - k) : t->win[2 * i + 1];
        t->win[i] = t->key[b] < t->key[a] ? b : a;
    }
}

static void tree_init(tree_t *t, size_t k)
{
    t->k = k;
    t->win = xmalloc(k * sizeof *t->win);
    t->key = xmalloc(k * sizeof *t->key);
    t->run = xmalloc(k * sizeof *t->run);
    t->cur = xmalloc(k * sizeof *t->cur);
    t->free_leaves = xmalloc(k * sizeof *t->free_leaves);
    t->nfree = 0;
    for (size_t i = 0; i < k; i++) {
        t->key[i] = KEY_NONE;
        t->run[i] = NULL;
    }
    for (size_t i = k - 1; i > SENTINEL; i--) /* the lowest leaf is taken first */
        t->free_leaves[t->nfree++] = (uint32_t)i;
}

static void tree_dispose(tree_t *t)
{
    free(t->win);
    free(t->key);
    free(t->run);
    free(t->cur);
    free(t->free_leaves);
}

/* Doubles the leaves (all of them were in use), keeping every leaf's key and run. */
static void tree_grow(tree_t *t)
{
    size_t k = t->k, nk = 2 * k;
    t->win = xrealloc(t->win, nk * sizeof *t->win);
    t->key = xrealloc(t->key, nk * sizeof *t->key);
    t->run = xrealloc(t->run, nk * sizeof *t->run);
    t->cur = xrealloc(t->cur, nk * sizeof *t->cur);
    t->free_leaves = xrealloc(t->free_leaves, nk * sizeof *t->free_leaves);
    for (size_t i = k; i < nk; i++) {
        t->key[i] = KEY_NONE;
        t->run[i] = NULL;
    }
    for (size_t i = nk; i > k; i--)
        t->free_leaves[t->nfree++] = (uint32_t)(i - 1);
    t->k = nk;
    tree_build(t);
}

static int pending_cmp(const void *a, const void *b)
{
    const run_t *x = *(run_t *const *)a, *y = *(run_t *const *)b;
    if (x->min_ts != y->min_ts) return x->min_ts < y->min_ts ? -1 : 1;
    return x->start < y->start ? -1 : x->start > y->start;
}

#define ORDER_VIOLATION 1 /* merge's return when a marker-indexed run broke the order */

/* Pass 2. With `verify` (runs indexed from block markers), checks each run's claim as it loads
 * and returns ORDER_VIOLATION as soon as one is false, or when a run turns out malformed. */
static int merge(indexer_t *x, const order_source_t *src, order_event_fn fn, void *ctx,
                 order_stats_t *st, bool verify)
{
    size_t n = x->nruns, next = 0;
    run_t **pending = xmalloc((n ? n : 1) * sizeof *pending);
    for (size_t i = 0; i < n; i++)
        pending[i] = &x->runs[i];
    qsort(pending, n, sizeof *pending, pending_cmp);
    uint64_t loaded = 0, total_bytes = 0, done_bytes = 0, emitted = 0;
    for (size_t i = 0; i < n; i++)
        total_bytes += x->runs[i].end - x->runs[i].start;
    fetcher_t f;
    fetcher_t *fetch = fetch_start(&f, x, src, pending, n) ? &f : NULL;
    tree_t t;
    tree_init(&t, 8);
    t.key[SENTINEL] = n ? key_of(pending[0]->min_ts, pending[0]->start) : KEY_NONE;
    tree_build(&t);
    int rc = 0;
    evlog_event_t ev;
    uint32_t w = t.win[1]; /* the leaf of the next event, and its key */
    okey_t kw = t.key[w];
    while (rc == 0) {
        if (kw == KEY_NONE) break; /* every run is done */
        if (w == SENTINEL) {
            /* The next pending run is due: load it into a leaf of its own. */
            run_t *r = pending[next++];
            w = tree_play(&t, SENTINEL,
                          next < n ? key_of(pending[next]->min_ts, pending[next]->start) : KEY_NONE,
                          &kw);
            int lr = load_run(x, src, fetch, r);
            /* A marker-indexed run was claimed to start at its marker's time: when no event of
             * it is earlier, everything emitted so far precedes all of it, so the merge of the
             * sorted runs is the exact order; otherwise the exact path takes over. */
            if (lr == 0 && verify && r->low < r->min_ts) lr = LP_EBAD_EVENT;
            if (lr < 0) {
                unload_run(x, r);
                rc = lr == LP_EIO ? LP_EIO : ORDER_VIOLATION;
                break;
            }
            if (r->count == 0) { /* every event of it was skipped */
                done_bytes += r->end - r->start;
                unload_run(x, r);
                continue;
            }
            loaded += run_cost(r);
            if (loaded > st->peak_loaded) st->peak_loaded = loaded;
            if (t.nfree == 0) tree_grow(&t);
            uint32_t leaf = t.free_leaves[--t.nfree];
            t.run[leaf] = r;
            t.cur[leaf] = (cursor_t){r->ents, r->ents + r->count, r->bytes, r->start, r->cap};
            w = tree_play(&t, leaf, key_of(r->ents[0].ts, r->start + r->ents[0].off), &kw);
            continue;
        }
        cursor_t *c = &t.cur[w];
        const entry_t *e = c->e;
        const uint8_t *p = c->bytes + e->off;
        uint32_t meta = e->meta;
        bool var = meta & INFO_VAR;
        ev.type = evlog_u16(p);
        ev.ts = e->ts;
        ev.offset = c->start + e->off;
        ev.cap = c->cap;
        ev.size = meta & INFO_SIZE;
        ev.payload = p + (var ? 12 : 10);
        ev.known = false;
        if (!(meta & INFO_WANT) || evlog_decode_fields(&ev, var) == 0) {
            emitted++;
            rc = fn(ctx, &ev);
        } else if (verify) { /* a malformed payload: let the exact path skip it */
            rc = ORDER_VIOLATION;
            break;
        } else {
            st->dropped++;
        }
        if (++c->e < c->end) {
            w = tree_play(&t, w, key_of(e[1].ts, c->start + e[1].off), &kw);
            continue;
        }
        /* the run is done */
        run_t *r = t.run[w];
        t.run[w] = NULL;
        t.free_leaves[t.nfree++] = w;
        w = tree_play(&t, w, KEY_NONE, &kw);
        loaded -= run_cost(r);
        done_bytes += r->end - r->start;
        unload_run(x, r);
        if (st->progress) st->progress(st->progress_ctx, 2, done_bytes, total_bytes);
    }
    if (fetch) fetch_stop(fetch);
    st->events += emitted;
    st->skipped = x->skipped;
    st->min_ts = x->min_ts;
    st->max_ts = x->max_ts;
    for (size_t i = 0; i < t.k; i++)
        if (t.run[i]) unload_run(x, t.run[i]);
    tree_dispose(&t);
    free(pending);
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
        spare_give(x->pool[i].p, x->pool[i].cap);
    evlog_t *d = x->d;
    const uint64_t *fields = x->fields;
    bool skip = x->skip;
    memset(x, 0, sizeof *x);
    x->d = d;
    x->fields = fields;
    x->skip = skip;
    x->min_ts = UINT64_MAX;
}

int order_log(evlog_t *d, const order_source_t *src, order_event_fn fn, void *ctx,
              order_stats_t *stats)
{
    order_stats_t local = {0};
    order_stats_t *st = stats ? stats : &local;
    st->events = st->runs = st->peak_loaded = st->skipped = st->dropped = st->max_ts = 0;
    st->fresh_bytes = 0;
    st->min_ts = UINT64_MAX;
    indexer_t x;
    memset(&x, 0, sizeof x);
    x.d = d;
    x.fields = st->fields;
    x.skip = st->fields && st->skip_others;
    x.min_ts = UINT64_MAX;
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
        st->fresh_bytes += x.fresh;
        indexer_reset(&x);
        x.d = d;
        if (rc == ORDER_VIOLATION && st->events) st->reset(st->progress_ctx);
    }
    if (rc == 1) { /* the exact path: index every event */
        st->fast = false;
        st->events = st->peak_loaded = st->dropped = 0;
        derr = index_source(&x, src, st);
        st->runs = x.nruns;
        rc = derr == LP_EIO ? LP_EIO : merge(&x, src, fn, ctx, st, false);
        st->fresh_bytes += x.fresh;
        indexer_reset(&x);
    }
    return rc < 0 ? rc : derr;
}
