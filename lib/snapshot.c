/* Snapshot <-> FlatBuffers (proto/snapshot.fbs), written with lib/flatb.c. Field ids follow the
 * schema's declaration order. */
#include "snapshot.h"

#include "err.h"
#include "flatb.h"
#include "snapshot_aggr.h"
#include "xmalloc.h"

#include <stdlib.h>
#include <string.h>

enum { TR_KIND, TR_TITLE, TR_TOTAL, TR_N };
enum { SR_NAME, SR_KIND, SR_VALUES, SR_N };
enum { SE_NAME, SE_FROM, SE_BIN, SE_ROWS, SE_N };
enum {
    SN_OFFSET,
    SN_EVENTS,
    SN_STATE,
    SN_FINAL,
    SN_ERROR,
    SN_TOTALS,
    SN_SERIES,
    SN_VERSION,
    SN_AGGR,
    SN_N
};

static void str_at(flatb_t *f, size_t slot, const char *s)
{
    flatb_patch(f, slot, flatb_string(f, s ? s : "", s ? strlen(s) : 0));
}

static void put_srow(flatb_t *f, size_t slot, const snapshot_srow_t *r)
{
    flatb_table_t t;
    flatb_table_begin(&t, SR_N);
    flatb_offset(&t, SR_NAME);
    flatb_offset(&t, SR_KIND);
    flatb_offset(&t, SR_VALUES);
    flatb_patch(f, slot, flatb_table_end(f, &t));
    str_at(f, t.pos[SR_NAME], r->name);
    str_at(f, t.pos[SR_KIND], r->kind);
    flatb_patch(f, t.pos[SR_VALUES], flatb_vec_scalars(f, r->values, r->nvalues, 8));
}

static void put_series(flatb_t *f, size_t slot, const snapshot_series_t *s)
{
    flatb_table_t t;
    flatb_table_begin(&t, SE_N);
    flatb_offset(&t, SE_NAME);
    flatb_scalar(&t, SE_FROM, 8, s->from_ns);
    flatb_scalar(&t, SE_BIN, 8, s->bin_ns);
    flatb_offset(&t, SE_ROWS);
    flatb_patch(f, slot, flatb_table_end(f, &t));
    str_at(f, t.pos[SE_NAME], s->name);
    size_t slots;
    flatb_patch(f, t.pos[SE_ROWS], flatb_vec_offsets(f, s->nrows, &slots));
    for (size_t i = 0; i < s->nrows; i++)
        put_srow(f, slots + 4 * i, &s->rows[i]);
}

uint8_t *snapshot_encode(const snapshot_t *s, size_t *len)
{
    flatb_t f;
    flatb_init(&f, SNAPSHOT_IDENT);
    flatb_table_t t;
    flatb_table_begin(&t, SN_N);
    flatb_scalar(&t, SN_OFFSET, 8, s->stream_offset);
    flatb_scalar(&t, SN_EVENTS, 8, s->events);
    flatb_scalar(&t, SN_STATE, 1, s->state);
    flatb_scalar(&t, SN_FINAL, 1, s->final);
    if (s->error) flatb_offset(&t, SN_ERROR);
    flatb_offset(&t, SN_TOTALS);
    flatb_offset(&t, SN_SERIES);
    if (s->version) flatb_scalar(&t, SN_VERSION, 4, s->version);
    if (s->aggr) flatb_offset(&t, SN_AGGR);
    flatb_table_end(&f, &t);
    if (s->error) str_at(&f, t.pos[SN_ERROR], s->error);
    size_t slots;
    flatb_patch(&f, t.pos[SN_TOTALS], flatb_vec_offsets(&f, s->ntotals, &slots));
    for (size_t i = 0; i < s->ntotals; i++) {
        flatb_table_t r;
        flatb_table_begin(&r, TR_N);
        flatb_scalar(&r, TR_KIND, 1, s->totals[i].kind);
        flatb_offset(&r, TR_TITLE);
        flatb_scalar(&r, TR_TOTAL, 8, s->totals[i].total_ns);
        flatb_patch(&f, slots + 4 * i, flatb_table_end(&f, &r));
        str_at(&f, r.pos[TR_TITLE], s->totals[i].title);
    }
    flatb_patch(&f, t.pos[SN_SERIES], flatb_vec_offsets(&f, s->nseries, &slots));
    for (size_t i = 0; i < s->nseries; i++)
        put_series(&f, slots + 4 * i, &s->series[i]);
    if (s->aggr) snapshot_aggr_put(&f, t.pos[SN_AGGR], s->aggr);
    *len = f.len;
    return f.b; /* malloc'd: aligned for any scalar */
}

