/* Fuzz target: scanning and recovering a session's segment directory (lib/seg_log.c, with the
 * footer index decoder lib/seg_index.c) and reading the stream back (lib/seg_reader.c). The input
 * is a flag byte and then the bytes of the segment files, one file per occurrence of the segment
 * magic; they are written as seg-00000000.lps, seg-00000001.lps, ... into a private temporary
 * directory. With flag bit 0 the checksums of file and record headers are made right first, so
 * mutations reach the records' contents. Properties: a scan never claims more bytes than the
 * files hold (files within their sizes, chunks within their files, the chunk table contiguous and
 * summing to the stream's length); reading the stream back gives the stored bytes of every
 * uncompressed chunk; a repairing scan keeps what a read-only scan finds, and a second repairing
 * scan finds nothing more to repair; dropping the oldest segments frees what they held. */
#define XXH_INLINE_ALL
#include "err.h"
#include "seg_log.h"
#include "seg_reader.h"
#include "segment.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define MAX_FILES 8
#define READ_MAX (256u << 10) /* stream bytes read back per input at most */

static char dir[512];
static uint8_t data_copy[1 << 17];
static uint8_t rbuf[READ_MAX];

static void fail(const char *what)
{
    fprintf(stderr, "segment property violated: %s\n", what);
    abort();
}

static void empty_dir(void)
{
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
}

static void remove_dir(void)
{
    empty_dir();
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/lp-fuzz-segment-XXXXXX", t && *t ? t : P_tmpdir);
    if (!mkdtemp(dir)) {
        perror("segment fuzz: mkdtemp");
        exit(1);
    }
    atexit(remove_dir);
    return 0;
}

/* Makes the file header's and every record header's checksum right, as far as the records
 * chain. */
static void fix_checksums(uint8_t *p, size_t n)
{
    if (n < SEG_FILE_HDR || memcmp(p, SEG_MAGIC, 8) != 0) return;
    seg_put64(p + 56, XXH64(p, 56, 0));
    for (size_t off = SEG_FILE_HDR; n - off >= SEG_REC_HDR;) {
        uint32_t len = seg_get32(p + off + 8);
        if (seg_get32(p + off) != SEG_REC_MAGIC || len > n - off - SEG_REC_HDR) return;
        XXH64_state_t st;
        XXH64_reset(&st, 0);
        XXH64_update(&st, p + off, 24);
        XXH64_update(&st, p + off + SEG_REC_HDR, len);
        seg_put64(p + off + 24, XXH64_digest(&st));
        off += SEG_REC_HDR + len;
    }
}

typedef struct file {
    const uint8_t *p;
    size_t n;
} file_t;

/* The chunk table's invariants against the files as written. */
static void check_log(const seg_log_t *l, const file_t *files, size_t nfiles)
{
    uint64_t held = 0, at = l->start, disk = 0;
    if (l->nfiles > nfiles) fail("more segments than files");
    for (size_t i = 0; i < l->nfiles; i++) {
        const seg_file_t *f = &l->files[i];
        if (f->seq >= nfiles || f->size > files[f->seq].n) fail("segment larger than its file");
        if (i && f->seq <= l->files[i - 1].seq) fail("segments out of order");
        if (f->stream_start > f->stream_end) fail("segment ends before it starts");
        disk += f->size;
    }
    for (size_t i = 0; i < l->nchunks; i++) {
        const seg_chunk_t *c = &l->chunks[i];
        if (c->stream_off != at || !c->raw_len) fail("chunk table not contiguous");
        const seg_file_t *f = NULL;
        for (size_t k = 0; k < l->nfiles; k++)
            if (l->files[k].seq == c->seq) f = &l->files[k];
        if (!f) fail("chunk of an unknown segment");
        if (c->file_off < SEG_FILE_HDR + SEG_REC_HDR || c->file_off + c->len > f->size)
            fail("chunk outside its segment");
        if (!(c->flags & SEG_F_ZSTD) && c->len != c->raw_len) fail("stored chunk size");
        if (c->stream_off < f->stream_start || c->stream_off + c->raw_len > f->stream_end)
            fail("chunk outside its segment's stream range");
        held += c->len;
        at += c->raw_len;
    }
    if (at != l->end) fail("stream end is not the chunks' end");
    if (held > disk) fail("chunks hold more bytes than the segments");
    if (l->evheader_len && !l->evheader) fail("header length without header");
}

