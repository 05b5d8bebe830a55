/* Tests of the monitor's backlog unit memory: pieces are aligned and disjoint, chunks come back
 * and are reused, a FIFO backlog stays within a bounded number of chunks. */
#include "test.h"

#include "unitmem.h"

#include <stdlib.h>
#include <string.h>

TEST(unitmem_pieces_aligned_disjoint_and_reused)
{
    unitmem_t um;
    memset(&um, 0, sizeof um);
    enum { N = 200 };
    uint8_t *p[N];
    size_t len[N];
    for (int i = 0; i < N; i++) {
        len[i] = 1 + (size_t)(i * 7919) % 60000;
        p[i] = unitmem_alloc(&um, len[i]);
        CHECK(((uintptr_t)p[i] & 15) == 0);
        memset(p[i], i & 0xFF, len[i]);
    }
    for (int i = 0; i < N; i++) { /* nothing overwrote another piece */
        bool same = true;
        for (size_t k = 0; k < len[i]; k++)
            same &= p[i][k] == (uint8_t)(i & 0xFF);
        CHECKF(same, "piece %d was overwritten", i);
    }
    size_t mapped = um.chunks;
    CHECKF(mapped >= 3 && mapped <= 8, "%zu chunks for about 6 MB", mapped);
    for (int i = 0; i < N; i++)
        unitmem_free(&um, p[i]);
    unitmem_free(&um, NULL);
    CHECK(um.nspare == mapped - 1); /* all but the current chunk are spares */
    for (int i = 0; i < N; i++)     /* the same again: no new chunk */
        p[i] = unitmem_alloc(&um, len[i]);
    CHECK_EQ_U64(um.chunks, mapped);
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
    uint8_t *ring[KEEP] = {0};
    size_t most = 0;
    for (int i = 0; i < PASS; i++) {
        unitmem_free(&um, ring[i % KEEP]);
        ring[i % KEEP] = unitmem_alloc(&um, SIZE);
        ring[i % KEEP][0] = (uint8_t)i;
        ring[i % KEEP][SIZE - 1] = (uint8_t)i;
        if (um.chunks > most) most = um.chunks;
    }
    for (int i = PASS - KEEP; i < PASS; i++)
        CHECK(ring[i % KEEP][0] == (uint8_t)i && ring[i % KEEP][SIZE - 1] == (uint8_t)i);
    /* 64 x 64 KB = 4 MB live: about 2 chunks, plus the one being carved and the spares */
    CHECKF(most <= 3 + UNITMEM_SPARE, "%zu chunks mapped at most", most);
    for (int i = 0; i < KEEP; i++)
        unitmem_free(&um, ring[i]);
    unitmem_dispose(&um);
    CHECK_EQ_U64(um.chunks, 0);
}
