/* Tests of the eventlog encoder (lib/evwrite) through the decoder (lib/evlog): every layout
 * round-trips, headers match GHC's bytes, blocks are sized right, sinks write the same bytes;
 * and of the generator build/bench-gen: deterministic, valid, counted right. */
#include "err.h"
#include "evlog.h"
#include "evwrite.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- a sink that records events (whole-buffer decoding keeps their pointers valid) ---- */

typedef struct recs {
    evlog_event_t *v;
    size_t n, cap;
    evlog_type_info_t types[300];
    size_t ntypes;
    int warnings;
    size_t next; /* chunked replay: index of the next expected event */
    int mismatches;
} recs_t;

static int rec_event(void *ctx, const evlog_event_t *ev)
{
    recs_t *r = ctx;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 256;
        r->v = realloc(r->v, r->cap * sizeof *r->v);
        REQUIRE(r->v);
    }
    r->v[r->n++] = *ev;
    return 0;
}

static int rec_type(void *ctx, const evlog_type_info_t *t)
{
    recs_t *r = ctx;
    if (r->ntypes < 300) r->types[r->ntypes++] = *t;
    return 0;
}

static void rec_warning(void *ctx, evlog_warning_t w, uint64_t offset, uint64_t count)
{
    (void)w, (void)offset, (void)count;
    ((recs_t *)ctx)->warnings++;
}

/* Decodes buf whole into r; returns evlog_finish's code. */
static int decode(const uint8_t *buf, size_t len, recs_t *r)
{
    memset(r, 0, sizeof *r);
    evlog_sink_t sink = {rec_type, rec_event, rec_warning, r};
    evlog_t d;
    REQUIRE(evlog_init(&d, &sink) == 0);
    int rc = evlog_feed(&d, buf, len);
    if (!rc) rc = evlog_finish(&d);
    if (rc)
        fprintf(stderr, "    decode: %s at %llu\n", evlog_error_text(&d),
                (unsigned long long)evlog_error_offset(&d));
    evlog_dispose(&d);
    return rc;
}

/* The recorded events without block markers. */
static size_t strip_markers(recs_t *r)
{
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].type != EVLOG_BLOCK_MARKER) r->v[k++] = r->v[i];
    return r->n = k;
}

static bool text_is(evlog_bytes_t b, const void *s, size_t n)
{
    return b.len == n && (n == 0 || memcmp(b.p, s, n) == 0);
}
#define TEXT_IS(b, lit) text_is((b), (lit), sizeof(lit) - 1)

/* ---- the header ---- */

TEST(evwrite_default_header_is_ghcs)
{
    size_t n, loglen, dlen, len;
    const evwrite_type_t *t = evwrite_default_types(&n);
    CHECK_EQ_U64(n, 69);
    evwrite_t w;
    REQUIRE(evwrite_init(&w) == 0 && evwrite_header(&w, NULL, 0) == 0);
    const uint8_t *hdr = evwrite_data(&w, &len);
    /* byte for byte the header GHC 9.0.2 wrote into a real log */
    uint8_t *log = tu_read_file(tu_data("eventlogs/fib-labels.eventlog"), &loglen);
    REQUIRE(log);
    CHECK_EQ_U64(len, 2688);
    CHECK(loglen > len && memcmp(log, hdr, len) == 0);
    /* and the `type` lines of the reference dump, in order */
    char *dump = (char *)tu_read_file(tu_data("expected/fib-labels/dump.txt"), &dlen);
    REQUIRE(dump);
    char *line = dump;
    for (size_t i = 0; i < n; i++) {
        char want[160];
        if (t[i].size == EVLOG_VAR_SIZE)
            snprintf(want, sizeof want, "type %u var %s\n", t[i].num, t[i].desc);
        else
            snprintf(want, sizeof want, "type %u %d %s\n", t[i].num, (int)t[i].size, t[i].desc);
        CHECKF(!strncmp(line, want, strlen(want)), "type line %zu: %.60s", i, line);
        line = strchr(line, '\n') + 1;
    }
    CHECK(strncmp(line, "type ", 5) != 0);
    free(dump);
    free(log);
    evwrite_dispose(&w);
}

/* ---- every layout through the decoder ---- */

static const uint16_t gc_types[] = {EVLOG_REQUEST_SEQ_GC, EVLOG_REQUEST_PAR_GC, EVLOG_GC_START,
                                    EVLOG_GC_WORK,        EVLOG_GC_IDLE,        EVLOG_GC_DONE,
                                    EVLOG_GC_GLOBAL_SYNC};
static const uint16_t spark_types[] = {EVLOG_SPARK_CREATE, EVLOG_SPARK_DUD,    EVLOG_SPARK_OVERFLOW,
                                       EVLOG_SPARK_RUN,    EVLOG_SPARK_FIZZLE, EVLOG_SPARK_GC};

/* Takes the next recorded event, checking its type, time and capability. */
static const evlog_event_t *next_ev(recs_t *r, size_t *i, uint16_t type, uint64_t ts, int cap)
{
    REQUIRE(*i < r->n);
    const evlog_event_t *e = &r->v[(*i)++];
    CHECKF(e->type == type && e->ts == ts && e->cap == cap, "event %zu: type %u ts %llu cap %d",
           *i - 1, e->type, (unsigned long long)e->ts, e->cap);
    return e;
}

/* An encoder whose last event is decoded right after it is written. */
typedef struct rt {
    evwrite_t w;
    evlog_t d; /* holds the header's type table */
    size_t from;
    uint64_t ts;
    evlog_event_t ev;
} rt_t;

