/* A bump allocator for many small, long-lived pieces (labels, list nodes) freed all at once. */
#ifndef LP_ARENA_H
#define LP_ARENA_H

#include <stddef.h>

typedef struct arena_chunk arena_chunk_t;
typedef struct arena {
    arena_chunk_t *head;
    size_t used, cap; /* in the head chunk */
    size_t total;     /* bytes handed out */
} arena_t;

/* Sets up an empty arena on caller storage. */
void arena_init(arena_t *a);
/* Frees every piece at once. */
void arena_dispose(arena_t *a);
/* Returns `n` bytes aligned to 8, owned by the arena (out of memory is fatal). */
void *arena_alloc(arena_t *a, size_t n);
/* Copies `n` bytes plus a NUL into the arena (s may be NULL when n is 0); returns the copy. */
char *arena_strndup(arena_t *a, const void *s, size_t n);

#endif
