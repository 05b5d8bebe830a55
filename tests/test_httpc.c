/* Tests of the HTTP client against a scripted peer in a thread of the test (canned responses),
 * and of `liveprof upload` end to end against an in-test peer that speaks the chunked upload
 * protocol and injects faults (a 409 with expected_offset, a 503, dropped connections). */
#include "test.h"

#include "err.h"
#include "httpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- the scripted peer ---------------------------------------------------------------------- */

#define PEER_BUF (1u << 16)

typedef struct treq {
    char method[16], target[512], head[8192];
    uint8_t *body; /* NULL in head-only mode */
    size_t len;
} treq_t;

enum { A_KEEP, A_CLOSE, A_DROP, A_HANG, A_LINGER }; /* what a canned step does after reading */
typedef struct step {
    int act;
    const char *resp;
} step_t;

enum { F_NONE, F_HALF_REPLY, F_503, F_DROP_AFTER_STORE, F_LOSE, F_413 }; /* upload faults */
typedef struct up {
    uint8_t *data;
    size_t len, put_bytes;
    bool finished;
    int puts, gets, creates, polls, ingesting, create_status;
    int fault[64];   /* by PUT number, from 1 */
    size_t max_body; /* PUT bodies over this get 413 (0: no limit) */
    const char *final_state;
    char create_target[512], put_head[8192];
} up_t;

typedef struct tsrv tsrv_t;
/* Answers one request; returns true to keep the connection. Runs on the peer thread. */
typedef bool (*handler_fn)(tsrv_t *s, int fd, treq_t *r);

struct tsrv {
    int lfd, port;
    pthread_t th;
    atomic_bool stop;
    atomic_int accepts, requests;
    bool head_only;
    handler_fn fn;
    const step_t *steps;
    size_t nsteps, next, last_len;
    char last_head[8192];
    uint8_t *last_body;
    up_t up;
};

static void sput(int fd, const void *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return;
        p = (const char *)p + w;
        n -= (size_t)w;
    }
}

/* recv that gives up when the peer is asked to stop. */
static ssize_t srecv(tsrv_t *s, int fd, void *p, size_t n)
{
    while (!s->stop) {
        struct pollfd pf = {fd, POLLIN, 0};
        int k = poll(&pf, 1, 50);
        if (k > 0) return recv(fd, p, n, 0);
        if (k < 0 && errno != EINTR) return -1;
    }
    return -1;
}

/* Reads one request (buf holds `*have` bytes read ahead); false at the end of the connection. */
static bool read_req(tsrv_t *s, int fd, char *buf, size_t *have, treq_t *r)
{
    char *end;
    buf[*have] = 0;
    while (!(end = strstr(buf, "\r\n\r\n"))) {
        if (*have >= PEER_BUF - 1) return false;
        ssize_t k = srecv(s, fd, buf + *have, PEER_BUF - 1 - *have);
        if (k <= 0) return false;
        *have += (size_t)k;
        buf[*have] = 0;
    }
    size_t hl = (size_t)(end - buf) + 4;
    memset(r, 0, sizeof *r);
    snprintf(r->head, sizeof r->head, "%.*s", (int)hl, buf);
    if (sscanf(r->head, "%15s %511s", r->method, r->target) != 2) return false;
    const char *cl = strcasestr(r->head, "\ncontent-length:");
    r->len = cl ? strtoull(cl + 16, NULL, 10) : 0;
    memmove(buf, buf + hl, *have - hl);
    *have -= hl;
    if (s->head_only) return true;
    r->body = malloc(r->len + 1);
    size_t got = *have < r->len ? *have : r->len;
    memcpy(r->body, buf, got);
    memmove(buf, buf + got, *have - got);
    *have -= got;
    while (got < r->len) {
        ssize_t k = srecv(s, fd, r->body + got, r->len - got);
        if (k <= 0) return free(r->body), false;
        got += (size_t)k;
    }
    return true;
}

static void *peer_main(void *arg)
{
    tsrv_t *s = arg;
    char *buf = malloc(PEER_BUF);
    while (!s->stop) {
        struct pollfd pf = {s->lfd, POLLIN, 0};
        int fd = poll(&pf, 1, 50) > 0 ? accept(s->lfd, NULL, NULL) : -1;
        if (fd < 0) continue;
        s->accepts++;
        size_t have = 0;
        treq_t r;
        while (read_req(s, fd, buf, &have, &r)) {
            s->requests++;
            bool keep = s->fn(s, fd, &r);
            free(r.body);
            if (!keep) break;
        }
        close(fd);
    }
    free(buf);
    return NULL;
}

static void peer_start(tsrv_t *s, handler_fn fn, bool v6)
{
    s->fn = fn;
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr *a = v6 ? (struct sockaddr *)&a6 : (struct sockaddr *)&a4;
    socklen_t sl = v6 ? sizeof a6 : sizeof a4;
    s->lfd = socket(a->sa_family, SOCK_STREAM, 0);
    REQUIRE(s->lfd >= 0 && bind(s->lfd, a, sl) == 0 && listen(s->lfd, 8) == 0);
    REQUIRE(getsockname(s->lfd, a, &sl) == 0);
    s->port = ntohs(v6 ? a6.sin6_port : a4.sin_port);
    REQUIRE(pthread_create(&s->th, NULL, peer_main, s) == 0);
}