/* Decodes what the encoder wrote since the previous call: one event of `type` stamped t->ts. */
static const evlog_event_t *last(rt_t *t, uint16_t type, int rc)
{
    size_t len;
    const uint8_t *buf = evwrite_data(&t->w, &len);
    CHECKF(rc == 0, "writing type %u: %s", type, lp_errname(rc));
    int n = evlog_decode_one(evlog_types(&t->d), buf + t->from, len - t->from, t->from, &t->ev);
    REQUIRE(n > 0);
    CHECKF((size_t)n == len - t->from, "type %u: decoded %d of %zu bytes", type, n, len - t->from);
    CHECKF(t->ev.type == type && t->ev.ts == t->ts, "type %u ts %llu, want %u %llu", t->ev.type,
           (unsigned long long)t->ev.ts, type, (unsigned long long)t->ts);
    CHECKF(t->ev.known || type == EVLOG_HACK_BUG_T9003, "type %u not known", type);
    t->from = len;
    return &t->ev;
}
/* ONE(type, writer call using TS) writes one event and decodes it back. */
#define TS (++t.ts)
#define ONE(type, call) last(&t, (type), (call))

/* Chunked replay: each event must equal the whole-buffer decode's next one. */
static int cmp_event(void *ctx, const evlog_event_t *ev)
{
    recs_t *r = ctx;
    const evlog_event_t *w = r->next < r->n ? &r->v[r->next] : NULL;
    r->next++;
    if (!w || w->type != ev->type || w->ts != ev->ts || w->cap != ev->cap ||
        w->offset != ev->offset || w->size != ev->size ||
        (ev->size && memcmp(w->payload, ev->payload, ev->size)))
        r->mismatches++;
    return 0;
}

/* Replays `buf` in chunks of every size from 1 to 40 bytes: events must equal r's. */
static void check_chunked(const uint8_t *buf, size_t len, recs_t *r)
{
    for (size_t chunk = 1; chunk <= 40; chunk++) {
        evlog_sink_t sink = {NULL, cmp_event, NULL, r};
        evlog_t d;
        REQUIRE(evlog_init(&d, &sink) == 0);
        r->next = 0;
        r->mismatches = 0;
        int rc = 0;
        for (size_t at = 0; at < len && !rc; at += chunk)
            rc = evlog_feed(&d, buf + at, len - at < chunk ? len - at : chunk);
        CHECK(rc == 0 && evlog_finish(&d) == 0);
        CHECKF(r->mismatches == 0 && r->next == r->n, "chunk %zu: %d mismatches, %zu of %zu", chunk,
               r->mismatches, r->next, r->n);
        evlog_dispose(&d);
    }
}

