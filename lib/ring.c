/* The SPSC byte ring: two monotonic 64-bit counters (bytes ever published, bytes ever consumed)
 * on separate cache lines, each side caching its last view of the other's counter, and
 * acquire/release pairs on the counters that hand the bytes over between the two threads. */
#include "ring.h"

#include "err.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RING_LINE 64 /* cache line size: the two sides' fields never share a line */

struct ring {
    /* Read-only after ring_create, so both sides read this line without ever invalidating it. */
    uint8_t *buf;  /* `cap` bytes, right after this struct in the same mapping */
    uint64_t cap;  /* a power of two */
    uint64_t mask; /* cap - 1: position -> offset in buf */

    /* The producer's line: written only by the producer. */
    alignas(RING_LINE) _Atomic uint64_t head; /* bytes ever published */
    _Atomic bool closed;                      /* set once by ring_close_spsc */
    uint64_t tail_cache;                      /* the producer's last view of tail (<= tail) */
    uint64_t reserved; /* bytes left of the current reservation, starting at head */

    /* The consumer's line: written only by the consumer. */
    alignas(RING_LINE) _Atomic uint64_t tail; /* bytes ever consumed */
    uint64_t head_cache;                      /* the consumer's last view of head (<= head) */
};

/* The ring's mapping: the struct, then the bytes. */
static size_t ring_bytes(uint64_t capacity)
{
    return sizeof(ring_t) + (size_t)capacity;
}

