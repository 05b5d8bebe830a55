/* Fuzz target: the file analysis pipeline as `liveprof analyze` runs it — the bounded-memory
 * global ordering (lib/order.c), the ghc-events-analyze analysis in two passes (lib/gea.c), the
 * reports of the default scripts (lib/report.c) and their writers (totals text, SVG, timed text,
 * JSON). Properties: no crash; no total wraps around (more time than its intervals can hold), no
 * bucket value is negative, NaN or infinite; the orderer holds at most a small multiple of the
 * input's size; with windows, the first pass for their bounds alone finds the bounds the whole
 * analysis finds. */
#include "evlog.h"
#include "gea.h"
#include "order.h"
#include "report.h"
#include "report_out.h"
#include "script.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 16

static script_t *s_totals, *s_timed;
static FILE *sink_file;

typedef struct pass {
    gea_t *g;
    const gea_opts_t *opts;
} pass_t;

static void on_reset(void *ctx)
{
    pass_t *p = ctx;
    gea_destroy(p->g);
    p->g = gea_create(p->opts);
}

static int on_event(void *ctx, const evlog_event_t *ev)
{
    gea_event(((pass_t *)ctx)->g, ev);
    return 0;
}

static void fail(const char *what, unsigned long long a, unsigned long long b)
{
    fprintf(stderr, "pipeline: %s (%llu, %llu)\n", what, a, b);
    abort();
}

/* One ordering pass over data; checks the orderer's memory. */
static void run_pass(const uint8_t *data, size_t size, pass_t *p)
{
    evlog_t d;
    evlog_sink_t sink = {0};
    if (evlog_init(&d, &sink) < 0) abort();
    order_source_t src = {.buf = data, .fd = -1, .len = size};
    order_stats_t st = {.reset = on_reset, .progress_ctx = p};
    order_log(&d, &src, on_event, p, &st);
    /* runs and sort entries: a few words per event, and no event is under 10 bytes */
    if (st.peak_loaded > 8 * (uint64_t)size + (1u << 20))
        fail("the orderer held more than 8x the input", st.peak_loaded, size);
    evlog_dispose(&d);
}

/* One pass as `liveprof analyze` runs it: the fields of the types `fields_of` sets decoded, the
 * others' events skipped when `skip` (their times then given to gea_skipped). Returns how many
 * events the ordering dropped. */
static uint64_t run_fields(const uint8_t *data, size_t size, pass_t *p,
                           void (*fields_of)(uint64_t[1024]), bool skip)
{
    static uint64_t fields[1024];
    memset(fields, 0, sizeof fields);
    fields_of(fields);
    evlog_t d;
    evlog_sink_t sink = {0};
    if (evlog_init(&d, &sink) < 0) abort();
    order_source_t src = {.buf = data, .fd = -1, .len = size};
    order_stats_t st = {
        .reset = on_reset, .progress_ctx = p, .fields = fields, .skip_others = skip};
    order_log(&d, &src, on_event, p, &st);
    evlog_dispose(&d);
    if (skip) gea_skipped(p->g, st.min_ts, st.max_ts);
    return st.dropped;
}

/* Every window reported has the same bounds in both analyses, and (with `ids`) the same ids
 * with the same totals and bucket values. */
static void same_windows(const gea_t *a, const gea_t *b, bool ids, const char *what)
{
    size_t n = gea_outputs(a);
    if (gea_outputs(b) != n) fail(what, gea_outputs(b), n);
    for (size_t i = 0; i < n; i++) {
        const gea_window_t *x = gea_output(a, i), *y = gea_output(b, i);
        if (gea_window_startup(x) != gea_window_startup(y) || x->end != y->end ||
            (ids && x->nids != y->nids))
            fail(what, gea_window_startup(y), i);
        for (size_t k = 0; ids && k < x->nids; k++) {
            const gea_id_t *p = &x->ids[k], *q = &y->ids[k];
            if (p->kind != q->kind || p->total != q->total || p->intervals != q->intervals ||
                p->blo != q->blo || p->bn != q->bn ||
                (p->bn && memcmp(p->bval, q->bval, p->bn * sizeof *p->bval)))
                fail(what, i, k);
        }
    }
}

/* `liveprof analyze --window` with timed outputs finds the windows' bounds from the startups
 * and user messages alone, the other events skipped, and starts over with every event when
 * gea_bounds_exact says they may be wrong or an event was dropped; the pass that analyses then
 * skips them too, unless the first started over. Both passes must give what they give reading
 * every event. */