TEST(evwrite_roundtrip_every_layout)
{
    static const char *const args[] = {"prog", "a b", ""}, *const env[] = {"K=V"};
    static const char *const filter[7] = {"M", NULL, "T", "", "", "", "bio"};
    static const uint32_t ccs[3] = {5, 6, 7}, ticks[2] = {9, 10};
    static const uint64_t sparks[7] = {1, 2, 3, 4, 5, 6, 7};
    const uint64_t task = 0x7f00dead0000ull;
    rt_t t = {.ts = 100};
    REQUIRE(evwrite_init(&t.w) == 0 && evwrite_header(&t.w, NULL, 0) == 0);
    const uint8_t *buf = evwrite_data(&t.w, &t.from);
    REQUIRE(evlog_init(&t.d, NULL) == 0 && evlog_feed(&t.d, buf, t.from) == 0);
    REQUIRE(evlog_types(&t.d) != NULL);
    const evlog_event_t *e = ONE(EVLOG_BLOCK_MARKER, evwrite_block_begin(&t.w, 0xFFFF, TS));
    CHECK(e->f.block.cap == 0xFFFF);
    e = ONE(EVLOG_CAPSET_CREATE, evwrite_capset_create(&t.w, TS, 0, 2));
    CHECK(e->f.capset_create.capset == 0 && e->f.capset_create.type == 2);
    e = ONE(EVLOG_CAPSET_ASSIGN_CAP, evwrite_capset_cap(&t.w, EVLOG_CAPSET_ASSIGN_CAP, TS, 0, 1));
    CHECK(e->f.capset_cap.capset == 0 && e->f.capset_cap.cap == 1);
    e = ONE(EVLOG_CAPSET_REMOVE_CAP, evwrite_capset_cap(&t.w, EVLOG_CAPSET_REMOVE_CAP, TS, 1, 2));
    CHECK(e->f.capset_cap.capset == 1 && e->f.capset_cap.cap == 2);
    e = ONE(EVLOG_CAPSET_DELETE, evwrite_capset_delete(&t.w, TS, 1));
    CHECK(e->f.capset.capset == 1);
    e = ONE(EVLOG_RTS_IDENTIFIER,
            evwrite_capset_text(&t.w, EVLOG_RTS_IDENTIFIER, TS, 0, "GHC-9.0.2 rts_thr_l", 19));
    CHECK(TEXT_IS(e->f.capset_text.text, "GHC-9.0.2 rts_thr_l"));
    e = ONE(EVLOG_PROGRAM_ARGS, evwrite_capset_strings(&t.w, EVLOG_PROGRAM_ARGS, TS, 0, args, 3));
    CHECK(TEXT_IS(e->f.capset_text.text, "prog\0a b\0\0"));
    e = ONE(EVLOG_PROGRAM_ENV, evwrite_capset_strings(&t.w, EVLOG_PROGRAM_ENV, TS, 0, env, 1));
    CHECK(TEXT_IS(e->f.capset_text.text, "K=V\0"));
    e = ONE(EVLOG_OSPROCESS_PID, evwrite_pid(&t.w, EVLOG_OSPROCESS_PID, TS, 0, 4242));
    CHECK(e->f.pid.capset == 0 && e->f.pid.pid == 4242);
    e = ONE(EVLOG_OSPROCESS_PPID, evwrite_pid(&t.w, EVLOG_OSPROCESS_PPID, TS, 0, 1));
    CHECK(e->f.pid.pid == 1);
    e = ONE(EVLOG_WALL_CLOCK_TIME, evwrite_wall_clock(&t.w, TS, 1, 1700000000, 123456789));
    CHECK(e->f.wall.capset == 1 && e->f.wall.sec == 1700000000 && e->f.wall.nsec == 123456789);
    e = ONE(EVLOG_TASK_CREATE, evwrite_task_create(&t.w, TS, task, 1, 999));
    CHECK(e->f.task_create.task == task && e->f.task_create.cap == 1 &&
          e->f.task_create.kernel_tid == 999);
    e = ONE(EVLOG_TASK_MIGRATE, evwrite_task_migrate(&t.w, TS, task, 1, 0));
    CHECK(e->f.task_migrate.task == task && e->f.task_migrate.cap == 1 &&
          e->f.task_migrate.new_cap == 0);
    e = ONE(EVLOG_TASK_DELETE, evwrite_task_delete(&t.w, TS, task));
    CHECK(e->f.task_delete.task == task);
    e = ONE(EVLOG_HEAP_INFO_GHC, evwrite_heap_info(&t.w, TS, 0, 2, 7, 1 << 20, 1 << 21, 4096));
    CHECK(e->f.heap_info.gens == 2 && e->f.heap_info.max_heap == 7 &&
          e->f.heap_info.alloc_area == 1 << 20 && e->f.heap_info.mblock == 1 << 21 &&
          e->f.heap_info.block == 4096);
    for (uint16_t k = EVLOG_CAP_CREATE; k <= EVLOG_CAP_ENABLE; k++) {
        e = ONE(k, evwrite_cap(&t.w, k, TS, k));
        CHECK(e->f.cap.cap == k);
    }
    e = ONE(EVLOG_HEAP_PROF_BEGIN, evwrite_hp_begin(&t.w, TS, 0, 10000000, 7, filter));
    CHECK(e->f.hp_begin.prof_id == 0 && e->f.hp_begin.period == 10000000 &&
          e->f.hp_begin.breakdown == 7 && TEXT_IS(e->f.hp_begin.filter[0], "M") &&
          TEXT_IS(e->f.hp_begin.filter[1], "") && TEXT_IS(e->f.hp_begin.filter[2], "T") &&
          TEXT_IS(e->f.hp_begin.filter[6], "bio"));
    e = ONE(EVLOG_HEAP_PROF_COST_CENTRE,
            evwrite_hp_cost_centre(&t.w, TS, 5, "lbl", "Mod", "Mod.hs:1:1", 1));
    CHECK(e->f.hp_cc.cc_id == 5 && TEXT_IS(e->f.hp_cc.label, "lbl") &&
          TEXT_IS(e->f.hp_cc.module, "Mod") && TEXT_IS(e->f.hp_cc.srcloc, "Mod.hs:1:1") &&
          e->f.hp_cc.flags == 1);
    e = ONE(EVLOG_HEAP_PROF_SAMPLE_BEGIN, evwrite_era(&t.w, EVLOG_HEAP_PROF_SAMPLE_BEGIN, TS, 3));
    CHECK(e->f.era.era == 3);
    e = ONE(EVLOG_HEAP_PROF_SAMPLE_COST_CENTRE, evwrite_hp_sample_cc(&t.w, TS, 0, 4096, 3, ccs));
    CHECK(e->f.hp_sample_cc.residency == 4096 && e->f.hp_sample_cc.depth == 3 &&
          evlog_u32(e->f.hp_sample_cc.stack) == 5 && evlog_u32(e->f.hp_sample_cc.stack + 8) == 7);
    e = ONE(EVLOG_HEAP_PROF_SAMPLE_STRING,
            evwrite_hp_sample_string(&t.w, TS, 0, 96, "ghc-prim:GHC.Types.:"));
    CHECK(e->f.hp_sample_str.residency == 96 &&
          TEXT_IS(e->f.hp_sample_str.label, "ghc-prim:GHC.Types.:"));
    e = ONE(EVLOG_HEAP_PROF_SAMPLE_END, evwrite_era(&t.w, EVLOG_HEAP_PROF_SAMPLE_END, TS, 4));
    CHECK(e->f.era.era == 4);
    e = ONE(EVLOG_HEAP_BIO_PROF_SAMPLE_BEGIN, evwrite_bio_begin(&t.w, TS, 3, 1234));
    CHECK(e->f.bio_begin.era == 3 && e->f.bio_begin.time == 1234);
    e = ONE(EVLOG_LOG_MSG, evwrite_msg(&t.w, EVLOG_LOG_MSG, TS, "log", 3));
    CHECK(TEXT_IS(e->f.msg.text, "log"));
    e = ONE(EVLOG_CONC_MARK_END, evwrite_conc_mark_end(&t.w, TS, 77));
    CHECK(e->f.conc_mark_end.marked == 77);
    for (uint16_t k = EVLOG_CONC_SYNC_BEGIN; k <= EVLOG_CONC_SWEEP_END; k++)
        ONE(k, evwrite_empty(&t.w, k, TS));
    ONE(EVLOG_CONC_MARK_BEGIN, evwrite_empty(&t.w, EVLOG_CONC_MARK_BEGIN, TS));
    e = ONE(EVLOG_NONMOVING_HEAP_CENSUS, evwrite_census(&t.w, TS, 6, 10, 20, 30));
    CHECK(e->f.census.log2_blk_size == 6 && e->f.census.active == 10 && e->f.census.filled == 20 &&
          e->f.census.live == 30);
    e = ONE(EVLOG_CONC_UPD_REM_SET_FLUSH, evwrite_cap(&t.w, EVLOG_CONC_UPD_REM_SET_FLUSH, TS, 1));
    CHECK(e->f.cap.cap == 1);
    e = ONE(EVLOG_PROF_BEGIN, evwrite_prof_begin(&t.w, TS, 1000000));
    CHECK(e->f.prof_begin.tick_interval == 1000000);
    e = ONE(EVLOG_PROF_SAMPLE_COST_CENTRE, evwrite_prof_sample(&t.w, TS, 1, 5, 2, ticks));
    CHECK(e->f.prof_sample.cap == 1 && e->f.prof_sample.ticks == 5 && e->f.prof_sample.depth == 2 &&
          evlog_u32(e->f.prof_sample.stack + 4) == 10);
    e = ONE(EVLOG_HACK_BUG_T9003, evwrite_empty(&t.w, EVLOG_HACK_BUG_T9003, TS));
    CHECK(e->size == 0);
    REQUIRE(evwrite_block_end(&t.w, 999) == 0);
    evwrite_data(&t.w, &t.from); /* the marker was patched in place; nothing new */
    e = ONE(EVLOG_BLOCK_MARKER, evwrite_block_begin(&t.w, 1, TS));
    CHECK(e->f.block.cap == 1);
    for (uint16_t k = EVLOG_CREATE_THREAD; k <= EVLOG_THREAD_RUNNABLE; k += 1 + (k == 1)) {
        e = ONE(k, evwrite_thread(&t.w, k, TS, 7));
        CHECK(e->f.thread.tid == 7);
    }
    e = ONE(EVLOG_CREATE_SPARK_THREAD, evwrite_thread(&t.w, EVLOG_CREATE_SPARK_THREAD, TS, 8));
    CHECK(e->f.thread.tid == 8);
    e = ONE(EVLOG_STOP_THREAD, evwrite_stop_thread(&t.w, TS, 7, 8, 3));
    CHECK(e->f.stop.tid == 7 && e->f.stop.status == 8 && e->f.stop.blocked_on == 3);
    e = ONE(EVLOG_MIGRATE_THREAD, evwrite_thread_cap(&t.w, EVLOG_MIGRATE_THREAD, TS, 7, 0));
    CHECK(e->f.thread_cap.tid == 7 && e->f.thread_cap.cap == 0);
    e = ONE(EVLOG_THREAD_WAKEUP, evwrite_thread_cap(&t.w, EVLOG_THREAD_WAKEUP, TS, 7, 1));
    CHECK(e->f.thread_cap.tid == 7 && e->f.thread_cap.cap == 1);
    e = ONE(EVLOG_THREAD_LABEL, evwrite_thread_label(&t.w, TS, 7, "worker-\xff", 8));
    CHECK(e->f.label.tid == 7 && TEXT_IS(e->f.label.text, "worker-\xff"));
    e = ONE(EVLOG_USER_MSG, evwrite_msg(&t.w, EVLOG_USER_MSG, TS, "START 3 job", 11));
    CHECK(TEXT_IS(e->f.msg.text, "START 3 job"));
    e = ONE(EVLOG_USER_MARKER, evwrite_msg(&t.w, EVLOG_USER_MARKER, TS, "mark", 4));
    CHECK(TEXT_IS(e->f.msg.text, "mark"));
    e = ONE(EVLOG_USER_BINARY_MSG, evwrite_msg(&t.w, EVLOG_USER_BINARY_MSG, TS, "\0\1\2", 3));
    CHECK(TEXT_IS(e->f.msg.text, "\0\1\2"));
    for (int k = 0; k < 7; k++)
        ONE(gc_types[k], evwrite_empty(&t.w, gc_types[k], TS));
    e = ONE(EVLOG_GC_STATS_GHC, evwrite_gc_stats(&t.w, TS, 0, 1, 100, 200, 300, 2, 50, 100, 25));
    CHECK(e->f.gc_stats.gen == 1 && e->f.gc_stats.copied == 100 && e->f.gc_stats.slop == 200 &&
          e->f.gc_stats.frag == 300 && e->f.gc_stats.par_n_threads == 2 &&
          e->f.gc_stats.par_max_copied == 50 && e->f.gc_stats.par_tot_copied == 100 &&
          e->f.gc_stats.has_balanced && e->f.gc_stats.par_balanced_copied == 25);
    t.ts -= 2; /* GC_END goes after the stats with an earlier time, as GHC writes it */
    ONE(EVLOG_GC_END, evwrite_empty(&t.w, EVLOG_GC_END, TS));
    for (uint16_t k = EVLOG_HEAP_ALLOCATED; k <= EVLOG_HEAP_LIVE; k++) {
        e = ONE(k, evwrite_heap(&t.w, k, TS, 0, ((uint64_t)1 << 40) + k));
        CHECK(e->f.heap.capset == 0 && e->f.heap.bytes == ((uint64_t)1 << 40) + k);
    }
    e = ONE(EVLOG_SPARK_COUNTERS, evwrite_spark_counters(&t.w, TS, sparks));
    CHECK(e->f.spark_counters.v[0] == 1 && e->f.spark_counters.v[6] == 7);
    for (int k = 0; k < 6; k++)
        ONE(spark_types[k], evwrite_empty(&t.w, spark_types[k], TS));
    e = ONE(EVLOG_SPARK_STEAL, evwrite_cap(&t.w, EVLOG_SPARK_STEAL, TS, 0));
    CHECK(e->f.cap.cap == 0);
    REQUIRE(evwrite_block_end(&t.w, 9999) == 0);
    evwrite_data(&t.w, &t.from);
    e = ONE(EVLOG_RUN_THREAD, evwrite_thread(&t.w, EVLOG_RUN_THREAD, TS, 77)); /* outside */
    REQUIRE(evwrite_end(&t.w) == 0);
    /* the whole log through the streaming decoder: capabilities from the blocks */
    size_t len;
    buf = evwrite_data(&t.w, &len);
    recs_t r;
    REQUIRE(decode(buf, len, &r) == 0);
    CHECK(r.warnings == 0 && r.ntypes == 69);
    int cap = -2, markers = 0;
    for (size_t i = 0; i < r.n; i++) {
        if (r.v[i].type == EVLOG_BLOCK_MARKER) {
            cap = r.v[i].f.block.cap == 0xFFFF ? EVLOG_NO_CAP : r.v[i].f.block.cap;
            CHECK(r.v[i].f.block.end_time == (markers++ ? 9999u : 999u));
            continue;
        }
        int want = i + 1 == r.n ? EVLOG_NO_CAP : cap;
        CHECKF(r.v[i].cap == want, "event %zu (type %u): cap %d", i, r.v[i].type, r.v[i].cap);
    }
    CHECK(markers == 2);
    CHECK_EQ_U64(strip_markers(&r), evwrite_events(&t.w));
    REQUIRE(decode(buf, len, &r) == 0);
    check_chunked(buf, len, &r);
    free(r.v);
    evlog_dispose(&t.d);
    evwrite_dispose(&t.w);
}

