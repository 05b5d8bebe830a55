/* WebSocket push latency and fan-out load: one thread uploads a log into a new session through
 * the chunked upload API, paced to a target event rate, and notes when each chunk was sent; an
 * epoll loop holds N WebSocket clients on that session. A chunk's latency, per client, runs from
 * its PUT to the update that reports its bytes ingested (the State that opens each pushed update,
 * its deltas following in the same burst). Prints
 * one line: "p50_ms p99_ms samples clients_connected deltas mean_delta_bytes snapshots
 * mean_snapshot_bytes" (counted over every client and diagram). */
#include "clock.h"
#include "err.h"
#include "evlog.h"
#include "httpc.h"
#include "wsmsg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHUNKS 100000

/* chunks sent: end offset and time (appended by the uploader, read by the loop) */
static uint64_t chunk_end[MAX_CHUNKS];
static double chunk_t[MAX_CHUNKS];
static _Atomic size_t nchunks; /* release by the uploader after writing a slot */
static _Atomic int upload_done;

typedef struct conn {
    int fd;
    bool open;
    uint8_t *buf;
    size_t len, cap;
    size_t need;          /* bytes of the frame parse stopped in (0: unknown yet) */
    uint64_t state_bytes; /* bytes_ingested of the last State */
    size_t next_chunk;    /* first chunk without a latency yet */
} conn_t;

static double *lat;
static size_t nlat, lat_cap;
static uint64_t deltas, delta_bytes, snapshots, snapshot_bytes;

static void add_lat(double v)
{
    if (nlat == lat_cap) {
        lat_cap = lat_cap ? 2 * lat_cap : 4096;
        lat = realloc(lat, lat_cap * sizeof *lat);
        if (!lat) abort();
    }
    lat[nlat++] = v;
}

static void on_msg(conn_t *c, const uint8_t *p, size_t n, double t)
{
    static uint64_t arena[1 << 16];
    wsmsg_t m;
    if (wsmsg_decode(p, n, &m, arena, sizeof arena) < 0) return;
    if (m.type == WSMSG_DELTA) deltas++, delta_bytes += n;
    if (m.type == WSMSG_SNAPSHOT) snapshots++, snapshot_bytes += n;
    if (m.type != WSMSG_STATE) return;
    /* a State opens each update the server pushes (its deltas follow in the same burst) */
    c->state_bytes = m.u.state.bytes_ingested;
    size_t have = atomic_load_explicit(&nchunks, memory_order_acquire);
    while (c->next_chunk < have && chunk_end[c->next_chunk] <= c->state_bytes) {
        add_lat(t - chunk_t[c->next_chunk]);
        c->next_chunk++;
    }
}

/* Answers a ping (the server closes connections that answer none: serve --ws-timeout). */
static void pong(conn_t *c, const uint8_t *p, size_t n)
{
    uint8_t f[6 + 125] = {0x8a, (uint8_t)(0x80 | (n > 125 ? 125 : n)), 1, 2, 3, 4};
    if (n > 125) n = 125;
    for (size_t i = 0; i < n; i++)
        f[6 + i] = p[i] ^ f[2 + i % 4];
    (void)!write(c->fd, f, 6 + n);
}

/* Parses whole frames from c->buf and keeps the rest; sets c->need to the size of the frame it
 * stopped in. */
