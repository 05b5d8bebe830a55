/* Dense-or-hashed thread id map. The dense array doubles up to TIDMAP_DENSE_MAX entries. */
#include "tidmap.h"

#include "xmalloc.h"

#include <stdlib.h>
#include <string.h>

void tidmap_init(tidmap_t *m)
{
    m->dense = NULL;
    m->dense_cap = 0;
    u32map_init(&m->sparse);
}

void tidmap_dispose(tidmap_t *m)
{
    free(m->dense);
    u32map_dispose(&m->sparse);
    m->dense = NULL;
    m->dense_cap = 0;
}

void tidmap_put(tidmap_t *m, uint32_t tid, uint32_t val)
{
    if (tid >= TIDMAP_DENSE_MAX) {
        u32map_put(&m->sparse, tid, val);
        return;
    }
    if (tid >= m->dense_cap) {
        size_t cap = m->dense_cap ? m->dense_cap : 1024;
        while (cap <= tid)
            cap *= 2;
        m->dense = xrealloc(m->dense, cap * sizeof *m->dense);
        memset(m->dense + m->dense_cap, 0, (cap - m->dense_cap) * sizeof *m->dense);
        m->dense_cap = cap;
    }
    m->dense[tid] = val + 1;
}
