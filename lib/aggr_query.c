/* The reader side of the live aggregates: picks a tier and an aligned output grid, folds the
 * bins of the range into dense rows (spans and counts summed exactly in ns before the one
 * division, gauges by latest sample with carry-forward), adds open intervals up to "now", and
 * selects the rows worth returning. */
#include "aggr_state.h"

#include "err.h"
#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a result owns besides its rows. */
typedef struct qmem {
    char *str; /* names and ids */
    double *vals;
} qmem_t;

/* A result under construction: rows refer to names and ids by offset until finish(). */
typedef struct build {
    aggr_result_t *out;
    size_t cap;
    size_t *name_off, *id_off;
    char *str;
    size_t slen, scap;
} build_t;

static size_t put_str(build_t *b, const char *p, size_t n)
{
    size_t at = b->slen;
    xgrow((void **)&b->str, &b->scap, b->slen + n + 1, 1);
    memcpy(b->str + b->slen, p, n);
    b->str[b->slen + n] = 0;
    b->slen += n + 1;
    return at;
}

/* Appends the id "<series>-<stem>": bytes outside [A-Za-z0-9.-] become '_', and a name that
 * needed any replacement (or had a '_') gets "-x<hash>" so that ids stay distinct. */
static size_t put_id(build_t *b, const char *series, const char *stem, size_t n, const char *suffix)
{
    char *tmp = xmalloc(strlen(series) + n + 64 + (suffix ? strlen(suffix) : 0));
    size_t k = (size_t)sprintf(tmp, "%s-", series);
    bool lossy = false;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)stem[i];
        h = (h ^ c) * 16777619u;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-';
        lossy |= !ok;
        tmp[k++] = ok ? (char)c : '_';
    }
    if (lossy) k += (size_t)sprintf(tmp + k, "-x%08x", h);
    if (suffix) k += (size_t)sprintf(tmp + k, "%s", suffix);
    size_t at = put_str(b, tmp, k);
    free(tmp);
    return at;
}

static aggr_row_t *add_out(build_t *b, const char *name, size_t len, uint8_t kind, size_t id_off)
{
    aggr_result_t *o = b->out;
    if (o->nrows == b->cap) {
        size_t c1 = b->cap, c2 = b->cap;
        xgrow((void **)&o->rows, &b->cap, o->nrows + 1, sizeof *o->rows);
        xgrow((void **)&b->name_off, &c1, o->nrows + 1, sizeof *b->name_off);
        xgrow((void **)&b->id_off, &c2, o->nrows + 1, sizeof *b->id_off);
    }
    aggr_row_t *r = &o->rows[o->nrows];
    memset(r, 0, sizeof *r);
    r->kind = aggr_kind_names[kind];
    b->name_off[o->nrows] = put_str(b, name, len);
    b->id_off[o->nrows] = id_off;
    o->nrows++;
    return r;
}

/* Gives every row its values and turns offsets into pointers. */
static void finish(build_t *b)
{
    aggr_result_t *o = b->out;
    qmem_t *m = xcalloc(1, sizeof *m);
    m->str = b->str;
    m->vals = xcalloc(o->nrows * o->bins + 1, sizeof *m->vals);
    for (size_t i = 0; i < o->nrows; i++) {
        o->rows[i].name = m->str + b->name_off[i];
        o->rows[i].id = m->str + b->id_off[i];
        o->rows[i].values = m->vals + i * o->bins;
    }
    o->mem_ = m;
    free(b->name_off);
    free(b->id_off);
}

void aggr_result_dispose(aggr_result_t *r)
{
    if (!r) return;
    qmem_t *m = r->mem_;
    if (m) {
        free(m->str);
        free(m->vals);
        free(m);
    }
    free(r->rows);
    memset(r, 0, sizeof *r);
}

/* ---- spans and counts --------------------------------------------------------------------- */

typedef struct piece {
    uint32_t row;
    uint64_t s, e;
} piece_t;

