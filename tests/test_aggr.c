/* Tests of the live aggregates (lib/aggr.h) and their SVG diagrams (lib/aggr_svg.h): exact values
 * on hand-made event sequences (GC correction, capability states, thread names), exact folding
 * between tiers, late events, the memory bound, open intervals, row selection, every series on
 * the shared logs against the file-path analysis, and well-formed SVG of every kind. */
#include "test.h"

#include "aggr.h"
#include "aggr_svg.h"
#include "err.h"
#include "gea.h"
#include "order.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MS 1000000ull

/* ---- event helpers ------------------------------------------------------------------------ */

static evlog_event_t mk(uint16_t type, uint64_t ts, int32_t cap)
{
    evlog_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.ts = ts;
    ev.cap = cap;
    ev.known = true;
    return ev;
}

static void ev_simple(aggr_t *a, uint16_t type, uint64_t ts, int32_t cap)
{
    evlog_event_t ev = mk(type, ts, cap);
    aggr_event(a, &ev);
}

static void ev_thread(aggr_t *a, uint16_t type, uint64_t ts, int32_t cap, uint32_t tid)
{
    evlog_event_t ev = mk(type, ts, cap);
    ev.f.thread.tid = tid;
    aggr_event(a, &ev);
}

static void ev_stop(aggr_t *a, uint64_t ts, int32_t cap, uint32_t tid, uint16_t status)
{
    evlog_event_t ev = mk(EVLOG_STOP_THREAD, ts, cap);
    ev.f.stop.tid = tid;
    ev.f.stop.status = status;
    aggr_event(a, &ev);
}

static void ev_msg(aggr_t *a, uint64_t ts, int32_t cap, const char *text)
{
    evlog_event_t ev = mk(EVLOG_USER_MSG, ts, cap);
    ev.f.msg.text.p = (const uint8_t *)text;
    ev.f.msg.text.len = (uint32_t)strlen(text);
    aggr_event(a, &ev);
}

static void ev_label(aggr_t *a, uint64_t ts, uint32_t tid, const char *text)
{
    evlog_event_t ev = mk(EVLOG_THREAD_LABEL, ts, 0);
    ev.f.label.tid = tid;
    ev.f.label.text.p = (const uint8_t *)text;
    ev.f.label.text.len = (uint32_t)strlen(text);
    aggr_event(a, &ev);
}

static void ev_heap(aggr_t *a, uint16_t type, uint64_t ts, int32_t cap, uint64_t bytes)
{
    evlog_event_t ev = mk(type, ts, cap);
    ev.f.heap.bytes = bytes;
    aggr_event(a, &ev);
}

static void ev_sparks(aggr_t *a, uint64_t ts, int32_t cap, uint64_t base)
{
    evlog_event_t ev = mk(EVLOG_SPARK_COUNTERS, ts, cap);
    for (int i = 0; i < 7; i++)
        ev.f.spark_counters.v[i] = base + (uint64_t)i;
    aggr_event(a, &ev);
}

static void ev_hp(aggr_t *a, uint64_t ts, const char *label, uint64_t residency)
{
    evlog_event_t ev = mk(EVLOG_HEAP_PROF_SAMPLE_STRING, ts, -1);
    ev.f.hp_sample_str.residency = residency;
    ev.f.hp_sample_str.label.p = (const uint8_t *)label;
    ev.f.hp_sample_str.label.len = (uint32_t)strlen(label);
    aggr_event(a, &ev);
}

static const aggr_row_t *row_of(const aggr_result_t *r, const char *name, const char *kind)
{
    for (size_t i = 0; i < r->nrows; i++)
        if (!strcmp(r->rows[i].name, name) && (!kind || !strcmp(r->rows[i].kind, kind)))
            return &r->rows[i];
    return NULL;
}

/* Queries [from, to) on `tier` (-1: chosen) in at most `bins` bins. A `from` of 0 is sent as
 * 1 ns, which aligns down to 0 (0 itself would mean "from the first event"). */
static void query_tier(const aggr_t *a, const char *series, uint64_t from, uint64_t to,
                       uint32_t bins, int tier, aggr_result_t *r)
{
    aggr_query_t q = {
        .series = series, .from = from ? from : 1, .to = to, .bins = bins, .tier = tier};
    int rc = aggr_query_ex(a, &q, r);
    REQUIRE(rc == 0);
}

static bool near(double x, double y)
{
    return fabs(x - y) < 1e-9;
}

static void check_values(const aggr_row_t *row, const double *want, size_t n)
{
    REQUIRE(row);
    for (size_t i = 0; i < n; i++)
        CHECKF(near(row->values[i], want[i]), "%s/%s bin %zu: %.9f, expected %.9f", row->name,
               row->kind, i, row->values[i], want[i]);
}

/* ---- hand-made sequences ------------------------------------------------------------------ */

