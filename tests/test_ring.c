/* The SPSC byte ring: single-thread unit tests of every call and its edge cases, then two-thread
 * tests (ring_concurrent_*) that stream checked pseudo-random bytes through a small ring; the
 * latter also run under ThreadSanitizer in `make test`. */
#include "test.h"

#include "err.h"
#include "ring.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Fills p[0..n) with bytes first, first+1, ... (mod 256). */
static void fill_seq(uint8_t *p, size_t n, unsigned first)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(first + i);
}

/* True when p[0..n) holds first, first+1, ... (mod 256). */
static bool is_seq(const uint8_t *p, size_t n, unsigned first)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (uint8_t)(first + i)) return false;
    return true;
}

TEST(ring_bad_capacity)
{
    size_t bad[] = {0,
                    3,
                    6,
                    100,
                    4097,
                    RING_MAX_CAPACITY + 1,
                    RING_MAX_CAPACITY * 2,
                    SIZE_MAX,
                    SIZE_MAX / 2 + 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECKF(ring_create(bad[i]) == NULL, "capacity %zu accepted", bad[i]);
    ring_destroy(NULL);
    size_t good[] = {1, 2, 64, 4096, 1 << 20};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ring_t *r = ring_create(good[i]);
        REQUIRE(r);
        CHECK_EQ_U64(ring_capacity(r), good[i]);
        CHECK_EQ_U64(ring_readable(r), 0);
        CHECK_EQ_U64(ring_writable(r), good[i]);
        ring_destroy(r);
    }
    ring_t *r = ring_create(1); /* the smallest ring still moves bytes one at a time */
    REQUIRE(r);
    uint8_t a = 7, b = 0;
    CHECK_EQ_U64(ring_write_spsc(r, &a, 1), 1);
    CHECK_EQ_U64(ring_write_spsc(r, &a, 1), 0);
    CHECK_EQ_U64(ring_read_spsc(r, &b, 1), 1);
    CHECK(b == 7);
    ring_destroy(r);
}

TEST(ring_wraps_around)
{
    ring_t *r = ring_create(8);
    REQUIRE(r);
    uint8_t in[5], out[32];
    unsigned wrote = 0, got = 0;
    /* 100 rounds of 5 in, 3 out, drained at 6 or more: the read and write positions visit
     * every offset mod 8, and copies split at the end of the buffer */
    for (int round = 0; round < 100; round++) {
        size_t room = 8 - ring_readable(r);
        fill_seq(in, sizeof in, wrote);
        size_t w = ring_write_spsc(r, in, sizeof in);
        CHECK_EQ_U64(w, room < 5 ? room : 5);
        wrote += (unsigned)w;
        size_t g = ring_read_spsc(r, out, 3);
        CHECK_EQ_U64(g, 3);
        CHECKF(is_seq(out, g, got), "round %d", round);
        got += (unsigned)g;
        CHECK_EQ_U64(ring_readable(r), wrote - got);
        CHECK_EQ_U64(ring_writable(r), 8 - (wrote - got));
        if (wrote - got >= 6) {
            g = ring_read_spsc(r, out, sizeof out);
            CHECK_EQ_U64(g, wrote - got);
            CHECKF(is_seq(out, g, got), "drain in round %d", round);
            got += (unsigned)g;
        }
    }
    CHECK(wrote > 300);
    ring_destroy(r);
}

TEST(ring_exact_capacity)
{
    ring_t *r = ring_create(16);
    REQUIRE(r);
    uint8_t in[40], out[40];
    /* fill to the brim from offset 0, then from offset 5 (the copy wraps) */
    for (unsigned start = 0; start <= 5; start += 5) {
        fill_seq(in, sizeof in, start * 11);
        CHECK_EQ_U64(ring_write_spsc(r, in, 40), 16);
        CHECK_EQ_U64(ring_readable(r), 16);
        CHECK_EQ_U64(ring_writable(r), 0);
        CHECK_EQ_U64(ring_write_spsc(r, in + 16, 1), 0);
        memset(out, 0, sizeof out);
        CHECK_EQ_U64(ring_read_spsc(r, out, 40), 16);
        CHECK(is_seq(out, 16, start * 11));
        CHECK_EQ_U64(ring_read_spsc(r, out, 1), 0);
        if (start == 0) { /* move both positions to offset 5 */
            CHECK_EQ_U64(ring_write_spsc(r, in, 5), 5);
            CHECK_EQ_U64(ring_read_spsc(r, out, 5), 5);
        }
    }
    ring_destroy(r);
}

