/* The bad-input matrix, end to end against the real server: truncated, corrupt, empty and
 * enormous uploads, wrong content types, chunked uploads with gaps, overlaps and bad offsets,
 * path traversal in every path parameter and in static files, oversized headers, slow-loris
 * clients and bad JSON bodies. Every case gets a JSON error with the proper status, the server
 * keeps serving others, what was ingested is kept and memory stays bounded. */
#include "test.h"

#include "srvutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* One request; checks the status and, for errors, a JSON body {"error": "...", ...}. */
static void expect(const srv_t *s, const char *method, const char *path, const char *token,
                   const char *ctype, const void *body, size_t len, int status, int line)
{
    httpc_resp_t r;
    int st = srv_req(s, method, path, token, ctype, body, len, &r);
    CHECKF(st == status, "line %d: %s %.120s: %d, expected %d (%.200s)", line, method, path, st,
           status, r.body ? r.body : "");
    if (status >= 400 && st == status) {
        char *err = srv_json_str(r.body, "error");
        CHECKF(err && err[0], "line %d: %s %.120s: no JSON error in %.200s", line, method, path,
               r.body ? r.body : "");
        free(err);
    }
    httpc_resp_dispose(&r);
}
#define EXPECT(s, m, p, t, c, b, l, st) expect(s, m, p, t, c, b, l, st, __LINE__)

/* The server still answers another client at once. */
static void still_serving(const srv_t *s, int line)
{
    httpc_resp_t r;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int st = srv_req(s, "GET", "/api/me", s->admin, NULL, NULL, 0, &r);
    clock_gettime(CLOCK_MONOTONIC, &b);
    httpc_resp_dispose(&r);
    double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    CHECKF(st == 200 && secs < 5, "line %d: the server does not serve others (%d, %.1f s)", line,
           st, secs);
}

/* A body over --max-body: the server answers 413 with a JSON error as soon as it has the
 * headers (sent raw with only the start of the body: a client that pushes the whole body could
 * lose the answer to the reset of a connection closed with unread data). */
static void too_large(const srv_t *s, const char *method, const char *path, size_t len, int line)
{
    char head[512];
    int hl = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: application/octet-stream\r\nContent-Length: %zu\r\n\r\n",
                      method, path, s->admin, len);
    char *req = calloc(1, (size_t)hl + 4096);
    memcpy(req, head, (size_t)hl);
    char *resp = srv_raw(s, req, (size_t)hl + 4096, 3000, NULL);
    const char *body = resp ? strstr(resp, "\r\n\r\n") : NULL;
    char *err = body ? srv_json_str(body + 4, "error") : NULL;
    CHECKF(srv_raw_status(resp) == 413 && err, "line %d: %s %s with %zu bytes: %.200s", line,
           method, path, len, resp ? resp : "(no answer)");
    free(err);
    free(resp);
    free(req);
}

static char *post_log(const srv_t *s, const void *body, size_t len)
{
    httpc_resp_t r;
    int st = srv_req(s, "POST", "/api/sessions?name=bad", s->admin, "application/octet-stream",
                     body, len, &r);
    CHECKF(st == 201, "upload of %zu bytes answered %d", len, st);
    char *id = srv_json_str(r.body, "id");
    httpc_resp_dispose(&r);
    return id;
}

/* Waits for the session to settle; returns its JSON (malloc'd). */
static char *settled(const srv_t *s, const char *id)
{
    free(srv_wait_session(s, id, s->admin, 60));
    char path[128];
    snprintf(path, sizeof path, "/api/sessions/%s", id);
    httpc_resp_t r;
    CHECK(srv_req(s, "GET", path, s->admin, NULL, NULL, 0, &r) == 200);
    char *body = r.body ? strdup(r.body) : NULL;
    httpc_resp_dispose(&r);
    return body;
}

