/* The one allocation family for code where running out of memory is fatal (the server, the
 * analysis): each either returns memory or prints a message and exits. */
#ifndef LP_XMALLOC_H
#define LP_XMALLOC_H

#include <stddef.h>

/* Like malloc/calloc/realloc/strndup, but never return NULL. Any thread. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrndup(const char *s, size_t n);
/* The family's fatal end, for memory that comes from elsewhere (mmap): prints the message for
 * n bytes and aborts. Any thread. */
_Noreturn void xoom(size_t n);
/* A mapping of its own for a big, long-lived buffer (n > 0 bytes, zero-filled, page-aligned):
 * its pages are faulted in only as they are first touched, and it never takes the heap's free
 * memory, which the next request bodies would then have to fault in afresh. Free it with
 * xunmap(p, n). Any thread. */
void *xmap(size_t n);
/* Returns xmap(n)'s mapping; NULL is a no-op. */
void xunmap(void *p, size_t n);
/* Grows *p (an array of `elem`-byte items with capacity *cap) to hold at least `need`. */
void xgrow(void **p, size_t *cap, size_t need, size_t elem);

#endif
