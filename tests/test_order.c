/* Tests of the file ordering: its output must be exactly the stable sort by timestamp of the
 * file order, from memory and from a file, on the fast (block marker) path, after a fallback,
 * and on the exact path. */
#include "test.h"

#include "err.h"
#include "evwrite.h"
#include "order.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct key {
    uint64_t ts, off;
} key_t_;

typedef struct collect {
    key_t_ *k;
    size_t n, cap;
    int resets;
} collect_t;

static int collect_event(void *ctx, const evlog_event_t *ev)
{
    collect_t *c = ctx;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->k = realloc(c->k, c->cap * sizeof *c->k);
    }
    c->k[c->n].ts = ev->ts;
    c->k[c->n++].off = ev->offset;
    return 0;
}

static void collect_reset(void *ctx)
{
    collect_t *c = ctx;
    c->n = 0;
    c->resets++;
}

static int key_cmp(const void *a, const void *b)
{
    const key_t_ *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* The reference: every event in file order, then a stable sort by timestamp. */
static collect_t reference(const uint8_t *buf, size_t len)
{
    collect_t c = {0};
    evlog_t d;
    evlog_sink_t sink = {.ctx = &c};
    sink.on_event = collect_event;
    evlog_init(&d, &sink);
    evlog_feed(&d, buf, len);
    evlog_finish(&d);
    evlog_dispose(&d);
    /* drop block markers: the ordering does not emit them */
    size_t j = 0;
    for (size_t i = 0; i < c.n; i++) {
        uint16_t type = evlog_u16(buf + c.k[i].off);
        if (type != EVLOG_BLOCK_MARKER) c.k[j++] = c.k[i];
    }
    c.n = j;
    qsort(c.k, c.n, sizeof *c.k, key_cmp); /* (ts, offset) keys: any sort is stable here */
    return c;
}

/* A read callback over a file that notes which threads called it. */
typedef struct reader {
    int fd;
    pthread_t caller;
    int other_threads; /* calls not from the caller's thread */
    int fail_after;    /* calls before every call fails (-1: never) */
    int calls;
} reader_t;

static int read_file_at(void *ctx, void *p, size_t n, uint64_t off)
{
    reader_t *r = ctx;
    if (!pthread_equal(pthread_self(), r->caller)) r->other_threads++;
    if (r->fail_after >= 0 && r->calls >= r->fail_after) return LP_EIO;
    r->calls++;
    return pread(r->fd, p, n, (off_t)off) == (ssize_t)n ? 0 : LP_EIO;
}

enum { FROM_MEMORY, FROM_FILE, FROM_READER_AHEAD };

/* Orders buf (from memory, a file, or a file read ahead) with the caller's stats (its reset and
 * fields), and checks the events against the stable sort. */
static void check_order_stats(const uint8_t *buf, size_t len, int from, order_stats_t *st)
{
    collect_t want = reference(buf, len), got = {0};
    bool from_file = from != FROM_MEMORY;
    order_source_t src = {.buf = from_file ? NULL : buf, .len = len, .fd = -1};
    reader_t rd = {.fd = -1, .caller = pthread_self(), .fail_after = -1};
    if (from_file) src.fd = tu_temp_file("log.eventlog", buf, len);
    if (from == FROM_READER_AHEAD) { /* one block ahead at most: the reader waits for the merge */
        rd.fd = src.fd;
        src.read = read_file_at;
        src.read_ctx = &rd;
        src.prefetch = 4096;
        src.prefetch_name = "test-ahead";
    }
    evlog_t d;
    evlog_init(&d, NULL);
    st->progress_ctx = &got;
    int rc = order_log(&d, &src, collect_event, &got, st);
    CHECKF(rc == 0, "order_log: %d", rc);
    if (from == FROM_READER_AHEAD) CHECK(rd.other_threads > 0);
    CHECK_EQ_U64(got.n, want.n);
    for (size_t i = 0; i < got.n && i < want.n; i++)
        if (got.k[i].off != want.k[i].off) {
            CHECKF(false, "event %zu: offset %llu, expected %llu", i,
                   (unsigned long long)got.k[i].off, (unsigned long long)want.k[i].off);
            break;
        }
    evlog_dispose(&d);
    if (from_file) close(src.fd);
    free(want.k);
    free(got.k);
}

static void check_order(const uint8_t *buf, size_t len, int from, bool can_reset, bool expect_fast)
{
    order_stats_t st = {.reset = can_reset ? collect_reset : NULL};
    check_order_stats(buf, len, from, &st);
    CHECKF(st.fast == expect_fast, "fast path %d, expected %d", st.fast, expect_fast);
}

/* Three capabilities writing interleaved blocks, timestamps jittered inside each block (as
 * EndGC is), and the global block last; `early` puts one event before its block's marker,
 * `spike` one far in the future near the start of a block, so most of that block falls below it. */
static uint8_t *make_log_n(size_t *len, bool early, int per_block, bool spike)
{
    evwrite_t w;
    evwrite_init(&w);
    evwrite_header(&w, NULL, 0);
    uint64_t t[3] = {1000, 1000, 1000};
    uint32_t seed = 7;
    for (int round = 0; round < 40; round++)
        for (uint16_t cap = 0; cap < 3; cap++) {
            evwrite_block_begin(&w, cap, t[cap]);
            for (int i = 0; i < per_block; i++) {
                seed = seed * 1103515245u + 12345u;
                uint64_t ts = t[cap] + (seed >> 16) % 7; /* small jitter: not sorted */
                if (early && round == 20 && cap == 1 && i == 0) ts = t[cap] - 500;
                if (spike && round == 10 && cap == 2 && i == 1) ts = t[cap] + 100000;
                if (i % 3 == 0) { /* variable sizes, so events straddle read pieces */
                    char msg[200];
                    memset(msg, 'x', sizeof msg);
                    evwrite_msg(&w, EVLOG_USER_MSG, ts, msg, (seed >> 8) % sizeof msg);
                } else {
                    evwrite_thread(&w, EVLOG_RUN_THREAD, ts, cap + 1);
                }
                t[cap] += 3 + (seed >> 20) % 5;
            }
            evwrite_block_end(&w, t[cap]);
        }
    evwrite_block_begin(&w, 0xFFFF, 900);
    evwrite_cap(&w, EVLOG_CAP_CREATE, 950, 0);
    evwrite_cap(&w, EVLOG_CAP_DELETE, t[0], 0);
    evwrite_block_end(&w, t[0]);
    evwrite_end(&w);
    uint8_t *buf = evwrite_take(&w, len);
    evwrite_dispose(&w);
    return buf;
}

static uint8_t *make_log(size_t *len, bool early)
{
    return make_log_n(len, early, 50, false);
}

TEST(order_fast_path_memory_and_file)
{
    size_t len;
    uint8_t *buf = make_log(&len, false);
    check_order(buf, len, FROM_MEMORY, true, true);
    check_order(buf, len, FROM_FILE, true, true);
    check_order(buf, len, FROM_READER_AHEAD, true, true);
    free(buf);
}

TEST(order_big_blocks)
{
    size_t len;
    uint8_t *buf = make_log_n(&len, false, 12000, false); /* blocks of about 600 KiB */
    check_order(buf, len, FROM_FILE, true, true);
    check_order(buf, len, FROM_READER_AHEAD, true, true);
    free(buf);
    buf = make_log_n(&len, true, 12000, false);
    check_order(buf, len, FROM_FILE, true, false);
    check_order(buf, len, FROM_READER_AHEAD, true, false);
    check_order(buf, len, FROM_FILE, false, false);
    free(buf);
}

/* The big buffers of one ordering serve the next (in this process, whatever thread): a second
 * ordering of a log of 1.25 MiB blocks maps none anew, and each comes out in the exact order. */
TEST(order_reuses_big_buffers)
{
    size_t len;
    uint8_t *buf = make_log_n(&len, false, 25000, false);
    uint64_t fresh[3];
    for (int i = 0; i < 3; i++) { /* the last with a reader thread, which takes spares too */
        order_stats_t st = {.reset = collect_reset};
        check_order_stats(buf, len, i == 2 ? FROM_READER_AHEAD : FROM_FILE, &st);
        CHECK(st.fast);
        fresh[i] = st.fresh_bytes;
    }
    CHECKF(fresh[0] >= ((uint64_t)2 << 20), "first ordering mapped %llu bytes",
           (unsigned long long)fresh[0]);
    CHECK_EQ_U64(fresh[1], 0);
    CHECKF(fresh[2] < fresh[0], "with a reader thread: %llu bytes mapped anew, %llu at first",
           (unsigned long long)fresh[2], (unsigned long long)fresh[0]);
    free(buf);
}

/* Three capabilities, two blocks each of 12,000 messages of 200 bytes (2.5 MiB a block). */
static uint8_t *make_fat_log(size_t *len)
{
    evwrite_t w;
    evwrite_init(&w);
    evwrite_header(&w, NULL, 0);
    char msg[200];
    memset(msg, 'y', sizeof msg);
    uint64_t t = 1000;
    for (int round = 0; round < 2; round++)
        for (uint16_t cap = 0; cap < 3; cap++) {
            evwrite_block_begin(&w, cap, t + cap);
            for (int i = 0; i < 12000; i++)
                evwrite_msg(&w, EVLOG_USER_MSG, t + cap + 3 * (uint64_t)i, msg, sizeof msg);
            evwrite_block_end(&w, t + cap + 3 * 12000);
        }
    evwrite_end(&w);
    uint8_t *buf = evwrite_take(&w, len);
    evwrite_dispose(&w);
    return buf;
}

typedef struct fat_job {
    const uint8_t *buf;
    size_t len;
    const collect_t *want;
    int fd, bad;
} fat_job_t;

static void *order_fat_twice(void *arg)
{
    fat_job_t *j = arg;
    for (int round = 0; round < 2; round++) {
        order_source_t src = {.fd = j->fd, .len = j->len};
        collect_t got = {0};
        evlog_t d;
        evlog_init(&d, NULL);
        order_stats_t st = {.reset = collect_reset, .progress_ctx = &got};
        if (order_log(&d, &src, collect_event, &got, &st) != 0 || got.n != j->want->n ||
            memcmp(got.k, j->want->k, got.n * sizeof *got.k))
            j->bad++;
        evlog_dispose(&d);
        free(got.k);
    }
    return NULL;
}

/* Orderings on two threads at once share the spare buffers: each gets the exact order. Run under
 * TSan too. */
TEST(order_concurrent_orderings_share_spares)
{
    size_t len;
    uint8_t *buf = make_fat_log(&len);
    collect_t want = reference(buf, len);
    int fd = tu_temp_file("fat.eventlog", buf, len);
    fat_job_t jobs[2] = {{buf, len, &want, fd, 0}, {buf, len, &want, fd, 0}};
    tu_threads(order_fat_twice, jobs, sizeof jobs[0], 2);
    CHECK(jobs[0].bad == 0 && jobs[1].bad == 0);
    close(fd);
    free(want.k);
    free(buf);
}

/* Blocks nearly in order and a block far from order (an event far in the future near its
 * start): both come out in the exact stable order, on the fast path. */
TEST(order_nearly_sorted_and_spiked_blocks)
{
    size_t len;
    uint8_t *buf = make_log_n(&len, false, 400, true);
    check_order(buf, len, FROM_FILE, true, true);
    check_order(buf, len, FROM_READER_AHEAD, true, true);
    check_order(buf, len, FROM_MEMORY, true, true);
    free(buf);
}

/* Real GHC logs: their blocks hold events stamped earlier than the one before them. */
TEST(order_real_logs_match_stable_sort)
{
    const char *logs[] = {"small", "heap", "scale-1m", "concurrent"};
    for (size_t i = 0; i < sizeof logs / sizeof *logs; i++) {
        char path[256];
        snprintf(path, sizeof path, "../shared/data/eventlogs/%s.eventlog", logs[i]);
        size_t len;
        uint8_t *buf = tu_read_file(path, &len);
        REQUIRE(buf);
        check_order(buf, len, FROM_FILE, true, true);
        check_order(buf, len, FROM_READER_AHEAD, true, true);
        check_order(buf, len, FROM_MEMORY, true, true);
        free(buf);
    }
}

TEST(order_fast_path_falls_back)
{
    size_t len;
    uint8_t *buf = make_log(&len, true); /* a block starts later than one of its events */
    check_order(buf, len, FROM_FILE, true, false);
    check_order(buf, len, FROM_READER_AHEAD, true, false);
    check_order(buf, len, FROM_MEMORY, true, false);
    free(buf);
}

/* A block whose events do not frame (a type the header does not declare, 21st block): the
 * fast path finds it when the run loads (from memory, from the file, or read ahead by the reader
 * thread) and hands over to the exact path, whose decoder tells the error, from every source. */
TEST(order_malformed_block_falls_back)
{
    size_t len;
    uint8_t *buf = make_log(&len, false);
    const uint8_t *datb = memmem(buf, len, "datb", 4);
    REQUIRE(datb);
    size_t at = (size_t)(datb + 4 - buf); /* the blocks chain by their markers' sizes */
    for (int block = 0; block < 20; block++) {
        REQUIRE(at + 24 <= len && evlog_u16(buf + at) == EVLOG_BLOCK_MARKER);
        at += evlog_u32(buf + at + 10);
    }
    at += 24; /* the 21st block's first event */
    buf[at] = 0x77;
    buf[at + 1] = 0x77;
    int fd = tu_temp_file("bad.eventlog", buf, len);
    for (int from = FROM_MEMORY; from <= FROM_READER_AHEAD; from++) {
        reader_t rd = {.fd = fd, .caller = pthread_self(), .fail_after = -1};
        order_source_t src = {.buf = from == FROM_MEMORY ? buf : NULL, .len = len, .fd = fd};
        if (from == FROM_READER_AHEAD) {
            src.read = read_file_at;
            src.read_ctx = &rd;
            src.prefetch = 4096;
        }
        collect_t got = {0};
        evlog_t d;
        evlog_init(&d, NULL);
        order_stats_t st = {.reset = collect_reset, .progress_ctx = &got};
        int rc = order_log(&d, &src, collect_event, &got, &st);
        CHECKF(rc == LP_EUNDECLARED_TYPE, "source %d: %d", from, rc);
        CHECK(!st.fast);
        CHECK(from != FROM_READER_AHEAD || rd.other_threads > 0);
        evlog_dispose(&d);
        free(got.k);
    }
    close(fd);
    free(buf);
}

TEST(order_exact_path)
{
    size_t len;
    uint8_t *buf = make_log(&len, true);
    check_order(buf, len, FROM_FILE, false, false);         /* no reset: never the fast path */
    check_order(buf, len, FROM_READER_AHEAD, false, false); /* no reset: never the fast path */
    /* junk before the header and a log that stops without its end marker: exact path too */
    uint8_t *junk = malloc(len + 5);
    memcpy(junk, "junk!", 5);
    memcpy(junk + 5, buf, len - 2);
    check_order(junk, len + 3, FROM_FILE, true, false);
    free(junk);
    free(buf);
}

static int stop_after(void *ctx, const evlog_event_t *ev)
{
    (void)ev;
    return --*(int *)ctx < 0 ? -77 : 0;
}

/* With runs read ahead: a read that fails ends the pass with LP_EIO, and a callback that stops
 * it ends it with its own code, the reader joined and every buffer freed (the sanitizer build
 * sees leaks) whether the reader was ahead or not. Run under TSan too. */
TEST(order_concurrent_read_ahead_error_and_stop)
{
    size_t len;
    uint8_t *buf = make_log_n(&len, false, 500, false);
    int fd = tu_temp_file("ahead.eventlog", buf, len);
    /* how many reads a whole pass makes: the last ones are the merge's */
    reader_t all = {.fd = fd, .caller = pthread_self(), .fail_after = -1};
    order_source_t whole = {
        .fd = -1, .len = len, .read = read_file_at, .read_ctx = &all, .prefetch = 1};
    evlog_t d0;
    evlog_init(&d0, NULL);
    collect_t c0 = {0};
    order_stats_t st0 = {.reset = collect_reset, .progress_ctx = &c0};
    REQUIRE(order_log(&d0, &whole, collect_event, &c0, &st0) == 0);
    REQUIRE(st0.fast && st0.runs > 8 && all.other_threads >= 8);
    evlog_dispose(&d0);
    free(c0.k);
    for (int fail = all.calls - 8; fail < all.calls; fail += 2)
        for (size_t ahead = 1; ahead <= (4u << 20); ahead <<= 22) {
            reader_t rd = {.fd = fd, .caller = pthread_self(), .fail_after = fail};
            order_source_t src = {
                .fd = -1, .len = len, .read = read_file_at, .read_ctx = &rd, .prefetch = ahead};
            collect_t got = {0};
            evlog_t d;
            evlog_init(&d, NULL);
            order_stats_t st = {.reset = collect_reset, .progress_ctx = &got};
            int rc = order_log(&d, &src, collect_event, &got, &st);
            CHECKF(rc == LP_EIO, "fail after %d reads, %zu bytes ahead: %d", fail, ahead, rc);
            CHECK(st.fast); /* failed in the merge, not taken for a malformed run */
            evlog_dispose(&d);
            free(got.k);
            int stop = (int)(c0.n / 9) * (all.calls - fail), left = stop;
            rd.fail_after = -1;
            evlog_init(&d, NULL);
            order_stats_t st2 = {.reset = collect_reset, .progress_ctx = &got};
            rc = order_log(&d, &src, stop_after, &left, &st2);
            CHECKF(rc == -77, "stop after %d events: %d", stop, rc);
            CHECK_EQ_U64(st2.events, (uint64_t)stop + 1);
            evlog_dispose(&d);
        }
    close(fd);
    free(buf);
}

TEST(order_truncated_keeps_prefix)
{
    size_t len;
    uint8_t *buf = make_log(&len, false);
    size_t cut = len / 2 + 3; /* inside an event */
    collect_t got = {0};
    order_source_t src = {.buf = buf, .len = cut, .fd = -1};
    evlog_t d;
    evlog_init(&d, NULL);
    order_stats_t st = {.reset = collect_reset, .progress_ctx = &got};
    int rc = order_log(&d, &src, collect_event, &got, &st);
    CHECKF(rc == LP_ETRUNCATED, "rc %d", rc);
    collect_t want = reference(buf, evlog_error_offset(&d));
    CHECK_EQ_U64(got.n, want.n);
    for (size_t i = 1; i < got.n; i++)
        CHECK(key_cmp(&got.k[i - 1], &got.k[i]) < 0);
    evlog_dispose(&d);
    free(got.k);
    free(want.k);
    free(buf);
}

typedef struct fields_seen {
    uint64_t known, unknown, run_known;
} fields_seen_t;

static int fields_event(void *ctx, const evlog_event_t *ev)
{
    fields_seen_t *f = ctx;
    if (ev->type == EVLOG_RUN_THREAD && ev->known) f->run_known++;
    if (ev->known)
        f->known++;
    else
        f->unknown++;
    return 0;
}

/* With a field mask, only the masked types are decoded; every event is still emitted. */
TEST(order_field_mask)
{
    size_t len;
    uint8_t *buf = make_log(&len, false);
    static uint64_t mask[1024];
    memset(mask, 0, sizeof mask);
    mask[EVLOG_RUN_THREAD >> 6] |= 1ull << (EVLOG_RUN_THREAD & 63);
    collect_t ref = reference(buf, len);
    fields_seen_t all = {0}, some = {0};
    for (int pass = 0; pass < 2; pass++) {
        order_source_t src = {.buf = buf, .len = len, .fd = -1};
        evlog_t d;
        evlog_init(&d, NULL);
        order_stats_t st = {.fields = pass ? mask : NULL};
        CHECK(order_log(&d, &src, fields_event, pass ? &some : &all, &st) == 0);
        evlog_dispose(&d);
    }
    CHECK_EQ_U64(all.known + all.unknown, ref.n);
    CHECK_EQ_U64(some.known + some.unknown, ref.n);
    CHECK(some.run_known > 0);
    CHECK_EQ_U64(some.known, some.run_known);
    CHECK_EQ_U64(some.run_known, all.run_known);
    free(ref.k);
    free(buf);
}

/* Capabilities that all write at once, more of them than the merge first makes room for: their
 * runs are all loaded together and interleave event by event. */
static uint8_t *make_wide_log(size_t *len, int ncaps)
{
    evwrite_t w;
    evwrite_init(&w);
    evwrite_header(&w, NULL, 0);
    uint32_t seed = 11;
    for (int round = 0; round < 6; round++)
        for (int cap = 0; cap < ncaps; cap++) {
            uint64_t t = 1000 + (uint64_t)round * 100000;
            evwrite_block_begin(&w, (uint16_t)cap, t);
            for (int i = 0; i < 300; i++) {
                seed = seed * 1103515245u + 12345u;
                t += 1 + (seed >> 16) % 400; /* equal times across capabilities happen too */
                if (i % 4 == 0)
                    evwrite_msg(&w, EVLOG_USER_MSG, t, "START x", 7);
                else if (i % 4 == 1)
                    evwrite_event(&w, EVLOG_GC_IDLE, t, NULL, 0);
                else
                    evwrite_thread(&w, EVLOG_RUN_THREAD, t, (uint32_t)cap + 1);
            }
            evwrite_block_end(&w, t);
        }
    evwrite_end(&w);
    uint8_t *buf = evwrite_take(&w, len);
    evwrite_dispose(&w);
    return buf;
}

TEST(order_many_capabilities_at_once)
{
    size_t len;
    uint8_t *buf = make_wide_log(&len, 37);
    check_order(buf, len, FROM_FILE, true, true);
    check_order(buf, len, FROM_READER_AHEAD, true, true);
    check_order(buf, len, FROM_MEMORY, false, false);
    free(buf);
}

/* With skip_others, the events of unmasked types are not emitted; the others come out exactly
 * as without it, and the stats give their count and the first and last time of all events. */
TEST(order_skip_others)
{
    size_t len;
    uint8_t *buf = make_wide_log(&len, 5);
    static uint64_t mask[1024];
    memset(mask, 0, sizeof mask);
    mask[EVLOG_RUN_THREAD >> 6] |= 1ull << (EVLOG_RUN_THREAD & 63);
    collect_t ref = reference(buf, len), want = {0};
    for (size_t i = 0; i < ref.n; i++)
        if (evlog_u16(buf + ref.k[i].off) == EVLOG_RUN_THREAD) {
            if (want.n == want.cap) {
                want.cap = want.cap ? want.cap * 2 : 1024;
                want.k = realloc(want.k, want.cap * sizeof *want.k);
            }
            want.k[want.n++] = ref.k[i];
        }
    for (int fast = 0; fast < 2; fast++) {
        collect_t got = {0};
        order_source_t src = {.buf = buf, .len = len, .fd = -1};
        evlog_t d;
        evlog_init(&d, NULL);
        order_stats_t st = {.fields = mask, .skip_others = true, .progress_ctx = &got};
        if (fast) st.reset = collect_reset;
        CHECK(order_log(&d, &src, collect_event, &got, &st) == 0);
        CHECK(st.fast == (fast == 1));
        CHECK_EQ_U64(got.n, want.n);
        for (size_t i = 0; i < got.n && i < want.n; i++)
            if (got.k[i].off != want.k[i].off) {
                CHECKF(false, "event %zu: offset %llu, expected %llu", i,
                       (unsigned long long)got.k[i].off, (unsigned long long)want.k[i].off);
                break;
            }
        CHECK_EQ_U64(st.events, want.n);
        CHECK_EQ_U64(st.skipped, ref.n - want.n);
        CHECK_EQ_U64(st.min_ts, ref.k[0].ts);
        CHECK_EQ_U64(st.max_ts, ref.k[ref.n - 1].ts);
        evlog_dispose(&d);
        free(got.k);
    }
    free(want.k);
    free(ref.k);
    free(buf);
}