TEST(badinput_whole_uploads)
{
    srv_t s;
    srv_start(&s, NULL, "--max-body 1M");
    size_t n;
    uint8_t *log = tu_read_file(tu_data("eventlogs/fib-labels.eventlog"), &n);
    REQUIRE(log && n > 20000);
    char *good = post_log(&s, log, n);
    REQUIRE(good);
    char *gj = settled(&s, good);
    long long events = srv_json_int(gj, "events");
    CHECK(events == 1242);
    free(gj);
    long rss0 = srv_rss_kb(&s);

    /* empty: done with nothing, or failed with a reason; never a crash */
    char *id = post_log(&s, "", 0), *j = id ? settled(&s, id) : NULL;
    char *state = srv_json_str(j, "state");
    CHECKF(state && (!strcmp(state, "done") || !strcmp(state, "failed")), "empty: %s", j);
    CHECK(srv_json_int(j, "events") == 0);
    free(state), free(j), free(id);

    /* garbage without a header: failed, with the decoder's reason */
    uint8_t junk[5000];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 7919 + 13);
    id = post_log(&s, junk, sizeof junk);
    j = id ? settled(&s, id) : NULL;
    state = srv_json_str(j, "state");
    char *err = srv_json_str(j, "error");
    CHECKF(state && !strcmp(state, "failed") && err && err[0], "garbage: %s", j);
    free(state), free(err), free(j), free(id);

    /* truncated in the middle of an event, and corrupt from the middle on: failed with the
     * reason, the events before the bad byte kept and served */
    const size_t cut = n / 2 + 3;
    uint8_t *bad = malloc(n);
    memcpy(bad, log, n);
    memset(bad + cut, 0xEE, 64);
    const struct {
        const char *what;
        size_t len;
    } cases[] = {{"truncated", cut}, {"corrupt", n}};
    for (size_t c = 0; c < 2; c++) {
        id = post_log(&s, bad, cases[c].len);
        j = id ? settled(&s, id) : NULL;
        state = srv_json_str(j, "state");
        err = srv_json_str(j, "error");
        long long ev = srv_json_int(j, "events");
        CHECKF(state && !strcmp(state, "failed") && err && err[0], "%s: %s", cases[c].what, j);
        CHECKF(ev > 100 && ev < events, "%s: %lld events kept", cases[c].what, ev);
        char path[128];
        snprintf(path, sizeof path, "/api/sessions/%s/totals", id);
        httpc_resp_t r;
        CHECK(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200);
        CHECKF(r.body && strstr(r.body, "\"total_ns\""), "%s: no totals kept", cases[c].what);
        httpc_resp_dispose(&r);
        free(state), free(err), free(j), free(id);
    }
    free(bad);

    /* enormous: over --max-body, refused whole (413), many times, without memory growth */
    for (int i = 0; i < 8; i++)
        too_large(&s, "POST", "/api/sessions", (3u << 20) + (size_t)i, __LINE__);
    too_large(&s, "POST", "/api/sessions", (size_t)1 << 50, __LINE__);
    still_serving(&s, __LINE__);
    /* the good session is untouched */
    gj = settled(&s, good);
    CHECK(srv_json_int(gj, "events") == events);
    free(gj);
    /* extreme query ranges on it answer at once (they once divided by zero or looped for hours) */
    const char *queries[] = {
        "aggregates?series=heap&from=1&to=18446744073709551615&bins=1",
        "aggregates?series=threads&from=0&to=18446744073709551615&bins=100000",
        "aggregates?series=caps&from=9223372036854775807&to=18446744073709551615",
        "diagram.svg?kind=grid&from=1&to=18446744073709551615&width=20000",
        "diagram.svg?kind=heap&to=18446744073709551615"};
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "/api/sessions/%s/%s", good, queries[i]);
        EXPECT(&s, "GET", path, s.admin, NULL, NULL, 0, 200);
    }
    still_serving(&s, __LINE__);
    long rss1 = srv_rss_kb(&s);
    CHECKF(rss0 > 0 && rss1 < rss0 + 64 * 1024, "RSS grew from %ld to %ld KiB", rss0, rss1);
    free(good);
    free(log);
    CHECK(srv_stop(&s) == 0);
}

