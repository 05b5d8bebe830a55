/* The levels of one series: ring levels advance with the newest bin written and drop the oldest;
 * the last level folds pairs of bins when time outgrows it. Writes go to the finest level; a ring
 * level's newest bin is folded into the next level when the level moves on (so coarse levels
 * cost one fold per bin and row, not one write per event), and readers see the newest bins
 * folded in on the fly through a scratch bin. A per-row cache of the newest entry on each level
 * makes the usual update (the row's newest bin) one indexed access. */
#include "tiers.h"

#include "err.h"
#include "xmalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

/* The readers' scratch bin (see tiers_slot). */
typedef struct tiers_view {
    tiers_slot_t s;
    uint32_t *ix; /* per row: its entry in s, or NONE */
    size_t ix_cap;
} tiers_view_t;

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

/* The bin of time ts on level k, given q = ts / fine_ns (by fine_div's multiplication): one
 * division per update instead of one per level, as the widths are the finest width times powers
 * of two. */
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
    t->view = xcalloc(1, sizeof *t->view);
    udiv_init(&t->fine_div, o->fine_ns);
    uint64_t w = o->fine_ns;
    for (uint32_t k = 0; k < o->levels; k++) {
        t->lv[k].width = w;
        t->lv[k].lo = 0;
        t->lv[k].hi = -1;
        set_shift(t, k);
        if (w <= UINT64_MAX / TIERS_FACTOR) w *= TIERS_FACTOR;
    }
}

/* ---- cell arrays ------------------------------------------------------------------------ */

/* The spare list of arrays of cap entries, or -1 when cap is not 4 << k. */
static int spare_class(uint32_t cap)
{
    if (cap < 4 || (cap & (cap - 1))) return -1;
    int k = __builtin_ctz(cap) - 2;
    return k < TIERS_SPARE_CLASSES ? k : -1;
}

/* Frees spare arrays, the largest first, until the spares hold at most `keep` bytes. */
static void spares_cut(tiers_spares_t *sp, size_t keep)
{
    for (int k = TIERS_SPARE_CLASSES - 1; k >= 0 && sp->bytes > keep; k--)
        for (int gauge = 0; gauge < 2 && sp->bytes > keep; gauge++) {
            void **list = gauge ? &sp->gauges[k] : &sp->cells[k];
            size_t size =
                (size_t)(4u << k) * (gauge ? sizeof(tiers_gauge_t) : sizeof(tiers_cell_t));
            while (*list && sp->bytes > keep) {
                void *p = *list;
                memcpy(list, p, sizeof p); /* a spare array's first bytes link the list */
                free(p);
                sp->bytes -= size;
            }
        }
}

/* Shrinks t's spares until they and the storages' bytes are within the spares' bound again. */
static void spares_fit(tiers_t *t)
{
    tiers_spares_t *sp = t->spares;
    size_t held = t->mem_total ? *t->mem_total : t->mem;
    if (sp && sp->bytes && held + sp->bytes > sp->max_bytes)
        spares_cut(sp, held < sp->max_bytes ? sp->max_bytes - held : 0);
}

/* An array of cap entries of `size` bytes (gauge extras or cells): a spare one, or a new one (the
 * spares shrinking to leave it room under their bound). */
static void *arr_take(tiers_t *t, bool gauge, uint32_t cap, size_t size)
{
    tiers_spares_t *sp = t->spares;
    if (!sp) return xmalloc(cap * size);
    int k = spare_class(cap);
    void **list = k < 0 ? NULL : gauge ? &sp->gauges[k] : &sp->cells[k];
    if (list && *list) {
        void *p = *list;
        memcpy(list, p, sizeof p);
        /* the link to the next spare is in its first bytes, long out of the cache: fetched now,
         * it is there for the next take (reading it then stalled every growth of a bin) */
        if (*list) __builtin_prefetch(*list);
        sp->bytes -= cap * size;
        return p;
    }
    spares_fit(t);
    return xmalloc(cap * size);
}

/* Lets array p of cap entries go: to the spares while there is room under their bound for it,
 * else back to malloc. */