/* Reads the stream back: uncompressed chunks give exactly their stored bytes. */
static void check_read(seg_log_t *l, const file_t *files)
{
    seg_reader_t *r = seg_reader_create(l);
    uint64_t budget = READ_MAX;
    for (size_t i = 0; i < l->nchunks && budget; i++) {
        seg_chunk_t c = l->chunks[i];
        size_t k = c.raw_len < budget ? c.raw_len : (size_t)budget;
        budget -= k;
        ssize_t got = seg_reader_pread(r, rbuf, k, c.stream_off);
        if (c.flags & SEG_F_ZSTD) {
            if (got != (ssize_t)k && got != LP_ECORRUPT) fail("compressed chunk read");
            continue;
        }
        if (got != (ssize_t)k) fail("stored chunk not read whole");
        if (memcmp(rbuf, files[c.seq].p + c.file_off, k) != 0) fail("stored chunk read wrong");
    }
    if (seg_reader_pread(r, rbuf, 16, l->end) != 0) fail("bytes past the end");
    seg_reader_destroy(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size - 1 > sizeof data_copy) return 0;
    uint8_t flags = data[0];
    size_t n = size - 1;
    memcpy(data_copy, data + 1, n);
    /* split into files at each segment magic after the first byte */
    file_t files[MAX_FILES];
    size_t nfiles = 0, start = 0;
    for (size_t i = 1; i + 8 <= n && nfiles < MAX_FILES - 1; i++)
        if (memcmp(data_copy + i, SEG_MAGIC, 8) == 0) {
            files[nfiles++] = (file_t){data_copy + start, i - start};
            start = i;
        }
    files[nfiles++] = (file_t){data_copy + start, n - start};
    empty_dir();
    for (size_t i = 0; i < nfiles; i++) {
        if (flags & 1) fix_checksums((uint8_t *)files[i].p, files[i].n);
        char p[1024];
        snprintf(p, sizeof p, "%s/" SEG_NAME_FMT, dir, (unsigned long long)i);
        FILE *f = fopen(p, "wb");
        if (!f || fwrite(files[i].p, 1, files[i].n, f) != files[i].n || fclose(f) != 0)
            fail("cannot write the temporary segment");
    }

    seg_log_t ro, rw, again;
    if (seg_log_open(&ro, dir, false, NULL, NULL) != 0) fail("read-only scan");
    check_log(&ro, files, nfiles);
    check_read(&ro, files);
    if (seg_log_open(&rw, dir, true, NULL, NULL) != 0) fail("repairing scan");
    check_log(&rw, files, nfiles);
    if (rw.start != ro.start || rw.end != ro.end || rw.nchunks != ro.nchunks ||
        rw.nfiles != ro.nfiles || rw.ended != ro.ended || rw.snapshot_len != ro.snapshot_len)
        fail("repair kept something else than the read-only scan found");
    if (seg_log_open(&again, dir, true, NULL, NULL) != 0) fail("second repairing scan");
    if (again.truncated || again.quarantined) fail("a repaired directory needed repair again");
    if (again.end != rw.end || again.nchunks != rw.nchunks || again.nfiles != rw.nfiles)
        fail("a repaired directory scans differently");
    /* retention: each drop frees exactly the dropped segment's bytes */
    for (uint64_t before = seg_log_disk_bytes(&again), freed;
         (freed = seg_log_drop_oldest(&again)) > 0; before -= freed) {
        if (seg_log_disk_bytes(&again) != before - freed) fail("drop freed something else");
        if (again.nchunks && again.chunks[0].stream_off != again.start)
            fail("start after a drop is not the first chunk");
    }
    seg_log_dispose(&again);
    seg_log_dispose(&rw);
    seg_log_dispose(&ro);
    return 0;
}
