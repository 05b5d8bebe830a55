/* Segment files: write and read back byte-identical (with and without compression), rolling at
 * block boundaries so each segment decodes alone, the footer index, compressed snapshot records,
 * resuming a writer, and recovery from truncated and bit-flipped files. */
#include "test.h"

#include "../bench/pagecache.h"

#include "err.h"
#include "evlog.h"
#include "seg_index.h"
#include "seg_log.h"
#include "seg_reader.h"
#include "seg_writer.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

/* Writes `b` through a fresh writer in chunks of `chunk` bytes. */
static void write_log(const char *dir, const uint8_t *b, size_t n, size_t chunk,
                      const seg_writer_opts_t *o, bool end)
{
    seg_log_t l;
    REQUIRE(seg_log_open(&l, dir, true, NULL, NULL) == 0);
    char err[256];
    seg_writer_t *w = seg_writer_create(&l, o, err, sizeof err);
    REQUIRE(w);
    for (size_t off = 0; off < n; off += chunk)
        REQUIRE(seg_writer_append(w, b + off, n - off < chunk ? n - off : chunk) == 0);
    if (end) {
        REQUIRE(seg_writer_end(w) == 0);
        REQUIRE(seg_writer_close(w) == 0);
    }
    REQUIRE(seg_writer_sync(w) == 0);
    seg_writer_destroy(w);
    seg_log_dispose(&l);
}

/* Reads the whole stream of a log back (past the page cache with `direct`). */
static uint8_t *read_back_mode(seg_log_t *l, size_t *n, bool direct)
{
    uint64_t end = seg_log_end(l);
    uint8_t *out = malloc(end + 1);
    seg_reader_t *r = seg_reader_create(l);
    seg_reader_set_direct(r, direct);
    *n = 0;
    while (*n < end) {
        ssize_t k = seg_reader_pread(r, out + *n, 100000, *n);
        if (k <= 0) break;
        *n += (size_t)k;
    }
    seg_reader_destroy(r);
    return out;
}

static uint8_t *read_back(seg_log_t *l, size_t *n)
{
    return read_back_mode(l, n, false);
}

/* Reads the stream back from three places in turn (as an exact pass reads capabilities' blocks),
 * 5000 bytes at a time: every byte as written. */
static void read_interleaved(seg_log_t *l, const uint8_t *b, size_t n, bool direct)
{
    seg_reader_t *r = seg_reader_create(l);
    seg_reader_set_direct(r, direct);
    static uint8_t piece[5000];
    size_t at[3] = {0, n / 3, 2 * n / 3}, end[3] = {n / 3, 2 * n / 3, n};
    for (bool more = true; more;) {
        more = false;
        for (int i = 0; i < 3; i++) {
            if (at[i] >= end[i]) continue;
            size_t k = end[i] - at[i] < sizeof piece ? end[i] - at[i] : sizeof piece;
            ssize_t got = seg_reader_pread(r, piece, k, at[i]);
            REQUIRE(got == (ssize_t)k);
            CHECKF(!memcmp(piece, b + at[i], k), "bytes at %zu", at[i]);
            at[i] += k;
            more = true;
        }
    }
    seg_reader_destroy(r);
}