static void arr_give(tiers_t *t, bool gauge, void *p, uint32_t cap, size_t size)
{
    if (!p) return;
    tiers_spares_t *sp = t->spares;
    int k = spare_class(cap);
    size_t held = sp ? (t->mem_total ? *t->mem_total : t->mem) + sp->bytes : 0;
    if (!sp || k < 0 || held + cap * size > sp->max_bytes) {
        free(p);
        return;
    }
    void **list = gauge ? &sp->gauges[k] : &sp->cells[k];
    memcpy(p, list, sizeof *list);
    *list = p;
    sp->bytes += cap * size;
}

/* Slot s's arrays grown to cap entries (its n entries kept). */
static void slot_grow(tiers_t *t, tiers_slot_t *s, uint32_t cap)
{
    tiers_cell_t *c = arr_take(t, false, cap, sizeof *c);
    if (s->n) memcpy(c, s->c, s->n * sizeof *c);
    arr_give(t, false, s->c, s->cap, sizeof *c);
    s->c = c;
    if (t->gauge) {
        tiers_gauge_t *g = arr_take(t, true, cap, sizeof *g);
        if (s->n) memcpy(g, s->g, s->n * sizeof *g);
        arr_give(t, true, s->g, s->cap, sizeof *g);
        s->g = g;
    }
    s->cap = cap;
}

void tiers_use_spares(tiers_t *t, tiers_spares_t *sp)
{
    t->spares = sp;
}

void tiers_spares_dispose(tiers_spares_t *sp)
{
    spares_cut(sp, 0);
}

static void free_slot(tiers_t *t, tiers_level_t *L, tiers_slot_t *s)
{
    if (s->cap) mem_sub(t, L, s->cap * entry_size(t));
    arr_give(t, false, s->c, s->cap, sizeof *s->c);
    arr_give(t, true, s->g, s->cap, sizeof *s->g);
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
        for (uint32_t i = 0; i < L->cap; i++)
            free_slot(t, L, &L->slots[i]);
        mem_sub(t, L, L->cap * sizeof *L->slots);
        free(L->slots);
        L->slots = NULL;
        L->cap = 0;
    }
    free(t->newest);
    free(t->scratch);
    if (t->view) {
        free(t->view->s.c);
        free(t->view->s.g);
        free(t->view->ix);
        free(t->view);
        t->view = NULL;
    }
    t->newest = NULL;
    t->scratch = NULL;
    t->nrows = t->rows_cap = 0;
}

void tiers_rows(tiers_t *t, uint32_t n)
{
    if (n <= t->nrows) return;
    if (n > t->rows_cap) {
        size_t cap = t->rows_cap, L = t->o.levels;
        xgrow((void **)&t->scratch, &cap, n, sizeof *t->scratch);
        t->newest = xrealloc(t->newest, cap * L * sizeof *t->newest);
        t->rows_cap = (uint32_t)cap;
    }
    for (uint32_t r = t->nrows; r < n; r++) {
        t->scratch[r] = NONE;
        for (uint32_t k = 0; k < t->o.levels; k++) {
            t->newest[(size_t)r * t->o.levels + k] = (tiers_newest_t){-1, NONE};
        }
    }
    t->nrows = n;
}

/* The slot of bin b (b >= 0) of ring level L: a mask when its slot count is a power of two. */
static inline uint32_t ring_index(const tiers_level_t *L, int64_t b)
{
    uint32_t C = L->cap;
    return (C & (C - 1)) == 0 ? (uint32_t)b & (C - 1) : (uint32_t)(b % (int64_t)C);
}

/* Grows level L's slots to hold `need` bins at once (1 <= need <= bins): for a ring level, any
 * `need` consecutive bins in distinct slots; for the last level, bins 0 .. need - 1 at their
 * index. Slot counts go 16, 32, ... and end at `bins`. A ring level's bins move to their new
 * slots; of two that meet, the one outside [lo, hi] (a dropped bin kept for its arrays) goes. */
