/* The segment writer thread's backpressure: past the soft bound persist_room says no, the room
 * callback comes once the thread has caught up, and the bytes read back are those appended; an
 * append of one pool block's worth takes one block. */
#include "test.h"

#include "blockpool.h"
#include "persist.h"
#include "seg_reader.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static _Atomic int rooms;

static void on_room(void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&rooms, 1);
}

TEST(persist_room_backpressure)
{
    size_t len;
    uint8_t *log = tu_read_file(tu_data("eventlogs/scale-1m.eventlog"), &len);
    REQUIRE(log != NULL);
    size_t total = 48u << 20;
    uint8_t *big = malloc(total);
    REQUIRE(big != NULL);
    for (size_t off = 0; off < total;
         off += len) /* the log again and again: junk after the first */
        memcpy(big + off, log, total - off < len ? total - off : len);
    persist_opts_t o = {.fsync_ms = 1000,
                        .seg = {.max_bytes = 64u << 20},
                        .soft_queued = 1u << 20,
                        .room = on_room};
    persist_t *p = persist_create(&o);
    char err[256];
    persist_target_t *t = persist_open(p, tu_tmpdir(), "test", err, sizeof err);
    REQUIRE(t != NULL);
    CHECK(persist_room(p, total)); /* nothing queued: any size may go */
    CHECK(persist_append(p, t, big, total, true) == 0);
    /* 48 MiB in 2 MiB jobs cannot have been written in the moment since */
    CHECK(!persist_room(p, 1));
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) { /* the thread catches up and says so */
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (atomic_load(&rooms) > 0 && persist_room(p, 1u << 20)) break;
        REQUIRE(now.tv_sec - t0.tv_sec < 30);
        nanosleep(&(struct timespec){0, 2000000}, NULL);
    }
    CHECK(persist_flush(p, 10000));
    CHECK_EQ_U64(persist_durable(t), total);
    CHECK_EQ_U64(seg_log_end(&t->log), total);
    /* the bytes read back are the bytes given, in order */
    seg_reader_t *rd = seg_reader_create(&t->log);
    uint8_t *back = malloc(total);
    REQUIRE(back != NULL);
    size_t got = 0;
    while (got < total) {
        long k = seg_reader_pread(rd, back + got, total - got, got);
        if (k <= 0) break;
        got += (size_t)k;
    }
    CHECK_EQ_U64(got, total);
    CHECK(memcmp(back, big, total) == 0);
    seg_reader_destroy(rd);
    free(back);
    persist_drop(p, t, true);
    persist_release(t);
    persist_destroy(p);
    free(big);
    free(log);
}

/* A 2 MiB append (an upload's default chunk) fills one pool block but for its job's head: the few
 * bytes left over go to the heap, not to a second 2 MiB block. */
TEST(persist_chunk_one_block)
{
    size_t n = 2u << 20;
    uint8_t *b = malloc(n);
    REQUIRE(b != NULL);
    memset(b, 0x5A, n);
    persist_t *p =
        persist_create(&(persist_opts_t){.fsync_ms = 1000, .seg = {.max_bytes = 64u << 20}});
    char err[256];
    persist_target_t *t = persist_open(p, tu_tmpdir(), "test", err, sizeof err);
    REQUIRE(t != NULL);
    CHECK(persist_append(p, t, b, n, false) == 0);
    CHECK(persist_flush(p, 10000));
    CHECK_EQ_U64(persist_durable(t), n);
    CHECK_EQ_U64(persist_pool_blocks(p), 1 + BLOCKPOOL_AHEAD); /* and those mapped ahead */
    persist_drop(p, t, true);
    persist_release(t);
    persist_destroy(p);
    free(b);
}