/* The open intervals of a span series, cut at now. */
static size_t open_pieces(const aggr_t *a, int sid, piece_t **out)
{
    const aseries_t *s = &a->s[sid];
    size_t n = 0, cap = 0;
    piece_t *p = NULL;
    if (sid == AS_LABELS || sid == AS_THREADS) {
        if (sid == AS_LABELS && a->gc_count) return 0; /* user ids are paused during GC */
        for (size_t i = 0; i < s->nopen; i++) {
            xgrow((void **)&p, &cap, n + 1, sizeof *p);
            p[n++] = (piece_t){s->open[i], s->rows[s->open[i]].open_start, a->now};
        }
    } else if (sid == AS_CAPS) {
        for (size_t c = 0; c < a->ncaps; c++) {
            const acap_t *cp = &a->caps[c];
            if (!cp->seen || cp->state == CS_NONE) continue;
            xgrow((void **)&p, &cap, n + 1, sizeof *p);
            p[n++] = (piece_t){cp->row0 + cp->state - 1u, cp->since, a->now};
        }
    } else if (sid == AS_GC && a->gc_count) {
        p = xmalloc(sizeof *p);
        p[n++] = (piece_t){GC_PAUSE, a->gc_start, a->now};
    }
    *out = p;
    return n;
}

/* Adds the overlap of [s, e) with each output bin to vals[0..bins). Returns the total. */
static double add_piece(const aggr_result_t *o, double *vals, uint64_t s, uint64_t e)
{
    if (s < o->from_ns) s = o->from_ns;
    if (e > o->to_ns) e = o->to_ns;
    if (e <= s) return 0;
    uint64_t i0 = (s - o->from_ns) / o->bin_ns, i1 = (e - 1 - o->from_ns) / o->bin_ns;
    for (uint64_t i = i0; i <= i1; i++) {
        uint64_t lo = o->from_ns + i * o->bin_ns, hi = lo + o->bin_ns;
        if (vals) vals[i] += (double)((e < hi ? e : hi) - (s > lo ? s : lo));
    }
    return (double)(e - s);
}

typedef struct rank {
    double v;
    uint32_t row;
} rank_t;

static int by_value_desc(const void *x, const void *y)
{
    const rank_t *a = x, *b = y;
    if (a->v != b->v) return a->v > b->v ? -1 : 1;
    return a->row < b->row ? -1 : a->row > b->row;
}

/* Moves the k highest-ranked (by_value_desc, a total order) of a[0..n) to a[0..k), in no
 * particular order: the rows a query keeps when the rest go to "other", which it then sorts by
 * name or key. Quickselect, which falls back to sorting the part left when its partitions stop
 * shrinking (median-of-three has inputs that defeat it), so it costs O(n) and never more than
 * O(n log n) (a query of 120,006 threads took 25 ms to sort them all). */
static void select_top(rank_t *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n, rounds = 0, limit = 8;
    for (size_t m = n; m > 1; m >>= 1)
        limit += 2;
    /* [0, lo) are among the top k, [hi, n) are not, lo <= k <= hi */
    while (hi - lo > 1) {
        if (++rounds > limit) {
            qsort(a + lo, hi - lo, sizeof *a, by_value_desc);
            return;
        }
        size_t mid = lo + (hi - lo) / 2, last = hi - 1;
        rank_t t;
#define SWAP(i, j) (t = a[i], a[i] = a[j], a[j] = t)
        if (by_value_desc(&a[mid], &a[lo]) < 0) SWAP(mid, lo);
        if (by_value_desc(&a[last], &a[lo]) < 0) SWAP(last, lo);
        if (by_value_desc(&a[mid], &a[last]) < 0) SWAP(mid, last);
        /* a[last] is now the median of the three: the pivot */
        size_t s = lo;
        for (size_t i = lo; i < last; i++)
            if (by_value_desc(&a[i], &a[last]) < 0) {
                SWAP(i, s);
                s++;
            }
        SWAP(s, last);
#undef SWAP
        if (s == k) return;
        if (s < k)
            lo = s + 1;
        else
            hi = s;
    }
}

/* Row orders for qsort_r: the old tool's name order (label bytes, then subscript), and key order
 * (tid; capability then running, gc, idle). */
