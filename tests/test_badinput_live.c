/* The bad-input matrix on the live surfaces, end to end against the real server: slow-loris
 * clients on the WebSocket port (upgrades trickled or stalled, frames stalled half-sent), and
 * monitor frames out of order, replayed, skipping ahead or before the header, on a pushed and on
 * a dialled link. Each case: a clear error (or, as the wire contract says, a duplicate ignored
 * and a jump recorded as a gap), other clients still served, what was ingested kept, memory
 * bounded. (A leech sending garbage to the monitor: tests/test_capture.c, capture_garbage.) */
#include "test.h"

#include "caputil.h"
#include "evlog.h"
#include "wire.h"
#include "wsclient.h"
#include "wsmsg.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <poll.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The server still answers another HTTP client at once. */
static void still_serving(const srv_t *s, int line)
{
    httpc_resp_t r;
    double t = now_s();
    int st = srv_req(s, "GET", "/api/me", s->admin, NULL, NULL, 0, &r);
    httpc_resp_dispose(&r);
    CHECKF(st == 200 && now_s() - t < 5, "line %d: the server does not serve others (%d)", line,
           st);
}

/* True once the peer of fd has closed the connection (data before the close is discarded). */
static bool peer_closed(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char buf[4096];
    while (poll(&p, 1, 0) > 0) {
        ssize_t k = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (k <= 0) return true;
    }
    return false;
}

/* How often `text` occurs in the file. */
static int file_count(const char *path, const char *text)
{
    size_t n = 0;
    uint8_t *d = tu_read_file(path, &n);
    int count = 0;
    for (const char *q = d ? (char *)d : ""; (q = strstr(q, text)); q++)
        count++;
    free(d);
    return count;
}

static char *upload_done(const srv_t *s, const char *rel)
{
    size_t n;
    uint8_t *log = tu_read_file(tu_data(rel), &n);
    REQUIRE(log);
    httpc_resp_t r;
    REQUIRE(srv_req(s, "POST", "/api/sessions?name=up", s->admin, NULL, log, n, &r) == 201);
    char *id = srv_json_str(r.body, "id");
    httpc_resp_dispose(&r);
    free(log);
    REQUIRE(id);
    free(srv_wait_session(s, id, s->admin, 60));
    return id;
}

/* Slow-loris clients on the WebSocket port, with --ws-timeout 2: upgrade requests trickled a
 * byte at a time or stalled half-way, and connections (a browser's and a monitor's) stalled
 * inside a frame are all closed within a bounded time, while a viewer that answers pings stays
 * connected and served, new viewers are served at once, HTTP too, and memory stays flat. */