TEST(aggr_labels_gc_correction)
{
    aggr_t *a = aggr_create(NULL);
    ev_msg(a, 1 * MS, 0, "START a");
    ev_simple(a, EVLOG_GC_START, 3 * MS, 0);
    ev_simple(a, EVLOG_GC_END, 4 * MS, 0);
    ev_msg(a, 6 * MS, 0, "STOP a");
    /* nesting counts: the outer pair decides */
    ev_msg(a, 7 * MS, 1, "START 3 b");
    ev_msg(a, 7 * MS + MS / 2, 0, "START 3 b");
    ev_msg(a, 8 * MS, 1, "STOP 3 b");
    ev_msg(a, 9 * MS, 0, "STOP 3 b");
    /* a STOP during GC records [start, stop] over the piece already cut at GC start */
    ev_msg(a, 10 * MS, 0, "START c");
    ev_simple(a, EVLOG_GC_START, 11 * MS, 0);
    ev_msg(a, 12 * MS, 0, "STOP c");
    ev_simple(a, EVLOG_GC_END, 13 * MS, 0);
    aggr_result_t r;
    query_tier(a, "labels", 0, 14 * MS, 14, 0, &r);
    CHECK_EQ_U64(r.bin_ns, MS);
    CHECK_EQ_U64(r.from_ns, 0);
    CHECK_EQ_U64(r.bins, 14);
    REQUIRE(r.nrows == 3);
    CHECK(!strcmp(r.rows[0].name, "a") && !strcmp(r.rows[1].name, "b") &&
          !strcmp(r.rows[2].name, "c"));
    CHECK(r.rows[1].sub == 3 && !strcmp(r.rows[1].id, "labels-b.3"));
    CHECK(!strcmp(r.rows[0].id, "labels-a") && !strcmp(r.rows[0].kind, "user"));
    const double a_want[14] = {0, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    const double b_want[14] = {0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0};
    const double c_want[14] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0, 0};
    check_values(&r.rows[0], a_want, 14);
    check_values(&r.rows[1], b_want, 14);
    check_values(&r.rows[2], c_want, 14);
    CHECK(near(r.rows[0].total, 4.0 * MS));
    CHECK(near(r.rows[2].total, 3.0 * MS));
    aggr_result_dispose(&r);
    query_tier(a, "gc", 0, 14 * MS, 14, 0, &r);
    REQUIRE(r.nrows == 2);
    const double pause[14] = {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0};
    const double count[14] = {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0};
    check_values(row_of(&r, "GC", "pause"), pause, 14);
    check_values(row_of(&r, "GC", "count"), count, 14);
    CHECK(near(row_of(&r, "GC", "count")->total, 2));
    aggr_result_dispose(&r);
    CHECK_EQ_U64(aggr_late(a), 0);
    CHECK_EQ_U64(aggr_events(a), 12);
    aggr_destroy(a);
}

TEST(aggr_threads_caps_names)
{
    aggr_t *a = aggr_create(NULL);
    ev_thread(a, EVLOG_CREATE_THREAD, 1 * MS, 0, 5);
    ev_thread(a, EVLOG_RUN_THREAD, 1 * MS, 0, 5);
    ev_label(a, 1 * MS + 200000, 5, "worker");
    ev_label(a, 1 * MS + 300000, 5, "worker");
    ev_label(a, 1 * MS + 400000, 5, "w2");
    ev_stop(a, 2 * MS + MS / 2, 0, 5, 2);
    ev_thread(a, EVLOG_RUN_THREAD, 3 * MS, 1, 5);
    ev_stop(a, 4 * MS, 1, 5, 5); /* finished */
    ev_simple(a, EVLOG_GC_START, 5 * MS, 1);
    ev_simple(a, EVLOG_GC_END, 5 * MS + MS / 4, 1);
    ev_heap(a, EVLOG_HEAP_SIZE, 6 * MS, 0, 1000); /* now = 6 ms */
    aggr_result_t r;
    query_tier(a, "threads", 0, 7 * MS, 7, 0, &r);
    REQUIRE(r.nrows == 1);
    CHECK(!strcmp(r.rows[0].name, "w2:worker:5"));
    CHECK(!strcmp(r.rows[0].id, "threads-5") && r.rows[0].key == 5);
    CHECK_EQ_U64(r.rows[0].life_from, 1 * MS);
    CHECK_EQ_U64(r.rows[0].life_to, 4 * MS);
    const double th[7] = {0, 1, 0.5, 1, 0, 0, 0};
    check_values(&r.rows[0], th, 7);
    CHECK(near(r.rows[0].total, 2.5 * MS));
    aggr_result_dispose(&r);
    query_tier(a, "caps", 0, 7 * MS, 7, 0, &r);
    REQUIRE(r.nrows == 6);
    static const char *const kinds[3] = {"running", "gc", "idle"};
    for (int i = 0; i < 6; i++) {
        CHECK(!strcmp(r.rows[i].kind, kinds[i % 3]));
        CHECK(!strcmp(r.rows[i].name, i < 3 ? "cap 0" : "cap 1"));
    }
    CHECK(!strcmp(r.rows[0].id, "caps-0-running") && !strcmp(r.rows[5].id, "caps-1-idle"));
    const double run0[7] = {0, 1, 0.5, 0, 0, 0, 0}, idle0[7] = {0, 0, 0.5, 1, 1, 1, 0};
    const double run1[7] = {0, 0, 0, 1, 0, 0, 0}, gc1[7] = {0, 0, 0, 0, 0, 0.25, 0};
    const double idle1[7] = {0, 0, 0, 0, 1, 0.75, 0};
    check_values(&r.rows[0], run0, 7);
    check_values(&r.rows[2], idle0, 7);
    check_values(&r.rows[3], run1, 7);
    check_values(&r.rows[4], gc1, 7);
    check_values(&r.rows[5], idle1, 7);
    aggr_result_dispose(&r);
    /* CreateThread again restarts the name; a label for an unknown thread is ignored */
    ev_thread(a, EVLOG_CREATE_THREAD, 7 * MS, 0, 5);
    ev_label(a, 7 * MS, 99, "ghost");
    ev_thread(a, EVLOG_RUN_THREAD, 7 * MS, 0, 5);
    query_tier(a, "threads", 0, 8 * MS, 8, 0, &r);
    REQUIRE(r.nrows == 1);
    CHECK(!strcmp(r.rows[0].name, "5"));
    aggr_result_dispose(&r);
    aggr_destroy(a);
}