static void parse(conn_t *c, double t)
{
    size_t off = 0;
    c->need = 0;
    if (!c->open) {
        uint8_t *e = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (!e) return;
        c->open = !strncmp((char *)c->buf, "HTTP/1.1 101", 12);
        off = (size_t)(e + 4 - c->buf);
    }
    for (;;) {
        if (c->len - off < 2) break;
        const uint8_t *h = c->buf + off;
        size_t n = h[1] & 0x7f, hl = 2;
        if (n == 126) {
            if (c->len - off < 4) break;
            n = (size_t)h[2] << 8 | h[3];
            hl = 4;
        } else if (n == 127) {
            if (c->len - off < 10) break;
            n = 0;
            for (int i = 0; i < 8; i++)
                n = n << 8 | h[2 + i];
            hl = 10;
        }
        if (c->len - off < hl + n) {
            c->need = hl + n;
            break;
        }
        if ((h[0] & 0x0f) == 2) on_msg(c, h + hl, n, t);
        if ((h[0] & 0x0f) == 9) pong(c, h + hl, n);
        off += hl + n;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct up {
    const char *base, *token, *session_upload;
    const uint8_t *log;
    size_t start, len; /* paced from start (the warm-up before it is already sent) */
    double bytes_per_s;
} up_t;

static void *uploader(void *arg)
{
    up_t *u = arg;
    char err[256], path[256], auth[200];
    httpc_t *h = httpc_create(u->base, err, sizeof err);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", u->token);
    const char *hdr[] = {auth, "Content-Type: application/octet-stream", NULL};
    double t0 = now_s();
    size_t off = u->start, step = (size_t)(u->bytes_per_s / 100); /* a chunk every 10 ms */
    if (step < 4096) step = 4096;
    while (off < u->len && h) {
        double due = t0 + (double)(off - u->start) / u->bytes_per_s;
        double wait = due - now_s();
        if (wait > 0) usleep((useconds_t)(wait * 1e6));
        size_t k = u->len - off < step ? u->len - off : step;
        snprintf(path, sizeof path, "/api/uploads/%s?offset=%zu", u->session_upload, off);
        httpc_resp_t r;
        double t = now_s();
        if (httpc_request(h, "PUT", path, hdr, u->log + off, k, &r) < 0 || r.status != 200) {
            fprintf(stderr, "wsload: PUT failed\n");
            break;
        }
        httpc_resp_dispose(&r);
        off += k;
        size_t i = atomic_load_explicit(&nchunks, memory_order_relaxed);
        if (i < MAX_CHUNKS) {
            chunk_end[i] = off;
            chunk_t[i] = t;
            atomic_store_explicit(&nchunks, i + 1, memory_order_release);
        }
    }
    httpc_destroy(h);
    atomic_store(&upload_done, 1);
    return NULL;
}

/* Reads what the clients' sockets hold and parses their frames; returns the time it woke. */
static double pump(int ep, int timeout_ms)
{
    struct epoll_event evs[64];
    int n = epoll_wait(ep, evs, 64, timeout_ms);
    double t = now_s();
    for (int i = 0; i < n; i++) {
        conn_t *c = evs[i].data.ptr;
        /* a buffer of its own that grows only for a frame larger than it: reads land in pages
         * already touched and nothing is copied but the tail of a frame cut by a read */
        for (;;) {
            size_t want = c->need > 65536 ? c->need : 65536;
            if (c->cap < want) {
                c->cap = want;
                c->buf = realloc(c->buf, c->cap);
                if (!c->buf) abort();
            }
            ssize_t k = read(c->fd, c->buf + c->len, c->cap - c->len);
            if (k <= 0) {
                if (k == 0 || (errno != EAGAIN && errno != EINTR)) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                    close(c->fd);
                    c->fd = -1;
                }
                break;
            }
            c->len += (size_t)k;
            parse(c, t);
        }
    }
    return t;
}

/* Sends log[0, n) into the upload as fast as the server takes it, then waits until the
 * session has ingested it. Returns 0 or -1. */
static int warm_up(httpc_t *h, const char *auth, const char *up_id, const char *sid,
                   const uint8_t *log, size_t n)
{
    char path[256];
    const char *hdr[] = {auth, "Content-Type: application/octet-stream", NULL};
    httpc_resp_t r;
    for (size_t off = 0; off < n;) {
        size_t k = n - off < (8u << 20) ? n - off : 8u << 20;
        snprintf(path, sizeof path, "/api/uploads/%s?offset=%zu", up_id, off);
        if (httpc_request(h, "PUT", path, hdr, log + off, k, &r) < 0 || r.status != 200) return -1;
        httpc_resp_dispose(&r);
        off += k;
    }
    snprintf(path, sizeof path, "/api/sessions/%s", sid);
    for (int i = 0; i < 600; i++) {
        if (httpc_request(h, "GET", path, hdr, NULL, 0, &r) < 0 || r.status != 200) return -1;
        const char *b = strstr(r.body, "\"bytes_ingested\":");
        unsigned long long got = b ? strtoull(b + 17, NULL, 10) : 0;
        httpc_resp_dispose(&r);
        if (got >= n) return 0;
        usleep(50000);
    }
    return -1;
}

static int count_event(void *ctx, const evlog_event_t *ev)
{
    if (ev->type != EVLOG_BLOCK_MARKER) ++*(uint64_t *)ctx;
    return 0;
}

int main(int argc, char **argv)
{
    int http_port = 0, ws_port = 0, nclients = 1;
    double rate = 1e5, seconds = 5, warm = 0;
    const char *token = "", *logf = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--http")) http_port = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--ws")) ws_port = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--token")) token = argv[i + 1];
        if (!strcmp(argv[i], "--log")) logf = argv[i + 1];
        if (!strcmp(argv[i], "--rate")) rate = atof(argv[i + 1]);
        if (!strcmp(argv[i], "--clients")) nclients = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
        if (!strcmp(argv[i], "--warm")) warm = atof(argv[i + 1]);
    }
    if (!http_port || !ws_port || !logf) {
        fprintf(stderr, "usage: bench-wsload --http PORT --ws PORT --token T --log FILE "
                        "[--rate EVENTS/S] [--clients N] [--seconds S] [--warm S]\n");
        return 2;
    }
    FILE *f = fopen(logf, "rb");
    if (!f) return 1;
    fseek(f, 0, SEEK_END);
    size_t len = (size_t)ftell(f);
    rewind(f);
    uint8_t *log = malloc(len);
    if (!log || fread(log, 1, len, f) != len) return 1;
    fclose(f);
    uint64_t events = 0;
    evlog_sink_t sink = {.on_event = count_event, .ctx = &events};
    evlog_t d;
    evlog_init(&d, &sink);
    evlog_feed(&d, log, len);
    evlog_dispose(&d);
    double bytes_per_s = rate * (double)len / (double)(events ? events : 1);
    size_t start = (size_t)(bytes_per_s * warm), send = (size_t)(bytes_per_s * (warm + seconds));
    if (start > len) start = len;
    if (send < len) len = send; /* the first `warm + seconds` of ingest at that rate */
    /* the session */
    char base[64], err[256], auth[200];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", http_port);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    const char *hdr[] = {auth, NULL};
    httpc_t *h = httpc_create(base, err, sizeof err);
    httpc_resp_t r;
    if (!h || httpc_request(h, "POST", "/api/uploads?name=wsload", hdr, NULL, 0, &r) < 0 ||
        r.status != 201) {
        fprintf(stderr, "wsload: cannot create the upload\n");
        return 1;
    }
    char up_id[64] = "", sid[64] = "";
    const char *p = strstr(r.body, "\"id\":\""), *q = strstr(r.body, "\"session\":\"");
    if (p) sscanf(p + 6, "%63[0-9a-f]", up_id);
    if (q) sscanf(q + 11, "%63[0-9a-f]", sid);
    httpc_resp_dispose(&r);
    if (start && warm_up(h, auth, up_id, sid, log, start) < 0) {
        fprintf(stderr, "wsload: the warm-up upload failed\n");
        return 1;
    }
    /* the clients */
    int ep = epoll_create1(0);
    conn_t *cs = calloc((size_t)nclients, sizeof *cs);
    int connected = 0;
    for (int i = 0; i < nclients; i++) {
        conn_t *c = &cs[i];
        c->fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)ws_port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) {
            fprintf(stderr, "wsload: connect %d: %s\n", i, strerror(errno));
            if (c->fd >= 0) close(c->fd);
            c->fd = -1;
            continue;
        }
        char req[512];
        int n = snprintf(req, sizeof req,
                         "GET /ws?session=%s&token=%s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: "
                         "websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "
                         "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                         sid, token);
        if (write(c->fd, req, (size_t)n) != n) continue;
        fcntl(c->fd, F_SETFL, O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    }
    /* the snapshots arrive before the paced data */
    for (double until = now_s() + 20; now_s() < until && snapshots < 3 * (uint64_t)nclients;)
        pump(ep, 20);
    for (double until = now_s() + 0.3; now_s() < until;)
        pump(ep, 20);
    up_t u = {base, token, up_id, log, start, len, bytes_per_s};
    pthread_t th;
    pthread_create(&th, NULL, uploader, &u);
    double quiet_until = 0;
    for (;;) {
        double t = pump(ep, 20);
        if (atomic_load(&upload_done)) {
            /* the last updates: until every open client has the State of the last chunk, or
             * 2 s more (a client still without it then has no sample for what is missing) */
            if (quiet_until == 0) quiet_until = t + 2.0;
            size_t all = atomic_load_explicit(&nchunks, memory_order_acquire);
            bool behind = false;
            for (int i = 0; i < nclients && !behind; i++)
                behind = cs[i].open && cs[i].fd >= 0 && cs[i].next_chunk < all;
            if (!behind || t > quiet_until) break;
        }
    }
    pthread_join(th, NULL);
    for (int i = 0; i < nclients; i++)
        connected += cs[i].open && cs[i].fd >= 0;
    qsort(lat, nlat, sizeof *lat, cmp);
    double p50 = nlat ? lat[nlat / 2] * 1e3 : -1, p99 = nlat ? lat[nlat * 99 / 100] * 1e3 : -1;
    printf("%.2f %.2f %zu %d %llu %llu %llu %llu\n", p50, p99, nlat, connected,
           (unsigned long long)deltas, (unsigned long long)(deltas ? delta_bytes / deltas : 0),
           (unsigned long long)snapshots,
           (unsigned long long)(snapshots ? snapshot_bytes / snapshots : 0));
    return nlat ? 0 : 1;
}
