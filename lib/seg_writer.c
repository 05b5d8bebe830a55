/* The segment writer (lib/seg_writer.h). Bytes pass a raw-mode decoder on their way to disk, or,
 * once the decoder has read the header and sits between events, the index's own walk over the
 * events (seg_index_scan, several times cheaper) until something only the decoder can read: the
 * events feed the current segment's index and tell where blocks begin, so a full segment rolls
 * exactly at a block boundary and every segment after the first starts with the eventlog header
 * and then whole blocks: it decodes on its own. */
#include "seg_writer.h"

#include "err.h"
#include "evlog.h"
#include "seg_index.h"
#include "seg_reader.h"
#include "xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#define HEADER_MAX (1u << 20) /* header bytes collected before giving up on an EVHEADER record */
#define KICK_BYTES (8u << 20) /* see kick_writeback */

struct seg_writer {
    seg_log_t *l;
    seg_writer_opts_t o;
    int fd;              /* the open segment, or -1 */
    uint64_t seq;        /* its number */
    uint64_t next_seq;   /* the number of the next segment */
    uint64_t size;       /* its bytes */
    uint64_t kicked;     /* its bytes whose writeback has been started (see kick_writeback) */
    uint64_t created_ns; /* its creation time */
    bool dirty, dir_dirty;
    uint64_t pos; /* stream bytes appended */
    evlog_t dec;
    bool dec_ok;
    bool walk, walk_never; /* seg_index_scan indexes instead of the decoder; never again */
    uint8_t *carry;        /* while walking: the start of an event the next bytes complete */
    size_t carry_len;
    int64_t dec_base; /* stream offset = decoder offset + dec_base */
    seg_index_t ix, next;
    bool roll_pending, split_found;
    uint64_t split_at, piece_start;
    uint8_t *hacc; /* stream bytes before the first event (the header) */
    size_t hacc_len;
    bool header_done;
    ZSTD_CCtx *zc;
    uint8_t *zbuf;
    size_t zcap;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int on_event(void *ctx, const evlog_event_t *ev)
{
    seg_writer_t *w = ctx;
    uint64_t off = (uint64_t)((int64_t)ev->offset + w->dec_base);
    if (!w->header_done) {
        w->header_done = true;
        pthread_mutex_lock(&w->l->mu);
        if (!w->l->evheader && off <= w->hacc_len && off > 0) {
            w->l->evheader = xmalloc(off);
            memcpy(w->l->evheader, w->hacc, off);
            w->l->evheader_len = off;
        }
        pthread_mutex_unlock(&w->l->mu);
        free(w->hacc);
        w->hacc = NULL;
    }
    if (w->roll_pending && !w->split_found && ev->type == EVLOG_BLOCK_MARKER &&
        off >= w->piece_start && off > w->ix.stream_start) {
        w->split_found = true;
        w->split_at = off;
        seg_index_init(&w->next, off);
    }
    seg_index_event(w->split_found && off >= w->split_at ? &w->next : &w->ix, ev, off);
    return 0;
}

/* The code for a failed write, open or sync: out of room (ENOSPC, EDQUOT, EFBIG) is worth telling
 * apart from other I/O errors, since freeing space is the remedy. */
static int io_error(void)
{
    return errno == ENOSPC || errno == EDQUOT || errno == EFBIG ? LP_ENOSPACE : LP_EIO;
}

static int write_all(int fd, const struct iovec *iov, int n)
{
    struct iovec v[3];
    memcpy(v, iov, (size_t)n * sizeof *v);
    struct iovec *p = v;
    while (n > 0) {
        ssize_t k = writev(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return io_error();
        if (k == 0) return LP_EIO;
        while (n > 0 && (size_t)k >= p->iov_len) {
            k -= (ssize_t)p->iov_len;
            p++;
            n--;
        }
        if (n > 0) {
            p->iov_base = (uint8_t *)p->iov_base + k;
            p->iov_len -= (size_t)k;
        }
    }
    return 0;
}

/* Starts the writeback of the segment's bytes written since the last start once there are
 * KICK_BYTES of them, without waiting for it: the disk writes while the next bytes come, so the
 * fdatasync at a group commit or a roll finds little left to write rather than stalling the
 * writer (and with it every upload) for a whole segment's worth. Durability is unchanged: only
 * fdatasync acknowledges. */
static void kick_writeback(seg_writer_t *w)
{
#ifdef SYNC_FILE_RANGE_WRITE
    if (w->size - w->kicked < KICK_BYTES) return;
    /* a hint, so its result goes unread: an I/O error shows in the fdatasync that follows */
    (void)sync_file_range(w->fd, (off_t)w->kicked, (off_t)(w->size - w->kicked),
                          SYNC_FILE_RANGE_WRITE);
    w->kicked = w->size;
#else
    (void)w;
#endif
}

/* Appends one record to the open segment; *payload_off gets the payload's file offset. */
static int put_record(seg_writer_t *w, seg_rec_hdr_t *h, const void *payload, uint64_t *pay_off)
{
    uint8_t hb[SEG_REC_HDR];
    seg_rec_hdr_encode(h, payload, hb);
    struct iovec iov[2] = {{hb, SEG_REC_HDR}, {(void *)payload, h->len}};
    int rc = write_all(w->fd, iov, h->len ? 2 : 1);
    if (rc < 0) {
        if (ftruncate(w->fd, (off_t)w->size) < 0) { /* keep the file whole for the next try */
        }
        return rc;
    }
    if (pay_off) *pay_off = w->size + SEG_REC_HDR;
    w->size += SEG_REC_HDR + h->len;
    w->dirty = true;
    kick_writeback(w);
    return 0;
}

static void update_file_locked(seg_writer_t *w)
{
    seg_file_t *f = &w->l->files[w->l->nfiles - 1];
    f->size = w->size;
    f->stream_end = w->pos;
    f->first_ts = w->ix.first_ts;
    f->last_ts = w->ix.last_ts;
    f->events = w->ix.events;
}

/* Opens segment next_seq starting at stream offset pos. */
static int open_segment(seg_writer_t *w)
{
    char path[PATH_MAX + 64];
    seg_log_path(w->l, w->next_seq, path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return io_error();
    uint8_t hb[SEG_FILE_HDR];
    w->created_ns = now_ns();
    seg_file_hdr_t fh = {.version = SEG_VERSION,
                         .seq = w->next_seq,
                         .stream_start = w->pos,
                         .created_ns = w->created_ns};
    seg_file_hdr_encode(&fh, hb);
    struct iovec iov = {hb, SEG_FILE_HDR};
    int rc = write_all(fd, &iov, 1);
    if (rc < 0) {
        close(fd);
        unlink(path);
        return rc;
    }
    w->fd = fd;
    w->seq = w->next_seq++;
    w->size = SEG_FILE_HDR;
    w->kicked = 0;
    w->dir_dirty = w->dirty = true;
    pthread_mutex_lock(&w->l->mu);
    seg_log_add_file_locked(w->l, &(seg_file_t){.seq = w->seq,
                                                .stream_start = w->pos,
                                                .stream_end = w->pos,
                                                .created_ns = w->created_ns,
                                                .size = w->size});
    if (w->l->nfiles == 1) w->l->start = w->pos;
    uint8_t *hdr = NULL;
    size_t hlen = 0;
    if (w->pos > 0 && w->l->evheader) {
        hlen = w->l->evheader_len;
        hdr = xmalloc(hlen);
        memcpy(hdr, w->l->evheader, hlen);
    }
    pthread_mutex_unlock(&w->l->mu);
    if (w->ix.stream_start != w->pos) {
        seg_index_dispose(&w->ix);
        seg_index_init(&w->ix, w->pos);
    }
    if (hdr) {
        seg_rec_hdr_t h = {
            .type = SEG_REC_EVHEADER, .len = (uint32_t)hlen, .raw_len = (uint32_t)hlen};
        rc = put_record(w, &h, hdr, NULL);
        free(hdr);
    }
    return rc;
}

static int ensure_open(seg_writer_t *w)
{
    return w->fd >= 0 ? 0 : open_segment(w);
}

int seg_writer_close(seg_writer_t *w)
{
    if (w->fd < 0) return 0;
    w->ix.stream_end = w->pos;
    size_t n;
    uint8_t *p = seg_index_encode(&w->ix, &n);
    uint64_t ix_off = w->size;
    seg_rec_hdr_t h = {.type = SEG_REC_INDEX, .len = (uint32_t)n, .raw_len = (uint32_t)n};
    int rc = put_record(w, &h, p, NULL);
    free(p);
    uint8_t tr[SEG_TRAILER];
    seg_trailer_encode(ix_off, tr);
    struct iovec iov = {tr, SEG_TRAILER};
    if (rc == 0) rc = write_all(w->fd, &iov, 1);
    if (rc == 0) w->size += SEG_TRAILER;
    if (rc == 0 && fdatasync(w->fd) < 0) rc = io_error();
#ifdef POSIX_FADV_DONTNEED
    /* clean once synced, so the kernel can drop them (a hint: nothing fails without it) */
    if (rc == 0 && w->o.drop_closed) posix_fadvise(w->fd, 0, 0, POSIX_FADV_DONTNEED);
#endif
    pthread_mutex_lock(&w->l->mu);
    update_file_locked(w);
    w->l->files[w->l->nfiles - 1].closed = rc == 0;
    pthread_mutex_unlock(&w->l->mu);
    close(w->fd);
    w->fd = -1;
    w->roll_pending = false;
    seg_index_dispose(&w->ix);
    seg_index_init(&w->ix, w->pos);
    return rc;
}

/* The payload of record h (n bytes at p) compressed at `level` into the writer's buffer when
 * that makes it smaller (h then says so); else p itself. */
static const void *pack(seg_writer_t *w, seg_rec_hdr_t *h, const void *p, size_t n, int level)
{
    size_t bound = ZSTD_compressBound(n);
    if (bound > w->zcap) w->zbuf = xrealloc(w->zbuf, w->zcap = bound);
    if (!w->zc) w->zc = ZSTD_createCCtx();
    size_t z = ZSTD_compressCCtx(w->zc, w->zbuf, w->zcap, p, n, level);
    if (ZSTD_isError(z) || z >= n) return p;
    h->flags = SEG_F_ZSTD;
    h->len = (uint32_t)z;
    return w->zbuf;
}

/* Writes one chunk record of raw bytes at the current position. */
static int put_chunk(seg_writer_t *w, const uint8_t *p, size_t n)
{
    if (n == 0) return 0;
    int rc = ensure_open(w);
    if (rc < 0) return rc;
    seg_rec_hdr_t h = {
        .type = SEG_REC_CHUNK, .len = (uint32_t)n, .raw_len = (uint32_t)n, .stream_off = w->pos};
    const void *payload = w->o.zstd_level > 0 ? pack(w, &h, p, n, w->o.zstd_level) : p;
    uint64_t pay;
    if ((rc = put_record(w, &h, payload, &pay)) < 0) return rc;
    pthread_mutex_lock(&w->l->mu);
    seg_log_add_chunk_locked(w->l, &(seg_chunk_t){.stream_off = w->pos,
                                                  .file_off = pay,
                                                  .seq = w->seq,
                                                  .len = h.len,
                                                  .raw_len = (uint32_t)n,
                                                  .flags = h.flags});
    w->pos += n;
    update_file_locked(w);
    pthread_mutex_unlock(&w->l->mu);
    if (w->size >= w->o.max_bytes) w->roll_pending = true;
    return 0;
}

/* Hands the walk over to a fresh decoder at stream offset `off` (an event the walk cannot read),
 * which is then fed a, then b. */
static void walk_stop(seg_writer_t *w, uint64_t off, const uint8_t *a, size_t na, const uint8_t *b,
                      size_t nb)
{
    w->walk = false;
    w->walk_never = true;
    w->carry_len = 0;
    pthread_mutex_lock(&w->l->mu);
    size_t hlen = w->l->evheader_len;
    uint8_t *hdr = w->l->evheader ? xmalloc(hlen) : NULL;
    if (hdr) memcpy(hdr, w->l->evheader, hlen);
    pthread_mutex_unlock(&w->l->mu);
    evlog_sink_t sink = {.on_event = on_event, .ctx = w};
    evlog_dispose(&w->dec);
    w->dec_ok = hdr && evlog_init(&w->dec, &sink) == 0;
    if (w->dec_ok) {
        evlog_set_raw(&w->dec, true);
        w->dec_base = (int64_t)off - (int64_t)hlen;
        w->dec_ok = evlog_feed(&w->dec, hdr, hlen) == 0 && evlog_feed(&w->dec, a, na) == 0 &&
                    evlog_feed(&w->dec, b, nb) == 0;
    }
    free(hdr);
}

/* Indexes piece p[0..k) (at stream offset w->pos) by walking its events: first the event the
 * carry began, then the piece's own, splitting the index at the first block marker when a roll
 * is pending (as on_event does); a partial event at the end waits in the carry. */
static void walk_piece(seg_writer_t *w, const uint8_t *p, size_t k)
{
    const evlog_types_t *tt = evlog_types(&w->dec);
    size_t i = 0;
    if (w->carry_len) {
        uint64_t at = w->pos - w->carry_len;
        long t;
        while ((t = seg_index_event_size(tt, w->carry, w->carry_len)) == 0 && i < k)
            w->carry[w->carry_len++] = p[i++];
        if (t < 0) {
            walk_stop(w, at, w->carry, w->carry_len, p + i, k - i);
            return;
        }
        if (t == 0) return;
        size_t take = (size_t)t - w->carry_len < k - i ? (size_t)t - w->carry_len : k - i;
        memcpy(w->carry + w->carry_len, p + i, take);
        w->carry_len += take;
        i += take;
        if (w->carry_len < (size_t)t) return;
        size_t used;
        if (seg_index_scan(w->split_found && at >= w->split_at ? &w->next : &w->ix, tt, w->carry,
                           w->carry_len, at, false, &used) == SEG_SCAN_ODD) {
            walk_stop(w, at, w->carry, w->carry_len, p + i, k - i);
            return;
        }
        w->carry_len = 0;
    }
    while (i < k) {
        size_t used;
        bool split = w->roll_pending && !w->split_found;
        seg_index_t *x = w->split_found ? &w->next : &w->ix;
        int rc = seg_index_scan(x, tt, p + i, k - i, w->pos + i, split, &used);
        i += used;
        if (rc == SEG_SCAN_BLOCK) {
            w->split_found = true;
            w->split_at = w->pos + i;
            seg_index_init(&w->next, w->split_at);
            continue;
        }
        if (rc == SEG_SCAN_ODD) {
            walk_stop(w, w->pos + i, p + i, k - i, NULL, 0);
            return;
        }
        memcpy(w->carry, p + i, k - i);
        w->carry_len = k - i;
        return;
    }
}

/* Indexes piece p[0..k) at stream offset w->pos: walking when the decoder is between events of
 * a log with one header, else through the decoder. */
static void index_piece(seg_writer_t *w, const uint8_t *p, size_t k)
{
    if (!w->walk && !w->walk_never && w->dec_ok && w->header_done && evlog_at_event(&w->dec)) {
        if (!w->carry) w->carry = xmalloc(EVLOG_MAX_EVENT);
        w->walk = true;
    }
    if (w->walk)
        walk_piece(w, p, k);
    else if (w->dec_ok && evlog_feed(&w->dec, p, k) < 0)
        w->dec_ok = false;
}

int seg_writer_append(seg_writer_t *w, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    pthread_mutex_lock(&w->l->mu);
    bool ended = w->l->ended;
    pthread_mutex_unlock(&w->l->mu);
    if (ended) return LP_EARG;
    /* pieces of at most an eighth of a segment, so a segment rolls close to its size */
    size_t piece =
        w->o.max_bytes / 8 < SEG_CHUNK_MAX ? (size_t)(w->o.max_bytes / 8) : SEG_CHUNK_MAX;
    if (piece < 4096) piece = 4096;
    while (n > 0) {
        size_t k = n < piece ? n : piece;
        if (!w->header_done && w->hacc) {
            size_t keep = HEADER_MAX - w->hacc_len < k ? HEADER_MAX - w->hacc_len : k;
            memcpy(w->hacc + w->hacc_len, p, keep);
            w->hacc_len += keep;
        }
        w->piece_start = w->pos;
        w->split_found = false;
        index_piece(w, p, k);
        int rc;
        if (w->roll_pending && w->split_found) {
            size_t a = (size_t)(w->split_at - w->pos);
            seg_index_t next = w->next;
            memset(&w->next, 0, sizeof w->next);
            rc = put_chunk(w, p, a);
            if (rc == 0) rc = seg_writer_close(w);
            seg_index_dispose(&w->ix);
            w->ix = next;
            if (rc == 0) rc = put_chunk(w, p + a, k - a);
        } else if (w->roll_pending && !w->dec_ok) { /* no blocks to wait for in a broken stream */
            rc = seg_writer_close(w);
            if (rc == 0) rc = put_chunk(w, p, k);
        } else {
            rc = put_chunk(w, p, k);
        }
        if (rc < 0) return rc;
        p += k;
        n -= k;
    }
    return 0;
}

/* Writes record h with its payload, and what the log keeps of an upload record. */
static int put_other(seg_writer_t *w, seg_rec_hdr_t *h, const void *payload, const void *p,
                     size_t n)
{
    int rc = put_record(w, h, payload, NULL);
    if (rc < 0) return rc;
    pthread_mutex_lock(&w->l->mu);
    update_file_locked(w);
    if (h->type == SEG_REC_UPLOAD && n == 32) {
        memcpy(w->l->upload, p, 32);
        w->l->upload[32] = 0;
    }
    pthread_mutex_unlock(&w->l->mu);
    return 0;
}

int seg_writer_record(seg_writer_t *w, int type, const void *p, size_t n)
{
    int rc = ensure_open(w);
    if (rc < 0) return rc;
    seg_rec_hdr_t h = {
        .type = (uint8_t)type, .len = (uint32_t)n, .raw_len = (uint32_t)n, .stream_off = w->pos};
    /* snapshots are mostly runs of empty bins: always compressed (they are written rarely) */
    const void *payload = type == SEG_REC_SNAPSHOT && n >= SEG_SNAPSHOT_ZSTD_MIN
                              ? pack(w, &h, p, n, SEG_SNAPSHOT_ZSTD_LEVEL)
                              : p;
    return put_other(w, &h, payload, p, n);
}

int seg_writer_record_packed(seg_writer_t *w, int type, const void *z, size_t n, size_t raw_len)
{
    if (raw_len > SEG_MAX_PAYLOAD || n > raw_len || n == 0) return LP_EARG;
    int rc = ensure_open(w);
    if (rc < 0) return rc;
    seg_rec_hdr_t h = {.type = (uint8_t)type,
                       .flags = n < raw_len ? SEG_F_ZSTD : 0,
                       .len = (uint32_t)n,
                       .raw_len = (uint32_t)raw_len,
                       .stream_off = w->pos};
    return put_other(w, &h, z, NULL, 0);
}

int seg_writer_end(seg_writer_t *w)
{
    int rc = seg_writer_record(w, SEG_REC_END, NULL, 0);
    if (rc == 0) {
        pthread_mutex_lock(&w->l->mu);
        w->l->ended = true;
        pthread_mutex_unlock(&w->l->mu);
        /* no stream bytes follow: the index's decoder (a few hundred KiB) is not kept for a
         * session that stays in memory for good */
        evlog_dispose(&w->dec);
        w->dec_ok = false;
    }
    return rc;
}

void seg_writer_abandon(seg_writer_t *w)
{
    pthread_mutex_lock(&w->l->mu);
    w->l->ended = true;
    pthread_mutex_unlock(&w->l->mu);
}

void seg_writer_tick(seg_writer_t *w, uint64_t now)
{
    if (w->fd >= 0 && w->o.max_age_ns && now - w->created_ns >= w->o.max_age_ns &&
        w->size > SEG_FILE_HDR)
        w->roll_pending = true;
}

int seg_writer_sync(seg_writer_t *w)
{
    if (w->fd >= 0 && w->dirty && fdatasync(w->fd) < 0) return io_error();
    w->dirty = false;
    if (w->dir_dirty) {
        int dfd = open(w->l->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) return LP_EIO;
        int rc = fsync(dfd);
        close(dfd);
        if (rc < 0) return LP_EIO;
        w->dir_dirty = false;
    }
    return 0;
}

bool seg_writer_dirty(const seg_writer_t *w)
{
    return w->dirty || w->dir_dirty;
}

uint64_t seg_writer_offset(const seg_writer_t *w)
{
    return w->pos;
}

void seg_writer_destroy(seg_writer_t *w)
{
    if (!w) return;
    if (w->fd >= 0) close(w->fd);
    evlog_dispose(&w->dec);
    seg_index_dispose(&w->ix);
    seg_index_dispose(&w->next);
    ZSTD_freeCCtx(w->zc);
    free(w->zbuf);
    free(w->hacc);
    free(w->carry);
    free(w);
}

/* Feeds the decoder (and the index) with the open last segment's bytes, so both continue where
 * the previous writer stopped. */
static int prime(seg_writer_t *w, const seg_file_t *last)
{
    seg_reader_t *r = seg_reader_create(w->l);
    uint8_t *buf = xmalloc(SEG_CHUNK_MAX);
    int rc = 0;
    for (uint64_t off = last->stream_start; off < last->stream_end && rc == 0;) {
        size_t want = last->stream_end - off < SEG_CHUNK_MAX ? (size_t)(last->stream_end - off)
                                                             : SEG_CHUNK_MAX;
        ssize_t k = seg_reader_pread(r, buf, want, off);
        if (k <= 0) {
            rc = LP_EIO;
            break;
        }
        if (w->dec_ok && evlog_feed(&w->dec, buf, (size_t)k) < 0) w->dec_ok = false;
        off += (uint64_t)k;
    }
    free(buf);
    seg_reader_destroy(r);
    return rc;
}

seg_writer_t *seg_writer_create(seg_log_t *l, const seg_writer_opts_t *o, char *err, size_t cap)
{
    seg_writer_t *w = xcalloc(1, sizeof *w);
    w->l = l;
    w->fd = -1;
    if (o) w->o = *o;
    if (!w->o.max_bytes) w->o.max_bytes = 64u << 20;
    evlog_sink_t sink = {.on_event = on_event, .ctx = w};
    w->dec_ok = evlog_init(&w->dec, &sink) == 0;
    evlog_set_raw(&w->dec, true);
    pthread_mutex_lock(&l->mu);
    w->pos = l->end;
    w->next_seq = l->nfiles ? l->files[l->nfiles - 1].seq + 1 : 0;
    seg_file_t last = l->nfiles ? l->files[l->nfiles - 1] : (seg_file_t){0};
    bool have_last = l->nfiles > 0;
    uint8_t *hdr = NULL;
    size_t hlen = l->evheader_len;
    if (l->evheader) {
        hdr = xmalloc(hlen);
        memcpy(hdr, l->evheader, hlen);
    }
    pthread_mutex_unlock(&l->mu);
    seg_index_init(&w->ix, w->pos);
    /* The decoder starts at stream offset 0 with the header, or with the saved header bytes and
     * then the open segment's blocks. */
    uint64_t from = have_last && !last.closed ? last.stream_start : w->pos;
    if (from == 0) {
        w->hacc = xmalloc(HEADER_MAX);
        w->dec_base = 0;
    } else if (hdr) {
        w->header_done = true;
        w->dec_base = (int64_t)from - (int64_t)hlen;
        if (evlog_feed(&w->dec, hdr, hlen) < 0) w->dec_ok = false;
    } else {
        w->header_done = true;
        w->dec_ok = false; /* no header: no index beyond counting bytes */
    }
    free(hdr);
    if (have_last && !last.closed) {
        char path[PATH_MAX + 64];
        seg_log_path(l, last.seq, path, sizeof path);
        w->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (w->fd < 0) {
            snprintf(err, cap, "cannot open %s: %s", path, strerror(errno));
            seg_writer_destroy(w);
            return NULL;
        }
        w->seq = last.seq;
        w->size = last.size;
        w->created_ns = last.created_ns;
        seg_index_dispose(&w->ix);
        seg_index_init(&w->ix, last.stream_start);
        if (prime(w, &last) < 0) w->dec_ok = false;
        if (w->size >= w->o.max_bytes) w->roll_pending = true;
    }
    return w;
}
