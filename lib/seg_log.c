/* Scanning and recovering a session's segment directory into a seg_log_t, and the log's small
 * bookkeeping (chunk lookup, dropping the oldest segment) shared by the writer and readers. */
#include "seg_log.h"

#include "err.h"
#include "seg_index.h"
#include "xmalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

int seg_log_init(seg_log_t *l, const char *dir)
{
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    snprintf(l->dir, sizeof l->dir, "%s", dir);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) return LP_EIO;
    return 0;
}

void seg_log_dispose(seg_log_t *l)
{
    if (!l->dir[0]) return;
    free(l->files);
    free(l->chunks);
    free(l->evheader);
    free(l->snapshot);
    pthread_mutex_destroy(&l->mu);
    memset(l, 0, sizeof *l);
}

char *seg_log_path(const seg_log_t *l, uint64_t seq, char *buf, size_t cap)
{
    char name[64];
    snprintf(name, sizeof name, SEG_NAME_FMT, (unsigned long long)seq);
    snprintf(buf, cap, "%s/%s", l->dir, name);
    return buf;
}

void seg_log_add_chunk_locked(seg_log_t *l, const seg_chunk_t *c)
{
    xgrow((void **)&l->chunks, &l->chunks_cap, l->nchunks + 1, sizeof *l->chunks);
    l->chunks[l->nchunks++] = *c;
    l->end = c->stream_off + c->raw_len;
}

seg_file_t *seg_log_add_file_locked(seg_log_t *l, const seg_file_t *f)
{
    xgrow((void **)&l->files, &l->files_cap, l->nfiles + 1, sizeof *l->files);
    l->files[l->nfiles] = *f;
    return &l->files[l->nfiles++];
}

uint64_t seg_log_end(seg_log_t *l)
{
    pthread_mutex_lock(&l->mu);
    uint64_t e = l->end;
    pthread_mutex_unlock(&l->mu);
    return e;
}

bool seg_log_closed(seg_log_t *l, uint64_t seq)
{
    bool closed = false;
    pthread_mutex_lock(&l->mu);
    for (size_t i = l->nfiles; i-- > 0;)
        if (l->files[i].seq == seq) {
            closed = l->files[i].closed;
            break;
        }
    pthread_mutex_unlock(&l->mu);
    return closed;
}

