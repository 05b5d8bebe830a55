/* A small fast output buffer: bytes and decimal integers are appended to memory and written to
 * a file descriptor in large chunks (or kept in memory when there is no descriptor). Errors are
 * sticky, so hot paths never check a return value. */
#ifndef LP_OUTBUF_H
#define LP_OUTBUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define OUTBUF_MAX_RESERVE 64 /* the most bytes one outbuf_reserve call may ask for */

typedef struct outbuf {
    int fd;        /* destination, or -1: keep everything in memory (the buffer grows) */
    char *buf;     /* pending bytes (fd mode) or everything written (memory mode) */
    size_t len;    /* bytes in buf */
    size_t cap;    /* allocated size of buf */
    int err;       /* first error (LP_EIO, LP_ENOMEM), sticky; 0 when fine */
    int err_errno; /* errno of a failed write */
} outbuf_t;

/* Sets up a buffer of `cap` bytes (at least OUTBUF_MAX_RESERVE) that writes to `fd`, or grows in
 * memory when `fd` is -1. Returns 0 or LP_ENOMEM. The descriptor stays the caller's. Any thread;
 * one thread at a time per buffer. */
int outbuf_init(outbuf_t *o, int fd, size_t cap);
/* Frees the buffer without writing what is pending. Safe on a zeroed or disposed buffer.
 * Like every function below, called by the thread that uses the buffer. */
void outbuf_dispose(outbuf_t *o);
/* Writes out everything pending (fd mode; nothing to do in memory mode). Returns 0 or the sticky
 * error (LP_EIO with err_errno set, LP_ENOMEM). */
int outbuf_flush(outbuf_t *o);
/* Slow path of outbuf_reserve: makes room for `n` bytes by flushing or growing. On failure the
 * error is recorded and the pending bytes are dropped so that room exists anyway. */
void outbuf_make_room(outbuf_t *o, size_t n);
/* Appends `n` bytes of any length (borrowed). */
void outbuf_put(outbuf_t *o, const void *p, size_t n);
/* Writes the decimal digits of v at `dst` (room for 20 bytes) and returns how many. Pure. */
size_t outbuf_fmt_u64(char *dst, uint64_t v);

/* Returns a pointer to at least `n` (<= OUTBUF_MAX_RESERVE) free bytes at the end of the buffer;
 * the caller writes there and then calls outbuf_commit with the number of bytes it used. */
static inline char *outbuf_reserve(outbuf_t *o, size_t n)
{
    if (o->cap - o->len < n) outbuf_make_room(o, n);
    return o->buf + o->len;
}
/* Marks `n` reserved bytes as written. */
static inline void outbuf_commit(outbuf_t *o, size_t n)
{
    o->len += n;
}
/* Appends one byte. */
static inline void outbuf_putc(outbuf_t *o, char c)
{
    *outbuf_reserve(o, 1) = c;
    o->len++;
}
/* Appends a short literal or string (up to OUTBUF_MAX_RESERVE bytes is the fast path). */
static inline void outbuf_puts(outbuf_t *o, const char *s)
{
    size_t n = strlen(s);
    if (n > OUTBUF_MAX_RESERVE) {
        outbuf_put(o, s, n);
        return;
    }
    memcpy(outbuf_reserve(o, n), s, n);
    o->len += n;
}
/* Appends the decimal form of an unsigned integer. */
static inline void outbuf_u64(outbuf_t *o, uint64_t v)
{
    char *d = outbuf_reserve(o, 20);
    o->len += outbuf_fmt_u64(d, v);
}
/* Appends the decimal form of a signed integer ("-" then the magnitude when negative). */
static inline void outbuf_i64(outbuf_t *o, int64_t v)
{
    char *d = outbuf_reserve(o, 21);
    if (v < 0) {
        *d++ = '-';
        o->len++;
        o->len += outbuf_fmt_u64(d, (uint64_t)0 - (uint64_t)v);
        return;
    }
    o->len += outbuf_fmt_u64(d, (uint64_t)v);
}

#endif