static void peer_stop(tsrv_t *s)
{
    s->stop = true;
    pthread_join(s->th, NULL);
    close(s->lfd);
}

/* Plays the canned steps in order, remembering the last request. */
static bool canned(tsrv_t *s, int fd, treq_t *r)
{
    memcpy(s->last_head, r->head, sizeof s->last_head);
    free(s->last_body);
    s->last_body = r->body;
    s->last_len = r->len;
    r->body = NULL;
    if (s->next >= s->nsteps) return false;
    const step_t *st = &s->steps[s->next++];
    while (st->act == A_HANG && !s->stop)
        usleep(20000);
    if (st->act == A_DROP || st->act == A_HANG) return false;
    sput(fd, st->resp, strlen(st->resp));
    if (st->act == A_LINGER) { /* a polite server: stop writing, drain what the client sends */
        char sink[4096];
        shutdown(fd, SHUT_WR);
        while (srecv(s, fd, sink, sizeof sink) > 0) {
        }
    }
    return st->act == A_KEEP;
}

static httpc_t *client_for(const tsrv_t *s, const char *host, const char *path)
{
    char url[128], err[256];
    snprintf(url, sizeof url, "http://%s:%d%s", host, s->port, path);
    httpc_t *h = httpc_create(url, err, sizeof err);
    if (!h) test_fail(__FILE__, __LINE__, "httpc_create(%s): %s", url, err);
    REQUIRE(h);
    httpc_set_timeouts(h, 2000, 5000);
    return h;
}

/* Starts a peer on 127.0.0.1 that plays `n` canned steps; returns a client for it. */
static httpc_t *canned_start(tsrv_t *s, const step_t *steps, size_t n)
{
    s->steps = steps;
    s->nsteps = n;
    peer_start(s, canned, false);
    return client_for(s, "127.0.0.1", "");
}

static void canned_end(tsrv_t *s, httpc_t *h)
{
    httpc_destroy(h);
    peer_stop(s);
    free(s->last_body);
}

static int get(httpc_t *h, httpc_resp_t *r)
{
    return httpc_request(h, "GET", "/x", NULL, NULL, 0, r);
}

/* GETs /x and checks the status, the body and whether the server ends the connection. */
static void expect(httpc_t *h, int status, const char *body, bool close, int line)
{
    httpc_resp_t r;
    int rc = get(h, &r);
    if (rc || r.status != status || strcmp(r.body, body) || r.close != close)
        test_fail(__FILE__, line, "got %s %d '%s' close %d (%s)", lp_errname(rc), r.status,
                  r.body ? r.body : "", r.close, httpc_error(h));
    httpc_resp_dispose(&r);
}
#define EXPECT(h, status, body, close) expect(h, status, body, close, __LINE__)
#define OK200(body) "HTTP/1.1 200 OK\r\nContent-Length: " #body "\r\n\r\n"

/* ---- client tests --------------------------------------------------------------------------- */

TEST(httpc_url_parse)
{
    char err[256];
    const char *good[] = {"http://example.com", "http://127.0.0.1:8080/", "http://[::1]:9/base/",
                          "HTTP://h:65535/a/b"};
    const char *bad[] = {"https://x",   "ftp://x",        "http://",      "http://:80",
                         "http://h:0",  "http://h:65536", "http://h:12x", "http://[::1",
                         "http://u@h/", "http://h/p?q=1", "http://h h/",  "http://h:"};
    for (size_t i = 0; i < 4 + sizeof bad / sizeof *bad; i++) {
        const char *url = i < 4 ? good[i] : bad[i - 4];
        err[0] = 0;
        httpc_t *h = httpc_create(url, err, sizeof err);
        CHECKF(i < 4 ? h != NULL : (!h && err[0]), "%s: '%s'", url, err);
        httpc_destroy(h);
    }
    CHECK(!httpc_create("https://x", err, sizeof err) && strstr(err, "https is not supported"));
    httpc_destroy(NULL);
}

TEST(httpc_url_encode)
{
    char b[64];
    CHECK(httpc_url_encode("a b/c?d=\xc3\xa9~_.-Z9", b, sizeof b) == 28);
    CHECK(!strcmp(b, "a%20b%2Fc%3Fd%3D%C3%A9~_.-Z9"));
    CHECK(httpc_url_encode("abc", b, 4) == 3 && !strcmp(b, "abc"));
    CHECK(httpc_url_encode("abc", b, 3) == LP_ERANGE);
    CHECK(httpc_url_encode("a&", b, 4) == LP_ERANGE);
    CHECK(httpc_url_encode("", b, 1) == 0 && b[0] == 0);
}

