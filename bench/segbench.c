/* Segment benchmarks for bench/stage_segments.sh: writing a log into segments (with or without
 * compression) against plain write(2) of the same bytes, reading the stream back, and recovery
 * (the scan that checks every record) of a session directory. Prints "bytes seconds [extra]". */
#include "err.h"
#include "seg_log.h"
#include "seg_reader.h"
#include "seg_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PIECE (1u << 20)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench-segbench write FILE DIR LEVEL SEGBYTES | plain FILE OUT |\n"
                    "                      read DIR | recover DIR\n");
    return 2;
}

/* FILE into segments in DIR (fresh), 1 MiB appends as uploads bring them. */
static int bench_write(const char *file, const char *dir, int level, uint64_t seg)
{
    int fd = open(file, O_RDONLY);
    if (fd < 0) return perror(file), 1;
    seg_log_t l;
    if (seg_log_open(&l, dir, true, NULL, NULL) < 0) return perror(dir), 1;
    char err[256];
    seg_writer_opts_t o = {.max_bytes = seg, .zstd_level = level};
    seg_writer_t *w = seg_writer_create(&l, &o, err, sizeof err);
    if (!w) return fprintf(stderr, "%s\n", err), 1;
    uint8_t *buf = malloc(PIECE);
    uint64_t total = 0;
    double t = 0;
    ssize_t k;
    while ((k = read(fd, buf, PIECE)) > 0) {
        double t0 = now();
        if (seg_writer_append(w, buf, (size_t)k) < 0) return fprintf(stderr, "write failed\n"), 1;
        t += now() - t0;
        total += (uint64_t)k;
    }
    double t0 = now();
    seg_writer_end(w);
    seg_writer_close(w);
    t += now() - t0;
    seg_writer_destroy(w);
    printf("%llu %.6f %llu\n", (unsigned long long)total, t,
           (unsigned long long)seg_log_disk_bytes(&l));
    seg_log_dispose(&l);
    free(buf);
    close(fd);
    return 0;
}

/* The same bytes with plain write(2): what a raw file costs. */
static int bench_plain(const char *file, const char *out)
{
    int fd = open(file, O_RDONLY), od = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || od < 0) return perror(file), 1;
    uint8_t *buf = malloc(PIECE);
    uint64_t total = 0;
    double t = 0;
    ssize_t k;
    while ((k = read(fd, buf, PIECE)) > 0) {
        double t0 = now();
        if (write(od, buf, (size_t)k) != k) return perror(out), 1;
        t += now() - t0;
        total += (uint64_t)k;
    }
    printf("%llu %.6f\n", (unsigned long long)total, t);
    free(buf);
    close(fd);
    close(od);
    return 0;
}

static int bench_read(const char *dir)
{
    seg_log_t l;
    if (seg_log_open(&l, dir, false, NULL, NULL) < 0) return perror(dir), 1;
    seg_reader_t *r = seg_reader_create(&l);
    uint8_t *buf = malloc(4 * PIECE);
    uint64_t end = seg_log_end(&l), off = l.start;
    double t0 = now();
    while (off < end) {
        ssize_t k = seg_reader_pread(r, buf, 4 * PIECE, off);
        if (k <= 0) return fprintf(stderr, "read failed at %llu\n", (unsigned long long)off), 1;
        off += (uint64_t)k;
    }
    printf("%llu %.6f\n", (unsigned long long)(end - l.start), now() - t0);
    free(buf);
    seg_reader_destroy(r);
    seg_log_dispose(&l);
    return 0;
}

static int bench_recover(const char *dir)
{
    seg_log_t l;
    double t0 = now();
    if (seg_log_open(&l, dir, true, NULL, NULL) < 0) return perror(dir), 1;
    double t = now() - t0;
    printf("%llu %.6f %llu\n", (unsigned long long)seg_log_disk_bytes(&l), t,
           (unsigned long long)seg_log_end(&l));
    seg_log_dispose(&l);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "write"))
        return bench_write(argv[2], argv[3], atoi(argv[4]), strtoull(argv[5], NULL, 10));
    if (argc == 4 && !strcmp(argv[1], "plain")) return bench_plain(argv[2], argv[3]);
    if (argc == 3 && !strcmp(argv[1], "read")) return bench_read(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "recover")) return bench_recover(argv[2]);
    return usage();
}