static void grow_slots(tiers_t *t, tiers_level_t *L, uint32_t need, bool last)
{
    uint32_t B = t->o.bins, cap = L->cap ? L->cap : 16;
    while (cap < need && cap < B)
        cap = cap <= B / 2 ? cap * 2 : B;
    if (cap > B) cap = B;
    if (cap <= L->cap) return;
    tiers_slot_t *old = L->slots;
    uint32_t n = L->cap;
    L->slots = xcalloc(cap, sizeof *L->slots);
    L->cap = cap;
    for (uint32_t i = 0; i < cap; i++)
        L->slots[i].bin = -1;
    mem_add(t, L, (cap - n) * sizeof *L->slots);
    spares_fit(t); /* the spares shrink to leave the slots room */
    for (uint32_t i = 0; i < n; i++) {
        tiers_slot_t *o = &old[i];
        if (last) {
            L->slots[i] = *o;
            continue;
        }
        if (o->bin < 0) continue; /* never used: holds nothing */
        tiers_slot_t *d = &L->slots[ring_index(L, o->bin)];
        if (d->bin >= 0) { /* at most one of the two is in [lo, hi] */
            bool keep_d = d->bin >= L->lo && d->bin <= L->hi;
            free_slot(t, L, keep_d ? o : d);
            if (keep_d) continue;
        }
        *d = *o;
    }
    free(old);
}

static inline void ensure_slots(tiers_t *t, tiers_level_t *L, int64_t need, bool last)
{
    if (need > (int64_t)L->cap) grow_slots(t, L, (uint32_t)need, last);
}

static void fold_up(tiers_t *t, uint32_t k, int64_t b);

/* Ring level k: makes b the newest bin if it is newer, folding the newest bin so far into the next
 * level and recycling the slots of dropped bins. */
static inline void advance(tiers_t *t, uint32_t k, int64_t b)
{
    tiers_level_t *L = &t->lv[k];
    if (b <= L->hi) return; /* hi >= 0: its slots exist */
    int64_t B = t->o.bins, from = L->hi + 1;
    /* room for every bin retained from here on, [max(lo, b - B + 1), b], before any moves */
    ensure_slots(t, L, b - (L->lo > b - B + 1 ? L->lo : b - B + 1) + 1, false);
    if (L->hi >= 0 && L->hi >= L->lo) fold_up(t, k, L->hi);
    if (from < b - B + 1) from = b - B + 1;
    if (from < 0) from = 0;
    for (int64_t nb = from; nb <= b; nb++) {
        tiers_slot_t *s = &L->slots[ring_index(L, nb)];
        s->n = 0;
        s->bin = nb;
    }
    L->hi = b;
    if (L->lo < b - B + 1) L->lo = b - B + 1;
}

/* The entry of `row` in slot s (bin b of level k), appended when absent. */
static inline uint32_t entry(tiers_t *t, uint32_t k, tiers_slot_t *s, int64_t b, uint32_t row)
{
    tiers_newest_t *nw = &t->newest[(size_t)row * t->o.levels + k];
    int64_t hi = nw->bin;
    if (b == hi) {
        uint32_t p = nw->pos;
        if (p < s->n && s->c[p].row == row) return p;
    }
    if (b <= hi)
        for (uint32_t i = 0; i < s->n; i++)
            if (s->c[i].row == row) {
                if (b == hi) nw->pos = i;
                return i;
            }
    if (s->n == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 4;
        mem_add(t, &t->lv[k], (cap - s->cap) * entry_size(t));
        slot_grow(t, s, cap);
    }
    uint32_t i = s->n++;
    s->c[i] = (tiers_cell_t){.row = row};
    if (t->gauge) s->g[i] = (tiers_gauge_t){0};
    s->bin = b;
    if (b >= hi) {
        nw->bin = b;
        nw->pos = i;
    }
    return i;
}

/* Adds a cell's data into entry i of slot sl: sum and count, and for gauges the extremes and the
 * latest sample (g). */
static inline void cell_add(tiers_t *t, tiers_slot_t *sl, uint32_t i, double sum, uint32_t count,
                            const tiers_gauge_t *g)
{
    tiers_cell_t *c = &sl->c[i];
    if (t->gauge) {
        tiers_gauge_t *d = &sl->g[i];
        if (c->count == 0) {
            *d = *g;
        } else {
            if (g->min < d->min) d->min = g->min;
            if (g->max > d->max) d->max = g->max;
            if (g->last_ts >= d->last_ts) {
                d->last = g->last;
                d->last_ts = g->last_ts;
            }
        }
    }
    c->sum += sum;
    c->count += count;
}

