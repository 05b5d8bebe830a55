/* Tests of the multi-resolution bins (lib/tiers.h) against a reference that writes every level
 * directly: writes reach the finest level only and coarser levels by folding, so every retained
 * bin of every level, read at any moment, must hold exactly what direct writes would give. */
#include "test.h"

#include "err.h"
#include "tiers.h"
#include "xmalloc.h"

#include <stdlib.h>
#include <string.h>

#define FINE 1000ull /* ns per level-0 bin */
#define BINS 256
#define LEVELS 3
#define ROWS 5
#define STEPS 20000
#define MAXSTEP 2000                    /* ns between writes, at most */
#define END ((uint64_t)STEPS * MAXSTEP) /* no write reaches this time */

typedef struct ref_cell {
    double sum, min, max, last;
    uint64_t last_ts;
    uint32_t count;
} ref_cell_t;

/* The reference: per level, bin and row, what a direct write gives. */
typedef struct ref {
    ref_cell_t *c[LEVELS]; /* [bin * ROWS + row] */
} ref_t;

static uint64_t width(uint32_t k)
{
    uint64_t w = FINE;
    for (uint32_t i = 0; i < k; i++)
        w *= TIERS_FACTOR;
    return w;
}

static ref_cell_t *cell(const ref_t *r, uint32_t k, uint64_t b, uint32_t row)
{
    return &r->c[k][b * ROWS + row];
}

static void ref_span(ref_t *r, uint32_t row, uint64_t s, uint64_t e)
{
    for (uint32_t k = 0; k < LEVELS; k++) {
        uint64_t w = width(k);
        for (uint64_t b = s / w; b <= (e - 1) / w; b++) {
            uint64_t lo = b * w > s ? b * w : s, hi = (b + 1) * w < e ? (b + 1) * w : e;
            cell(r, k, b, row)->sum += (double)(hi - lo);
        }
    }
}

static void ref_sample(ref_t *r, uint32_t row, uint64_t ts, double v)
{
    for (uint32_t k = 0; k < LEVELS; k++) {
        ref_cell_t *c = cell(r, k, ts / width(k), row);
        if (c->count == 0) {
            c->min = c->max = c->last = v;
            c->last_ts = ts;
        } else {
            if (v < c->min) c->min = v;
            if (v > c->max) c->max = v;
            if (ts >= c->last_ts) {
                c->last = v;
                c->last_ts = ts;
            }
        }
        c->sum += v;
        c->count++;
    }
}

/* Every retained bin of every level against the reference (spans: sums only, since a coarse bin
 * counts the pieces of the fine bins it folds). Returns the mismatches. */
static int compare(const tiers_t *t, const ref_t *r, bool gauge)
{
    int bad = 0;
    for (uint32_t k = 0; k < LEVELS; k++) {
        const tiers_level_t *L = &t->lv[k];
        int64_t lo = k + 1 == LEVELS ? 0 : L->lo, hi = L->hi;
        for (int64_t b = lo; b <= hi && (uint64_t)b <= END / width(k); b++) {
            const tiers_slot_t *s = tiers_slot(t, k, b);
            for (uint32_t row = 0; row < ROWS; row++) {
                const ref_cell_t *want = cell(r, k, (uint64_t)b, row);
                int at = -1;
                for (uint32_t i = 0; s && i < s->n; i++)
                    if (s->c[i].row == row) at = (int)i;
                bool has = want->count > 0 || want->sum != 0;
                if (at < 0) {
                    if (has) bad++;
                    continue;
                }
                const tiers_cell_t *c = &s->c[at];
                if (c->sum != want->sum) bad++;
                if (gauge) {
                    const tiers_gauge_t *g = &s->g[at];
                    if (c->count != want->count || g->min != want->min || g->max != want->max ||
                        g->last != want->last || g->last_ts != want->last_ts)
                        bad++;
                }
            }
        }
    }
    return bad;
}

