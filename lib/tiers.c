/* The levels of one series: ring levels advance with the newest bin written and drop the oldest;
 * the last level folds pairs of bins when time outgrows it. A per-row cache of the newest entry
 * on each level makes the usual update (the row's newest bin) one indexed access. */
#include "tiers.h"

#include "xmalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

static size_t entry_size(const tiers_t *t)
{
    return sizeof(tiers_cell_t) + (t->gauge ? sizeof(tiers_gauge_t) : 0);
}

static void mem_add(tiers_t *t, tiers_level_t *L, size_t bytes)
{
    L->mem += bytes;
    t->mem += bytes;
    if (t->mem_total) *t->mem_total += bytes;
}

static void mem_sub(tiers_t *t, tiers_level_t *L, size_t bytes)
{
    L->mem -= bytes;
    t->mem -= bytes;
    if (t->mem_total) *t->mem_total -= bytes;
}

static bool is_last(const tiers_t *t, uint32_t k)
{
    return k + 1 == t->o.levels;
}

/* End of bin b of width w, saturated. */
static uint64_t bin_end(int64_t b, uint64_t w)
{
    uint64_t n = (uint64_t)b + 1;
    return n > UINT64_MAX / w ? UINT64_MAX : n * w;
}

/* Remembers how level k's width relates to the finest one (see bin_at). */
static void set_shift(tiers_t *t, uint32_t k)
{
    uint64_t w = t->lv[k].width, f = t->o.fine_ns;
    t->shift[k] = -1;
    for (int s = 0; s < 63 && (f << s) >> s == f; s++)
        if (f << s == w) t->shift[k] = (int8_t)s;
}

/* The bin of time ts on level k, given q = ts / fine_ns: one division per update instead of one
 * per level, as the widths are the finest width times powers of two. */
static inline int64_t bin_at(const tiers_t *t, uint32_t k, uint64_t ts, uint64_t q)
{
    return t->shift[k] >= 0 ? (int64_t)(q >> t->shift[k]) : (int64_t)(ts / t->lv[k].width);
}

void tiers_init(tiers_t *t, const tiers_opts_t *o, bool gauge, size_t *mem_total)
{
    memset(t, 0, sizeof *t);
    t->o = *o;
    t->gauge = gauge;
    t->mem_total = mem_total;
    uint64_t w = o->fine_ns;
    for (uint32_t k = 0; k < o->levels; k++) {
        t->lv[k].width = w;
        t->lv[k].lo = 0;
        t->lv[k].hi = -1;
        set_shift(t, k);
        if (w <= UINT64_MAX / TIERS_FACTOR) w *= TIERS_FACTOR;
    }
}

static void free_slot(tiers_t *t, tiers_level_t *L, tiers_slot_t *s)
{
    if (s->cap) mem_sub(t, L, s->cap * entry_size(t));
    free(s->c);
    free(s->g);
    s->c = NULL;
    s->g = NULL;
    s->n = s->cap = 0;
    s->bin = -1;
}

void tiers_dispose(tiers_t *t)
{
    for (uint32_t k = 0; k < t->o.levels && k < TIERS_MAX_LEVELS; k++) {
        tiers_level_t *L = &t->lv[k];
        if (!L->slots) continue;
        for (uint32_t i = 0; i < t->o.bins; i++)
            free_slot(t, L, &L->slots[i]);
        mem_sub(t, L, t->o.bins * sizeof *L->slots);
        free(L->slots);
        L->slots = NULL;
    }
    free(t->chi);
    free(t->cpos);
    free(t->scratch);
    t->chi = NULL;
    t->cpos = NULL;
    t->scratch = NULL;
    t->nrows = t->rows_cap = 0;
}

void tiers_rows(tiers_t *t, uint32_t n)
{
    if (n <= t->nrows) return;
    if (n > t->rows_cap) {
        size_t cap = t->rows_cap, L = t->o.levels;
        xgrow((void **)&t->scratch, &cap, n, sizeof *t->scratch);
        t->chi = xrealloc(t->chi, cap * L * sizeof *t->chi);
        t->cpos = xrealloc(t->cpos, cap * L * sizeof *t->cpos);
        t->rows_cap = (uint32_t)cap;
    }
    for (uint32_t r = t->nrows; r < n; r++) {
        t->scratch[r] = NONE;
        for (uint32_t k = 0; k < t->o.levels; k++) {
            t->chi[(size_t)r * t->o.levels + k] = -1;
            t->cpos[(size_t)r * t->o.levels + k] = NONE;
        }
    }
    t->nrows = n;
}