static void roundtrip(int level)
{
    size_t n;
    uint8_t *b = tu_read_file(tu_data("eventlogs/scale-1m.eventlog"), &n);
    REQUIRE(b);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/s%d", tu_tmpdir(), level);
    seg_writer_opts_t o = {.max_bytes = 60000, .zstd_level = level};
    write_log(dir, b, n, 77777, &o, true);
    seg_log_t l;
    REQUIRE(seg_log_open(&l, dir, false, NULL, NULL) == 0);
    CHECK(l.ended);
    CHECK(l.nfiles >= 3);
    CHECK_EQ_U64(seg_log_end(&l), n);
    size_t m;
    uint8_t *back = read_back(&l, &m);
    CHECK(m == n && !memcmp(back, b, n));
    read_interleaved(&l, b, n, false);
    read_interleaved(&l, b, n, true);
    /* every segment: closed, starts at a block marker, decodes alone from the saved header */
    REQUIRE(l.evheader && l.evheader_len > 4 && !memcmp(l.evheader, "hdrb", 4));
    uint64_t events = 0;
    for (size_t i = 0; i < l.nfiles; i++) {
        const seg_file_t *f = &l.files[i];
        CHECK(f->closed);
        evlog_t d;
        REQUIRE(evlog_init(&d, NULL) == 0);
        if (i > 0) {
            CHECK(evlog_u16(b + f->stream_start) == EVLOG_BLOCK_MARKER);
            CHECK(evlog_feed(&d, l.evheader, l.evheader_len) == 0);
        }
        CHECKF(evlog_feed(&d, b + f->stream_start, f->stream_end - f->stream_start) == 0,
               "segment %zu: %s", i, evlog_error_text(&d));
        CHECK(evlog_finish(&d) == 0);
        CHECK_EQ_U64(evlog_events(&d), f->events);
        events += f->events;
        evlog_dispose(&d);
    }
    evlog_t d;
    REQUIRE(evlog_init(&d, NULL) == 0);
    evlog_feed(&d, b, n);
    CHECK_EQ_U64(events, evlog_events(&d));
    evlog_dispose(&d);
    if (level > 0) CHECK(seg_log_disk_bytes(&l) < n);
    seg_log_dispose(&l);
    free(back);
    free(b);
}

TEST(segment_roundtrip_plain)
{
    roundtrip(0);
}

TEST(segment_roundtrip_zstd)
{
    roundtrip(3);
}

/* The index of each segment: time -> offset points at block markers, bitmaps of types,
 * threads and labels, written on close and read back. */
TEST(segment_index_bitmaps)
{
    size_t n;
    uint8_t *b = tu_read_file(tu_data("eventlogs/fib-labels.eventlog"), &n);
    REQUIRE(b);
    seg_index_t x;
    /* the writer builds the index; read it back from a closed segment */
    char dir[600];
    snprintf(dir, sizeof dir, "%s/ix", tu_tmpdir());
    write_log(dir, b, n, 4096, &(seg_writer_opts_t){0}, true);
    char path[700];
    snprintf(path, sizeof path, "%s/seg-00000000.lps", dir);
    size_t fn;
    uint8_t *file = tu_read_file(path, &fn);
    REQUIRE(file && fn > SEG_TRAILER);
    uint64_t ix_off;
    REQUIRE(seg_trailer_decode(file + fn - SEG_TRAILER, &ix_off) == 0);
    seg_rec_hdr_t h;
    REQUIRE(seg_rec_hdr_decode(file + ix_off, &h) == 0);
    CHECK(h.type == SEG_REC_INDEX);
    CHECK(seg_rec_verify(file + ix_off, file + ix_off + SEG_REC_HDR, h.len, h.checksum));
    REQUIRE(seg_index_decode(&x, file + ix_off + SEG_REC_HDR, h.len) == 0);
    CHECK_EQ_U64(x.stream_start, 0);
    CHECK_EQ_U64(x.stream_end, n);
    CHECK(x.npoints > 0);
    CHECK(x.first_ts <= x.last_ts && x.last_ts > 0);
    const seg_index_map_t *run = seg_index_find(&x, SEG_MAP_TYPE, EVLOG_RUN_THREAD);
    REQUIRE(run);
    CHECK(bitmap_count(run->bins) > 0);
    CHECK(bitmap_contains(run->bins, (uint32_t)(x.first_ts / x.bin_ns)) ||
          bitmap_count_range(run->bins, 0, x.last_ts / x.bin_ns + 1) > 0);
    bool label = false;
    for (size_t i = 0; i < x.nmaps; i++)
        if (x.maps[i].kind == SEG_MAP_LABEL && x.maps[i].name) label = true;
    CHECK(label);
    uint64_t thread_sets = 0; /* per second: the threads the events name */
    for (size_t i = 0; i < x.nmaps; i++)
        if (x.maps[i].kind == SEG_MAP_THREAD) {
            CHECK(x.maps[i].key <= x.last_ts / x.thread_bin_ns);
            CHECK(bitmap_count(x.maps[i].bins) > 0);
            thread_sets++;
        }
    CHECK(thread_sets >= 1 && thread_sets <= x.last_ts / x.thread_bin_ns + 1);
    CHECK(seg_index_overlaps(&x, x.first_ts, x.first_ts + 1));
    CHECK(!seg_index_overlaps(&x, x.last_ts + 1, 0));
    /* a damaged index is refused, never read past its end */
    for (size_t cut = 0; cut < h.len; cut += h.len / 13 + 1) {
        seg_index_t y;
        CHECK(seg_index_decode(&y, file + ix_off + SEG_REC_HDR, cut) == LP_ECORRUPT);
    }
    seg_index_dispose(&x);
    free(file);
    free(b);
}