static uint32_t rnd(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* Mostly advancing times with some late writes, over about 20 ms: level 0 (256 us) and level 1
 * (4 ms) drop their oldest bins many times; the last level (65 ms) holds everything. */
static void run(bool gauge, uint32_t seed)
{
    ref_t r_, *r = &r_;
    for (uint32_t k = 0; k < LEVELS; k++)
        r->c[k] = xcalloc((END / width(k) + 1) * ROWS, sizeof *r->c[k]);
    tiers_t t;
    tiers_init(&t, &(tiers_opts_t){.fine_ns = FINE, .bins = BINS, .levels = LEVELS}, gauge, NULL);
    tiers_rows(&t, ROWS);
    uint64_t now = 0;
    int bad = 0;
    for (int i = 0; i < STEPS && !bad; i++) {
        now += rnd(&seed) % MAXSTEP;
        uint32_t row = rnd(&seed) % ROWS;
        uint64_t ts = now;
        if (rnd(&seed) % 8 == 0) { /* late: up to 5 ms back */
            uint64_t back = rnd(&seed) % 5000000;
            ts = back < now ? now - back : 0;
        }
        if (gauge) {
            double v = (double)(rnd(&seed) % 1000);
            tiers_sample(&t, row, ts, v);
            ref_sample(r, row, ts, v);
        } else {
            uint64_t len = 1 + rnd(&seed) % (rnd(&seed) % 4 ? 3000 : 3000000);
            uint64_t s = ts > len ? ts - len : 0;
            tiers_span(&t, row, s, ts + 1);
            ref_span(r, row, s, ts + 1);
        }
        if (i % 97 == 0) bad = compare(&t, r, gauge); /* the newest bins unfolded, too */
    }
    if (!bad) bad = compare(&t, r, gauge);
    CHECKF(bad == 0, "%s: %d cells differ from direct writes", gauge ? "gauges" : "spans", bad);
    CHECK(now < BINS * width(LEVELS - 1)); /* the last level never had to coarsen */
    tiers_dispose(&t);
    for (uint32_t k = 0; k < LEVELS; k++)
        free(r->c[k]);
}

TEST(tiers_folds_equal_direct_writes)
{
    run(false, 12345);
    run(false, 777);
    run(true, 4242);
    run(true, 99);
}

/* ---- spare arrays ------------------------------------------------------------------------- */

/* Every retained bin of a and b holds the same entries in the same order; 0 or how many differ. */
static int same_bins(const tiers_t *a, const tiers_t *b)
{
    int bad = 0;
    for (uint32_t k = 0; k < LEVELS; k++) {
        if (a->lv[k].lo != b->lv[k].lo || a->lv[k].hi != b->lv[k].hi) bad++;
        for (int64_t bin = a->lv[k].lo; bin <= a->lv[k].hi; bin++) {
            const tiers_slot_t *x = tiers_slot(a, k, bin), *y = tiers_slot(b, k, bin);
            if (!x || !y) {
                bad += (x == NULL) != (y == NULL);
                continue;
            }
            if (x->n != y->n || memcmp(x->c, y->c, x->n * sizeof *x->c)) bad++;
        }
    }
    return bad;
}

/* Two storages take the same writes, one with spare arrays under a bound, and both drop their
 * oldest bins whenever they hold more than a budget (as the aggregates' memory bound does): the
 * bins stay the same, so do the byte counts, spares are kept only while bins and spares together
 * are within the spares' bound, and they are taken again. */
TEST(tiers_spares_same_bins_within_bound)
{
    for (int gauge = 0; gauge < 2; gauge++) {
        size_t mem_a = 0, mem_b = 0, budget = 24u << 10;
        tiers_spares_t sp = {.max_bytes = budget + (budget >> 2)};
        tiers_t a, b;
        tiers_opts_t o = {.fine_ns = FINE, .bins = BINS, .levels = LEVELS};
        tiers_init(&a, &o, gauge, &mem_a);
        tiers_init(&b, &o, gauge, &mem_b);
        tiers_use_spares(&b, &sp);
        tiers_rows(&a, 64);
        tiers_rows(&b, 64);
        uint32_t seed = 4711 + (uint32_t)gauge;
        uint64_t now = 0;
        size_t most_spare = 0, taken = 0, trims = 0;
        int bad = 0;
        for (int i = 0; i < STEPS * 4 && !bad; i++) {
            size_t before = sp.bytes;
            now += rnd(&seed) % MAXSTEP;
            uint32_t row = rnd(&seed) % 64;
            if (gauge) {
                double v = (double)(rnd(&seed) % 1000);
                tiers_sample(&a, row, now, v);
                tiers_sample(&b, row, now, v);
            } else {
                uint64_t s = now > 5000 ? now - rnd(&seed) % 5000 : 0;
                tiers_span(&a, row, s, now + 1);
                tiers_span(&b, row, s, now + 1);
            }
            if (sp.bytes < before) taken++;
            for (uint32_t k = 0; k + 1 < LEVELS && mem_a > budget; k++) {
                const tiers_level_t *L = &a.lv[k];
                if (L->hi <= L->lo) continue;
                int64_t lo = L->lo + (L->hi - L->lo + 1) / 4 + 1;
                tiers_trim(&a, k, lo);
                tiers_trim(&b, k, lo);
                trims++;
            }
            if (sp.bytes > most_spare) most_spare = sp.bytes;
            if (mem_a != mem_b || (sp.bytes && mem_b + sp.bytes > sp.max_bytes)) bad++;
            if (i % 1009 == 0) bad += same_bins(&a, &b);
        }
        bad += same_bins(&a, &b);
        CHECKF(bad == 0, "%s: %d differences (bytes %zu vs %zu, spares %zu)",
               gauge ? "gauges" : "spans", bad, mem_a, mem_b, sp.bytes);
        CHECKF(trims > 100 && most_spare > 0 && taken > 100,
               "%zu trims, %zu spare bytes at most, "
               "taken %zu times",
               trims, most_spare, taken);
        tiers_dispose(&a);
        tiers_dispose(&b);
        tiers_spares_dispose(&sp);
        CHECK(sp.bytes == 0);
    }
}

/* A snapshot's level extents: a ring level holds at most BINS bins from lo >= 0 up to hi, or is
 * empty (hi below lo, and at least -1); anything else is corrupt, and the check itself never
 * overflows, however far apart the two are (a fuzzed snapshot: hi = INT64_MIN, lo = 2^56). */
TEST(tiers_load_level_rejects_bad_extents)
{
    tiers_t t;
    tiers_init(&t, &(tiers_opts_t){.fine_ns = FINE, .bins = BINS, .levels = LEVELS}, false, NULL);
    tiers_rows(&t, ROWS);
    uint64_t w = t.lv[0].width;
    static const int64_t bad[][2] = {
        {INT64_C(1) << 56, INT64_MIN}, {5, -7}, {0, BINS}, {-1, 3}, {0, INT64_MAX}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECKF(tiers_load_level(&t, 0, w, bad[i][0], bad[i][1], 0) == LP_ECORRUPT,
               "lo %lld hi %lld accepted", (long long)bad[i][0], (long long)bad[i][1]);
    static const int64_t good[][2] = {
        {0, -1}, {7, 6}, {10, 8}, {0, BINS - 1}, {1000, 1000 + BINS - 1}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECKF(tiers_load_level(&t, 0, w, good[i][0], good[i][1], 0) == 0,
               "lo %lld hi %lld refused", (long long)good[i][0], (long long)good[i][1]);
    tiers_dispose(&t);
}
