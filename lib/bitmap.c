/* The one file that includes roaring (CRoaring 0.2.66, 32-bit sets): lib/bitmap.h over it.
 * Serialized sets are validated here, whole, before CRoaring reads them: its reader prints to
 * stderr on corrupt input (and checks sizes only), so it only ever sees what it wrote. */
#include "bitmap.h"

#include "xmalloc.h"

#include <roaring/roaring.h>
#include <stdlib.h>
#include <string.h>

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

static uint32_t get16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t get32(const uint8_t *p)
{
    return get16(p) | get16(p + 2) << 16;
}

/* A run container at p[*at..len) holding `card` values: runs (start, length - 1) in order,
 * not overlapping, inside 16 bits. Advances *at. */
static bool runs_ok(const uint8_t *p, size_t len, size_t *at, uint32_t card)
{
    if (len - *at < 2) return false;
    size_t nruns = get16(p + *at);
    *at += 2;
    if (!nruns || (len - *at) / 4 < nruns) return false;
    uint32_t total = 0;
    int64_t next = 0; /* the least start the next run may have */
    for (size_t r = 0; r < nruns; r++, *at += 4) {
        uint32_t start = get16(p + *at), more = get16(p + *at + 2);
        if ((int64_t)start < next || start + more > 0xFFFF) return false;
        next = (int64_t)start + more + 1;
        total += more + 1;
    }
    return total == card;
}

/* An array container: `card` 16-bit values, strictly increasing. Advances *at. */
static bool array_ok(const uint8_t *p, size_t len, size_t *at, uint32_t card)
{
    if ((len - *at) / 2 < card) return false;
    for (uint32_t i = 1; i < card; i++)
        if (get16(p + *at + 2 * i) <= get16(p + *at + 2 * i - 2)) return false;
    *at += 2 * (size_t)card;
    return true;
}

/* A bitset container: 8 KiB with exactly `card` bits set. Advances *at. */
static bool bitset_ok(const uint8_t *p, size_t len, size_t *at, uint32_t card)
{
    if (len - *at < 8192) return false;
    uint32_t bits = 0;
    for (size_t i = 0; i < 8192; i += 8) {
        uint64_t w;
        memcpy(&w, p + *at + i, 8);
        bits += (uint32_t)__builtin_popcountll(w);
    }
    *at += 8192;
    return bits == card;
}

/* True when p[0..len) is exactly one set in the portable format (RoaringFormatSpec) as CRoaring
 * writes it: a cookie (with or without run containers), the container count, the key and
 * cardinality headers (keys strictly increasing), the offsets (when the format has them), then
 * each container whole and consistent with its header. */
static bool portable_ok(const uint8_t *p, size_t len)
{
    if (len < 8) return false;
    uint32_t cookie = get32(p);
    size_t n, at;
    const uint8_t *runs = NULL;
    if ((cookie & 0xFFFF) == SERIAL_COOKIE) {
        n = (cookie >> 16) + 1;
        runs = p + 4;
        at = 4 + (n + 7) / 8;
    } else if (cookie == SERIAL_COOKIE_NO_RUNCONTAINER) {
        n = get32(p + 4);
        at = 8;
    } else
        return false;
    if (n > 65536 || at > len || (len - at) / 4 < n) return false;
    const uint8_t *heads = p + at;
    at += 4 * n;
    if (!runs || n >= NO_OFFSET_THRESHOLD) {
        if ((len - at) / 4 < n) return false;
        at += 4 * n; /* offsets: CRoaring reads the containers in order and skips them */
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t key = get16(heads + 4 * i), card = get16(heads + 4 * i + 2) + 1;
        if (i && key <= get16(heads + 4 * i - 4)) return false;
        bool ok;
        if (runs && (runs[i / 8] >> (i % 8) & 1))
            ok = runs_ok(p, len, &at, card);
        else if (card > DEFAULT_MAX_SIZE)
            ok = bitset_ok(p, len, &at, card);
        else
            ok = array_ok(p, len, &at, card);
        if (!ok) return false;
    }
    return at == len;
}

bitmap_t *bitmap_load(const uint8_t *p, size_t len)
{
    if (!portable_ok(p, len)) return NULL;
    roaring_bitmap_t *r = roaring_bitmap_portable_deserialize_safe((const char *)p, len);
    if (!r) return NULL;
    bitmap_t *b = xmalloc(sizeof *b);
    b->r = r;
    return b;
}