TEST(badinput_ws_slow_clients)
{
    srv_t s;
    srv_start(&s, NULL, "--ws-timeout 2");
    char *sid = upload_done(&s, "eventlogs/fib-labels.eventlog");
    char target[256];
    snprintf(target, sizeof target, "/ws?session=%s&token=%s", sid, s.admin);
    wsc_t v;
    REQUIRE(wsc_connect(&v, s.ws_port, target, 0) == 0);
    uint8_t *msg = NULL;
    size_t len = 0;
    int op = 0;
    REQUIRE(wsc_recv(&v, &msg, &len, &op, 5000) == 1); /* its first snapshot */
    free(msg);
    long rss0 = srv_rss_kb(&s);

    enum { N = 12, KINDS = 5 };
    char req[512];
    int rl = snprintf(req, sizeof req,
                      "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n",
                      target);
    static const char *kinds[KINDS] = {
        "stalled upgrade", "trickled upgrade", "browser stalled in a frame header",
        "browser stalled in a frame's payload", "monitor stalled in a frame"};
    int fds[KINDS][N];
    double closed_at[KINDS][N];
    wsc_t held[3][N];
    for (int i = 0; i < N; i++) {
        fds[0][i] = srv_connect(&(srv_t){.port = s.ws_port});
        REQUIRE(fds[0][i] >= 0);
        CHECK(send(fds[0][i], req, 40, MSG_NOSIGNAL) == 40);
        fds[1][i] = srv_connect(&(srv_t){.port = s.ws_port});
        REQUIRE(fds[1][i] >= 0);
        REQUIRE(wsc_connect(&held[0][i], s.ws_port, target, 0) == 0);
        CHECK(wsc_send_raw(&held[0][i], "\x82\xfe\x01", 3) == 0); /* 3 of 8 header bytes */
        REQUIRE(wsc_connect(&held[1][i], s.ws_port, target, 0) == 0);
        /* a whole header (masked, 300 bytes) and 10 bytes of its payload */
        CHECK(wsc_send_raw(&held[1][i],
                           "\x82\xfe\x01\x2c\x11\x22\x33\x44"
                           "abcdefghij",
                           18) == 0);
        REQUIRE(wsc_connect(&held[2][i], s.ws_port, "/monitor", 0) == 0);
        CHECK(wsc_send_raw(&held[2][i], "\x82\xfe\x00\x40\x01\x02", 6) == 0);
        for (int k = 2; k < KINDS; k++)
            fds[k][i] = held[k - 2][i].fd;
    }
    for (int k = 0; k < KINDS; k++)
        for (int i = 0; i < N; i++)
            closed_at[k][i] = -1;
    double t0 = now_s();
    size_t sent = 0;
    int open = KINDS * N;
    bool new_viewer_checked = false;
    while ((open || now_s() - t0 < 6) && now_s() - t0 < 12) { /* 6 s: 3 timeouts */
        /* the trickle: a byte every 100 ms, never a whole request in this time */
        for (int i = 0; i < N && sent < (size_t)rl - 1; i++)
            if (closed_at[1][i] < 0) send(fds[1][i], req + sent, 1, MSG_NOSIGNAL);
        sent++;
        for (int k = 0; k < KINDS; k++)
            for (int i = 0; i < N; i++)
                if (closed_at[k][i] < 0 && peer_closed(fds[k][i])) {
                    closed_at[k][i] = now_s() - t0;
                    open--;
                }
        /* the good viewer answers the server's pings */
        while (wsc_recv(&v, &msg, &len, &op, 0) == 1)
            free(msg);
        if (!new_viewer_checked && now_s() - t0 > 1) { /* a new viewer is served meanwhile */
            wsc_t w;
            REQUIRE(wsc_connect(&w, s.ws_port, target, 0) == 0);
            CHECK(wsc_recv(&w, &msg, &len, &op, 3000) == 1);
            free(msg);
            wsc_close(&w);
            still_serving(&s, __LINE__);
            new_viewer_checked = true;
        }
        usleep(100000);
    }
    for (int k = 0; k < KINDS; k++)
        for (int i = 0; i < N; i++)
            CHECKF(closed_at[k][i] >= 0 && closed_at[k][i] < 8, "%s %d: closed after %.1f s",
                   kinds[k], i, closed_at[k][i]);
    for (int i = 0; i < N; i++) {
        close(fds[0][i]);
        close(fds[1][i]);
        for (int k = 0; k < 3; k++)
            wsc_close(&held[k][i]);
    }
    /* the viewer outlived the timeout several times over and is still served: it subscribes
     * to another diagram and gets its snapshot */
    while (wsc_recv(&v, &msg, &len, &op, 0) == 1)
        free(msg);
    CHECKF(v.close_code == 0, "the good viewer was closed (%d)", v.close_code);
    wsmsg_str_t gc = {"gc", 2};
    wsmsg_t sub = {.type = WSMSG_SUBSCRIBE, .u.subscribe = {.diagrams = &gc, .ndiagrams = 1}};
    wsmsg_buf_t b;
    wsmsg_buf_init(&b);
    REQUIRE(wsmsg_encode(&sub, &b) == 0);
    CHECK(wsc_send(&v, 2, b.p, b.len) == 0);
    wsmsg_buf_dispose(&b);
    CHECK(wsc_recv(&v, &msg, &len, &op, 5000) == 1);
    free(msg);
    wsc_close(&v);
    still_serving(&s, __LINE__);
    long rss1 = srv_rss_kb(&s);
    CHECKF(rss0 > 0 && rss1 < rss0 + 32 * 1024, "RSS grew from %ld to %ld KiB", rss0, rss1);
    free(sid);
    CHECK(srv_stop(&s) == 0);
}

/* ---- a scripted monitor ---------------------------------------------------------------------- */

/* A log cut the way a monitor sends it: the header, then units at event boundaries. Unit 1
 * ends and unit 3 starts where a block does, so unit 2 is exactly block 1 (the unit the script
 * skips: the stream without it is still an eventlog); the other blocks are cut every 16 KiB. */
typedef struct stream {
    uint8_t *log;
    size_t n, hdr;
    size_t at[64]; /* unit starts; at[nunits] = n */
    int nunits;
    int blocks;
    size_t block[3]; /* where the first three blocks start */
} stream_t;