TEST(aggr_provisional_open_intervals)
{
    aggr_t *a = aggr_create(NULL);
    ev_msg(a, 1 * MS, 0, "START open");
    ev_thread(a, EVLOG_RUN_THREAD, 2 * MS, 0, 7);
    ev_heap(a, EVLOG_HEAP_SIZE, 4 * MS, 0, 10);
    aggr_result_t r;
    query_tier(a, "labels", 0, 5 * MS, 5, 0, &r);
    CHECK_EQ_U64(r.now_ns, 4 * MS);
    CHECK_EQ_U64(r.provisional_from_ns, 1 * MS);
    REQUIRE(r.nrows == 1);
    const double open[5] = {0, 1, 1, 1, 0};
    check_values(&r.rows[0], open, 5);
    aggr_result_dispose(&r);
    aggr_query_t q = {
        .series = "labels", .from = 1, .to = 5 * MS, .bins = 5, .tier = 0, .closed_only = true};
    REQUIRE(aggr_query_ex(a, &q, &r) == 0);
    CHECK(r.nrows == 0);
    aggr_result_dispose(&r);
    query_tier(a, "threads", 0, 5 * MS, 5, 0, &r);
    CHECK_EQ_U64(r.provisional_from_ns, 2 * MS);
    REQUIRE(r.nrows == 1);
    const double run[5] = {0, 0, 1, 1, 0};
    check_values(&r.rows[0], run, 5);
    aggr_result_dispose(&r);
    /* while GC runs, the GC row is provisional and open labels pause */
    ev_simple(a, EVLOG_GC_START, 5 * MS, 0);
    ev_heap(a, EVLOG_HEAP_SIZE, 7 * MS, 0, 10);
    query_tier(a, "gc", 0, 8 * MS, 8, 0, &r);
    const double gcv[8] = {0, 0, 0, 0, 0, 1, 1, 0};
    check_values(row_of(&r, "GC", "pause"), gcv, 8);
    CHECK_EQ_U64(r.provisional_from_ns, 5 * MS);
    aggr_result_dispose(&r);
    query_tier(a, "labels", 0, 8 * MS, 8, 0, &r);
    const double paused[8] = {0, 1, 1, 1, 1, 0, 0, 0};
    check_values(&r.rows[0], paused, 8);
    aggr_result_dispose(&r);
    /* nothing open: provisional from now */
    query_tier(a, "heap", 0, 8 * MS, 8, 0, &r);
    CHECK_EQ_U64(r.provisional_from_ns, 7 * MS);
    aggr_result_dispose(&r);
    aggr_destroy(a);
}

TEST(aggr_gauges_heap_sparks_heapprof)
{
    aggr_t *a = aggr_create(NULL);
    ev_heap(a, EVLOG_HEAP_SIZE, 1 * MS + 100, 0, 100);
    ev_heap(a, EVLOG_HEAP_SIZE, 1 * MS + 200, 0, 300);
    ev_heap(a, EVLOG_HEAP_SIZE, 1 * MS + 300, 0, 200);
    ev_heap(a, EVLOG_HEAP_ALLOCATED, 2 * MS, 0, 1000);
    ev_heap(a, EVLOG_HEAP_ALLOCATED, 2 * MS, 1, 500);
    ev_heap(a, EVLOG_HEAP_ALLOCATED, 3 * MS, 0, 1500); /* per capability: 1500 + 500 */
    ev_sparks(a, 2 * MS, 0, 10);
    ev_sparks(a, 2 * MS, 1, 100);
    ev_sparks(a, 3 * MS, 0, 20);
    ev_simple(a, EVLOG_HEAP_PROF_SAMPLE_BEGIN, 1 * MS, -1);
    ev_hp(a, 1 * MS, "A", 50);
    ev_hp(a, 1 * MS, "B", 70);
    ev_simple(a, EVLOG_HEAP_PROF_SAMPLE_END, 1 * MS, -1);
    ev_simple(a, EVLOG_HEAP_PROF_SAMPLE_BEGIN, 3 * MS, -1);
    ev_hp(a, 3 * MS, "A", 60);
    ev_simple(a, EVLOG_HEAP_PROF_SAMPLE_END, 3 * MS, -1); /* B drops to 0 */
    aggr_result_t r;
    query_tier(a, "heap", 0, 4 * MS, 4, 0, &r);
    REQUIRE(r.nrows == 9);
    const double last[4] = {0, 200, 200, 200}, mn[4] = {0, 100, 200, 200};
    const double mx[4] = {0, 300, 200, 200}, alloc[4] = {0, 0, 1500, 2000};
    check_values(row_of(&r, "size", "last"), last, 4);
    check_values(row_of(&r, "size", "min"), mn, 4);
    check_values(row_of(&r, "size", "max"), mx, 4);
    check_values(row_of(&r, "allocated", "last"), alloc, 4);
    CHECK(!strcmp(row_of(&r, "size", "max")->id, "heap-size-max"));
    aggr_result_dispose(&r);
    query_tier(a, "sparks", 0, 4 * MS, 4, 0, &r);
    REQUIRE(r.nrows == 7);
    const double created[4] = {0, 0, 110, 120}, remaining[4] = {0, 0, 122, 132};
    check_values(row_of(&r, "created", "counter"), created, 4);
    check_values(row_of(&r, "remaining", "counter"), remaining, 4);
    aggr_result_dispose(&r);
    query_tier(a, "heapprof", 0, 4 * MS, 4, 0, &r);
    REQUIRE(r.nrows == 2);
    CHECK(!strcmp(r.rows[0].name, "B") && !strcmp(r.rows[1].name, "A")); /* by residency */
    const double av[4] = {0, 50, 50, 60}, bv[4] = {0, 70, 70, 0};
    check_values(row_of(&r, "A", "residency"), av, 4);
    check_values(row_of(&r, "B", "residency"), bv, 4);
    aggr_result_dispose(&r);
    aggr_query_t q = {
        .series = "heapprof", .from = 1, .to = 4 * MS, .bins = 4, .tier = 0, .max_rows = 1};
    REQUIRE(aggr_query_ex(a, &q, &r) == 0);
    REQUIRE(r.nrows == 2);
    CHECK(!strcmp(r.rows[1].name, "other") && !strcmp(r.rows[1].kind, "other"));
    check_values(&r.rows[1], av, 4);
    aggr_result_dispose(&r);
    aggr_destroy(a);
}

