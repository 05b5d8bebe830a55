/* The Aggr table of proto/snapshot.fbs <-> snapshot_aggr_t (lib/snapshot_aggr.h). Field ids
 * follow the schema's declaration order. Reading charges every element against a budget of the
 * buffer's bytes, so a buffer whose offsets point many times at the same vector cannot make the
 * decoder allocate more than a small multiple of its own size. */
#include "snapshot_aggr.h"

#include "err.h"
#include "xmalloc.h"

#include <stdlib.h>
#include <string.h>

enum { BN_BIN, BN_CELLS, BN_GAUGES, BN_N };
enum { LV_WIDTH, LV_LO, LV_HI, LV_BINS, LV_N };
enum {
    RW_NAME,
    RW_KEY,
    RW_SUB,
    RW_KIND,
    RW_FINISHED,
    RW_COUNT,
    RW_OPEN_START,
    RW_LAB_LEN,
    RW_LIFE_FROM,
    RW_LIFE_TO,
    RW_ERA,
    RW_LAST,
    RW_N
};
enum { SS_ROWS, SS_OPEN, SS_COVER_END, SS_LEVELS, SS_N };
enum { CP_SEEN, CP_ALIVE, CP_RUNNING, CP_GC, CP_STATE, CP_SINCE, CP_ALIVE_FROM, CP_ROW0, CP_N };
enum { CT_SPARK_SET, CT_ALLOC_SET, CT_SPARK_TS, CT_ALLOC_TS, CT_SPARK, CT_ALLOC, CT_N };
enum {
    AG_FINE_NS,
    AG_BINS,
    AG_TIERS,
    AG_MAX_MEMORY,
    AG_MAX_ROWS,
    AG_HP_TOP,
    AG_START,
    AG_STOP,
    AG_SERIES,
    AG_CAPS,
    AG_COUNTERS,
    AG_SPARK_TOTAL,
    AG_ALLOC_TOTAL,
    AG_GC_COUNT,
    AG_GC_START,
    AG_HP_OPEN,
    AG_HP_ERA,
    AG_ANY,
    AG_FIRST,
    AG_NOW,
    AG_EVENTS,
    AG_LATE,
    AG_N
};

#define CELL_BYTES 16  /* struct Cell */
#define GAUGE_BYTES 32 /* struct Gauge */

/* ---- writing ----------------------------------------------------------------------------------
 */

static void le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t f64_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

static void str_at(flatb_t *f, size_t slot, const char *s)
{
    flatb_patch(f, slot, flatb_string(f, s ? s : "", s ? strlen(s) : 0));
}

/* Scratch bytes for struct vectors. */
typedef struct scratch {
    uint8_t *b;
    size_t cap;
} scratch_t;

static uint8_t *scratch_get(scratch_t *s, size_t n)
{
    if (n > s->cap) s->b = xrealloc(s->b, s->cap = n);
    return s->b;
}

static void put_bin(flatb_t *f, size_t slot, const snapshot_bin_t *b, scratch_t *sc)
{
    flatb_table_t t;
    flatb_table_begin(&t, BN_N);
    flatb_scalar(&t, BN_BIN, 8, (uint64_t)b->bin);
    flatb_offset(&t, BN_CELLS);
    if (b->gauges) flatb_offset(&t, BN_GAUGES);
    flatb_patch(f, slot, flatb_table_end(f, &t));
    uint8_t *p = scratch_get(sc, (size_t)b->n * CELL_BYTES + 1);
    for (uint32_t i = 0; i < b->n; i++) {
        le(p + CELL_BYTES * i, b->cells[i].row, 4);
        le(p + CELL_BYTES * i + 4, b->cells[i].count, 4);
        le(p + CELL_BYTES * i + 8, f64_bits(b->cells[i].sum), 8);
    }
    flatb_patch(f, t.pos[BN_CELLS], flatb_vec_scalars(f, p, b->n, CELL_BYTES));
    if (!b->gauges) return;
    p = scratch_get(sc, (size_t)b->n * GAUGE_BYTES + 1);
    for (uint32_t i = 0; i < b->n; i++) {
        const snapshot_gauge_t *g = &b->gauges[i];
        le(p + GAUGE_BYTES * i, f64_bits(g->min), 8);
        le(p + GAUGE_BYTES * i + 8, f64_bits(g->max), 8);
        le(p + GAUGE_BYTES * i + 16, f64_bits(g->last), 8);
        le(p + GAUGE_BYTES * i + 24, g->last_ts, 8);
    }
    flatb_patch(f, t.pos[BN_GAUGES], flatb_vec_scalars(f, p, b->n, GAUGE_BYTES));
}

