/* Building, encoding and decoding a segment's footer index (lib/seg_index.h). */
#include "seg_index.h"

#include "err.h"
#include "segment.h"
#include "xmalloc.h"

#include <stdlib.h>
#include <string.h>
#define XXH_INLINE_ALL /* header-only XXH64: inlined, no library call per record */
#include <xxhash.h>

void seg_index_init(seg_index_t *x, uint64_t start)
{
    memset(x, 0, sizeof *x);
    x->stream_start = x->stream_end = start;
    x->bin_ns = SEG_INDEX_BIN_NS;
    x->thread_bin_ns = SEG_INDEX_THREAD_BIN_NS;
    for (int k = 0; k < 3; k++)
        u32map_init(&x->ix[k]);
}

void seg_index_dispose(seg_index_t *x)
{
    for (size_t i = 0; i < x->nmaps; i++) {
        free(x->maps[i].name);
        bitmap_destroy(x->maps[i].bins);
    }
    free(x->maps);
    free(x->points);
    for (int k = 0; k < 3; k++)
        u32map_dispose(&x->ix[k]);
    free(x->seen);
    memset(x, 0, sizeof *x);
}

static seg_index_map_t *map_get(seg_index_t *x, int kind, uint32_t key, const uint8_t *name,
                                size_t name_len)
{
    uint32_t i = u32map_get(&x->ix[kind], key);
    if (i != U32MAP_NONE) return &x->maps[i];
    xgrow((void **)&x->maps, &x->maps_cap, x->nmaps + 1, sizeof *x->maps);
    seg_index_map_t *m = &x->maps[x->nmaps];
    memset(m, 0, sizeof *m);
    m->kind = (uint8_t)kind;
    m->key = key;
    m->name = name ? xstrndup((const char *)name, name_len) : NULL;
    m->name_len = m->name ? (uint32_t)strlen(m->name) : 0;
    m->bins = bitmap_create();
    u32map_put(&x->ix[kind], key, (uint32_t)x->nmaps);
    return &x->maps[x->nmaps++];
}

static void mark(seg_index_map_t *m, uint32_t bin)
{
    if (m->any && m->last_bin == bin) return;
    bitmap_add(m->bins, bin);
    m->last_bin = bin;
    m->any = true;
}

/* The map of a label: the one `seen` holds at its place (or a few places on) when its text is
 * the same (no hash of the whole text, no map lookup), else the one its XXH32 keys. */
static seg_index_map_t *label_map(seg_index_t *x, const uint8_t *l, size_t n)
{
    uint64_t a = 0, b; /* the first and the last (up to) 8 bytes */
    if (n >= 8) {      /* fixed-size loads: no call */
        memcpy(&a, l, 8);
        memcpy(&b, l + n - 8, 8);
    } else {
        for (size_t i = 0; i < n; i++)
            a |= (uint64_t)l[i] << (8 * i);
        b = a;
    }
    uint64_t mix = (a * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full) ^ n;
    mix ^= mix >> 29;
    mix *= 0xBF58476D1CE4E5B9ull;
    uint32_t tag = (uint32_t)(mix >> 32);
    size_t h = (size_t)mix & (SEG_INDEX_LABEL_SEEN - 1), free_slot = h;
    bool any_free = false;
    for (size_t k = 0; k < 4; k++) { /* a few probes: labels whose slots collide both stay */
        size_t j = (h + k) & (SEG_INDEX_LABEL_SEEN - 1);
        uint32_t c = x->seen->label[j].map;
        if (!c) {
            if (!any_free) free_slot = j;
            any_free = true;
            continue;
        }
        if (x->seen->label[j].tag != tag) continue;
        seg_index_map_t *m = &x->maps[c - 1];
        if (m->name_len == n && !memcmp(m->name, l, n)) return m;
    }
    seg_index_map_t *m = map_get(x, SEG_MAP_LABEL, XXH32(l, n, 0), l, n);
    x->seen->label[free_slot].map = (uint32_t)(m - x->maps) + 1;
    x->seen->label[free_slot].tag = tag;
    return m;
}

/* The label of a "START x" / "STOP x" user message, or NULL. */
static const uint8_t *label_of(uint16_t type, const uint8_t *p, size_t n, size_t *len)
{
    if (type == EVLOG_USER_MSG && n >= 2) { /* variable size: u16 length prefix stripped */
        if (n > 6 && !memcmp(p, "START ", 6)) {
            *len = n - 6;
            return p + 6;
        }
        if (n > 5 && !memcmp(p, "STOP ", 5)) {
            *len = n - 5;
            return p + 5;
        }
    }
    return NULL;
}