/* The index payload in the footer of segment `seq` of dir (malloc'd), or NULL. */
static uint8_t *footer_index(const char *dir, uint64_t seq, size_t *len)
{
    char path[700];
    snprintf(path, sizeof path, "%s/seg-%08llu.lps", dir, (unsigned long long)seq);
    size_t fn;
    uint8_t *file = tu_read_file(path, &fn);
    uint64_t ix_off;
    seg_rec_hdr_t h;
    if (!file || fn < SEG_TRAILER || seg_trailer_decode(file + fn - SEG_TRAILER, &ix_off) < 0 ||
        ix_off + SEG_REC_HDR > fn || seg_rec_hdr_decode(file + ix_off, &h) < 0 ||
        h.type != SEG_REC_INDEX || ix_off + SEG_REC_HDR + h.len > fn) {
        free(file);
        return NULL;
    }
    uint8_t *p = malloc(h.len + 1);
    memcpy(p, file + ix_off + SEG_REC_HDR, h.len);
    *len = h.len;
    free(file);
    return p;
}

typedef struct ref_index {
    seg_index_t x;
    int64_t base; /* stream offset = decoder offset + base */
} ref_index_t;

static int ref_event(void *ctx, const evlog_event_t *ev)
{
    ref_index_t *r = ctx;
    seg_index_event(&r->x, ev, (uint64_t)((int64_t)ev->offset + r->base));
    return 0;
}

/* Writes b in appends of `chunk` bytes into segments of max_bytes; each segment's footer index
 * must be the one a raw decoder gives over the segment's bytes, byte for byte (the writer walks
 * the events itself between a clean header and anything odd). */
static void index_as_decoded(const char *name, const uint8_t *b, size_t n, size_t chunk,
                             uint64_t max_bytes)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/walk-%s-%zu", tu_tmpdir(), name, chunk);
    write_log(dir, b, n, chunk, &(seg_writer_opts_t){.max_bytes = max_bytes}, true);
    seg_log_t l;
    REQUIRE(seg_log_open(&l, dir, false, NULL, NULL) == 0);
    REQUIRE(l.nfiles > 0);
    for (size_t i = 0; i < l.nfiles; i++) {
        const seg_file_t *f = &l.files[i];
        ref_index_t r;
        seg_index_init(&r.x, f->stream_start);
        evlog_t d;
        evlog_sink_t sink = {.on_event = ref_event, .ctx = &r};
        REQUIRE(evlog_init(&d, &sink) == 0);
        evlog_set_raw(&d, true);
        r.base = (int64_t)f->stream_start;
        if (i > 0) {
            r.base -= (int64_t)l.evheader_len;
            evlog_feed(&d, l.evheader, l.evheader_len);
        }
        evlog_feed(&d, b + f->stream_start, f->stream_end - f->stream_start);
        evlog_dispose(&d);
        r.x.stream_end = f->stream_end;
        size_t want_len, got_len = 0;
        uint8_t *want = seg_index_encode(&r.x, &want_len);
        uint8_t *got = footer_index(dir, f->seq, &got_len);
        CHECKF(got && got_len == want_len && !memcmp(got, want, want_len),
               "%s, appends of %zu: segment %zu: index of %zu bytes, the decoder's %zu", name,
               chunk, i, got_len, want_len);
        free(got);
        free(want);
        seg_index_dispose(&r.x);
    }
    seg_log_dispose(&l);
}

typedef struct block_at {
    uint64_t off[64];
    size_t n;
} block_at_t;

/* Notes the offsets of the first 64 block markers. */
static int block_at(void *ctx, const evlog_event_t *ev)
{
    block_at_t *b = ctx;
    if (ev->type == EVLOG_BLOCK_MARKER && b->n < 64) b->off[b->n++] = ev->offset;
    return 0;
}

