/* Backlog unit memory: each 2 MiB chunk starts with a header counting its live pieces and the
 * bytes carved so far; pieces are carved in order from the current chunk, and a chunk whose
 * count drops to zero goes to the spares (or back to the kernel). A backlog's first pass through
 * fresh memory then costs a page fault per 2 MiB where the kernel gives huge pages, not one per
 * 4 KiB, and the memory is reused afterwards without faults. */
#include "unitmem.h"

#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

typedef struct chunk_head {
    size_t live; /* pieces not freed yet */
    size_t used; /* bytes carved, header included */
} chunk_head_t;

#define HEAD ((sizeof(chunk_head_t) + 15) & ~(size_t)15)

/* A fresh chunk aligned to its size, or an empty spare one. */
static uint8_t *chunk_new(unitmem_t *um)
{
    uint8_t *c;
    if (um->nspare) {
        c = um->spare[--um->nspare];
    } else {
        size_t span = 2 * UNITMEM_CHUNK;
        uint8_t *m = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) xoom(span);
        uintptr_t a = ((uintptr_t)m + UNITMEM_CHUNK - 1) & ~(uintptr_t)(UNITMEM_CHUNK - 1);
        c = (uint8_t *)a;
        if (c > m) munmap(m, (size_t)(c - m));
        if (c + UNITMEM_CHUNK < m + span)
            munmap(c + UNITMEM_CHUNK, (size_t)(m + span - (c + UNITMEM_CHUNK)));
#ifdef MADV_HUGEPAGE
        madvise(c, UNITMEM_CHUNK, MADV_HUGEPAGE); /* a hint: without it, plain pages */
#endif
        um->chunks++;
    }
    chunk_head_t *h = (chunk_head_t *)c;
    h->live = 0;
    h->used = HEAD;
    return c;
}

/* An empty chunk that is not the current one: a spare, or unmapped when there are enough. */
static void chunk_release(unitmem_t *um, uint8_t *c)
{
    if (um->nspare < UNITMEM_SPARE) {
        um->spare[um->nspare++] = c;
    } else {
        munmap(c, UNITMEM_CHUNK);
        um->chunks--;
    }
}

void *unitmem_alloc(unitmem_t *um, size_t n)
{
    if (n > UNITMEM_MAX) {
        fprintf(stderr, "unitmem: a piece of %zu bytes is over the limit\n", n);
        abort();
    }
    n = (n + 15) & ~(size_t)15;
    chunk_head_t *h = (chunk_head_t *)um->cur;
    if (!h || h->used + n > UNITMEM_CHUNK) {
        um->cur = chunk_new(um);
        h = (chunk_head_t *)um->cur;
    }
    void *p = um->cur + h->used;
    h->used += n;
    h->live++;
    return p;
}

void unitmem_free(unitmem_t *um, void *p)
{
    if (!p) return;
    uint8_t *c = (uint8_t *)((uintptr_t)p & ~(uintptr_t)(UNITMEM_CHUNK - 1));
    chunk_head_t *h = (chunk_head_t *)c;
    if (--h->live > 0) return;
    if (c == um->cur)
        h->used = HEAD; /* empty: carve it again from the start */
    else
        chunk_release(um, c);
}

void unitmem_dispose(unitmem_t *um)
{
    if (um->cur && ((chunk_head_t *)um->cur)->live == 0) {
        munmap(um->cur, UNITMEM_CHUNK);
        um->chunks--;
        um->cur = NULL;
    }
    for (size_t i = 0; i < um->nspare; i++) {
        munmap(um->spare[i], UNITMEM_CHUNK);
        um->chunks--;
    }
    um->nspare = 0;
}