TEST(badinput_chunked_uploads)
{
    srv_t s;
    srv_start(&s, NULL, "--max-body 64K");
    size_t n;
    uint8_t *log = tu_read_file(tu_data("eventlogs/fib-labels.eventlog"), &n);
    REQUIRE(log);
    httpc_resp_t r;
    REQUIRE(srv_req(&s, "POST", "/api/uploads?name=c", s.admin, NULL, NULL, 0, &r) == 201);
    char *up = srv_json_str(r.body, "id"), *sid = srv_json_str(r.body, "session");
    httpc_resp_dispose(&r);
    REQUIRE(up && sid);
    char path[256];
    const char *oct = "application/octet-stream";
    size_t chunk = 5000, off = 0;
    snprintf(path, sizeof path, "/api/uploads/%s?offset=0", up);
    EXPECT(&s, "PUT", path, s.admin, oct, log, chunk, 200);
    off = chunk;
    /* a gap, an overlap, a rewind to 0: 409 with the expected offset, nothing stored */
    const size_t wrong[] = {off + 1, off + chunk, off - 1, 0, 1};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        snprintf(path, sizeof path, "/api/uploads/%s?offset=%zu", up, wrong[i]);
        CHECK(srv_req(&s, "PUT", path, s.admin, oct, log + wrong[i] % n, chunk, &r) == 409);
        CHECKF(srv_json_int(r.body, "expected_offset") == (long long)off, "offset %zu: %s",
               wrong[i], r.body);
        httpc_resp_dispose(&r);
    }
    /* offsets that are no whole number: 400 */
    const char *bad[] = {"offset=abc",
                         "offset=-1",
                         "offset=",
                         "",
                         "offset=+5000",
                         "offset=%205000",
                         "offset=5e3",
                         "offset=5000x",
                         "offset=99999999999999999999999",
                         "offset=0x1388"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "/api/uploads/%s?%s", up, bad[i]);
        EXPECT(&s, "PUT", path, s.admin, oct, log + off, chunk, 400);
    }
    /* a chunk over --max-body: 413, and the upload goes on where it was */
    snprintf(path, sizeof path, "/api/uploads/%s?offset=%zu", up, off);
    too_large(&s, "PUT", path, 100000, __LINE__);
    /* wrong content type and an unknown upload */
    EXPECT(&s, "PUT", path, s.admin, "application/json", log + off, chunk, 415);
    EXPECT(&s, "PUT", "/api/uploads/0123456789abcdef?offset=0", s.admin, oct, log, 10, 404);
    snprintf(path, sizeof path, "/api/uploads/%s", up);
    CHECK(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200);
    CHECK(srv_json_int(r.body, "offset") == (long long)off);
    httpc_resp_dispose(&r);
    while (off < n) {
        size_t k = n - off < chunk ? n - off : chunk;
        snprintf(path, sizeof path, "/api/uploads/%s?offset=%zu", up, off);
        EXPECT(&s, "PUT", path, s.admin, oct, log + off, k, 200);
        off += k;
    }
    snprintf(path, sizeof path, "/api/uploads/%s/finish", up);
    EXPECT(&s, "POST", path, s.admin, NULL, NULL, 0, 200);
    /* after finishing, more chunks are refused */
    snprintf(path, sizeof path, "/api/uploads/%s?offset=%zu", up, off);
    EXPECT(&s, "PUT", path, s.admin, oct, log, 10, 409);
    /* nothing of the refused requests reached the session: it matches the old tool */
    char *state = srv_wait_session(&s, sid, s.admin, 60);
    CHECKF(state && !strcmp(state, "done"), "state %s", state ? state : "(timeout)");
    free(state);
    snprintf(path, sizeof path, "/api/sessions/%s/totals.txt", sid);
    CHECK(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200);
    size_t en;
    char *want =
        (char *)tu_read_file(tu_data("expected/fib-labels/default/fib-labels.totals.txt"), &en);
    CHECK(want && r.len == en && !memcmp(r.body, want, en));
    free(want);
    httpc_resp_dispose(&r);
    free(up), free(sid), free(log);
    still_serving(&s, __LINE__);
    CHECK(srv_stop(&s) == 0);
}

