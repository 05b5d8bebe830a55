/* A lock-free single-producer single-consumer byte ring: one thread writes bytes, one other
 * thread reads them, in order, through a power-of-two buffer, with an end-of-stream flag.
 * Backpressure is the caller's: nothing blocks and no byte is ever dropped silently. */
#ifndef LP_RING_H
#define LP_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Concurrency contract (the `_spsc` suffix): at any moment at most one thread is the producer
 * (ring_write_spsc, ring_reserve_spsc, ring_commit_spsc, ring_close_spsc) and at most one is the
 * consumer (ring_read_spsc, ring_peek_spsc, ring_consume_spsc, ring_closed, ring_eof_spsc).
 * A role may move to another thread only through a hand-off that itself orders memory (a
 * mutex, a queue, thread creation or join). ring_readable, ring_writable and ring_capacity may
 * be called by anyone.
 *
 * Backpressure: a full ring makes ring_write_spsc return less than asked (and ring_reserve_spsc
 * a short or empty span). The producer then keeps the rest and waits or defers (the server's
 * upload handler defers its response until the session worker has drained the ring). */
typedef struct ring ring_t;

/* The largest capacity ring_create accepts: a ring is a hand-off buffer, not storage, and a
 * bound here keeps a bad size from becoming a huge allocation. */
#define RING_MAX_CAPACITY ((size_t)1 << 30)

/* Creates an empty ring of `capacity` bytes, which must be a power of two (1, 2, 4, ...) no
 * larger than RING_MAX_CAPACITY. Returns the ring (the caller owns it; free it with
 * ring_destroy) or NULL when the capacity is bad or memory runs out. Any thread. */
ring_t *ring_create(size_t capacity);
/* Frees the ring; NULL is a no-op. Called once neither side uses the ring any more (after the
 * other thread is joined or has handed its role back). */
void ring_destroy(ring_t *r);
/* Gives the pages of an empty ring's buffer back to the kernel (they read as zeros if it is
 * written again), so that a ring whose stream has ended costs no resident memory; does nothing
 * when bytes are readable. Only while one thread is both its producer and consumer, or neither
 * side runs. */
void ring_drop_pages_idle(ring_t *r);
/* Returns the capacity given to ring_create. Any thread. */
size_t ring_capacity(const ring_t *r);

/* Copies up to `n` bytes from `p` (borrowed) into the ring: as many as fit, possibly 0. Never
 * blocks. Returns the count copied; the caller keeps the rest. Returns 0 after ring_close_spsc.
 * `p` may be NULL when `n` is 0. Producer only. */
size_t ring_write_spsc(ring_t *r, const void *p, size_t n);
/* Zero-copy write, step 1: sets *p and *n to the longest contiguous free span at the write
 * position as of this call (shorter than ring_writable when free space wraps around the end of
 * the buffer; *n is 0 when the ring is full or closed). The span stays the producer's until
 * ring_commit_spsc; nothing is published before that. Producer only. */
void ring_reserve_spsc(ring_t *r, uint8_t **p, size_t *n);
/* Zero-copy write, step 2: publishes the first `n` bytes written into the span of the last
 * ring_reserve_spsc (what is left of the span stays reserved, right after them; a write or a
 * close in between cancels the reservation). Returns 0, or LP_ERANGE (and publishes nothing)
 * when `n` exceeds what is left of the span. Producer only. */
int ring_commit_spsc(ring_t *r, size_t n);
/* Marks the end of the stream: every byte written or committed before this call will be read,
 * and no byte after it is accepted. Idempotent. Producer only. */
void ring_close_spsc(ring_t *r);

/* Copies up to `n` readable bytes into `p` (borrowed) and removes them from the ring. Never
 * blocks. Returns the count copied, possibly 0. `p` may be NULL when `n` is 0. Consumer only. */
size_t ring_read_spsc(ring_t *r, void *p, size_t n);
/* Zero-copy read, step 1: sets *p and *n to the longest contiguous readable span at the read
 * position as of this call (shorter than ring_readable when the bytes wrap around the end of
 * the buffer; *n is 0 when the ring is empty). The bytes stay valid and unchanged until they
 * are consumed. Repeating the call without consuming sees any bytes published meanwhile.
 * Consumer only. */
void ring_peek_spsc(ring_t *r, const uint8_t **p, size_t *n);
/* Zero-copy read, step 2: removes the next `n` readable bytes (normally the first `n` of the
 * span of the last ring_peek_spsc; more skips bytes unread), handing their space back to the
 * producer. Returns 0, or LP_ERANGE (and removes nothing) when fewer than `n` bytes are
 * readable. Consumer only. */
int ring_consume_spsc(ring_t *r, size_t n);
/* Returns true once the producer has closed the ring; from then on every byte written before
 * the close is readable, so a consumer that sees true and then reads until the ring is empty
 * has reached the end of the stream. Beware the other order: an empty read followed by true
 * proves nothing, since the last bytes may have come in between (ring_eof_spsc avoids that).
 * Consumer only (any thread may ask, but only the consumer may rely on the bytes). */
bool ring_closed(const ring_t *r);
/* Returns true when the stream has ended: the producer closed the ring and every byte written
 * before the close has been consumed. Consumer only. */
bool ring_eof_spsc(ring_t *r);

/* Returns the number of readable bytes (0..capacity). Exact when called by the consumer or the
 * producer with the other side idle; otherwise a snapshot that may be stale by the time it
 * returns (the consumer's value is a lower bound, the producer's an upper bound). Any thread. */
size_t ring_readable(const ring_t *r);
/* Returns the number of free bytes, capacity - ring_readable (a lower bound for the producer).
 * Any thread. */
size_t ring_writable(const ring_t *r);

#endif
