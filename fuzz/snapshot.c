/* Fuzz target: the snapshot decoder (lib/snapshot.c over lib/flatb.c), which reads the snapshot
 * records of segment files at recovery. Properties: no crash, no leak; a refused buffer leaves
 * the snapshot empty; a decoded snapshot re-encodes, and decoding that gives the same snapshot
 * (decode(encode(decode(x))) = decode(x), values compared bit for bit, and the whole aggregate
 * state by its encoding: encode(decode(encode(s))) = encode(s)); an aggregate state that
 * decodes is imported or refused by lib/aggr_snap.c without a crash. */
#include "aggr.h"
#include "aggr_snap.h"
#include "err.h"
#include "snapshot.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail(const char *what)
{
    fprintf(stderr, "snapshot property violated: %s\n", what);
    abort();
}

static bool str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool snap_eq(const snapshot_t *a, const snapshot_t *b)
{
    if (a->stream_offset != b->stream_offset || a->events != b->events || a->state != b->state ||
        a->final != b->final || !str_eq(a->error, b->error) || a->ntotals != b->ntotals ||
        a->nseries != b->nseries || a->version != b->version || !a->aggr != !b->aggr)
        return false;
    for (size_t i = 0; i < a->ntotals; i++)
        if (a->totals[i].kind != b->totals[i].kind ||
            !str_eq(a->totals[i].title, b->totals[i].title) ||
            a->totals[i].total_ns != b->totals[i].total_ns)
            return false;
    for (size_t i = 0; i < a->nseries; i++) {
        const snapshot_series_t *x = &a->series[i], *y = &b->series[i];
        if (!str_eq(x->name, y->name) || x->from_ns != y->from_ns || x->bin_ns != y->bin_ns ||
            x->nrows != y->nrows)
            return false;
        for (size_t k = 0; k < x->nrows; k++) {
            const snapshot_srow_t *r = &x->rows[k], *q = &y->rows[k];
            if (!str_eq(r->name, q->name) || !str_eq(r->kind, q->kind) ||
                r->nvalues != q->nvalues ||
                (r->nvalues && memcmp(r->values, q->values, r->nvalues * sizeof *r->values)))
                return false;
        }
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* segment payloads are read into malloc'd (so 16-aligned) buffers */
    static _Alignas(16) uint8_t in[1 << 17];
    if (size > sizeof in) return 0;
    memcpy(in, data, size);
    snapshot_t s, back;
    int rc = snapshot_decode(&s, in, size);
    if (rc != 0) {
        if (rc != LP_ECORRUPT) fail("decode returned an undocumented code");
        if (s.error || s.totals || s.series || s.ntotals || s.nseries)
            fail("a refused buffer left a snapshot behind");
        return 0;
    }
    size_t n;
    uint8_t *b = snapshot_encode(&s, &n);
    if (snapshot_decode(&back, b, n) != 0) fail("an encoded snapshot does not decode");
    if (!snap_eq(&s, &back)) fail("decode(encode(s)) differs from s");
    size_t n2;
    uint8_t *b2 = snapshot_encode(&back, &n2);
    if (n2 != n || memcmp(b, b2, n)) fail("encode(decode(encode(s))) differs from encode(s)");
    free(b2);
    if (s.aggr) aggr_destroy(aggr_snap_import(s.aggr));
    snapshot_dispose(&back);
    snapshot_dispose(&s);
    free(b);
    return 0;
}
