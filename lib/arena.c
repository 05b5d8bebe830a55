/* Chunked bump allocation: chunks of 64 KiB (or one piece's size when larger) in a list. */
#include "arena.h"

#include "xmalloc.h"

#include <stdlib.h>
#include <string.h>

struct arena_chunk {
    arena_chunk_t *next;
    size_t cap;
    _Alignas(8) unsigned char data[];
};

void arena_init(arena_t *a)
{
    memset(a, 0, sizeof *a);
}

void arena_dispose(arena_t *a)
{
    for (arena_chunk_t *c = a->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    arena_init(a);
}

void *arena_alloc(arena_t *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (!a->head || a->cap - a->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        arena_chunk_t *c = xmalloc(sizeof *c + cap);
        c->next = a->head;
        c->cap = cap;
        a->head = c;
        a->used = 0;
        a->cap = cap;
    }
    void *p = a->head->data + a->used;
    a->used += n;
    a->total += n;
    return p;
}

char *arena_strndup(arena_t *a, const void *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    if (n) memcpy(p, s, n); /* s may be NULL when n is 0 (memcpy from NULL is undefined) */
    p[n] = 0;
    return p;
}