TEST(ring_zero_length)
{
    ring_t *r = ring_create(4);
    REQUIRE(r);
    CHECK_EQ_U64(ring_write_spsc(r, NULL, 0), 0);
    CHECK_EQ_U64(ring_read_spsc(r, NULL, 0), 0);
    CHECK(ring_consume_spsc(r, 0) == 0);
    CHECK(ring_commit_spsc(r, 0) == 0);
    CHECK(ring_consume_spsc(r, 1) == LP_ERANGE); /* nothing to consume */
    CHECK(ring_commit_spsc(r, 1) == LP_ERANGE);  /* nothing reserved */
    const uint8_t *rp = NULL;
    size_t n = 99;
    ring_peek_spsc(r, &rp, &n);
    CHECK_EQ_U64(n, 0);
    uint8_t x[4] = {1, 2, 3, 4}, *wp = NULL;
    CHECK_EQ_U64(ring_write_spsc(r, x, 4), 4);
    n = 99;
    ring_reserve_spsc(r, &wp, &n); /* full */
    CHECK_EQ_U64(n, 0);
    CHECK(ring_commit_spsc(r, 1) == LP_ERANGE);
    CHECK_EQ_U64(ring_readable(r), 4);
    ring_destroy(r);
}

TEST(ring_peek_consume_spans)
{
    ring_t *r = ring_create(16);
    REQUIRE(r);
    uint8_t in[32];
    fill_seq(in, sizeof in, 0);
    CHECK_EQ_U64(ring_write_spsc(r, in, 12), 12);
    const uint8_t *p;
    size_t n;
    ring_peek_spsc(r, &p, &n);
    CHECK_EQ_U64(n, 12);
    CHECK(is_seq(p, n, 0));
    CHECK(ring_consume_spsc(r, 8) == 0);
    CHECK_EQ_U64(ring_write_spsc(r, in + 12, 10), 10); /* positions 12..21: wraps to offset 0 */
    CHECK_EQ_U64(ring_readable(r), 14);
    ring_peek_spsc(r, &p, &n); /* the span stops at the end of the buffer */
    CHECK_EQ_U64(n, 8);
    CHECK(is_seq(p, n, 8));
    const uint8_t *again;
    size_t n2;
    ring_peek_spsc(r, &again, &n2); /* peeking twice changes nothing */
    CHECK(again == p && n2 == n);
    CHECK(ring_consume_spsc(r, 15) == LP_ERANGE); /* more than readable: nothing removed */
    CHECK_EQ_U64(ring_readable(r), 14);
    CHECK(ring_consume_spsc(r, 8) == 0);
    ring_peek_spsc(r, &p, &n);
    CHECK_EQ_U64(n, 6);
    CHECK(is_seq(p, n, 16));
    /* a repeated peek sees bytes published after the previous one */
    CHECK_EQ_U64(ring_write_spsc(r, in + 22, 3), 3);
    ring_peek_spsc(r, &p, &n);
    CHECK_EQ_U64(n, 9);
    CHECK(is_seq(p, n, 16));
    CHECK(ring_consume_spsc(r, 4) == 0);
    CHECK(ring_consume_spsc(r, 5) == 0); /* consuming without a new peek skips bytes */
    ring_peek_spsc(r, &p, &n);
    CHECK_EQ_U64(n, 0);
    CHECK_EQ_U64(ring_readable(r), 0);
    ring_destroy(r);
}