/* Adds one event (its type, time and payload) at stream offset `off`. */
static inline void index_one(seg_index_t *x, uint16_t type, uint64_t ts, const uint8_t *payload,
                             uint32_t size, uint64_t off)
{
    if (ts < x->bin_lo || ts >= x->bin_hi) {
        uint64_t b = ts / x->bin_ns;
        x->bin = b > UINT32_MAX ? UINT32_MAX : (uint32_t)b;
        x->bin_lo = b * x->bin_ns;
        x->bin_hi = b < UINT32_MAX ? x->bin_lo + x->bin_ns : UINT64_MAX;
        memset(x->bin_types, 0, sizeof x->bin_types);
    }
    uint32_t bin = x->bin;
    if (!x->seen) x->seen = xcalloc(1, sizeof *x->seen);
    if (type == EVLOG_BLOCK_MARKER) {
        xgrow((void **)&x->points, &x->points_cap, x->npoints + 1, sizeof *x->points);
        x->points[x->npoints++] = (seg_index_point_t){ts, off};
        return;
    }
    if (x->events == 0 || ts < x->first_ts) x->first_ts = ts;
    if (ts > x->last_ts) x->last_ts = ts;
    x->events++;
    if (type < 256) {
        uint64_t bit = 1ull << (type & 63);
        if (!(x->bin_types[type >> 6] & bit)) { /* the type's first event in this bin */
            x->bin_types[type >> 6] |= bit;
            uint32_t m = x->type_map[type];
            if (!m) {
                map_get(x, SEG_MAP_TYPE, type, NULL, 0);
                m = x->type_map[type] = (uint32_t)x->nmaps;
            }
            mark(&x->maps[m - 1], bin);
        }
    } else {
        mark(map_get(x, SEG_MAP_TYPE, type, NULL, 0), bin);
    }
    switch (type) {
    case EVLOG_CREATE_THREAD:
    case EVLOG_RUN_THREAD:
    case EVLOG_STOP_THREAD:
    case EVLOG_THREAD_RUNNABLE:
    case EVLOG_MIGRATE_THREAD:
    case EVLOG_THREAD_WAKEUP:
    case EVLOG_THREAD_LABEL:
        if (size >= 4) {
            if (!x->thread_map || ts < x->thread_lo || ts >= x->thread_hi) {
                uint64_t t = ts / x->thread_bin_ns;
                uint32_t tb = t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
                x->thread_lo = t * x->thread_bin_ns;
                x->thread_hi = t < UINT32_MAX ? x->thread_lo + x->thread_bin_ns : UINT64_MAX;
                map_get(x, SEG_MAP_THREAD, tb, NULL, 0);
                x->thread_map = u32map_get(&x->ix[SEG_MAP_THREAD], tb) + 1;
                x->thread_bin = tb;
            }
            uint32_t tid = evlog_u32(payload);
            uint64_t seen = (uint64_t)x->thread_map << 32 | tid;
            uint64_t *slot = &x->seen->tid[tid & (SEG_INDEX_TID_SEEN - 1)];
            if (*slot != seen) {
                mark(&x->maps[x->thread_map - 1], tid);
                *slot = seen;
            }
        }
        break;
    default: {
        size_t n;
        const uint8_t *l = label_of(type, payload, size, &n);
        if (l) {
            if (n > 65535) n = 65535;
            mark(label_map(x, l, n), bin);
        }
    }
    }
}

void seg_index_event(seg_index_t *x, const evlog_event_t *ev, uint64_t off)
{
    index_one(x, ev->type, ev->ts, ev->payload, ev->size, off);
}

/* seg_index_event_size, and *head the bytes before the payload (10, or 12 with a length). */
static inline long event_size(const evlog_types_t *tt, const uint8_t *p, size_t n, size_t *head)
{
    if (n < 2) return 0;
    uint16_t type = evlog_u16(p);
    int32_t d = tt->size[type];
    if (type == 0xFFFF || (d < 0 && d != EVLOG_VAR_SIZE)) return -1;
    *head = d >= 0 ? 10 : 12;
    if (d >= 0) return n < 10 ? 0 : 10 + d;
    return n < 12 ? 0 : 12 + (long)evlog_u16(p + 10);
}

long seg_index_event_size(const evlog_types_t *tt, const uint8_t *p, size_t n)
{
    size_t head;
    return event_size(tt, p, n, &head);
}

int seg_index_scan(seg_index_t *x, const evlog_types_t *tt, const uint8_t *p, size_t n,
                   uint64_t off, bool split, size_t *used)
{
    size_t i = 0;
    int rc = SEG_SCAN_MORE;
    for (;;) {
        const uint8_t *e = p + i;
        size_t head = 10;
        long total = event_size(tt, e, n - i, &head);
        if (total < 0) { /* undeclared, or the end marker: the decoder's business */
            rc = SEG_SCAN_ODD;
            break;
        }
        if (total == 0 || (size_t)total > n - i) break;
        uint16_t type = evlog_u16(e);
        size_t size = (size_t)total - head;
        if (type == EVLOG_BLOCK_MARKER) {
            if (size != 14) {
                rc = SEG_SCAN_ODD;
                break;
            }
            if (split && off + i > x->stream_start) {
                rc = SEG_SCAN_BLOCK;
                break;
            }
        }
        index_one(x, type, evlog_u64(e + 2), e + head, (uint32_t)size, off + i);
        i += head + size;
    }
    *used = i;
    return rc;
}

