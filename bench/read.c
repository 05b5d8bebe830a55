/* The read ceiling: a plain sequential read of a file in 1 MiB read()s, doing nothing with the
 * bytes, so that the benchmark can report liveprof's throughput as a fraction of what merely
 * getting the file into memory costs (warm: the page-cache copy, i.e. memory bandwidth; cold:
 * the disk). Prints one line of key=value pairs like bench-decode. */
#include "clock.h"
#include "pagecache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define CHUNK ((size_t)1 << 20)

/* Reads the whole file once into buf; returns the bytes read or -1 (message printed). */
static int64_t read_once(const char *path, unsigned char *buf, uint64_t *fold)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "bench-read: %s: %s\n", path, strerror(errno));
        return -1;
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    int64_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            fprintf(stderr, "bench-read: %s: %s\n", path, strerror(errno));
            close(fd);
            return -1;
        }
        if (n == 0) break;
        *fold += buf[n - 1]; /* one byte per read, so the reads are observable */
        total += n;
    }
    close(fd);
    return total;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench-read FILE [--repeat N] [--cold]\n"
               "Reads FILE N times (default 3) in 1 MiB read()s and prints the median run:\n"
               "MB/s (1e6 bytes) with min and max. The file is read once first (warm) or,\n"
               "with --cold, evicted from the page cache before every run.\n");
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int repeat = 3;
    bool cold = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--repeat") && i + 1 < argc) {
            repeat = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--cold")) {
            cold = true;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!path && argv[i][0] != '-') {
            path = argv[i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!path || repeat < 1 || repeat > 1000) {
        usage(stderr);
        return 2;
    }
    unsigned char *buf = malloc(CHUNK);
    double *secs = calloc((size_t)repeat, sizeof *secs);
    if (!buf || !secs) {
        fprintf(stderr, "bench-read: out of memory\n");
        return 1;
    }
    const char *cache = "warm";
    double resident = 0;
    if (!cold && pagecache_warm(path) < 0) {
        fprintf(stderr, "bench-read: %s: %s\n", path, strerror(errno));
        return 1;
    }
    int64_t bytes = 0;
    uint64_t fold = 0;
    for (int r = 0; r < repeat; r++) {
        if (cold) {
            cache = pagecache_drop(path);
            double res = pagecache_resident(path);
            if (res > resident) resident = res;
        } else {
            resident = pagecache_resident(path);
        }
        double t0 = now_s();
        bytes = read_once(path, buf, &fold);
        if (bytes < 0) return 1;
        secs[r] = now_s() - t0;
        if (secs[r] <= 0) secs[r] = 1e-9;
    }
    qsort(secs, (size_t)repeat, sizeof *secs, cmp_double);
    double med = secs[repeat / 2], lo = secs[0], hi = secs[repeat - 1];
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("read file=%s bytes=%lld runs=%d median_s=%.4f min_s=%.4f max_s=%.4f MB/s=%.1f "
           "MB/s_min=%.1f MB/s_max=%.1f rss_kb=%ld cache=%s resident=%.3f check=%llx\n",
           path, (long long)bytes, repeat, med, lo, hi, (double)bytes / med / 1e6,
           (double)bytes / hi / 1e6, (double)bytes / lo / 1e6, ru.ru_maxrss, cache, resident,
           (unsigned long long)fold);
    free(buf);
    free(secs);
    return 0;
}
