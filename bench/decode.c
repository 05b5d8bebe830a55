/* Decode-only throughput: feeds a file through the streaming decoder (lib/evlog.h) in 1 MiB
 * reads or from one mmap, with a sink that touches every event (sums timestamps, counts
 * types), and prints MB/s, M events/s and peak RSS as one line of key=value pairs. The file
 * is cached first (warm) or evicted before every run (--cold). */
#include "clock.h"
#include "err.h"
#include "evlog.h"
#include "pagecache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHUNK ((size_t)1 << 20)

typedef struct tally {
    uint64_t ts_sum;
    uint64_t field_sum; /* one decoded field of the common event kinds */
    uint64_t events;    /* block markers included */
    uint64_t per_type[65536];
} tally_t;

static int on_event(void *ctx, const evlog_event_t *ev)
{
    tally_t *t = ctx;
    t->ts_sum += ev->ts;
    t->per_type[ev->type]++;
    t->events++;
    if (!ev->known) return 0;
    switch (ev->type) {
    case EVLOG_CREATE_THREAD:
    case EVLOG_RUN_THREAD:
        t->field_sum += ev->f.thread.tid;
        break;
    case EVLOG_STOP_THREAD:
        t->field_sum += ev->f.stop.status;
        break;
    case EVLOG_USER_MSG:
    case EVLOG_USER_MARKER:
        t->field_sum += ev->f.msg.text.len;
        break;
    case EVLOG_HEAP_ALLOCATED:
    case EVLOG_HEAP_SIZE:
    case EVLOG_HEAP_LIVE:
        t->field_sum += ev->f.heap.bytes;
        break;
    default:
        break;
    }
    return 0;
}

/* Decodes the whole file once; returns 0 or an error already printed. */
static int decode_once(const char *path, bool use_mmap, tally_t *t, uint64_t *bytes,
                       uint64_t *events)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "bench-decode: %s: %s\n", path, strerror(errno));
        return 1;
    }
    evlog_t d;
    evlog_sink_t sink = {.on_event = on_event, .ctx = t};
    if (evlog_init(&d, &sink)) {
        close(fd);
        fprintf(stderr, "bench-decode: out of memory\n");
        return 1;
    }
    int rc = 0;
    *bytes = 0;
    if (use_mmap) {
        struct stat st;
        if (fstat(fd, &st) == 0 && st.st_size > 0) {
            void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
            if (m == MAP_FAILED) {
                rc = LP_EIO;
            } else {
                madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
                rc = evlog_feed(&d, m, (size_t)st.st_size);
                munmap(m, (size_t)st.st_size);
                *bytes = (uint64_t)st.st_size;
            }
        }
    } else {
        uint8_t *buf = malloc(CHUNK);
        if (!buf) rc = LP_ENOMEM;
        while (!rc) {
            ssize_t n = read(fd, buf, CHUNK);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) rc = LP_EIO;
            if (n <= 0) break;
            *bytes += (uint64_t)n;
            rc = evlog_feed(&d, buf, (size_t)n);
        }
        free(buf);
    }
    if (!rc) rc = evlog_finish(&d);
    if (rc) {
        if (rc == LP_EIO || rc == LP_ENOMEM)
            fprintf(stderr, "bench-decode: %s: %s\n", path, lp_strerror(rc));
        else
            fprintf(stderr, "bench-decode: %s: error: %s at byte %llu\n", path,
                    evlog_error_text(&d), (unsigned long long)evlog_error_offset(&d));
    }
    *events = evlog_events(&d);
    evlog_dispose(&d);
    close(fd);
    return rc ? 1 : 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench-decode FILE [--repeat N] [--mmap] [--cold]\n"
               "Decodes FILE N times (default 3) through lib/evlog in 1 MiB reads (or one\n"
               "mmap) and prints the median run: MB/s (1e6 bytes) with min and max, M events/s,\n"
               "peak RSS. The file is read once first (warm) or, with --cold, evicted from the\n"
               "page cache before every run.\n");
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int repeat = 3;
    bool use_mmap = false, cold = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--repeat") && i + 1 < argc) {
            repeat = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--mmap")) {
            use_mmap = true;
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
    tally_t *t = calloc(1, sizeof *t);
    double *secs = calloc((size_t)repeat, sizeof *secs);
    if (!t || !secs) {
        fprintf(stderr, "bench-decode: out of memory\n");
        return 1;
    }
    uint64_t bytes = 0, events = 0;
    const char *cache = "warm";
    double resident = 0, cpu_min = 0;
    if (!cold && pagecache_warm(path) < 0) {
        fprintf(stderr, "bench-decode: %s: %s\n", path, strerror(errno));
        return 1;
    }
    for (int r = 0; r < repeat; r++) {
        memset(t, 0, sizeof *t);
        if (cold) {
            cache = pagecache_drop(path);
            double res = pagecache_resident(path);
            if (res > resident) resident = res;
        } else {
            resident = pagecache_resident(path);
        }
        double t0 = now_s(), c0 = cpu_s();
        if (decode_once(path, use_mmap, t, &bytes, &events)) return 1;
        secs[r] = now_s() - t0;
        double c = cpu_s() - c0;
        if (r == 0 || c < cpu_min) cpu_min = c;
    }
    if (cpu_min <= 0) cpu_min = 1e-9;
    qsort(secs, (size_t)repeat, sizeof *secs, cmp_double);
    double med = secs[repeat / 2], lo = secs[0], hi = secs[repeat - 1];
    if (med <= 0) med = 1e-9;
    if (lo <= 0) lo = 1e-9;
    if (hi <= 0) hi = 1e-9;
    uint64_t kinds = 0;
    for (size_t i = 0; i < 65536; i++)
        kinds += t->per_type[i] != 0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("decode file=%s bytes=%llu events=%llu types=%llu runs=%d median_s=%.4f min_s=%.4f "
           "max_s=%.4f cpu_min_s=%.4f MB/s=%.1f MB/s_min=%.1f MB/s_max=%.1f MB/s_cpu=%.1f "
           "Mev/s=%.2f rss_kb=%ld cache=%s resident=%.3f check=%llx\n",
           path, (unsigned long long)bytes, (unsigned long long)events, (unsigned long long)kinds,
           repeat, med, lo, hi, cpu_min, (double)bytes / med / 1e6, (double)bytes / hi / 1e6,
           (double)bytes / lo / 1e6, (double)bytes / cpu_min / 1e6, (double)events / med / 1e6,
           ru.ru_maxrss, cache, resident,
           (unsigned long long)(t->ts_sum ^ t->field_sum ^ t->events));
    free(t);
    free(secs);
    return 0;
}