static void ensure_slots(tiers_t *t, tiers_level_t *L)
{
    if (L->slots) return;
    L->slots = xcalloc(t->o.bins, sizeof *L->slots);
    for (uint32_t i = 0; i < t->o.bins; i++)
        L->slots[i].bin = -1;
    mem_add(t, L, t->o.bins * sizeof *L->slots);
}

/* The ring slot of bin b (b >= 0): a mask when the bin count is a power of two. */
static inline uint32_t ring_index(const tiers_t *t, int64_t b)
{
    uint32_t B = t->o.bins;
    return (B & (B - 1)) == 0 ? (uint32_t)b & (B - 1) : (uint32_t)(b % (int64_t)B);
}

/* Ring level k: makes b the newest bin if it is newer, recycling the slots of dropped bins. */
static inline void advance(tiers_t *t, uint32_t k, int64_t b)
{
    tiers_level_t *L = &t->lv[k];
    ensure_slots(t, L);
    if (b <= L->hi) return;
    int64_t B = t->o.bins, from = L->hi + 1;
    if (from < b - B + 1) from = b - B + 1;
    if (from < 0) from = 0;
    for (int64_t nb = from; nb <= b; nb++) {
        tiers_slot_t *s = &L->slots[ring_index(t, nb)];
        s->n = 0;
        s->bin = nb;
    }
    L->hi = b;
    if (L->lo < b - B + 1) L->lo = b - B + 1;
}

/* The entry of `row` in slot s (bin b of level k), appended when absent. */
static inline uint32_t entry(tiers_t *t, uint32_t k, tiers_slot_t *s, int64_t b, uint32_t row)
{
    size_t ci = (size_t)row * t->o.levels + k;
    int64_t hi = t->chi[ci];
    if (b == hi) {
        uint32_t p = t->cpos[ci];
        if (p < s->n && s->c[p].row == row) return p;
    }
    if (b <= hi)
        for (uint32_t i = 0; i < s->n; i++)
            if (s->c[i].row == row) {
                if (b == hi) t->cpos[ci] = i;
                return i;
            }
    if (s->n == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 4;
        s->c = xrealloc(s->c, cap * sizeof *s->c);
        if (t->gauge) s->g = xrealloc(s->g, cap * sizeof *s->g);
        mem_add(t, &t->lv[k], (cap - s->cap) * entry_size(t));
        s->cap = cap;
    }
    uint32_t i = s->n++;
    s->c[i] = (tiers_cell_t){.row = row};
    if (t->gauge) s->g[i] = (tiers_gauge_t){0};
    s->bin = b;
    if (b >= hi) {
        t->chi[ci] = b;
        t->cpos[ci] = i;
    }
    return i;
}

/* The slot of bin b on level k for writing (advancing ring levels, growing the last level), or
 * NULL when b is older than what the level retains. */
static inline tiers_slot_t *slot_w(tiers_t *t, uint32_t k, int64_t b)
{
    tiers_level_t *L = &t->lv[k];
    if (is_last(t, k)) {
        ensure_slots(t, L);
        if (b >= (int64_t)t->o.bins) b = t->o.bins - 1; /* width cannot grow further */
        if (b > L->hi) L->hi = b;
        return &L->slots[b];
    }
    advance(t, k, b);
    if (b < L->lo) return NULL;
    return &L->slots[ring_index(t, b)];
}

/* Grows the last level's width until time ts falls inside it. */
static void cover(tiers_t *t, uint64_t ts)
{
    if (ts < t->cover_end) return;
    tiers_level_t *L = &t->lv[t->o.levels - 1];
    while (ts / L->width >= t->o.bins && L->width <= UINT64_MAX / 2 / t->o.bins)
        tiers_coarsen(t);
    t->cover_end = L->width > UINT64_MAX / t->o.bins ? UINT64_MAX : L->width * t->o.bins;
}

void tiers_span(tiers_t *t, uint32_t row, uint64_t s, uint64_t e)
{
    if (e <= s || row >= t->nrows) return;
    cover(t, e - 1);
    uint64_t qs = s / t->o.fine_ns, qe = (e - 1) / t->o.fine_ns;
    for (uint32_t k = 0; k < t->o.levels; k++) {
        uint64_t w = t->lv[k].width;
        int64_t b0 = bin_at(t, k, s, qs), b1 = bin_at(t, k, e - 1, qe);
        if (is_last(t, k) && b1 >= (int64_t)t->o.bins) b1 = t->o.bins - 1;
        if (!is_last(t, k)) {
            advance(t, k, b1);
            if (b0 < t->lv[k].lo) b0 = t->lv[k].lo;
        }
        for (int64_t b = b0; b <= b1; b++) {
            tiers_slot_t *sl = slot_w(t, k, b);
            if (!sl) continue;
            uint64_t lo = (uint64_t)b * w, hi = bin_end(b, w);
            uint64_t ov = (e < hi ? e : hi) - (s > lo ? s : lo);
            uint32_t i = entry(t, k, sl, b, row); /* may move sl->c */
            tiers_cell_t *c = &sl->c[i];
            c->sum += (double)ov;
            c->count++;
        }
    }
}