static void put_level(flatb_t *f, size_t slot, const snapshot_level_t *L, scratch_t *sc)
{
    flatb_table_t t;
    flatb_table_begin(&t, LV_N);
    flatb_scalar(&t, LV_WIDTH, 8, L->width);
    flatb_scalar(&t, LV_LO, 8, (uint64_t)L->lo);
    flatb_scalar(&t, LV_HI, 8, (uint64_t)L->hi);
    flatb_offset(&t, LV_BINS);
    flatb_patch(f, slot, flatb_table_end(f, &t));
    size_t slots;
    flatb_patch(f, t.pos[LV_BINS], flatb_vec_offsets(f, L->nbins, &slots));
    for (size_t i = 0; i < L->nbins; i++)
        put_bin(f, slots + 4 * i, &L->bins[i], sc);
}

static void put_row(flatb_t *f, size_t slot, const snapshot_arow_t *r)
{
    flatb_table_t t;
    flatb_table_begin(&t, RW_N);
    flatb_offset(&t, RW_NAME);
    flatb_scalar(&t, RW_KEY, 4, r->key);
    flatb_scalar(&t, RW_SUB, 8, (uint64_t)r->sub);
    flatb_scalar(&t, RW_KIND, 1, r->kind);
    flatb_scalar(&t, RW_FINISHED, 1, r->finished);
    flatb_scalar(&t, RW_COUNT, 4, r->count);
    flatb_scalar(&t, RW_OPEN_START, 8, r->open_start);
    flatb_scalar(&t, RW_LAB_LEN, 4, r->lab_len);
    flatb_scalar(&t, RW_LIFE_FROM, 8, r->life_from);
    flatb_scalar(&t, RW_LIFE_TO, 8, r->life_to);
    flatb_scalar(&t, RW_ERA, 8, r->era);
    flatb_f64(&t, RW_LAST, r->last);
    flatb_patch(f, slot, flatb_table_end(f, &t));
    str_at(f, t.pos[RW_NAME], r->name);
}

static void put_series(flatb_t *f, size_t slot, const snapshot_aseries_t *s, scratch_t *sc)
{
    flatb_table_t t;
    flatb_table_begin(&t, SS_N);
    flatb_offset(&t, SS_ROWS);
    flatb_offset(&t, SS_OPEN);
    flatb_scalar(&t, SS_COVER_END, 8, s->cover_end);
    flatb_offset(&t, SS_LEVELS);
    flatb_patch(f, slot, flatb_table_end(f, &t));
    size_t slots;
    flatb_patch(f, t.pos[SS_ROWS], flatb_vec_offsets(f, s->nrows, &slots));
    for (size_t i = 0; i < s->nrows; i++)
        put_row(f, slots + 4 * i, &s->rows[i]);
    uint8_t *p = scratch_get(sc, s->nopen * 4 + 1);
    for (size_t i = 0; i < s->nopen; i++)
        le(p + 4 * i, s->open[i], 4);
    flatb_patch(f, t.pos[SS_OPEN], flatb_vec_scalars(f, p, s->nopen, 4));
    flatb_patch(f, t.pos[SS_LEVELS], flatb_vec_offsets(f, s->nlevels, &slots));
    for (size_t i = 0; i < s->nlevels; i++)
        put_level(f, slots + 4 * i, &s->levels[i], sc);
}

