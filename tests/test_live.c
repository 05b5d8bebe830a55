/* Tests of the live pipeline (lib/live.h): fed in random chunks, its analysis equals the file
 * path's (order_log + gea, what `liveprof analyze` runs) on every shared log and, with any window
 * size, on logs whose blocks arrive in time order; late events are counted and land in past
 * bins; bad streams keep what came before; memory stays flat on a 200 MB log. */
#include "test.h"

#include "err.h"
#include "evwrite.h"
#include "live.h"
#include "order.h"

#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000ull

/* ---- helpers ------------------------------------------------------------------------------ */

static int to_gea(void *ctx, const evlog_event_t *ev)
{
    gea_event(ctx, ev);
    return 0;
}

/* The file path's analysis of buf: every event in global order into a default gea. */
static gea_t *reference(const uint8_t *buf, size_t len, uint64_t *events)
{
    gea_t *g = gea_create(NULL);
    evlog_t d;
    evlog_init(&d, NULL);
    order_source_t src = {.buf = buf, .len = len, .fd = -1};
    order_stats_t st = {0};
    order_log(&d, &src, to_gea, g, &st);
    evlog_dispose(&d);
    if (events) *events = st.events;
    return g;
}

static int id_cmp(const void *x, const void *y)
{
    return gea_id_cmp(*(const gea_id_t *const *)x, *(const gea_id_t *const *)y);
}

static const gea_id_t **sorted_ids(const gea_window_t *w)
{
    const gea_id_t **v = malloc((w->nids + 1) * sizeof *v);
    for (size_t i = 0; i < w->nids; i++)
        v[i] = &w->ids[i];
    qsort(v, w->nids, sizeof *v, id_cmp);
    return v;
}

/* Per id kind: ids whose totals differ, the sum of |difference| and the sum of a's totals. */
typedef struct diff {
    size_t n[3];
    double abs[3], sum[3];
} diff_t;

/* Compares the totals of a and b id by id (an id missing on one side counts as total 0).
 * Describes the first difference in note. */
static void diff_totals(const gea_window_t *a, const gea_window_t *b, diff_t *df, char *note,
                        size_t cap)
{
    const gea_id_t **x = sorted_ids(a), **y = sorted_ids(b);
    size_t i = 0, j = 0;
    memset(df, 0, sizeof *df);
    note[0] = 0;
    while (i < a->nids || j < b->nids) {
        int c = i == a->nids ? 1 : j == b->nids ? -1 : gea_id_cmp(x[i], y[j]);
        const gea_id_t *p = c <= 0 ? x[i] : NULL, *q = c >= 0 ? y[j] : NULL;
        uint64_t tp = p ? p->total : 0, tq = q ? q->total : 0;
        df->sum[(p ? p : q)->kind] += (double)tp;
        if (tp != tq) {
            const gea_id_t *id = p ? p : q;
            df->abs[id->kind] += fabs((double)tp - (double)tq);
            if (!note[0])
                snprintf(note, cap, "kind %d %s/%u: %llu vs %llu", id->kind,
                         id->label ? id->label : "", id->tid, (unsigned long long)tp,
                         (unsigned long long)tq);
            df->n[id->kind]++;
        }
        i += c <= 0;
        j += c >= 0;
    }
    free(x);
    free(y);
}

static size_t diff_all(const gea_t *ref, const live_t *l, char *note, size_t cap)
{
    diff_t d;
    diff_totals(gea_output(ref, 0), gea_output(live_gea(l), 0), &d, note, cap);
    return d.n[0] + d.n[1] + d.n[2];
}

/* Feeds buf in pseudo-random chunks (1 byte to 64 KiB). Returns live_finish's code. */
static int feed_random(live_t *l, const uint8_t *buf, size_t len, uint32_t seed)
{
    size_t off = 0;
    while (off < len) {
        seed = seed * 1103515245u + 12345u;
        size_t n = (seed >> 8) % 4 == 0 ? 1 + (seed >> 12) % 7 : 1 + (seed >> 10) % 65536;
        if (n > len - off) n = len - off;
        int rc = live_feed(l, buf + off, n);
        if (rc) return rc;
        off += n;
    }
    return live_finish(l);
}

