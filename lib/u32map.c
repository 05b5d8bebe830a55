/* Linear-probing uint32 -> uint32 hash map with power-of-two capacity and load <= 1/2. */
#include "u32map.h"

#include "xmalloc.h"

#include <stdlib.h>

static size_t slot_of(uint32_t key, size_t cap)
{
    uint32_t h = key * 0x9E3779B1u;
    return (size_t)(h ^ (h >> 15)) & (cap - 1);
}

void u32map_init(u32map_t *m)
{
    m->keys = NULL;
    m->vals = NULL;
    m->cap = 0;
    m->len = 0;
}

void u32map_dispose(u32map_t *m)
{
    free(m->keys);
    free(m->vals);
    u32map_init(m);
}

uint32_t u32map_get(const u32map_t *m, uint32_t key)
{
    if (!m->cap) return U32MAP_NONE;
    for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->vals[i] == U32MAP_NONE) return U32MAP_NONE;
        if (m->keys[i] == key) return m->vals[i];
    }
}

static void grow(u32map_t *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    uint32_t *keys = xmalloc(cap * sizeof *keys), *vals = xmalloc(cap * sizeof *vals);
    for (size_t i = 0; i < cap; i++)
        vals[i] = U32MAP_NONE;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->vals[i] == U32MAP_NONE) continue;
        size_t j = slot_of(m->keys[i], cap);
        while (vals[j] != U32MAP_NONE)
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
}

void u32map_put(u32map_t *m, uint32_t key, uint32_t val)
{
    if ((m->len + 1) * 2 > m->cap) grow(m);
    size_t i = slot_of(key, m->cap);
    while (m->vals[i] != U32MAP_NONE && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    if (m->vals[i] == U32MAP_NONE) m->len++;
    m->keys[i] = key;
    m->vals[i] = val;
}