TEST(httpc_content_length)
{
    static const step_t steps[] = {{A_KEEP, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                            "content-length:  11 \r\n\r\n{\"a\":\"bc\"}\n"}};
    tsrv_t s = {.steps = steps, .nsteps = 1};
    peer_start(&s, canned, false);
    httpc_t *h = client_for(&s, "127.0.0.1", "/base/");
    const char *hdrs[] = {"Authorization: Bearer tok", NULL};
    httpc_resp_t r;
    REQUIRE(httpc_request(h, "GET", "/api/x?y=1", hdrs, NULL, 0, &r) == 0);
    CHECK(r.status == 200 && r.len == 11 && r.content_length == 11 && !r.close);
    CHECK(!strcmp(r.content_type, "application/json") && !strcmp(r.body, "{\"a\":\"bc\"}\n"));
    httpc_resp_dispose(&r);
    canned_end(&s, h);
    char host[64];
    snprintf(host, sizeof host, "\r\nHost: 127.0.0.1:%d\r\n", s.port);
    CHECKF(!strncmp(s.last_head, "GET /base/api/x?y=1 HTTP/1.1\r\n", 30), "%s", s.last_head);
    CHECK(strstr(s.last_head, host) && strstr(s.last_head, "\r\nAuthorization: Bearer tok\r\n"));
    CHECK(!strcasestr(s.last_head, "content-length"));
}

static uint64_t progress_calls, progress_last, progress_total;
static void on_progress(void *ctx, uint64_t sent, uint64_t total)
{
    (void)ctx;
    CHECK(sent > progress_last && sent <= total);
    progress_calls++;
    progress_last = sent;
    progress_total = total;
}