static int by_name(const void *x, const void *y, void *ctx)
{
    const aseries_t *s = ctx;
    const arow_t *a = &s->rows[*(const uint32_t *)x];
    const arow_t *b = &s->rows[*(const uint32_t *)y];
    size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
    int c = memcmp(a->name, b->name, n);
    if (c) return c;
    if (a->name_len != b->name_len) return a->name_len < b->name_len ? -1 : 1;
    return a->sub < b->sub ? -1 : a->sub > b->sub;
}

static int by_key(const void *x, const void *y, void *ctx)
{
    const aseries_t *s = ctx;
    const arow_t *a = &s->rows[*(const uint32_t *)x];
    const arow_t *b = &s->rows[*(const uint32_t *)y];
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return a->kind < b->kind ? -1 : a->kind > b->kind;
}

/* The level bins output bin i folds, [*b0, *b1), cut to the bins the level retains: a query's
 * cost follows the data held, not the width of its range (an extreme timestamp in a hostile log
 * makes the range 2^63 ns wide). */
static void grid_bins(const tiers_t *t, const tiers_grid_t *g, uint32_t i, int64_t *b0, int64_t *b1)
{
    const tiers_level_t *L = &t->lv[g->level];
    int64_t lo = L->lo, hi = L->hi;
    if (g->level + 1 == t->o.levels) lo = 0, hi = (int64_t)t->o.bins - 1;
    *b0 = g->first + (int64_t)i * g->fold;
    *b1 = *b0 + (int64_t)g->fold;
    if (*b0 < lo) *b0 = lo;
    if (*b1 > hi + 1) *b1 = hi + 1;
}

/* Span queries of at most this many (row, output bin) sums fold the bins once (1 MiB). */
#define DENSE_MAX (1u << 17)

/* Runs BODY for every entry E of the grid's bins, with I the output bin it folds into. */
#define FOR_ENTRIES(t, g, I, E, BODY)                                                              \
    for (uint32_t I = 0; I < (g)->n; I++) {                                                        \
        int64_t b0_, b1_;                                                                          \
        grid_bins((t), (g), I, &b0_, &b1_);                                                        \
        for (int64_t b_ = b0_; b_ < b1_; b_++) {                                                   \
            const tiers_slot_t *sl_ = tiers_slot((t), (g)->level, b_);                             \
            if (!sl_) continue;                                                                    \
            for (uint32_t e_ = 0; e_ < sl_->n; e_++) {                                             \
                const tiers_cell_t *E = &sl_->c[e_];                                               \
                BODY                                                                               \
            }                                                                                      \
        }                                                                                          \
    }