/* ---- custom tables: bigger, smaller, extra and unknown types ---- */

TEST(evwrite_custom_table)
{
    static const uint8_t extra[3] = {1, 2, 3};
    const evwrite_type_t types[] = {
        {EVLOG_BLOCK_MARKER, 14, "Block marker"},
        {EVLOG_STOP_THREAD, 14, "Stop thread (newer, longer)"},
        {EVLOG_GC_STATS_GHC, 50, "GC statistics (older, shorter)"},
        {EVLOG_USER_MSG, EVLOG_VAR_SIZE, "User message", extra, 3},
        {EVLOG_CREATE_THREAD, EVLOG_VAR_SIZE, "Create thread, declared variable"},
        {300, 5, "Something new"},
        {301, EVLOG_VAR_SIZE, "Something new, variable"},
    };
    evwrite_t w;
    REQUIRE(evwrite_init(&w) == 0);
    REQUIRE(evwrite_header(&w, types, 7) == 0);
    evwrite_block_begin(&w, 0, 10);
    evwrite_stop_thread(&w, 11, 5, 7, 0);
    evwrite_gc_stats(&w, 12, 0, 1, 2, 3, 4, 5, 6, 7, 8);
    evwrite_msg(&w, EVLOG_USER_MSG, 13, "STOP x", 6);
    evwrite_thread(&w, EVLOG_CREATE_THREAD, 14, 9);
    evwrite_event(&w, 300, 15, "abcdefgh", 8); /* cut to 5 */
    evwrite_event(&w, 301, 16, "xyz", 3);
    evwrite_event(&w, 300, 17, "ab", 2); /* padded to 5 */
    evwrite_block_end(&w, 17);
    evwrite_end(&w);
    REQUIRE(evwrite_error(&w) == 0);
    CHECK(evwrite_thread(&w, EVLOG_RUN_THREAD, 18, 9) == LP_EUNDECLARED_TYPE);
    size_t len, i = 0;
    const uint8_t *buf = evwrite_data(&w, &len);
    recs_t r;
    REQUIRE(decode(buf, len, &r) == 0);
    CHECK(r.warnings == 0);
    REQUIRE(r.ntypes == 7);
    CHECK(r.types[1].num == EVLOG_STOP_THREAD && r.types[1].size == 14);
    CHECK(r.types[6].num == 301 && r.types[6].size == EVLOG_VAR_SIZE &&
          TEXT_IS(r.types[6].desc, "Something new, variable"));
    REQUIRE(strip_markers(&r) == 7);
    const evlog_event_t *e = next_ev(&r, &i, EVLOG_STOP_THREAD, 11, 0);
    CHECK(e->size == 14 && e->f.stop.tid == 5 && e->f.stop.status == 7 &&
          !memcmp(e->payload + 10, "\0\0\0\0", 4));
    e = next_ev(&r, &i, EVLOG_GC_STATS_GHC, 12, 0);
    CHECK(e->size == 50 && !e->f.gc_stats.has_balanced && e->f.gc_stats.par_tot_copied == 7);
    e = next_ev(&r, &i, EVLOG_USER_MSG, 13, 0);
    CHECK(TEXT_IS(e->f.msg.text, "STOP x"));
    e = next_ev(&r, &i, EVLOG_CREATE_THREAD, 14, 0);
    CHECK(e->size == 4 && e->f.thread.tid == 9);
    CHECK(r.v[4].type == 300 && !r.v[4].known && r.v[4].size == 5 &&
          !memcmp(r.v[4].payload, "abcde", 5));
    CHECK(r.v[5].type == 301 && r.v[5].size == 3 && !memcmp(r.v[5].payload, "xyz", 3));
    CHECK(r.v[6].type == 300 && r.v[6].size == 5 && !memcmp(r.v[6].payload, "ab\0\0\0", 5));
    free(r.v);
    evwrite_dispose(&w);
}