static size_t put_u64s(flatb_t *f, const uint64_t *v, size_t n)
{
    uint8_t b[8 * SNAPSHOT_SPARKS];
    for (size_t i = 0; i < n; i++)
        le(b + 8 * i, v[i], 8);
    return flatb_vec_scalars(f, b, n, 8);
}

void snapshot_aggr_put(flatb_t *f, size_t slot, const snapshot_aggr_t *a)
{
    flatb_table_t t;
    flatb_table_begin(&t, AG_N);
    flatb_scalar(&t, AG_FINE_NS, 8, a->fine_ns);
    flatb_scalar(&t, AG_BINS, 4, a->bins_per_tier);
    flatb_scalar(&t, AG_TIERS, 4, a->tiers);
    flatb_scalar(&t, AG_MAX_MEMORY, 8, a->max_memory);
    flatb_scalar(&t, AG_MAX_ROWS, 4, a->max_rows);
    flatb_scalar(&t, AG_HP_TOP, 4, a->heapprof_top);
    flatb_offset(&t, AG_START);
    flatb_offset(&t, AG_STOP);
    flatb_offset(&t, AG_SERIES);
    flatb_offset(&t, AG_CAPS);
    flatb_offset(&t, AG_COUNTERS);
    flatb_offset(&t, AG_SPARK_TOTAL);
    flatb_scalar(&t, AG_ALLOC_TOTAL, 8, a->alloc_total);
    flatb_scalar(&t, AG_GC_COUNT, 4, a->gc_count);
    flatb_scalar(&t, AG_GC_START, 8, a->gc_start);
    flatb_scalar(&t, AG_HP_OPEN, 1, a->hp_open);
    flatb_scalar(&t, AG_HP_ERA, 8, a->hp_era);
    flatb_scalar(&t, AG_ANY, 1, a->any);
    flatb_scalar(&t, AG_FIRST, 8, a->first);
    flatb_scalar(&t, AG_NOW, 8, a->now);
    flatb_scalar(&t, AG_EVENTS, 8, a->events);
    flatb_scalar(&t, AG_LATE, 8, a->late);
    flatb_patch(f, slot, flatb_table_end(f, &t));
    str_at(f, t.pos[AG_START], a->start_prefix);
    str_at(f, t.pos[AG_STOP], a->stop_prefix);
    scratch_t sc = {0};
    size_t slots;
    flatb_patch(f, t.pos[AG_SERIES], flatb_vec_offsets(f, a->nseries, &slots));
    for (size_t i = 0; i < a->nseries; i++)
        put_series(f, slots + 4 * i, &a->series[i], &sc);
    free(sc.b);
    flatb_patch(f, t.pos[AG_CAPS], flatb_vec_offsets(f, a->ncaps, &slots));
    for (size_t i = 0; i < a->ncaps; i++) {
        const snapshot_cap_t *c = &a->caps[i];
        flatb_table_t r;
        flatb_table_begin(&r, CP_N);
        flatb_scalar(&r, CP_SEEN, 1, c->seen);
        flatb_scalar(&r, CP_ALIVE, 1, c->alive);
        flatb_scalar(&r, CP_RUNNING, 1, c->running);
        flatb_scalar(&r, CP_GC, 1, c->gc);
        flatb_scalar(&r, CP_STATE, 1, c->state);
        flatb_scalar(&r, CP_SINCE, 8, c->since);
        flatb_scalar(&r, CP_ALIVE_FROM, 8, c->alive_from);
        flatb_scalar(&r, CP_ROW0, 4, c->row0);
        flatb_patch(f, slots + 4 * i, flatb_table_end(f, &r));
    }
    flatb_patch(f, t.pos[AG_COUNTERS], flatb_vec_offsets(f, a->nctrs, &slots));
    for (size_t i = 0; i < a->nctrs; i++) {
        const snapshot_ctr_t *c = &a->ctrs[i];
        flatb_table_t r;
        flatb_table_begin(&r, CT_N);
        flatb_scalar(&r, CT_SPARK_SET, 1, c->spark_set);
        flatb_scalar(&r, CT_ALLOC_SET, 1, c->alloc_set);
        flatb_scalar(&r, CT_SPARK_TS, 8, c->spark_ts);
        flatb_scalar(&r, CT_ALLOC_TS, 8, c->alloc_ts);
        flatb_offset(&r, CT_SPARK);
        flatb_scalar(&r, CT_ALLOC, 8, c->alloc);
        flatb_patch(f, slots + 4 * i, flatb_table_end(f, &r));
        flatb_patch(f, r.pos[CT_SPARK], put_u64s(f, c->spark, SNAPSHOT_SPARKS));
    }
    flatb_patch(f, t.pos[AG_SPARK_TOTAL], put_u64s(f, a->spark_total, SNAPSHOT_SPARKS));
}