static uint64_t summary_total(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "expected/%s/summary.txt", name);
    size_t len;
    char *s = (char *)tu_read_file(tu_data(rel), &len);
    if (!s) return UINT64_MAX;
    const char *t = strstr(s, "total ");
    uint64_t v = t ? strtoull(t + 6, NULL, 10) : UINT64_MAX;
    free(s);
    return v;
}

static uint8_t *read_log(const char *name, size_t *len)
{
    char rel[256];
    snprintf(rel, sizeof rel, "eventlogs/%s.eventlog", name);
    uint8_t *buf = tu_read_file(tu_data(rel), len);
    REQUIRE(buf);
    return buf;
}

/* ---- shared logs -------------------------------------------------------------------------- */

TEST(live_shared_logs_equal_file_path)
{
    static const char *const logs[] = {"fib-labels",
                                       "fib-labels-user-only",
                                       "concurrent",
                                       "heap",
                                       "heap-nonmoving",
                                       "sparks",
                                       "scale-1m",
                                       "small",
                                       "leech-main",
                                       "leech-attach-file",
                                       "leech-deferred-0.raw",
                                       "leech-restart-0.raw",
                                       "leech-restart-1.raw"};
    for (size_t i = 0; i < sizeof logs / sizeof *logs; i++) {
        size_t len;
        uint8_t *buf = read_log(logs[i], &len);
        uint64_t events;
        gea_t *ref = reference(buf, len, &events);
        live_t *l = live_create(NULL);
        int rc = feed_random(l, buf, len, 17 + (uint32_t)i);
        CHECKF(rc == 0, "%s: %s", logs[i], lp_errname(rc));
        CHECK_EQ_U64(live_bytes(l), len);
        CHECK_EQ_U64(live_events(l), events);
        CHECKF(live_events(l) == summary_total(logs[i]), "%s: %llu events", logs[i],
               (unsigned long long)live_events(l));
        CHECK_EQ_U64(aggr_events(live_aggr(l)), live_events(l));
        char note[200];
        size_t d = diff_all(ref, l, note, sizeof note);
        CHECKF(d == 0, "%s: %zu ids differ, first %s", logs[i], d, note);
        CHECK(live_pending(l) == 0 && live_error(l) == 0 && !*live_error_text(l));
        live_destroy(l);
        gea_destroy(ref);
        free(buf);
    }
}