ring_t *ring_create(size_t capacity)
{
    if (capacity == 0 || (capacity & (capacity - 1)) != 0) return NULL;
    if (capacity > RING_MAX_CAPACITY) return NULL;
    /* a mapping of its own (page-aligned, so line-aligned): untouched pages cost nothing, and
     * the ring never takes the heap's free memory from the request bodies that reuse it */
    void *m = mmap(NULL, ring_bytes(capacity), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (m == MAP_FAILED) return NULL;
    ring_t *r = m;
    r->buf = (uint8_t *)r + sizeof(ring_t);
    r->cap = capacity;
    r->mask = capacity - 1;
    atomic_init(&r->head, 0);
    atomic_init(&r->closed, false);
    r->tail_cache = 0;
    r->reserved = 0;
    atomic_init(&r->tail, 0);
    r->head_cache = 0;
    return r;
}

void ring_destroy(ring_t *r)
{
    if (r) munmap(r, ring_bytes(r->cap));
}

void ring_drop_pages_idle(ring_t *r)
{
    if (!r || ring_readable(r) != 0) return;
    /* the whole pages of the buffer only: the indexes share the mapping's first page */
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t from = ((uintptr_t)r->buf + page - 1) & ~(page - 1);
    uintptr_t to = ((uintptr_t)r->buf + (uintptr_t)r->cap) & ~(page - 1);
    if (to > from) madvise((void *)from, to - from, MADV_DONTNEED);
}

size_t ring_capacity(const ring_t *r)
{
    return (size_t)r->cap;
}

/* Free bytes as the producer sees them; re-reads tail when fewer than `want` seem free. */
static uint64_t producer_room(ring_t *r, uint64_t head, uint64_t want)
{
    uint64_t room = r->cap - (head - r->tail_cache);
    if (room < want) {
        /* acquire: pairs with the consumer's release store of tail, so the consumer's reads of
         * the bytes it freed happen before this thread overwrites them. */
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        room = r->cap - (head - r->tail_cache);
    }
    return room;
}

/* Readable bytes as the consumer sees them; re-reads head when fewer than `want` seem readable. */
static uint64_t consumer_avail(ring_t *r, uint64_t tail, uint64_t want)
{
    uint64_t avail = r->head_cache - tail;
    if (avail < want) {
        /* acquire: pairs with the producer's release store of head, so the bytes the producer
         * wrote before publishing them are visible to this thread's reads. */
        r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        avail = r->head_cache - tail;
    }
    return avail;
}

size_t ring_write_spsc(ring_t *r, const void *p, size_t n)
{
    r->reserved = 0; /* a write moves head: any reservation is void */
    /* relaxed: closed is written only by this (the producer) thread. */
    if (n == 0 || atomic_load_explicit(&r->closed, memory_order_relaxed)) return 0;
    /* relaxed: head is written only by this thread; it reads its own last store. */
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t room = producer_room(r, head, n);
    if (n > room) n = (size_t)room;
    if (n == 0) return 0;
    size_t off = (size_t)(head & r->mask), first = (size_t)r->cap - off;
    if (first > n) first = n;
    memcpy(r->buf + off, p, first);
    memcpy(r->buf, (const uint8_t *)p + first, n - first);
    /* release: publishes the bytes copied above; pairs with the consumer's acquire load. */
    atomic_store_explicit(&r->head, head + n, memory_order_release);
    return n;
}

void ring_reserve_spsc(ring_t *r, uint8_t **p, size_t *n)
{
    /* relaxed: head is written only by this thread. */
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t off = head & r->mask, run = r->cap - off;
    *p = r->buf + off;
    r->reserved = 0;
    /* relaxed: closed is written only by this thread. */
    if (!atomic_load_explicit(&r->closed, memory_order_relaxed)) {
        uint64_t room = producer_room(r, head, run);
        r->reserved = room < run ? room : run;
    }
    *n = (size_t)r->reserved;
}

int ring_commit_spsc(ring_t *r, size_t n)
{
    if (n > r->reserved) return LP_ERANGE;
    if (n == 0) return 0;
    r->reserved -= n;
    /* relaxed: head is written only by this thread. */
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    /* release: publishes the bytes the caller wrote into the reserved span; pairs with the
     * consumer's acquire load of head. */
    atomic_store_explicit(&r->head, head + n, memory_order_release);
    return 0;
}

void ring_close_spsc(ring_t *r)
{
    r->reserved = 0;
    /* release: orders every earlier store of head before the flag, so a consumer that acquires
     * closed == true then loads head no smaller than the final one (pairs with ring_closed). */
    atomic_store_explicit(&r->closed, true, memory_order_release);
}

size_t ring_read_spsc(ring_t *r, void *p, size_t n)
{
    if (n == 0) return 0;
    /* relaxed: tail is written only by this (the consumer) thread. */
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t avail = consumer_avail(r, tail, n);
    if (n > avail) n = (size_t)avail;
    if (n == 0) return 0;
    size_t off = (size_t)(tail & r->mask), first = (size_t)r->cap - off;
    if (first > n) first = n;
    memcpy(p, r->buf + off, first);
    memcpy((uint8_t *)p + first, r->buf, n - first);
    /* release: the copies above happen before the producer, acquiring this tail, reuses the
     * space; pairs with the producer's acquire load of tail. */
    atomic_store_explicit(&r->tail, tail + n, memory_order_release);
    return n;
}

void ring_peek_spsc(ring_t *r, const uint8_t **p, size_t *n)
{
    /* relaxed: tail is written only by this thread. */
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t off = tail & r->mask, run = r->cap - off;
    uint64_t avail = consumer_avail(r, tail, run);
    *p = r->buf + off;
    *n = (size_t)(avail < run ? avail : run);
}

int ring_consume_spsc(ring_t *r, size_t n)
{
    /* relaxed: tail is written only by this thread. */
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (consumer_avail(r, tail, n) < n) return LP_ERANGE;
    if (n == 0) return 0;
    /* release: the caller's reads of the peeked span happen before the producer, acquiring this
     * tail, overwrites it; pairs with the producer's acquire load of tail. */
    atomic_store_explicit(&r->tail, tail + n, memory_order_release);
    return 0;
}

bool ring_closed(const ring_t *r)
{
    /* acquire: pairs with ring_close_spsc's release store, so every head store made before the
     * close is visible to this thread's later loads of head. */
    return atomic_load_explicit(&r->closed, memory_order_acquire);
}

bool ring_eof_spsc(ring_t *r)
{
    if (!ring_closed(r)) return false;
    /* relaxed: tail is written only by this thread. After the acquire in ring_closed, the head
     * load in consumer_avail (made whenever the cached view says empty) sees the final head. */
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    return consumer_avail(r, tail, 1) == 0;
}

size_t ring_readable(const ring_t *r)
{
    /* acquire: the tail read here was stored by a consumer that had already seen a head at least
     * that large, and this load makes that head visible, so the head read next is never
     * smaller than this tail (no wrap-around of the difference). */
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    /* relaxed: only the value matters (ordering after the tail load comes from the acquire
     * above); no bytes are read on its strength. */
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t d = head - tail;
    /* the producer may have advanced past a tail that is stale by now */
    return (size_t)(d > r->cap ? r->cap : d);
}

size_t ring_writable(const ring_t *r)
{
    return (size_t)r->cap - ring_readable(r);
}