/* ---- reading ----------------------------------------------------------------------------------
 */

typedef struct dec {
    size_t budget; /* element bytes still allowed */
} dec_t;

static uint64_t rd(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static double rd_f64(const uint8_t *p)
{
    uint64_t u = rd(p, 8);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* Charges n elements of `elem` bytes; false when the budget is spent. */
static bool charge(dec_t *d, size_t n, size_t elem)
{
    if (n > d->budget / elem) return false;
    d->budget -= n * elem;
    return true;
}

/* A vector field charged against the budget: its count (0 when absent) and data. False when bad
 * or over budget. */
static bool vec(dec_t *d, flatb_ref_t t, int id, int elem, size_t *n, size_t *data)
{
    *data = 0;
    *n = flatb_get_vec(t, id, elem, data);
    return charge(d, *n, (size_t)elem);
}

static char *get_str(dec_t *d, flatb_ref_t t, int id)
{
    size_t n = 0;
    const char *p = flatb_get_str(t, id, &n);
    if (!p || !charge(d, n + 1, 1)) return NULL;
    return xstrndup(p, n);
}

static bool get_bin(dec_t *d, flatb_ref_t t, snapshot_bin_t *b)
{
    if (!t.pos) return false;
    b->bin = (int64_t)flatb_get_u(t, BN_BIN, 8, 0);
    size_t n, data, gn, gdata;
    if (!vec(d, t, BN_CELLS, CELL_BYTES, &n, &data) || n > UINT32_MAX) return false;
    if (!vec(d, t, BN_GAUGES, GAUGE_BYTES, &gn, &gdata) || (gn && gn != n)) return false;
    b->n = (uint32_t)n;
    b->cells = xmalloc((n ? n : 1) * sizeof *b->cells);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = t.b + data + CELL_BYTES * i;
        b->cells[i] = (snapshot_cell_t){(uint32_t)rd(p, 4), (uint32_t)rd(p + 4, 4), rd_f64(p + 8)};
    }
    if (!gn) return true;
    b->gauges = xmalloc(n * sizeof *b->gauges);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = t.b + gdata + GAUGE_BYTES * i;
        b->gauges[i] = (snapshot_gauge_t){rd_f64(p), rd_f64(p + 8), rd_f64(p + 16), rd(p + 24, 8)};
    }
    return true;
}

static bool get_level(dec_t *d, flatb_ref_t t, snapshot_level_t *L)
{
    if (!t.pos) return false;
    L->width = flatb_get_u(t, LV_WIDTH, 8, 0);
    L->lo = (int64_t)flatb_get_u(t, LV_LO, 8, 0);
    L->hi = (int64_t)flatb_get_u(t, LV_HI, 8, 0);
    size_t n, data;
    if (!vec(d, t, LV_BINS, 4, &n, &data)) return false;
    L->bins = xcalloc(n ? n : 1, sizeof *L->bins);
    for (size_t i = 0; i < n; i++)
        if (!get_bin(d, flatb_vec_table(t, data, i), &L->bins[L->nbins++])) return false;
    return true;
}

