/* Building, encoding and decoding a segment's footer index (lib/seg_index.h). */
#include "seg_index.h"

#include "err.h"
#include "labelkey.h"
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

/* Marks bin `bin` in the map of the label l[0..n) (1 <= n <= 65535). `seen` holds the label
 * at its place (or a few places on) when the first and last 8 bytes and the length match — the
 * same text when it is at most 16 bytes long, else once its middle compares equal too — with
 * the bin marked last, so a repeat in the same bin touches nothing else; a new label gets the
 * map its XXH32 keys. `back`: the 8 bytes before l + n may be read (a walked event's header and
 * "START " lie before l). */
static inline void label_mark(seg_index_t *x, const uint8_t *l, size_t n, bool back, uint32_t bin)
{
    uint64_t a = 0, b;
    if (n >= 8) { /* fixed-size loads: no call */
        a = labelkey_load64((const char *)l);
        b = labelkey_load64((const char *)l + n - 8);
    } else {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (back) /* one load, the bytes before l shifted out: as the loop below packs them */
            a = labelkey_load64((const char *)l + n - 8) >> (64 - 8 * n);
        else
#endif
            for (size_t i = 0; i < n; i++)
                a |= (uint64_t)l[i] << (8 * i);
        b = a;
    }
    uint64_t mix = ((a ^ n) * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full);
    size_t h = (size_t)(mix >> 48) & (SEG_INDEX_LABEL_SEEN - 1), slot = h;
    seg_index_seen_t *sn = x->seen;
    /* a few probes, so labels whose places collide both stay; slots are never emptied, so the
     * first empty one ends the search */
    for (size_t k = 0; k < 4; k++) {
        size_t j = (h + k) & (SEG_INDEX_LABEL_SEEN - 1);
        if (!sn->label[j].map) {
            slot = j;
            break;
        }
        if (sn->label[j].a != a || sn->label[j].b != b || sn->label[j].n != n) continue;
        seg_index_map_t *m = &x->maps[sn->label[j].map - 1];
        if (n > 16 && memcmp(m->name + 8, l + 8, n - 16)) continue;
        if (sn->label[j].last != bin) {
            mark(m, bin);
            sn->label[j].last = bin;
        }
        return;
    }
    seg_index_map_t *m = map_get(x, SEG_MAP_LABEL, XXH32(l, n, 0), l, n);
    mark(m, bin);
    sn->label[slot].a = a;
    sn->label[slot].b = b;
    sn->label[slot].n = (uint32_t)n;
    sn->label[slot].map = (uint32_t)(m - x->maps) + 1;
    sn->label[slot].last = bin;
}

/* What the index does with an event type below 256 besides marking it. */
enum { KIND_PLAIN, KIND_THREAD, KIND_USER, KIND_BLOCK };
static const uint8_t type_kind[256] = {
    [EVLOG_CREATE_THREAD] = KIND_THREAD,  [EVLOG_RUN_THREAD] = KIND_THREAD,
    [EVLOG_STOP_THREAD] = KIND_THREAD,    [EVLOG_THREAD_RUNNABLE] = KIND_THREAD,
    [EVLOG_MIGRATE_THREAD] = KIND_THREAD, [EVLOG_THREAD_WAKEUP] = KIND_THREAD,
    [EVLOG_THREAD_LABEL] = KIND_THREAD,   [EVLOG_USER_MSG] = KIND_USER,
    [EVLOG_BLOCK_MARKER] = KIND_BLOCK,
};

/* The map of the current thread bin, made when first needed. */
static seg_index_map_t *thread_map(seg_index_t *x)
{
    if (!x->thread_map) {
        map_get(x, SEG_MAP_THREAD, x->thread_bin, NULL, 0);
        x->thread_map = u32map_get(&x->ix[SEG_MAP_THREAD], x->thread_bin) + 1;
    }
    return &x->maps[x->thread_map - 1];
}

/* Marks the current type bin in the map of every type below 256 held back for it. */
static void flush_types(seg_index_t *x)
{
    for (unsigned w = 0; w < 4; w++) {
        for (uint64_t m = x->bin_types[w]; m; m &= m - 1) {
            unsigned type = w * 64 + (unsigned)__builtin_ctzll(m);
            if (!x->type_map[type]) {
                map_get(x, SEG_MAP_TYPE, type, NULL, 0);
                x->type_map[type] = (uint32_t)x->nmaps;
            }
            mark(&x->maps[x->type_map[type] - 1], x->bin);
        }
        x->bin_types[w] = 0;
    }
}

