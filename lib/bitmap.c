/* The one file that includes roaring (CRoaring 0.2.66, 32-bit sets): lib/bitmap.h over it. */
#include "bitmap.h"

#include "xmalloc.h"

#include <roaring/roaring.h>
#include <stdlib.h>

struct bitmap {
    roaring_bitmap_t *r;
};

bitmap_t *bitmap_create(void)
{
    bitmap_t *b = xmalloc(sizeof *b);
    b->r = roaring_bitmap_create();
    if (!b->r) abort(); /* roaring ran out of memory: fatal like xmalloc */
    return b;
}

void bitmap_destroy(bitmap_t *b)
{
    if (!b) return;
    roaring_bitmap_free(b->r);
    free(b);
}

void bitmap_add(bitmap_t *b, uint32_t v)
{
    roaring_bitmap_add(b->r, v);
}

bool bitmap_contains(const bitmap_t *b, uint32_t v)
{
    return roaring_bitmap_contains(b->r, v);
}

uint64_t bitmap_count_range(const bitmap_t *b, uint64_t lo, uint64_t hi)
{
    return hi > lo ? roaring_bitmap_range_cardinality(b->r, lo, hi) : 0;
}

uint64_t bitmap_count(const bitmap_t *b)
{
    return roaring_bitmap_get_cardinality(b->r);
}

size_t bitmap_size(bitmap_t *b)
{
    roaring_bitmap_run_optimize(b->r);
    return roaring_bitmap_portable_size_in_bytes(b->r);
}

size_t bitmap_save(const bitmap_t *b, uint8_t *out)
{
    return roaring_bitmap_portable_serialize(b->r, (char *)out);
}

bitmap_t *bitmap_load(const uint8_t *p, size_t len)
{
    roaring_bitmap_t *r = roaring_bitmap_portable_deserialize_safe((const char *)p, len);
    if (!r) return NULL;
    bitmap_t *b = xmalloc(sizeof *b);
    b->r = r;
    return b;
}