static bool get_row(dec_t *d, flatb_ref_t t, snapshot_arow_t *r)
{
    if (!t.pos) return false;
    r->key = (uint32_t)flatb_get_u(t, RW_KEY, 4, 0);
    r->sub = (int64_t)flatb_get_u(t, RW_SUB, 8, 0);
    r->kind = (uint8_t)flatb_get_u(t, RW_KIND, 1, 0);
    r->finished = flatb_get_u(t, RW_FINISHED, 1, 0) != 0;
    r->count = (uint32_t)flatb_get_u(t, RW_COUNT, 4, 0);
    r->open_start = flatb_get_u(t, RW_OPEN_START, 8, 0);
    r->lab_len = (uint32_t)flatb_get_u(t, RW_LAB_LEN, 4, 0);
    r->life_from = flatb_get_u(t, RW_LIFE_FROM, 8, 0);
    r->life_to = flatb_get_u(t, RW_LIFE_TO, 8, 0);
    r->era = flatb_get_u(t, RW_ERA, 8, 0);
    r->last = flatb_get_f64(t, RW_LAST, 0);
    r->name = get_str(d, t, RW_NAME);
    return r->name != NULL;
}

static bool get_series(dec_t *d, flatb_ref_t t, snapshot_aseries_t *s)
{
    if (!t.pos) return false;
    s->cover_end = flatb_get_u(t, SS_COVER_END, 8, 0);
    size_t n, data;
    if (!vec(d, t, SS_ROWS, 4, &n, &data)) return false;
    s->rows = xcalloc(n ? n : 1, sizeof *s->rows);
    for (size_t i = 0; i < n; i++)
        if (!get_row(d, flatb_vec_table(t, data, i), &s->rows[s->nrows++])) return false;
    if (!vec(d, t, SS_OPEN, 4, &n, &data)) return false;
    s->open = xmalloc((n ? n : 1) * sizeof *s->open);
    for (size_t i = 0; i < n; i++)
        s->open[s->nopen++] = (uint32_t)rd(t.b + data + 4 * i, 4);
    if (!vec(d, t, SS_LEVELS, 4, &n, &data)) return false;
    s->levels = xcalloc(n ? n : 1, sizeof *s->levels);
    for (size_t i = 0; i < n; i++)
        if (!get_level(d, flatb_vec_table(t, data, i), &s->levels[s->nlevels++])) return false;
    return true;
}

/* A vector of SNAPSHOT_SPARKS ulongs into out (zeros when absent); false when malformed. */
static bool get_sparks(dec_t *d, flatb_ref_t t, int id, uint64_t *out)
{
    size_t n, data;
    if (!vec(d, t, id, 8, &n, &data) || (n && n != SNAPSHOT_SPARKS)) return false;
    for (size_t i = 0; i < n; i++)
        out[i] = rd(t.b + data + 8 * i, 8);
    return true;
}

