/* Fixed 2 MiB blocks for bytes in flight between threads (an upload's chunks on their way to the
 * segment writer thread), aligned to their size so that the kernel may back each with one huge
 * page, and kept for reuse once given back: the thread that copies a chunk in writes to memory
 * that is mapped already instead of faulting every 4 KiB page of fresh heap. */
#ifndef LP_BLOCKPOOL_H
#define LP_BLOCKPOOL_H

#include <stddef.h>
#include <stdint.h>

#define BLOCKPOOL_BLOCK ((size_t)2 << 20) /* bytes per block */
#define BLOCKPOOL_AHEAD 8  /* blocks blockpool_prefault maps beyond the most ever handed out */
#define BLOCKPOOL_BEHIND 4 /* ... until this many were out at once: then all it is asked for */

typedef struct blockpool blockpool_t;

/* A pool that keeps at most `keep` free blocks mapped (more given back are unmapped). Out of
 * memory is fatal. Any thread. */
blockpool_t *blockpool_create(size_t keep);
/* Unmaps every free block and frees the pool (NULL is a no-op); every block must have been given
 * back. One thread, when no other uses the pool. */
void blockpool_destroy(blockpool_t *bp);
/* A block of BLOCKPOOL_BLOCK bytes, aligned to its size: a free one (its pages mapped) or a
 * fresh mapping. The caller owns it until blockpool_put. Out of memory is fatal. Any thread
 * (the pool's mutex). */
uint8_t *blockpool_get(blockpool_t *bp);
/* Gives a block from blockpool_get back (NULL is a no-op): kept free, or unmapped when `keep`
 * are free already. Any thread (the pool's mutex). */
void blockpool_put(blockpool_t *bp, uint8_t *b);
/* Maps and touches fresh blocks until `n` are free or `n` are mapped in all (those handed out
 * come back), at most `keep` and, until BLOCKPOOL_BEHIND blocks were out at once, at most
 * BLOCKPOOL_AHEAD more than the most blocks ever handed out at once (one before any was: a light
 * load keeps little mapped, the first upload's first chunk and a growing load find their next
 * blocks ready), so that the page faults happen on the calling thread rather than in a later
 * blockpool_get; the mapping is done outside the mutex. Any thread; meant for a background one. */
void blockpool_prefault(blockpool_t *bp, size_t n);
/* Blocks mapped now (free or handed out), and free ones. Any thread (the pool's mutex). */
size_t blockpool_mapped(blockpool_t *bp);
size_t blockpool_free(blockpool_t *bp);

#endif
