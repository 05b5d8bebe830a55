/* Tests for lib/tidmap.c: lookups agree with a plain reference map whatever the order and spread
 * of the ids, and scattered large ids cost hash entries rather than a huge dense array. */
#include "test.h"

#include "tidmap.h"

#include <stdlib.h>

TEST(tidmap_matches_reference)
{
    enum { N = 20000 };
    static uint32_t keys[N], vals[N];
    tidmap_t m;
    tidmap_init(&m);
    uint32_t seed = 7;
    for (size_t i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        /* mostly small sequential ids, some scattered, some huge, some repeated */
        uint32_t r = seed >> 8;
        keys[i] = r % 4 == 0   ? r * 2654435761u
                  : r % 4 == 1 ? r % 5000000
                  : r % 4 == 2 ? (uint32_t)i
                               : keys[r % (i + 1)];
        vals[i] = (uint32_t)i;
        tidmap_put(&m, keys[i], vals[i]);
    }
    for (size_t i = 0; i < N; i++) {
        uint32_t want = U32MAP_NONE; /* the last value stored for the key */
        for (size_t j = N; j-- > 0;)
            if (keys[j] == keys[i]) {
                want = vals[j];
                break;
            }
        CHECKF(tidmap_get(&m, keys[i]) == want, "key %u: %u, expected %u", keys[i],
               tidmap_get(&m, keys[i]), want);
    }
    tidmap_dispose(&m);
}

/* Found while seeding fuzz/pipeline.c: one large thread id per --window analysis made every window
 * allocate 16 MiB arrays (a 17 KB log took 13 GB and minutes). */
TEST(tidmap_scattered_ids_stay_small)
{
    tidmap_t m;
    tidmap_init(&m);
    for (uint32_t i = 0; i < 100; i++)
        tidmap_put(&m, 4194303u - i * 40000u, i);
    CHECKF(m.dense_cap <= 1024, "dense array of %zu entries for 100 ids", m.dense_cap);
    for (uint32_t i = 0; i < 100; i++)
        CHECK(tidmap_get(&m, 4194303u - i * 40000u) == i);
    /* sequential ids still go dense, shadowing nothing */
    for (uint32_t t = 1; t <= 100000; t++)
        tidmap_put(&m, t, t + 7);
    CHECK(m.dense_cap > 100000);
    for (uint32_t t = 1; t <= 100000; t++)
        if (tidmap_get(&m, t) != t + 7) CHECKF(false, "tid %u", t);
    tidmap_dispose(&m);
}