TEST(segment_index_walk_matches_decoder)
{
    size_t n, m;
    uint8_t *a = tu_read_file(tu_data("eventlogs/scale-1m.eventlog"), &n);
    uint8_t *c = tu_read_file(tu_data("eventlogs/fib-labels.eventlog"), &m);
    REQUIRE(a && c);
    static const size_t chunks[] = {13, 4096, 77777, 1u << 20};
    for (size_t i = 0; i < sizeof chunks / sizeof *chunks; i++)
        index_as_decoded("scale", a, n, chunks[i], 60000);
    /* a restarted log (an end marker, then a second header) and junk between events: the walk
     * hands over to the decoder where it stops */
    uint8_t *two = malloc(n + m + 100);
    memcpy(two, c, m);
    memcpy(two + m, a, n);
    for (size_t i = 0; i < 2; i++)
        index_as_decoded("restart", two, n + m, chunks[i + 1], 64u << 20);
    block_at_t at = {.n = 0};
    evlog_t d;
    REQUIRE(evlog_init(&d, &(evlog_sink_t){.on_event = block_at, .ctx = &at}) == 0);
    evlog_feed(&d, a, n);
    evlog_dispose(&d);
    REQUIRE(at.n >= 3);
    size_t cut = at.off[at.n / 2]; /* a block marker in the middle: an event boundary */
    memcpy(two, a, cut);
    memset(two + cut, 0xEE, 100); /* type 0xEEEE: undeclared */
    memcpy(two + cut + 100, a + cut, n - cut);
    index_as_decoded("junk", two, n + 100, 4096, 64u << 20);
    free(two);
    free(a);
    free(c);
}

/* The mean page-cache residency of a log's segment files but the last, and the last one's (the
 * files read as they are: opening the log would read them back in). */
static void residency(const char *dir, double *closed, double *last)
{
    char path[700];
    size_t nfiles = 0;
    double sum = 0, r = 0;
    for (uint64_t seq = 0;; seq++) {
        char name[64];
        snprintf(name, sizeof name, SEG_NAME_FMT, (unsigned long long)seq);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        if (access(path, F_OK) != 0) break;
        r = pagecache_resident(path);
        REQUIRE(r >= 0);
        sum += r;
        nfiles++;
    }
    REQUIRE(nfiles >= 3);
    *closed = (sum - r) / (double)(nfiles - 1);
    *last = r;
}

/* With drop_closed, a closed segment leaves the page cache once it is on disk; the open one
 * stays, and so does everything without the option. The log reads back the same either way. */
TEST(segment_drop_closed_pages)
{
    size_t n;
    uint8_t *b = tu_read_file(tu_data("eventlogs/scale-1m.eventlog"), &n);
    REQUIRE(b);
    char keep[600], drop[600];
    snprintf(keep, sizeof keep, "%s/keep", tu_tmpdir());
    snprintf(drop, sizeof drop, "%s/drop", tu_tmpdir());
    seg_writer_opts_t o = {.max_bytes = 60000};
    write_log(keep, b, n, 77777, &o, false);
    o.drop_closed = true;
    write_log(drop, b, n, 77777, &o, false);
    double keep_closed, keep_last, drop_closed, drop_last;
    residency(keep, &keep_closed, &keep_last);
    residency(drop, &drop_closed, &drop_last);
    struct statfs fs;
    REQUIRE(statfs(drop, &fs) == 0);
    if (fs.f_type == 0x01021994) { /* tmpfs: its pages are the files, nothing can drop them */
        fprintf(stderr, "note: %s is on tmpfs, residency not compared\n", tu_tmpdir());
    } else {
        CHECKF(keep_closed > 0.9 && keep_last > 0.9, "kept segments: %.2f, %.2f resident",
               keep_closed, keep_last);
        CHECKF(drop_closed < 0.1, "dropped closed segments: %.2f resident", drop_closed);
        CHECKF(drop_last > 0.9, "the open segment: %.2f resident", drop_last);
    }
    seg_log_t l;
    REQUIRE(seg_log_open(&l, drop, false, NULL, NULL) == 0);
    size_t m;
    uint8_t *back = read_back(&l, &m);
    CHECK(m == n && !memcmp(back, b, n));
    seg_log_dispose(&l);
    free(back);
    free(b);
}

