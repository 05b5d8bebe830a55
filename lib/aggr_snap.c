/* The aggregates' state <-> snapshot_aggr_t (lib/aggr_snap.h). Cells and gauges keep their
 * stored order, so every fold over them sums in the same order and a restored session answers
 * byte for byte as before. */
#include "aggr_snap.h"

#include "aggr_state.h"
#include "err.h"
#include "xmalloc.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(snapshot_cell_t) == sizeof(tiers_cell_t) &&
                   offsetof(snapshot_cell_t, sum) == offsetof(tiers_cell_t, sum) &&
                   offsetof(snapshot_cell_t, count) == offsetof(tiers_cell_t, count),
               "snapshot cells are tiers cells");
_Static_assert(sizeof(snapshot_gauge_t) == sizeof(tiers_gauge_t) &&
                   offsetof(snapshot_gauge_t, last_ts) == offsetof(tiers_gauge_t, last_ts) &&
                   offsetof(snapshot_gauge_t, last) == offsetof(tiers_gauge_t, last),
               "snapshot gauges are tiers gauges");
_Static_assert(SNAPSHOT_SPARKS == AGGR_SPARK_ROWS, "spark counters");

static void export_level(const tiers_t *t, uint32_t k, snapshot_level_t *o)
{
    const tiers_level_t *L = &t->lv[k];
    o->width = L->width;
    o->lo = L->lo;
    o->hi = L->hi;
    if (!L->slots || L->hi < L->lo) return;
    o->bins = xcalloc((size_t)(L->hi - L->lo + 1), sizeof *o->bins);
    for (int64_t b = L->lo; b <= L->hi; b++) {
        const tiers_slot_t *s = tiers_stored(t, k, b);
        if (!s) continue;
        o->bins[o->nbins++] = (snapshot_bin_t){b, s->n, (snapshot_cell_t *)s->c,
                                               t->gauge ? (snapshot_gauge_t *)s->g : NULL};
    }
}

void aggr_snap_export(const aggr_t *a, snapshot_aggr_t *out)
{
    memset(out, 0, sizeof *out);
    out->fine_ns = a->o.fine_ns;
    out->bins_per_tier = a->o.bins_per_tier;
    out->tiers = a->o.tiers;
    out->max_memory = a->o.max_memory;
    out->max_rows = a->o.max_rows;
    out->heapprof_top = a->o.heapprof_top;
    out->start_prefix = a->start;
    out->stop_prefix = a->stop;
    out->series = xcalloc(AS_N, sizeof *out->series);
    out->nseries = AS_N;
    for (int i = 0; i < AS_N; i++) {
        const aseries_t *s = &a->s[i];
        snapshot_aseries_t *o = &out->series[i];
        o->rows = xcalloc(s->nrows ? s->nrows : 1, sizeof *o->rows);
        o->nrows = s->nrows;
        for (uint32_t r = 0; r < s->nrows; r++) {
            const arow_t *w = &s->rows[r];
            o->rows[r] = (snapshot_arow_t){.name = w->name,
                                           .key = w->key,
                                           .count = w->count,
                                           .lab_len = w->lab_len,
                                           .sub = w->sub,
                                           .kind = w->kind,
                                           .finished = w->finished,
                                           .open_start = w->open_start,
                                           .life_from = w->life_from,
                                           .life_to = w->life_to,
                                           .era = w->era,
                                           .last = w->last};
        }
        o->open = s->open;
        o->nopen = s->nopen;
        o->cover_end = s->t.cover_end;
        o->levels = xcalloc(s->t.o.levels, sizeof *o->levels);
        o->nlevels = s->t.o.levels;
        for (uint32_t k = 0; k < s->t.o.levels; k++)
            export_level(&s->t, k, &o->levels[k]);
    }
    out->caps = xcalloc(a->ncaps ? a->ncaps : 1, sizeof *out->caps);
    out->ncaps = a->ncaps;
    for (size_t i = 0; i < a->ncaps; i++) {
        const acap_t *c = &a->caps[i];
        out->caps[i] = (snapshot_cap_t){c->seen,  c->alive, c->running,    c->gc,
                                        c->state, c->since, c->alive_from, c->row0};
    }
    out->ctrs = xcalloc(a->nctr ? a->nctr : 1, sizeof *out->ctrs);
    out->nctrs = a->nctr;
    for (size_t i = 0; i < a->nctr; i++) {
        const acounters_t *c = &a->ctr[i];
        snapshot_ctr_t *o = &out->ctrs[i];
        *o = (snapshot_ctr_t){c->spark_set, c->alloc_set, c->spark_ts, c->alloc_ts, c->alloc, {0}};
        memcpy(o->spark, c->spark, sizeof o->spark);
    }
    memcpy(out->spark_total, a->spark_total, sizeof out->spark_total);
    out->alloc_total = a->alloc_total;
    out->gc_count = a->gc_count;
    out->gc_start = a->gc_start;
    out->hp_open = a->hp_open;
    out->hp_era = a->hp_era;
    out->any = a->any;
    out->first = a->first;
    out->now = a->now;
    out->events = a->events;
    out->late = a->late;
}

void aggr_snap_release(snapshot_aggr_t *out)
{
    for (size_t i = 0; i < out->nseries; i++) {
        snapshot_aseries_t *o = &out->series[i];
        for (size_t k = 0; k < o->nlevels; k++)
            free(o->levels[k].bins);
        free(o->levels);
        free(o->rows);
    }
    free(out->series);
    free(out->caps);
    free(out->ctrs);
    memset(out, 0, sizeof *out);
}