static int on_event_cut(void *ctx, const evlog_event_t *ev)
{
    stream_t *st = ctx;
    if (st->nunits >= 62) return 0;
    if (ev->type == EVLOG_BLOCK_MARKER) {
        if (st->blocks < 3) st->block[st->blocks] = ev->offset;
        if (!st->blocks++) st->hdr = ev->offset;
        st->at[st->nunits++] = ev->offset;
        return 0;
    }
    size_t last = st->at[st->nunits - 1];
    if (st->blocks == 1 && st->nunits == 1 && ev->offset > last) /* unit 1: block 0's rest */
        st->at[st->nunits++] = ev->offset;
    else if (st->blocks >= 3 && ev->offset >= last + 16384)
        st->at[st->nunits++] = ev->offset;
    return 0;
}

static void stream_load(stream_t *st, const char *rel)
{
    memset(st, 0, sizeof *st);
    st->log = tu_read_file(tu_data(rel), &st->n);
    REQUIRE(st->log);
    evlog_sink_t sink = {.on_event = on_event_cut, .ctx = st};
    evlog_t d;
    REQUIRE(evlog_init(&d, &sink) == 0);
    REQUIRE(evlog_feed(&d, st->log, st->n) == 0);
    evlog_dispose(&d);
    st->at[st->nunits] = st->n;
}

/* One monitor link seen from the monitor's end: the test is the WebSocket client (a pushed
 * link: frames go out masked) or the server (a dialled link: frames go out plain). */
typedef struct peer {
    int fd;
    bool client;
    uint8_t *buf;
    size_t len, cap;
    int close_code; /* 0 while open; 1006 when the TCP connection ended without a close */
    uint64_t seq;
    /* Subscribes received while waiting for another program's */
    struct {
        char prog[32];
        uint64_t offset;
    } subs[8];
    int nsubs;
} peer_t;

static void peer_close(peer_t *p)
{
    if (p->fd >= 0) close(p->fd);
    free(p->buf);
    memset(p, 0, sizeof *p);
    p->fd = -1;
}

static int peer_send(peer_t *p, const wire_frame_t *f)
{
    uint8_t out[WIRE_MAX_FRAME + 16];
    uint8_t *body = out + 14;
    int n = wire_encode(f, body, WIRE_MAX_FRAME);
    if (n < 0) return -1;
    size_t hl = 2;
    uint8_t h[14] = {0x82};
    if (n < 126)
        h[1] = (uint8_t)n;
    else
        h[1] = 126, h[2] = (uint8_t)(n >> 8), h[3] = (uint8_t)n, hl = 4;
    if (p->client) {
        h[1] |= 0x80;
        memcpy(h + hl, "\x5a\xa5\x3c\xc3", 4);
        for (int i = 0; i < n; i++)
            body[i] ^= h[hl + (size_t)i % 4];
        hl += 4;
    }
    memcpy(body - hl, h, hl);
    size_t total = hl + (size_t)n;
    const uint8_t *q = body - hl;
    while (total) {
        ssize_t w = send(p->fd, q, total, MSG_NOSIGNAL);
        if (w <= 0) return -1;
        q += w;
        total -= (size_t)w;
    }
    return 0;
}

/* Receives one wire frame into out (WIRE_MAX_FRAME bytes): 1 with *n set, 0 when the link was
 * closed (close_code set), -1 on timeout. Pings are answered. */
static int peer_recv(peer_t *p, uint8_t *out, size_t *n, int timeout_ms)
{
    double until = now_s() + timeout_ms / 1e3;
    for (;;) {
        if (p->len >= 2) {
            size_t m = p->buf[1] & 0x7f, hl = 2;
            bool masked = p->buf[1] & 0x80;
            if (m == 126) hl = 4;
            if (m == 127) hl = 10;
            if (p->len >= hl + (masked ? 4 : 0)) {
                if (m == 126) m = (size_t)p->buf[2] << 8 | p->buf[3];
                if (m == 127)
                    for (int i = 0; i < 8; i++)
                        m = (i ? m << 8 : 0) | p->buf[2 + i];
                const uint8_t *key = p->buf + hl;
                if (masked) hl += 4;
                if (p->len >= hl + m) {
                    uint8_t *pl = p->buf + hl;
                    for (size_t i = 0; masked && i < m; i++)
                        pl[i] ^= key[i % 4];
                    int opc = p->buf[0] & 0x0f, rc = -2;
                    if (opc == 8) {
                        p->close_code = m >= 2 ? pl[0] << 8 | pl[1] : 1005;
                        rc = 0;
                    } else if (opc == 9) {
                        uint8_t pong[2] = {0x8a, 0};
                        (void)!send(p->fd, pong, 2, MSG_NOSIGNAL);
                    } else if (opc == 2 && m <= WIRE_MAX_FRAME) {
                        memcpy(out, pl, m);
                        *n = m;
                        rc = 1;
                    }
                    memmove(p->buf, p->buf + hl + m, p->len - hl - m);
                    p->len -= hl + m;
                    if (rc != -2) return rc;
                    continue;
                }
            }
        }
        int left = (int)((until - now_s()) * 1e3);
        struct pollfd pf = {.fd = p->fd, .events = POLLIN};
        if (left <= 0 || poll(&pf, 1, left) <= 0) return -1;
        if (p->cap - p->len < 65536) {
            p->cap = p->cap * 2 + 131072;
            p->buf = realloc(p->buf, p->cap);
            REQUIRE(p->buf);
        }
        ssize_t k = recv(p->fd, p->buf + p->len, p->cap - p->len, 0);
        if (k <= 0) {
            p->close_code = 1006;
            return 0;
        }
        p->len += (size_t)k;
    }
}