/* Adds the thread ids held back (those below SEG_INDEX_TID_BITS) to the current thread set. */
static void flush_threads(seg_index_t *x)
{
    seg_index_seen_t *sn = x->seen;
    for (unsigned s = 0; s < SEG_INDEX_TID_BITS / 4096; s++) {
        for (uint64_t sm = sn->tid_sum[s]; sm; sm &= sm - 1) {
            unsigned w = s * 64 + (unsigned)__builtin_ctzll(sm);
            seg_index_map_t *m = thread_map(x);
            for (uint64_t bits = sn->tid_bits[w]; bits; bits &= bits - 1)
                bitmap_add(m->bins, w * 64 + (unsigned)__builtin_ctzll(bits));
            sn->tid_bits[w] = 0;
        }
        sn->tid_sum[s] = 0;
    }
}

void seg_index_flush(seg_index_t *x)
{
    flush_types(x);
    if (x->seen) flush_threads(x);
}

/* The bin of width `width` holding time ts (saturated at 2^32 - 1); its time range in *lo, *hi. */
static uint32_t bin_of(uint64_t ts, uint64_t width, uint64_t *lo, uint64_t *hi)
{
    uint64_t b = ts / width;
    *lo = b * width;
    *hi = b < UINT32_MAX ? *lo + width : UINT64_MAX;
    return b > UINT32_MAX ? UINT32_MAX : (uint32_t)b;
}

/* Moves the type bin and the thread bin on to hold time ts, marking what the bins left held. */
static void move_bins(seg_index_t *x, uint64_t ts)
{
    if (ts < x->bin_lo || ts >= x->bin_hi) {
        flush_types(x);
        x->bin = bin_of(ts, x->bin_ns, &x->bin_lo, &x->bin_hi);
    }
    if (ts < x->thread_lo || ts >= x->thread_hi) {
        flush_threads(x);
        x->thread_bin = bin_of(ts, x->thread_bin_ns, &x->thread_lo, &x->thread_hi);
        x->thread_map = 0;
        x->thread_gen++;
    }
    x->in_lo = x->bin_lo > x->thread_lo ? x->bin_lo : x->thread_lo;
    x->in_hi = x->bin_hi < x->thread_hi ? x->bin_hi : x->thread_hi;
}

/* Adds thread id `tid` of SEG_INDEX_TID_BITS or more to the current thread set at once (below
 * that, ids are held back as bits). */
static void big_thread(seg_index_t *x, uint32_t tid)
{
    uint64_t seen = (uint64_t)x->thread_gen << 32 | tid;
    uint64_t *slot = &x->seen->tid[tid & (SEG_INDEX_TID_SEEN - 1)];
    if (*slot == seen) return;
    *slot = seen;
    bitmap_add(thread_map(x)->bins, tid);
}

/* The label of a user message's payload p[0..size) ("START x" / "STOP x": x), marked in bin. */
static inline void user_label(seg_index_t *x, const uint8_t *p, uint32_t size, bool back)
{
    if (size <= 5) return;
    if (size > 6 && !memcmp(p, "START ", 6))
        label_mark(x, p + 6, size - 6, back, x->bin);
    else if (!memcmp(p, "STOP ", 5))
        label_mark(x, p + 5, size - 5, back, x->bin);
}

/* Adds one event (its type, time and payload) at stream offset `off`; x->seen is allocated.
 * `back` as for label_mark. */
static void index_one(seg_index_t *x, uint16_t type, uint64_t ts, const uint8_t *payload,
                      uint32_t size, uint64_t off, bool back)
{
    unsigned kind = type < 256 ? type_kind[type] : KIND_PLAIN;
    if (kind == KIND_BLOCK) {
        xgrow((void **)&x->points, &x->points_cap, x->npoints + 1, sizeof *x->points);
        x->points[x->npoints++] = (seg_index_point_t){ts, off};
        return;
    }
    if (ts < x->in_lo || ts >= x->in_hi) move_bins(x, ts);
    if (x->events == 0 || ts < x->first_ts) x->first_ts = ts;
    if (ts > x->last_ts) x->last_ts = ts;
    x->events++;
    if (type >= 256) { /* no fast path, nothing but the type to mark */
        mark(map_get(x, SEG_MAP_TYPE, type, NULL, 0), x->bin);
        return;
    }
    x->bin_types[type >> 6] |= 1ull << (type & 63);
    if (kind == KIND_THREAD && size >= 4) {
        uint32_t tid = evlog_u32(payload);
        if (tid < SEG_INDEX_TID_BITS) {
            x->seen->tid_bits[tid >> 6] |= 1ull << (tid & 63);
            x->seen->tid_sum[tid >> 12] |= 1ull << (tid >> 6 & 63);
        } else {
            big_thread(x, tid);
        }
    } else if (kind == KIND_USER) {
        user_label(x, payload, size, back);
    }
}

static void seen_alloc(seg_index_t *x)
{
    if (!x->seen) x->seen = xcalloc(1, sizeof *x->seen);
}