/* Series i of `a` from `o`: its rows, open list and levels. Returns 0 or LP_ECORRUPT. */
static int import_series(aggr_t *a, int i, snapshot_aseries_t *o)
{
    aseries_t *s = &a->s[i];
    if (o->nrows < s->nrows || o->nrows >= UINT32_MAX || o->nlevels != a->o.tiers)
        return LP_ECORRUPT;
    for (uint32_t r = 0; r < s->nrows; r++) /* the fixed rows aggr_create made */
        free(s->rows[r].name);
    free(s->rows);
    s->rows = xcalloc(o->nrows ? o->nrows : 1, sizeof *s->rows);
    s->rows_cap = o->nrows ? o->nrows : 1;
    s->nrows = (uint32_t)o->nrows;
    for (size_t r = 0; r < o->nrows; r++) {
        const snapshot_arow_t *w = &o->rows[r];
        size_t len = strlen(w->name);
        if (len >= UINT32_MAX || w->lab_len > len) return LP_ECORRUPT;
        s->rows[r] = (arow_t){.name = xstrndup(w->name, len),
                              .name_len = (uint32_t)len,
                              .key = w->key,
                              .sub = w->sub,
                              .kind = w->kind < AK_N ? w->kind : AK_OTHER,
                              .finished = w->finished,
                              .count = w->count,
                              .open_slot = -1,
                              .open_start = w->open_start,
                              .lab_len = w->lab_len,
                              .life_from = w->life_from,
                              .life_to = w->life_to,
                              .era = w->era,
                              .last = w->last};
    }
    tiers_rows(&s->t, s->nrows);
    for (size_t j = 0; j < o->nopen; j++) {
        uint32_t r = o->open[j];
        if (r >= s->nrows || s->rows[r].open_slot >= 0) return LP_ECORRUPT;
        xgrow((void **)&s->open, &s->open_cap, s->nopen + 1, sizeof *s->open);
        s->rows[r].open_slot = (int32_t)s->nopen;
        s->open[s->nopen++] = r;
    }
    for (uint32_t k = 0; k < a->o.tiers; k++) {
        snapshot_level_t *L = &o->levels[k];
        if (tiers_load_level(&s->t, k, L->width, L->lo, L->hi, o->cover_end) < 0)
            return LP_ECORRUPT;
        for (size_t b = 0; b < L->nbins; b++) {
            snapshot_bin_t *x = &L->bins[b];
            if (tiers_load_bin(&s->t, k, x->bin, (tiers_cell_t *)x->cells,
                               (tiers_gauge_t *)x->gauges, x->n) < 0)
                return LP_ECORRUPT;
            x->cells = NULL; /* taken */
            x->gauges = NULL;
        }
    }
    return 0;
}

aggr_t *aggr_snap_import(snapshot_aggr_t *sa)
{
    if (sa->nseries != AS_N || !sa->fine_ns || !sa->bins_per_tier || !sa->tiers ||
        !sa->max_memory || !sa->max_rows || !sa->heapprof_top || sa->max_memory > SIZE_MAX)
        return NULL;
    aggr_opts_t o = {.fine_ns = sa->fine_ns,
                     .bins_per_tier = sa->bins_per_tier,
                     .tiers = sa->tiers,
                     .max_memory = (size_t)sa->max_memory,
                     .max_rows = sa->max_rows,
                     .heapprof_top = sa->heapprof_top,
                     .start_prefix = sa->start_prefix,
                     .stop_prefix = sa->stop_prefix};
    aggr_t *a = aggr_create(&o);
    if (!a) return NULL;
    for (int i = 0; i < AS_N; i++)
        if (import_series(a, i, &sa->series[i]) < 0) goto bad;
    uint32_t caprows = a->s[AS_CAPS].nrows;
    a->caps = xcalloc(sa->ncaps ? sa->ncaps : 1, sizeof *a->caps);
    a->ncaps = sa->ncaps;
    for (size_t i = 0; i < sa->ncaps; i++) {
        const snapshot_cap_t *c = &sa->caps[i];
        if (c->state > CS_IDLE ||
            ((c->seen || c->state) && (c->row0 > caprows || caprows - c->row0 < 3)))
            goto bad;
        a->caps[i] = (acap_t){c->seen,  c->alive, c->running,    c->gc,
                              c->state, c->since, c->alive_from, c->row0};
    }
    a->ctr = xcalloc(sa->nctrs ? sa->nctrs : 1, sizeof *a->ctr);
    a->nctr = sa->nctrs;
    for (size_t i = 0; i < sa->nctrs; i++) {
        const snapshot_ctr_t *c = &sa->ctrs[i];
        acounters_t *w = &a->ctr[i];
        *w = (acounters_t){.spark_set = c->spark_set,
                           .alloc_set = c->alloc_set,
                           .spark_ts = c->spark_ts,
                           .alloc_ts = c->alloc_ts,
                           .alloc = c->alloc};
        memcpy(w->spark, c->spark, sizeof w->spark);
    }
    memcpy(a->spark_total, sa->spark_total, sizeof a->spark_total);
    a->alloc_total = sa->alloc_total;
    a->gc_count = sa->gc_count;
    a->gc_start = sa->gc_start;
    a->hp_open = sa->hp_open;
    a->hp_era = sa->hp_era;
    a->any = sa->any;
    a->first = sa->first;
    a->now = sa->now;
    a->events = sa->events;
    a->late = sa->late;
    aggr_reindex(a);
    a->shrink_at = a->o.max_memory; /* as lib/aggr.c's shrink leaves it */
    if (a->bins_mem > a->shrink_at) a->shrink_at = a->bins_mem + a->o.max_memory / 8;
    return a;
bad:
    aggr_destroy(a);
    return NULL;
}
