/* Dense-or-hashed thread id map. The dense array doubles up to TIDMAP_DENSE_MAX entries while it
 * stays 1/TIDMAP_DENSITY full; other ids go to the hash map. An id stored in the hash map before
 * the dense array covered it is shadowed by a later dense store (lookups try dense first). */
#include "tidmap.h"

#include "xmalloc.h"

#include <stdlib.h>
#include <string.h>

void tidmap_init(tidmap_t *m)
{
    m->dense = NULL;
    m->dense_cap = 0;
    m->dense_used = 0;
    u32map_init(&m->sparse);
}

void tidmap_dispose(tidmap_t *m)
{
    free(m->dense);
    u32map_dispose(&m->sparse);
    m->dense = NULL;
    m->dense_cap = 0;
    m->dense_used = 0;
}

void tidmap_put(tidmap_t *m, uint32_t tid, uint32_t val)
{
    if (tid >= m->dense_cap) {
        size_t cap = m->dense_cap ? m->dense_cap : 1024;
        while (cap <= tid)
            cap *= 2;
        if (tid >= TIDMAP_DENSE_MAX || (cap > 1024 && cap > TIDMAP_DENSITY * (m->dense_used + 1))) {
            u32map_put(&m->sparse, tid, val);
            return;
        }
        m->dense = xrealloc(m->dense, cap * sizeof *m->dense);
        memset(m->dense + m->dense_cap, 0, (cap - m->dense_cap) * sizeof *m->dense);
        m->dense_cap = cap;
    }
    m->dense_used += m->dense[tid] == 0;
    m->dense[tid] = val + 1;
}
