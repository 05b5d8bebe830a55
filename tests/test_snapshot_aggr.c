/* The whole aggregate state in a snapshot: aggregates of real logs (with tiers small enough that
 * the last one coarsens and the rings drop bins) go through export, the hand-written encoder
 * (checked by flatc's C++ Verifier and accessors), the decoder and import, and then answer every
 * query and every diagram byte for byte as the originals do; damaged encodings never crash. The
 * same snapshot bytes also tell that aggregates fed user messages resolved by the totals' analysis
 * (tagged, as the settle's event pipe delivers them) hold the same state as aggregates fed the
 * plain events. */
#include "test.h"

#include "aggr.h"
#include "aggr_snap.h"
#include "aggr_svg.h"
#include "evlog.h"
#include "gea.h"
#include "order.h"
#include "snapshot.h"
#include "snapshot_verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int feed(void *ctx, const evlog_event_t *ev)
{
    aggr_event(ctx, ev);
    return 0;
}

static aggr_t *aggr_of(const char *log, const aggr_opts_t *o)
{
    size_t n;
    uint8_t *b = tu_read_file(tu_data(log), &n);
    if (!b) return NULL;
    aggr_t *a = aggr_create(o);
    evlog_sink_t sink = {.on_event = feed, .ctx = a};
    evlog_t d;
    if (evlog_init(&d, &sink) == 0) {
        evlog_feed(&d, b, n);
        evlog_finish(&d);
    }
    evlog_dispose(&d);
    free(b);
    return a;
}

static char *dump(const aggr_t *a, size_t *len)
{
    static const char *const series[] = {"labels", "threads",  "caps",  "gc",
                                         "heap",   "heapprof", "sparks"};
    static const char *const kinds[] = {"grid", "caps", "gc", "heap", "heapprof", "sparks"};
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    for (size_t i = 0; i < sizeof series / sizeof *series; i++)
        for (int tier = -1; tier < (int)aggr_options(a)->tiers; tier++)
            for (uint32_t bins = 7; bins <= 7000; bins *= 10) {
                aggr_query_t q = {.series = series[i], .bins = bins, .tier = tier};
                aggr_result_t r;
                if (aggr_query_ex(a, &q, &r) < 0) continue;
                fprintf(f, "%s %d %u: %llu %llu %llu %zu\n", series[i], tier, bins,
                        (unsigned long long)r.from_ns, (unsigned long long)r.bin_ns,
                        (unsigned long long)r.provisional_from_ns, r.nrows);
                for (size_t k = 0; k < r.nrows; k++) {
                    fprintf(f, "%s %s %s %lld %u %llu %llu %a:", r.rows[k].name, r.rows[k].kind,
                            r.rows[k].id, (long long)r.rows[k].sub, r.rows[k].key,
                            (unsigned long long)r.rows[k].life_from,
                            (unsigned long long)r.rows[k].life_to, r.rows[k].total);
                    for (uint32_t v = 0; v < r.bins; v++)
                        fprintf(f, " %a", r.rows[k].values[v]);
                    fputc('\n', f);
                }
                aggr_result_dispose(&r);
            }
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        aggr_svg(a, kinds[i], 0, 0, 800, f);
    fprintf(f, "%llu %llu %zu\n", (unsigned long long)aggr_events(a),
            (unsigned long long)aggr_late(a), aggr_bins_memory(a) ? (size_t)1 : (size_t)0);
    fclose(f);
    return text;
}

static uint8_t *encode_with(const aggr_t *a, size_t *n)
{
    snapshot_t sn;
    memset(&sn, 0, sizeof sn);
    snapshot_aggr_t whole;
    aggr_snap_export(a, &whole);
    sn.version = SNAPSHOT_VERSION;
    sn.final = true;
    sn.aggr = &whole;
    uint8_t *b = snapshot_encode(&sn, n);
    aggr_snap_release(&whole);
    return b;
}

