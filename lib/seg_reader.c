/* Random-access reads of a session's stream from its chunk records (lib/seg_reader.h). */
#include "seg_reader.h"

#include "err.h"
#include "xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

struct seg_reader {
    seg_log_t *l;
    int fd;
    uint64_t fd_seq;
    uint8_t *zin, *zout; /* compressed payload; the inflated chunk cached */
    size_t zin_cap, zout_cap;
    bool cached;
    seg_chunk_t cache; /* the chunk zout holds */
    ZSTD_DCtx *dz;
};

seg_reader_t *seg_reader_create(seg_log_t *l)
{
    seg_reader_t *r = xcalloc(1, sizeof *r);
    r->l = l;
    r->fd = -1;
    return r;
}

void seg_reader_destroy(seg_reader_t *r)
{
    if (!r) return;
    if (r->fd >= 0) close(r->fd);
    free(r->zin);
    free(r->zout);
    ZSTD_freeDCtx(r->dz);
    free(r);
}

static int read_at(int fd, void *p, size_t n, uint64_t off)
{
    uint8_t *b = p;
    while (n) {
        ssize_t k = pread(fd, b, n, (off_t)off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return LP_EIO;
        b += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

static int use_file(seg_reader_t *r, uint64_t seq)
{
    if (r->fd >= 0 && r->fd_seq == seq) return 0;
    if (r->fd >= 0) close(r->fd);
    char path[PATH_MAX + 64];
    seg_log_path(r->l, seq, path, sizeof path);
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    r->fd_seq = seq;
#ifdef POSIX_FADV_SEQUENTIAL
    /* readers go front to back: a closed segment the writer dropped comes from the disk in big
     * readaheads (a hint: nothing fails without it) */
    if (r->fd >= 0) posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    return r->fd < 0 ? LP_EIO : 0;
}

/* Inflates chunk c into the cache. */
static int inflate_chunk(seg_reader_t *r, const seg_chunk_t *c)
{
    if (r->cached && r->cache.seq == c->seq && r->cache.file_off == c->file_off) return 0;
    r->cached = false;
    if (c->len > r->zin_cap) r->zin = xrealloc(r->zin, r->zin_cap = c->len);
    if (c->raw_len > r->zout_cap) r->zout = xrealloc(r->zout, r->zout_cap = c->raw_len);
    if (read_at(r->fd, r->zin, c->len, c->file_off) < 0) return LP_EIO;
    if (!r->dz) r->dz = ZSTD_createDCtx();
    size_t got = ZSTD_decompressDCtx(r->dz, r->zout, c->raw_len, r->zin, c->len);
    if (ZSTD_isError(got) || got != c->raw_len) return LP_ECORRUPT;
    r->cache = *c;
    r->cached = true;
    return 0;
}

ssize_t seg_reader_pread(seg_reader_t *r, void *buf, size_t n, uint64_t off)
{
    uint8_t *out = buf;
    size_t done = 0;
    while (done < n) {
        seg_chunk_t c;
        if (seg_log_find(r->l, off + done, &c) < 0) break;
        uint64_t in = off + done - c.stream_off;
        size_t k = c.raw_len - in < n - done ? (size_t)(c.raw_len - in) : n - done;
        int rc = use_file(r, c.seq);
        if (rc == 0 && (c.flags & SEG_F_ZSTD)) {
            rc = inflate_chunk(r, &c);
            if (rc == 0) memcpy(out + done, r->zout + in, k);
        } else if (rc == 0) {
            rc = read_at(r->fd, out + done, k, c.file_off + in);
        }
        if (rc < 0) return done ? (ssize_t)done : rc;
        done += k;
    }
    return (ssize_t)done;
}

int seg_reader_read_full(void *ctx, void *buf, size_t n, uint64_t off)
{
    ssize_t k = seg_reader_pread(ctx, buf, n, off);
    return k == (ssize_t)n ? 0 : LP_EIO;
}