TEST(aggr_late_events_update_past_bins)
{
    aggr_opts_t o = {.bins_per_tier = 16};
    aggr_t *a = aggr_create(&o);
    for (uint64_t t = 1; t <= 40; t++)
        ev_thread(a, EVLOG_RUN_THREAD, t * MS, 0, 1);
    ev_msg(a, 40 * MS, 0, "START x");
    ev_msg(a, 40 * MS + 1, 0, "STOP x");
    CHECK_EQ_U64(aggr_late(a), 0);
    ev_msg(a, 30 * MS, 0, "START y"); /* late, inside tier 0 (bins 25..40) */
    ev_msg(a, 31 * MS, 0, "STOP y");
    ev_msg(a, 2 * MS, 0, "START z"); /* late, older than tier 0 holds */
    ev_msg(a, 3 * MS, 0, "STOP z");
    ev_heap(a, EVLOG_HEAP_SIZE, 33 * MS, 0, 77);
    CHECK_EQ_U64(aggr_late(a), 5);
    aggr_result_t r;
    query_tier(a, "labels", 28 * MS, 40 * MS, 12, -1, &r);
    CHECK(r.tier == 0 && r.bin_ns == MS);
    const aggr_row_t *y = row_of(&r, "y", NULL);
    REQUIRE(y);
    CHECK(near(y->values[2], 1) && near(y->total, 1.0 * MS));
    CHECK(row_of(&r, "z", NULL) == NULL);
    aggr_result_dispose(&r);
    query_tier(a, "labels", 0, 40 * MS, 40, -1, &r);
    CHECK(r.tier >= 1); /* tier 0 no longer holds 0..24 ms */
    const aggr_row_t *z = row_of(&r, "z", NULL);
    REQUIRE(z);
    CHECK(near(z->total, 1.0 * MS));
    aggr_result_dispose(&r);
    query_tier(a, "heap", 32 * MS, 36 * MS, 4, 0, &r);
    const double size[4] = {0, 77, 77, 77};
    check_values(row_of(&r, "size", "last"), size, 4);
    aggr_result_dispose(&r);
    aggr_destroy(a);
}

/* ---- tiers -------------------------------------------------------------------------------- */

/* A pseudo-random 3-capability run of `ms` milliseconds: threads, labels, GC, heap samples. */
static void random_run(aggr_t *a, uint64_t ms, uint32_t threads, uint32_t seed)
{
    uint32_t running[3] = {0, 0, 0};
    bool open[8] = {false};
    for (uint64_t t = 0; t < ms * 4; t++) {
        uint64_t ts = MS + t * (MS / 4) + (seed % 1000);
        seed = seed * 1103515245u + 12345u;
        int cap = (int)((seed >> 16) % 3);
        uint32_t tid = 1 + (seed >> 4) % threads;
        if (running[cap]) {
            ev_stop(a, ts, cap, running[cap], (seed >> 9) % 7 == 0 ? 5 : 2);
            running[cap] = 0;
        } else if (tid != running[(cap + 1) % 3] && tid != running[(cap + 2) % 3]) {
            ev_thread(a, EVLOG_RUN_THREAD, ts + 10, cap, tid);
            running[cap] = tid;
        }
        int l = (seed >> 12) % 8;
        char msg[32];
        snprintf(msg, sizeof msg, "%s L%d", open[l] ? "STOP" : "START", l);
        ev_msg(a, ts + 20, cap, msg);
        open[l] = !open[l];
        if ((seed >> 20) % 13 == 0) {
            ev_simple(a, EVLOG_GC_START, ts + 30, cap);
            ev_simple(a, EVLOG_GC_END, ts + 30 + (seed >> 7) % 300000, cap);
        }
        ev_heap(a, EVLOG_HEAP_SIZE, ts + 40, 0, (seed >> 3) % 100000);
        if (t % 7 == 0) ev_sparks(a, ts + 50, cap, t);
    }
}

/* Fine tier `k` bins summed 16 at a time equal the bins of tier k + 1, for every row. */
static void check_fold(const aggr_t *a, const char *series, uint64_t from, uint32_t coarse_bins,
                       int k)
{
    uint64_t w = MS;
    for (int i = 0; i < k; i++)
        w *= 16;
    aggr_result_t f, c;
    aggr_query_t q = {.series = series,
                      .from = from,
                      .to = from + coarse_bins * 16 * w,
                      .bins = coarse_bins * 16,
                      .tier = k,
                      .closed_only = true};
    REQUIRE(aggr_query_ex(a, &q, &f) == 0);
    q.bins = coarse_bins;
    q.tier = k + 1;
    REQUIRE(aggr_query_ex(a, &q, &c) == 0);
    REQUIRE(f.bins == coarse_bins * 16 && c.bins == coarse_bins);
    REQUIRE(f.bin_ns == w && c.bin_ns == 16 * w && f.from_ns == from && c.from_ns == from);
    CHECKF(f.nrows == c.nrows && f.nrows > 0, "%s: %zu rows vs %zu", series, f.nrows, c.nrows);
    bool gauge = !strcmp(series, "heap") || !strcmp(series, "sparks");
    size_t checked = 0;
    for (size_t i = 0; i < f.nrows && i < c.nrows; i++) {
        REQUIRE(!strcmp(f.rows[i].id, c.rows[i].id));
        for (uint32_t b = 0; b < coarse_bins; b++) {
            const double *fv = f.rows[i].values + 16 * b, cv = c.rows[i].values[b];
            if (gauge) {
                double want = fv[15]; /* last */
                if (!strcmp(f.rows[i].kind, "min") || !strcmp(f.rows[i].kind, "max")) {
                    want = fv[0];
                    for (int j = 1; j < 16; j++)
                        want =
                            !strcmp(f.rows[i].kind, "min") ? fmin(want, fv[j]) : fmax(want, fv[j]);
                }
                CHECKF(want == cv, "%s %s bin %u: fold %.17g, coarse %.17g", series, f.rows[i].id,
                       b, want, cv);
            } else {
                bool count = !strcmp(c.rows[i].kind, "count");
                long long sum = 0; /* back to ns (or counts): integers, so exact */
                for (int j = 0; j < 16; j++)
                    sum += llround(fv[j] * (count ? 1 : (double)w));
                long long want = llround(cv * (count ? 1 : 16.0 * (double)w));
                CHECKF(sum == want, "%s %s bin %u: fine sum %lld, coarse %lld", series,
                       f.rows[i].id, b, sum, want);
            }
            checked++;
        }
    }
    CHECK(checked > 0);
    aggr_result_dispose(&f);
    aggr_result_dispose(&c);
}

