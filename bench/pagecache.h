/* Page-cache control for the benchmark's cold and warm runs: evict one file's cached pages
 * (posix_fadvise, falling back to /proc/sys/vm/drop_caches), pre-read it, and measure how much
 * of it is resident (tests/test_segment.c reads that too). Header-only, because each bench/NAME.c
 * is one program. */
#ifndef BENCH_PAGECACHE_H
#define BENCH_PAGECACHE_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The fraction (0..1) of PATH's pages in the page cache, or -1 when it cannot be told. Any
 * thread. */
static inline double pagecache_resident(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    struct stat st;
    double frac = -1;
    if (fstat(fd, &st) == 0 && st.st_size == 0) frac = 0;
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
        long page = sysconf(_SC_PAGESIZE);
        size_t len = (size_t)st.st_size, pages = (len + (size_t)page - 1) / (size_t)page;
        void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
        unsigned char *vec = malloc(pages);
        if (m != MAP_FAILED && vec && mincore(m, len, vec) == 0) {
            size_t in = 0;
            for (size_t i = 0; i < pages; i++)
                in += vec[i] & 1;
            frac = (double)in / (double)pages;
        }
        free(vec);
        if (m != MAP_FAILED) munmap(m, len);
    }
    close(fd);
    return frac;
}

/* Evicts PATH from the page cache: writes it back, then posix_fadvise(DONTNEED); when more
 * than 5% stays resident, writes 1 to /proc/sys/vm/drop_caches (whole machine) if allowed.
 * Returns the method that left the file cold ("fadvise", "drop_caches") or "none" when
 * neither did. Any thread. */
static inline const char *pagecache_drop(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return "none";
    fdatasync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
    if (pagecache_resident(path) <= 0.05) return "fadvise";
    FILE *f = fopen("/proc/sys/vm/drop_caches", "w");
    if (f) {
        sync();
        fputs("1\n", f);
        if (fclose(f) == 0 && pagecache_resident(path) <= 0.05) return "drop_caches";
    }
    return "none";
}

/* Reads PATH once through a 1 MiB buffer so that its pages are cached; returns the bytes
 * read or -1. Any thread. */
static inline int64_t pagecache_warm(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    char *buf = malloc((size_t)1 << 20);
    int64_t total = 0;
    ssize_t n = -1;
    while (buf && (n = read(fd, buf, (size_t)1 << 20)) > 0)
        total += n;
    free(buf);
    close(fd);
    return n < 0 ? -1 : total;
}

#endif