/* Adds a cell's data for `row` at time ts to level k and, while the bin it lands in was folded on
 * already (or dropped), to the coarser levels too; the newest bin of a ring level keeps it until
 * it is folded. */
static void put(tiers_t *t, uint32_t k, uint64_t ts, uint32_t row, double sum, uint32_t count,
                const tiers_gauge_t *g)
{
    uint64_t q = udiv_apply(&t->fine_div, ts);
    for (;; k++) {
        tiers_level_t *L = &t->lv[k];
        int64_t b = bin_at(t, k, ts, q);
        if (is_last(t, k)) {
            if (b >= (int64_t)t->o.bins) b = t->o.bins - 1; /* width cannot grow further */
            ensure_slots(t, L, b + 1, true);
            if (b > L->hi) L->hi = b;
            tiers_slot_t *sl = &L->slots[b];
            cell_add(t, sl, entry(t, k, sl, b, row), sum, count, g);
            return;
        }
        advance(t, k, b);
        if (b >= L->lo) {
            tiers_slot_t *sl = &L->slots[ring_index(L, b)];
            cell_add(t, sl, entry(t, k, sl, b, row), sum, count, g);
        }
        if (b >= L->hi) return;
    }
}

/* Folds bin b (the newest so far) of ring level k into level k + 1. */
static void fold_up(tiers_t *t, uint32_t k, int64_t b)
{
    tiers_level_t *L = &t->lv[k];
    tiers_slot_t *sl = &L->slots[ring_index(L, b)];
    if (sl->bin != b) return;
    uint64_t ts = (uint64_t)b * L->width;
    for (uint32_t i = 0; i < sl->n; i++) {
        tiers_gauge_t g = t->gauge ? sl->g[i] : (tiers_gauge_t){0};
        put(t, k + 1, ts, sl->c[i].row, sl->c[i].sum, sl->c[i].count, &g);
    }
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

/* What a write at time ts does to every level's extent: the ring levels move on to ts's bin
 * (folding their newest bins on), the last level grows to cover it. */
static inline void reach(tiers_t *t, uint64_t ts)
{
    if (ts < t->reach_end) return; /* inside every level's newest bin: nothing moves */
    cover(t, ts);
    uint64_t q = udiv_apply(&t->fine_div, ts);
    uint32_t last = t->o.levels - 1;
    for (uint32_t k = 0; k < last; k++)
        advance(t, k, bin_at(t, k, ts, q));
    tiers_level_t *L = &t->lv[last];
    int64_t b = bin_at(t, last, ts, q);
    if (b >= (int64_t)t->o.bins) b = t->o.bins - 1;
    ensure_slots(t, L, b + 1, true);
    if (b > L->hi) L->hi = b;
    /* every level's newest bin holds ts now: the first end among them (and the last level's
     * cover) bounds the writes that need none of the above */
    uint64_t end = t->cover_end;
    for (uint32_t k = 0; k <= last; k++) {
        uint64_t e = bin_end(t->lv[k].hi, t->lv[k].width);
        if (e < end) end = e;
    }
    t->reach_end = end;
}

void tiers_span(tiers_t *t, uint32_t row, uint64_t s, uint64_t e)
{
    if (e <= s || row >= t->nrows) return;
    reach(t, e - 1);
    uint64_t qs = udiv_apply(&t->fine_div, s),
             qe = udiv_apply(&t->fine_div, e - 1); /* (see bin_at) */
    for (uint32_t k = 0;; k++) {
        tiers_level_t *L = &t->lv[k];
        uint64_t w = L->width;
        int64_t b0 = bin_at(t, k, s, qs);
        int64_t b1 = bin_at(t, k, e - 1, qe);
        bool last = is_last(t, k);
        if (last && b1 >= (int64_t)t->o.bins) b1 = t->o.bins - 1;
        if (!last && b0 < L->lo) b0 = L->lo;
        for (int64_t b = b0; b <= b1; b++) {
            tiers_slot_t *sl = last ? &L->slots[b] : &L->slots[ring_index(L, b)];
            uint64_t lo = (uint64_t)b * w, hi = bin_end(b, w);
            uint64_t ov = (e < hi ? e : hi) - (s > lo ? s : lo);
            uint32_t i = entry(t, k, sl, b, row); /* may move sl->c */
            tiers_cell_t *c = &sl->c[i];
            c->sum += (double)ov;
            c->count++;
        }
        if (last) return;
        /* the part before this level's newest bin is folded on already: the next level gets it
         * too (the newest bin's part follows when it is folded) */
        uint64_t newest = (uint64_t)L->hi * w;
        if (s >= newest) return;
        if (e > newest) {
            e = newest;
            qe = udiv_apply(&t->fine_div, e - 1);
        }
    }
}

void tiers_add(tiers_t *t, uint32_t row, uint64_t ts, double v)
{
    if (row >= t->nrows) return;
    reach(t, ts);
    tiers_gauge_t g = {0};
    put(t, 0, ts, row, v, 1, &g);
}

void tiers_sample(tiers_t *t, uint32_t row, uint64_t ts, double v)
{
    if (row >= t->nrows || !t->gauge) return;
    reach(t, ts);
    tiers_gauge_t g = {.min = v, .max = v, .last = v, .last_ts = ts};
    put(t, 0, ts, row, v, 1, &g);
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
        tiers_slot_t *s = &L->slots[ring_index(L, b)];
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
                mem_add(t, L, (cap - dst->cap) * entry_size(t));
                slot_grow(t, dst, cap);
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
    uint32_t k = t->o.levels - 1;
    tiers_level_t *L = &t->lv[k];
    ensure_slots(t, L, 1, true);
    uint32_t B = L->cap; /* the bins in use, and as many slots for them (an even count) */
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
    t->reach_end = 0;
    L->hi = L->hi < 0 ? -1 : L->hi / 2;
    for (uint32_t r = 0; r < t->nrows; r++) {
        tiers_newest_t *nw = &t->newest[(size_t)r * t->o.levels + k];
        if (nw->bin >= 0) nw->bin /= 2;
        nw->pos = NONE;
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

/* The bin as stored on its level (without the finer levels' newest bins). */
const tiers_slot_t *tiers_stored(const tiers_t *t, uint32_t level, int64_t bin)
{
    const tiers_level_t *L = &t->lv[level];
    if (!L->slots || bin < 0) return NULL;
    if (is_last(t, level)) {
        if (bin >= (int64_t)L->cap) return NULL;
        return L->slots[bin].n ? &L->slots[bin] : NULL;
    }
    if (bin < L->lo || bin > L->hi) return NULL;
    const tiers_slot_t *s = &L->slots[ring_index(L, bin)];
    return s->bin == bin && s->n ? s : NULL;
}

/* Folds the entries of `src` into the view (rows matched through v->ix). */
static void view_merge(const tiers_t *t, tiers_view_t *v, const tiers_slot_t *src)
{
    tiers_slot_t *d = &v->s;
    for (uint32_t i = 0; i < src->n; i++) {
        const tiers_cell_t *c = &src->c[i];
        uint32_t p = v->ix[c->row];
        if (p == NONE) {
            if (d->n == d->cap) {
                d->cap = d->cap ? d->cap * 2 : 64;
                d->c = xrealloc(d->c, d->cap * sizeof *d->c);
                if (t->gauge) d->g = xrealloc(d->g, d->cap * sizeof *d->g);
            }
            p = v->ix[c->row] = d->n++;
            d->c[p] = (tiers_cell_t){.row = c->row};
        }
        tiers_gauge_t g = t->gauge ? src->g[i] : (tiers_gauge_t){0};
        tiers_cell_t *x = &d->c[p];
        if (t->gauge) {
            tiers_gauge_t *y = &d->g[p];
            if (x->count == 0) {
                *y = g;
            } else {
                if (g.min < y->min) y->min = g.min;
                if (g.max > y->max) y->max = g.max;
                if (g.last_ts >= y->last_ts) {
                    y->last = g.last;
                    y->last_ts = g.last_ts;
                }
            }
        }
        x->sum += c->sum;
        x->count += c->count;
    }
}

const tiers_slot_t *tiers_slot(const tiers_t *t, uint32_t level, int64_t bin)
{
    const tiers_slot_t *st = tiers_stored(t, level, bin);
    if (level == 0 || !t->view || bin < 0) return st;
    /* the newest bins of the finer levels that lie in this one are not folded in yet */
    const tiers_slot_t *pend[TIERS_MAX_LEVELS];
    uint32_t np = 0;
    uint64_t w = t->lv[level].width;
    for (uint32_t j = 0; j < level; j++) {
        const tiers_level_t *L = &t->lv[j];
        if (!L->slots || L->hi < 0 || L->hi < L->lo) continue;
        const tiers_slot_t *p = &L->slots[ring_index(L, L->hi)];
        if (p->bin != L->hi || p->n == 0) continue;
        int64_t b = (int64_t)((uint64_t)L->hi * L->width / w);
        if (is_last(t, level) && b >= (int64_t)t->o.bins) b = t->o.bins - 1;
        if (b == bin) pend[np++] = p;
    }
    if (np == 0) return st;
    tiers_view_t *v = t->view;
    if (v->ix_cap < t->nrows) {
        v->ix = xrealloc(v->ix, t->nrows * sizeof *v->ix);
        for (size_t r = v->ix_cap; r < t->nrows; r++)
            v->ix[r] = NONE;
        v->ix_cap = t->nrows;
    }
    v->s.n = 0;
    v->s.bin = bin;
    if (st) view_merge(t, v, st);
    for (uint32_t j = 0; j < np; j++)
        view_merge(t, v, pend[j]);
    for (uint32_t i = 0; i < v->s.n; i++)
        v->ix[v->s.c[i].row] = NONE;
    return v->s.n ? &v->s : NULL;
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

/* ---- restoring from a snapshot ------------------------------------------------------------ */

int tiers_load_level(tiers_t *t, uint32_t k, uint64_t width, int64_t lo, int64_t hi,
                     uint64_t cover_end)
{
    if (k >= t->o.levels) return LP_ECORRUPT;
    tiers_level_t *L = &t->lv[k];
    uint64_t B = t->o.bins;
    if (!is_last(t, k)) {
        bool empty = hi < lo && lo >= 0 && hi >= -1;
        /* hi >= lo >= 0 first: hi - lo cannot overflow then */
        bool held = lo >= 0 && hi >= lo && hi - lo < (int64_t)B;
        if (width != L->width || !(empty || held)) return LP_ECORRUPT;
    } else {
        uint64_t w = L->width; /* the width tiers_init gave it, doubled by each coarsening */
        while (w < width && w <= UINT64_MAX / 2 / B)
            w *= 2;
        if (w != width || lo != 0 || hi < -1 || hi >= (int64_t)B) return LP_ECORRUPT;
        if (cover_end != 0 && cover_end != (width > UINT64_MAX / B ? UINT64_MAX : width * B))
            return LP_ECORRUPT;
        t->cover_end = cover_end;
    }
    L->width = width;
    L->lo = lo;
    L->hi = hi;
    t->reach_end = 0;
    set_shift(t, k);
    if (hi >= 0) ensure_slots(t, L, is_last(t, k) ? hi + 1 : hi - lo + 1, is_last(t, k));
    return 0;
}

int tiers_load_bin(tiers_t *t, uint32_t k, int64_t bin, tiers_cell_t *c, tiers_gauge_t *g,
                   uint32_t n)
{
    if (k >= t->o.levels || n == 0 || (g != NULL) != t->gauge) return LP_ECORRUPT;
    tiers_level_t *L = &t->lv[k];
    if (!L->slots || bin < L->lo || bin > L->hi) return LP_ECORRUPT;
    tiers_slot_t *s = &L->slots[is_last(t, k) ? (uint32_t)bin : ring_index(L, bin)];
    if (s->bin != -1 || s->n) return LP_ECORRUPT; /* a bin given twice */
    for (uint32_t i = 0; i < n; i++)
        if (c[i].row >= t->nrows) return LP_ECORRUPT;
    s->bin = bin;
    s->c = c;
    s->g = g;
    s->n = s->cap = n;
    mem_add(t, L, n * entry_size(t));
    for (uint32_t i = 0; i < n; i++) { /* the newest entry of each row, as writes keep it */
        tiers_newest_t *nw = &t->newest[(size_t)c[i].row * t->o.levels + k];
        if (bin >= nw->bin) {
            nw->bin = bin;
            nw->pos = i;
        }
    }
    return 0;
}