/* The bytes of eventlog `name` of the shared data (*n of them), and `sub` of the test's
 * directory in dir. */
static uint8_t *log_and_dir(const char *name, const char *sub, char *dir, size_t cap, size_t *n)
{
    char path[128];
    snprintf(path, sizeof path, "eventlogs/%s.eventlog", name);
    uint8_t *b = tu_read_file(tu_data(path), n);
    REQUIRE(b);
    snprintf(dir, cap, "%s/%s", tu_tmpdir(), sub);
    return b;
}

/* Direct reads (the settle's) give the bytes as written, from any offset and in any sizes, across
 * chunk records and segments, and leave the page cache as it was: segments the writer dropped
 * stay out of it (where the file system has direct I/O at all). */
TEST(segment_direct_reads)
{
    size_t n;
    char dir[600];
    uint8_t *b = log_and_dir("scale-1m", "direct", dir, sizeof dir, &n);
    seg_writer_opts_t o = {.max_bytes = 300000, .drop_closed = true};
    write_log(dir, b, n, 77777, &o, false);
    seg_log_t l;
    REQUIRE(seg_log_open(&l, dir, false, NULL, NULL) == 0);
    for (size_t i = 0; i < l.nfiles; i++) { /* opening read them through the page cache */
        char path[700];
        snprintf(path, sizeof path, "%s/" SEG_NAME_FMT, dir, (unsigned long long)l.files[i].seq);
        int fd = open(path, O_RDONLY);
        REQUIRE(fd >= 0);
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
    double closed_before, last;
    residency(dir, &closed_before, &last);
    size_t m;
    uint8_t *back = read_back_mode(&l, &m, true);
    CHECK(m == n && !memcmp(back, b, n));
    read_interleaved(&l, b, n, true);
    /* odd sizes at odd offsets, some across chunks (77777 bytes each) and segments */
    seg_reader_t *r = seg_reader_create(&l);
    seg_reader_set_direct(r, true);
    uint64_t seed = 7;
    for (int i = 0; i < 300; i++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        size_t off = (size_t)(seed >> 33) % n;
        size_t k = 1 + (size_t)(seed >> 13) % (i % 3 == 0 ? 400000 : 5000);
        if (k > n - off) k = n - off;
        ssize_t got = seg_reader_pread(r, back, k, off);
        CHECKF(got == (ssize_t)k && !memcmp(back, b + off, k), "%zu bytes at %zu: %zd", k, off,
               got);
    }
    seg_reader_destroy(r);
    double closed_after;
    residency(dir, &closed_after, &last);
    struct statfs fs;
    REQUIRE(statfs(dir, &fs) == 0);
    if (fs.f_type != 0x01021994) /* on tmpfs the pages are the files */
        CHECKF(closed_before < 0.1 && closed_after < 0.1,
               "closed segments %.2f resident before the direct reads, %.2f after", closed_before,
               closed_after);
    seg_log_dispose(&l);
    free(back);
    free(b);
}

/* A writer that stops without closing (a crash) is continued by the next one. */
TEST(segment_resume_open_segment)
{
    size_t n;
    char dir[600];
    uint8_t *b = log_and_dir("concurrent", "res", dir, sizeof dir, &n);
    seg_writer_opts_t o = {.max_bytes = 100000};
    size_t half = n / 2 + 123;
    write_log(dir, b, half, 30000, &o, false);
    seg_log_t l;
    REQUIRE(seg_log_open(&l, dir, true, NULL, NULL) == 0);
    CHECK_EQ_U64(seg_log_end(&l), half);
    CHECK(!l.ended);
    char err[256];
    seg_writer_t *w = seg_writer_create(&l, &o, err, sizeof err);
    REQUIRE(w);
    CHECK(seg_writer_append(w, b + half, n - half) == 0);
    CHECK(seg_writer_end(w) == 0);
    CHECK(seg_writer_close(w) == 0);
    CHECK(seg_writer_append(w, b, 1) == LP_EARG);
    seg_writer_destroy(w);
    seg_log_dispose(&l);
    REQUIRE(seg_log_open(&l, dir, false, NULL, NULL) == 0);
    size_t m;
    uint8_t *back = read_back(&l, &m);
    CHECK(m == n && !memcmp(back, b, n));
    for (size_t i = 0; i < l.nfiles; i++)
        CHECK(l.files[i].closed);
    seg_log_dispose(&l);
    free(back);
    free(b);
}

/* The snapshot record's header in the only segment of dir: its flags and sizes. */
static seg_rec_hdr_t snapshot_header(const char *dir)
{
    char path[700];
    snprintf(path, sizeof path, "%s/seg-00000000.lps", dir);
    size_t n;
    uint8_t *b = tu_read_file(path, &n);
    REQUIRE(b);
    seg_rec_hdr_t h = {0};
    for (size_t off = SEG_FILE_HDR; off + SEG_REC_HDR <= n;) {
        seg_rec_hdr_t r;
        REQUIRE(seg_rec_hdr_decode(b + off, &r) == 0);
        if (r.type == SEG_REC_SNAPSHOT) h = r;
        off += SEG_REC_HDR + r.len;
    }
    free(b);
    return h;
}

/* Snapshot records are compressed on disk (at least the big ones) and read back as they were;
 * the latest one is the log's snapshot. */
TEST(segment_snapshot_records_compressed)
{
    size_t n;
    uint8_t *b = tu_read_file(tu_data("eventlogs/concurrent.eventlog"), &n);
    REQUIRE(b);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/snap", tu_tmpdir());
    write_log(dir, b, n, 30000, &(seg_writer_opts_t){.max_bytes = 1u << 30}, false);
    size_t big = 200000;
    uint8_t *s = calloc(1, big); /* mostly zeros, as empty bins are */
    REQUIRE(s);
    for (size_t i = 0; i < big; i += 97)
        s[i] = (uint8_t)i;
    /* the third and fourth compressed by the caller (seg_writer_record_packed), one frame
     * written as it is, or the bytes themselves */
    size_t zcap = ZSTD_compressBound(big);
    uint8_t *z = malloc(zcap);
    REQUIRE(z);
    size_t zlen = ZSTD_compress(z, zcap, s, big, SEG_SNAPSHOT_ZSTD_LEVEL);
    REQUIRE(!ZSTD_isError(zlen) && zlen < big / 4);
    const size_t sizes[] = {10, big, big, 1000};
    for (int k = 0; k < 4; k++) {
        seg_log_t l;
        REQUIRE(seg_log_open(&l, dir, true, NULL, NULL) == 0);
        char err[256];
        seg_writer_t *w =
            seg_writer_create(&l, &(seg_writer_opts_t){.max_bytes = 1u << 30}, err, sizeof err);
        REQUIRE(w);
        if (k < 2)
            CHECK(seg_writer_record(w, SEG_REC_SNAPSHOT, s, sizes[k]) == 0);
        else if (k == 2)
            CHECK(seg_writer_record_packed(w, SEG_REC_SNAPSHOT, z, zlen, big) == 0);
        else
            CHECK(seg_writer_record_packed(w, SEG_REC_SNAPSHOT, s, sizes[k], sizes[k]) == 0);
        /* a frame said to be larger than its bytes, or than a record holds, is refused */
        CHECK(seg_writer_record_packed(w, SEG_REC_SNAPSHOT, s, 20, 10) == LP_EARG);
        CHECK(seg_writer_record_packed(w, SEG_REC_SNAPSHOT, s, 20, SEG_MAX_PAYLOAD + 1ull) ==
              LP_EARG);
        CHECK(seg_writer_sync(w) == 0);
        seg_writer_destroy(w);
        seg_log_dispose(&l);
        seg_rec_hdr_t h = snapshot_header(dir);
        CHECK_EQ_U64(h.raw_len, sizes[k]);
        if (k == 2) CHECK_EQ_U64(h.len, zlen);
        CHECK(k == 0 || k == 3 ? h.flags == 0 && h.len == sizes[k]
                               : h.flags == SEG_F_ZSTD && h.len < big / 4);
        REQUIRE(seg_log_open(&l, dir, false, NULL, NULL) == 0);
        CHECK(l.snapshot_len == sizes[k] && !memcmp(l.snapshot, s, sizes[k]));
        size_t m;
        uint8_t *back = read_back(&l, &m);
        CHECK(m == n && !memcmp(back, b, n));
        free(back);
        seg_log_dispose(&l);
    }
    free(z);
    free(s);
    free(b);
}

static void say_count(void *ctx, const char *msg)
{
    (void)msg;
    ++*(int *)ctx;
}

static void copy_file(const char *from, const char *to, size_t keep)
{
    size_t n;
    uint8_t *b = tu_read_file(from, &n);
    REQUIRE(b);
    FILE *f = fopen(to, "wb");
    REQUIRE(f);
    fwrite(b, 1, keep < n ? keep : n, f);
    fclose(f);
    free(b);
}

/* Truncating the last segment at every kind of offset keeps a prefix of the stream; flipping a
 * bit anywhere either keeps a prefix (last segment) or quarantines (earlier ones); never a
 * crash, and what is kept is byte-identical. */
TEST(segment_recovery_truncate_and_flip)
{
    size_t n;
    uint8_t *b = tu_read_file(tu_data("eventlogs/small.eventlog"), &n);
    REQUIRE(b);
    char dir[600], work[600], path[700], wpath[700];
    snprintf(dir, sizeof dir, "%s/orig", tu_tmpdir());
    snprintf(work, sizeof work, "%s/work", tu_tmpdir());
    write_log(dir, b, n, 5000, &(seg_writer_opts_t){.max_bytes = 40000}, false);
    seg_log_t l;
    REQUIRE(seg_log_open(&l, dir, false, NULL, NULL) == 0);
    size_t nfiles = l.nfiles;
    REQUIRE(nfiles >= 2);
    uint64_t last_start = l.files[nfiles - 1].stream_start;
    seg_log_dispose(&l);
    snprintf(path, sizeof path, "%s/seg-%08zu.lps", dir, nfiles - 1);
    struct stat sb;
    REQUIRE(stat(path, &sb) == 0);
    srand(7);
    for (int iter = 0; iter < 40; iter++) {
        char cmd[2000];
        snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s' '%s'", work, dir, work);
        REQUIRE(system(cmd) == 0);
        bool flip = iter % 2;
        size_t victim = flip ? (size_t)rand() % nfiles : nfiles - 1;
        snprintf(wpath, sizeof wpath, "%s/seg-%08zu.lps", work, victim);
        snprintf(path, sizeof path, "%s/seg-%08zu.lps", dir, victim);
        struct stat vs;
        REQUIRE(stat(path, &vs) == 0);
        size_t at = (size_t)rand() % (size_t)vs.st_size;
        if (flip) {
            copy_file(path, wpath, (size_t)vs.st_size);
            int fd = open(wpath, O_RDWR);
            uint8_t c;
            REQUIRE(pread(fd, &c, 1, (off_t)at) == 1);
            c ^= (uint8_t)(1u << (rand() % 8));
            REQUIRE(pwrite(fd, &c, 1, (off_t)at) == 1);
            close(fd);
        } else {
            copy_file(path, wpath, at);
        }
        int said = 0;
        REQUIRE(seg_log_open(&l, work, true, say_count, &said) == 0);
        CHECKF(said >= 1, "iteration %d: damage not reported", iter);
        uint64_t end = seg_log_end(&l);
        CHECK(end <= n);
        if (victim + 1 < nfiles) CHECK(end <= last_start);
        size_t m;
        uint8_t *back = read_back(&l, &m);
        CHECKF(m == end && !memcmp(back, b, m), "iteration %d: prefix differs", iter);
        free(back);
        /* the repaired directory scans clean and a writer continues it to the whole log */
        seg_log_dispose(&l);
        said = 0;
        REQUIRE(seg_log_open(&l, work, true, say_count, &said) == 0);
        CHECKF(said == 0, "iteration %d: repaired directory still reports damage", iter);
        char err[256];
        seg_writer_t *w =
            seg_writer_create(&l, &(seg_writer_opts_t){.max_bytes = 40000}, err, sizeof err);
        REQUIRE(w);
        CHECK(seg_writer_append(w, b + end, n - end) == 0);
        seg_writer_destroy(w);
        back = read_back(&l, &m);
        CHECK(m == n && !memcmp(back, b, n));
        free(back);
        seg_log_dispose(&l);
    }
    free(b);
}