void seg_index_event(seg_index_t *x, const evlog_event_t *ev, uint64_t off)
{
    seen_alloc(x);
    index_one(x, ev->type, ev->ts, ev->payload, ev->size, off, false);
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

/* The walk's table for a type below 256: its whole size when fixed (FAST_VAR: a 16-bit length
 * follows the header), its kind, and FAST_OK when the fast loop takes it (declared, no block
 * marker). */
#define FAST_VAR (1u << 16)
#define FAST_KIND_SHIFT 17
#define FAST_OK (1u << 20)

/* The events of p[i..n) the fast loop takes: declared types below 256 but the block marker,
 * with at least 16 bytes left from their start (so the 4 bytes after any header may be read).
 * Type bits and thread ids are held back as bits, every event ORs its thread bit (a zero one
 * unless it names a thread below SEG_INDEX_TID_BITS), so that the mix of event kinds costs no
 * mispredicted branches. Returns where it stopped: at an event for the careful path, or at one
 * not whole in p. */
static size_t walk_fast(seg_index_t *x, const uint32_t *tab, const uint8_t *p, size_t n, size_t i)
{
    uint64_t in_lo = x->in_lo, in_hi = x->in_hi, first = x->events ? x->first_ts : UINT64_MAX;
    uint64_t last = x->last_ts, events = x->events;
    uint64_t *bits = x->seen->tid_bits, *sum = x->seen->tid_sum;
    while (n - i >= 16) {
        const uint8_t *e = p + i;
        uint16_t type = evlog_u16(e);
        if (type >= 256) break;
        uint32_t in = tab[type];
        if (!(in & FAST_OK)) break;
        uint32_t var = in >> 16 & 1, head = 10 + 2 * var;
        /* both sizes read, one kept without a branch: fixed and variable sizes interleave */
        size_t total = (in & 0xFFFF) + ((12 + (size_t)evlog_u16(e + 10)) & (0 - (size_t)var));
        if (total > n - i) break;
        uint64_t ts = evlog_u64(e + 2);
        if (ts < in_lo || ts >= in_hi) {
            move_bins(x, ts);
            in_lo = x->in_lo;
            in_hi = x->in_hi;
        }
        first = ts < first ? ts : first;
        last = ts > last ? ts : last;
        events++;
        x->bin_types[type >> 6] |= 1ull << (type & 63);
        unsigned kind = in >> FAST_KIND_SHIFT & 3;
        uint32_t tid = evlog_u32(e + head);
        uint64_t thr = kind == KIND_THREAD && total - head >= 4;
        uint64_t small = thr & (tid < SEG_INDEX_TID_BITS);
        bits[tid >> 6 & (SEG_INDEX_TID_BITS / 64 - 1)] |= small << (tid & 63);
        sum[tid >> 12 & (SEG_INDEX_TID_BITS / 4096 - 1)] |= small << (tid >> 6 & 63);
        if (thr > small) big_thread(x, tid);
        if (kind == KIND_USER) user_label(x, e + head, (uint32_t)(total - head), true);
        i += total;
    }
    if (events) x->first_ts = first;
    x->last_ts = last;
    x->events = events;
    return i;
}

int seg_index_scan(seg_index_t *x, const evlog_types_t *tt, const uint8_t *p, size_t n,
                   uint64_t off, bool split, size_t *used)
{
    size_t i = 0;
    int rc = SEG_SCAN_MORE;
    seen_alloc(x);
    uint32_t tab[256];
    for (unsigned t = 0; t < 256; t++) {
        int32_t d = tt->size[t];
        uint32_t ok = type_kind[t] != KIND_BLOCK ? FAST_OK : 0;
        uint32_t kind = (uint32_t)type_kind[t] << FAST_KIND_SHIFT;
        tab[t] = d == EVLOG_VAR_SIZE         ? ok | kind | FAST_VAR
                 : d >= 0 && d <= 65535 - 10 ? ok | kind | (uint32_t)(10 + d)
                                             : 0;
    }
    for (;;) {
        i = walk_fast(x, tab, p, n, i);
        /* the careful path: one event of any kind, near the end or not */
        const uint8_t *e = p + i;
        size_t head = 10, left = n - i;
        long total = event_size(tt, e, left, &head);
        if (total < 0) { /* undeclared, or the end marker: the decoder's business */
            rc = SEG_SCAN_ODD;
            break;
        }
        if (total == 0 || (size_t)total > left) break;
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
        index_one(x, type, evlog_u64(e + 2), e + head, (uint32_t)size, off + i, true);
        i += (size_t)total;
    }
    *used = i;
    return rc;
}

uint8_t *seg_index_encode(seg_index_t *x, size_t *len)
{
    seg_index_flush(x);
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
