/* Compressed sets of 32-bit integers (the segment index's bins per event type, thread and
 * label), a small wrapper so that only lib/bitmap.c includes roaring. */
#ifndef LP_BITMAP_H
#define LP_BITMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bitmap bitmap_t;

/* An empty set. Out of memory is fatal. Any thread; one thread at a time per set. */
bitmap_t *bitmap_create(void);
/* Frees the set; NULL is a no-op. */
void bitmap_destroy(bitmap_t *b);
/* Adds v. */
void bitmap_add(bitmap_t *b, uint32_t v);
/* True when v is in the set. */
bool bitmap_contains(const bitmap_t *b, uint32_t v);
/* Members in [lo, hi). */
uint64_t bitmap_count_range(const bitmap_t *b, uint64_t lo, uint64_t hi);
/* Members. */
uint64_t bitmap_count(const bitmap_t *b);
/* Bytes of the portable serialization (after compressing runs). */
size_t bitmap_size(bitmap_t *b);
/* Writes the portable serialization (bitmap_size bytes) to out; returns the bytes written. */
size_t bitmap_save(const bitmap_t *b, uint8_t *out);
/* Reads the portable serialization that is exactly p[0..len) (as bitmap_save writes it). Returns
 * a new set, or NULL when the bytes are not one valid set (validated whole before CRoaring reads
 * them, so corrupt input never makes it print; never reads past len). Any thread. */
bitmap_t *bitmap_load(const uint8_t *p, size_t len);

#endif