/* The next frame of `kind` (others, such as Acks, are skipped); false when none came. */
/* How long a frame the test waits for may take: generous, since on a machine whose cores are
 * busy (a build beside the tests) the server's answers were seen to take over 5 s. */
#define PEER_WAIT_MS 20000

static bool peer_expect(peer_t *p, wire_kind_t kind, wire_frame_t *f, uint8_t *buf)
{
    size_t n;
    while (peer_recv(p, buf, &n, PEER_WAIT_MS) == 1)
        if (wire_decode(f, buf, n) == 0 && f->kind == kind) return true;
    return false;
}

static int peer_send_kind(peer_t *p, wire_kind_t kind, const char *prog, const uint8_t *data,
                          size_t off, size_t len, uint32_t flags)
{
    wire_frame_t f = {.kind = kind,
                      .program = wire_cstr(prog),
                      .offset = off,
                      .seq = ++p->seq,
                      .flags = flags,
                      .data = {data ? data + off : NULL, (uint32_t)len}};
    return peer_send(p, &f);
}

/* Sends bytes [from, to) of the stream as one unit in frames of at most WIRE_MAX_DATA. */
static void send_unit(peer_t *p, const char *prog, const stream_t *st, size_t from, size_t to)
{
    for (size_t off = from; off < to;) {
        size_t k = to - off < WIRE_MAX_DATA ? to - off : WIRE_MAX_DATA;
        uint32_t fl =
            (off == from ? WIRE_FLAG_BLOCK_START : 0) | (off + k == to ? WIRE_FLAG_BLOCK_END : 0);
        CHECK(peer_send_kind(p, WIRE_DATA, prog, st->log, off, k, fl) == 0);
        off += k;
    }
}

static void send_programs(peer_t *p, const char *const *progs, int n)
{
    wire_program_t list[4];
    for (int i = 0; i < n; i++)
        list[i] = (wire_program_t){.id = wire_cstr(progs[i]), .name = wire_cstr(progs[i])};
    wire_frame_t f = {.kind = WIRE_PROGRAMS, .progs = list, .nprogs = (uint32_t)n};
    CHECK(peer_send(p, &f) == 0);
}

/* How a test opens the link again (the server redials, or the monitor pushes again). */
typedef struct linker {
    const srv_t *s;
    bool dialled;
    int lfd; /* dialled: the fake monitor's listening socket */
} linker_t;

/* Accepts the server's dial and answers its upgrade (RFC 6455 accept key). */
static bool accept_dial(const linker_t *lk, peer_t *p)
{
    struct pollfd pf = {.fd = lk->lfd, .events = POLLIN};
    if (poll(&pf, 1, 10000) <= 0) return false;
    p->fd = accept(lk->lfd, NULL, NULL);
    if (p->fd < 0) return false;
    char req[4096];
    size_t got = 0;
    while (got < sizeof req - 1 && !memmem(req, got, "\r\n\r\n", 4)) {
        struct pollfd q = {.fd = p->fd, .events = POLLIN};
        if (poll(&q, 1, 5000) <= 0) return false;
        ssize_t k = recv(p->fd, req + got, sizeof req - 1 - got, 0);
        if (k <= 0) return false;
        got += (size_t)k;
    }
    req[got] = 0;
    const char *k = strcasestr(req, "Sec-WebSocket-Key:");
    if (!k) return false;
    char key[128];
    if (sscanf(k + 18, " %60s", key) != 1) return false;
    strcat(key, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)key, strlen(key), md);
    char acc[64];
    sodium_bin2base64(acc, sizeof acc, md, sizeof md, sodium_base64_VARIANT_ORIGINAL);
    char resp[512];
    int rl = snprintf(resp, sizeof resp,
                      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
                      "Upgrade\r\nSec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: "
                      "liveprof-monitor\r\n\r\n",
                      acc);
    return send(p->fd, resp, (size_t)rl, MSG_NOSIGNAL) == rl;
}