static char *dup_str(flatb_ref_t t, int id)
{
    size_t n = 0;
    const char *p = flatb_get_str(t, id, &n);
    return p ? xstrndup(p, n) : NULL;
}

int snapshot_decode(snapshot_t *s, const uint8_t *b, size_t len)
{
    memset(s, 0, sizeof *s);
    flatb_ref_t root = flatb_root(b, len, SNAPSHOT_IDENT);
    if (!root.pos) return LP_ECORRUPT;
    s->stream_offset = flatb_get_u(root, SN_OFFSET, 8, 0);
    s->events = flatb_get_u(root, SN_EVENTS, 8, 0);
    s->state = (uint8_t)flatb_get_u(root, SN_STATE, 1, 0);
    s->final = flatb_get_u(root, SN_FINAL, 1, 0) != 0;
    s->error = dup_str(root, SN_ERROR);
    size_t data, n = flatb_get_vec(root, SN_TOTALS, 4, &data);
    s->totals = xcalloc(n ? n : 1, sizeof *s->totals);
    for (size_t i = 0; i < n; i++) {
        flatb_ref_t r = flatb_vec_table(root, data, i);
        char *title = dup_str(r, TR_TITLE);
        if (!r.pos || !title) {
            free(title);
            goto bad;
        }
        s->totals[s->ntotals++] = (snapshot_row_t){(uint8_t)flatb_get_u(r, TR_KIND, 1, 0), title,
                                                   flatb_get_u(r, TR_TOTAL, 8, 0)};
    }
    n = flatb_get_vec(root, SN_SERIES, 4, &data);
    s->series = xcalloc(n ? n : 1, sizeof *s->series);
    for (size_t i = 0; i < n; i++) {
        flatb_ref_t se = flatb_vec_table(root, data, i);
        if (!se.pos) goto bad;
        snapshot_series_t *o = &s->series[s->nseries++];
        o->name = dup_str(se, SE_NAME);
        o->from_ns = flatb_get_u(se, SE_FROM, 8, 0);
        o->bin_ns = flatb_get_u(se, SE_BIN, 8, 0);
        size_t rdata, nr = flatb_get_vec(se, SE_ROWS, 4, &rdata);
        if (!o->name) goto bad;
        o->rows = xcalloc(nr ? nr : 1, sizeof *o->rows);
        for (size_t k = 0; k < nr; k++) {
            flatb_ref_t r = flatb_vec_table(se, rdata, k);
            snapshot_srow_t *w = &o->rows[o->nrows++];
            w->name = dup_str(r, SR_NAME);
            w->kind = dup_str(r, SR_KIND);
            size_t vdata = 0;
            w->nvalues = flatb_get_vec(r, SR_VALUES, 8, &vdata);
            w->values = xcalloc(w->nvalues ? w->nvalues : 1, sizeof *w->values);
            for (size_t v = 0; v < w->nvalues; v++)
                w->values[v] = flatb_vec_f64(r, vdata, v);
            if (!r.pos || !w->name || !w->kind) goto bad;
        }
    }
    s->version = (uint32_t)flatb_get_u(root, SN_VERSION, 4, 0);
    if (flatb_has(root, SN_AGGR) && snapshot_aggr_get(flatb_get_table(root, SN_AGGR), &s->aggr) < 0)
        goto bad;
    return 0;
bad:
    snapshot_dispose(s);
    return LP_ECORRUPT;
}

void snapshot_dispose(snapshot_t *s)
{
    free(s->error);
    for (size_t i = 0; i < s->ntotals; i++)
        free(s->totals[i].title);
    free(s->totals);
    for (size_t i = 0; i < s->nseries; i++) {
        snapshot_series_t *o = &s->series[i];
        for (size_t k = 0; k < o->nrows; k++) {
            free(o->rows[k].name);
            free(o->rows[k].kind);
            free(o->rows[k].values);
        }
        free(o->rows);
        free(o->name);
    }
    free(s->series);
    snapshot_aggr_destroy(s->aggr);
    memset(s, 0, sizeof *s);
}