int seg_log_find(seg_log_t *l, uint64_t off, seg_chunk_t *c)
{
    int rc = LP_ENOT_FOUND;
    pthread_mutex_lock(&l->mu);
    size_t lo = 0, hi = l->nchunks;
    while (lo < hi) { /* first chunk ending after off */
        size_t mid = lo + (hi - lo) / 2;
        if (l->chunks[mid].stream_off + l->chunks[mid].raw_len <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < l->nchunks && l->chunks[lo].stream_off <= off) {
        *c = l->chunks[lo];
        rc = 0;
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

uint64_t seg_log_drop_oldest(seg_log_t *l)
{
    pthread_mutex_lock(&l->mu);
    if (l->nfiles < 2 || !l->files[0].closed) {
        pthread_mutex_unlock(&l->mu);
        return 0;
    }
    seg_file_t f = l->files[0];
    memmove(l->files, l->files + 1, (l->nfiles - 1) * sizeof *l->files);
    l->nfiles--;
    size_t k = 0;
    while (k < l->nchunks && l->chunks[k].seq == f.seq)
        k++;
    memmove(l->chunks, l->chunks + k, (l->nchunks - k) * sizeof *l->chunks);
    l->nchunks -= k;
    l->start = l->files[0].stream_start;
    char path[PATH_MAX + 64];
    seg_log_path(l, f.seq, path, sizeof path);
    pthread_mutex_unlock(&l->mu);
    unlink(path);
    return f.size;
}

uint64_t seg_log_disk_bytes(seg_log_t *l)
{
    pthread_mutex_lock(&l->mu);
    uint64_t n = 0;
    for (size_t i = 0; i < l->nfiles; i++)
        n += l->files[i].size;
    pthread_mutex_unlock(&l->mu);
    return n;
}

/* ---- scanning ------------------------------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void say(seg_log_say_fn fn, void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(seg_log_say_fn fn, void *ctx, const char *fmt, ...)
{
    if (!fn) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fn(ctx, msg);
}

/* A snapshot record (checksum verified) becomes the log's latest snapshot, inflated when the
 * writer compressed it. One that does not inflate to its stated size is passed over: the
 * snapshot before it stays the latest. */
static void snapshot_take(seg_log_t *l, const seg_rec_hdr_t *r, const uint8_t *payload)
{
    uint8_t *b;
    size_t n;
    if (!r->flags) {
        n = r->len;
        b = xmalloc(n ? n : 1);
        memcpy(b, payload, n);
    } else if (r->flags == SEG_F_ZSTD && r->raw_len && r->raw_len <= SEG_MAX_PAYLOAD &&
               ZSTD_getFrameContentSize(payload, r->len) == r->raw_len) {
        n = r->raw_len;
        b = xmalloc(n);
        size_t got = ZSTD_decompress(b, n, payload, r->len);
        if (ZSTD_isError(got) || got != n) {
            free(b);
            return;
        }
    } else {
        return;
    }
    free(l->snapshot);
    l->snapshot = b;
    l->snapshot_len = n;
}

static int read_full(int fd, void *p, size_t n, uint64_t off)
{
    uint8_t *b = p;
    while (n) {
        ssize_t r = pread(fd, b, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return LP_EIO;
        b += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* Scans one segment file into l. Returns the file offset of the first bad byte, or the file's
 * size when it is whole; *why says what was wrong. */
static uint64_t scan_file(seg_log_t *l, uint64_t seq, int fd, uint64_t size, uint8_t **buf,
                          size_t *cap, const char **why)
{
    uint8_t h[SEG_FILE_HDR];
    seg_file_hdr_t fh;
    *why = NULL;
    if (size < SEG_FILE_HDR || read_full(fd, h, SEG_FILE_HDR, 0) < 0) {
        *why = "file header cut short";
        return 0;
    }
    if (seg_file_hdr_decode(h, &fh) < 0 || fh.seq != seq) {
        *why = "bad file header (checksum, magic, version or sequence number)";
        return 0;
    }
    if (l->nfiles ? fh.stream_start != l->end : fh.stream_start != 0 && seq == 0) {
        *why = "does not continue the previous segment";
        return 0;
    }
    if (!l->nfiles) l->start = l->end = fh.stream_start;
    seg_file_t *f = seg_log_add_file_locked(l, &(seg_file_t){.seq = seq,
                                                             .stream_start = fh.stream_start,
                                                             .stream_end = fh.stream_start,
                                                             .created_ns = fh.created_ns});
    uint64_t off = SEG_FILE_HDR;
    while (off < size) {
        uint8_t rh[SEG_REC_HDR];
        seg_rec_hdr_t r;
        if (size - off < SEG_REC_HDR) {
            *why = "record header cut short";
            break;
        }
        if (read_full(fd, rh, SEG_REC_HDR, off) < 0 || seg_rec_hdr_decode(rh, &r) < 0) {
            *why = "bad record header";
            break;
        }
        if (size - off - SEG_REC_HDR < r.len) {
            *why = "record cut short";
            break;
        }
        if (r.len > *cap || !*buf) { /* never NULL: empty payloads are copied and decoded too */
            *cap = r.len > 64 ? r.len : 64;
            *buf = xrealloc(*buf, *cap);
        }
        if (read_full(fd, *buf, r.len, off + SEG_REC_HDR) < 0 ||
            !seg_rec_verify(rh, *buf, r.len, r.checksum)) {
            *why = "checksum mismatch";
            break;
        }
        uint64_t payload = off + SEG_REC_HDR;
        if (r.type == SEG_REC_CHUNK) {
            if (r.stream_off != l->end || r.raw_len == 0) {
                *why = "chunk out of stream order";
                break;
            }
            seg_log_add_chunk_locked(l, &(seg_chunk_t){.stream_off = r.stream_off,
                                                       .file_off = payload,
                                                       .seq = seq,
                                                       .len = r.len,
                                                       .raw_len = r.raw_len,
                                                       .flags = r.flags});
            f->stream_end = l->end;
        } else if (r.type == SEG_REC_EVHEADER && !l->evheader && r.len && !r.flags) {
            l->evheader = xmalloc(r.len);
            memcpy(l->evheader, *buf, r.len);
            l->evheader_len = r.len;
        } else if (r.type == SEG_REC_SNAPSHOT) {
            snapshot_take(l, &r, *buf);
        } else if (r.type == SEG_REC_UPLOAD && r.len == 32) {
            memcpy(l->upload, *buf, 32);
            l->upload[32] = 0;
        } else if (r.type == SEG_REC_END) {
            l->ended = true;
        } else if (r.type == SEG_REC_INDEX) {
            seg_index_t x;
            uint8_t tr[SEG_TRAILER];
            uint64_t ix_off;
            uint64_t after = payload + r.len;
            if (seg_index_decode(&x, *buf, r.len) < 0) {
                *why = "bad index";
                break;
            }
            f->first_ts = x.first_ts;
            f->last_ts = x.last_ts;
            f->events = x.events;
            seg_index_dispose(&x);
            if (size - after != SEG_TRAILER || read_full(fd, tr, SEG_TRAILER, after) < 0 ||
                seg_trailer_decode(tr, &ix_off) < 0 || ix_off != off) {
                *why = "bad trailer";
                break;
            }
            f->closed = true;
            off = size;
            break;
        }
        off = payload + r.len;
    }
    f->size = off;
    return off;
}

int seg_log_open(seg_log_t *l, const char *dir, bool repair, seg_log_say_fn sayfn, void *ctx)
{
    if (seg_log_init(l, dir) < 0) return LP_EIO;
    DIR *d = opendir(dir);
    if (!d) return LP_EIO;
    uint64_t *seqs = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned long long s;
        int used = 0;
        if (sscanf(e->d_name, "seg-%8llu.lps%n", &s, &used) == 1 && used == 16 &&
            e->d_name[used] == 0) {
            xgrow((void **)&seqs, &cap, n + 1, sizeof *seqs);
            seqs[n++] = s;
        }
    }
    closedir(d);
    if (n) qsort(seqs, n, sizeof *seqs, cmp_u64);
    uint8_t *buf = NULL;
    size_t bcap = 0;
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX + 64], name[64];
        seg_log_path(l, seqs[i], path, sizeof path);
        snprintf(name, sizeof name, SEG_NAME_FMT, (unsigned long long)seqs[i]);
        int fd = open(path, (repair ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        struct stat sb;
        const char *why = "cannot be opened";
        uint64_t good = 0, size = 0;
        size_t files_before = l->nfiles;
        if (fd >= 0 && fstat(fd, &sb) == 0) {
            size = (uint64_t)sb.st_size;
            good = scan_file(l, seqs[i], fd, size, &buf, &bcap, &why);
        }
        bool last = i + 1 == n;
        if (!why) {
            if (fd >= 0) close(fd);
            continue;
        }
        if (last && good > 0 && l->nfiles > files_before) { /* a torn tail: keep what precedes it */
            say(sayfn, ctx, "%s: %s at byte %llu; %llu bytes after it %s", name, why,
                (unsigned long long)good, (unsigned long long)(size - good),
                repair ? "truncated" : "ignored");
            l->truncated += size - good;
            if (repair && ftruncate(fd, (off_t)good) < 0)
                say(sayfn, ctx, "%s: cannot truncate: %s", name, strerror(errno));
            if (fd >= 0) close(fd);
            break;
        }
        if (fd >= 0) close(fd);
        /* a bad segment before the last, or one without a usable file header: everything from
         * here on no longer continues the stream */
        if (l->nfiles > files_before) { /* forget what scan_file took from it */
            l->nfiles = files_before;
            while (l->nchunks && l->chunks[l->nchunks - 1].seq == seqs[i])
                l->nchunks--;
            l->end = l->nchunks
                         ? l->chunks[l->nchunks - 1].stream_off + l->chunks[l->nchunks - 1].raw_len
                         : (l->nfiles ? l->files[l->nfiles - 1].stream_end : l->start);
        }
        if (last && size < SEG_FILE_HDR) { /* created but never written: nothing to keep */
            say(sayfn, ctx, "%s: %s (%llu bytes); %s", name, why, (unsigned long long)size,
                repair ? "removed" : "ignored");
            if (repair) unlink(path);
            break;
        }
        for (size_t j = i; j < n; j++) {
            char p2[PATH_MAX + 64], q[PATH_MAX + 96];
            seg_log_path(l, seqs[j], p2, sizeof p2);
            snprintf(q, sizeof q, "%s%s", p2, SEG_QUARANTINE_SUFFIX);
            if (repair && rename(p2, q) == 0) l->quarantined++;
        }
        say(sayfn, ctx,
            "%s: %s at byte %llu: %s it and the %zu segment(s) after it; the session keeps stream "
            "bytes [%llu, %llu)",
            name, why, (unsigned long long)good, repair ? "quarantined" : "would quarantine",
            n - i - 1, (unsigned long long)l->start, (unsigned long long)l->end);
        break;
    }
    free(buf);
    free(seqs);
    return 0;
}