/* Opens a link and exchanges Hellos (the dialled side receives the server's first). */
static void link_open(const linker_t *lk, peer_t *p)
{
    memset(p, 0, sizeof *p);
    p->fd = -1;
    uint8_t buf[WIRE_MAX_FRAME];
    wire_frame_t f, hello = {.kind = WIRE_HELLO,
                             .version = WIRE_VERSION,
                             .token = wire_cstr(lk->dialled ? NULL : lk->s->admin),
                             .text = wire_cstr("scripted-monitor")};
    if (lk->dialled) {
        REQUIRE(accept_dial(lk, p));
        REQUIRE(peer_expect(p, WIRE_HELLO, &f, buf));
        REQUIRE(peer_send(p, &hello) == 0);
    } else {
        wsc_t c;
        REQUIRE(wsc_connect(&c, lk->s->ws_port, "/monitor", 0) == 0);
        p->fd = c.fd, p->buf = c.buf, p->len = c.len, p->cap = c.cap, p->client = true;
        REQUIRE(peer_send(p, &hello) == 0);
        REQUIRE(peer_expect(p, WIRE_HELLO, &f, buf));
    }
}

/* Waits for the Subscribe of `prog`, which may have come before others; returns its offset (fails
 * the test without one). */
static uint64_t subscribed(peer_t *p, const char *prog)
{
    for (int i = 0; i < p->nsubs; i++)
        if (!strcmp(p->subs[i].prog, prog)) {
            uint64_t off = p->subs[i].offset;
            p->subs[i] = p->subs[--p->nsubs];
            return off;
        }
    uint8_t buf[WIRE_MAX_FRAME];
    wire_frame_t f;
    while (peer_expect(p, WIRE_SUBSCRIBE, &f, buf)) {
        if (f.program.len == strlen(prog) && !memcmp(f.program.p, prog, f.program.len))
            return f.offset;
        if (p->nsubs < (int)(sizeof p->subs / sizeof p->subs[0]) &&
            f.program.len < sizeof p->subs[0].prog) {
            memcpy(p->subs[p->nsubs].prog, f.program.p, f.program.len);
            p->subs[p->nsubs].prog[f.program.len] = 0;
            p->subs[p->nsubs++].offset = f.offset;
        }
    }
    test_fail(__FILE__, __LINE__, "no Subscribe for %s", prog);
    test_abort();
}

/* Waits for the link's error: the dialled connection's status names it, a pushed monitor's is
 * in the server's log (the nth time). */
static bool error_said(const linker_t *lk, int conn, const char *text, int nth)
{
    char path[128], log[600];
    snprintf(path, sizeof path, "/api/connections/%d/status", conn);
    snprintf(log, sizeof log, "%s.log", lk->s->data);
    for (int i = 0; i < 250; i++) {
        bool said = false;
        if (lk->dialled) {
            httpc_resp_t r;
            said = srv_req(lk->s, "GET", path, lk->s->admin, NULL, NULL, 0, &r) == 200 &&
                   strstr(r.body, text);
            httpc_resp_dispose(&r);
        } else
            said = file_count(log, text) >= nth;
        if (said) return true;
        usleep(20000);
    }
    return false;
}

/* The session of `name` settles done with exactly the totals and events of `liveprof analyze`
 * and `dump` over `want` (the bytes the good frames gave). */