int snapshot_aggr_get(flatb_ref_t t, snapshot_aggr_t **out)
{
    *out = NULL;
    if (!t.pos) return LP_ECORRUPT;
    dec_t d = {.budget = t.len};
    snapshot_aggr_t *a = xcalloc(1, sizeof *a);
    a->fine_ns = flatb_get_u(t, AG_FINE_NS, 8, 0);
    a->bins_per_tier = (uint32_t)flatb_get_u(t, AG_BINS, 4, 0);
    a->tiers = (uint32_t)flatb_get_u(t, AG_TIERS, 4, 0);
    a->max_memory = flatb_get_u(t, AG_MAX_MEMORY, 8, 0);
    a->max_rows = (uint32_t)flatb_get_u(t, AG_MAX_ROWS, 4, 0);
    a->heapprof_top = (uint32_t)flatb_get_u(t, AG_HP_TOP, 4, 0);
    a->alloc_total = flatb_get_u(t, AG_ALLOC_TOTAL, 8, 0);
    a->gc_count = (uint32_t)flatb_get_u(t, AG_GC_COUNT, 4, 0);
    a->gc_start = flatb_get_u(t, AG_GC_START, 8, 0);
    a->hp_open = flatb_get_u(t, AG_HP_OPEN, 1, 0) != 0;
    a->hp_era = flatb_get_u(t, AG_HP_ERA, 8, 0);
    a->any = flatb_get_u(t, AG_ANY, 1, 0) != 0;
    a->first = flatb_get_u(t, AG_FIRST, 8, 0);
    a->now = flatb_get_u(t, AG_NOW, 8, 0);
    a->events = flatb_get_u(t, AG_EVENTS, 8, 0);
    a->late = flatb_get_u(t, AG_LATE, 8, 0);
    a->start_prefix = get_str(&d, t, AG_START);
    a->stop_prefix = get_str(&d, t, AG_STOP);
    if (!a->start_prefix || !a->stop_prefix) goto bad;
    if (!get_sparks(&d, t, AG_SPARK_TOTAL, a->spark_total)) goto bad;
    size_t n, data;
    if (!vec(&d, t, AG_SERIES, 4, &n, &data)) goto bad;
    a->series = xcalloc(n ? n : 1, sizeof *a->series);
    for (size_t i = 0; i < n; i++)
        if (!get_series(&d, flatb_vec_table(t, data, i), &a->series[a->nseries++])) goto bad;
    if (!vec(&d, t, AG_CAPS, 4, &n, &data)) goto bad;
    a->caps = xcalloc(n ? n : 1, sizeof *a->caps);
    for (size_t i = 0; i < n; i++) {
        flatb_ref_t r = flatb_vec_table(t, data, i);
        if (!r.pos) goto bad;
        a->caps[a->ncaps++] = (snapshot_cap_t){
            .seen = flatb_get_u(r, CP_SEEN, 1, 0) != 0,
            .alive = flatb_get_u(r, CP_ALIVE, 1, 0) != 0,
            .running = flatb_get_u(r, CP_RUNNING, 1, 0) != 0,
            .gc = flatb_get_u(r, CP_GC, 1, 0) != 0,
            .state = (uint8_t)flatb_get_u(r, CP_STATE, 1, 0),
            .since = flatb_get_u(r, CP_SINCE, 8, 0),
            .alive_from = flatb_get_u(r, CP_ALIVE_FROM, 8, 0),
            .row0 = (uint32_t)flatb_get_u(r, CP_ROW0, 4, 0),
        };
    }
    if (!vec(&d, t, AG_COUNTERS, 4, &n, &data)) goto bad;
    a->ctrs = xcalloc(n ? n : 1, sizeof *a->ctrs);
    for (size_t i = 0; i < n; i++) {
        flatb_ref_t r = flatb_vec_table(t, data, i);
        if (!r.pos) goto bad;
        snapshot_ctr_t *c = &a->ctrs[a->nctrs++];
        c->spark_set = flatb_get_u(r, CT_SPARK_SET, 1, 0) != 0;
        c->alloc_set = flatb_get_u(r, CT_ALLOC_SET, 1, 0) != 0;
        c->spark_ts = flatb_get_u(r, CT_SPARK_TS, 8, 0);
        c->alloc_ts = flatb_get_u(r, CT_ALLOC_TS, 8, 0);
        c->alloc = flatb_get_u(r, CT_ALLOC, 8, 0);
        if (!get_sparks(&d, r, CT_SPARK, c->spark)) goto bad;
    }
    *out = a;
    return 0;
bad:
    snapshot_aggr_destroy(a);
    return LP_ECORRUPT;
}

void snapshot_aggr_destroy(snapshot_aggr_t *a)
{
    if (!a) return;
    for (size_t i = 0; i < a->nseries; i++) {
        snapshot_aseries_t *s = &a->series[i];
        for (size_t r = 0; r < s->nrows; r++)
            free(s->rows[r].name);
        free(s->rows);
        free(s->open);
        for (size_t k = 0; k < s->nlevels; k++) {
            for (size_t b = 0; b < s->levels[k].nbins; b++) {
                free(s->levels[k].bins[b].cells);
                free(s->levels[k].bins[b].gauges);
            }
            free(s->levels[k].bins);
        }
        free(s->levels);
    }
    free(a->series);
    free(a->caps);
    free(a->ctrs);
    free(a->start_prefix);
    free(a->stop_prefix);
    free(a);
}