static void check_skipping(const uint8_t *data, size_t size, const gea_opts_t *go)
{
    gea_opts_t gb = *go;
    gb.bounds_only = true;
    pass_t ref = {gea_create(go), go}, b = {gea_create(&gb), &gb};
    run_fields(data, size, &ref, gea_fields, false);
    bool skip = true;
    if (run_fields(data, size, &b, gea_bounds_fields, true) || !gea_bounds_exact(b.g)) {
        gea_destroy(b.g);
        b.g = gea_create(&gb);
        run_fields(data, size, &b, gea_bounds_fields, false);
        skip = false;
    }
    same_windows(ref.g, b.g, false, "the bounds pass found other bounds");
    size_t nw = gea_windows(b.g);
    gea_buckets_t *bk = calloc(nw ? nw : 1, sizeof *bk);
    for (size_t i = 0; i < nw; i++) {
        bk[i].startup = gea_window_startup(gea_window(b.g, i));
        bk[i].bs = gea_window_bucket_size(gea_window(b.g, i), BUCKETS, NULL);
    }
    gea_opts_t g2 = *go;
    g2.buckets = bk;
    g2.nbuckets = nw;
    pass_t all = {gea_create(&g2), &g2}, some = {gea_create(&g2), &g2};
    run_fields(data, size, &all, gea_fields, false);
    run_fields(data, size, &some, gea_fields, skip);
    same_windows(all.g, some.g, true, "the analysing pass differs when it skips");
    gea_destroy(all.g);
    gea_destroy(some.g);
    free(bk);
    gea_destroy(ref.g);
    gea_destroy(b.g);
}

/* Totals are unsigned: a "negative" one is a wrapped subtraction, which shows as more time than
 * the id's intervals can hold (each lies within the window's first and last event times). */
static void check_totals(const gea_t *g)
{
    for (size_t k = 0; k < gea_windows(g); k++) {
        const gea_window_t *w = gea_window(g, k);
        uint64_t lo = w->first_ts < gea_window_startup(w) ? w->first_ts : gea_window_startup(w);
        unsigned __int128 span = w->end > lo ? w->end - lo : 0;
        for (size_t i = 0; i < w->nids; i++) {
            const gea_id_t *id = &w->ids[i];
            unsigned __int128 most = span * (id->intervals ? id->intervals : 1);
            if (id->total > most) fail("a total is negative (wrapped)", id->total, i);
        }
    }
}

static void check_report(const report_t *r)
{
    for (size_t i = 0; i < r->nrows; i++) {
        const report_row_t *row = &r->rows[i];
        if (row->kind == REPORT_SECTION) continue;
        for (uint32_t b = 0; b < row->bn; b++)
            if (!(row->val[b] >= 0) || isinf(row->val[b]))
                fail("a bucket value is negative or not finite", b, i);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    s_totals = script_create();
    s_timed = script_create();
    if (!s_totals || !s_timed || script_parse_default(s_totals, SCRIPT_DEFAULT_TOTALS) < 0 ||
        script_parse_default(s_timed, SCRIPT_DEFAULT_TIMED) < 0)
        abort();
    sink_file = fopen("/dev/null", "w");
    if (!sink_file) abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_totals) LLVMFuzzerInitialize(NULL, NULL);
    /* the last byte picks windowed analysis (START/STOP "w") or not */
    gea_opts_t go = {.window = size && (data[size - 1] & 1) ? "w" : NULL};
    if (go.window) check_skipping(data, size, &go);
    pass_t p1 = {.g = gea_create(&go), .opts = &go};
    run_pass(data, size, &p1);
    size_t nw = gea_windows(p1.g);
    gea_buckets_t *bk = calloc(nw ? nw : 1, sizeof *bk);
    for (size_t i = 0; i < nw; i++) {
        const gea_window_t *w = gea_window(p1.g, i);
        bk[i].startup = gea_window_startup(w);
        bk[i].bs = gea_window_bucket_size(w, BUCKETS, NULL);
    }
    gea_opts_t go2 = go;
    go2.buckets = bk;
    go2.nbuckets = nw;
    pass_t p2 = {.g = gea_create(&go2), .opts = &go2};
    run_pass(data, size, &p2);
    check_totals(p1.g);
    check_totals(p2.g);
    size_t nout = gea_outputs(p2.g);
    report_t *reps = calloc(nout ? nout : 1, sizeof *reps);
    const report_t **ptrs = calloc(nout ? nout : 1, sizeof *ptrs);
    for (size_t i = 0; i < nout; i++) {
        const gea_window_t *w = gea_output(p2.g, i);
        report_t tot;
        report_build(&tot, gea_output(p1.g, i < gea_outputs(p1.g) ? i : 0), s_totals, false,
                     BUCKETS);
        check_report(&tot);
        report_write_totals(&tot, sink_file);
        report_dispose(&tot);
        report_build(&reps[i], w, s_timed, true, BUCKETS);
        check_report(&reps[i]);
        report_write_svg(&reps[i], NULL, sink_file);
        report_write_timed_txt(&reps[i], sink_file);
        ptrs[i] = &reps[i];
    }
    if (nout) report_write_json(ptrs, nout, go.window != NULL, sink_file);
    for (size_t i = 0; i < nout; i++)
        report_dispose(&reps[i]);
    free(reps);
    free(ptrs);
    free(bk);
    gea_destroy(p1.g);
    gea_destroy(p2.g);
    return 0;
}