TEST(ring_reserve_commit)
{
    ring_t *r = ring_create(16);
    REQUIRE(r);
    uint8_t *p, *p2, out[16];
    size_t n, n2;
    ring_reserve_spsc(r, &p, &n);
    CHECK_EQ_U64(n, 16);
    fill_seq(p, 10, 0);
    CHECK_EQ_U64(ring_readable(r), 0); /* nothing is visible before the commit */
    CHECK(ring_commit_spsc(r, 10) == 0);
    CHECK_EQ_U64(ring_readable(r), 10);
    ring_reserve_spsc(r, &p2, &n2);
    CHECK(p2 == p + 10);
    CHECK_EQ_U64(n2, 6);
    fill_seq(p2, 6, 10);
    CHECK(ring_commit_spsc(r, 7) == LP_ERANGE);
    CHECK(ring_commit_spsc(r, 3) == 0); /* a commit in two parts */
    CHECK(ring_commit_spsc(r, 3) == 0);
    CHECK(ring_commit_spsc(r, 1) == LP_ERANGE);
    ring_reserve_spsc(r, &p2, &n2);
    CHECK_EQ_U64(n2, 0);
    CHECK_EQ_U64(ring_read_spsc(r, out, 6), 6);
    CHECK(is_seq(out, 6, 0));
    ring_reserve_spsc(r, &p2, &n2); /* the free space is at the start of the buffer */
    CHECK(p2 == p);
    CHECK_EQ_U64(n2, 6);
    fill_seq(p2, 6, 16);
    CHECK(ring_commit_spsc(r, 6) == 0);
    CHECK_EQ_U64(ring_read_spsc(r, out, 16), 16);
    CHECK(is_seq(out, 16, 6));
    /* a write between reserve and commit voids the reservation */
    ring_reserve_spsc(r, &p2, &n2);
    CHECK_EQ_U64(n2, 10);
    CHECK_EQ_U64(ring_write_spsc(r, out, 2), 2);
    CHECK(ring_commit_spsc(r, 1) == LP_ERANGE);
    CHECK_EQ_U64(ring_readable(r), 2);
    ring_destroy(r);
}

TEST(ring_close_semantics)
{
    ring_t *r = ring_create(8);
    REQUIRE(r);
    uint8_t in[8], out[8], *wp;
    size_t n;
    fill_seq(in, sizeof in, 40);
    CHECK_EQ_U64(ring_write_spsc(r, in, 5), 5);
    CHECK(!ring_closed(r));
    CHECK(!ring_eof_spsc(r));
    ring_reserve_spsc(r, &wp, &n);
    CHECK_EQ_U64(n, 3);
    ring_close_spsc(r);
    CHECK(ring_closed(r));
    CHECK(ring_commit_spsc(r, 1) == LP_ERANGE); /* the close voided the reservation */
    CHECK_EQ_U64(ring_write_spsc(r, in, 1), 0); /* no byte after the close */
    ring_reserve_spsc(r, &wp, &n);
    CHECK_EQ_U64(n, 0);
    ring_close_spsc(r); /* idempotent */
    CHECK(ring_closed(r));
    CHECK(!ring_eof_spsc(r)); /* closed, but bytes are left */
    CHECK_EQ_U64(ring_readable(r), 5);
    CHECK_EQ_U64(ring_read_spsc(r, out, 4), 4); /* bytes before the close are all read */
    CHECK(!ring_eof_spsc(r));
    CHECK_EQ_U64(ring_read_spsc(r, out + 4, 4), 1);
    CHECK(is_seq(out, 5, 40));
    CHECK_EQ_U64(ring_read_spsc(r, out, 8), 0);
    CHECK(ring_closed(r));
    CHECK(ring_eof_spsc(r));
    ring_destroy(r);
    r = ring_create(8); /* an empty stream */
    REQUIRE(r);
    CHECK(!ring_eof_spsc(r));
    ring_close_spsc(r);
    CHECK(ring_eof_spsc(r));
    ring_destroy(r);
}

/* ---- two threads ---- */

/* splitmix64: the sizes and choices of both sides. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* The checked byte stream: byte i is a function of i alone, so both sides agree. */
static uint8_t stream_byte(uint64_t i)
{
    uint64_t z = (i >> 3) * 0x9e3779b97f4a7c15u;
    z ^= z >> 29;
    return (uint8_t)(z >> ((i & 7) * 8));
}