TEST(httpc_post_body)
{
    static const step_t steps[] = {{A_KEEP, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"}};
    tsrv_t s = {0};
    httpc_t *h = canned_start(&s, steps, 1);
    size_t n = 3000000;
    uint8_t *body = malloc(n);
    for (size_t i = 0; i < n; i++)
        body[i] = (uint8_t)(i * 7 + i / 251);
    httpc_set_progress(h, on_progress, NULL);
    httpc_resp_t r;
    REQUIRE(httpc_request(h, "PUT", "/up", NULL, body, n, &r) == 0);
    CHECK(r.status == 201 && r.len == 0 && r.body && r.body[0] == 0);
    httpc_resp_dispose(&r);
    CHECK(progress_calls >= 1 && progress_last == n && progress_total == n);
    const char *bad_hdr[] = {"X-A: b\r\nX-Injected: 1", NULL};
    CHECK(httpc_request(h, "GET", "/", bad_hdr, NULL, 0, &r) == LP_EARG);
    CHECK(httpc_request(h, "GET", "no-slash", NULL, NULL, 0, &r) == LP_EARG);
    CHECK(httpc_request(h, "get x", "/", NULL, NULL, 0, &r) == LP_EARG);
    httpc_destroy(h);
    peer_stop(&s);
    CHECK(s.last_len == n && memcmp(s.last_body, body, n) == 0);
    CHECK(strstr(s.last_head, "PUT /up HTTP/1.1\r\n") &&
          strstr(s.last_head, "\r\nContent-Length: 3000000\r\n"));
    free(body);
    free(s.last_body);
}

/* A body sent from a file (sendfile): the bytes from the offset asked, the progress, keep-alive;
 * a file that ends before the body is LP_EIO with the shortfall in the error, and the next
 * request opens a new connection. */
TEST(httpc_put_file_body)
{
    static const step_t steps[] = {{A_KEEP, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"},
                                   {A_KEEP, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"},
                                   {A_KEEP, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}};
    tsrv_t s = {0};
    httpc_t *h = canned_start(&s, steps, 3);
    size_t n = 3000000, from = 12345;
    uint8_t *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (uint8_t)(i * 13 + i / 509);
    int fd = tu_temp_file("body.bin", data, n);
    progress_calls = 0;
    progress_last = 0;
    httpc_set_progress(h, on_progress, NULL);
    httpc_resp_t r;
    REQUIRE(httpc_request_file(h, "PUT", "/up", NULL, fd, from, n - from, &r) == 0);
    CHECK(r.status == 201);
    httpc_resp_dispose(&r);
    CHECK(progress_calls >= 1 && progress_last == n - from && progress_total == n - from);
    httpc_set_progress(h, NULL, NULL);
    REQUIRE(httpc_request_file(h, "PUT", "/small", NULL, fd, 7, 10, &r) == 0);
    CHECK(r.status == 200 && r.len == 2);
    httpc_resp_dispose(&r);
    CHECK(httpc_connections(h) == 1);
    CHECK(httpc_request_file(h, "PUT", "/past", NULL, fd, n - 100, 1000, &r) == LP_EIO);
    CHECKF(strstr(httpc_error(h), "ended 900 bytes before"), "%s", httpc_error(h));
    CHECK(httpc_request_file(h, "PUT", "/nofile", NULL, -1, 0, 10, &r) == LP_EARG);
    close(fd);
    httpc_destroy(h);
    peer_stop(&s);
    CHECK(s.last_len == 10 && memcmp(s.last_body, data + 7, 10) == 0);
    CHECK(strstr(s.last_head, "PUT /small HTTP/1.1\r\n") &&
          strstr(s.last_head, "\r\nContent-Length: 10\r\n"));
    free(data);
    free(s.last_body);
}

TEST(httpc_chunked)
{
    static const step_t steps[] = {
        {A_KEEP, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n"
                 "1a\r\n, and twenty-six more byte\r\n0\r\nX-Trailer: t\r\n\r\n"},
        {A_KEEP, "HTTP/1.1 204 No Content\r\n\r\n"}};
    tsrv_t s = {0};
    httpc_t *h = canned_start(&s, steps, 2);
    httpc_resp_t r;
    REQUIRE(get(h, &r) == 0);
    CHECK(r.status == 200 && r.content_length == -1 && !r.close);
    CHECKF(!strcmp(r.body, "hello, and twenty-six more byte") && r.len == 31, "%s", r.body);
    httpc_resp_dispose(&r);
    EXPECT(h, 204, "", false); /* the framing left the connection exactly at the next answer */
    CHECK(httpc_connections(h) == 1);
    canned_end(&s, h);
    CHECK(s.accepts == 1);
}

TEST(httpc_keepalive_reuse)
{
    static const step_t steps[] = {
        {A_KEEP, OK200(1) "a"},
        {A_KEEP, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nb"},
        {A_KEEP, "HTTP/1.1 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\nc"}};
    tsrv_t s = {0};
    httpc_t *h = canned_start(&s, steps, 3);
    EXPECT(h, 200, "a", false);
    EXPECT(h, 200, "b", false);
    httpc_resp_t r;
    CHECK(httpc_request(h, "POST", "/empty", NULL, NULL, 0, &r) == 0 && !strcmp(r.body, "c"));
    httpc_resp_dispose(&r);
    CHECK(httpc_connections(h) == 1);
    canned_end(&s, h);
    CHECK(s.accepts == 1 && s.requests == 3);
    CHECK(strstr(s.last_head, "POST /empty HTTP/1.1\r\n") &&
          strstr(s.last_head, "\r\nContent-Length: 0\r\n"));
}

TEST(httpc_connection_close)
{
    static const step_t steps[] = {
        {A_CLOSE, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\na"},
        {A_CLOSE, "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nb"},
        {A_CLOSE, "HTTP/1.1 200 OK\r\n\r\nuntil the end"},
        {A_KEEP, OK200(1) "d"}};
    tsrv_t s = {0};
    httpc_t *h = canned_start(&s, steps, 4);
    EXPECT(h, 200, "a", true);
    EXPECT(h, 200, "b", true);
    EXPECT(h, 200, "until the end", true); /* close-delimited body */
    EXPECT(h, 200, "d", false);
    CHECK(httpc_connections(h) == 4);
    canned_end(&s, h);
    CHECK(s.accepts == 4);
}

/* A server that closes idle keep-alive connections: the client reconnects, and retries once a
 * request that a reused connection lost before any answer; a fresh connection is not retried. */
TEST(httpc_stale_reconnect)
{
    static const step_t steps[] = {{A_CLOSE, OK200(1) "a"},
                                   {A_KEEP, OK200(1) "b"},
                                   {A_DROP, NULL},
                                   {A_KEEP, OK200(1) "c"},
                                   {A_DROP, NULL}};
    tsrv_t s = {0};
    httpc_t *h = canned_start(&s, steps, 5);
    EXPECT(h, 200, "a", false);
    EXPECT(h, 200, "b", false);
    EXPECT(h, 200, "c", false);
    httpc_resp_t r;
    CHECK(get(h, &r) == LP_ENET && r.body == NULL);
    CHECKF(strstr(httpc_error(h), "closed the connection"), "%s", httpc_error(h));
    canned_end(&s, h);
    CHECK(s.accepts == 4);
}

TEST(httpc_timeout)
{
    static const step_t steps[] = {{A_HANG, NULL}};
    tsrv_t s = {0};
    httpc_t *h = canned_start(&s, steps, 1);
    httpc_set_timeouts(h, 1000, 200);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    httpc_resp_t r;
    CHECK(get(h, &r) == LP_ETIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    CHECKF(el >= 0.19 && el < 1.5, "took %.3f s", el);
    CHECKF(strstr(httpc_error(h), "timed out"), "%s", httpc_error(h));
    canned_end(&s, h);
}

TEST(httpc_malformed)
{
    static const struct {
        const char *resp;
        int want;
    } cases[] = {
        {"garbage\r\n\r\n", LP_EPROTO},
        {"HTTP/1.1 20 OK\r\n\r\n", LP_EPROTO},
        {"HTTP/2.0 200 OK\r\n\r\n", LP_EPROTO},
        {"HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n", LP_EPROTO},
        {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", LP_EPROTO},
        {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", LP_EPROTO},
        {"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", LP_EPROTO},
        {"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", LP_EPROTO},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", LP_EPROTO},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", LP_EPROTO},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", LP_ENET},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffffff\r\n",
         LP_ERANGE},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", LP_EPROTO},
        {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", LP_ENET},
        {"HTTP/1.1 200 OK\r\nContent-Len", LP_ENET},
        {"HTTP/1.1 101 Switching Protocols\r\n\r\n", LP_EPROTO},
        {"", LP_ENET},
        {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 0},
        {"HTTP/1.1 200 OK\nContent-Length: 2\n\nok", 0},
    };
    size_t n = sizeof cases / sizeof *cases;
    step_t steps[32];
    for (size_t i = 0; i < n; i++)
        steps[i] = (step_t){A_CLOSE, cases[i].resp};
    tsrv_t s = {0};
    httpc_t *h = canned_start(&s, steps, n);
    for (size_t i = 0; i < n; i++) {
        httpc_resp_t r;
        int rc = get(h, &r);
        CHECKF(rc == cases[i].want, "case %zu: %s (%s)", i, lp_errname(rc), httpc_error(h));
        CHECKF(rc || r.status == 200, "case %zu: status %d", i, r.status);
        CHECK(rc == 0 || (r.body == NULL && httpc_error(h)[0]));
        httpc_resp_dispose(&r);
    }
    canned_end(&s, h);
}

/* Builds "HTTP/1.1 200 OK" + `lines` headers of `width` bytes + an empty body. */
static char *padded_head(int lines, int width)
{
    char *p = malloc((size_t)lines * ((size_t)width + 12) + 64), *q = p;
    q += sprintf(q, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < lines; i++)
        q += sprintf(q, "X-Pad: %0*d\r\n", width, 0);
    sprintf(q, "Content-Length: 0\r\n\r\n");
    return p;
}

TEST(httpc_oversized_header)
{
    char *big = padded_head(20, 4000), *wide = padded_head(1, 9000), *fine = padded_head(10, 4000);
    step_t steps[] = {{A_CLOSE, big}, {A_CLOSE, wide}, {A_CLOSE, fine}};
    tsrv_t s = {0};
    httpc_t *h = canned_start(&s, steps, 3);
    httpc_resp_t r;
    CHECK(get(h, &r) == LP_EPROTO && strstr(httpc_error(h), "too large"));
    CHECK(get(h, &r) == LP_EPROTO && strstr(httpc_error(h), "too large"));
    EXPECT(h, 200, "", false);
    canned_end(&s, h);
    free(big);
    free(wide);
    free(fine);
}

TEST(httpc_body_cap)
{
    char resp[4][4096], x[1600];
    memset(x, 'x', sizeof x);
    sprintf(resp[0], "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n%.1000s", x);
    sprintf(resp[1], "HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n\r\n%.1001s", x);
    sprintf(resp[2],
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n%.600s\r\n258\r\n", x);
    sprintf(resp[3], "HTTP/1.1 200 OK\r\n\r\n%.1500s", x);
    step_t steps[4];
    for (int i = 0; i < 4; i++)
        steps[i] = (step_t){A_CLOSE, resp[i]};
    tsrv_t s = {0};
    httpc_t *h = canned_start(&s, steps, 4);
    httpc_set_max_body(h, 1000);
    EXPECT(h, 200, resp[0] + strlen(resp[0]) - 1000, false);
    for (int i = 1; i < 4; i++) {
        httpc_resp_t r;
        int rc = get(h, &r);
        CHECKF(rc == LP_ERANGE && strstr(httpc_error(h), "larger than 1000"), "case %d: %s", i,
               httpc_error(h));
    }
    canned_end(&s, h);
}

/* A port nobody listens on: "connection refused"; "localhost" falls back between addresses;
 * an IPv6 literal. */
TEST(httpc_addresses)
{
    tsrv_t dead = {0}, s = {0}, s6 = {0};
    peer_start(&dead, canned, false);
    peer_stop(&dead); /* its port is free now */
    httpc_t *h = client_for(&dead, "127.0.0.1", "");
    httpc_resp_t r;
    CHECK(get(h, &r) == LP_ENET);
    CHECKF(strstr(httpc_error(h), "connection refused"), "%s", httpc_error(h));
    httpc_destroy(h);
    static const step_t steps[] = {{A_KEEP, OK200(2) "ok"}};
    httpc_destroy(canned_start(&s, steps, 1));
    h = client_for(&s, "localhost", "");
    EXPECT(h, 200, "ok", false);
    canned_end(&s, h);
    s6.steps = steps;
    s6.nsteps = 1;
    peer_start(&s6, canned, true);
    h = client_for(&s6, "[::1]", "");
    EXPECT(h, 200, "ok", false);
    canned_end(&s6, h);
    char host[64];
    snprintf(host, sizeof host, "\r\nHost: [::1]:%d\r\n", s6.port);
    CHECK(strstr(s6.last_head, host));
}

/* The server answers 413 after the head and stops reading: the client stops sending and
 * returns the answer instead of a broken pipe. */
TEST(httpc_early_response)
{
    static const step_t steps[] = {
        {A_LINGER, "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 8\r\n"
                   "\r\ntoo big\n"}};
    tsrv_t s = {.head_only = true};
    httpc_t *h = canned_start(&s, steps, 1);
    size_t n = 64u << 20;
    uint8_t *body = calloc(1, n);
    httpc_resp_t r;
    CHECKF(httpc_request(h, "PUT", "/big", NULL, body, n, &r) == 0, "%s", httpc_error(h));
    CHECK(r.status == 413 && r.close && !strcmp(r.body, "too big\n"));
    httpc_resp_dispose(&r);
    canned_end(&s, h);
    free(body);
}

/* A rude server, as the server's HTTP library is: it takes 4 MiB of the body, answers 413 and
 * closes with the rest unread. */
static bool rude_413(tsrv_t *s, int fd, treq_t *r)
{
    (void)r;
    static char sink[1 << 16];
    for (size_t got = 0; got < (4u << 20);) {
        ssize_t k = srecv(s, fd, sink, sizeof sink);
        if (k <= 0) return false;
        got += (size_t)k;
    }
    static const char resp[] = "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n"
                               "Content-Length: 8\r\n\r\ntoo big\n";
    sput(fd, resp, sizeof resp - 1);
    return false;
}

/* The answer of a server that closes with the body unread: the reset breaks the file body's
 * sendfile, and the client still returns the answer that came before it, with SIGPIPE at its
 * default (a broken sendfile would end the process). */
TEST(httpc_early_response_file_body_reset)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL}, old;
    sigemptyset(&dfl.sa_mask);
    REQUIRE(sigaction(SIGPIPE, &dfl, &old) == 0);
    tsrv_t s = {.head_only = true};
    peer_start(&s, rude_413, false);
    httpc_t *h = client_for(&s, "127.0.0.1", "");
    size_t n = 64u << 20;
    uint8_t *data = calloc(1, n);
    int fd = tu_temp_file("big.bin", data, n);
    free(data);
    for (int i = 0; i < 30; i++) {
        httpc_resp_t r;
        CHECKF(httpc_request_file(h, "PUT", "/big", NULL, fd, 0, n, &r) == 0, "%s", httpc_error(h));
        CHECK(r.status == 413 && r.close && r.body && !strcmp(r.body, "too big\n"));
        httpc_resp_dispose(&r);
    }
    close(fd);
    canned_end(&s, h);
    sigaction(SIGPIPE, &old, NULL);
}

/* ---- `liveprof upload` against an in-test upload server ------------------------------------- */

static void reply(int fd, int status, const char *json)
{
    char h[256];
    int n = snprintf(h, sizeof h,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     status, strlen(json), json);
    sput(fd, h, (size_t)n);
}

/* Answers a PUT of the upload, with the fault planned for its number. */
static bool upload_put(up_t *u, int fd, treq_t *r)
{
    char js[128];
    int f = ++u->puts < 64 ? u->fault[u->puts] : F_NONE;
    size_t off = strtoull(r->target + 25, NULL, 10);
    if (u->puts == 1) snprintf(u->put_head, sizeof u->put_head, "%s", r->head);
    if (u->max_body && r->len > u->max_body) f = F_413;
    if (f == F_503 || f == F_413) {
        reply(fd, f == F_503 ? 503 : 413, "{\"error\":\"no\",\"detail\":\"injected\"}");
        return true;
    }
    if (f == F_LOSE) u->len = u->len > 1500 ? u->len - 1500 : 0;
    if (off != u->len) {
        snprintf(js, sizeof js, "{\"error\":\"wrong offset\",\"expected_offset\":%zu}", u->len);
        reply(fd, 409, js);
        return true;
    }
    u->data = realloc(u->data, u->len + r->len + 1);
    memcpy(u->data + u->len, r->body, r->len);
    u->len += r->len;
    u->put_bytes += r->len;
    if (f == F_HALF_REPLY) sput(fd, "HTTP/1.1 200 OK\r\nContent-Le", 27);
    if (f == F_HALF_REPLY || f == F_DROP_AFTER_STORE) return false;
    snprintf(js, sizeof js, "{\"offset\":%zu}", u->len);
    reply(fd, 200, js);
    return true;
}

/* The upload protocol for one upload "up-1" of session "sess-42". */
static bool upload_peer(tsrv_t *s, int fd, treq_t *r)
{
    up_t *u = &s->up;
    char js[128];
    const char *t = r->target;
    bool post = !strcmp(r->method, "POST"), get = !strcmp(r->method, "GET");
    if (post && !strncmp(t, "/api/uploads?", 13)) {
        u->creates++;
        snprintf(u->create_target, sizeof u->create_target, "%s", t);
        if (u->create_status)
            reply(fd, u->create_status, "{\"error\":\"unauthorized\",\"detail\":\"bad token\"}");
        else
            reply(fd, 201, "{\"id\":\"up-1\",\"session\":\"sess-42\"}");
    } else if (!strcmp(r->method, "PUT") && !strncmp(t, "/api/uploads/up-1?offset=", 25)) {
        return upload_put(u, fd, r);
    } else if (get && !strcmp(t, "/api/uploads/up-1")) {
        u->gets++;
        snprintf(js, sizeof js, "{\"offset\":%zu,\"session\":\"sess-42\"}", u->len);
        reply(fd, 200, js);
    } else if (post && !strcmp(t, "/api/uploads/up-1/finish")) {
        u->finished = true;
        reply(fd, 200, "{\"id\":\"up-1\",\"session\":\"sess-42\"}");
    } else if (get && !strcmp(t, "/api/sessions/sess-42")) {
        if (++u->polls <= u->ingesting) /* nothing durable at first: events, no bytes */
            snprintf(js, sizeof js,
                     "{\"state\":\"ingesting\",\"bytes_ingested\":%zu,\"events\":%d}",
                     u->polls == 1 ? 0 : u->len, 1234 * u->polls);
        else
            snprintf(js, sizeof js, "{\"state\":\"%s\",\"error\":\"bad eventlog\"}",
                     u->final_state ? u->final_state : "done");
        reply(fd, 200, js);
    } else {
        reply(fd, 404, "{\"error\":\"not found\"}");
    }
    return true;
}

static struct {
    int rc;
    char *out, *err;
} run; /* the last run of the binary */

/* Runs `liveprof upload FILE --server http://127.0.0.1:PORT ARGS`, capturing both streams. */
static void run_upload(int port, const char *file, const char *args)
{
    char cmd[2048], errp[512];
    size_t n;
    free(run.out);
    free(run.err);
    snprintf(errp, sizeof errp, "%s/upload.err", tu_tmpdir());
    snprintf(cmd, sizeof cmd, "%s upload '%s' --server http://127.0.0.1:%d %s 2>'%s'",
             tu_liveprof(), file, port, args, errp);
    unsetenv("LIVEPROF_TOKEN");
    run.rc = tu_run(cmd, (uint8_t **)&run.out, &n);
    run.err = (char *)tu_read_file(errp, &n);
    REQUIRE(run.out && run.err);
}

/* Runs the upload against the upload peer s (set up by the caller). */
static void upload_with(tsrv_t *s, const char *file, const char *args)
{
    peer_start(s, upload_peer, false);
    run_upload(s->port, file, args);
    peer_stop(s);
}

static uint8_t *make_file(const char *name, size_t n, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", tu_tmpdir(), name);
    uint8_t *b = malloc(n + 1);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 24);
    FILE *f = fopen(path, "wb");
    REQUIRE(f && fwrite(b, 1, n, f) == n && fclose(f) == 0);
    return b;
}

/* A chunked upload through a 409 (the server lost 1500 bytes), a 503, a connection dropped
 * after a stored chunk and one dropped in the middle of an answer. */
TEST(upload_faults)
{
    char path[512];
    size_t n = 10007;
    uint8_t *want = make_file("x.eventlog", n, path, sizeof path);
    tsrv_t s = {0};
    s.up.fault[2] = F_HALF_REPLY;
    s.up.fault[4] = F_503;
    s.up.fault[6] = F_DROP_AFTER_STORE;
    s.up.fault[9] = F_LOSE;
    upload_with(&s, path, "--chunk 1000 --name 'my log' --token tok123");
    CHECKF(run.rc == 0, "exit %d: %s", run.rc, run.err);
    CHECKF(!strcmp(run.out, "sess-42\n"), "stdout: %s", run.out);
    CHECKF(strstr(run.err, "upload: id up-1 (resume with --resume up-1)\n"), "%s", run.err);
    CHECKF(strstr(run.err, "retrying"), "%s", run.err);
    CHECKF(s.up.len == n && memcmp(s.up.data, want, n) == 0, "received %zu bytes", s.up.len);
    CHECK(s.up.finished && s.up.creates == 1 && s.up.gets >= 2);
    CHECK(s.up.put_bytes > n); /* the lost 1500 bytes went twice */
    CHECKF(strstr(s.up.create_target, "name=my%20log"), "%s", s.up.create_target);
    CHECK(strstr(s.up.put_head, "\r\nAuthorization: Bearer tok123\r\n"));
    CHECK(strstr(s.up.put_head, "\r\nContent-Type: application/octet-stream\r\n"));
    free(want);
    free(s.up.data);
}

/* --resume continues from the bytes the server already holds and sends only the rest. */
TEST(upload_resume)
{
    char path[512];
    size_t n = 9000;
    uint8_t *want = make_file("y.eventlog", n, path, sizeof path);
    tsrv_t s = {0};
    s.up.data = malloc(4000);
    memcpy(s.up.data, want, 4000);
    s.up.len = 4000;
    upload_with(&s, path, "--chunk 1500 --resume up-1");
    CHECKF(run.rc == 0, "exit %d: %s", run.rc, run.err);
    CHECKF(!strcmp(run.out, "sess-42\n"), "stdout: %s", run.out);
    CHECKF(strstr(run.err, "resuming up-1 at byte 4000 of 9000"), "%s", run.err);
    CHECK(s.up.creates == 0 && s.up.finished && s.up.puts == 4);
    CHECK_EQ_U64(s.up.put_bytes, n - 4000);
    CHECK(s.up.len == n && memcmp(s.up.data, want, n) == 0);
    free(want);
    free(s.up.data);
}

/* --wait polls the session until done (exit 0) or failed (exit 1 with the server's reason). */
TEST(upload_wait)
{
    char path[512];
    free(make_file("z.eventlog", 3000, path, sizeof path));
    for (int failed = 0; failed < 2; failed++) {
        tsrv_t s = {.up = {.ingesting = 2, .final_state = failed ? "failed" : "done"}};
        upload_with(&s, path, "--wait");
        CHECKF(run.rc == failed, "exit %d: %s", run.rc, run.err);
        CHECKF(!strcmp(run.out, "sess-42\n"), "stdout: %s", run.out);
        CHECK(s.up.polls == 3 && s.up.len == 3000 && s.up.puts == 1);
        CHECK(!failed || strstr(run.err, "error: session sess-42 failed: bad eventlog"));
        free(s.up.data);
    }
}

/* The answers that end an upload, with their messages and exit codes; usage; an empty file. */
TEST(upload_errors)
{
    char path[512], empty[512], missing[512];
    free(make_file("e.eventlog", 2500, path, sizeof path));
    snprintf(missing, sizeof missing, "%s/missing.eventlog", tu_tmpdir());
    const char *want_msg[] = {"error: the server refused the token",
                              "the server refused the request as too large (413)",
                              "missing.eventlog: No such file"};
    for (int k = 0; k < 3; k++) {
        tsrv_t s = {.up = {.create_status = k == 0 ? 401 : 0}};
        s.up.fault[2] = k == 1 ? F_413 : F_NONE;
        upload_with(&s, k == 2 ? missing : path, "--chunk 1000");
        CHECKF(run.rc == 1 && run.out[0] == 0, "case %d: exit %d", k, run.rc);
        CHECKF(strstr(run.err, want_msg[k]), "case %d: %s", k, run.err);
        CHECK(!s.up.finished);
        free(s.up.data);
    }
    tsrv_t dead = {0};
    upload_with(&dead, path, "--help"); /* leaves a port nobody listens on */
    CHECK(run.rc == 0 && strstr(run.out, "usage: liveprof upload FILE --server URL"));
    run_upload(dead.port, path, "");
    CHECKF(run.rc == 1 && strstr(run.err, "connection refused"), "exit %d: %s", run.rc, run.err);
    run_upload(1, path, "--chunk 0");
    CHECK(run.rc == 2 && strstr(run.err, "--chunk"));
    free(make_file("empty.eventlog", 0, empty, sizeof empty));
    tsrv_t s = {0};
    upload_with(&s, empty, "");
    CHECKF(run.rc == 0 && !strcmp(run.out, "sess-42\n"), "exit %d: %s", run.rc, run.err);
    CHECK(s.up.finished && s.up.puts == 0);
}

/* A server whose --max-body is below the chunk: the upload halves its chunk at each 413, down to
 * 64 KiB, saying so, and finishes; below 64 KiB the 413 is the error it was. */
TEST(upload_halves_its_chunk_on_413)
{
    char path[512];
    size_t n = 300 << 10;
    uint8_t *want = make_file("h.eventlog", n, path, sizeof path);
    tsrv_t s = {.up = {.max_body = 100 << 10}};
    upload_with(&s, path, "");
    CHECKF(run.rc == 0 && !strcmp(run.out, "sess-42\n"), "exit %d: %s", run.rc, run.err);
    CHECKF(strstr(run.err, "the server refused 307200 bytes in one request (413); sending 153600 "
                           "at a time\n") &&
               strstr(run.err, "refused 153600 bytes in one request (413); sending 76800 at a "
                               "time\n"),
           "%s", run.err);
    CHECKF(s.up.len == n && memcmp(s.up.data, want, n) == 0, "received %zu bytes", s.up.len);
    CHECK(s.up.finished && s.up.puts == 2 + 4); /* two refused, then 4 chunks of 75 KiB */
    free(s.up.data);
    tsrv_t t = {.up = {.max_body = 10 << 10}};
    upload_with(&t, path, "");
    CHECKF(run.rc == 1 && strstr(run.err, "sending 65536 at a time\n") &&
               strstr(run.err, "the server refused the request as too large (413)"),
           "exit %d: %s", run.rc, run.err);
    CHECK(!t.up.finished && t.up.len == 0);
    free(t.up.data);
    free(want);
}

/* On a terminal (script(1) provides one) the progress bar is drawn and ends at 100%; waiting,
 * the analysis shows its events and, once the server counts bytes, how much of the file. */
TEST(upload_progress_tty)
{
    char path[512], cmd[2048];
    free(make_file("p.eventlog", 50000, path, sizeof path));
    tsrv_t s = {.up = {.ingesting = 2}};
    peer_start(&s, upload_peer, false);
    snprintf(cmd, sizeof cmd,
             "script -qec \"%s upload '%s' --server http://127.0.0.1:%d --chunk 10000 --wait\" "
             "/dev/null",
             tu_liveprof(), path, s.port);
    uint8_t *out;
    size_t n;
    int rc = tu_run(cmd, &out, &n);
    peer_stop(&s);
    REQUIRE(out);
    CHECKF(rc == 0 && strstr((char *)out, " 100% [####################]"), "exit %d: %s", rc,
           (char *)out);
    CHECK(strstr((char *)out, "MB/s") && strstr((char *)out, "sess-42"));
    CHECKF(strstr((char *)out, "\rwaiting: analysing, 1234 events") &&
               strstr((char *)out, "\rwaiting: analysing 100%  0.1/0.1 MB, 2468 events") &&
               !strstr((char *)out, "analysing   0%"),
           "%s", (char *)out);
    CHECK(s.up.len == 50000 && s.up.finished);
    free(out);
    free(s.up.data);
}