static void fold_spans(const aggr_t *a, int sid, const aggr_query_t *q, const tiers_grid_t *g,
                       build_t *b)
{
    aggr_result_t *o = b->out;
    const aseries_t *s = &a->s[sid];
    uint32_t nr = s->nrows;
    piece_t *pcs = NULL;
    size_t np = q->closed_only ? 0 : open_pieces(a, sid, &pcs);
    double *tot = xcalloc(nr + 1, sizeof *tot);
    uint8_t *has = xcalloc(nr + 1, 1);
    /* Few rows (labels, capabilities): one pass over the bins also sums every row's output bins,
     * which the second pass would otherwise sum again in the same order. */
    double *dense =
        (uint64_t)nr * g->n <= DENSE_MAX ? xcalloc((size_t)nr * g->n + 1, sizeof *dense) : NULL;
    FOR_ENTRIES(&s->t, g, i, c, {
        tot[c->row] += c->sum;
        has[c->row] = 1;
        if (dense) dense[(size_t)c->row * g->n + i] += c->sum;
    })
    for (size_t k = 0; k < np; k++) {
        double d = add_piece(o, NULL, pcs[k].s, pcs[k].e);
        if (d > 0) {
            tot[pcs[k].row] += d;
            has[pcs[k].row] = 1;
            uint64_t from = pcs[k].s > o->from_ns ? pcs[k].s : o->from_ns;
            if (from < o->provisional_from_ns) o->provisional_from_ns = from;
        }
    }
    bool select = sid == AS_LABELS || sid == AS_THREADS;
    uint32_t *sel = xmalloc((nr + 1) * sizeof *sel), nsel = 0;
    for (uint32_t r = 0; r < nr; r++)
        if (!select || has[r]) sel[nsel++] = r;
    uint32_t max_rows = q->max_rows ? q->max_rows : a->o.max_rows;
    bool other = select && nsel > max_rows;
    int32_t *map = xmalloc((nr + 1) * sizeof *map);
    for (uint32_t r = 0; r < nr; r++)
        map[r] = -1;
    if (other) {
        rank_t *rk = xmalloc(nsel * sizeof *rk);
        for (uint32_t i = 0; i < nsel; i++)
            rk[i] = (rank_t){tot[sel[i]], sel[i]};
        select_top(rk, nsel, max_rows);
        for (uint32_t i = 0; i < nsel; i++)
            sel[i] = rk[i].row;
        free(rk);
        for (uint32_t i = max_rows; i < nsel; i++)
            map[sel[i]] = (int32_t)max_rows;
        nsel = max_rows;
    }
    qsort_r(sel, nsel, sizeof *sel, sid == AS_LABELS ? by_name : by_key, (void *)s);
    for (uint32_t i = 0; i < nsel; i++) {
        const arow_t *r = &s->rows[sel[i]];
        map[sel[i]] = (int32_t)i;
        size_t id;
        char suf[40];
        if (sid == AS_LABELS) {
            snprintf(suf, sizeof suf, ".%lld", (long long)r->sub);
            id = put_id(b, "labels", r->name, r->name_len, r->sub ? suf : NULL);
        } else {
            int k = snprintf(suf, sizeof suf, "%u", r->key);
            const char *kn = sid == AS_THREADS ? NULL : aggr_kind_names[r->kind];
            char full[64];
            int fk = kn ? snprintf(full, sizeof full, "%.*s-%s", k, suf, kn)
                        : snprintf(full, sizeof full, "%.*s", k, suf);
            id = sid == AS_GC ? put_id(b, "gc", kn, strlen(kn), NULL)
                              : put_id(b, aggr_series_names[sid], full, (size_t)fk, NULL);
        }
        aggr_row_t *row = add_out(b, r->name, r->name_len, r->kind, id);
        row->sub = r->sub;
        row->key = r->key;
        if (sid == AS_THREADS) {
            row->life_from = r->life_from;
            row->life_to = r->finished ? r->life_to : a->now;
        }
    }
    if (other) {
        size_t id = put_str(b, sid == AS_LABELS ? "labels-_other" : "threads-_other",
                            13 + (sid != AS_LABELS));
        add_out(b, "other", 5, AK_OTHER, id);
    }
    finish(b);
    if (dense && !other) { /* each output row is one row: its sums as they are */
        for (uint32_t r = 0; r < nr; r++)
            if (map[r] >= 0)
                memcpy(o->rows[map[r]].values, dense + (size_t)r * g->n, g->n * sizeof *dense);
    } else { /* bins are visited in order, so the rows' current cache lines stay hot */
        FOR_ENTRIES(&s->t, g, i, c, {
            int32_t m = map[c->row];
            if (m >= 0) o->rows[m].values[i] += c->sum;
        })
    }
    for (size_t k = 0; k < np; k++)
        if (map[pcs[k].row] >= 0) add_piece(o, o->rows[map[pcs[k].row]].values, pcs[k].s, pcs[k].e);
    for (size_t i = 0; i < o->nrows; i++) {
        aggr_row_t *row = &o->rows[i];
        bool fraction = !(sid == AS_GC && i == GC_COUNT);
        double t = 0;
        for (uint32_t k = 0; k < o->bins; k++) {
            t += row->values[k];
            if (fraction) row->values[k] /= (double)o->bin_ns;
        }
        row->total = t;
    }
    free(pcs);
    free(tot);
    free(has);
    free(dense);
    free(sel);
    free(map);
}

/* ---- gauges ------------------------------------------------------------------------------- */

