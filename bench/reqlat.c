/* Paced REST latency: one keep-alive connection sends GET PATH at a fixed rate for a number of
 * seconds, as a dashboard polling the server would, rather than as fast as the server answers
 * (what wrk does, which measures a saturated server's queue). A request's latency runs from the
 * moment it was due, so a stall also delays the requests queued behind it (no coordinated
 * omission). Prints one line: "p50_ms p99_ms max_ms requests". */
#include "clock.h"
#include "httpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: bench-reqlat BASE_URL PATH TOKEN RATE SECONDS\n"
                        "  GET PATH RATE times a second for SECONDS on one connection; prints\n"
                        "  p50_ms p99_ms max_ms requests (latency from when a request was due)\n");
        return 2;
    }
    char err[256], auth[1100];
    httpc_t *h = httpc_create(argv[1], err, sizeof err);
    if (!h) {
        fprintf(stderr, "bench-reqlat: %s\n", err);
        return 2;
    }
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", argv[3]);
    const char *const headers[] = {auth, NULL};
    double rate = atof(argv[4]), secs = atof(argv[5]);
    long n = (long)(rate * secs);
    if (rate <= 0 || n < 1 || n > 10000000) {
        fprintf(stderr, "bench-reqlat: RATE and SECONDS must give 1 to 10^7 requests\n");
        return 2;
    }
    double *lat = malloc(sizeof *lat * (size_t)n), t0 = now_s();
    if (!lat) return 2;
    for (long i = 0; i < n; i++) {
        double due = t0 + (double)i / rate, t = now_s();
        if (t < due) {
            struct timespec w = {(time_t)(due - t),
                                 (long)((due - t - (double)(time_t)(due - t)) * 1e9)};
            nanosleep(&w, NULL);
        }
        httpc_resp_t r = {0};
        if (httpc_request(h, "GET", argv[2], headers, NULL, 0, &r) != 0 || r.status != 200) {
            fprintf(stderr, "bench-reqlat: request %ld: %s (status %d)\n", i, httpc_error(h),
                    r.status);
            return 1;
        }
        httpc_resp_dispose(&r);
        lat[i] = (now_s() - due) * 1000;
    }
    qsort(lat, (size_t)n, sizeof *lat, cmp_double);
    long p99 = (long)((double)n * 0.99);
    printf("%.3f %.3f %.3f %ld\n", lat[n / 2], lat[p99 < n ? p99 : n - 1], lat[n - 1], n);
    free(lat);
    httpc_destroy(h);
    return 0;
}