/* ---- blocks ---- */

TEST(evwrite_block_sizes)
{
    evwrite_t w;
    REQUIRE(evwrite_init(&w) == 0);
    evwrite_header(&w, NULL, 0);
    CHECK(evwrite_block_len(&w) == 0);
    for (uint16_t b = 0; b < 5; b++) {
        REQUIRE(evwrite_block_begin(&w, b == 4 ? 0xFFFF : b % 2, 1000u * b) == 0);
        CHECK(evwrite_block_len(&w) == 24);
        for (uint32_t k = 0; k < 10u * b; k++) {
            evwrite_thread(&w, EVLOG_RUN_THREAD, 1000u * b + k, k);
            evwrite_msg(&w, EVLOG_USER_MSG, 1000u * b + k, "START a", 7 - k % 3);
        }
        CHECK(evwrite_block_len(&w) > 24 || b == 0);
        REQUIRE(evwrite_block_end(&w, 1000u * b + 999) == 0);
    }
    evwrite_end(&w);
    size_t len;
    const uint8_t *buf = evwrite_data(&w, &len);
    recs_t r;
    REQUIRE(decode(buf, len, &r) == 0);
    CHECK(r.warnings == 0);
    /* each block ends exactly where the next marker (or the end marker) starts */
    uint64_t expect = 0;
    int markers = 0;
    for (size_t i = 0; i < r.n; i++) {
        const evlog_event_t *m = &r.v[i];
        if (m->type != EVLOG_BLOCK_MARKER) continue;
        CHECKF(!markers || m->offset == expect, "block %d starts at %llu, not %llu", markers,
               (unsigned long long)m->offset, (unsigned long long)expect);
        expect = m->offset + m->f.block.size;
        CHECK(m->ts == 1000u * markers && m->f.block.end_time == 1000u * markers + 999);
        CHECK(m->f.block.cap == (markers == 4 ? 0xFFFF : markers % 2));
        markers++;
    }
    CHECK(markers == 5 && expect == len - 2);
    CHECK_EQ_U64(evwrite_events(&w), 2 * (10 + 20 + 30 + 40));
    free(r.v);
    evwrite_dispose(&w);
}