TEST(aggr_tiers_fold_exactly)
{
    aggr_opts_t o = {.bins_per_tier = 256, .tiers = 4};
    aggr_t *a = aggr_create(&o);
    random_run(a, 6000, 40, 7); /* 6 s: tier 0 holds 256 ms, tier 1 4.1 s, tier 2 65 s */
    uint64_t first, now;
    REQUIRE(aggr_range(a, &first, &now));
    static const char *const series[6] = {"labels", "threads", "caps", "gc", "heap", "sparks"};
    /* tier 0 vs 1: the last 15 tier-1 bins that tier 0 still holds */
    uint64_t from0 = (now / (16 * MS) - 15) * 16 * MS;
    /* tier 1 vs 2 and tier 2 vs 3 (the all-time tier) */
    uint64_t from1 = (now / (256 * MS) - 15) * 256 * MS, from2 = 0;
    for (int s = 0; s < 6; s++) {
        check_fold(a, series[s], from0, 14, 0);
        check_fold(a, series[s], from1, 14, 1);
        check_fold(a, series[s], from2, 1, 2);
    }
    aggr_destroy(a);
}

TEST(aggr_memory_bound)
{
    aggr_opts_t o = {.bins_per_tier = 256, .tiers = 4, .max_memory = 640 << 10};
    aggr_t *unbounded = aggr_create(&(aggr_opts_t){.bins_per_tier = 256, .tiers = 4});
    aggr_t *a = aggr_create(&o);
    size_t peak = 0;
    for (int round = 0; round < 30; round++) {
        random_run(a, 500, 2000, 11 + (uint32_t)round);
        random_run(unbounded, 500, 2000, 11 + (uint32_t)round);
        if (aggr_bins_memory(a) > peak) peak = aggr_bins_memory(a);
    }
    CHECKF(peak <= o.max_memory, "bins memory %zu over the bound %zu", peak, o.max_memory);
    CHECKF(aggr_bins_memory(unbounded) > 2 * o.max_memory,
           "unbounded %zu: the bound was never needed", aggr_bins_memory(unbounded));
    /* the all-time tier still has every span: totals equal the unbounded store's */
    aggr_result_t x, y;
    REQUIRE(aggr_query(a, "threads", 0, 0, 100, &x) == 0);
    REQUIRE(aggr_query(unbounded, "threads", 0, 0, 100, &y) == 0);
    double tx = 0, ty = 0;
    for (size_t i = 0; i < x.nrows; i++)
        tx += x.rows[i].total;
    for (size_t i = 0; i < y.nrows; i++)
        ty += y.rows[i].total;
    CHECKF(tx == ty && tx > 0, "threads total %.0f vs %.0f", tx, ty);
    aggr_result_dispose(&x);
    aggr_result_dispose(&y);
    aggr_destroy(a);
    aggr_destroy(unbounded);
}

/* ---- queries ------------------------------------------------------------------------------ */

TEST(aggr_query_errors_and_empty)
{
    CHECK(aggr_create(&(aggr_opts_t){.bins_per_tier = 15}) == NULL);
    CHECK(aggr_create(&(aggr_opts_t){.tiers = 13}) == NULL);
    CHECK(aggr_create(&(aggr_opts_t){.fine_ns = UINT64_MAX / 2}) == NULL);
    aggr_destroy(NULL);
    aggr_t *a = aggr_create(NULL);
    aggr_result_t r;
    CHECK(aggr_query(a, "labels", 0, 0, 100, &r) == 0 && r.nrows == 0 && r.bins == 0);
    aggr_result_dispose(&r);
    CHECK(aggr_query(a, "nope", 0, 0, 100, &r) == LP_EARG);
    CHECK(aggr_query(a, NULL, 0, 0, 100, &r) == LP_EARG);
    ev_thread(a, EVLOG_RUN_THREAD, 5 * MS, 0, 1);
    ev_stop(a, 6 * MS, 0, 1, 2);
    CHECK(aggr_query(a, "threads", 10 * MS, 5 * MS, 100, &r) == LP_ERANGE);
    CHECK(aggr_query(a, "threads", 0, 0, AGGR_MAX_BINS + 1, &r) == LP_ERANGE);
    CHECK(aggr_query(a, "threads", 7 * MS, 7 * MS, 10, &r) == LP_ERANGE);
    REQUIRE(aggr_query(a, "threads", 0, 0, 0, &r) == 0); /* defaults: the data's range */
    CHECK(r.from_ns <= 5 * MS && r.to_ns > 6 * MS && r.bins <= AGGR_DEFAULT_BINS);
    CHECK(r.nrows == 1 && near(r.rows[0].total, 1.0 * MS));
    aggr_result_dispose(&r);
    aggr_result_dispose(&r);
    aggr_destroy(a);
}