static void stream_fill(uint8_t *p, size_t n, uint64_t pos)
{
    for (size_t i = 0; i < n; i++)
        p[i] = stream_byte(pos + i);
}

/* Returns the index of the first byte of p[0..n) that differs from the stream at pos, or n. */
static size_t stream_check(const uint8_t *p, size_t n, uint64_t pos)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != stream_byte(pos + i)) return i;
    return n;
}

typedef struct stream_job {
    ring_t *r;
    uint64_t total;   /* bytes to send */
    size_t max_piece; /* pieces are 1..max_piece bytes */
    uint64_t seed;
    bool use_eof;       /* the consumer stops on ring_eof_spsc (else: closed, then empty) */
    uint64_t sent;      /* producer's count */
    bool failed;        /* the producer had a commit refused or no memory */
    uint64_t got;       /* consumer's count */
    uint64_t bad_at;    /* consumer: first wrong byte's stream position, or UINT64_MAX */
    uint64_t overcount; /* consumer: times got + ring_readable exceeded the total */
} stream_job_t;

/* Producer: sends `total` stream bytes in random pieces, by write or reserve/commit, then
 * closes. Yields when the ring is full (the backpressure a real producer would defer on). */
static void *stream_produce(void *arg)
{
    stream_job_t *j = arg;
    uint64_t s = j->seed;
    uint8_t *piece = malloc(j->max_piece);
    j->failed = !piece;
    while (!j->failed && j->sent < j->total) {
        uint64_t want = 1 + rng_next(&s) % j->max_piece;
        if (want > j->total - j->sent) want = j->total - j->sent;
        if (rng_next(&s) % 4 == 0) { /* zero-copy: fill spans in place */
            while (want) {
                uint8_t *p;
                size_t n;
                ring_reserve_spsc(j->r, &p, &n);
                if (n == 0) {
                    sched_yield();
                    continue;
                }
                if (n > want) n = (size_t)want;
                stream_fill(p, n, j->sent);
                size_t part = n > 1 && rng_next(&s) % 2 ? n / 2 : n;
                if (ring_commit_spsc(j->r, part) != 0 ||
                    (part < n && ring_commit_spsc(j->r, n - part) != 0)) {
                    j->failed = true; /* reported after the join; the close ends the reader */
                    break;
                }
                j->sent += n;
                want -= n;
            }
        } else {
            stream_fill(piece, (size_t)want, j->sent);
            size_t done = 0;
            while (done < want) {
                size_t w = ring_write_spsc(j->r, piece + done, (size_t)want - done);
                if (w == 0) sched_yield();
                done += w;
                j->sent += w;
            }
        }
    }
    ring_close_spsc(j->r);
    free(piece);
    return NULL;
}

/* Consumer: reads in random pieces, by read or peek/consume, checking every byte, until it sees
 * the close and then an empty ring. Runs on the calling thread. */
static void stream_consume(stream_job_t *j)
{
    uint64_t s = j->seed ^ 0x5555555555555555u;
    uint8_t *piece = malloc(j->max_piece);
    REQUIRE(piece);
    for (;;) {
        bool closed = ring_closed(j->r); /* before the read: a close seen here covers its bytes */
        size_t want = 1 + (size_t)(rng_next(&s) % j->max_piece), n;
        if (rng_next(&s) % 4 == 0) {
            const uint8_t *p;
            ring_peek_spsc(j->r, &p, &n);
            if (n > want) n = want;
            size_t ok = stream_check(p, n, j->got);
            if (ok < n) {
                j->bad_at = j->got + ok;
                break;
            }
            if (ring_consume_spsc(j->r, n) != 0) {
                j->bad_at = j->got;
                break;
            }
        } else {
            n = ring_read_spsc(j->r, piece, want);
            size_t ok = stream_check(piece, n, j->got);
            if (ok < n) {
                j->bad_at = j->got + ok;
                break;
            }
        }
        j->got += n;
        /* from the consumer, ring_readable is a lower bound: never more than is left to send */
        if (j->got + ring_readable(j->r) > j->total) j->overcount++;
        if (n == 0) {
            if (j->use_eof ? ring_eof_spsc(j->r) : closed) break;
            sched_yield();
        }
    }
    free(piece);
}

