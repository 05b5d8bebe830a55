/* Random-access reads of a session's stream from its chunk records (lib/seg_reader.h); in direct
 * mode stored chunks are read past the page cache through one aligned window. */
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
    /* direct mode: for segment dfd_seq (when dfd_known), an O_DIRECT descriptor (-1 while the
     * segment is open: its pages are still cached) and the window of it last read */
    bool direct, dfd_known;
    int dfd;
    uint64_t dfd_seq;
    uint8_t *win;
    uint64_t win_off; /* win holds win_len bytes of segment dfd_seq from win_off */
    size_t win_len;
};

/* O_DIRECT wants file offsets, lengths and buffers aligned to the device's logical block: 4 KiB
 * covers every common one (a device that wants more makes the reads fail, and the reader falls
 * back to the page cache). */
#define DIRECT_ALIGN ((uint64_t)4096)
#define DIRECT_WINDOW ((size_t)4 << 20)

seg_reader_t *seg_reader_create(seg_log_t *l)
{
    seg_reader_t *r = xcalloc(1, sizeof *r);
    r->l = l;
    r->fd = -1;
    r->dfd = -1;
    return r;
}

void seg_reader_destroy(seg_reader_t *r)
{
    if (!r) return;
    if (r->fd >= 0) close(r->fd);
    if (r->dfd >= 0) close(r->dfd);
    free(r->win);
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

void seg_reader_set_direct(seg_reader_t *r, bool on)
{
    r->direct = on;
}

/* Stops direct reads for good (the file system or device refused them). */
static void direct_off(seg_reader_t *r)
{
    r->direct = false;
    r->win_len = 0;
}

/* Copies k bytes at file_off of segment seq through the window, refilling it with O_DIRECT reads
 * of the aligned span they lie in (at most DIRECT_WINDOW at once). Returns 0, or 1 when direct
 * reads are impossible (the caller reads through the page cache instead). */
static int read_direct(seg_reader_t *r, uint64_t seq, uint8_t *out, size_t k, uint64_t file_off)
{
    while (k) {
        if (!(r->win_len && r->dfd_seq == seq && file_off >= r->win_off &&
              file_off < r->win_off + r->win_len)) {
            if (!r->dfd_known || r->dfd_seq != seq) {
                if (r->dfd >= 0) close(r->dfd);
                r->dfd = -1;
                r->dfd_known = true;
                r->dfd_seq = seq;
                r->win_len = 0;
                /* only closed segments: the writer drops their pages from the cache, and the open
                 * one's may not be on the disk yet (a direct read would wait for them) */
                if (seg_log_closed(r->l, seq)) {
                    char path[PATH_MAX + 64];
                    seg_log_path(r->l, seq, path, sizeof path);
                    r->dfd = open(path, O_RDONLY | O_CLOEXEC | O_DIRECT);
                    if (r->dfd < 0) { /* e.g. EINVAL: the file system has no direct I/O */
                        direct_off(r);
                        return 1;
                    }
                }
            }
            if (r->dfd < 0) return 1;
            if (!r->win) {
                void *w = NULL;
                if (posix_memalign(&w, DIRECT_ALIGN, DIRECT_WINDOW) != 0) xoom(DIRECT_WINDOW);
                r->win = w;
            }
            uint64_t a = file_off & ~(DIRECT_ALIGN - 1);
            uint64_t e = (file_off + k + DIRECT_ALIGN - 1) & ~(DIRECT_ALIGN - 1);
            size_t want = e - a < DIRECT_WINDOW ? (size_t)(e - a) : DIRECT_WINDOW;
            ssize_t got;
            do
                got = pread(r->dfd, r->win, want, (off_t)a);
            while (got < 0 && errno == EINTR);
            r->win_len = 0;
            if (got < 0) { /* EINVAL: an alignment the device does not take */
                direct_off(r);
                return 1;
            }
            if ((uint64_t)got <= file_off - a)
                return 1; /* not there (yet): the page cache has it */
            r->win_off = a;
            r->win_len = (size_t)got;
        }
        size_t in = (size_t)(file_off - r->win_off);
        size_t m = r->win_len - in < k ? r->win_len - in : k;
        memcpy(out, r->win + in, m);
        out += m;
        k -= m;
        file_off += m;
    }
    return 0;
}

ssize_t seg_reader_pread(seg_reader_t *r, void *buf, size_t n, uint64_t off)
{
    uint8_t *out = buf;
    size_t done = 0;
    /* the window serves one call only: the bytes past a file's last whole chunk may still change
     * (a failed write is cut back and written again) */
    r->win_len = 0;
    while (done < n) {
        seg_chunk_t c;
        if (seg_log_find(r->l, off + done, &c) < 0) break;
        uint64_t in = off + done - c.stream_off;
        size_t k = c.raw_len - in < n - done ? (size_t)(c.raw_len - in) : n - done;
        int rc = use_file(r, c.seq);
        if (rc == 0 && (c.flags & SEG_F_ZSTD)) {
            rc = inflate_chunk(r, &c);
            if (rc == 0) memcpy(out + done, r->zout + in, k);
        } else if (rc == 0 &&
                   (!r->direct || read_direct(r, c.seq, out + done, k, c.file_off + in))) {
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