TEST(aggr_rows_beyond_max_go_to_other)
{
    aggr_opts_t o = {.max_rows = 10};
    aggr_t *a = aggr_create(&o);
    double all = 0;
    for (uint32_t tid = 1; tid <= 50; tid++) {
        ev_thread(a, EVLOG_RUN_THREAD, tid * MS, 0, tid);
        ev_stop(a, tid * MS + tid * 1000, 0, tid, 2);
        all += tid * 1000;
    }
    aggr_result_t r;
    REQUIRE(aggr_query(a, "threads", 0, 0, 100, &r) == 0);
    REQUIRE(r.nrows == 11);
    for (size_t i = 0; i < 10; i++)
        CHECK(r.rows[i].key == 41 + i); /* the largest, by tid */
    CHECK(!strcmp(r.rows[10].name, "other") && !strcmp(r.rows[10].id, "threads-_other"));
    double sum = 0;
    for (size_t i = 0; i < r.nrows; i++)
        sum += r.rows[i].total;
    CHECK(near(sum, all));
    aggr_result_dispose(&r);
    aggr_destroy(a);
}

/* Many rows with tied totals: the rows kept are exactly the highest totals, ties going to the
 * row seen first, and "other" sums the rest; for threads (rows x bins too many to sum in one
 * pass) and for labels (summed in one pass, then again for "other"). */
static int dur_of(uint32_t i)
{
    return (int)((i * 37u) % 97u + 1u) * 1000;
}