typedef struct gfold {
    double last, min, max;
    uint64_t ts;
    bool has;
} gfold_t;

/* Folds gauge rows into per-row, per-output-bin latest/min/max, carried forward over bins
 * without samples (from the latest sample before the range, else 0). */
static gfold_t *fold_gauge_cells(const aggr_t *a, int sid, const tiers_grid_t *g, uint32_t bins)
{
    const aseries_t *s = &a->s[sid];
    gfold_t *f = xcalloc((size_t)s->nrows * bins + 1, sizeof *f);
    for (uint32_t i = 0; i < g->n; i++) {
        int64_t b0, b1;
        grid_bins(&s->t, g, i, &b0, &b1);
        for (int64_t b = b0; b < b1; b++) {
            const tiers_slot_t *sl = tiers_slot(&s->t, g->level, b);
            if (!sl) continue;
            for (uint32_t e = 0; e < sl->n; e++) {
                const tiers_gauge_t *h = &sl->g[e];
                gfold_t *x = &f[(size_t)sl->c[e].row * bins + i];
                if (!x->has) {
                    *x = (gfold_t){h->last, h->min, h->max, h->last_ts, true};
                    continue;
                }
                if (h->min < x->min) x->min = h->min;
                if (h->max > x->max) x->max = h->max;
                if (h->last_ts >= x->ts) {
                    x->last = h->last;
                    x->ts = h->last_ts;
                }
            }
        }
    }
    for (uint32_t r = 0; r < s->nrows; r++) {
        double prev = 0;
        tiers_last_before(&s->t, g->level, r, g->first, &prev);
        for (uint32_t i = 0; i < g->n; i++) {
            gfold_t *x = &f[(size_t)r * bins + i];
            if (x->has) {
                prev = x->last;
            } else {
                x->last = x->min = x->max = prev;
            }
        }
    }
    return f;
}

static void fold_gauges(const aggr_t *a, int sid, const aggr_query_t *q, const tiers_grid_t *g,
                        build_t *b)
{
    aggr_result_t *o = b->out;
    const aseries_t *s = &a->s[sid];
    uint32_t n = g->n;
    gfold_t *f = fold_gauge_cells(a, sid, g, n);
    /* output rows: (stored row, what) pairs; what 0 last, 1 min, 2 max, 3 other */
    uint32_t *src = xmalloc(((size_t)s->nrows * 3 + 2) * sizeof *src);
    uint8_t *what = xmalloc((size_t)s->nrows * 3 + 2);
    size_t nout = 0;
    uint8_t *in_other = xcalloc(s->nrows + 1, 1);
    bool other = false;
    if (sid == AS_HEAP) {
        for (uint32_t r = 0; r < s->nrows; r++)
            for (uint8_t w = 0; w < 3; w++) {
                src[nout] = r;
                what[nout++] = w;
            }
    } else if (sid == AS_SPARKS) {
        for (uint32_t r = 0; r < s->nrows; r++) {
            src[nout] = r;
            what[nout++] = 0;
        }
    } else { /* heapprof: bands by largest residency in the range */
        rank_t *rk = xmalloc((s->nrows + 1) * sizeof *rk);
        uint32_t nr = 0;
        for (uint32_t r = 0; r < s->nrows; r++) {
            double mx = 0;
            for (uint32_t i = 0; i < n; i++)
                if (f[(size_t)r * n + i].max > mx) mx = f[(size_t)r * n + i].max;
            if (mx > 0) rk[nr++] = (rank_t){mx, r};
        }
        qsort(rk, nr, sizeof *rk, by_value_desc);
        uint32_t top = q->max_rows ? q->max_rows : a->o.heapprof_top;
        for (uint32_t i = 0; i < nr; i++) {
            if (i < top) {
                src[nout] = rk[i].row;
                what[nout++] = 0;
            } else {
                in_other[rk[i].row] = 1;
                other = true;
            }
        }
        free(rk);
        if (other) {
            src[nout] = 0;
            what[nout++] = 3;
        }
    }
    static const uint8_t kinds[4] = {AK_LAST, AK_MIN, AK_MAX, AK_OTHER};
    static const char *const wn[3] = {"-last", "-min", "-max"};
    for (size_t k = 0; k < nout; k++) {
        const arow_t *r = &s->rows[src[k]];
        uint8_t kind = sid == AS_HEAP     ? kinds[what[k]]
                       : sid == AS_SPARKS ? AK_COUNTER
                       : what[k] == 3     ? AK_OTHER
                                          : AK_RESIDENCY;
        size_t id = what[k] == 3 ? put_str(b, "heapprof-_other", 15)
                                 : put_id(b, aggr_series_names[sid], r->name, r->name_len,
                                          sid == AS_HEAP ? wn[what[k]] : NULL);
        aggr_row_t *row = what[k] == 3 ? add_out(b, "other", 5, kind, id)
                                       : add_out(b, r->name, r->name_len, kind, id);
        row->key = r->key;
    }
    finish(b);
    for (size_t k = 0; k < nout; k++) {
        double *v = o->rows[k].values;
        if (what[k] == 3) {
            for (uint32_t r = 0; r < s->nrows; r++)
                if (in_other[r])
                    for (uint32_t i = 0; i < n; i++)
                        v[i] += f[(size_t)r * n + i].last;
            continue;
        }
        const gfold_t *x = &f[(size_t)src[k] * n];
        for (uint32_t i = 0; i < n; i++)
            v[i] = what[k] == 1 ? x[i].min : what[k] == 2 ? x[i].max : x[i].last;
    }
    free(f);
    free(src);
    free(what);
    free(in_other);
}

