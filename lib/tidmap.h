/* A map from thread ids to uint32 values: a dense array for the small ids GHC hands out (1, 2,
 * 3, ...), a hash map for the rest, so the per-event lookup is one indexed load. The dense array
 * only grows while it stays at least 1/TIDMAP_DENSITY full, so scattered large ids (a hostile
 * log) cost hash entries, not megabytes of array. */
#ifndef LP_TIDMAP_H
#define LP_TIDMAP_H

#include "u32map.h"

#include <stddef.h>
#include <stdint.h>

#define TIDMAP_DENSE_MAX (1u << 22) /* ids at or above this always live in the hash map */
#define TIDMAP_DENSITY 8            /* the dense array grows only while >= 1/8 full */

typedef struct tidmap {
    uint32_t *dense; /* value + 1; 0 = absent (then the id may be in `sparse`) */
    size_t dense_cap;
    size_t dense_used; /* ids stored in the dense array */
    u32map_t sparse;
} tidmap_t;

/* Sets up an empty map on caller storage. */
void tidmap_init(tidmap_t *m);
/* Frees the map's storage. */
void tidmap_dispose(tidmap_t *m);
/* Returns the value stored for tid, or U32MAP_NONE. Any thread reading a map nobody writes. */
static inline uint32_t tidmap_get(const tidmap_t *m, uint32_t tid)
{
    if (tid < m->dense_cap && m->dense[tid]) return m->dense[tid] - 1;
    return m->sparse.len ? u32map_get(&m->sparse, tid) : U32MAP_NONE;
}
/* Stores val (not U32MAP_NONE) for tid. Out of memory is fatal. */
void tidmap_put(tidmap_t *m, uint32_t tid, uint32_t val);

#endif