static void round_trip(const char *log, const aggr_opts_t *o)
{
    aggr_t *a = aggr_of(log, o);
    REQUIRE(a);
    size_t n, la, lb;
    uint8_t *b = encode_with(a, &n);
    snapshot_seen_t seen;
    REQUIRE(snapshot_verify_cpp(b, n, &seen) == 0);
    CHECK(seen.version == SNAPSHOT_VERSION && seen.has_aggr && seen.aggr_series == 7);
    CHECKF(seen.aggr_cells > 0 && seen.aggr_rows >= 12, "%s: %zu cells, %zu rows", log,
           seen.aggr_cells, seen.aggr_rows);
    snapshot_t back;
    REQUIRE(snapshot_decode(&back, b, n) == 0);
    REQUIRE(back.aggr && back.version == SNAPSHOT_VERSION);
    size_t cells = 0;
    double sum = 0;
    for (size_t i = 0; i < back.aggr->nseries; i++)
        for (size_t k = 0; k < back.aggr->series[i].nlevels; k++)
            for (size_t j = 0; j < back.aggr->series[i].levels[k].nbins; j++) {
                const snapshot_bin_t *x = &back.aggr->series[i].levels[k].bins[j];
                cells += x->n;
                for (uint32_t c = 0; c < x->n; c++)
                    sum += x->cells[c].sum;
            }
    CHECK(cells == seen.aggr_cells && sum == seen.aggr_cell_sum);
    aggr_t *r = aggr_snap_import(back.aggr);
    REQUIRE(r);
    char *da = dump(a, &la), *db = dump(r, &lb);
    CHECKF(la == lb && !memcmp(da, db, la), "%s: restored aggregates answer differently", log);
    /* re-encoding the restored state gives the same bytes */
    size_t n2;
    uint8_t *b2 = encode_with(r, &n2);
    CHECK(n2 == n && !memcmp(b, b2, n));
    free(b2);
    free(da);
    free(db);
    aggr_destroy(r);
    snapshot_dispose(&back);
    free(b);
    aggr_destroy(a);
}

TEST(snapshot_aggr_round_trip_answers_the_same)
{
    aggr_opts_t small = {.bins_per_tier = 16, .tiers = 3, .max_memory = 48 << 10};
    const char *logs[] = {"eventlogs/fib-labels.eventlog", "eventlogs/heap.eventlog",
                          "eventlogs/concurrent.eventlog", "eventlogs/sparks.eventlog"};
    for (size_t i = 0; i < sizeof logs / sizeof *logs; i++) {
        round_trip(logs[i], NULL);
        round_trip(logs[i], &small);
    }
}

/* Every truncation and many bit flips of an encoding: decode and import refuse or succeed, and
 * never read outside the buffer (ASan) or crash. */
TEST(snapshot_aggr_damaged_never_crashes)
{
    aggr_opts_t small = {.bins_per_tier = 16, .tiers = 3};
    aggr_t *a = aggr_of("eventlogs/fib-labels.eventlog", &small);
    REQUIRE(a);
    size_t n;
    uint8_t *b = encode_with(a, &n);
    aggr_destroy(a);
    uint8_t *c = malloc(n);
    size_t step = n / 3000 + 1, refused = 0, tried = 0;
    for (size_t cut = 0; cut < n; cut += step) {
        memcpy(c, b, cut);
        snapshot_t s;
        if (snapshot_decode(&s, c, cut) < 0) {
            refused++;
        } else {
            if (s.aggr) aggr_destroy(aggr_snap_import(s.aggr));
            snapshot_dispose(&s);
        }
        tried++;
    }
    CHECK(refused > tried / 2);
    unsigned seed = 7;
    for (int i = 0; i < 3000; i++) {
        memcpy(c, b, n);
        c[(size_t)rand_r(&seed) % n] ^= (uint8_t)(1u << (rand_r(&seed) % 8));
        snapshot_t s;
        if (snapshot_decode(&s, c, n) == 0) {
            if (s.aggr) aggr_destroy(aggr_snap_import(s.aggr));
            snapshot_dispose(&s);
        }
    }
    free(c);
    free(b);
}

