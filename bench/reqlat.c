/* Paced REST latency: one keep-alive connection sends GET PATH at a fixed rate for a number of
 * seconds, as a dashboard polling the server would, rather than as fast as the server answers
 * (what wrk does, which measures a saturated server's queue). A request's latency runs from the
 * moment it was due, so a stall also delays the requests queued behind it (no coordinated
 * omission). It also tells apart what the server can be blamed for: the p99 of the client's own
 * wake-ups (how late it woke for a request it had slept towards; the machine's scheduling, not
 * the server) and the p99 of the service time (from sending a request to its whole answer).
 * The client raises itself to nice -10 where it may, as the server's HTTP thread does: a dashboard
 * polls from another machine, whose own scheduling is not the server's latency, and here the client
 * shares the cores the ingest fills. Prints one line: "p50_ms p99_ms max_ms requests wake_p99_ms
 * service_p99_ms nice" (nice: the value the client ran at). */
#include "clock.h"
#include "httpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: bench-reqlat BASE_URL PATH TOKEN RATE SECONDS\n"
                        "  GET PATH RATE times a second for SECONDS on one connection; prints\n"
                        "  p50_ms p99_ms max_ms requests (latency from when a request was due)\n"
                        "  wake_p99_ms (how late the client woke for a request)\n"
                        "  service_p99_ms (from sending a request to its answer)\n"
                        "  nice (the client's nice value: -10 where it may raise itself)\n");
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
    int niceness = setpriority(PRIO_PROCESS, 0, -10) == 0 ? -10 : getpriority(PRIO_PROCESS, 0);
    double *lat = malloc(sizeof *lat * (size_t)n), *wake = malloc(sizeof *wake * (size_t)n);
    double *service = malloc(sizeof *service * (size_t)n), t0 = now_s();
    if (!lat || !wake || !service) return 2;
    for (long i = 0; i < n; i++) {
        double due = t0 + (double)i / rate, t = now_s();
        wake[i] = 0; /* behind schedule: no wake-up, the wait was the server's */
        if (t < due) {
            struct timespec w = {(time_t)(due - t),
                                 (long)((due - t - (double)(time_t)(due - t)) * 1e9)};
            nanosleep(&w, NULL);
            t = now_s();
            wake[i] = (t - due) * 1000;
        }
        httpc_resp_t r = {0};
        if (httpc_request(h, "GET", argv[2], headers, NULL, 0, &r) != 0 || r.status != 200) {
            fprintf(stderr, "bench-reqlat: request %ld: %s (status %d)\n", i, httpc_error(h),
                    r.status);
            return 1;
        }
        httpc_resp_dispose(&r);
        double done = now_s();
        lat[i] = (done - due) * 1000;
        service[i] = (done - t) * 1000;
    }
    qsort(lat, (size_t)n, sizeof *lat, cmp_double);
    qsort(wake, (size_t)n, sizeof *wake, cmp_double);
    qsort(service, (size_t)n, sizeof *service, cmp_double);
    long p99 = (long)((double)n * 0.99);
    if (p99 >= n) p99 = n - 1;
    printf("%.3f %.3f %.3f %ld %.3f %.3f %d\n", lat[n / 2], lat[p99], lat[n - 1], n, wake[p99],
           service[p99], niceness);
    free(lat);
    free(wake);
    free(service);
    httpc_destroy(h);
    return 0;
}