/* Runs one producer thread against a consumer on this thread; checks the outcome. */
static void stream_run(size_t capacity, uint64_t total, uint64_t seed, bool use_eof)
{
    stream_job_t j = {.use_eof = use_eof,
                      .total = total,
                      .max_piece = 3 * capacity,
                      .seed = seed,
                      .bad_at = UINT64_MAX};
    j.r = ring_create(capacity);
    REQUIRE(j.r);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, stream_produce, &j) == 0);
    stream_consume(&j);
    if (j.bad_at != UINT64_MAX) { /* the producer may wait for space forever: abandon it */
        CHECKF(0, "capacity %zu seed %llu: wrong byte at stream position %llu", capacity,
               (unsigned long long)seed, (unsigned long long)j.bad_at);
        test_abort();
    }
    REQUIRE(pthread_join(t, NULL) == 0);
    CHECK_EQ_U64(j.sent, total);
    CHECK_EQ_U64(j.got, total);
    CHECK(!j.failed);
    CHECK_EQ_U64(j.overcount, 0);
    CHECK_EQ_U64(ring_readable(j.r), 0);
    CHECK(ring_closed(j.r));
    CHECK(ring_eof_spsc(j.r));
    ring_destroy(j.r);
}

/* Pages of [p, p + n) resident in memory. */
static size_t resident_pages(const uint8_t *p, size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)(page - 1);
    size_t len = (uintptr_t)p + n - a, np = (len + page - 1) / page, k = 0;
    unsigned char *v = malloc(np);
    REQUIRE(v && mincore((void *)a, len, v) == 0);
    for (size_t i = 0; i < np; i++)
        k += v[i] & 1;
    free(v);
    return k;
}

/* An empty ring gives its buffer's pages back and works on (its bytes read as before); a ring
 * with bytes in it keeps them. */
TEST(ring_drop_pages_idle_frees_an_empty_buffer)
{
    size_t cap = 1u << 20;
    ring_t *r = ring_create(cap);
    uint8_t *buf = malloc(cap);
    REQUIRE(r && buf);
    fill_seq(buf, cap, 7);
    CHECK(ring_write_spsc(r, buf, cap) == cap);
    ring_drop_pages_idle(r); /* full: nothing happens */
    CHECK(ring_read_spsc(r, buf, cap) == cap && is_seq(buf, cap, 7));
    uint8_t *span;
    size_t room;
    ring_reserve_spsc(r, &span, &room); /* empty: the whole buffer, from its start */
    REQUIRE(room == cap);
    size_t before = resident_pages(span, cap);
    ring_drop_pages_idle(r);
    size_t after = resident_pages(span, cap);
    CHECKF(before >= cap / 4096 / 2 && after <= 2, "resident pages %zu, then %zu", before, after);
    fill_seq(buf, 1000, 3); /* and it goes on */
    CHECK(ring_write_spsc(r, buf, 1000) == 1000);
    memset(buf, 0, 1000);
    CHECK(ring_read_spsc(r, buf, 1000) == 1000 && is_seq(buf, 1000, 3));
    ring_drop_pages_idle(NULL);
    free(buf);
    ring_destroy(r);
}

TEST(ring_concurrent_stress)
{
    stream_run(4096, (uint64_t)64 << 20, 1, false);
    stream_run(64, (uint64_t)4 << 20, 2, true); /* tiny: full and empty all the time */
}

/* Many short streams, each closed right after its last byte: the consumer must never see the
 * end of the stream before the bytes written ahead of the close. */
TEST(ring_concurrent_close)
{
    uint64_t s = 42;
    for (int i = 0; i < 1000; i++)
        stream_run(64, rng_next(&s) % 2000, (uint64_t)i + 100, i % 2);
}