#define MS 1000000ull

/* ---- tagged feeds ------------------------------------------------------------------------- */

/* The same events fed twice: to aggr_event, and to aggr_event_tagged as the settle's event pipe
 * delivers them (server/session_worker.c): with the tags of a gea analysis fed before it, the
 * messages of ids already named bare, the events the aggregates only count left out
 * (aggr_feed_counts_only) and counted in runs (aggr_skipped), and the fields decoded again from
 * the payload. */
typedef struct twin {
    aggr_t *plain, *tagged;
    gea_t *g;
    uint32_t ids;
    size_t tags, bare, skipped;
    aggr_feed_t feed;
    uint64_t run_first, run_last, run_n; /* counted events not yet handed over */
} twin_t;

static void twin_flush(twin_t *t)
{
    aggr_skipped(t->tagged, t->run_first, t->run_last, t->run_n);
    t->run_n = 0;
}

static int feed_twin(void *ctx, const evlog_event_t *ev)
{
    twin_t *t = ctx;
    /* the settle decodes only the fields gea reads: the pipe's consumer decodes the rest */
    evlog_event_t full = *ev;
    bool whole = ev->known || !ev->payload || evlog_decode_fields(&full, false) == 0;
    if (whole) aggr_event(t->plain, &full);
    gea_event(t->g, ev);
    if (aggr_feed_counts_only(&t->feed, ev)) {
        if (!t->run_n) t->run_first = ev->ts;
        t->run_last = ev->ts;
        t->run_n++;
        t->skipped++;
        return 0;
    }
    twin_flush(t);
    bool bare;
    uint32_t tag = gea_pipe_tag(t->g, ev, &t->ids, &bare);
    evlog_event_t e = full;
    if (bare) {
        e.payload = NULL;
        e.known = false;
        t->bare++;
    }
    t->tags += tag > GEA_TAG_NONE;
    if (whole) aggr_event_tagged(t->tagged, &e, tag);
    return 0;
}

static void twin_init(twin_t *t, const aggr_opts_t *o)
{
    memset(t, 0, sizeof *t);
    t->plain = aggr_create(o);
    t->tagged = aggr_create(o);
    t->g = gea_create(NULL);
}

/* Checks that both feeds hold the same state, and frees them. */
static void twin_check(twin_t *t, const char *what)
{
    twin_flush(t);
    CHECKF(aggr_events(t->plain) == aggr_events(t->tagged), "%s: %llu events vs %llu", what,
           (unsigned long long)aggr_events(t->plain), (unsigned long long)aggr_events(t->tagged));
    size_t na, nb;
    uint8_t *a = encode_with(t->plain, &na), *b = encode_with(t->tagged, &nb);
    CHECKF(na == nb && !memcmp(a, b, na), "%s: tagged state differs (%zu vs %zu bytes)", what, na,
           nb);
    free(a);
    free(b);
    aggr_destroy(t->plain);
    aggr_destroy(t->tagged);
    gea_destroy(t->g);
}

static void twin_msg(twin_t *t, uint64_t ts, const char *text)
{
    evlog_event_t ev = {.type = EVLOG_USER_MSG, .ts = ts, .known = true};
    ev.payload = (const uint8_t *)text;
    ev.size = (uint32_t)strlen(text);
    ev.f.msg.text.p = ev.payload;
    ev.f.msg.text.len = ev.size;
    feed_twin(t, &ev);
}

