/* Tests of the monitor's backlog unit storage: pieces are aligned, disjoint and keep their
 * bytes, chunks come back and are reused, a FIFO backlog stays within a bounded number of
 * chunks, and chunks beyond the spares give their memory back. */
#include "test.h"

#include "unitmem.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

TEST(unitmem_pieces_aligned_disjoint_and_reused)
{
    unitmem_t um;
    memset(&um, 0, sizeof um);
    enum { N = 200 };
    uint64_t p[N];
    size_t len[N];
    static uint8_t buf[65536];
    for (int i = 0; i < N; i++) {
        len[i] = 1 + (size_t)(i * 7919) % 60000;
        p[i] = unitmem_alloc(&um, len[i]);
        CHECK((p[i] & 15) == 0);
        memset(buf, i & 0xFF, len[i]);
        unitmem_write(&um, p[i], buf, len[i]);
    }
    for (int i = 0; i < N; i++) { /* nothing overwrote another piece */
        unitmem_read(&um, p[i], buf, len[i]);
        bool same = true;
        for (size_t k = 0; k < len[i]; k++)
            same &= buf[k] == (uint8_t)(i & 0xFF);
        CHECKF(same, "piece %d was overwritten", i);
    }
    size_t held = um.chunks;
    CHECKF(held >= 3 && held <= 8, "%zu chunks for about 6 MB", held);
    for (int i = 0; i < N; i++)
        unitmem_free(&um, p[i]);
    CHECK(um.nspare == held - 1); /* all but the current chunk are spares */
    for (int i = 0; i < N; i++)   /* the same again: no new chunk */
        p[i] = unitmem_alloc(&um, len[i]);
    CHECK_EQ_U64(um.chunks, held);
    CHECK_EQ_U64(um.ntab, held);
    for (int i = 0; i < N; i++)
        unitmem_free(&um, p[i]);
    unitmem_dispose(&um);
    CHECK_EQ_U64(um.chunks, 0);
}

/* A backlog that keeps its newest 64 units of 64 KB while 20,000 pass through. */
TEST(unitmem_fifo_backlog_stays_bounded)
{
    unitmem_t um;
    memset(&um, 0, sizeof um);
    enum { KEEP = 64, PASS = 20000, SIZE = 64512 };
    uint64_t ring[KEEP];
    bool used[KEEP] = {false};
    static uint8_t buf[SIZE];
    size_t most = 0;
    for (int i = 0; i < PASS; i++) {
        if (used[i % KEEP]) unitmem_free(&um, ring[i % KEEP]);
        ring[i % KEEP] = unitmem_alloc(&um, SIZE);
        used[i % KEEP] = true;
        buf[0] = buf[SIZE - 1] = (uint8_t)i;
        unitmem_write(&um, ring[i % KEEP], buf, SIZE);
        if (um.chunks > most) most = um.chunks;
    }
    for (int i = PASS - KEEP; i < PASS; i++) {
        unitmem_read(&um, ring[i % KEEP], buf, SIZE);
        CHECK(buf[0] == (uint8_t)i && buf[SIZE - 1] == (uint8_t)i);
    }
    /* 64 x 64 KB = 4 MB live: about 2 chunks, plus the one being carved and the spares */
    CHECKF(most <= 3 + UNITMEM_SPARE, "%zu chunks held at most", most);
    CHECKF(um.ntab <= 3 + UNITMEM_SPARE, "a file of %zu chunks", um.ntab);
    for (int i = 0; i < KEEP; i++)
        unitmem_free(&um, ring[i]);
    unitmem_dispose(&um);
    CHECK_EQ_U64(um.chunks, 0);
}

/* Freed chunks beyond the spares give their memory back: the file's allocated blocks shrink. */
TEST(unitmem_gives_memory_back)
{
    unitmem_t um;
    memset(&um, 0, sizeof um);
    enum { N = 4 * (UNITMEM_SPARE + 8), SIZE = UNITMEM_MAX }; /* 16 chunks */
    static uint64_t p[N];
    static uint8_t buf[SIZE];
    memset(buf, 0x5A, sizeof buf);
    for (int i = 0; i < N; i++) {
        p[i] = unitmem_alloc(&um, SIZE);
        unitmem_write(&um, p[i], buf, SIZE);
    }
    struct stat full, after;
    REQUIRE(fstat(um.fd, &full) == 0);
    for (int i = 0; i < N; i++)
        unitmem_free(&um, p[i]);
    REQUIRE(fstat(um.fd, &after) == 0);
    CHECKF(um.chunks <= UNITMEM_SPARE + 1, "%zu chunks held after all were freed", um.chunks);
    /* st_blocks counts 512-byte units of memory the file holds */
    CHECKF((uint64_t)after.st_blocks * 512 <= (UNITMEM_SPARE + 1) * UNITMEM_CHUNK,
           "%lld bytes still held (%lld before)", (long long)after.st_blocks * 512,
           (long long)full.st_blocks * 512);
    for (int i = 0; i < N; i++) /* chunks given back are used again: the file does not grow */
        p[i] = unitmem_alloc(&um, SIZE);
    CHECK(um.ntab <= (size_t)N / 4 + 1);
    for (int i = 0; i < N; i++)
        unitmem_free(&um, p[i]);
    unitmem_dispose(&um);
}