/* Disposes w and sets it up afresh. */
static evwrite_t *renew(evwrite_t *w)
{
    evwrite_dispose(w);
    REQUIRE(evwrite_init(w) == 0);
    return w;
}

TEST(evwrite_errors)
{
    static uint8_t big[70000];
    evwrite_t w = {0};
    CHECK(evwrite_msg(renew(&w), EVLOG_USER_MSG, 1, big, 65535) == 0);
    CHECK(evwrite_msg(&w, EVLOG_USER_MSG, 1, big, 65536) == LP_ERANGE);
    CHECK(evwrite_thread(&w, EVLOG_RUN_THREAD, 2, 1) == LP_ERANGE); /* errors stick */
    CHECK(evwrite_error(&w) == LP_ERANGE);
    CHECK(evwrite_thread(renew(&w), EVLOG_STOP_THREAD, 1, 1) == LP_EARG); /* another layout */
    CHECK(evwrite_event(renew(&w), 300, 1, "x", 1) == LP_EUNDECLARED_TYPE);
    CHECK(evwrite_block_end(renew(&w), 1) == LP_EARG); /* no open block */
    CHECK(evwrite_block_begin(renew(&w), 0, 1) == 0 && evwrite_end(&w) == LP_EARG);
    CHECK(evwrite_block_begin(renew(&w), 0, 1) == 0 && evwrite_block_begin(&w, 0, 1) == LP_EARG);
    evwrite_type_t bad = {1, 70000, "too big"};
    CHECK(evwrite_declare(renew(&w), &bad, 1) == LP_EARG && evwrite_error(&w) == 0);
    /* take hands the bytes over and leaves an empty encoder */
    size_t len = 1;
    CHECK(evwrite_take(&w, &len) == NULL && len == 0);
    evwrite_raw(&w, "junk", 4);
    uint8_t *b = evwrite_take(&w, &len);
    CHECK(b && len == 4 && !memcmp(b, "junk", 4) && evwrite_bytes(&w) == 0);
    free(b);
    evwrite_dispose(&w);
    evwrite_dispose(&w); /* twice is harmless */
    CHECK(evwrite_init_fd(&w, -1, 0) == LP_EARG);
    CHECK(evwrite_init_file(&w, NULL, 0) == LP_EARG);
}

/* ---- sinks and splicing ---- */

/* A log with blocks bigger than a small sink buffer, and events outside blocks; with `via`,
 * each block and event is written there first and spliced into w. */
static void write_blocks(evwrite_t *w, evwrite_t *via)
{
    evwrite_t *o = via ? via : w;
    evwrite_header(w, NULL, 0);
    evwrite_thread(o, EVLOG_CREATE_THREAD, 1, 1);
    for (uint32_t b = 0; b < 6; b++) {
        evwrite_block_begin(o, (uint16_t)(b % 3), 10 + b);
        for (uint32_t k = 0; k < 200 * b; k++)
            evwrite_msg(o, EVLOG_USER_MSG, 10 + b + k, "START some label", 16);
        evwrite_block_end(o, 10 + 200 * b);
        if (via) evwrite_splice(w, via);
        evwrite_thread(o, EVLOG_RUN_THREAD, 5000 + b, b);
    }
    if (via) evwrite_splice(w, via);
    evwrite_end(w);
}

TEST(evwrite_sinks_write_the_same_bytes)
{
    evwrite_t m, out, via;
    REQUIRE(evwrite_init(&m) == 0 && evwrite_init(&via) == 0);
    write_blocks(&m, NULL);
    size_t len, got_len;
    const uint8_t *want = evwrite_data(&m, &len);
    char path[512];
    snprintf(path, sizeof path, "%s/out.eventlog", tu_tmpdir());
    for (int k = 0; k < 3; k++) { /* fd, FILE*, fd fed by splicing */
        FILE *fp = fopen(path, "wb");
        REQUIRE(fp);
        /* a 1000-byte buffer: blocks are far bigger */
        int rc = k == 1 ? evwrite_init_file(&out, fp, 0) : evwrite_init_fd(&out, fileno(fp), 1000);
        REQUIRE(rc == 0);
        write_blocks(&out, k == 2 ? &via : NULL);
        CHECK(evwrite_flush(&out) == 0);
        CHECK(evwrite_bytes(&out) == len && evwrite_events(&out) == evwrite_events(&m));
        fclose(fp);
        uint8_t *got = tu_read_file(path, &got_len);
        CHECKF(got && got_len == len && !memcmp(got, want, len), "sink %d: other bytes", k);
        free(got);
        evwrite_dispose(&out);
    }
    evwrite_dispose(&via);
    evwrite_dispose(&m);
}