uint8_t *seg_index_encode(seg_index_t *x, size_t *len)
{
    size_t n = 56 + 4 + x->npoints * 16 + 4;
    for (size_t i = 0; i < x->nmaps; i++)
        n += 11 + (x->maps[i].name ? strlen(x->maps[i].name) : 0) + bitmap_size(x->maps[i].bins);
    uint8_t *out = xmalloc(n), *p = out;
    const uint64_t head[7] = {x->stream_start, x->stream_end, x->first_ts,     x->last_ts,
                              x->bin_ns,       x->events,     x->thread_bin_ns};
    for (int i = 0; i < 7; i++, p += 8)
        seg_put64(p, head[i]);
    seg_put32(p, (uint32_t)x->npoints);
    p += 4;
    for (size_t i = 0; i < x->npoints; i++, p += 16) {
        seg_put64(p, x->points[i].ts);
        seg_put64(p + 8, x->points[i].stream_off);
    }
    seg_put32(p, (uint32_t)x->nmaps);
    p += 4;
    for (size_t i = 0; i < x->nmaps; i++) {
        const seg_index_map_t *m = &x->maps[i];
        size_t nl = m->name ? strlen(m->name) : 0;
        *p++ = m->kind;
        seg_put32(p, m->key);
        p[4] = (uint8_t)nl;
        p[5] = (uint8_t)(nl >> 8);
        p += 6;
        memcpy(p, m->name ? m->name : "", nl);
        p += nl;
        size_t bs = bitmap_save(m->bins, p + 4);
        seg_put32(p, (uint32_t)bs);
        p += 4 + bs;
    }
    *len = (size_t)(p - out);
    return out;
}

int seg_index_decode(seg_index_t *x, const uint8_t *p, size_t len)
{
    seg_index_init(x, 0);
    if (len < 60) goto bad; /* before `end`: an empty payload may come as NULL */
    const uint8_t *end = p + len;
    uint64_t *head[7] = {&x->stream_start, &x->stream_end, &x->first_ts,     &x->last_ts,
                         &x->bin_ns,       &x->events,     &x->thread_bin_ns};
    for (int i = 0; i < 7; i++, p += 8)
        *head[i] = seg_get64(p);
    size_t np = seg_get32(p);
    p += 4;
    if (x->bin_ns == 0 || x->thread_bin_ns == 0 || np > (size_t)(end - p) / 16) goto bad;
    x->points = xmalloc((np ? np : 1) * sizeof *x->points);
    x->npoints = x->points_cap = np;
    for (size_t i = 0; i < np; i++, p += 16)
        x->points[i] = (seg_index_point_t){seg_get64(p), seg_get64(p + 8)};
    if (end - p < 4) goto bad;
    size_t nm = seg_get32(p);
    p += 4;
    for (size_t i = 0; i < nm; i++) {
        if (end - p < 7) goto bad;
        uint8_t kind = p[0];
        uint32_t key = seg_get32(p + 1);
        size_t nl = (size_t)p[5] | (size_t)p[6] << 8;
        p += 7;
        if (kind > SEG_MAP_LABEL || (size_t)(end - p) < nl + 4) goto bad;
        const uint8_t *name = p;
        p += nl;
        size_t bs = seg_get32(p);
        p += 4;
        if ((size_t)(end - p) < bs || u32map_get(&x->ix[kind], key) != U32MAP_NONE) goto bad;
        bitmap_t *b = bitmap_load(p, bs);
        if (!b) goto bad;
        seg_index_map_t *m = map_get(x, kind, key, kind == SEG_MAP_LABEL ? name : NULL, nl);
        bitmap_destroy(m->bins);
        m->bins = b;
        p += bs;
    }
    if (p != end) goto bad;
    return 0;
bad:
    seg_index_dispose(x);
    return LP_ECORRUPT;
}

const seg_index_map_t *seg_index_find(const seg_index_t *x, int kind, uint32_t key)
{
    if (kind < 0 || kind > SEG_MAP_LABEL) return NULL;
    uint32_t i = u32map_get(&x->ix[kind], key);
    return i == U32MAP_NONE ? NULL : &x->maps[i];
}

bool seg_index_overlaps(const seg_index_t *x, uint64_t from, uint64_t to)
{
    if (x->events == 0) return false;
    return x->last_ts >= from && (to == 0 || x->first_ts < to);
}