static void check_top(const aggr_result_t *r, uint32_t n, uint32_t keep, bool labels)
{
    /* the expected set: highest duration first, then lowest index (first seen) */
    uint32_t *order = malloc(n * sizeof *order);
    for (uint32_t i = 0; i < n; i++)
        order[i] = i + 1;
    for (uint32_t i = 1; i < n; i++) /* insertion sort: small n */
        for (uint32_t j = i;
             j > 0 && (dur_of(order[j]) > dur_of(order[j - 1]) ||
                       (dur_of(order[j]) == dur_of(order[j - 1]) && order[j] < order[j - 1]));
             j--) {
            uint32_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    REQUIRE(r->nrows == keep + 1);
    double rest = 0;
    for (uint32_t i = keep; i < n; i++)
        rest += dur_of(order[i]);
    CHECKF(near(r->rows[keep].total, rest), "other %g, want %g", r->rows[keep].total, rest);
    for (uint32_t i = 0; i < keep; i++) {
        uint32_t want = order[i];
        bool found = false;
        for (uint32_t k = 0; k < keep && !found; k++) {
            char name[16];
            snprintf(name, sizeof name, "L%05u", want);
            found = labels ? !strcmp(r->rows[k].name, name) : r->rows[k].key == want;
            if (found) CHECK(near(r->rows[k].total, dur_of(want)));
        }
        CHECKF(found, "%s %u (%d ns) not kept", labels ? "label" : "thread", want, dur_of(want));
    }
    free(order);
}

TEST(aggr_top_rows_many_and_tied)
{
    const uint32_t n = 3000, keep = 100;
    aggr_opts_t o = {.max_rows = keep};
    aggr_t *a = aggr_create(&o);
    for (uint32_t i = 1; i <= n; i++) {
        ev_thread(a, EVLOG_RUN_THREAD, i * MS, 0, i);
        ev_stop(a, i * MS + (uint64_t)dur_of(i), 0, i, 2);
    }
    aggr_result_t r;
    REQUIRE(aggr_query(a, "threads", 0, 0, 100, &r) == 0);
    check_top(&r, n, keep, false);
    aggr_result_dispose(&r);
    aggr_destroy(a);

    const uint32_t nl = 300, keepl = 10;
    aggr_opts_t ol = {.max_rows = keepl};
    a = aggr_create(&ol);
    char msg[32];
    for (uint32_t i = 1; i <= nl; i++) {
        snprintf(msg, sizeof msg, "START L%05u", i);
        ev_msg(a, i * MS, 0, msg);
        snprintf(msg, sizeof msg, "STOP L%05u", i);
        ev_msg(a, i * MS + (uint64_t)dur_of(i), 0, msg);
    }
    REQUIRE(aggr_query(a, "labels", 0, 0, 100, &r) == 0);
    check_top(&r, nl, keepl, true);
    aggr_result_dispose(&r);
    aggr_destroy(a);
}

/* A wide query: 1000 label rows x 1000 bins, every value where the intervals put it. (Its speed
 * is measured by the bench's REST latency stage, not here.) */
TEST(aggr_query_1000_rows)
{
    aggr_t *a = aggr_create(NULL);
    char msg[32];
    for (uint64_t t = 0; t < 1000; t++)
        for (int l = 0; l < 1000; l++) {
            snprintf(msg, sizeof msg, "%s L%d", t % 2 ? "STOP" : "START", l);
            ev_msg(a, t * MS + (uint64_t)l, 0, msg);
        }
    aggr_result_t r;
    REQUIRE(aggr_query(a, "labels", 0, 1000 * MS, 1000, &r) == 0);
    CHECK(r.nrows == 1000 && r.bins == 1000);
    /* each label is open in the even milliseconds, from its offset l ns on */
    bool ok = true;
    for (size_t i = 0; i < r.nrows && ok; i++)
        for (uint32_t b = 0; b + 1 < r.bins && ok; b++)
            ok = b % 2 ? r.rows[i].values[b] < 0.001 : r.rows[i].values[b] > 0.99;
    CHECK(ok);
    CHECK(near(r.rows[0].values[0], 1) && near(r.rows[0].values[1], 0));
    aggr_result_dispose(&r);
    aggr_destroy(a);
}

/* ---- shared logs -------------------------------------------------------------------------- */

typedef struct both {
    aggr_t *a;
    gea_t *g;
    uint64_t last_heap_size;
    uint64_t sparks[65537][7];
    bool spark_seen[65537];
} both_t;

static int feed_both(void *ctx, const evlog_event_t *ev)
{
    both_t *b = ctx;
    aggr_event(b->a, ev);
    gea_event(b->g, ev);
    if (ev->type == EVLOG_HEAP_SIZE && ev->known) b->last_heap_size = ev->f.heap.bytes;
    if (ev->type == EVLOG_SPARK_COUNTERS && ev->known) {
        size_t i = ev->cap < 0 ? 0 : (size_t)ev->cap + 1;
        memcpy(b->sparks[i], ev->f.spark_counters.v, sizeof b->sparks[i]);
        b->spark_seen[i] = true;
    }
    return 0;
}

static const aggr_row_t *find_id_row(const aggr_result_t *r, const gea_window_t *w,
                                     const gea_id_t *id)
{
    for (size_t i = 0; i < r->nrows; i++) {
        const aggr_row_t *row = &r->rows[i];
        if (id->kind == GEA_THREAD && row->key == id->tid) return row;
        if (id->kind == GEA_USER && row->sub == id->sub && strlen(row->name) == id->label_len &&
            !memcmp(row->name, id->label, id->label_len))
            return row;
    }
    (void)w;
    return NULL;
}

static void check_log(const char *name)
{
    size_t len;
    char rel[256];
    snprintf(rel, sizeof rel, "eventlogs/%s.eventlog", name);
    uint8_t *buf = tu_read_file(tu_data(rel), &len);
    REQUIRE(buf);
    both_t *b = calloc(1, sizeof *b);
    b->a = aggr_create(NULL);
    b->g = gea_create(NULL);
    evlog_t d;
    evlog_init(&d, NULL);
    order_source_t src = {.buf = buf, .len = len, .fd = -1};
    REQUIRE(order_log(&d, &src, feed_both, b, NULL) == 0);
    evlog_dispose(&d);
    const gea_window_t *w = gea_output(b->g, 0);
    aggr_result_t caps;
    REQUIRE(aggr_query(b->a, "caps", 0, 0, 500, &caps) == 0);
    double ncaps = caps.nrows / 3 ? (double)(caps.nrows / 3) : 1;
    static const char *const series[7] = {"labels", "threads",  "caps",  "gc",
                                          "heap",   "heapprof", "sparks"};
    for (int s = 0; s < 7; s++) {
        aggr_result_t r;
        REQUIRE(aggr_query(b->a, series[s], 0, 0, 500, &r) == 0);
        if (s == 0 || s == 1 || s == 3) { /* totals: closed intervals only, as the file path */
            aggr_result_dispose(&r);
            aggr_query_t q = {.series = series[s], .bins = 500, .tier = -1, .closed_only = true};
            REQUIRE(aggr_query_ex(b->a, &q, &r) == 0);
        }
        CHECK(r.bins > 0 && r.bins <= 500 && r.to_ns == r.from_ns + r.bins * r.bin_ns);
        for (size_t i = 0; i < r.nrows; i++) {
            const aggr_row_t *row = &r.rows[i];
            bool fraction = s < 4 && strcmp(row->kind, "count");
            double hi = s == 0 ? ncaps : fraction ? 1 : INFINITY;
            for (uint32_t k = 0; k < r.bins; k++)
                CHECKF(row->values[k] >= 0 && row->values[k] <= hi + 1e-9, "%s %s %s bin %u: %g",
                       name, series[s], row->id, k, row->values[k]);
        }
        if (s == 0 || s == 1) { /* row totals equal the file path's totals, id by id */
            size_t ids = 0;
            for (size_t i = 0; i < w->nids; i++) {
                const gea_id_t *id = &w->ids[i];
                if (id->kind != (s == 0 ? GEA_USER : GEA_THREAD) || !id->intervals) continue;
                ids++;
                const aggr_row_t *row = find_id_row(&r, w, id);
                uint64_t got = row ? (uint64_t)llround(row->total) : 0;
                if (id->total || row)
                    CHECKF(got == id->total, "%s id %s/%u: %llu, file %llu", name,
                           id->label ? id->label : "", id->tid, (unsigned long long)got,
                           (unsigned long long)id->total);
            }
            CHECK(r.nrows <= ids);
        }
        if (s == 3 && w->gc_id >= 0) {
            const aggr_row_t *p = row_of(&r, "GC", "pause");
            REQUIRE(p);
            CHECKF((uint64_t)llround(p->total) == w->ids[w->gc_id].total, "%s GC %.0f vs %llu",
                   name, p->total, (unsigned long long)w->ids[w->gc_id].total);
        }
        if (s == 4 && r.bins) {
            const aggr_row_t *size = row_of(&r, "size", "last");
            CHECKF(size->values[r.bins - 1] == (double)b->last_heap_size, "%s heap %g vs %llu",
                   name, size->values[r.bins - 1], (unsigned long long)b->last_heap_size);
        }
        if (s == 6 && r.bins) {
            for (int k = 0; k < 7; k++) {
                uint64_t want = 0;
                for (size_t c = 0; c < 65537; c++)
                    if (b->spark_seen[c]) want += b->sparks[c][k];
                CHECKF(r.rows[k].values[r.bins - 1] == (double)want, "%s sparks %s %g vs %llu",
                       name, r.rows[k].name, r.rows[k].values[r.bins - 1],
                       (unsigned long long)want);
            }
        }
        aggr_result_dispose(&r);
    }
    aggr_result_dispose(&caps);
    aggr_destroy(b->a);
    gea_destroy(b->g);
    free(b);
    free(buf);
}

TEST(aggr_series_on_shared_logs)
{
    static const char *const logs[] = {"fib-labels",     "concurrent", "heap",      "sparks",
                                       "heap-nonmoving", "small",      "leech-main"};
    for (size_t i = 0; i < sizeof logs / sizeof *logs; i++)
        check_log(logs[i]);
}

/* Found by fuzz/live.c: a log with timestamps near 2^61 made every query of its whole range
 * step through ~10^11 empty level bins (the HTTP thread hung for hours), and a grid's fold did
 * not fit 32 bits. Queries must cost what the data held costs, whatever the range. */
TEST(aggr_query_extreme_ranges_are_cheap)
{
    aggr_opts_t o = {.fine_ns = 1000, .bins_per_tier = 64, .tiers = 3};
    aggr_t *a = aggr_create(&o);
    const uint64_t far = 1ull << 61;
    ev_heap(a, EVLOG_HEAP_SIZE, 5 * MS, 0, 100);
    ev_thread(a, EVLOG_CREATE_THREAD, 5 * MS, 0, 1);
    ev_thread(a, EVLOG_RUN_THREAD, 5 * MS, 0, 1);
    ev_heap(a, EVLOG_HEAP_SIZE, far, 0, 300);
    ev_stop(a, far, 0, 1, 5);
    static const char *const series[] = {"heap", "threads", "caps", "gc", "labels"};
    const uint64_t ranges[][2] = {
        {0, 0}, {far / 3, far + far / 2}, {1, UINT64_MAX}, {far - 1, far + 1}};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t s = 0; s < sizeof series / sizeof series[0]; s++)
        for (size_t k = 0; k < sizeof ranges / sizeof ranges[0]; k++)
            for (uint32_t bins = 1; bins <= 1000; bins *= 10) {
                aggr_result_t r;
                if (aggr_query(a, series[s], ranges[k][0], ranges[k][1], bins, &r) < 0) continue;
                CHECKF(r.bins <= bins && r.to_ns == r.from_ns + (uint64_t)r.bins * r.bin_ns,
                       "%s [%llu, %llu) in %u bins: %u bins of %llu ns", series[s],
                       (unsigned long long)ranges[k][0], (unsigned long long)ranges[k][1], bins,
                       r.bins, (unsigned long long)r.bin_ns);
                aggr_result_dispose(&r);
            }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* a deadline only as a hang guard (the old code took hours): 60 queries of a few rows */
    CHECK(t1.tv_sec - t0.tv_sec < 30);
    aggr_destroy(a);
}

