/* Reference-counted immutable bytes (lib/blob.h). */
#include "blob.h"

#include "xmalloc.h"

#include <stdatomic.h>
#include <stdlib.h>

struct blob {
    _Atomic size_t refs;
    char *bytes;
    size_t len;
};

blob_t *blob_create(char *bytes, size_t len)
{
    blob_t *b = xmalloc(sizeof *b);
    atomic_init(&b->refs, 1);
    b->bytes = bytes;
    b->len = len;
    return b;
}

blob_t *blob_ref(blob_t *b)
{
    /* relaxed: a new reference comes from one already held, which keeps the blob alive */
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void blob_unref(blob_t *b)
{
    if (!b) return;
    /* acq_rel: the last owner frees the bytes after every other owner's reads of them */
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1) return;
    free(b->bytes);
    free(b);
}

const char *blob_bytes(const blob_t *b)
{
    return b->bytes ? b->bytes : "";
}

size_t blob_len(const blob_t *b)
{
    return b->len;
}
