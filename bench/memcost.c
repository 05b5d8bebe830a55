/* What memory the program has not touched before costs on this machine: the first write to fresh
 * anonymous pages (4 KiB and, where the kernel gives them, 2 MiB ones) and write(2) into page
 * cache the file did not have, once into memory the kernel hands out and once more right after
 * the same amount was freed. On a virtual machine whose host takes freed memory back these are
 * far dearer than on bare metal, and every ingest pays them (its segments' page cache, its
 * buffers, its aggregates), so the report prints them beside the machine. Prints one line of
 * key=value pairs like the other bench programs.
 *   bench-memcost DIR [MIB]   (scratch files in DIR; MIB of page cache per write, default 256) */
#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#define ANON_MIB 64
#define WRITE_CHUNK ((size_t)2 << 20)

/* This thread's system CPU seconds (the page faults and the page-cache copies are the kernel's). */
static double sys_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Touches one byte of every 4 KiB of p (n bytes); returns the wall ms per MiB. */
static double touch_ms_per_mib(volatile unsigned char *p, size_t n, unsigned char v)
{
    double t0 = now_s();
    for (size_t i = 0; i < n; i += 4096)
        p[i] = v;
    return (now_s() - t0) * 1e3 / (double)(n >> 20);
}

/* First and second touch of a fresh anonymous mapping, huge pages asked for or not. */
static int anon(int huge, double *first, double *again)
{
    size_t n = (size_t)ANON_MIB << 20;
    unsigned char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return -1;
#ifdef MADV_HUGEPAGE
    if (huge) madvise(p, n, MADV_HUGEPAGE);
#else
    (void)huge;
#endif
    *first = touch_ms_per_mib(p, n, 1);
    *again = touch_ms_per_mib(p, n, 2);
    munmap(p, n);
    return 0;
}

/* Writes mib MiB into a new file at path (no sync) and removes it; returns the system CPU
 * seconds per GiB the writes took, or -1. */
static double write_file(const char *path, size_t mib, const unsigned char *buf)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        fprintf(stderr, "bench-memcost: %s: %s\n", path, strerror(errno));
        return -1;
    }
    double s0 = sys_s();
    size_t total = mib << 20;
    for (size_t done = 0; done < total;) {
        ssize_t w = write(fd, buf, WRITE_CHUNK);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            fprintf(stderr, "bench-memcost: writing %s: %s\n", path, strerror(errno));
            close(fd);
            unlink(path);
            return -1;
        }
        done += (size_t)w;
    }
    double s = sys_s() - s0;
    close(fd);
    unlink(path);
    return s * 1024.0 / (double)mib;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: bench-memcost DIR [MIB]\n");
        return 2;
    }
    size_t mib = argc == 3 ? strtoul(argv[2], NULL, 10) : 256;
    if (mib == 0) mib = 256;
    double a4 = 0, a4again = 0, a2m = 0, a2magain = 0;
    if (anon(0, &a4, &a4again) < 0 || anon(1, &a2m, &a2magain) < 0) {
        fprintf(stderr, "bench-memcost: mmap: %s\n", strerror(errno));
        return 1;
    }
    unsigned char *buf = malloc(WRITE_CHUNK);
    if (!buf) return 1;
    memset(buf, 0x5a, WRITE_CHUNK);
    char path[4096];
    snprintf(path, sizeof path, "%s/memcost.%ld", argv[1], (long)getpid());
    double fresh = write_file(path, mib, buf); /* page cache from whatever memory is free */
    double again = fresh < 0 ? -1 : write_file(path, mib, buf); /* into the pages just freed */
    free(buf);
    if (fresh < 0 || again < 0) return 1;
    printf("anon_4k_first_ms_per_mib=%.3f anon_4k_again_ms_per_mib=%.3f "
           "anon_huge_first_ms_per_mib=%.3f anon_huge_again_ms_per_mib=%.3f "
           "pagecache_fresh_sys_s_per_gib=%.3f pagecache_recycled_sys_s_per_gib=%.3f "
           "pagecache_mib=%zu\n",
           a4, a4again, a2m, a2magain, fresh, again, mib);
    return 0;
}
