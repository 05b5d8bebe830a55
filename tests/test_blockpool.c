/* The block pool: aligned blocks, reuse of given-back blocks, the bound on free ones, blocks
 * mapped ahead, and two threads taking and giving back blocks at once. */
#include "test.h"

#include "blockpool.h"

#include <pthread.h>
#include <string.h>

TEST(blockpool_reuse_and_bound)
{
    blockpool_t *bp = blockpool_create(2);
    uint8_t *b[5];
    for (int i = 0; i < 5; i++) {
        b[i] = blockpool_get(bp);
        REQUIRE(b[i] != NULL);
        CHECK(((uintptr_t)b[i] & (BLOCKPOOL_BLOCK - 1)) == 0);
        memset(b[i], i + 1, BLOCKPOOL_BLOCK); /* every byte is the caller's */
    }
    CHECK_EQ_U64(blockpool_mapped(bp), 5);
    CHECK_EQ_U64(blockpool_free(bp), 0);
    for (int i = 0; i < 5; i++)
        CHECK(b[i][0] == i + 1 && b[i][BLOCKPOOL_BLOCK - 1] == i + 1);
    for (int i = 0; i < 5; i++)
        blockpool_put(bp, b[i]);
    blockpool_put(bp, NULL);
    CHECK_EQ_U64(blockpool_free(bp), 2); /* the rest were unmapped */
    CHECK_EQ_U64(blockpool_mapped(bp), 2);
    uint8_t *again = blockpool_get(bp); /* the last one kept comes back first */
    CHECK(again == b[1]);
    CHECK(again[7] == 2);
    blockpool_put(bp, again);
    blockpool_destroy(bp);
    blockpool_destroy(NULL);
}

TEST(blockpool_prefault)
{
    blockpool_t *bp = blockpool_create(3);
    blockpool_prefault(bp, 2); /* nothing handed out yet: the first block only */
    CHECK_EQ_U64(blockpool_mapped(bp), 1);
    uint8_t *one = blockpool_get(bp);
    blockpool_put(bp, one);
    blockpool_prefault(bp, 2); /* one at a time so far: up to 8 more, here the 2 asked for */
    CHECK_EQ_U64(blockpool_free(bp), 2);
    uint8_t *h[4];
    for (int i = 0; i < 4; i++)
        h[i] = blockpool_get(bp);
    for (int i = 0; i < 4; i++)
        blockpool_put(bp, h[i]); /* the fourth is unmapped: 3 kept */
    CHECK_EQ_U64(blockpool_mapped(bp), 3);
    blockpool_prefault(bp, 10); /* never past the bound */
    CHECK_EQ_U64(blockpool_free(bp), 3);
    uint8_t *b = blockpool_get(bp);
    CHECK(b[0] == 0 && b[BLOCKPOOL_BLOCK - 1] == 0); /* touched, zeroed */
    CHECK_EQ_U64(blockpool_free(bp), 2);
    blockpool_put(bp, b);
    blockpool_destroy(bp);
    /* a load that had BLOCKPOOL_BEHIND out at once gets all it asks for, not AHEAD more */
    size_t many = BLOCKPOOL_BEHIND + BLOCKPOOL_AHEAD + 6;
    bp = blockpool_create(many);
    uint8_t *out[BLOCKPOOL_BEHIND];
    for (int i = 0; i < BLOCKPOOL_BEHIND - 1; i++)
        out[i] = blockpool_get(bp);
    blockpool_prefault(bp, many); /* not behind yet: AHEAD beyond the most out */
    CHECK_EQ_U64(blockpool_mapped(bp), BLOCKPOOL_BEHIND - 1 + BLOCKPOOL_AHEAD);
    out[BLOCKPOOL_BEHIND - 1] = blockpool_get(bp);
    blockpool_prefault(bp, many);
    CHECK_EQ_U64(blockpool_mapped(bp), many);
    for (int i = 0; i < BLOCKPOOL_BEHIND; i++)
        blockpool_put(bp, out[i]);
    CHECK_EQ_U64(blockpool_free(bp), many);
    blockpool_destroy(bp);
}

typedef struct churn {
    blockpool_t *bp;
    uint8_t tag;
    int bad;
} churn_t;

static void *churn_main(void *arg)
{
    churn_t *c = arg;
    for (int i = 0; i < 300; i++) {
        uint8_t *b[3];
        for (int k = 0; k < 3; k++) {
            b[k] = blockpool_get(c->bp);
            memset(b[k], c->tag, 4096);
            b[k][BLOCKPOOL_BLOCK - 1] = c->tag;
        }
        for (int k = 0; k < 3; k++) {
            c->bad += b[k][0] != c->tag || b[k][4095] != c->tag ||
                      b[k][BLOCKPOOL_BLOCK - 1] != c->tag; /* nobody else wrote there */
            blockpool_put(c->bp, b[k]);
        }
        if (i % 50 == 0) blockpool_prefault(c->bp, 2);
    }
    return NULL;
}

TEST(blockpool_concurrent_churn)
{
    blockpool_t *bp = blockpool_create(4);
    churn_t c[2] = {{bp, 0x5a, 0}, {bp, 0xa5, 0}};
    tu_threads(churn_main, c, sizeof c[0], 2);
    CHECK(c[0].bad == 0 && c[1].bad == 0);
    CHECK(blockpool_free(bp) <= 4);
    CHECK_EQ_U64(blockpool_mapped(bp), blockpool_free(bp)); /* every block came back */
    blockpool_destroy(bp);
}