TEST(aggr_tagged_feed_same_state)
{
    /* the pairing's corners by hand: subscripts, nesting, stops of ids never started or closed,
     * no prefix, an empty label, GC correction of open labels, a thread id in between */
    twin_t t;
    twin_init(&t, NULL);
    evlog_event_t ev = {.type = EVLOG_CAP_CREATE, .ts = MS, .known = true};
    feed_twin(&t, &ev);
    static const char *const msgs[] = {
        "START job",   "START 3 job", "START job", "STOP job",  "STOP 3 job", "STOP nothing",
        "hello",       "START -2 x",  "START ",    "STOP job",  "STOP job",   "STOP -2 x",
        "START 3 job", "STOP ",       "START job", "START  7y", "STOP 7y",    "STOP 3 job"};
    for (size_t i = 0; i < sizeof msgs / sizeof *msgs; i++) {
        twin_msg(&t, (2 + i) * MS, msgs[i]);
        if (i == 8) { /* a GC while job, 3 job and -2 x are open */
            ev = (evlog_event_t){.type = EVLOG_GC_START, .ts = (2 + i) * MS + 100, .known = true};
            feed_twin(&t, &ev);
            ev = (evlog_event_t){.type = EVLOG_GC_END, .ts = (2 + i) * MS + 900, .known = true};
            feed_twin(&t, &ev);
        }
        if (i == 4) {
            ev = (evlog_event_t){.type = EVLOG_RUN_THREAD, .ts = (2 + i) * MS + 10, .known = true};
            ev.f.thread.tid = 5;
            feed_twin(&t, &ev);
        }
    }
    /* capability 3 opens with an event of a type without known fields, which makes no rows:
     * its first event with known fields (only counted when later) makes them; then an event
     * older than the latest goes through as well */
    ev = (evlog_event_t){.type = 300, .ts = 30 * MS, .cap = 3};
    feed_twin(&t, &ev);
    ev = (evlog_event_t){.type = EVLOG_THREAD_WAKEUP, .ts = 31 * MS, .cap = 3, .known = true};
    feed_twin(&t, &ev);
    CHECK_EQ_U64(t.skipped, 0);
    ev.ts = 32 * MS;
    feed_twin(&t, &ev);
    CHECK_EQ_U64(t.skipped, 1);
    ev.ts = 31 * MS + 5;
    feed_twin(&t, &ev);
    CHECK_EQ_U64(t.skipped, 1);
    ev = (evlog_event_t){.type = EVLOG_RUN_THREAD, .ts = 33 * MS, .cap = 3, .known = true};
    ev.f.thread.tid = 5;
    feed_twin(&t, &ev);
    CHECK(t.tags >= 12 && t.bare >= 6);
    twin_check(&t, "by hand");

    /* real logs, with the default memory bound and with one so small that bins are dropped,
     * every event decoded by the ordering or (as the settle does) only those gea reads */
    static const char *const logs[] = {"fib-labels", "concurrent", "small", "heap", "sparks"};
    uint64_t gea_only[1024] = {0};
    gea_fields(gea_only);
    for (int run = 0; run < 4; run++)
        for (size_t i = 0; i < sizeof logs / sizeof *logs; i++) {
            char rel[256];
            snprintf(rel, sizeof rel, "eventlogs/%s.eventlog", logs[i]);
            size_t len;
            uint8_t *buf = tu_read_file(tu_data(rel), &len);
            REQUIRE(buf);
            twin_init(&t, &(aggr_opts_t){.max_memory = run & 1 ? 64u << 10 : 0});
            evlog_t d;
            evlog_init(&d, NULL);
            order_source_t src = {.buf = buf, .len = len, .fd = -1};
            order_stats_t st = {.fields = run & 2 ? gea_only : NULL};
            REQUIRE(order_log(&d, &src, feed_twin, &t, &st) == 0);
            evlog_dispose(&d);
            if (!strcmp(logs[i], "fib-labels"))
                CHECKF(t.tags > 200 && t.bare + 10 >= t.tags, "%zu tags, %zu bare", t.tags, t.bare);
            /* GC, spark and wakeup events are only counted: a fifth to nine tenths of these */
            CHECKF(t.skipped * 5 > aggr_events(t.plain), "%s: %zu of %llu events left out", logs[i],
                   t.skipped, (unsigned long long)aggr_events(t.plain));
            twin_check(&t, logs[i]);
            free(buf);
        }
}