/* Found by fuzz/live.c: an event on one capability announcing another (CapCreate of cap 100 in
 * cap 0's block) grew the capability array under the pointer the event was being applied to
 * (a use after free, seen under ASan). */
TEST(aggr_cap_create_of_another_cap)
{
    aggr_t *a = aggr_create(NULL);
    ev_thread(a, EVLOG_CREATE_THREAD, 1 * MS, 0, 1);
    ev_thread(a, EVLOG_RUN_THREAD, 1 * MS, 0, 1);
    for (uint16_t cap = 1; cap < 300; cap += 37) {
        evlog_event_t ev = mk(EVLOG_CAP_CREATE, 2 * MS + cap, 0);
        ev.f.cap.cap = cap;
        aggr_event(a, &ev);
    }
    ev_stop(a, 3 * MS, 0, 1, 5);
    aggr_result_t r;
    REQUIRE(aggr_query(a, "caps", 0, 4 * MS, 4, &r) == 0);
    const aggr_row_t *run = row_of(&r, "cap 0", "running");
    REQUIRE(run);
    CHECKF(near(run->total, 2.0 * MS), "cap 0 ran %f ns", run->total); /* 1 ms to 3 ms */
    aggr_result_dispose(&r);
    aggr_destroy(a);
}

/* A hostile log with many heap-profile labels queried with the most bins used to fold
 * rows x bins cells (10^5 labels x 10^5 bins: ~400 GB through the fatal out-of-memory path):
 * the bins are cut so that rows x bins stays within AGGR_MAX_CELLS, and the values still hold. */
TEST(aggr_query_caps_rows_times_bins)
{
    aggr_t *a = aggr_create(NULL);
    const uint32_t labels = 5000; /* x 900 one-ms bins: over the cap */
    char name[32];
    for (uint32_t i = 0; i < labels; i++) {
        snprintf(name, sizeof name, "label-%u", i);
        ev_hp(a, 1 * MS + i, name, 1000 + i);
    }
    ev_hp(a, 900 * MS, "label-0", 5);
    aggr_result_t r;
    REQUIRE(aggr_query(a, "heapprof", 0, 0, AGGR_MAX_BINS, &r) == 0);
    CHECKF((uint64_t)r.bins * (labels + 1) <= AGGR_MAX_CELLS, "%u bins of %u rows", r.bins, labels);
    CHECK(r.bins >= 1 && r.to_ns == r.from_ns + (uint64_t)r.bins * r.bin_ns);
    CHECK(r.nrows > 0 && r.nrows <= aggr_options(a)->heapprof_top + 1);
    /* the largest label is listed first and keeps its residency */
    REQUIRE(r.nrows > 0);
    CHECK(!strcmp(r.rows[0].name, "label-4999"));
    double mx = 0;
    for (uint32_t i = 0; i < r.bins; i++)
        if (r.rows[0].values[i] > mx) mx = r.rows[0].values[i];
    CHECK(mx == 1000 + labels - 1);
    aggr_result_dispose(&r);
    /* few rows keep every bin they ask for */
    REQUIRE(aggr_query(a, "heap", 0, 0, AGGR_MAX_BINS, &r) == 0);
    CHECK(r.bins > AGGR_MAX_CELLS / (labels + 1));
    aggr_result_dispose(&r);
    aggr_destroy(a);
}