static void check_session(const srv_t *s, const char *name, const uint8_t *want, size_t n)
{
    char sid[33] = "", path[700], cmd[2048];
    for (int i = 0; i < 250 && !sid[0]; i++) {
        srv_session_named(s, name, sid, NULL, 0, NULL);
        if (!sid[0]) usleep(20000);
    }
    REQUIRE(sid[0]);
    char *st = srv_wait_session(s, sid, s->admin, 60);
    CHECKF(st && !strcmp(st, "done"), "%s: state %s", name, st ? st : "(timeout)");
    free(st);
    snprintf(path, sizeof path, "%s/%s.eventlog", tu_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    REQUIRE(f && fwrite(want, 1, n, f) == n);
    fclose(f);
    snprintf(cmd, sizeof cmd, "mkdir -p %s/an && %s analyze %s --totals -o %s/an > /dev/null",
             tu_tmpdir(), tu_liveprof(), path, tu_tmpdir());
    REQUIRE(tu_run(cmd, NULL, NULL) == 0);
    snprintf(path, sizeof path, "%s/an/%s.totals.txt", tu_tmpdir(), name);
    size_t wn = 0;
    uint8_t *totals = tu_read_file(path, &wn);
    REQUIRE(totals);
    httpc_resp_t r;
    snprintf(path, sizeof path, "/api/sessions/%s/totals.txt", sid);
    CHECK(srv_req(s, "GET", path, s->admin, NULL, NULL, 0, &r) == 200);
    CHECKF(r.len == wn && !memcmp(r.body, totals, wn), "%s: totals differ:\n%s\nvs analyze:\n%s",
           name, r.body, (char *)totals);
    httpc_resp_dispose(&r);
    free(totals);
    /* every byte the good frames gave, no other: received, and ingested once durable */
    snprintf(path, sizeof path, "/api/sessions/%s", sid);
    bool all = false;
    for (int i = 0; i < 250 && !all; i++) {
        CHECK(srv_req(s, "GET", path, s->admin, NULL, NULL, 0, &r) == 200);
        CHECKF(srv_json_int(r.body, "bytes_received") == (long long)n, "%s: %s", name, r.body);
        all = srv_json_int(r.body, "bytes_ingested") == (long long)n;
        if (!all && i == 249) test_fail(__FILE__, __LINE__, "%s: %s", name, r.body);
        httpc_resp_dispose(&r);
        if (!all) usleep(20000);
    }
}

/* The script, the same on both kinds of link. Program "early" sends a unit before its header
 * (ignored with an error; the header then starts it, and it ends whole). Program "bad": its
 * header and first unit, then replays of both, a unit overlapping what is held, a gap
 * backwards (all ignored: no duplicate); a unit whose second frame goes backwards, and one
 * whose second frame skips ahead (each closes the link with a clear error; the monitor comes
 * back and is asked for exactly the next byte the session lacks); then a unit skipping ahead
 * (recorded as a gap), the skipped unit too late (ignored), the rest and Bye. Meanwhile a good
 * monitor `good` (pushed links only) streams the whole log, and HTTP is served. */
static void run_script(const linker_t *lk, int conn, const stream_t *st, peer_t *good)
{
    const srv_t *s = lk->s;
    REQUIRE(st->nunits >= 5 && st->blocks >= 3);
    REQUIRE(st->at[0] == st->block[0] && st->at[2] == st->block[1] && st->at[3] == st->block[2]);
    const size_t *at = st->at;
    peer_t p;
    long rss0 = srv_rss_kb(s);
    link_open(lk, &p);
    const char *progs[] = {"bad", "early"};
    send_programs(&p, progs, 2);
    CHECK(subscribed(&p, progs[0]) == 0);
    CHECK(subscribed(&p, progs[1]) == 0);
    /* early: data before the header */
    send_unit(&p, "early", st, at[0], at[1]);
    CHECK(error_said(lk, conn, "program early: data or a gap before its header", 1));
    CHECK(peer_send_kind(&p, WIRE_HEADER, "early", st->log, 0, st->hdr, 0) == 0);
    for (int u = 0; u < st->nunits; u++)
        send_unit(&p, "early", st, at[u], at[u + 1]);
    CHECK(peer_send_kind(&p, WIRE_BYE, "early", NULL, 0, 0, 0) == 0);
    /* bad: header, unit 0 in two frames */
    CHECK(peer_send_kind(&p, WIRE_HEADER, "bad", st->log, 0, st->hdr, 0) == 0);
    size_t mid = at[0] + (at[1] - at[0]) / 2;
    CHECK(peer_send_kind(&p, WIRE_DATA, "bad", st->log, at[0], mid - at[0],
                         WIRE_FLAG_BLOCK_START) == 0);
    CHECK(peer_send_kind(&p, WIRE_DATA, "bad", st->log, mid, at[1] - mid, WIRE_FLAG_BLOCK_END) ==
          0);
    /* a Data frame without its data field: nothing to take */
    CHECK(peer_send_kind(&p, WIRE_DATA, "bad", NULL, at[1], 0, 0) == 0);
    /* replays (seq going backwards too): the unit, the header, the unit's last frame alone */
    p.seq = 1;
    send_unit(&p, "bad", st, at[0], at[1]);
    CHECK(peer_send_kind(&p, WIRE_HEADER, "bad", st->log, 0, st->hdr, 0) == 0);
    CHECK(peer_send_kind(&p, WIRE_DATA, "bad", st->log, mid, at[1] - mid, WIRE_FLAG_BLOCK_END) ==
          0);
    /* overlapping what is held: only the new bytes (unit 1) are taken */
    send_unit(&p, "bad", st, mid, at[2]);
    /* a gap backwards, over bytes already held */
    wire_frame_t g = {.kind = WIRE_GAP, .program = wire_cstr("bad"), .offset = 0, .length = at[1]};
    CHECK(peer_send(&p, &g) == 0);
    if (good) {
        CHECK(peer_send_kind(good, WIRE_HEADER, "good", st->log, 0, st->hdr, 0) == 0);
        send_unit(good, "good", st, at[0], at[1]);
    }
    still_serving(s, __LINE__);
    /* a unit whose second frame goes backwards, then one whose second frame skips ahead */
    size_t m2 = at[2] + (at[3] - at[2]) / 2;
    const size_t second[2] = {at[2], m2 + 7};
    uint8_t buf[WIRE_MAX_FRAME];
    for (int c = 0; c < 2; c++) {
        CHECK(peer_send_kind(&p, WIRE_DATA, "bad", st->log, at[2], m2 - at[2],
                             WIRE_FLAG_BLOCK_START) == 0);
        CHECK(peer_send_kind(&p, WIRE_DATA, "bad", st->log, second[c], at[3] - second[c],
                             WIRE_FLAG_BLOCK_END) == 0);
        size_t n;
        while (peer_recv(&p, buf, &n, 5000) == 1) {
        }
        CHECKF(lk->dialled ? p.close_code != 0 : p.close_code == 1008,
               "case %d: the link was not closed as it should (%d)", c, p.close_code);
        CHECK(error_said(lk, conn, "data out of order from the monitor", c + 1));
        peer_close(&p);
        still_serving(s, __LINE__);
        if (good) send_unit(good, "good", st, at[1 + c], at[2 + c]);
        link_open(lk, &p);
        send_programs(&p, progs, 1);
        uint64_t off = subscribed(&p, "bad");
        CHECKF(off == at[2], "case %d: subscribed from %llu, the session holds %zu", c,
               (unsigned long long)off, at[2]);
    }
    /* skipping ahead: unit 3 while unit 2 is next (a recorded gap), then unit 2 (ignored) */
    send_unit(&p, "bad", st, at[3], at[4]);
    char lost[128];
    snprintf(lost, sizeof lost, "program bad: %zu bytes lost at offset %zu", at[3] - at[2], at[2]);
    CHECK(lk->dialled || error_said(lk, conn, lost, 1));
    send_unit(&p, "bad", st, at[2], at[3]);
    for (int u = 4; u < st->nunits; u++)
        send_unit(&p, "bad", st, at[u], at[u + 1]);
    CHECK(peer_send_kind(&p, WIRE_BYE, "bad", NULL, 0, 0, 0) == 0);
    if (good) {
        for (int u = 3; u < st->nunits; u++)
            send_unit(good, "good", st, at[u], at[u + 1]);
        CHECK(peer_send_kind(good, WIRE_BYE, "good", NULL, 0, 0, 0) == 0);
    }
    /* the sessions: early and good whole, bad without unit 2 */
    check_session(s, "early", st->log, st->n);
    if (good) check_session(s, "good", st->log, st->n);
    uint8_t *spliced = malloc(st->n);
    memcpy(spliced, st->log, at[2]);
    memcpy(spliced + at[2], st->log + at[3], st->n - at[3]);
    check_session(s, "bad", spliced, st->n - (at[3] - at[2]));
    free(spliced);
    if (lk->dialled) {
        char path[128];
        snprintf(path, sizeof path, "/api/connections/%d/status", conn);
        httpc_resp_t r;
        CHECK(srv_req(s, "GET", path, s->admin, NULL, NULL, 0, &r) == 200);
        json_t *o = json_loadb(r.body, r.len, 0, NULL);
        json_t *arr = json_object_get(o, "programs");
        bool seen = false;
        for (size_t i = 0; i < json_array_size(arr); i++) {
            json_t *x = json_array_get(arr, i);
            if (strcmp(json_string_value(json_object_get(x, "id")), "bad")) continue;
            seen = true;
            CHECKF(json_integer_value(json_object_get(x, "gaps")) == 1 &&
                       json_integer_value(json_object_get(x, "gap_bytes")) ==
                           (json_int_t)(at[3] - at[2]),
                   "%s", r.body);
        }
        CHECKF(seen, "%s", r.body);
        json_decref(o);
        httpc_resp_dispose(&r);
    }
    peer_close(&p);
    still_serving(s, __LINE__);
    long rss1 = srv_rss_kb(s);
    CHECKF(rss0 > 0 && rss1 < rss0 + 64 * 1024, "RSS grew from %ld to %ld KiB", rss0, rss1);
}

TEST(badinput_monitor_frames_pushed)
{
    srv_t s;
    srv_start(&s, NULL, "");
    stream_t st;
    stream_load(&st, "eventlogs/concurrent.eventlog");
    linker_t lk = {.s = &s};
    peer_t good;
    link_open(&lk, &good);
    const char *g[] = {"good"};
    send_programs(&good, g, 1);
    CHECK(subscribed(&good, "good") == 0);
    run_script(&lk, 0, &st, &good);
    peer_close(&good);
    free(st.log);
    CHECK(srv_stop(&s) == 0);
}

TEST(badinput_monitor_frames_dialled)
{
    srv_t s;
    srv_start(&s, NULL, "");
    stream_t st;
    stream_load(&st, "eventlogs/concurrent.eventlog");
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    REQUIRE(bind(lfd, (struct sockaddr *)&a, sizeof a) == 0 && listen(lfd, 4) == 0);
    getsockname(lfd, (struct sockaddr *)&a, &al);
    linker_t lk = {.s = &s, .dialled = true, .lfd = lfd};
    int conn = cap_connect(&s, ntohs(a.sin_port), NULL);
    run_script(&lk, conn, &st, NULL);
    close(lfd);
    free(st.log);
    CHECK(srv_stop(&s) == 0);
}

/* One round of a pushed monitor keeping units open in three programs until the third's first
 * bytes would pass 128 MiB of buffers: the link is closed with a clear error. */
static void units_round(linker_t *lk, srv_t *s, int round)
{
    peer_t p;
    link_open(lk, &p);
    char names[3][16];
    for (int i = 0; i < 3; i++)
        snprintf(names[i], sizeof names[i], "r%d-u%d", round, i + 1);
    const char *progs[] = {names[0], names[1], names[2]};
    send_programs(&p, progs, 3);
    for (int i = 0; i < 3; i++)
        CHECK(subscribed(&p, progs[i]) == 0);
    static uint8_t zeros[WIRE_MAX_DATA];
    const size_t per = (33u << 20) / WIRE_MAX_DATA + 1; /* frames: just over 32 MiB each */
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < per; i++) {
            wire_frame_t f = {.kind = WIRE_DATA,
                              .program = wire_cstr(progs[k]),
                              .offset = 1000 + i * WIRE_MAX_DATA,
                              .seq = ++p.seq,
                              .flags = i ? 0 : WIRE_FLAG_BLOCK_START,
                              .data = {zeros, WIRE_MAX_DATA}};
            REQUIRE(peer_send(&p, &f) == 0);
        }
    /* the third program's first bytes would pass 128 MiB of buffers */
    CHECK(peer_send_kind(&p, WIRE_DATA, progs[2], zeros, 0, 100, WIRE_FLAG_BLOCK_START) == 0);
    uint8_t buf[WIRE_MAX_FRAME];
    size_t n;
    while (peer_recv(&p, buf, &n, 10000) == 1) {
    }
    CHECKF(p.close_code == 1008, "the link was not closed as it should (%d)", p.close_code);
    peer_close(&p);
    still_serving(s, __LINE__);
}