TEST(badinput_content_types_and_json)
{
    srv_t s;
    srv_start(&s, NULL, "");
    size_t n;
    uint8_t *log = tu_read_file(tu_data("eventlogs/fib-labels-user-only.eventlog"), &n);
    REQUIRE(log);
    const char *types[] = {"text/plain", "application/json", "multipart/form-data; boundary=x",
                           "application/x-www-form-urlencoded"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        EXPECT(&s, "POST", "/api/sessions", s.admin, types[i], log, n, 415);
    httpc_resp_t r;
    REQUIRE(srv_req(&s, "POST", "/api/sessions", s.admin, NULL, log, n, &r) == 201);
    char *id = srv_json_str(r.body, "id");
    httpc_resp_dispose(&r);
    REQUIRE(id);
    char path[128];
    snprintf(path, sizeof path, "/api/sessions/%s", id);
    const char *obj = "{\"name\":\"x\"}";
    EXPECT(&s, "PATCH", path, s.admin, "text/plain", obj, strlen(obj), 415);
    EXPECT(&s, "POST", "/api/auth/login", NULL, "application/octet-stream", obj, strlen(obj), 415);
    EXPECT(&s, "POST", "/api/users", s.admin, "text/html", obj, strlen(obj), 415);
    /* bad JSON bodies: 400 with a reason, on every route that takes JSON */
    static char deep[200001];
    memset(deep, '[', 100000);
    memset(deep + 100000, ']', 100000);
    const char *bodies[] = {"",
                            "{bad",
                            "[]",
                            "null",
                            "\"text\"",
                            "{\"name\":5}",
                            "{\"visibility\":\"secret\"}",
                            "{\"name\":\"a\",\"name\":\"b\"}",
                            "{\"owner\":\"admin\"}",
                            "{\"id\":\"0123\"}",
                            "{\"name\":\"\\u0000\"}",
                            "{\"name\":\"\xff\xfe\"}",
                            "{\"visibility\":\"public\"} trailing",
                            deep};
    const char *routes[][2] = {{"PATCH", path},
                               {"POST", "/api/users"},
                               {"POST", "/api/connections"},
                               {"POST", "/api/auth/login"}};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        for (size_t k = 0; k < sizeof routes / sizeof routes[0]; k++)
            EXPECT(&s, routes[k][0], routes[k][1], s.admin, "application/json", bodies[i],
                   strlen(bodies[i]), 400);
    const char *conns[] = {"{\"name\":\"m\",\"host\":\"h\",\"port\":70000}",
                           "{\"name\":\"m\",\"host\":\"a b\",\"port\":1}",
                           "{\"name\":\"m\",\"host\":\"h\",\"port\":\"1\"}",
                           "{\"name\":\"m\",\"host\":\"h\",\"port\":1,\"last_used\":1}"};
    for (size_t i = 0; i < sizeof conns / sizeof conns[0]; i++)
        EXPECT(&s, "POST", "/api/connections", s.admin, "application/json", conns[i],
               strlen(conns[i]), 400);
    /* the session is unchanged by all that */
    CHECK(srv_req(&s, "GET", path, s.admin, NULL, NULL, 0, &r) == 200);
    char *name = srv_json_str(r.body, "name");
    CHECKF(name && !strcmp(name, id), "name %s", name ? name : "(null)"); /* the default */
    free(name);
    httpc_resp_dispose(&r);
    free(id), free(log);
    still_serving(&s, __LINE__);
    CHECK(srv_stop(&s) == 0);
}

/* Path traversal in every path parameter and in the static files: never a file's bytes. */
TEST(badinput_path_traversal)
{
    char web[600], data[600];
    snprintf(web, sizeof web, "%s/web", tu_tmpdir());
    snprintf(data, sizeof data, "%s/data", tu_tmpdir());
    REQUIRE(mkdir(web, 0700) == 0);
    char index[700];
    snprintf(index, sizeof index, "%s/index.html", web);
    FILE *f = fopen(index, "w");
    REQUIRE(f);
    fputs("<html>liveprof</html>\n", f);
    fclose(f);
    char flags[700];
    snprintf(flags, sizeof flags, "--web '%s'", web);
    srv_t s;
    srv_start(&s, data, flags);
    const char *evil[] = {"..",
                          "%2e%2e",
                          "..%2f..%2fmeta.sqlite",
                          "%2e%2e%2f%2e%2e%2fadmin.token",
                          "..%5c..%5cmeta.sqlite",
                          "%252e%252e%252fmeta.sqlite",
                          "%00",
                          "a%00b",
                          ".%2fmeta.sqlite"};
    const char *patterns[][2] = {{"GET", "/api/sessions/%s"},
                                 {"GET", "/api/sessions/%s/totals.txt"},
                                 {"GET", "/api/sessions/%s/aggregates?series=labels"},
                                 {"GET", "/api/sessions/%s/diagram.svg"},
                                 {"DELETE", "/api/sessions/%s"},
                                 {"GET", "/api/uploads/%s"},
                                 {"PUT", "/api/uploads/%s?offset=0"},
                                 {"POST", "/api/uploads/%s/finish"},
                                 {"GET", "/api/users/%s"},
                                 {"DELETE", "/api/users/%s"},
                                 {"GET", "/api/connections/%s"},
                                 {"POST", "/api/connections/%s/connect"}};
    for (size_t p = 0; p < sizeof patterns / sizeof patterns[0]; p++)
        for (size_t e = 0; e < sizeof evil / sizeof evil[0]; e++) {
            char path[256];
            snprintf(path, sizeof path, patterns[p][1], evil[e]);
            httpc_resp_t r;
            int st = srv_req(&s, patterns[p][0], path, s.admin, NULL, NULL, 0, &r);
            char *err = srv_json_str(r.body, "error");
            /* h2o resolves "..%2f" before routing: such paths leave /api and get the static
             * folder's plain 404; every other one reaches the API and gets a JSON error */
            bool leaves_api = strstr(evil[e], "..%2f") || strstr(evil[e], "%2e%2e%2f");
            CHECKF(st >= 400 && st < 500 && (err || leaves_api), "%s %s: %d %.100s", patterns[p][0],
                   path, st, r.body ? r.body : "");
            CHECKF(!r.body || (!strstr(r.body, "SQLite format") && !strstr(r.body, s.admin)),
                   "%s %s leaks a file", patterns[p][0], path);
            free(err);
            httpc_resp_dispose(&r);
        }
    /* the admin user survived the DELETEs above */
    EXPECT(&s, "GET", "/api/users/admin", s.admin, NULL, NULL, 0, 200);
    /* static files: only what is inside the web folder (raw requests: no client clean-up) */
    const char *statics[] = {"/../data/meta.sqlite",
                             "/%2e%2e/data/meta.sqlite",
                             "/..%2fdata%2fmeta.sqlite",
                             "/%2e%2e%2fdata%2fadmin.token",
                             "//etc/passwd",
                             "/..\\\\data\\\\admin.token",
                             "/index.html/../../data/admin.token"};
    for (size_t i = 0; i < sizeof statics / sizeof statics[0]; i++) {
        char req[512];
        int len = snprintf(req, sizeof req,
                           "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", statics[i]);
        char *resp = srv_raw(&s, req, (size_t)len, 2000, NULL);
        REQUIRE(resp);
        int st = srv_raw_status(resp);
        CHECKF(st >= 400 || (st == 200 && strstr(resp, "<html>liveprof")), "%s: %d", statics[i],
               st);
        CHECKF(!strstr(resp, "SQLite format") && !strstr(resp, s.admin) && !strstr(resp, "root:"),
               "%s leaks a file", statics[i]);
        free(resp);
    }
    const char *index_req = "GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char *resp = srv_raw(&s, index_req, strlen(index_req), 2000, NULL);
    CHECK(srv_raw_status(resp) == 200 && strstr(resp, "<html>liveprof"));
    free(resp);
    still_serving(&s, __LINE__);
    CHECK(srv_stop(&s) == 0);
}

/* Oversized headers, and slow-loris clients that trickle a request: others are served at once,
 * and memory stays bounded. */
TEST(badinput_oversized_headers_and_slow_clients)
{
    srv_t s;
    srv_start(&s, NULL, "");
    still_serving(&s, __LINE__);
    long rss0 = srv_rss_kb(&s);
    /* a 1 MiB header line, and 10,000 small headers */
    size_t big = 1u << 20;
    char *req = malloc(big + 256);
    int hl = snprintf(req, 256, "GET /api/me HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(req + hl, 'a', big);
    memcpy(req + hl + big, "\r\n\r\n", 4);
    char *resp = srv_raw(&s, req, (size_t)hl + big + 4, 3000, NULL);
    int st = srv_raw_status(resp);
    CHECKF(st == -1 || (st >= 400 && st < 500), "a 1 MiB header: %d", st);
    free(resp);
    size_t at = (size_t)snprintf(req, 256, "GET /api/me HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 10000 && at + 32 < big; i++)
        at += (size_t)sprintf(req + at, "X-H%d: v\r\n", i);
    memcpy(req + at, "\r\n", 2);
    resp = srv_raw(&s, req, at + 2, 3000, NULL);
    st = srv_raw_status(resp);
    CHECKF(st == -1 || (st >= 400 && st < 500), "10,000 headers: %d", st);
    free(resp);
    free(req);
    still_serving(&s, __LINE__);
    /* 64 slow-loris connections, each sending a byte of its request head at a time */
    enum { SLOW = 64 };
    int fds[SLOW];
    const char *head = "POST /api/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n";
    for (int i = 0; i < SLOW; i++)
        fds[i] = srv_connect(&s);
    for (size_t k = 0; k < 20; k++) {
        for (int i = 0; i < SLOW; i++)
            if (fds[i] >= 0) send(fds[i], head + k, 1, MSG_NOSIGNAL);
        still_serving(&s, __LINE__); /* served at once meanwhile */
        usleep(50000);
    }
    /* and slow bodies: headers complete, the body trickles */
    int body_fds[SLOW];
    for (int i = 0; i < SLOW; i++) {
        body_fds[i] = srv_connect(&s);
        if (body_fds[i] >= 0) send(body_fds[i], head, strlen(head), MSG_NOSIGNAL);
        if (body_fds[i] >= 0) send(body_fds[i], "\r\n", 2, MSG_NOSIGNAL);
    }
    for (int k = 0; k < 10; k++) {
        for (int i = 0; i < SLOW; i++)
            if (body_fds[i] >= 0) send(body_fds[i], "x", 1, MSG_NOSIGNAL);
        still_serving(&s, __LINE__);
        usleep(50000);
    }
    /* then they stall: the server closes every one within a bounded time (h2o's request
     * timeout, 10 s from the connection's start; a wait the sanitizer run skips) */
    int open = 0;
    for (int i = 0; i < SLOW && !test_skip_slow(); i++)
        open += (fds[i] >= 0) + (body_fds[i] >= 0);
    for (int t = 0; t < 150 && open; t++) {
        for (int i = 0; i < 2 * SLOW; i++) {
            int *fd = i < SLOW ? &fds[i] : &body_fds[i - SLOW];
            char buf[512];
            if (*fd < 0) continue;
            ssize_t k = recv(*fd, buf, sizeof buf, MSG_DONTWAIT);
            if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                close(*fd);
                *fd = -1;
                open--;
            }
        }
        if (open) usleep(100000);
    }
    CHECKF(!open, "%d slow-loris connections still open after 15 s", open);
    for (int i = 0; i < SLOW; i++) {
        if (fds[i] >= 0) close(fds[i]);
        if (body_fds[i] >= 0) close(body_fds[i]);
    }
    still_serving(&s, __LINE__);
    long rss1 = srv_rss_kb(&s);
    CHECKF(rss0 > 0 && rss1 < rss0 + 64 * 1024, "RSS grew from %ld to %ld KiB", rss0, rss1);
    CHECK(srv_stop(&s) == 0);
}