TEST(evwrite_splice_interleaves_capabilities)
{
    /* two capability buffers flushed in turn into one output, as the RTS does */
    evwrite_t out, cap[2], scratch;
    REQUIRE(evwrite_init(&out) == 0 && evwrite_init(&scratch) == 0);
    for (int c = 0; c < 2; c++)
        REQUIRE(evwrite_init(&cap[c]) == 0);
    evwrite_header(&out, NULL, 0);
    for (uint32_t round = 0; round < 3; round++)
        for (uint16_t c = 0; c < 2; c++) {
            evwrite_block_begin(&cap[c], c, 1000 * round + c);
            for (uint32_t k = 0; k <= round; k++)
                evwrite_thread(&cap[c], EVLOG_RUN_THREAD, 1000 * round + c + k, 100u * c + round);
            if (round == 0 && c == 0) CHECK(evwrite_splice(&scratch, &cap[c]) == LP_EARG);
            evwrite_block_end(&cap[c], 1000 * round + 500);
            CHECK_EQ_U64(evwrite_events(&cap[c]), round + 1);
            CHECK(evwrite_splice(&out, &cap[c]) == 0);
            CHECK(evwrite_events(&cap[c]) == 0 && evwrite_bytes(&cap[c]) == 0);
        }
    evwrite_end(&out);
    CHECK(evwrite_error(&out) == 0);
    CHECK(evwrite_error(&scratch) == LP_EARG);
    CHECK_EQ_U64(evwrite_events(&out), 2 * (1 + 2 + 3));
    size_t len;
    const uint8_t *buf = evwrite_data(&out, &len);
    recs_t r;
    REQUIRE(decode(buf, len, &r) == 0);
    CHECK(r.warnings == 0);
    int block = 0;
    for (size_t i = 0; i < r.n; i++) {
        const evlog_event_t *e = &r.v[i];
        if (e->type == EVLOG_BLOCK_MARKER) {
            CHECK(e->f.block.cap == block % 2 && e->ts == 1000u * (block / 2) + block % 2);
            block++;
            continue;
        }
        CHECK(e->cap == (int)(e->f.thread.tid / 100) &&
              (int)e->f.thread.tid % 100 == (block - 1) / 2);
    }
    CHECK(block == 6);
    CHECK_EQ_U64(strip_markers(&r), 12);
    free(r.v);
    for (int c = 0; c < 2; c++)
        evwrite_dispose(&cap[c]);
    evwrite_dispose(&scratch);
    evwrite_dispose(&out);
}

/* ---- the generator, build/bench-gen ---- */

static const char *gen_bin(void)
{
    const char *b = getenv("LIVEPROF_BENCH_GEN");
    return b && *b ? b : "build/bench-gen";
}

/* Runs bench-gen ARGS writing to stdout; returns the log and, when `sum` is not NULL, the
 * summary's events, threads and labels. */
static uint8_t *gen_run(const char *args, size_t *len, uint64_t sum[3])
{
    char cmd[1024], err[512];
    CHECKF(access(gen_bin(), X_OK) == 0, "%s is missing: make %s", gen_bin(), gen_bin());
    REQUIRE(access(gen_bin(), X_OK) == 0);
    snprintf(err, sizeof err, "%s/gen.err", tu_tmpdir());
    snprintf(cmd, sizeof cmd, "%s %s -o - 2>%s", gen_bin(), args, err);
    uint8_t *out = NULL;
    REQUIRE(tu_run(cmd, &out, len) == 0 && out);
    size_t elen;
    char *line = (char *)tu_read_file(err, &elen);
    REQUIRE(line);
    const char *keys[3] = {" events=", " threads=", " labels="};
    for (int k = 0; k < 3 && sum; k++) {
        const char *at = strstr(line, keys[k]);
        REQUIRE(at);
        sum[k] = strtoull(at + strlen(keys[k]), NULL, 10);
    }
    uint64_t bytes = strtoull(strstr(line, " bytes=") + 7, NULL, 10);
    CHECKF(bytes == *len, "summary says %llu bytes, got %zu", (unsigned long long)bytes, *len);
    free(line);
    return out;
}

TEST(gen_is_deterministic)
{
    static const char *const cases[][2] = {
        {"--size 300K --seed 7", "--size 300K --seed 8"},
        {"--gea --rounds 1 --iters 80 --caps 2", "--gea --rounds 1 --iters 80 --caps 2 --seed 2"},
        {"--events 5k --shape many-threads --caps 3", "--events 5k --shape many-labels --caps 3"},
    };
    char cmd[1024], path[512];
    snprintf(path, sizeof path, "%s/g.eventlog", tu_tmpdir());
    for (size_t c = 0; c < 3; c++) {
        size_t la, lb, lc, lf = 0;
        uint8_t *a = gen_run(cases[c][0], &la, NULL), *b = gen_run(cases[c][0], &lb, NULL);
        uint8_t *d = gen_run(cases[c][1], &lc, NULL);
        CHECKF(la == lb && !memcmp(a, b, la), "%s: two runs differ", cases[c][0]);
        CHECKF(la != lc || memcmp(a, d, la), "%s and %s: same bytes", cases[c][0], cases[c][1]);
        /* a file gets the same bytes as stdout */
        snprintf(cmd, sizeof cmd, "%s %s -o %s 2>/dev/null", gen_bin(), cases[c][0], path);
        uint8_t *f = tu_run(cmd, NULL, NULL) == 0 ? tu_read_file(path, &lf) : NULL;
        CHECKF(f && lf == la && !memcmp(f, a, la), "%s: the file differs", cases[c][0]);
        free(a);
        free(b);
        free(d);
        free(f);
    }
}

/* Per-label START/STOP bookkeeping of one generated log. */
typedef struct msg_rec {
    uint64_t ts, seq;
    uint32_t tid, label;
    bool start;
} msg_rec_t;

typedef struct gen_check {
    char labels[4096][72]; /* distinct START/STOP texts */
    uint32_t nlabels;
    msg_rec_t *msgs;
    size_t nmsgs, cap_msgs;
    uint32_t running[8];    /* per capability, file order */
    uint8_t tids[1u << 20]; /* tids seen in CreateThread */
    uint32_t threads;
    uint64_t last_ts[9], decreases, last_stats_ts, end_gc_not_earlier;
    int bad;
} gen_check_t;

