/* The output buffer's slow paths: flushing to the descriptor, growing in memory mode, and the
 * two-digits-at-a-time decimal formatter used by the inline integer appenders. */
#include "outbuf.h"

#include "digits.h"
#include "err.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

int outbuf_init(outbuf_t *o, int fd, size_t cap)
{
    memset(o, 0, sizeof *o);
    o->fd = fd;
    if (cap < OUTBUF_MAX_RESERVE) cap = OUTBUF_MAX_RESERVE;
    o->buf = malloc(cap);
    if (!o->buf) return LP_ENOMEM;
    o->cap = cap;
    return 0;
}

void outbuf_dispose(outbuf_t *o)
{
    free(o->buf);
    o->buf = NULL;
    o->len = o->cap = 0;
}

int outbuf_flush(outbuf_t *o)
{
    if (o->fd < 0 || o->err) {
        if (o->err && o->fd >= 0) o->len = 0;
        return o->err;
    }
    size_t done = 0;
    while (done < o->len) {
        ssize_t w = write(o->fd, o->buf + done, o->len - done);
        if (w < 0) {
            if (errno == EINTR) continue;
            o->err = LP_EIO;
            o->err_errno = errno;
            break;
        }
        done += (size_t)w;
    }
    o->len = 0;
    return o->err;
}

void outbuf_make_room(outbuf_t *o, size_t n)
{
    if (o->fd >= 0) {
        outbuf_flush(o);
        return;
    }
    size_t cap = o->cap ? o->cap : OUTBUF_MAX_RESERVE;
    while (cap - o->len < n)
        cap *= 2;
    char *nb = o->err ? NULL : realloc(o->buf, cap);
    if (!nb) {
        if (!o->err) o->err = LP_ENOMEM;
        o->len = 0; /* the old buffer (at least OUTBUF_MAX_RESERVE bytes) stays usable */
        return;
    }
    o->buf = nb;
    o->cap = cap;
}

void outbuf_put(outbuf_t *o, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        size_t room = o->cap - o->len;
        if (room == 0) {
            outbuf_make_room(o, o->fd < 0 ? n : 1);
            room = o->cap - o->len;
        }
        size_t k = n < room ? n : room;
        memcpy(o->buf + o->len, s, k);
        o->len += k;
        s += k;
        n -= k;
    }
}

size_t outbuf_fmt_u64(char *dst, uint64_t v)
{
    size_t n = 1;
    for (uint64_t t = v; t >= 10; t /= 10)
        n++;
    char *e = dst + n;
    while (v >= 100) {
        unsigned i = (unsigned)(v % 100) * 2;
        v /= 100;
        *--e = digits_pairs[i + 1];
        *--e = digits_pairs[i];
    }
    if (v >= 10) {
        unsigned i = (unsigned)v * 2;
        *--e = digits_pairs[i + 1];
        *--e = digits_pairs[i];
    } else {
        *--e = (char)('0' + v);
    }
    return n;
}
