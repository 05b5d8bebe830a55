/* The block pool: a mutex-guarded stack of free blocks over size-aligned anonymous mappings
 * (madvise'd for huge pages where the kernel offers them). Blocks are never carved: one block is
 * one buffer, so giving one back is O(1) and nothing fragments. */
#include "blockpool.h"

#include "xmalloc.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct blockpool {
    pthread_mutex_t mu;
    uint8_t **free; /* free blocks (a stack), at most keep */
    size_t nfree, keep, mapped;
    size_t coming; /* of those mapped, the ones blockpool_prefault is still mapping */
    size_t peak;   /* the most blocks handed out at once so far */
};

/* A fresh mapping of one block aligned to its size. */
static uint8_t *block_map(void)
{
    size_t span = 2 * BLOCKPOOL_BLOCK;
    uint8_t *m = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) xoom(span);
    uintptr_t a = ((uintptr_t)m + BLOCKPOOL_BLOCK - 1) & ~(uintptr_t)(BLOCKPOOL_BLOCK - 1);
    uint8_t *b = (uint8_t *)a;
    if (b > m) munmap(m, (size_t)(b - m));
    if (b + BLOCKPOOL_BLOCK < m + span)
        munmap(b + BLOCKPOOL_BLOCK, (size_t)(m + span - (b + BLOCKPOOL_BLOCK)));
#ifdef MADV_HUGEPAGE
    madvise(b, BLOCKPOOL_BLOCK, MADV_HUGEPAGE); /* a hint: without it, plain pages */
#endif
    return b;
}

blockpool_t *blockpool_create(size_t keep)
{
    blockpool_t *bp = xcalloc(1, sizeof *bp);
    pthread_mutex_init(&bp->mu, NULL);
    bp->keep = keep;
    bp->free = xcalloc(keep ? keep : 1, sizeof *bp->free);
    return bp;
}

void blockpool_destroy(blockpool_t *bp)
{
    if (!bp) return;
    for (size_t i = 0; i < bp->nfree; i++)
        munmap(bp->free[i], BLOCKPOOL_BLOCK);
    pthread_mutex_destroy(&bp->mu);
    free(bp->free);
    free(bp);
}

uint8_t *blockpool_get(blockpool_t *bp)
{
    pthread_mutex_lock(&bp->mu);
    uint8_t *b = bp->nfree ? bp->free[--bp->nfree] : NULL;
    if (!b) bp->mapped++;
    size_t out = bp->mapped - bp->nfree - bp->coming;
    if (out > bp->peak) bp->peak = out;
    pthread_mutex_unlock(&bp->mu);
    return b ? b : block_map();
}

/* Puts b (`fresh`: blockpool_prefault's new one) on the free stack, or unmaps it when `keep` are
 * free already. Returns whether it was kept. */
static bool shelve(blockpool_t *bp, uint8_t *b, bool fresh)
{
    pthread_mutex_lock(&bp->mu);
    if (fresh) bp->coming--;
    bool keep = bp->nfree < bp->keep;
    if (keep)
        bp->free[bp->nfree++] = b;
    else
        bp->mapped--;
    pthread_mutex_unlock(&bp->mu);
    if (!keep) munmap(b, BLOCKPOOL_BLOCK);
    return keep;
}

void blockpool_put(blockpool_t *bp, uint8_t *b)
{
    if (b) shelve(bp, b, false);
}

void blockpool_prefault(blockpool_t *bp, size_t n)
{
    pthread_mutex_lock(&bp->mu);
    /* what the load so far has needed, and a little more (before any load, the block the first
     * chunk takes: a fresh block took 0.6-6 ms of the HTTP thread): a small load maps little, and a
     * growing one finds its next blocks mapped (a 1 GB upload's first chunks otherwise faulted
     * fresh blocks in on the HTTP thread, 8-9 ms each); one that has had BLOCKPOOL_BEHIND out
     * at once outruns whoever gives them back, and soon has as many out as it may: all of
     * them at once (growing by AHEAD, a 1 GB upload still found the pool empty at its 17th
     * chunk, while the writer was busy with the 16 before it) */
    size_t most = bp->peak >= BLOCKPOOL_BEHIND ? n : bp->peak ? bp->peak + BLOCKPOOL_AHEAD : 1;
    if (n > most) n = most;
    pthread_mutex_unlock(&bp->mu);
    if (n > bp->keep) n = bp->keep;
    for (;;) {
        pthread_mutex_lock(&bp->mu);
        /* blocks out now come back to the free stack: mapping past n in all would only unmap
         * them again then (and fault a fresh block in for each one) */
        bool more = bp->nfree < n && bp->mapped < n;
        if (more) { /* counted now: the block is on its way in */
            bp->mapped++;
            bp->coming++;
        }
        pthread_mutex_unlock(&bp->mu);
        if (!more) return;
        uint8_t *b = block_map();
        memset(b, 0, BLOCKPOOL_BLOCK); /* the page faults happen here */
        if (!shelve(bp, b, true)) return;
    }
}

size_t blockpool_mapped(blockpool_t *bp)
{
    pthread_mutex_lock(&bp->mu);
    size_t n = bp->mapped;
    pthread_mutex_unlock(&bp->mu);
    return n;
}

size_t blockpool_free(blockpool_t *bp)
{
    pthread_mutex_lock(&bp->mu);
    size_t n = bp->nfree;
    pthread_mutex_unlock(&bp->mu);
    return n;
}
