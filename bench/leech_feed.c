/* Bench harness for the leech: feeds a real eventlog through the leech's own EventLogWriter
 * callbacks (as the RTS would: the header, then one call per buffer) without a Haskell runtime,
 * to a monitor at LIVEPROF_SOCKET. Modes:
 *   bench-leech_feed LOG throughput REPEAT     header once, the data REPEAT times, at full speed;
 *                                              prints bytes and seconds until all were sent
 *   bench-leech_feed LOG latency N PAUSE_MS URL TOKEN CONN
 *                                              N buffers, one per PAUSE_MS; after each, polls
 *                                              the server's link status until it holds the
 *                                              buffer; prints one latency in ms per line */
#include "clock.h"
#include "liveprof_leech.h"

#include "httpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The RTS entry points the leech calls, provided here because no Haskell runtime is linked. */
uint32_t enabled_capabilities = 2;
static char *harness_argv[] = {"bench-leech_feed", NULL};
void getProgArgv(int *argc, char **argv[])
{
    *argc = 1;
    *argv = harness_argv;
}
enum EventLogStatus eventLogStatus(void)
{
    return EVENTLOG_RUNNING;
}
bool startEventLogging(const EventLogWriter *w)
{
    (void)w;
    return true;
}
void endEventLogging(void) {}

static uint8_t *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *d = malloc(*n);
    if (d && fread(d, 1, *n, f) != *n) {
        free(d);
        d = NULL;
    }
    fclose(f);
    return d;
}

/* The header ends where "datb" ends (the RTS hands it over on its own). */
static size_t header_len(const uint8_t *d, size_t n)
{
    const uint8_t *p = memmem(d, n, "datb", 4);
    return p ? (size_t)(p - d) + 4 : 0;
}

/* The bytes the server holds of program `prog` (GET /api/connections/CONN/status). */
static long long server_bytes(httpc_t *h, const char *token, int conn, const char *prog)
{
    char key[200];
    snprintf(key, sizeof key, "\"id\":\"%s\"", prog);
    char path[64], auth[256];
    snprintf(path, sizeof path, "/api/connections/%d/status", conn);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    const char *hdrs[] = {auth, NULL};
    httpc_resp_t r;
    long long v = -1;
    if (httpc_request(h, "GET", path, hdrs, NULL, 0, &r) == 0 && r.status == 200) {
        const char *at = r.body ? strstr(r.body, key) : NULL;
        at = at ? strstr(at, "\"bytes\"") : NULL;
        if (at) {
            at += 7;
            while (*at == ':' || *at == ' ')
                at++;
            v = atoll(at);
        }
    }
    httpc_resp_dispose(&r);
    return v;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench-leech_feed LOG throughput REPEAT | LOG latency N PAUSE_MS "
                        "URL TOKEN CONN\n");
        return 2;
    }
    size_t n = 0;
    uint8_t *d = read_all(argv[1], &n);
    size_t h = d ? header_len(d, n) : 0;
    if (!h) {
        fprintf(stderr, "bench-leech_feed: cannot read an eventlog header from %s\n", argv[1]);
        return 1;
    }
    const size_t buf = 2u << 20; /* the RTS's buffer size */
    const EventLogWriter *w = &liveprof_leech_writer;
    w->initEventLogWriter();
    w->writeEventLog(d, h);
    if (!strcmp(argv[2], "throughput")) {
        int repeat = atoi(argv[3]);
        size_t body = n - h - 2; /* without the end marker */
        double t0 = now_s();
        for (int k = 0; k < repeat; k++)
            for (size_t at = h; at < h + body; at += buf)
                w->writeEventLog(d + at, at + buf < h + body ? buf : h + body - at);
        liveprof_leech_stats_t st;
        uint64_t total = h + (uint64_t)body * (uint64_t)repeat;
        do {
            usleep(200);
            liveprof_leech_stats(&st);
        } while (st.bytes_sent + st.bytes_dropped + h < total && now_s() - t0 < 120);
        double t = now_s() - t0;
        printf("%llu\t%.6f\t%llu\n", (unsigned long long)total, t,
               (unsigned long long)st.bytes_dropped);
        w->stopEventLogWriter();
        return st.bytes_sent + h >= total ? 0 : 1;
    }
    if (argc < 8) return 2;
    int count = atoi(argv[3]), pause_ms = atoi(argv[4]), conn = atoi(argv[7]);
    char err[256];
    httpc_t *hc = httpc_create(argv[5], err, sizeof err);
    if (!hc) {
        fprintf(stderr, "bench-leech_feed: %s\n", err);
        return 1;
    }
    uint64_t sent = h;
    size_t at = h;
    for (int i = 0; i < count; i++) {
        size_t k = at + buf < n - 2 ? buf : n - 2 - at;
        if (k == 0) break;
        double t0 = now_s();
        w->writeEventLog(d + at, k);
        at += k;
        sent += k;
        const char *prog = getenv("LIVEPROF_PROGRAM") ? getenv("LIVEPROF_PROGRAM") : "";
        while (server_bytes(hc, argv[6], conn, prog) < (long long)sent && now_s() - t0 < 10)
            usleep(500);
        printf("%.3f\n", (now_s() - t0) * 1000);
        fflush(stdout);
        usleep((useconds_t)pause_ms * 1000);
    }
    w->stopEventLogWriter();
    httpc_destroy(hc);
    return 0;
}