/* ---- entry points ------------------------------------------------------------------------- */

int aggr_query_ex(const aggr_t *a, const aggr_query_t *q, aggr_result_t *out)
{
    if (!out) return LP_EARG;
    memset(out, 0, sizeof *out);
    if (!a || !q || !q->series) return LP_EARG;
    int sid = -1;
    for (int i = 0; i < AS_N; i++)
        if (!strcmp(q->series, aggr_series_names[i])) sid = i;
    if (sid < 0) return LP_EARG;
    uint32_t bins = q->bins ? q->bins : AGGR_DEFAULT_BINS;
    if (bins > AGGR_MAX_BINS) return LP_ERANGE;
    out->series = aggr_series_names[sid];
    out->now_ns = out->provisional_from_ns = a->now;
    out->tier = -1;
    uint64_t from = q->from, to = q->to;
    if (!a->any && !to) return 0;
    if (!from && a->any) from = a->first;
    if (!to) to = a->now < UINT64_MAX ? a->now + 1 : UINT64_MAX;
    if (to <= from) return LP_ERANGE;
    const aseries_t *s = &a->s[sid];
    /* the cells the fold and the result hold: gauges fold every stored row (heap returns three
     * rows per stored one); spans return at most every stored row and "other" */
    uint64_t rows = (uint64_t)s->nrows * (sid == AS_HEAP ? 3 : 1) + 1;
    if ((uint64_t)bins * rows > AGGR_MAX_CELLS)
        bins = rows >= AGGR_MAX_CELLS ? 1 : (uint32_t)(AGGR_MAX_CELLS / rows);
    tiers_grid_t g;
    tiers_pick(&s->t, from, to, bins, q->tier, &g);
    out->tier = (int)g.level;
    out->bin_ns = g.width * g.fold;
    out->from_ns = (uint64_t)g.first * g.width;
    out->bins = g.n;
    out->to_ns = out->from_ns + g.n * out->bin_ns;
    build_t b = {.out = out};
    if (sid == AS_HEAP || sid == AS_HEAPPROF || sid == AS_SPARKS)
        fold_gauges(a, sid, q, &g, &b);
    else
        fold_spans(a, sid, q, &g, &b);
    return 0;
}

int aggr_query(const aggr_t *a, const char *series, uint64_t from, uint64_t to, uint32_t bins,
               aggr_result_t *out)
{
    aggr_query_t q = {.series = series, .from = from, .to = to, .bins = bins, .tier = -1};
    return aggr_query_ex(a, &q, out);
}