TEST(live_scale_20m_window_tolerance)
{
    if (test_skip_slow()) return;
    size_t len;
    uint8_t *buf = read_log("scale-20m", &len);
    gea_t *ref = reference(buf, len, NULL);
    /* the default window spans the overlap of the two capabilities' 2 MiB blocks: exact */
    live_t *l = live_create(NULL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    REQUIRE(feed_random(l, buf, len, 5) == 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("  live_feed scale-20m: %.1f MB/s, %llu late, %llu forced, %.1f MB held\n",
           (double)len / 1e6 / s, (unsigned long long)live_late(l),
           (unsigned long long)live_forced(l), (double)live_memory(l) / 1e6);
    char note[200];
    size_t d = diff_all(ref, l, note, sizeof note);
    CHECKF(d == 0, "default window: %zu ids differ, first %s", d, note);
    CHECK(live_late(l) < 100); /* the global block's early events, which no total uses */
    live_destroy(l);
    /* a window smaller than a block: a thread runs and stops on one capability, in order, so
     * thread totals stay (almost: a thread that migrates inside the blind spot can differ)
     * exact, while GC and user labels pair across capabilities and drift without bound */
    live_opts_t o = {.window_events = 65536};
    l = live_create(&o);
    REQUIRE(feed_random(l, buf, len, 5) == 0);
    diff_t k;
    diff_totals(gea_output(ref, 0), gea_output(live_gea(l), 0), &k, note, sizeof note);
    printf("  window 65536: ids differing: GC %zu, user %zu (%.0f%% of their time), thread %zu "
           "(%.3f%%)\n",
           k.n[GEA_GC], k.n[GEA_USER], 100 * k.abs[GEA_USER] / k.sum[GEA_USER], k.n[GEA_THREAD],
           100 * k.abs[GEA_THREAD] / k.sum[GEA_THREAD]);
    CHECKF(k.n[GEA_THREAD] <= 12 && k.abs[GEA_THREAD] <= 0.005 * k.sum[GEA_THREAD],
           "%zu thread ids differ by %.0f ns: %s", k.n[GEA_THREAD], k.abs[GEA_THREAD], note);
    CHECK(live_late(l) > 1000 && live_forced(l) > 0);
    CHECK_EQ_U64(aggr_events(live_aggr(l)), live_events(l));
    live_destroy(l);
    gea_destroy(ref);
    free(buf);
}

/* ---- hand-made logs ----------------------------------------------------------------------- */

/* A 3-capability log whose blocks arrive in time order: threads migrate between capabilities,
 * labels open on one capability and close on another or on several at once, GC starts and ends
 * on different capabilities, EndGC comes after GCStatsGHC with an earlier time. */
static uint8_t *ordered_log(size_t *len)
{
    evwrite_t w;
    evwrite_init(&w);
    evwrite_header(&w, NULL, 0);
    evwrite_block_begin(&w, 0xFFFF, 100);
    for (uint16_t c = 0; c < 3; c++)
        evwrite_cap(&w, EVLOG_CAP_CREATE, 100 + c, c);
    evwrite_block_end(&w, 200);
    uint64_t t = 1000;
    uint32_t seed = 99, running[3] = {0, 0, 0}, next_tid = 1;
    bool open[5] = {false};
    for (int round = 0; round < 60; round++)
        for (uint16_t cap = 0; cap < 3; cap++) {
            evwrite_block_begin(&w, cap, t);
            for (int i = 0; i < 40; i++) {
                t += 1 + (seed >> 20) % 50000;
                seed = seed * 1103515245u + 12345u;
                uint32_t r = seed >> 8;
                switch (r % 6) {
                case 0:
                    if (running[cap]) {
                        bool fin = (r >> 4) % 5 == 0;
                        evwrite_stop_thread(&w, t, running[cap], fin ? 5 : 2, 0);
                        running[cap] = 0;
                    } else {
                        uint32_t tid = 1 + (r >> 4) % (next_tid + 1);
                        if (tid == next_tid + 1 || tid == running[(cap + 1) % 3] ||
                            tid == running[(cap + 2) % 3]) {
                            tid = ++next_tid;
                            evwrite_thread(&w, EVLOG_CREATE_THREAD, t, tid);
                            evwrite_thread_label(&w, t, tid, "worker", 6);
                        }
                        evwrite_thread(&w, EVLOG_RUN_THREAD, t, tid);
                        running[cap] = tid;
                    }
                    break;
                case 1:
                case 2: {
                    int k = (int)((r >> 4) % 5);
                    char msg[32];
                    int n = snprintf(msg, sizeof msg, "%s %s%d", open[k] ? "STOP" : "START",
                                     k == 4 ? "2 " : "", k);
                    evwrite_msg(&w, EVLOG_USER_MSG, t, msg, (size_t)n);
                    if ((r >> 9) % 3) open[k] = !open[k]; /* sometimes nest twice */
                    break;
                }
                case 3:
                    evwrite_empty(&w, (r >> 4) % 2 ? EVLOG_GC_START : EVLOG_GC_END, t);
                    break;
                case 4:
                    evwrite_gc_stats(&w, t + 5, 0, 0, 1, 2, 3, 1, 1, 1, 1);
                    evwrite_empty(&w, EVLOG_GC_END, t + 2);
                    t += 5;
                    break;
                default:
                    evwrite_heap(&w, EVLOG_HEAP_SIZE, t, 0, 4096 * (r % 1000));
                    break;
                }
            }
            evwrite_block_end(&w, t);
        }
    evwrite_end(&w);
    uint8_t *buf = evwrite_take(&w, len);
    evwrite_dispose(&w);
    return buf;
}

TEST(live_time_ordered_blocks_exact_with_any_window)
{
    size_t len;
    uint8_t *buf = ordered_log(&len);
    gea_t *ref = reference(buf, len, NULL);
    const gea_window_t *rw = gea_output(ref, 0);
    size_t users = 0, threads = 0;
    for (size_t i = 0; i < rw->nids; i++) {
        users += rw->ids[i].kind == GEA_USER && rw->ids[i].total > 0;
        threads += rw->ids[i].kind == GEA_THREAD && rw->ids[i].total > 0;
    }
    CHECK(users == 5 && threads > 5 && rw->gc_id >= 0);
    static const size_t windows[4] = {2, 3, 64, 0};
    for (int k = 0; k < 4; k++) {
        live_opts_t o = {.window_events = windows[k]};
        live_t *l = live_create(&o);
        REQUIRE(feed_random(l, buf, len, 3 + (uint32_t)k) == 0);
        char note[200];
        size_t d = diff_all(ref, l, note, sizeof note);
        CHECKF(d == 0, "window %zu: %zu ids differ, first %s", windows[k], d, note);
        CHECKF(live_late(l) == 0, "window %zu: %llu late", windows[k],
               (unsigned long long)live_late(l));
        live_destroy(l);
    }
    gea_destroy(ref);
    free(buf);
}

TEST(live_chunking_does_not_matter)
{
    size_t len;
    uint8_t *buf = read_log("fib-labels", &len);
    live_t *one = live_create(NULL), *bytes = live_create(NULL);
    REQUIRE(live_feed(one, buf, len) == 0 && live_finish(one) == 0);
    for (size_t i = 0; i < len; i++)
        REQUIRE(live_feed(bytes, buf + i, 1) == 0);
    REQUIRE(live_finish(bytes) == 0);
    static const char *const series[7] = {"labels", "threads",  "caps",  "gc",
                                          "heap",   "heapprof", "sparks"};
    for (int s = 0; s < 7; s++) {
        aggr_result_t x, y;
        REQUIRE(aggr_query(live_aggr(one), series[s], 0, 0, 300, &x) == 0);
        REQUIRE(aggr_query(live_aggr(bytes), series[s], 0, 0, 300, &y) == 0);
        REQUIRE(x.nrows == y.nrows && x.bins == y.bins);
        for (size_t r = 0; r < x.nrows; r++)
            CHECKF(!memcmp(x.rows[r].values, y.rows[r].values, x.bins * sizeof(double)),
                   "%s row %s differs", series[s], x.rows[r].id);
        aggr_result_dispose(&x);
        aggr_result_dispose(&y);
    }
    live_destroy(one);
    live_destroy(bytes);
    free(buf);
}

/* Capability 1 sends a block of old events after the watermark passed them. */
TEST(live_late_events_counted_and_binned)
{
    evwrite_t w;
    evwrite_init(&w);
    evwrite_header(&w, NULL, 0);
    static const struct {
        uint16_t cap;
        uint64_t from, to;
    } blocks[5] = {{1, 1, 2}, {0, 0, 10}, {1, 10, 20}, {0, 20, 30}, {1, 3, 4}};
    for (int b = 0; b < 5; b++) {
        uint64_t s = blocks[b].from * MS, e = blocks[b].to * MS;
        evwrite_block_begin(&w, blocks[b].cap, s);
        if (b == 4) {
            evwrite_msg(&w, EVLOG_USER_MSG, s, "START late", 10);
            evwrite_msg(&w, EVLOG_USER_MSG, e, "STOP late", 9);
        } else {
            evwrite_thread(&w, EVLOG_RUN_THREAD, s, 1 + blocks[b].cap);
            evwrite_stop_thread(&w, e, 1 + blocks[b].cap, 2, 0);
        }
        evwrite_block_end(&w, e);
    }
    evwrite_end(&w);
    size_t len;
    uint8_t *buf = evwrite_take(&w, &len);
    evwrite_dispose(&w);
    live_opts_t o = {.caps = 2};
    live_t *l = live_create(&o);
    REQUIRE(live_feed(l, buf, len) == 0);
    CHECK(live_pending(l) <= 4); /* released up to min(30, 20) ms before the last block */
    REQUIRE(live_finish(l) == 0);
    CHECK_EQ_U64(live_late(l), 2);
    CHECK_EQ_U64(aggr_late(live_aggr(l)), 2);
    aggr_result_t r;
    aggr_query_t q = {.series = "labels", .from = 1, .to = 10 * MS, .bins = 10, .tier = 0};
    REQUIRE(aggr_query_ex(live_aggr(l), &q, &r) == 0);
    REQUIRE(r.nrows == 1 && r.bin_ns == MS);
    CHECK(fabs(r.rows[0].values[3] - 1) < 1e-12 && fabs(r.rows[0].total - 1.0 * MS) < 1e-6);
    aggr_result_dispose(&r);
    const gea_window_t *gw = gea_output(live_gea(l), 0);
    bool found = false;
    for (size_t i = 0; i < gw->nids; i++)
        if (gw->ids[i].kind == GEA_USER) found = gw->ids[i].total == MS;
    CHECK(found);
    live_destroy(l);
    free(buf);
}

/* ---- bad input ---------------------------------------------------------------------------- */

TEST(live_bad_streams_keep_what_came_before)
{
    size_t len;
    uint8_t *buf = read_log("fib-labels", &len);
    /* truncated inside an event: the prefix is analysed, finish reports it */
    size_t cut = len / 2 + 3;
    evlog_t d;
    evlog_init(&d, NULL);
    evlog_feed(&d, buf, cut);
    int want = evlog_finish(&d);
    uint64_t want_off = evlog_error_offset(&d);
    evlog_dispose(&d);
    REQUIRE(want == LP_ETRUNCATED);
    gea_t *ref = reference(buf, cut, NULL);
    live_t *l = live_create(NULL);
    CHECK(feed_random(l, buf, cut, 9) == LP_ETRUNCATED);
    CHECK(live_error(l) == LP_ETRUNCATED && *live_error_text(l));
    CHECK_EQ_U64(live_error_offset(l), want_off);
    char note[200];
    size_t diff = diff_all(ref, l, note, sizeof note);
    CHECKF(diff == 0, "truncated: %zu ids differ, %s", diff, note);
    CHECK(live_feed(l, buf, 1) == LP_EARG && live_finish(l) == LP_EARG);
    live_destroy(l);
    gea_destroy(ref);
    /* garbage mid-stream: sticky error, events before it kept */
    uint8_t *bad = malloc(len);
    memcpy(bad, buf, len);
    memset(bad + len / 2, 0xEE, 64);
    l = live_create(NULL);
    int rc = live_feed(l, bad, len / 2 + 100);
    CHECK(rc < 0 && rc == live_error(l) && *live_error_text(l));
    uint64_t before = live_events(l);
    CHECK(before > 0 && aggr_events(live_aggr(l)) == before && live_pending(l) == 0);
    CHECK(live_feed(l, bad + len / 2 + 100, 10) == rc && live_finish(l) == rc);
    CHECK(live_error_offset(l) >= len / 2 - 32 && live_error_offset(l) <= len / 2 + 64);
    live_destroy(l);
    free(bad);
    /* junk before the header and a repeated header: warnings only */
    uint8_t *two = malloc(2 * len + 16);
    memcpy(two, "junk!junk!", 10);
    memcpy(two + 10, buf, len - 2); /* without its end marker */
    memcpy(two + 10 + len - 2, buf, len);
    l = live_create(NULL);
    CHECK(feed_random(l, two, 8 + 2 * len, 4) == 0);
    CHECK(live_warnings(l) >= 2 && live_error(l) == 0);
    CHECK_EQ_U64(live_events(l), 2 * summary_total("fib-labels"));
    CHECK_EQ_U64(aggr_events(live_aggr(l)), live_events(l));
    live_destroy(l);
    free(two);
    free(buf);
}

TEST(live_options_and_lifecycle)
{
    live_destroy(NULL);
    CHECK(live_create(&(live_opts_t){.window_events = 1}) == NULL);
    CHECK(live_create(&(live_opts_t){.caps = 0x10001}) == NULL);
    CHECK(live_create(&(live_opts_t){.aggr = {.tiers = 40}}) == NULL);
    live_t *l = live_create(&(live_opts_t){.window_events = 1000, .pool_bytes = 1});
    REQUIRE(l);
    CHECK(live_events(l) == 0 && live_last_ts(l) == 0 && live_bytes(l) == 0);
    CHECK(live_finish(l) == LP_ENO_HEADER && live_error(l) == LP_ENO_HEADER);
    live_destroy(l);
}

/* ---- memory ------------------------------------------------------------------------------- */

static double rss_mb(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / 1e6;
}

TEST(live_memory_flat_on_200mb)
{
    if (test_skip_slow()) return;
    struct stat st;
    if (stat("build/bench-gen", &st) != 0) {
        printf("  build/bench-gen absent (make all builds it): skipped\n");
        return;
    }
    char path[512], cmd[1024];
    snprintf(path, sizeof path, "%s/200m.eventlog", tu_tmpdir());
    snprintf(cmd, sizeof cmd, "build/bench-gen --size 200M -o '%s' 2>/dev/null", path);
    REQUIRE(tu_run(cmd, NULL, NULL) == 0);
    int fd = open(path, O_RDONLY);
    REQUIRE(fd >= 0);
    live_opts_t o = {.aggr = {.max_memory = 32 << 20}};
    live_t *l = live_create(&o);
    size_t cap = 1 << 20;
    uint8_t *chunk = malloc(cap);
    double rss50 = 0, peak_bins = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        ssize_t n = read(fd, chunk, cap);
        REQUIRE(n >= 0);
        if (n == 0) break;
        REQUIRE(live_feed(l, chunk, (size_t)n) == 0);
        if ((double)aggr_bins_memory(live_aggr(l)) > peak_bins)
            peak_bins = (double)aggr_bins_memory(live_aggr(l));
        if (!rss50 && live_bytes(l) >= 50000000) rss50 = rss_mb();
    }
    REQUIRE(live_finish(l) == 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double rss = rss_mb();
    printf("  200 MB: %.1f MB/s, rss %.1f MB at 50 MB, %.1f MB at the end, bins %.1f MB "
           "(peak %.1f), held %.1f MB, %llu late\n",
           (double)live_bytes(l) / 1e6 / s, rss50, rss, aggr_bins_memory(live_aggr(l)) / 1e6,
           peak_bins / 1e6, live_memory(l) / 1e6, (unsigned long long)live_late(l));
    CHECK(live_bytes(l) > 200000000);
    CHECKF(peak_bins <= o.aggr.max_memory, "bins %.0f over %zu", peak_bins, o.aggr.max_memory);
    CHECKF(rss - rss50 < 24, "rss grew %.1f MB from 50 MB to 200 MB of input", rss - rss50);
    CHECKF(rss < 160, "rss %.1f MB", rss);
    close(fd);
    free(chunk);
    live_destroy(l);
}