/* The server's RSS once it is below `below` KiB, or after 5 s: the link is torn down on the
 * WebSocket thread after the close reaches the peer. */
static long rss_below(const srv_t *s, long below)
{
    long kb = srv_rss_kb(s);
    for (int i = 0; i < 100 && kb >= below; i++) {
        usleep(50 * 1000);
        kb = srv_rss_kb(s);
    }
    return kb;
}

/* A pushed monitor that keeps units open in several programs cannot make the server hold more
 * than 128 MiB for them: the unit that would pass that closes the link with a clear error, and
 * the memory goes back to the system (units live in mappings of their own), round after round. */
TEST(badinput_monitor_units_bounded)
{
    if (test_skip_slow()) return; /* 66 MiB through the sanitizers' memcpy */
    srv_t s;
    srv_start(&s, NULL, "");
    linker_t lk = {.s = &s};
    long rss0 = srv_rss_kb(&s);
    units_round(&lk, &s, 1);
    CHECK(error_said(&lk, 0, "units in progress over 128 MiB", 1));
    long rss1 = rss_below(&s, rss0 + 48 * 1024);
    units_round(&lk, &s, 2);
    long rss2 = rss_below(&s, rss1 + 8 * 1024);
    CHECKF(rss0 > 0 && rss1 < rss0 + 48 * 1024 && rss2 < rss1 + 8 * 1024,
           "RSS from %ld to %ld, then %ld KiB", rss0, rss1, rss2);
    CHECK(srv_stop(&s) == 0);
}