/* Takes one event of a generated log, in file order. */
static void gen_event(gen_check_t *g, const evlog_event_t *ev)
{
    int slot = ev->cap < 0 ? 8 : ev->cap;
    if (ev->cap >= 8) g->bad++;
    if (ev->type == EVLOG_BLOCK_MARKER) {
        g->last_ts[slot] = 0;
        return;
    }
    if (ev->ts < g->last_ts[slot] && ev->type != EVLOG_GC_END) g->decreases++;
    if (ev->ts > g->last_ts[slot]) g->last_ts[slot] = ev->ts;
    if (ev->type == EVLOG_GC_STATS_GHC) g->last_stats_ts = ev->ts;
    if (ev->type == EVLOG_GC_END && g->last_stats_ts && ev->ts >= g->last_stats_ts)
        g->end_gc_not_earlier++;
    if (ev->type == EVLOG_GC_END) g->last_stats_ts = 0;
    if (ev->type == EVLOG_CREATE_THREAD && ev->f.thread.tid < (1u << 20) &&
        !g->tids[ev->f.thread.tid]++)
        g->threads++;
    if (ev->type == EVLOG_RUN_THREAD && slot < 8) g->running[slot] = ev->f.thread.tid;
    if (ev->type == EVLOG_STOP_THREAD && slot < 8) g->running[slot] = 0;
    if (ev->type != EVLOG_USER_MSG) return;
    evlog_bytes_t t = ev->f.msg.text;
    bool start = t.len > 6 && !memcmp(t.p, "START ", 6);
    if (!start && !(t.len > 5 && !memcmp(t.p, "STOP ", 5))) return;
    size_t skip = start ? 6 : 5, n = t.len - skip;
    if (slot == 8 || !g->running[slot] || n >= 72) g->bad++;
    uint32_t l = 0;
    while (l < g->nlabels && (strlen(g->labels[l]) != n || memcmp(g->labels[l], t.p + skip, n)))
        l++;
    if (l == g->nlabels && g->nlabels < 4096 && n < 72) {
        memcpy(g->labels[l], t.p + skip, n);
        g->labels[l][n] = 0;
        g->nlabels++;
    }
    if (g->nmsgs == g->cap_msgs) {
        g->cap_msgs = g->cap_msgs ? 2 * g->cap_msgs : 1024;
        g->msgs = realloc(g->msgs, g->cap_msgs * sizeof *g->msgs);
        REQUIRE(g->msgs);
    }
    g->msgs[g->nmsgs] = (msg_rec_t){ev->ts, g->nmsgs, slot < 8 ? g->running[slot] : 0, l, start};
    g->nmsgs++;
    return;
}

static int by_time(const void *a, const void *b)
{
    const msg_rec_t *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Checks per-thread nesting of START/STOP in time order; returns the number of violations. */
static int check_nesting(gen_check_t *g)
{
    qsort(g->msgs, g->nmsgs, sizeof *g->msgs, by_time);
    uint32_t max_tid = 0;
    for (size_t i = 0; i < g->nmsgs; i++)
        if (g->msgs[i].tid > max_tid) max_tid = g->msgs[i].tid;
    uint32_t(*stack)[8] = calloc((size_t)max_tid + 1, sizeof *stack);
    uint8_t *depth = calloc((size_t)max_tid + 1, 1);
    REQUIRE(stack && depth);
    int bad = 0;
    for (size_t i = 0; i < g->nmsgs; i++) {
        msg_rec_t *m = &g->msgs[i];
        if (m->start) {
            if (depth[m->tid] < 8) stack[m->tid][depth[m->tid]++] = m->label;
        } else if (!depth[m->tid] || stack[m->tid][--depth[m->tid]] != m->label) {
            bad++;
        }
    }
    for (uint32_t t = 0; t <= max_tid; t++)
        bad += depth[t]; /* all closed by the end */
    free(stack);
    free(depth);
    return bad;
}

TEST(gen_logs_are_valid)
{
    static const struct {
        const char *args;
        uint64_t size, events, max_threads, max_labels;
    } cases[] = {
        {"--size 600K", 600 << 10, 0, 1000, 100},
        {"--size 600K --shape many-threads --threads 500 --caps 2", 600 << 10, 0, 500, 16},
        {"--size 400K --shape many-labels --labels 300 --caps 3", 400 << 10, 0, 64, 300},
        {"--events 20k --caps 1 --threads 12 --labels 5", 0, 20000, 12, 5},
        {"--gea --rounds 2 --iters 100 --caps 2", 0, 0, 13, 14},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t len;
        uint64_t sum[3];
        uint8_t *log = gen_run(cases[c].args, &len, sum);
        recs_t r;
        REQUIRE(decode(log, len, &r) == 0);
        CHECKF(r.warnings == 0, "%s: %d warnings", cases[c].args, r.warnings);
        /* blocks chain exactly; the global block comes last */
        static gen_check_t g;
        memset(&g, 0, sizeof g);
        uint64_t expect = 0, markers = 0;
        int last_cap = -2;
        for (size_t i = 0; i < r.n; i++) {
            gen_event(&g, &r.v[i]);
            if (r.v[i].type != EVLOG_BLOCK_MARKER) continue;
            CHECKF(!markers || r.v[i].offset == expect, "%s: block %llu", cases[c].args,
                   (unsigned long long)markers);
            expect = r.v[i].offset + r.v[i].f.block.size;
            last_cap = r.v[i].f.block.cap;
            markers++;
        }
        CHECK(expect == len - 2 && last_cap == 0xFFFF);
        CHECK_EQ_U64(strip_markers(&r), sum[0]);
        if (cases[c].size) CHECK(len >= cases[c].size && len < cases[c].size + 16384);
        if (cases[c].events) CHECK(sum[0] >= cases[c].events && sum[0] < cases[c].events + 100);
        /* the content: bounds, time order, nesting */
        CHECKF(g.threads == sum[1] && g.threads <= cases[c].max_threads && g.threads > 1,
               "%s: %u threads, summary %llu", cases[c].args, g.threads,
               (unsigned long long)sum[1]);
        CHECKF(g.nlabels == sum[2] && g.nlabels <= cases[c].max_labels && g.nlabels > 2,
               "%s: %u labels, summary %llu", cases[c].args, g.nlabels, (unsigned long long)sum[2]);
        CHECKF(g.bad == 0 && g.decreases == 0 && g.end_gc_not_earlier == 0,
               "%s: %d bad, %llu decreases, %llu late EndGC", cases[c].args, g.bad,
               (unsigned long long)g.decreases, (unsigned long long)g.end_gc_not_earlier);
        int nest = check_nesting(&g);
        CHECKF(nest == 0, "%s: %d START/STOP nesting errors", cases[c].args, nest);
        free(g.msgs);
        free(r.v);
        free(log);
    }
}