void tiers_add(tiers_t *t, uint32_t row, uint64_t ts, double v)
{
    if (row >= t->nrows) return;
    cover(t, ts);
    uint64_t q = ts / t->o.fine_ns;
    for (uint32_t k = 0; k < t->o.levels; k++) {
        int64_t b = bin_at(t, k, ts, q);
        tiers_slot_t *sl = slot_w(t, k, b);
        if (!sl) continue;
        uint32_t i = entry(t, k, sl, b, row); /* may move sl->c */
        tiers_cell_t *c = &sl->c[i];
        c->sum += v;
        c->count++;
    }
}

void tiers_sample(tiers_t *t, uint32_t row, uint64_t ts, double v)
{
    if (row >= t->nrows || !t->gauge) return;
    cover(t, ts);
    uint64_t q = ts / t->o.fine_ns;
    for (uint32_t k = 0; k < t->o.levels; k++) {
        int64_t b = bin_at(t, k, ts, q);
        tiers_slot_t *sl = slot_w(t, k, b);
        if (!sl) continue;
        uint32_t i = entry(t, k, sl, b, row);
        tiers_cell_t *c = &sl->c[i];
        tiers_gauge_t *g = &sl->g[i];
        if (c->count == 0) {
            g->min = g->max = g->last = v;
            g->last_ts = ts;
        } else {
            if (v < g->min) g->min = v;
            if (v > g->max) g->max = v;
            if (ts >= g->last_ts) {
                g->last = v;
                g->last_ts = ts;
            }
        }
        c->sum += v;
        c->count++;
    }
}

size_t tiers_trim(tiers_t *t, uint32_t level, int64_t lo)
{
    if (level + 1 >= t->o.levels) return 0;
    tiers_level_t *L = &t->lv[level];
    if (lo > L->hi) lo = L->hi;
    if (!L->slots || lo <= L->lo) return 0;
    size_t before = L->mem;
    int64_t B = t->o.bins;
    for (int64_t b = lo - B > L->lo ? lo - B : L->lo; b < lo; b++) {
        tiers_slot_t *s = &L->slots[ring_index(t, b)];
        if (s->bin == b) free_slot(t, L, s);
    }
    L->lo = lo;
    return before - L->mem;
}

/* Folds the entries of `src` into `dst` (rows matched through t->scratch). */
static void merge_into(tiers_t *t, tiers_level_t *L, tiers_slot_t *dst, const tiers_slot_t *src)
{
    for (uint32_t i = 0; i < src->n; i++) {
        const tiers_cell_t *c = &src->c[i];
        uint32_t p = t->scratch[c->row];
        if (p == NONE) {
            if (dst->n == dst->cap) {
                uint32_t cap = dst->cap ? dst->cap * 2 : 4;
                dst->c = xrealloc(dst->c, cap * sizeof *dst->c);
                if (t->gauge) dst->g = xrealloc(dst->g, cap * sizeof *dst->g);
                mem_add(t, L, (cap - dst->cap) * entry_size(t));
                dst->cap = cap;
            }
            p = dst->n++;
            dst->c[p] = *c;
            if (t->gauge) dst->g[p] = src->g[i];
            t->scratch[c->row] = p;
            continue;
        }
        dst->c[p].sum += c->sum;
        dst->c[p].count += c->count;
        if (!t->gauge) continue;
        tiers_gauge_t *g = &dst->g[p];
        const tiers_gauge_t *h = &src->g[i];
        if (h->min < g->min) g->min = h->min;
        if (h->max > g->max) g->max = h->max;
        if (h->last_ts >= g->last_ts) {
            g->last = h->last;
            g->last_ts = h->last_ts;
        }
    }
}

void tiers_coarsen(tiers_t *t)
{
    uint32_t k = t->o.levels - 1, B = t->o.bins;
    tiers_level_t *L = &t->lv[k];
    ensure_slots(t, L);
    tiers_slot_t *old = L->slots;
    L->slots = xcalloc(B, sizeof *L->slots);
    for (uint32_t i = 0; i < B; i++)
        L->slots[i].bin = -1;
    for (uint32_t j = 0; j < B / 2; j++) {
        tiers_slot_t *d = &L->slots[j];
        merge_into(t, L, d, &old[2 * j]);
        merge_into(t, L, d, &old[2 * j + 1]);
        for (uint32_t i = 0; i < d->n; i++)
            t->scratch[d->c[i].row] = NONE;
        if (d->n) d->bin = j;
    }
    for (uint32_t i = 0; i < B; i++)
        free_slot(t, L, &old[i]);
    free(old);
    L->width *= 2;
    set_shift(t, k);
    t->cover_end = 0; /* cover() works it out again */
    L->hi = L->hi < 0 ? -1 : L->hi / 2;
    for (uint32_t r = 0; r < t->nrows; r++) {
        size_t ci = (size_t)r * t->o.levels + k;
        if (t->chi[ci] >= 0) t->chi[ci] /= 2;
        t->cpos[ci] = NONE;
    }
}

