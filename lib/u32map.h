/* An open-addressing hash map from uint32 keys to uint32 values, for thread ids and similar
 * dense-ish integer keys. Values are opaque to the map; the caller stores indices in them. */
#ifndef LP_U32MAP_H
#define LP_U32MAP_H

#include <stddef.h>
#include <stdint.h>

#define U32MAP_NONE UINT32_MAX

typedef struct u32map {
    uint32_t *keys;
    uint32_t *vals; /* U32MAP_NONE marks an empty slot */
    size_t cap;     /* power of two, 0 before the first insert */
    size_t len;
} u32map_t;

/* Sets up an empty map on caller storage (allocates on first put). Out of memory is fatal. */
void u32map_init(u32map_t *m);
/* Frees the map's storage. */
void u32map_dispose(u32map_t *m);
/* Returns the value stored for `key`, or U32MAP_NONE. */
uint32_t u32map_get(const u32map_t *m, uint32_t key);
/* Stores `val` (not U32MAP_NONE) for `key`, replacing any value. */
void u32map_put(u32map_t *m, uint32_t key, uint32_t val);

#endif