bool tiers_covers(const tiers_t *t, uint32_t level, uint64_t from)
{
    const tiers_level_t *L = &t->lv[level];
    if (is_last(t, level) || L->hi < L->lo) return true;
    return (uint64_t)L->lo <= from / L->width;
}

void tiers_pick(const tiers_t *t, uint64_t from, uint64_t to, uint32_t bins, int level,
                tiers_grid_t *g)
{
    uint64_t range = to - from, ideal = range / bins + (range % bins != 0);
    uint32_t k;
    if (level >= 0 && (uint32_t)level < t->o.levels) {
        k = (uint32_t)level;
    } else {
        int best = -1, finest = -1;
        for (uint32_t j = 0; j < t->o.levels; j++) {
            if (!tiers_covers(t, j, from)) continue;
            if (finest < 0) finest = (int)j;
            if (t->lv[j].width <= ideal) best = (int)j;
        }
        k = (uint32_t)(best >= 0 ? best : finest);
    }
    /* a fold must fit 32 bits: extreme ranges (timestamps near 2^64) take coarser levels */
    while (k + 1 < t->o.levels && ideal / t->lv[k].width >= UINT32_MAX / 2)
        k++;
    uint64_t w = t->lv[k].width;
    uint64_t fold = ideal / w + (ideal % w != 0);
    if (fold == 0) fold = 1;
    /* the widest grid: a 32-bit fold whose output bin width fits 64 bits */
    uint64_t max_fold = UINT64_MAX / w < UINT32_MAX ? UINT64_MAX / w : UINT32_MAX;
    for (;;) {
        if (fold > max_fold) fold = max_fold;
        uint64_t ow = fold * w, first = from / ow;
        uint64_t span = to - first * ow, n = span / ow + (span % ow != 0);
        if (n <= bins || fold == max_fold) {
            g->level = k;
            g->width = w;
            g->fold = (uint32_t)fold;
            g->first = (int64_t)(first * fold);
            g->n = (uint32_t)(n <= bins ? n : bins); /* (the widest grid ends before `to`) */
            return;
        }
        /* n is at most a few over bins: grow the fold by about one output bin's worth, not by
         * one level bin at a time (which took ~fold / bins rounds) */
        fold += fold / bins > 1 ? fold / bins : 1;
    }
}

const tiers_slot_t *tiers_slot(const tiers_t *t, uint32_t level, int64_t bin)
{
    const tiers_level_t *L = &t->lv[level];
    if (!L->slots || bin < 0) return NULL;
    if (is_last(t, level)) {
        if (bin >= (int64_t)t->o.bins) return NULL;
        return L->slots[bin].n ? &L->slots[bin] : NULL;
    }
    if (bin < L->lo || bin > L->hi) return NULL;
    const tiers_slot_t *s = &L->slots[bin % (int64_t)t->o.bins];
    return s->bin == bin && s->n ? s : NULL;
}

bool tiers_last_before(const tiers_t *t, uint32_t level, uint32_t row, int64_t bin, double *v)
{
    if (!t->gauge) return false;
    uint64_t T = (uint64_t)bin * t->lv[level].width, searched = T;
    for (uint32_t j = level; j < t->o.levels; j++) {
        const tiers_level_t *L = &t->lv[j];
        int64_t start = (int64_t)(T / L->width) - 1, lim = (int64_t)(searched / L->width);
        if (j > level && lim < start) start = lim;
        int64_t lo = is_last(t, j) ? 0 : L->lo, hi = is_last(t, j) ? (int64_t)t->o.bins - 1 : L->hi;
        if (start > hi) start = hi; /* only retained bins: a far-away `bin` costs nothing */
        for (int64_t b = start; b >= lo; b--) {
            const tiers_slot_t *s = tiers_slot(t, j, b);
            if (!s) continue;
            for (uint32_t i = 0; i < s->n; i++)
                if (s->c[i].row == row) {
                    *v = s->g[i].last;
                    return true;
                }
        }
        if (!is_last(t, j)) searched = (uint64_t)L->lo * L->width;
        if (searched == 0) break;
    }
    return false;
}
